package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// operatorTree is the fleet repository of the operator comparison:
// apps/app-NNN/, each a Kustomize folder of opObjects ConfigMaps with no
// namespace (each tool sets its own), so that a converge Application and a
// Flux Kustomization read it as written.
func operatorTree(version string) map[string]string {
	files := map[string]string{"README.md": "# fleet\n\nOne folder per app under apps/.\n"}
	for i := range opApps {
		app := opAppName(i)
		var b strings.Builder
		for j := range opObjects {
			v := "1"
			if i == 0 && j == 0 {
				v = version
			}
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%02d\n  labels:\n    app: %s\n    bench: operator\ndata:\n  index: %q\n  version: %q\n  settings: |\n    log.level=info\n    pool.size=%d\n",
				app, j, app, fmt.Sprint(j), v, 4+j)
		}
		files["apps/"+app+"/configmaps.yaml"] = b.String()
		files["apps/"+app+"/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmaps.yaml\n"
	}
	return files
}

// operatorRepoInit writes the tree into a new repository at dir, pushes it
// to a new bare repository at bare and returns the commit.
func operatorRepoInit(ctx context.Context, dir, bare string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, dir, nil, "init", "--quiet", "--initial-branch=main"); err != nil {
		return "", err
	}
	if err := writeTree(dir, operatorTree("1")); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, dir, nil, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, dir, nil, "commit", "--quiet", "-m", "the fleet"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, filepath.Dir(bare), nil, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, dir, nil, "remote", "add", "origin", bare); err != nil {
		return "", err
	}
	return operatorPushHead(ctx, dir)
}

// operatorPush commits version as app-000's first ConfigMap, pushes it and
// returns the commit.
func operatorPush(ctx context.Context, dir, version string) (string, error) {
	if err := writeTree(dir, operatorTree(version)); err != nil {
		return "", err
	}
	if _, err := gitCmd(ctx, dir, nil, "commit", "--quiet", "-am", "app-000: version "+version); err != nil {
		return "", err
	}
	return operatorPushHead(ctx, dir)
}

func operatorPushHead(ctx context.Context, dir string) (string, error) {
	if _, err := gitCmd(ctx, dir, nil, "push", "--quiet", "origin", "main"); err != nil {
		return "", err
	}
	return gitCmd(ctx, dir, nil, "rev-parse", "HEAD")
}

func writeTree(dir string, files map[string]string) error {
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
