package promote_test

import (
	"testing"

	"github.com/converge-dev/converge/internal/giteatest"
)

// gitea is the Gitea server the package's forge tests share, started by
// the first test that asks (go test -run TestPolicy starts nothing) and
// stopped when the tests end.
var gitea = giteatest.NewLazy()

func TestMain(m *testing.M) { gitea.Main(m) }
