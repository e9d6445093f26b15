package sealed_test

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/secrets/sealed"
)

// plane is started by the first test that needs the real controller, so
// the pure tests (go test -run TestSeal) run without one.
var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) { plane.Main(m) }

// Markers are the plaintexts the tests plant; no error text may hold one.
const (
	markerPassword = "MARKER-hunter2-c0nverge"
	markerUser     = "MARKER-admin-c0nverge"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// testKeys returns the two test keys: key1 (older) and key2 (newer).
func testKeys(t testing.TB) *sealed.Keys {
	t.Helper()
	keys, err := sealed.ParsePrivateKeys(readTestdata(t, "keys-list.yaml"))
	require.NoError(t, err)
	return keys
}

func testPub(t testing.TB, cert string) *rsa.PublicKey {
	t.Helper()
	pub, err := sealed.ParsePublicKey(readTestdata(t, cert))
	require.NoError(t, err)
	return pub
}

func testSecret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "db", Namespace: "shop",
			Labels:      map[string]string{"app": "shop"},
			Annotations: map[string]string{"note": "kept"},
		},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"password": []byte(markerPassword)},
		StringData: map[string]string{"user": markerUser},
	}
}

// requireNoMarker fails if err's text holds a planted plaintext.
func requireNoMarker(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, m := range []string{markerPassword, markerUser, "MARKER"} {
		require.NotContains(t, err.Error(), m, "error text leaks a value")
	}
	require.False(t, strings.Contains(err.Error(), "PRIVATE KEY"), "error text leaks key material")
}

var rnd = rand.Reader
