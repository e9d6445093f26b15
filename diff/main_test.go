package diff_test

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/converge-dev/converge/internal/testenv"
)

// env is the package's control plane. It starts with the first test that
// calls needEnv, so that pure tests (go test ./diff -run TestMask) run in
// a second without one.
var (
	env      *testenv.Env
	envOnce  sync.Once
	envError error
)

// needEnv starts the control plane once, for every test that uses it.
func needEnv(t testing.TB) {
	t.Helper()
	envOnce.Do(func() {
		start := time.Now()
		env, envError = testenv.Start(testenv.Options{Mode: testenv.Bare})
		if envError == nil {
			fmt.Fprintf(os.Stderr, "testenv: bare control plane up in %s\n", time.Since(start).Round(100*time.Millisecond))
		}
	})
	if envError != nil {
		t.Fatalf("testenv: %v", envError)
	}
}

// namespace starts the control plane if needed and gives the test its own
// namespace.
func namespace(t *testing.T) string {
	t.Helper()
	needEnv(t)
	return env.Namespace(t)
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
