// Package vaulttest runs a real HashiCorp Vault dev server for converge's
// tests: the server is built at a pinned version by hack/vault/build.sh
// (15 to 30 minutes the first time, then cached under the user's cache
// directory) and started on a free loopback port with a random root token,
// a temporary HOME and a clean environment.
//
// A test package shares one server, started by the first test that asks:
//
//	var vault = vaulttest.NewLazy()
//
//	func TestMain(m *testing.M) { vault.Main(m) }
//
//	func TestRead(t *testing.T) {
//		s := vault.Server(t)
//		s.Put(t, "app/db", map[string]any{"password": "hunter2"})
//		// read s.Addr with s.Token ...
//	}
//
// A test that breaks its server (Stop, to see "Vault down") starts its own
// with [Start]. [Server.Slow] puts a delaying proxy in front of a server.
//
// Every server is stopped by [Server.Stop] (Start registers it with
// t.Cleanup), and also when the test binary dies without calling it: a
// watchdog process holding the other end of a pipe kills the server when
// the pipe closes, so no vault process outlives the tests.
package vaulttest
