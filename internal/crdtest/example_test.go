package crdtest_test

import (
	"testing"

	"github.com/converge-dev/converge/internal/crdtest"
	"github.com/converge-dev/converge/internal/testenv"
)

// A test that applies HTTPRoutes and VirtualServices to a bare plane.
// (Compiled, not run: it is a test.)
func ExampleInstall() {
	plane := testenv.NewLazy(testenv.Options{Mode: testenv.Bare})
	testRoutes := func(t *testing.T) {
		env := plane.Env(t)
		crdtest.Install(t, env.Config, crdtest.GatewayAPI, crdtest.Istio)
		_ = env.Namespace(t)
	}
	_ = testRoutes
}
