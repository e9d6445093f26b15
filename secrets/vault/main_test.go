package vault

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/vaulttest"
)

// server is the package's real Vault dev server, started by the first test
// that needs one. When it cannot be built or started those tests fail: a
// missing Vault is a broken test run, not a skip.
var server = vaulttest.NewLazy()

func TestMain(m *testing.M) { server.Main(m) }

func newProvider(t testing.TB, addr string, auth Auth, opts ...Option) *Provider {
	t.Helper()
	p, err := New(addr, auth, opts...)
	require.NoError(t, err)
	return p
}
