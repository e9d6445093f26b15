package testenv_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/internal/testenv"
)

// A test package's plane and a test in its own namespace, as the package
// overview writes them. (Compiled, not run: these are a TestMain and a
// test.)
func Example() {
	var env *testenv.Env
	ctx := context.Background()

	testMain := func(m *testing.M) { testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env) }
	testRollout := func(t *testing.T) {
		ns := env.Namespace(t)
		_ = env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}})
	}
	_, _ = testMain, testRollout
}

// A plane that starts with the first test that needs it.
func ExampleNewLazy() {
	plane := testenv.NewLazy(testenv.Options{Mode: testenv.Bare})
	testMain := func(m *testing.M) { plane.Main(m) }
	testApply := func(t *testing.T) {
		env := plane.Env(t)
		_ = env.Namespace(t)
	}
	_, _ = testMain, testApply
}
