// Package promtest runs a real Prometheus for tests: Debian's prometheus
// binary (installed with apt-get when missing and running as root), as a
// plain process on a free loopback port with a temporary TSDB, scraping
// every second a [Target] the test serves, whose request rate, error
// ratio and latency histogram the test sets.
//
//	var prom = promtest.NewLazy()
//
//	func TestMain(m *testing.M) { prom.Main(m) }
//
//	func TestSuccessRate(t *testing.T) {
//		server, target := prom.Start(t)
//		target.Set("checkout", promtest.Traffic{RPS: 100, ErrorRatio: 0.01, LatencyMs: 80})
//		server.Wait(t, `rate(http_requests_total{service="checkout"}[1m]) > 0`)
//		// query server.Addr ...
//	}
//
// # No orphans
//
// The server runs in its own process group; a watchdog shell holds a pipe
// from the test process and kills that group when the pipe closes, which
// the kernel does however the test binary ends (a panic, a timeout,
// SIGKILL). [Server.Stop] stops it in an orderly way and removes its
// files.
package promtest
