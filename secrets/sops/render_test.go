package sops

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

func overlayFS(t *testing.T) fstest.MapFS {
	return fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("namespace: shop\nresources:\n- secret.enc.yaml\n- cm.yaml\nsecretGenerator:\n- name: app\n  envs:\n  - db.enc.env\n")},
		"app/secret.enc.yaml":    {Data: readFile(t, "testdata/enc/flux-secret.enc.yaml")},
		"app/db.enc.env":         {Data: readFile(t, "testdata/enc/db.enc.env")},
		"app/cm.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n")},
	}
}

func secretOf(t *testing.T, set *object.Set, prefix string) *unstructured.Unstructured {
	t.Helper()
	for id, obj := range set.All() {
		if id.Kind == "Secret" && strings.HasPrefix(id.Name, prefix) {
			return obj
		}
	}
	t.Fatalf("no Secret %s*", prefix)
	return nil
}

// TestRenderThroughFS: a Kustomize overlay whose Secret manifest and
// secretGenerator env file are SOPS files renders decrypted when read
// through d.FS, and passes the Processor.
func TestRenderThroughFS(t *testing.T) {
	d := newTestDecryptor(t)
	r := render.Then(kustomize.New(), d.Processor())
	set, err := r.Render(context.Background(), d.FS(overlayFS(t)), "app", render.DefaultOptions())
	require.NoError(t, err)

	db := secretOf(t, set, "db")
	pw, _, _ := unstructured.NestedString(db.Object, "stringData", "password")
	assert.Equal(t, "hunter2-MARKER-flux", pw)
	_, hasSops := db.Object["sops"]
	assert.False(t, hasSops)

	app := secretOf(t, set, "app-")
	enc, _, _ := unstructured.NestedString(app.Object, "data", "DB_PASSWORD")
	plain, err := base64.StdEncoding.DecodeString(enc)
	require.NoError(t, err)
	assert.Equal(t, "hunter2-MARKER-env", string(plain))
	_, found, _ := unstructured.NestedString(app.Object, "data", "sops_mac")
	assert.False(t, found)
}

// TestProcessorDecryptsObjects: without d.FS the encrypted Secret reaches
// the Processor as an object, which decrypts it (the MAC verified over
// its keys' orderings); the generated Secret still holds ciphertext, so
// the step fails closed and names it.
func TestProcessorDecryptsObjects(t *testing.T) {
	d := newTestDecryptor(t)
	fsys := overlayFS(t)
	fsys["app/kustomization.yaml"] = &fstest.MapFile{Data: []byte("namespace: shop\nresources:\n- secret.enc.yaml\n- cm.yaml\n")}
	set, err := render.Then(kustomize.New(), d.Processor()).Render(context.Background(), fsys, "app", render.DefaultOptions())
	require.NoError(t, err)
	pw, _, _ := unstructured.NestedString(secretOf(t, set, "db").Object, "stringData", "password")
	assert.Equal(t, "hunter2-MARKER-flux", pw)

	fsys["app/kustomization.yaml"] = &fstest.MapFile{Data: []byte("namespace: shop\nresources:\n- secret.enc.yaml\nsecretGenerator:\n- name: app\n  envs:\n  - db.enc.env\n")}
	set, err = render.Then(kustomize.New(), d.Processor()).Render(context.Background(), fsys, "app", render.DefaultOptions())
	require.Error(t, err)
	assert.Nil(t, set)
	assert.ErrorIs(t, err, ErrCiphertextLeft)
	assert.Contains(t, err.Error(), "Secret/shop/app-")
	assertNoSecret(t, err)
}

func TestProcessorFailsClosed(t *testing.T) {
	d := newTestDecryptor(t)
	flux := string(readFile(t, "testdata/enc/flux-secret.enc.yaml"))
	cases := map[string]struct {
		manifest string
		want     error
	}{
		"leftover ciphertext without metadata": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: shop\ndata:\n  a: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n",
			want:     ErrCiphertextLeft,
		},
		"tampered plaintext field": {
			manifest: strings.Replace(flux, "type: Opaque", "type: kubernetes.io/tls", 1),
			want:     ErrMACMismatch,
		},
		"wrong key": {
			manifest: flux,
			want:     ErrNoKey,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dd := d
			if name == "wrong key" {
				dd = newTestDecryptorWith(t, 2)
			}
			objs, err := object.DecodeBytes([]byte(tc.manifest), object.DefaultDecodeOptions())
			require.NoError(t, err)
			set := object.NewSet()
			require.NoError(t, set.Add(objs[0], "apps/shop/secret.enc.yaml"))
			out, err := dd.Processor().Process(context.Background(), set)
			require.Error(t, err)
			assert.Nil(t, out)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "apps/shop/secret.enc.yaml")
			assertNoSecret(t, err)
			// The input set is untouched.
			obj, _ := set.Get(object.IDOf(objs[0]))
			assert.Equal(t, objs[0], obj)
		})
	}
}

func newTestDecryptorWith(t *testing.T, n int) *Decryptor {
	d, err := NewDecryptor(WithAgeKeys(ageKey(t, n)))
	require.NoError(t, err)
	return d
}

func TestFSPassesThroughAndFailsClosed(t *testing.T) {
	d := newTestDecryptor(t)
	fsys := fstest.MapFS{
		"plain.yaml":   {Data: []byte("a: b\n")},
		"secret.yaml":  {Data: readFile(t, "testdata/enc/flux-secret.enc.yaml")},
		"broken.yaml":  {Data: []byte(strings.Replace(string(readFile(t, "testdata/enc/flux-secret.enc.yaml")), "namespace: shop", "namespace: prod", 1))},
		"dir/app.json": {Data: readFile(t, "testdata/enc/app.enc.json")},
	}
	v := d.FS(fsys)
	b, err := v.(interface{ ReadFile(string) ([]byte, error) }).ReadFile("plain.yaml")
	require.NoError(t, err)
	assert.Equal(t, "a: b\n", string(b))

	b, err = readAll(v, "secret.yaml")
	require.NoError(t, err)
	assert.Contains(t, string(b), "hunter2-MARKER-flux")
	st, err := statOf(v, "secret.yaml")
	require.NoError(t, err)
	assert.Equal(t, int64(len(b)), st.Size())

	entries, err := readDir(v, "dir")
	require.NoError(t, err)
	require.Len(t, entries, 1)
	info, err := entries[0].Info()
	require.NoError(t, err)
	jb, err := readAll(v, "dir/app.json")
	require.NoError(t, err)
	assert.Equal(t, int64(len(jb)), info.Size())

	_, err = readAll(v, "broken.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.yaml")
	assert.ErrorIs(t, err, ErrMACMismatch)
	assertNoSecret(t, err)
	_, err = v.Open("broken.yaml")
	require.Error(t, err)
	_, err = v.Open("../escape.yaml")
	require.Error(t, err)
}
