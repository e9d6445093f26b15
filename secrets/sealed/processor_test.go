package sealed_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets/sealed"
)

func TestProcessor(t *testing.T) {
	keys := testKeys(t)
	ss, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeStrict)
	require.NoError(t, err)
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a", "namespace": "shop"}}}
	set := object.NewSet()
	require.NoError(t, set.Add(ss, "sealed.yaml"))
	require.NoError(t, set.Add(cm, "cm.yaml"))

	out, err := sealed.Processor(keys).Process(context.Background(), set)
	require.NoError(t, err)
	ids := out.IDs()
	require.Len(t, ids, 2)
	assert.Equal(t, object.ID{Kind: "Secret", Namespace: "shop", Name: "db"}, ids[0], "in the SealedSecret's place")
	assert.Equal(t, "sealed.yaml", out.Source(ids[0]))
	sec, _ := out.Get(ids[0])
	s, err := sealed.FromSecretObject(sec)
	require.NoError(t, err)
	assert.Equal(t, markerPassword, string(s.Data["password"]))
	assert.Equal(t, 2, set.Len(), "the input set is untouched")

	t.Run("fails closed", func(t *testing.T) {
		bad := ss.DeepCopy()
		bad.SetName("renamed")
		set := object.NewSet()
		require.NoError(t, set.Add(cm, "cm.yaml"))
		require.NoError(t, set.Add(bad, "bad.yaml"))
		out, err := sealed.Processor(keys).Process(context.Background(), set)
		require.ErrorIs(t, err, sealed.ErrNoKeyDecrypts)
		assert.Nil(t, out)
		assert.Contains(t, err.Error(), "SealedSecret shop/renamed")
		requireNoMarker(t, err)
	})
	t.Run("a Secret of the same name collides", func(t *testing.T) {
		set := object.NewSet()
		require.NoError(t, set.Add(ss, "sealed.yaml"))
		require.NoError(t, set.Add(&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db", "namespace": "shop"}}}, "plain.yaml"))
		_, err := sealed.Processor(keys).Process(context.Background(), set)
		require.ErrorIs(t, err, object.ErrDuplicate)
	})
}
