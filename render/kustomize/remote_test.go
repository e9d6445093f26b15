package kustomize_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

// fakeRemotes serves repositories from memory and records what was asked.
type fakeRemotes struct {
	mu    sync.Mutex
	asked []string
	repos map[string]struct {
		fsys fs.FS
		dir  string
	}
}

func (f *fakeRemotes) add(url string, fsys fs.FS, dir string) {
	if f.repos == nil {
		f.repos = map[string]struct {
			fsys fs.FS
			dir  string
		}{}
	}
	f.repos[url] = struct {
		fsys fs.FS
		dir  string
	}{fsys, dir}
}

func (f *fakeRemotes) Fetch(_ context.Context, url string) (fs.FS, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, url)
	r, ok := f.repos[url]
	if !ok {
		return nil, "", errors.New("no such repository")
	}
	return r.fsys, r.dir, nil
}

const (
	allowedBase = "https://git.example.com/acme/deploy//base?ref=v1"
	nestedBase  = "https://git.example.com/acme/common//cm?ref=v2"
)

func remotes() *fakeRemotes {
	f := &fakeRemotes{}
	f.add(allowedBase, fstest.MapFS{
		"base/kustomization.yaml":   kfile("resources:\n- svc.yaml\n- ../shared\n- " + nestedBase + "\n"),
		"base/svc.yaml":             kfile("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"),
		"shared/kustomization.yaml": kfile("resources:\n- sa.yaml\n"),
		"shared/sa.yaml":            kfile("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n"),
	}, "base")
	f.add(nestedBase, fstest.MapFS{
		"cm/kustomization.yaml": kfile("configMapGenerator:\n- name: settings\n  literals:\n  - mode=prod\n"),
	}, "cm")
	return f
}

// TestRemoteBases: an allowlisted remote base (with a sibling folder and a
// nested remote base of its own) is fetched through the host's Fetcher and
// built like a local one.
func TestRemoteBases(t *testing.T) {
	f := remotes()
	r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, f))
	fsys := fstest.MapFS{"apps/web/kustomization.yaml": kfile("namePrefix: prod-\nresources:\n- " + allowedBase + "\n- cm.yaml\n"), "apps/web/cm.yaml": kfile(cm)}
	set, err := r.Render(context.Background(), fsys, "apps/web", render.DefaultOptions())
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Service/prod-web", "ServiceAccount/prod-web", "ConfigMap/prod-settings-mgc92dd9c6", "ConfigMap/prod-cm"}, ids(set))
	assert.ElementsMatch(t, []string{allowedBase, nestedBase}, f.asked, "each base fetched once")
}

// TestRemoteBasesRefused: references outside the allowlist are refused
// before any I/O: the Fetcher is not called, no HTTP request is made and
// git is not run.
func TestRemoteBasesRefused(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(cm))
	}))
	defer srv.Close()
	bin := t.TempDir()
	ran := filepath.Join(bin, "git-ran")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\ntouch "+ran+"\nexit 1\n"), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	tests := map[string]string{
		"another server":             srv.URL + "/acme/deploy//base?ref=v1",
		"a longer owner name":        "https://git.example.com/acme-evil/deploy//base",
		"climbing out of the prefix": "https://git.example.com/acme/../evil/deploy",
		"escaped dots":               "https://git.example.com/acme/%2e%2e/evil/deploy",
		"github shorthand":           "github.com/acme/deploy/base?ref=v1",
		"scp-style":                  "git@git.example.com:acme/deploy.git",
	}
	for name, ref := range tests {
		t.Run(name, func(t *testing.T) {
			f := remotes()
			r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme"}, f))
			fsys := fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- " + ref + "\n")}
			_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
			require.Error(t, err)
			assert.ErrorIs(t, err, render.ErrNotAllowed)
			assert.Contains(t, err.Error(), "a/kustomization.yaml")
			assert.Empty(t, f.asked, "the Fetcher was not called")
		})
	}
	t.Run("remote file, even from an allowed prefix", func(t *testing.T) {
		f := remotes()
		r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, f))
		fsys := fstest.MapFS{"a/kustomization.yaml": kfile("resources: []\npatches:\n- path: https://git.example.com/acme/p.yaml\n")}
		_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
		require.ErrorIs(t, err, render.ErrNotAllowed)
		assert.Empty(t, f.asked)
	})
	t.Run("nested remote base outside the allowlist", func(t *testing.T) {
		f := remotes()
		f.add("https://git.example.com/acme/x", fstest.MapFS{"kustomization.yaml": kfile("resources:\n- " + srv.URL + "/other\n")}, ".")
		r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, f))
		fsys := fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- https://git.example.com/acme/x\n")}
		_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
		require.ErrorIs(t, err, render.ErrNotAllowed)
		assert.Equal(t, []string{"https://git.example.com/acme/x"}, f.asked)
	})
	assert.Zero(t, requests.Load(), "no HTTP request reached the server")
	assert.NoFileExists(t, ran, "git was never run")
}

// TestRemoteBaseConfined: a fetched base cannot reach outside its own
// repository, into the tree being built or beyond.
func TestRemoteBaseConfined(t *testing.T) {
	tests := map[string]string{
		"into the local tree":    "resources:\n- ../../../../apps/secret\n",
		"generator file outside": "configMapGenerator:\n- name: x\n  files:\n  - ../../../../apps/secret/key\n",
		"absolute path":          "resources:\n- /etc\n",
	}
	for name, k := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeRemotes{}
			f.add("https://git.example.com/acme/x", fstest.MapFS{"base/kustomization.yaml": kfile(k)}, "base")
			r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, f))
			fsys := fstest.MapFS{
				"a/kustomization.yaml":           kfile("resources:\n- https://git.example.com/acme/x\n"),
				"apps/secret/kustomization.yaml": kfile("resources:\n- s.yaml\n"),
				"apps/secret/s.yaml":             kfile("apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + secret + "\n"),
				"apps/secret/key":                kfile(secret),
			}
			_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
			require.Error(t, err)
			assert.ErrorIs(t, err, render.ErrOutsideRoot)
			assert.NotContains(t, err.Error(), secret)
		})
	}

	t.Run("fetch failure names the kustomization", func(t *testing.T) {
		r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, &fakeRemotes{}))
		fsys := fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- https://git.example.com/acme/missing\n")}
		_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "a/kustomization.yaml")
		assert.Contains(t, err.Error(), "no such repository")
	})
	t.Run("a tree with the reserved folder", func(t *testing.T) {
		r := kustomize.New(kustomize.WithRemoteBases([]string{"https://git.example.com/acme/"}, remotes()))
		fsys := fstest.MapFS{
			"a/kustomization.yaml":                  kfile("resources:\n- " + allowedBase + "\n"),
			".converge-remote/x/cm.yaml":            kfile(cm),
			".converge-remote/x/kustomization.yaml": kfile("resources:\n- cm.yaml\n"),
		}
		_, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
		require.ErrorIs(t, err, render.ErrNotAllowed)

		// Without remote bases, the folder is the tree's own.
		fsys["a/kustomization.yaml"] = kfile("resources:\n- ../.converge-remote/x\n")
		set, err := r.Render(context.Background(), fsys, "a", render.DefaultOptions())
		require.NoError(t, err)
		assert.Equal(t, []string{"ConfigMap/cm"}, ids(set))
	})
}
