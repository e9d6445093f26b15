package kustomize_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

// FuzzKustomization builds a tree whose kustomization and one resource
// come from the fuzzer, next to a file outside the rendered directory
// holding a marker. Render must not panic (kustomize's own panics become
// errors; one in converge's code below kustomize fails the target), must
// finish, and a failure must not quote the marker unless the input named
// it.
func FuzzKustomization(f *testing.F) {
	f.Add("resources:\n- cm.yaml\n", cm)
	f.Add("resources:\n- ../../..\n", cm)
	f.Add("resources:\n- .\n", cm)
	f.Add("resources:\n- ../secret\n", cm)
	f.Add("configMapGenerator:\n- name: x\n  files:\n  - /proc/self/environ\n", cm)
	f.Add("resources:\n- github.com/org/repo?ref=v1\n", cm)
	f.Add("transformers:\n- cm.yaml\n", "apiVersion: x/v1\nkind: X\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n")
	f.Add("resources:\n- cm.yaml\n", billionLaughs)
	f.Add("resources:\n- cm.yaml\npatches:\n- patch: '[{\"op\":\"remove\",\"path\":\"/metadata\"}]'\n  target:\n    kind: ConfigMap\n", cm)
	f.Add("resources:\n- cm.yaml\nreplacements:\n- source: {kind: ConfigMap, fieldPath: data.k}\n  targets: [{select: {kind: ConfigMap}, fieldPaths: [metadata.name]}]\n", cm+"data:\n  k: \"\"\n")
	f.Fuzz(func(t *testing.T, kustomization, resource string) {
		fsys := fstest.MapFS{
			"secret/file.yaml":       {Data: []byte("MARKER-OUTSIDE")},
			"a/b/kustomization.yaml": {Data: []byte(kustomization)},
			"a/b/cm.yaml":            {Data: []byte(resource)},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		set, err := kustomize.New().Render(ctx, fsys, "a/b", render.DefaultOptions())
		if err != nil {
			if set != nil {
				t.Fatal("a set with an error")
			}
			if strings.Contains(err.Error(), ownPanic) {
				t.Fatal(err)
			}
			if strings.Contains(err.Error(), "MARKER-OUTSIDE") && !strings.Contains(kustomization, "secret") {
				t.Fatalf("content from outside the rendered tree in the error: %v", err)
			}
		}
	})
}

// ownPanic is how Render reports a panic in converge's own code.
const ownPanic = "panic in converge's own code"
