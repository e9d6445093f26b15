package diff_test

import (
	"testing"

	"github.com/converge-dev/converge/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Bare}, &env)
}
