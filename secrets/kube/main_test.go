package kube_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/converge-dev/converge/internal/testenv"
)

// plane starts with the first test that needs it, so that pure tests
// (go test ./secrets/kube -run TestParseKey) run without one.
var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) { plane.Main(m) }

// fixture is a test's own namespace on the real API server and an admin
// clientset.
type fixture struct {
	env *testenv.Env
	ns  string
	cs  kubernetes.Interface
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := plane.Env(t)
	cs, err := kubernetes.NewForConfig(env.Config)
	require.NoError(t, err)
	return &fixture{env: env, ns: env.Namespace(t), cs: cs}
}

// namespace creates another namespace for the test.
func (f *fixture) namespace(t *testing.T) string {
	t.Helper()
	return f.env.Namespace(t)
}

func (f *fixture) secret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	_, err := f.cs.CoreV1().Secrets(ns).Create(ctx(t), s, metav1.CreateOptions{})
	require.NoError(t, err)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
