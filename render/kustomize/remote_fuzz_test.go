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

// FuzzRemoteBases builds a kustomization from the fuzzer with remote
// bases allowed from one prefix. The Fetcher may only ever be asked for a
// reference under that prefix, without a ".." segment or an escape, and
// nothing in the fetched repository may be read from outside it.
func FuzzRemoteBases(f *testing.F) {
	f.Add("resources:\n- " + allowedBase + "\n")
	f.Add("resources:\n- https://git.example.com/acme/../evil\n")
	f.Add("resources:\n- https://git.example.com/acme-evil/x\n")
	f.Add("components:\n- https://git.example.com/acme/x//c?ref=main\n")
	f.Add("bases:\n- git::https://git.example.com/acme/x\n")
	f.Add("resources:\n- https://git.example.com/acme/%2e%2e/x\n")
	f.Add("resources:\n- https://git.example.com/acme/x\n- https://git.example.com/acme/x\n")
	f.Fuzz(func(t *testing.T, kustomization string) {
		f := remotes()
		f.add("https://git.example.com/acme/x", fstest.MapFS{"kustomization.yaml": kfile("resources:\n- ../../outside\n")}, ".")
		r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, f))
		fsys := fstest.MapFS{
			"a/kustomization.yaml":       kfile(kustomization),
			"outside/kustomization.yaml": kfile("resources:\n- s.yaml\n"),
			"outside/s.yaml":             kfile("apiVersion: v1\nkind: Secret\nmetadata:\n  name: MARKER-OUTSIDE\n"),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		set, err := r.Render(ctx, fsys, "a", render.DefaultOptions())
		if err != nil && strings.Contains(err.Error(), ownPanic) {
			t.Fatal(err)
		}
		for _, url := range f.asked {
			noQuery, _, _ := strings.Cut(url, "?")
			if !strings.HasPrefix(url, "https://git.example.com/acme/") || strings.Contains(url, "%") ||
				strings.Contains("/"+noQuery+"/", "/../") {
				t.Fatalf("fetched a reference outside the allowlist: %q", url)
			}
		}
		if err == nil && strings.Contains(kustomization, "acme/x") && !strings.Contains(kustomization, "outside") {
			for id := range set.All() {
				if id.Name == "MARKER-OUTSIDE" {
					t.Fatal("a fetched base read the local tree")
				}
			}
		}
	})
}
