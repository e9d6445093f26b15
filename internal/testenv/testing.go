package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Main starts a plane, stores it in *env, runs the package's tests, stops
// the plane and exits. Call it from TestMain.
//
// When the binary runs fuzz targets (-test.fuzz, and the fuzzing workers
// it starts), no plane is started and *env stays nil: fuzz targets are
// pure, and one plane per worker process would only cost time.
func Main(m *testing.M, opts Options, env **Env) {
	flag.Parse()
	if fuzzing() {
		os.Exit(m.Run())
	}
	start := time.Now()
	e, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "testenv: %s control plane up in %s\n", opts.Mode, time.Since(start).Round(100*time.Millisecond))
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace named after the test, with a random suffix,
// and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = base[:50]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A bare plane has no namespace controller, so the namespace stays
		// Terminating; its name is unique, so that is harmless.
		_ = e.Client.Delete(ctx, ns)
	})
	return name
}

// Lazy is a control plane started by the first test that needs it, so
// that a package's pure tests run without one (go test ./pkg -run
// TestParse takes a second). Call Main from TestMain.
type Lazy struct {
	opts Options
	once sync.Once
	env  *Env
	err  error
}

// NewLazy returns a plane of opts that starts on first use.
func NewLazy(opts Options) *Lazy { return &Lazy{opts: opts} }

// Start starts the plane once and returns it.
func (l *Lazy) Start() (*Env, error) {
	l.once.Do(func() {
		start := time.Now()
		l.env, l.err = Start(l.opts)
		if l.err == nil {
			fmt.Fprintf(os.Stderr, "testenv: %s control plane up in %s\n", l.opts.Mode, time.Since(start).Round(100*time.Millisecond))
		}
	})
	return l.env, l.err
}

// Env starts the plane if needed and returns it, failing t when it
// cannot start.
func (l *Lazy) Env(t testing.TB) *Env {
	t.Helper()
	env, err := l.Start()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return env
}

// Main runs the package's tests, stops the plane if a test started it,
// and exits.
func (l *Lazy) Main(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if l.env != nil {
		if err := l.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
