package operator

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGeneratedFiles fails when the DeepCopy methods or the CRD are not
// what controller-gen makes of the API types now (builds controller-gen
// on first use, about 30 seconds; then about a second).
func TestGeneratedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen")
	}
	script := filepath.Join("..", "..", "hack", "operator", "generate.sh")
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script, "check")
	cmd.Stderr = &stderr
	err := cmd.Run()
	require.NoError(t, err, "generated files are stale; run hack/operator/generate.sh:\n%s", stderr.String())
}
