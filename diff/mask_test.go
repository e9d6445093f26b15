package diff_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// TestSecretValuesNeverShow changes one key of a Secret that also carries
// copies of its value (the last-applied annotation, another tool's JSON
// copy, an annotation and a label quoting it), and checks the diff names
// the key but shows no value, old or new, plain or base64.
func TestSecretValuesNeverShow(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	d, err := diff.New(c)
	require.NoError(t, err)

	secret := func(password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "db", "namespace": ns, "annotations": map[string]any{
				"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"password":"` + password + `"}}`,
				"kapp.k14s.io/original":                            `{"stringData":{"password":"` + password + `"}}`,
				"example.com/rotated":                              "from " + password,
			}, "labels": map[string]any{"copy": password}},
			"stringData": map[string]any{"password": password, "user": "admin-user-value"},
		}}
	}
	applyAs(t, c, secret("old-hunter2"), object.FieldManager)
	live, err := c.Get(ctx, secret("").GroupVersionKind(), ns, "db")
	require.NoError(t, err)

	res, err := d.Diff(ctx, secret("new-hunter3"), live)
	require.NoError(t, err)
	assert.Equal(t, diff.Update, res.Action)
	assert.Contains(t, res.Paths, ".data.password")
	assert.NotContains(t, res.Paths, ".data.user")
	for _, leaked := range []string{"hunter", "b2xkLWh1bnRlcjI", "bmV3LWh1bnRlcjM", "admin-user-value", "YWRtaW4tdXNlci12YWx1ZQ"} {
		assert.NotContains(t, res.Diff, leaked)
		assert.NotContains(t, res.String(), leaked)
	}
	assert.Contains(t, res.Diff, "-  password: '*** (before)'")
	assert.Contains(t, res.Diff, "+  password: '*** (after)'")
	assert.Contains(t, res.Diff, "user: '***'")

	created, err := d.Diff(ctx, secret("brand-new-hunter4"), nil)
	require.NoError(t, err)
	assert.Equal(t, diff.Create, created.Action)
	assert.NotContains(t, created.Diff, "hunter")

	// A Secret that does not fit its schema: the error names the object,
	// never the value.
	bad := secret("x")
	bad.Object["data"] = map[string]any{"password": int64(123456789)}
	_, err = d.Diff(ctx, bad, live)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Secret/"+ns+"/db")
	assert.NotContains(t, err.Error(), "123456789")
}
