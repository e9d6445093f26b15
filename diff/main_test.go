package diff_test

import (
	"sync"
	"testing"

	"github.com/converge-dev/converge/internal/testenv"
)

// plane is the package's control plane. It starts with the first test
// that calls needEnv, so that pure tests (go test ./diff -run TestMask) run
// in a second without one.
var (
	plane   = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})
	env     *testenv.Env
	envOnce sync.Once
)

// needEnv starts the control plane once, for every test that uses it.
func needEnv(t testing.TB) {
	t.Helper()
	e := plane.Env(t)
	envOnce.Do(func() { env = e })
}

// namespace starts the control plane if needed and gives the test its own
// namespace.
func namespace(t *testing.T) string {
	t.Helper()
	needEnv(t)
	return env.Namespace(t)
}

func TestMain(m *testing.M) { plane.Main(m) }
