package prometheus_test

import (
	"testing"

	"github.com/converge-dev/converge/internal/promtest"
)

// prom is started by the first test that needs it (TestPrometheus*); the
// pure tests (TestDecode*, the fuzz target) never start it.
var prom = promtest.NewLazy()

func TestMain(m *testing.M) { prom.Main(m) }
