package secrets_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets"
)

// marker is a planted secret value: no error may quote it.
const marker = "MARKER-s3cr3t-7f1c"

// store is an in-memory Provider that counts its reads.
type store struct {
	entries map[string]map[string][]byte
	reads   atomic.Int64
}

func (s *store) Map(_ context.Context, key string) (map[string][]byte, error) {
	s.reads.Add(1)
	m, ok := s.entries[key]
	if !ok {
		return nil, fmt.Errorf("store: key %q: %w", key, secrets.ErrNotFound)
	}
	return m, nil
}

func (s *store) Value(ctx context.Context, key, property string) ([]byte, error) {
	m, err := s.Map(ctx, key)
	if err != nil {
		return nil, err
	}
	return secrets.Property(m, key, property)
}

func (s *store) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	for k := range s.entries {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func newStore() *store {
	return &store{entries: map[string]map[string][]byte{
		"secret/data/db":           {"password": []byte(marker), "username": []byte("app")},
		"secret/data/db?version=2": {"password": []byte("old-" + marker)},
		"prod/backend/db":          {"password": []byte(marker), "username": []byte("admin")},
		"prod/backend/blob":        {"config": []byte(`{"host":"db","port":5432,"tls":true}`)},
		"apps/one":                 {"value": []byte("1")},
		"apps/two":                 {"value": []byte("2")},
		"b64":                      {"v": []byte(base64.StdEncoding.EncodeToString([]byte(marker)))},
	}}
}

func decode(t *testing.T, yaml string) *object.Set {
	t.Helper()
	objs, err := object.DecodeBytes([]byte(yaml), object.DefaultDecodeOptions())
	require.NoError(t, err)
	set := object.NewSet()
	for _, o := range objs {
		require.NoError(t, set.Add(o, "manifests.yaml"))
	}
	return set
}

func only(t *testing.T, set *object.Set) *unstructured.Unstructured {
	t.Helper()
	objs := set.Objects()
	require.Len(t, objs, 1)
	return objs[0]
}

func TestReferencesResolve(t *testing.T) {
	for name, tc := range map[string]struct {
		manifest string
		field    []string
		want     string
	}{
		"avp path placeholder": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password>\n",
			field:    []string{"data", "password"}, want: marker,
		},
		"avp placeholder inside a string": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: postgres://<path:secret/data/db#username>:<path:secret/data/db#password>@db/app\n",
			field:    []string{"data", "url"}, want: "postgres://app:" + marker + "@db/app",
		},
		"avp version": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password#2>\n",
			field:    []string{"data", "password"}, want: "old-" + marker,
		},
		"avp modifier": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#username | base64encode>\n",
			field:    []string{"data", "password"}, want: base64.StdEncoding.EncodeToString([]byte("app")),
		},
		"avp annotation path in a Secret: data is base64-encoded": {
			manifest: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations: {avp.kubernetes.io/path: secret/data/db}\ndata:\n  password: <password>\n",
			field:    []string{"data", "password"}, want: base64.StdEncoding.EncodeToString([]byte(marker)),
		},
		"avp annotation path in stringData stays plain": {
			manifest: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations: {avp.kubernetes.io/path: secret/data/db}\nstringData:\n  password: <password>\n",
			field:    []string{"stringData", "password"}, want: marker,
		},
		"vals whole value": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: ref+vault://prod/backend/db#/password\n",
			field:    []string{"data", "password"}, want: marker,
		},
		"vals inside a string ends at +": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: db://ref+vault://prod/backend/db#username+@host\n",
			field:    []string{"data", "url"}, want: "db://admin@host",
		},
		"vals before a newline, as in a block scalar": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  conf: |\n    password=ref+vault://prod/backend/db#/password\n    user=ref+vault://prod/backend/db#/username and more\n",
			field:    []string{"data", "conf"}, want: "password=" + marker + "\nuser=admin and more\n",
		},
		"a string without references is untouched": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  html: <b>bold</b>\n",
			field:    []string{"data", "html"}, want: "<b>bold</b>",
		},
		"ignored object": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations: {avp.kubernetes.io/ignore: \"true\"}\ndata:\n  password: <path:secret/data/db#password>\n",
			field:    []string{"data", "password"}, want: "<path:secret/data/db#password>",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newStore()
			p := secrets.References(secrets.ReferenceStores{AVP: s, Vals: map[string]secrets.Provider{"vault": s}})
			out, err := p.Process(context.Background(), decode(t, tc.manifest))
			require.NoError(t, err)
			got, _, err := unstructured.NestedString(only(t, out).Object, tc.field...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReferencesReadEachEntryOncePerCall(t *testing.T) {
	s := newStore()
	p := secrets.References(secrets.ReferenceStores{AVP: s})
	_, err := p.Process(context.Background(), decode(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: <path:secret/data/db#password>\n  b: <path:secret/data/db#username>\n"))
	require.NoError(t, err)
	assert.EqualValues(t, 1, s.reads.Load())
}

func TestReferencesFailClosed(t *testing.T) {
	for name, tc := range map[string]struct {
		manifest string
		stores   secrets.ReferenceStores
		wantIn   []string
	}{
		"missing key": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#nope>\n",
			wantIn:   []string{"ConfigMap/c", "data.password", "secret/data/db#nope", "not found"},
		},
		"missing entry": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/gone#password>\n",
			wantIn:   []string{"secret/data/gone#password"},
		},
		"no avp store": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password>\n",
			stores:   secrets.ReferenceStores{Vals: map[string]secrets.Provider{}},
			wantIn:   []string{"no store serves argocd-vault-plugin"},
		},
		"unknown vals backend": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: ref+awssecrets://prod/db#password\n",
			wantIn:   []string{`vals backend "awssecrets"`, "data.password"},
		},
		"unknown modifier": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password | rot13>\n",
			wantIn:   []string{`unknown modifier "rot13"`},
		},
		"avp path without a key": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db>\n",
			wantIn:   []string{"data.password", "<path:secret/data/db>", "not a reference converge can resolve"},
		},
		"avp modifier misspelt": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password | base64-encode>\n",
			wantIn:   []string{"data.password", "not a reference converge can resolve"},
		},
		"a bad reference after a good one is named": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  url: <path:secret/data/db#username>:<path:secret/data/db>\n",
			wantIn:   []string{"data.url: <path:secret/data/db>:"},
		},
		"vals without a path": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: ref+vault://\n",
			wantIn:   []string{"data.password", "ref+vault://"},
		},
		"base64decode of a plain value": {
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: <path:secret/data/db#password | base64decode>\n",
			wantIn:   []string{"not base64"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			stores := tc.stores
			if stores.AVP == nil && stores.Vals == nil {
				s := newStore()
				stores = secrets.ReferenceStores{AVP: s, Vals: map[string]secrets.Provider{"vault": s}}
			}
			out, err := secrets.References(stores).Process(context.Background(), decode(t, tc.manifest))
			require.Error(t, err)
			assert.Nil(t, out)
			assert.ErrorIs(t, err, secrets.ErrUnresolved)
			for _, w := range tc.wantIn {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), marker)
		})
	}
}

func TestReferencesRemoveMissing(t *testing.T) {
	manifest := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    avp.kubernetes.io/path: secret/data/db\n    avp.kubernetes.io/remove-missing: \"true\"\ndata:\n  password: <password>\n  gone: <nope>\n"
	out, err := secrets.References(secrets.ReferenceStores{AVP: newStore()}).Process(context.Background(), decode(t, manifest))
	require.NoError(t, err)
	data, _, _ := unstructured.NestedStringMap(only(t, out).Object, "data")
	assert.Equal(t, map[string]string{"password": base64.StdEncoding.EncodeToString([]byte(marker))}, data)

	gone := strings.Replace(manifest, "secret/data/db", "secret/data/gone", 1)
	_, err = secrets.References(secrets.ReferenceStores{AVP: newStore()}).Process(context.Background(), decode(t, gone))
	require.ErrorIs(t, err, secrets.ErrNotFound, "a missing entry is not a missing key: it fails")
}

func parse(t *testing.T, yaml string) *secrets.ExternalSecret {
	t.Helper()
	es, err := secrets.ParseExternalSecret(only(t, decode(t, yaml)))
	require.NoError(t, err)
	return es
}

func TestExternalSecretFromGitOpsPatterns(t *testing.T) {
	manifest, err := os.ReadFile("testdata/externalsecret.yaml")
	require.NoError(t, err)
	es := parse(t, string(manifest))
	assert.Equal(t, secrets.StoreRef{Name: "aws-secrets-manager", Kind: "ClusterSecretStore"}, es.Spec.SecretStoreRef)

	s := newStore()
	stores := secrets.StoreMap{ClusterSecretStores: map[string]secrets.Provider{"aws-secrets-manager": s}}
	secret, err := es.Render(context.Background(), stores)
	require.NoError(t, err)
	assert.Equal(t, "db-credentials", secret.GetName())
	assert.Equal(t, "backend", secret.GetNamespace())
	data, _, _ := unstructured.NestedStringMap(secret.Object, "data")
	assert.Equal(t, map[string]string{
		"username": base64.StdEncoding.EncodeToString([]byte("admin")),
		"password": base64.StdEncoding.EncodeToString([]byte(marker)),
	}, data)
	typ, _, _ := unstructured.NestedString(secret.Object, "type")
	assert.Equal(t, "Opaque", typ)
}

const esHead = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es, namespace: app}\nspec:\n  secretStoreRef: {name: vault}\n"

func TestExternalSecretRender(t *testing.T) {
	for name, tc := range map[string]struct {
		spec string
		want map[string]string
		typ  string
	}{
		"template with type and functions": {
			spec: "  target:\n    template:\n      type: kubernetes.io/basic-auth\n      data:\n        dsn: 'postgres://{{ .username }}:{{ .password }}@db'\n        user: '{{ .username | upper }}'\n  data:\n  - {secretKey: username, remoteRef: {key: secret/data/db, property: username}}\n  - {secretKey: password, remoteRef: {key: secret/data/db, property: password}}\n",
			want: map[string]string{"dsn": "postgres://app:" + marker + "@db", "user": "APP"},
			typ:  "kubernetes.io/basic-auth",
		},
		"dataFrom extract": {
			spec: "  dataFrom:\n  - extract: {key: secret/data/db}\n",
			want: map[string]string{"username": "app", "password": marker},
		},
		"dataFrom extract of a JSON property": {
			spec: "  dataFrom:\n  - extract: {key: prod/backend/blob, property: config}\n",
			want: map[string]string{"host": "db", "port": "5432", "tls": "true"},
		},
		"dataFrom find": {
			spec: "  dataFrom:\n  - find: {path: apps/, name: {regexp: '^apps/t'}}\n",
			want: map[string]string{"apps_two": "2"},
		},
		"base64 decoding": {
			spec: "  data:\n  - {secretKey: v, remoteRef: {key: b64, property: v, decodingStrategy: Base64}}\n",
			want: map[string]string{"v": marker},
		},
		"data wins over dataFrom": {
			spec: "  dataFrom:\n  - extract: {key: secret/data/db}\n  data:\n  - {secretKey: username, remoteRef: {key: prod/backend/db, property: username}}\n",
			want: map[string]string{"username": "admin", "password": marker},
		},
	} {
		t.Run(name, func(t *testing.T) {
			es := parse(t, esHead+tc.spec)
			secret, err := es.Render(context.Background(), secrets.StoreMap{SecretStores: map[string]secrets.Provider{"app/vault": newStore()}})
			require.NoError(t, err)
			data, _, _ := unstructured.NestedStringMap(secret.Object, "data")
			got := map[string]string{}
			for k, v := range data {
				d, err := base64.StdEncoding.DecodeString(v)
				require.NoError(t, err)
				got[k] = string(d)
			}
			assert.Equal(t, tc.want, got)
			if tc.typ != "" {
				typ, _, _ := unstructured.NestedString(secret.Object, "type")
				assert.Equal(t, tc.typ, typ)
			}
		})
	}
}

func TestExternalSecretRefusedByName(t *testing.T) {
	for name, tc := range map[string]struct {
		spec   string
		wantIn string
	}{
		"unknown field":            {"  bogus: 1\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", `unknown field "bogus"`},
		"merge creation policy":    {"  target: {creationPolicy: Merge}\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", "creationPolicy Merge"},
		"templateFrom":             {"  target: {template: {templateFrom: [{configMap: {name: x}}]}}\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", "templateFrom"},
		"rewrite":                  {"  dataFrom:\n  - extract: {key: k}\n    rewrite: [{regexp: {source: a, target: b}}]\n", "rewrite"},
		"bad template":             {"  target: {template: {data: {a: '{{ .x '}}}\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", "template.data.a"},
		"unknown template func":    {"  target: {template: {data: {a: '{{ .x | sh }}'}}}\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", `"sh" not defined`},
		"no data":                  {"  target: {name: x}\n", "spec.data or spec.dataFrom is required"},
		"bad refresh interval":     {"  refreshInterval: soon\n  data:\n  - {secretKey: a, remoteRef: {key: k}}\n", "refreshInterval"},
		"extract and find at once": {"  dataFrom:\n  - extract: {key: k}\n    find: {name: {regexp: x}}\n", "name one of extract and find"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := secrets.ParseExternalSecret(only(t, decode(t, esHead+tc.spec)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantIn)
			assert.Contains(t, err.Error(), "ExternalSecret es")
		})
	}
}

func TestExternalSecretMissingValue(t *testing.T) {
	spec := "  data:\n  - {secretKey: a, remoteRef: {key: secret/data/gone, property: p}}\n"
	stores := secrets.StoreMap{SecretStores: map[string]secrets.Provider{"app/vault": newStore()}}

	_, err := parse(t, esHead+spec).Render(context.Background(), stores)
	require.ErrorIs(t, err, secrets.ErrNotFound, "Retain (the default) fails the render, so the last Secret stays")
	assert.Contains(t, err.Error(), "ExternalSecret app/es")

	secret, err := parse(t, esHead+"  target: {deletionPolicy: Delete}\n"+spec).Render(context.Background(), stores)
	require.NoError(t, err)
	assert.Nil(t, secret, "Delete leaves the Secret out, so it is pruned")

	_, err = parse(t, esHead+"  target: {deletionPolicy: Delete}\n  data:\n  - {secretKey: a, remoteRef: {key: secret/data/db, property: typo}}\n").Render(context.Background(), stores)
	require.ErrorIs(t, err, secrets.ErrNotFound, "a missing property is a mistake, not a deletion: nothing is pruned")
	_, err = parse(t, esHead+"  target: {deletionPolicy: Delete}\n  data:\n  - {secretKey: a, remoteRef: {key: secret/data/db, property: password}}\n  - {secretKey: b, remoteRef: {key: secret/data/gone, property: p}}\n").Render(context.Background(), stores)
	require.ErrorIs(t, err, secrets.ErrNotFound, "one entry of several gone fails the render")

	_, err = parse(t, strings.Replace(esHead, "name: vault", "name: other", 1)+spec).Render(context.Background(), stores)
	require.ErrorIs(t, err, secrets.ErrNotFound)
	assert.Contains(t, err.Error(), "SecretStore/other")
}

func TestExternalSecretsProcessor(t *testing.T) {
	manifests := esHead + "  refreshInterval: 1h\n  target: {name: db, creationPolicy: Orphan}\n  data:\n  - {secretKey: p, remoteRef: {key: secret/data/db, property: password}}\n" +
		"---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: vault, namespace: app}\nspec: {provider: {vault: {server: http://vault}}}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, namespace: app}\n"
	s := newStore()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	p := secrets.ExternalSecrets(secrets.StoreMap{SecretStores: map[string]secrets.Provider{"app/vault": s}},
		secrets.ExternalSecretsOptions{Now: func() time.Time { return now }})

	out, err := p.Process(context.Background(), decode(t, manifests))
	require.NoError(t, err)
	var names []string
	for id := range out.All() {
		names = append(names, id.String())
	}
	assert.ElementsMatch(t, []string{"Secret/app/db", "ConfigMap/app/keep"}, names)
	secret, ok := out.Get(object.ID{Kind: "Secret", Namespace: "app", Name: "db"})
	require.True(t, ok)
	assert.Equal(t, "disabled", secret.GetAnnotations()[object.AnnotationPrune], "Orphan: never pruned")

	_, err = p.Process(context.Background(), decode(t, manifests))
	require.NoError(t, err)
	assert.EqualValues(t, 1, s.reads.Load(), "within the refresh interval the store is not read again")

	now = now.Add(time.Hour)
	_, err = p.Process(context.Background(), decode(t, manifests))
	require.NoError(t, err)
	assert.EqualValues(t, 2, s.reads.Load(), "after the refresh interval it is")
}

func TestExternalSecretsProcessorFailsClosed(t *testing.T) {
	failing := secrets.ProviderFunc(func(ctx context.Context, key string) (map[string][]byte, error) {
		return nil, errors.New("vault at http://vault:8200: connection refused")
	})
	p := secrets.ExternalSecrets(secrets.StoreMap{SecretStores: map[string]secrets.Provider{"app/vault": failing}}, secrets.ExternalSecretsOptions{})
	out, err := p.Process(context.Background(), decode(t, esHead+"  data:\n  - {secretKey: p, remoteRef: {key: db, property: password}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, namespace: app}\n"))
	require.Error(t, err)
	assert.Nil(t, out)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "manifests.yaml")
}

func TestProviderFunc(t *testing.T) {
	p := secrets.ProviderFunc(func(ctx context.Context, key string) (map[string][]byte, error) {
		return map[string][]byte{"a": []byte("1"), "b": []byte(marker)}, nil
	})
	v, err := p.Value(context.Background(), "k", "a")
	require.NoError(t, err)
	assert.Equal(t, "1", string(v))
	_, err = p.Value(context.Background(), "k", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "(a, b)")
	assert.NotContains(t, err.Error(), marker)
	_, err = p.Value(context.Background(), "k", "c")
	assert.ErrorIs(t, err, secrets.ErrNotFound)
	_, err = p.List(context.Background(), "")
	assert.ErrorIs(t, err, secrets.ErrListUnsupported)
}

// A value resolved into an object that is not a Secret marks its field,
// so diffs mask it; the annotation holds the path, not the value.
func TestReferencesMarkSensitiveFields(t *testing.T) {
	manifest := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        env:\n        - {name: A, value: plain}\n        - {name: B, value: 'x <path:secret/data/db#password>'}\n"
	out, err := secrets.References(secrets.ReferenceStores{AVP: newStore()}).Process(context.Background(), decode(t, manifest))
	require.NoError(t, err)
	got := only(t, out).GetAnnotations()[object.AnnotationSensitive]
	assert.Equal(t, `["/spec/template/spec/containers/0/env/1/value"]`, got)
	assert.NotContains(t, got, marker)
}
