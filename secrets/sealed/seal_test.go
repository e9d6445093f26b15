package sealed_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/secrets/sealed"
)

func TestSealRoundTrip(t *testing.T) {
	keys := testKeys(t)
	for name, tc := range map[string]struct {
		scope     sealed.Scope
		wantAnno  map[string]any
		namespace string
	}{
		"strict":              {scope: sealed.ScopeStrict, namespace: "shop"},
		"namespace-wide":      {scope: sealed.ScopeNamespaceWide, namespace: "shop", wantAnno: map[string]any{sealed.AnnotationNamespaceWide: "true"}},
		"cluster-wide":        {scope: sealed.ScopeClusterWide, namespace: "shop", wantAnno: map[string]any{sealed.AnnotationClusterWide: "true"}},
		"cluster-wide, no ns": {scope: sealed.ScopeClusterWide, wantAnno: map[string]any{sealed.AnnotationClusterWide: "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			in := testSecret()
			in.Namespace = tc.namespace
			ss, err := sealed.Seal(rnd, keys.Public(), in, tc.scope)
			require.NoError(t, err)
			assert.Equal(t, "bitnami.com/v1alpha1", ss.GetAPIVersion())
			assert.Equal(t, "SealedSecret", ss.GetKind())
			anno, _, _ := unstructured.NestedMap(ss.Object, "metadata", "annotations")
			assert.Equal(t, tc.wantAnno, anno)
			assert.Equal(t, sealed.ScopeOf(ss.GetAnnotations()), tc.scope)
			enc, _, _ := unstructured.NestedStringMap(ss.Object, "spec", "encryptedData")
			assert.Len(t, enc, 2)
			for _, v := range enc {
				assert.NotContains(t, v, "MARKER")
			}

			out, err := keys.Unseal(ss)
			require.NoError(t, err)
			assert.Equal(t, map[string][]byte{"password": []byte(markerPassword), "user": []byte(markerUser)}, out.Data)
			assert.Equal(t, corev1.SecretTypeOpaque, out.Type)
			assert.Equal(t, "shop", out.Labels["app"])
			assert.Equal(t, "kept", out.Annotations["note"])
			assert.Equal(t, tc.namespace, out.Namespace)
			assert.Equal(t, "db", out.Name)
			assert.Empty(t, out.OwnerReferences, "no UID, no owner")
		})
	}
}

func TestSealDoesNotModifyInput(t *testing.T) {
	in := testSecret()
	in.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = `{"data":{"password":"` + markerPassword + `"}}`
	before := in.DeepCopy()
	ss, err := sealed.Seal(rnd, testKeys(t).Public(), in, sealed.ScopeClusterWide)
	require.NoError(t, err)
	assert.Equal(t, before, in)
	var buf bytes.Buffer
	require.NoError(t, encodeYAML(&buf, ss))
	assert.NotContains(t, buf.String(), "MARKER", "last-applied annotation must be stripped")
	assert.NotContains(t, buf.String(), "last-applied-configuration")
}

func TestSealScopeFromAnnotations(t *testing.T) {
	keys := testKeys(t)
	in := testSecret()
	in.Annotations[sealed.AnnotationNamespaceWide] = "true"
	ss, err := sealed.Seal(rnd, keys.Public(), in, "")
	require.NoError(t, err)
	assert.Equal(t, sealed.ScopeNamespaceWide, sealed.ScopeOf(ss.GetAnnotations()))
	ss.SetName("renamed") // namespace-wide: any name
	_, err = keys.Unseal(ss)
	require.NoError(t, err)

	// An explicit scope wins over the Secret's annotations.
	ss, err = sealed.Seal(rnd, keys.Public(), in, sealed.ScopeStrict)
	require.NoError(t, err)
	assert.Equal(t, sealed.ScopeStrict, sealed.ScopeOf(ss.GetAnnotations()))
	tanno, _, _ := unstructured.NestedStringMap(ss.Object, "spec", "template", "metadata", "annotations")
	assert.NotContains(t, tanno, sealed.AnnotationNamespaceWide)
}

func TestSealErrors(t *testing.T) {
	pub := testKeys(t).Public()
	for name, tc := range map[string]struct {
		mutate  func(*corev1.Secret)
		scope   sealed.Scope
		wantErr error
		wantMsg string
	}{
		"no namespace, strict":         {mutate: func(s *corev1.Secret) { s.Namespace = "" }, scope: sealed.ScopeStrict, wantErr: sealed.ErrNoNamespace},
		"no namespace, namespace-wide": {mutate: func(s *corev1.Secret) { s.Namespace = "" }, scope: sealed.ScopeNamespaceWide, wantErr: sealed.ErrNoNamespace},
		"no namespace, annotated":      {mutate: func(s *corev1.Secret) { s.Namespace = "" }, wantErr: sealed.ErrNoNamespace},
		"no name":                      {mutate: func(s *corev1.Secret) { s.Name = "" }, scope: sealed.ScopeStrict, wantErr: sealed.ErrNoName},
		"unknown scope":                {scope: "galaxy-wide", wantMsg: `unknown scope "galaxy-wide"`},
	} {
		t.Run(name, func(t *testing.T) {
			in := testSecret()
			if tc.mutate != nil {
				tc.mutate(in)
			}
			_, err := sealed.Seal(rnd, pub, in, tc.scope)
			require.Error(t, err)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
			assert.Contains(t, err.Error(), "Secret "+in.Namespace+"/"+in.Name)
			if tc.wantMsg != "" {
				assert.Contains(t, err.Error(), tc.wantMsg)
			}
			requireNoMarker(t, err)
		})
	}
}

func TestSealFromNonBase64Object(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": "shop"},
		"data":     map[string]any{"good": "aGk=", "password": markerPassword + "!!"},
	}}
	_, err := sealed.FromSecretObject(obj)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Secret shop/db: data key "password" is not valid base64`)
	requireNoMarker(t, err)

	obj.Object["data"] = map[string]any{"good": "aGk="}
	obj.Object["stringData"] = map[string]any{"user": markerUser}
	s, err := sealed.FromSecretObject(obj)
	require.NoError(t, err)
	assert.Equal(t, []byte("hi"), s.Data["good"])
	assert.Equal(t, markerUser, s.StringData["user"])

	back, err := sealed.ToSecretObject(s)
	require.NoError(t, err)
	assert.Equal(t, "aGk=", back.Object["data"].(map[string]any)["good"])
	assert.NotContains(t, back.Object["metadata"], "creationTimestamp")
}

func TestSealEncryptValue(t *testing.T) {
	keys := testKeys(t)
	for name, tc := range map[string]struct {
		scope           sealed.Scope
		ns, name        string
		unsealNS, uName string
		wantErr         error
	}{
		"strict":                  {scope: sealed.ScopeStrict, ns: "shop", name: "db", unsealNS: "shop", uName: "db"},
		"zero is strict":          {ns: "shop", name: "db", unsealNS: "shop", uName: "db"},
		"namespace-wide":          {scope: sealed.ScopeNamespaceWide, ns: "shop", unsealNS: "shop", uName: "any"},
		"cluster-wide":            {scope: sealed.ScopeClusterWide, unsealNS: "elsewhere", uName: "any"},
		"strict needs a name":     {scope: sealed.ScopeStrict, ns: "shop", wantErr: sealed.ErrNoName},
		"strict needs namespace":  {scope: sealed.ScopeStrict, name: "db", wantErr: sealed.ErrNoNamespace},
		"namespace-wide needs ns": {scope: sealed.ScopeNamespaceWide, wantErr: sealed.ErrNoNamespace},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := sealed.EncryptValue(rnd, keys.Public(), tc.scope, tc.ns, tc.name, []byte(markerPassword))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				requireNoMarker(t, err)
				return
			}
			require.NoError(t, err)
			scope := tc.scope
			if scope == "" {
				scope = sealed.ScopeStrict
			}
			out, err := keys.Unseal(sealedWith(tc.unsealNS, tc.uName, scope, map[string]any{"password": v}))
			require.NoError(t, err)
			assert.Equal(t, markerPassword, string(out.Data["password"]))
		})
	}
}

func TestScope(t *testing.T) {
	for in, want := range map[string]sealed.Scope{
		"": sealed.ScopeStrict, "strict": sealed.ScopeStrict,
		"namespace-wide": sealed.ScopeNamespaceWide, "cluster-wide": sealed.ScopeClusterWide,
	} {
		got, err := sealed.ParseScope(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		if in != "" {
			assert.Equal(t, in, got.String())
		}
	}
	_, err := sealed.ParseScope("Strict")
	assert.Error(t, err)

	for name, tc := range map[string]struct {
		anno map[string]string
		want sealed.Scope
	}{
		"none":              {want: sealed.ScopeStrict},
		"namespace-wide":    {anno: map[string]string{sealed.AnnotationNamespaceWide: "true"}, want: sealed.ScopeNamespaceWide},
		"cluster-wide wins": {anno: map[string]string{sealed.AnnotationNamespaceWide: "true", sealed.AnnotationClusterWide: "true"}, want: sealed.ScopeClusterWide},
		"only true counts":  {anno: map[string]string{sealed.AnnotationClusterWide: "True"}, want: sealed.ScopeStrict},
	} {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, sealed.ScopeOf(tc.anno)) })
	}
}

func TestParsePublicKey(t *testing.T) {
	keys := testKeys(t)
	key1, err := sealed.ParsePrivateKeys(readTestdata(t, "key1.pem"))
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		file    string
		data    []byte
		want    string // fingerprint
		wantErr string
	}{
		"certificate":      {file: "cert2.pem", want: keys.Fingerprints()[0]},
		"public key":       {file: "pub1.pem", want: key1.Fingerprints()[0]},
		"expired":          {file: "expired-cert.pem", wantErr: "expired"},
		"private key only": {file: "key1.pem", wantErr: "no CERTIFICATE"},
		"EC key":           {file: "ec-key.pem", wantErr: "no CERTIFICATE"},
		"not PEM":          {data: []byte("hello"), wantErr: "no CERTIFICATE"},
		"corrupt cert":     {data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), wantErr: "parse sealing certificate"},
		"corrupt pub":      {data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}), wantErr: "parse sealing public key"},
		"key, then cert":   {data: append(readTestdata(t, "key1.pem"), readTestdata(t, "cert1.pem")...), want: key1.Fingerprints()[0]},
		"RSA PUBLIC KEY":   {data: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(keys.Public())}), want: keys.Fingerprints()[0]},
	} {
		t.Run(name, func(t *testing.T) {
			data := tc.data
			if tc.file != "" {
				data = readTestdata(t, tc.file)
			}
			pub, err := sealed.ParsePublicKey(data)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				requireNoMarker(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, sealed.Fingerprint(pub))
		})
	}
}

func TestParsePrivateKeys(t *testing.T) {
	list := testKeys(t)
	require.Equal(t, 2, list.Len())
	cert2 := testPub(t, "cert2.pem")
	assert.True(t, cert2.Equal(list.Public()), "the key with the newest certificate seals")

	for name, tc := range map[string]struct {
		inputs  [][]byte
		wantLen int
		newest  string // cert file of the key that should seal
		wantErr string
	}{
		"PKCS#1 PEM":              {inputs: [][]byte{readTestdata(t, "key1.pem")}, wantLen: 1, newest: "cert1.pem"},
		"PKCS#8 PEM":              {inputs: [][]byte{readTestdata(t, "key2.pem")}, wantLen: 1, newest: "cert2.pem"},
		"later file is newer":     {inputs: [][]byte{readTestdata(t, "key2.pem"), readTestdata(t, "key1.pem")}, wantLen: 2, newest: "cert1.pem"},
		"certificate orders":      {inputs: [][]byte{append(readTestdata(t, "key2.pem"), readTestdata(t, "cert2.pem")...), readTestdata(t, "key1.pem")}, wantLen: 2, newest: "cert2.pem"},
		"a key twice counts once": {inputs: [][]byte{readTestdata(t, "key1.pem"), readTestdata(t, "key1.pem")}, wantLen: 1, newest: "cert1.pem"},
		"list and PEM":            {inputs: [][]byte{readTestdata(t, "keys-list.yaml"), readTestdata(t, "other-key.pem")}, wantLen: 3, newest: "cert2.pem"},
		"EC key":                  {inputs: [][]byte{readTestdata(t, "ec-key.pem")}, wantErr: "not RSA"},
		"certificate only":        {inputs: [][]byte{readTestdata(t, "cert1.pem")}, wantErr: "no RSA private key"},
		"garbage":                 {inputs: [][]byte{[]byte("\x00\x01garbage")}, wantErr: "private keys input 1"},
		"nothing":                 {wantErr: "no RSA private key"},
		"Secret without tls.key": {inputs: [][]byte{[]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: kube-system}\ndata: {password: " +
			"TUFSS0VSLWh1bnRlcjItYzBudmVyZ2U=}\n")}, wantErr: `Secret kube-system/k: data key "tls.key": missing`},
		"ConfigMap":          {inputs: [][]byte{[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")}, wantErr: "not a v1 Secret"},
		"corrupt PKCS#1":     {inputs: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte(markerPassword)})}, wantErr: "PEM block 1: not a PKCS #1"},
		"tls.key not base64": {inputs: [][]byte{[]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {tls.key: " + markerPassword + "}\n")}, wantErr: "not valid base64"},
	} {
		t.Run(name, func(t *testing.T) {
			keys, err := sealed.ParsePrivateKeys(tc.inputs...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				requireNoMarker(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantLen, keys.Len())
			assert.True(t, testPub(t, tc.newest).Equal(keys.Public()))
			assert.Equal(t, sealed.Fingerprint(keys.Public()), keys.Fingerprints()[0])
		})
	}
}
