package sealed_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets/sealed"
)

var kubesealPath = sync.OnceValues(func() (string, error) { return peers.CLI("kubeseal") })

// kubeseal runs the real kubeseal v0.27.1 offline (no cluster: an empty
// kubeconfig) with args in testdata/, stdin in, and returns its stdout.
func kubeseal(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	bin, err := kubesealPath()
	require.NoError(t, err)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kc, nil, 0o600))
	cmd := exec.Command(bin, args...)
	cmd.Dir = "testdata"
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kubeseal %s: %s", strings.Join(args, " "), stderr.String())
	return out
}

func decodeOne(t *testing.T, data []byte) *unstructured.Unstructured {
	t.Helper()
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	require.NoError(t, err)
	require.Len(t, objs, 1)
	return objs[0]
}

func yamlOf(t *testing.T, objs ...*unstructured.Unstructured) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, object.Encode(&buf, objs...))
	return buf.Bytes()
}

func secretYAML(t *testing.T, s *corev1.Secret) []byte {
	t.Helper()
	obj, err := sealed.ToSecretObject(s)
	require.NoError(t, err)
	return yamlOf(t, obj)
}

var interopScopes = map[string]sealed.Scope{
	"strict": sealed.ScopeStrict, "namespace-wide": sealed.ScopeNamespaceWide, "cluster-wide": sealed.ScopeClusterWide,
}

// TestKubesealSealsConvergeUnseals: what kubeseal --cert seals, converge
// unseals to the Secret kubeseal was given, under every scope and with
// either key of a rotated pair.
func TestKubesealSealsConvergeUnseals(t *testing.T) {
	keys := testKeys(t)
	for name, scope := range interopScopes {
		for _, cert := range []string{"cert1.pem", "cert2.pem"} {
			t.Run(name+"/"+cert, func(t *testing.T) {
				ss := decodeOne(t, kubeseal(t, secretYAML(t, testSecret()), "--format", "yaml", "--cert", cert, "--scope", name))
				assert.Equal(t, scope, sealed.ScopeOf(ss.GetAnnotations()))
				s, err := keys.Unseal(ss)
				require.NoError(t, err)
				assert.Equal(t, map[string][]byte{"password": []byte(markerPassword), "user": []byte(markerUser)}, s.Data)
				assert.Equal(t, "shop", s.Namespace)
				assert.Equal(t, "db", s.Name)
				assert.Equal(t, corev1.SecretTypeOpaque, s.Type)
				assert.Equal(t, "shop", s.Labels["app"])
				assert.Equal(t, "kept", s.Annotations["note"])

				if scope == sealed.ScopeStrict {
					ss.SetName("db2")
					_, err := keys.Unseal(ss)
					assert.ErrorIs(t, err, sealed.ErrNoKeyDecrypts, "a renamed strict SealedSecret from kubeseal must not unseal")
				}
			})
		}
	}
}

// TestConvergeSealsKubesealUnseals: what converge seals, kubeseal
// --recovery-unseal opens to the same Secret converge unseals (owner
// references aside: kubeseal adds one with an empty UID), with the list
// export of both keys, or with both PEM files.
func TestConvergeSealsKubesealUnseals(t *testing.T) {
	keys := testKeys(t)
	key1, err := sealed.ParsePrivateKeys(readTestdata(t, "key1.pem"))
	require.NoError(t, err)
	for name, scope := range interopScopes {
		for pubName, pub := range map[string]*sealed.Keys{"newest": keys, "older": key1} {
			t.Run(name+"/"+pubName, func(t *testing.T) {
				ss, err := sealed.Seal(rnd, pub.Public(), testSecret(), scope)
				require.NoError(t, err)
				ours, err := keys.Unseal(ss)
				require.NoError(t, err)
				for _, keyArgs := range [][]string{
					{"--recovery-private-key", "keys-list.yaml"},
					{"--recovery-private-key", "key1.pem", "--recovery-private-key", "key2.pem"},
				} {
					out := kubeseal(t, yamlOf(t, ss), append([]string{"--recovery-unseal", "--format", "yaml"}, keyArgs...)...)
					theirs, err := sealed.FromSecretObject(decodeOne(t, out))
					require.NoError(t, err)
					require.Len(t, theirs.OwnerReferences, 1)
					assert.Equal(t, "SealedSecret", theirs.OwnerReferences[0].Kind)
					theirs.OwnerReferences = nil
					assert.Equal(t, ours, theirs)
				}
			})
		}
	}
}

// TestKubesealOutputShape: converge's SealedSecret is kubeseal --format
// yaml's, field for field, ciphertexts aside.
func TestKubesealOutputShape(t *testing.T) {
	pub := testPub(t, "cert2.pem")
	withScopeAnno := testSecret()
	withScopeAnno.Annotations[sealed.AnnotationNamespaceWide] = "true"
	immutable := true
	tls := testSecret()
	tls.Type, tls.Immutable = corev1.SecretTypeTLS, &immutable
	tls.Labels, tls.Annotations = nil, nil
	noNS := testSecret()
	noNS.Namespace = ""
	for name, tc := range map[string]struct {
		secret *corev1.Secret
		scope  sealed.Scope
		args   []string
	}{
		"strict":                    {secret: testSecret(), scope: sealed.ScopeStrict},
		"namespace-wide":            {secret: testSecret(), scope: sealed.ScopeNamespaceWide, args: []string{"--scope", "namespace-wide"}},
		"cluster-wide":              {secret: testSecret(), scope: sealed.ScopeClusterWide, args: []string{"--scope", "cluster-wide"}},
		"cluster-wide, no ns":       {secret: noNS, scope: sealed.ScopeClusterWide, args: []string{"--scope", "cluster-wide"}},
		"scope from the annotation": {secret: withScopeAnno},
		"immutable TLS, no labels":  {secret: tls, scope: sealed.ScopeStrict},
	} {
		t.Run(name, func(t *testing.T) {
			theirs := decodeOne(t, kubeseal(t, secretYAML(t, tc.secret), append([]string{"--format", "yaml", "--cert", "cert2.pem"}, tc.args...)...))
			ours, err := sealed.Seal(rnd, pub, tc.secret, tc.scope)
			require.NoError(t, err)
			ours = decodeOne(t, yamlOf(t, ours)) // as a file holds it
			for _, o := range []*unstructured.Unstructured{theirs, ours} {
				enc, _, _ := unstructured.NestedMap(o.Object, "spec", "encryptedData")
				for k := range enc {
					enc[k] = "CIPHERTEXT"
				}
				require.NoError(t, unstructured.SetNestedMap(o.Object, enc, "spec", "encryptedData"))
			}
			assert.Equal(t, theirs.Object, ours.Object)
		})
	}
}

// TestKubesealRaw: kubeseal --raw values unseal in converge, and
// EncryptValue's values in kubeseal, under every scope.
func TestKubesealRaw(t *testing.T) {
	keys := testKeys(t)
	for name, scope := range interopScopes {
		t.Run(name, func(t *testing.T) {
			raw := string(kubeseal(t, []byte(markerPassword), "--raw", "--cert", "cert2.pem", "--scope", name, "--namespace", "shop", "--name", "db"))
			ours, err := sealed.EncryptValue(rnd, keys.Public(), scope, "shop", "db", []byte(markerPassword))
			require.NoError(t, err)
			for who, v := range map[string]string{"kubeseal": raw, "converge": ours} {
				ss := sealedWith("shop", "db", scope, map[string]any{"password": v})
				s, err := keys.Unseal(ss)
				require.NoError(t, err, who)
				assert.Equal(t, markerPassword, string(s.Data["password"]), who)
				out := kubeseal(t, yamlOf(t, ss), "--recovery-unseal", "--format", "yaml", "--recovery-private-key", "keys-list.yaml")
				theirs, err := sealed.FromSecretObject(decodeOne(t, out))
				require.NoError(t, err)
				assert.Equal(t, markerPassword, string(theirs.Data["password"]), who)
			}
		})
	}
}
