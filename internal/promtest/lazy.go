package promtest

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Lazy is a Prometheus and a [Target] it scrapes, started by the first
// test that needs them and shared by the package's tests, so that pure
// tests run without one (go test ./pkg -run TestDecode starts nothing).
// Tests share the target by using service names of their own. Call Main
// from TestMain.
type Lazy struct {
	once   sync.Once
	server *Server
	target *Target
	err    error
}

// NewLazy returns a server that starts on first use.
func NewLazy() *Lazy { return &Lazy{} }

// Start starts the target and the server if needed and returns them,
// failing t when the server cannot be found, installed or started. Tests
// must not stop them; a test that needs a server to break starts its own
// with [Start].
func (l *Lazy) Start(t testing.TB) (*Server, *Target) {
	t.Helper()
	l.once.Do(func() {
		start := time.Now()
		l.target = NewTarget()
		l.server, l.err = StartServer(l.target.HostPort())
		if l.err != nil {
			l.target.Close()
			return
		}
		fmt.Fprintf(os.Stderr, "promtest: prometheus up in %s\n", time.Since(start).Round(100*time.Millisecond))
	})
	if l.err != nil {
		t.Fatalf("promtest: %v", l.err)
	}
	return l.server, l.target
}

// Main runs the package's tests, stops the server if a test started it,
// and exits.
func (l *Lazy) Main(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if l.server != nil {
		if err := l.server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "promtest: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		l.target.Close()
	}
	os.Exit(code)
}
