package secrets_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets"
)

// FuzzReferences resolves arbitrary strings holding references: it never
// panics, an error never quotes a store value, and a resolved string
// holds no reference syntax the resolver understood but left behind.
func FuzzReferences(f *testing.F) {
	for _, seed := range []string{
		"<path:secret/data/db#password>",
		"<path:secret/data/db#password#2 | base64encode | trim>",
		"x<path:secret/data/db#password>y<path:secret/data/db#username>z",
		"<path:#>", "<path:a#b#c#d>", "<<path:secret/data/db#password>>",
		"ref+vault://prod/backend/db#/password", "ref+vault://prod/backend/db#username+tail",
		"ref+vault://", "ref+vault://a#/b/c", "ref+x://y", "<password>", "<b>html</b>",
		strings.Repeat("<path:a#b>", 100),
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, value string, secret bool) {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "annotations": map[string]any{secrets.AnnotationAVPPath: "secret/data/db"}},
			"data":     map[string]any{"k": value},
		}}
		if secret {
			obj.SetKind("Secret")
		}
		set := object.NewSet()
		if err := set.Add(obj, "f.yaml"); err != nil {
			t.Skip()
		}
		s := newStore()
		out, err := secrets.References(secrets.ReferenceStores{AVP: s, Vals: map[string]secrets.Provider{"vault": s}}).Process(context.Background(), set)
		if err != nil {
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error quotes a value: %v", err)
			}
			if out != nil {
				t.Fatal("an error returned objects too")
			}
			return
		}
		if out.Len() != 1 {
			t.Fatalf("got %d objects", out.Len())
		}
	})
}

// FuzzParseExternalSecret reads arbitrary specs: an error or a spec that
// renders, never a panic.
func FuzzParseExternalSecret(f *testing.F) {
	for _, seed := range []string{
		"  data:\n  - {secretKey: a, remoteRef: {key: secret/data/db, property: password}}\n",
		"  dataFrom:\n  - find: {path: apps/, name: {regexp: '('}}\n",
		"  dataFrom:\n  - extract: {key: prod/backend/blob, property: config}\n",
		"  target: {template: {data: {a: '{{ .password | b64dec }}'}}}\n  data:\n  - {secretKey: password, remoteRef: {key: secret/data/db, property: password}}\n",
		"  refreshInterval: -1h\n", "  data: 7\n", "  target: {creationPolicy: [1]}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		objs, err := object.DecodeBytes([]byte(esHead+spec), object.DefaultDecodeOptions())
		if err != nil || len(objs) != 1 {
			return
		}
		es, err := secrets.ParseExternalSecret(objs[0])
		if err != nil {
			return
		}
		_, err = es.Render(context.Background(), secrets.StoreMap{SecretStores: map[string]secrets.Provider{"app/vault": newStore()}})
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("error quotes a value: %v", err)
		}
	})
}
