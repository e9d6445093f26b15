// Package crdtest installs the CustomResourceDefinitions of other
// projects into a test control plane, taken from their Go modules at
// pinned versions, so that tests check objects against the real schemas
// (the Gateway API's HTTPRoute, Istio's VirtualService, …) without a
// copy of them in this repository:
//
//	func TestRoutes(t *testing.T) {
//		env := plane.Env(t) // an internal/testenv plane
//		crdtest.Install(t, env.Config, crdtest.GatewayAPI, crdtest.Istio)
//		// server-side apply HTTPRoutes and VirtualServices …
//	}
//
// A module's files are found through `go mod download -json
// MODULE@VERSION` (its Dir), run outside this module, so the modules need
// not be in go.mod; the Go module proxy (or the module cache) serves them.
//
// Install waits until every CRD is Established. CRDs are cluster-scoped
// and stay for the plane's life; installing a set twice is harmless, so
// every test that needs one installs it.
package crdtest
