package kustomize_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

// TestNoNetwork points remote references at a live HTTP server and puts a
// git on PATH that records being run: neither may be used.
func TestNoNetwork(t *testing.T) {
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
		"http resource":       "resources:\n- " + srv.URL + "/cm.yaml\n",
		"http base with ref":  "resources:\n- " + srv.URL + "/org/repo?ref=main\n",
		"git over ssh":        "resources:\n- ssh://git@127.0.0.1/org/repo\n",
		"github shorthand":    "resources:\n- github.com/org/repo/base?ref=v1\n",
		"file URL clone":      "resources:\n- file:///tmp/repo\n",
		"http patch":          "resources: []\npatches:\n- path: " + srv.URL + "/p.yaml\n",
		"http generator file": "configMapGenerator:\n- name: x\n  files:\n  - k=" + srv.URL + "/f\n",
		"http component":      "components:\n- " + srv.URL + "/c\n",
		"forced git protocol": "resources:\n- git::" + srv.URL + "/org/repo\n",
	}
	for name, k := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{"a/kustomization.yaml": {Data: []byte(k)}}
			_, err := kustomize.New().Render(context.Background(), fsys, "a", render.DefaultOptions())
			require.Error(t, err)
			assert.ErrorIs(t, err, render.ErrNotAllowed)
			assert.Contains(t, err.Error(), "a/kustomization.yaml")
		})
	}
	assert.Zero(t, requests.Load(), "no HTTP request reached the server")
	assert.NoFileExists(t, ran, "git was never run")
}
