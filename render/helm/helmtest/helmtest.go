// Package helmtest helps test Helm rendering: it finds the pinned helm
// CLI, the oracle render/helm is compared with, and runs `helm template`.
//
//	cli, err := helmtest.CLI()
//	out, err := helmtest.Template(ctx, cli, "testdata/charts/webapp", "--namespace", "shop")
package helmtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/converge-dev/converge/internal/peers"
)

// CLI returns the path of the helm CLI at the version converge's library
// uses, building it with hack/peers/build.sh on first use (a few minutes;
// later calls are instant).
func CLI() (string, error) { return peers.CLI("helm") }

// Template runs `helm template` with args (the release name, the chart
// directory and flags) and returns what it prints. Helm's configuration,
// cache and data folders point at a fresh temporary folder, so the
// caller's Helm set-up (repositories, plugins) plays no part.
func Template(ctx context.Context, cli string, args ...string) ([]byte, error) {
	home, err := os.MkdirTemp("", "helmtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, append([]string{"template"}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"HELM_PLUGINS="+filepath.Join(home, "plugins"),
	)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
