package sealed_test

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets/sealed"
)

// sealedWith wraps encryptedData in a SealedSecret namespace/name whose
// annotations declare scope.
func sealedWith(ns, name string, scope sealed.Scope, enc map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	switch scope {
	case sealed.ScopeNamespaceWide:
		meta["annotations"] = map[string]any{sealed.AnnotationNamespaceWide: "true"}
	case sealed.ScopeClusterWide:
		meta["annotations"] = map[string]any{sealed.AnnotationClusterWide: "true"}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": sealed.APIVersion, "kind": sealed.Kind, "metadata": meta,
		"spec": map[string]any{"encryptedData": enc},
	}}
}

func encodeYAML(w io.Writer, objs ...*unstructured.Unstructured) error {
	return object.Encode(w, objs...)
}

func TestUnsealBadInput(t *testing.T) {
	keys := testKeys(t)
	strict, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeStrict)
	require.NoError(t, err)
	nsWide, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeNamespaceWide)
	require.NoError(t, err)
	other, err := sealed.ParsePrivateKeys(readTestdata(t, "other-key.pem"))
	require.NoError(t, err)

	setEnc := func(o *unstructured.Unstructured, key string, v any) {
		require.NoError(t, unstructured.SetNestedField(o.Object, v, "spec", "encryptedData", key))
	}
	passwordCT := func(o *unstructured.Unstructured) []byte {
		s, _, _ := unstructured.NestedString(o.Object, "spec", "encryptedData", "password")
		b, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		return b
	}

	for name, tc := range map[string]struct {
		reason  string
		base    *unstructured.Unstructured
		keys    *sealed.Keys
		mutate  func(o *unstructured.Unstructured)
		wantErr error
		wantRef string // the namespace/name the error must name
		wantKey string // the data key the error must name, if any
	}{
		"renamed strict": {
			reason: "strict binds namespace/name into the OAEP label",
			base:   strict, mutate: func(o *unstructured.Unstructured) { o.SetName("db2") },
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db2", wantKey: "password",
		},
		"moved strict": {
			base: strict, mutate: func(o *unstructured.Unstructured) { o.SetNamespace("evil") },
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "evil/db", wantKey: "password",
		},
		"moved namespace-wide": {
			base: nsWide, mutate: func(o *unstructured.Unstructured) { o.SetNamespace("evil") },
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "evil/db", wantKey: "user",
		},
		"cluster-wide injected through the template, renamed": {
			reason: "the scope comes from metadata.annotations; spec.template's do not widen it",
			base:   strict,
			mutate: func(o *unstructured.Unstructured) {
				require.NoError(t, unstructured.SetNestedStringMap(o.Object, map[string]string{
					sealed.AnnotationClusterWide: "true", sealed.AnnotationNamespaceWide: "true",
				}, "spec", "template", "metadata", "annotations"))
				o.SetName("db2")
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db2", wantKey: "password",
		},
		"cluster-wide injected into metadata": {
			reason: "widening the SealedSecret's own scope changes the label, so nothing decrypts",
			base:   strict,
			mutate: func(o *unstructured.Unstructured) {
				o.SetAnnotations(map[string]string{sealed.AnnotationClusterWide: "true"})
				o.SetName("db2")
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db2", wantKey: "password",
		},
		"namespace-wide injected into a strict one, renamed": {
			base: strict,
			mutate: func(o *unstructured.Unstructured) {
				o.SetAnnotations(map[string]string{sealed.AnnotationNamespaceWide: "true"})
				o.SetName("db2")
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db2", wantKey: "password",
		},
		"truncated": {
			base: strict,
			mutate: func(o *unstructured.Unstructured) {
				ct := passwordCT(o)
				setEnc(o, "password", base64.StdEncoding.EncodeToString(ct[:len(ct)-5]))
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db", wantKey: "password",
		},
		"truncated below the length prefix": {
			base: strict, mutate: func(o *unstructured.Unstructured) { setEnc(o, "password", "AQ==") },
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db", wantKey: "password",
		},
		"flipped AES byte": {
			base: strict,
			mutate: func(o *unstructured.Unstructured) {
				ct := passwordCT(o)
				ct[len(ct)-1] ^= 1
				setEnc(o, "password", base64.StdEncoding.EncodeToString(ct))
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db", wantKey: "password",
		},
		"flipped RSA byte": {
			base: strict,
			mutate: func(o *unstructured.Unstructured) {
				ct := passwordCT(o)
				ct[10] ^= 0x80
				setEnc(o, "password", base64.StdEncoding.EncodeToString(ct))
			},
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db", wantKey: "password",
		},
		"a key that does not match": {
			base: strict, keys: other,
			wantErr: sealed.ErrNoKeyDecrypts, wantRef: "shop/db", wantKey: "password",
		},
		"non-base64 value": {
			base: strict, mutate: func(o *unstructured.Unstructured) { setEnc(o, "password", markerPassword+"%%") },
			wantErr: sealed.ErrInvalid, wantRef: "shop/db", wantKey: "password",
		},
		"non-string value": {
			base: strict, mutate: func(o *unstructured.Unstructured) { setEnc(o, "password", int64(3)) },
			wantErr: sealed.ErrInvalid, wantRef: "shop/db", wantKey: "password",
		},
		"wrong kind": {
			base: strict, mutate: func(o *unstructured.Unstructured) { o.SetKind("Secret") },
			wantErr: sealed.ErrNotSealedSecret, wantRef: "shop/db",
		},
		"spec of the wrong shape": {
			base: strict, mutate: func(o *unstructured.Unstructured) { o.Object["spec"] = map[string]any{"template": "x"} },
			wantErr: sealed.ErrInvalid, wantRef: "shop/db",
		},
		"legacy data with encryptedData": {
			base: strict, mutate: func(o *unstructured.Unstructured) {
				require.NoError(t, unstructured.SetNestedField(o.Object, "AAAA", "spec", "data"))
			},
			wantErr: sealed.ErrInvalid, wantRef: "shop/db",
		},
		"template data calling a sprig function": {
			base: strict, mutate: func(o *unstructured.Unstructured) {
				require.NoError(t, unstructured.SetNestedField(o.Object, `{{ .password | b64enc }}`, "spec", "template", "data", "dsn"))
			},
			wantErr: sealed.ErrInvalid, wantRef: "shop/db", wantKey: "dsn",
		},
		"template data that fails to execute": {
			base: strict, mutate: func(o *unstructured.Unstructured) {
				require.NoError(t, unstructured.SetNestedField(o.Object, `{{ index .password 1 2 }}`, "spec", "template", "data", "dsn"))
			},
			wantErr: sealed.ErrInvalid, wantRef: "shop/db", wantKey: "dsn",
		},
	} {
		t.Run(name, func(t *testing.T) {
			o := tc.base.DeepCopy()
			if tc.mutate != nil {
				tc.mutate(o)
			}
			k := keys
			if tc.keys != nil {
				k = tc.keys
			}
			s, err := k.Unseal(o)
			require.Error(t, err, tc.reason)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tc.wantErr)
			var ue *sealed.Error
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.wantRef, ue.SealedSecret)
			assert.Contains(t, err.Error(), "SealedSecret "+tc.wantRef)
			if tc.wantKey != "" {
				assert.Contains(t, err.Error(), `data key "`+tc.wantKey+`"`)
			}
			requireNoMarker(t, err)
		})
	}
}

func TestUnsealTemplate(t *testing.T) {
	keys := testKeys(t)
	ss, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeStrict)
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedField(ss.Object, `{{ .user }}:{{ .password }}@db`, "spec", "template", "data", "dsn"))
	s, err := keys.Unseal(ss)
	require.NoError(t, err)
	assert.Equal(t, markerUser+":"+markerPassword+"@db", string(s.Data["dsn"]))
}

func TestUnsealOwnerReference(t *testing.T) {
	keys := testKeys(t)
	ss, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeStrict)
	require.NoError(t, err)
	ss.SetUID("1234")
	s, err := keys.Unseal(ss)
	require.NoError(t, err)
	require.Len(t, s.OwnerReferences, 1)
	assert.Equal(t, "SealedSecret", s.OwnerReferences[0].Kind)
	assert.Equal(t, "db", s.OwnerReferences[0].Name)
	assert.EqualValues(t, "1234", s.OwnerReferences[0].UID)

	require.NoError(t, unstructured.SetNestedField(ss.Object, "true", "spec", "template", "metadata", "annotations", sealed.AnnotationSkipSetOwnerReferences))
	s, err = keys.Unseal(ss)
	require.NoError(t, err)
	assert.Empty(t, s.OwnerReferences)
}

func TestUnsealErrorsNameEveryKey(t *testing.T) {
	keys := testKeys(t)
	ss, err := sealed.Seal(rnd, keys.Public(), testSecret(), sealed.ScopeStrict)
	require.NoError(t, err)
	ss.SetName("other")
	_, err = keys.Unseal(ss)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, `data key "password"`)
	assert.Contains(t, msg, `data key "user"`)
	assert.Less(t, strings.Index(msg, "password"), strings.Index(msg, `"user"`), "sorted by key")
}

func TestFingerprintMatchesSSH(t *testing.T) {
	for _, f := range []string{"cert1.pem", "cert2.pem", "other-cert.pem", "pub1.pem"} {
		pub := testPub(t, f)
		sp, err := ssh.NewPublicKey(pub)
		require.NoError(t, err)
		assert.Equal(t, ssh.FingerprintSHA256(sp), sealed.Fingerprint(pub), f)
	}
	assert.Equal(t, "", sealed.Fingerprint(nil))
}
