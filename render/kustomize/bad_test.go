package kustomize_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
)

const secret = "TOP-SECRET-OUTSIDE-ROOT"

func kfile(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"

// TestBadInput feeds hostile trees. Each must fail with an error that
// names the file at fault and quotes nothing from outside the root.
func TestBadInput(t *testing.T) {
	tests := map[string]struct {
		fsys     fs.FS
		dir      string
		is       error  // errors.Is target, when there is one
		contains string // in the message
	}{
		"resources beyond the root": {
			fsys:     fstest.MapFS{"app/kustomization.yaml": kfile("resources:\n- ../../..\n")},
			dir:      "app",
			is:       render.ErrOutsideRoot,
			contains: "leaves the source root",
		},
		"generator file outside the root": {
			fsys:     fstest.MapFS{"app/kustomization.yaml": kfile("configMapGenerator:\n- name: env\n  files:\n  - /proc/self/environ\n")},
			dir:      "app",
			is:       render.ErrOutsideRoot,
			contains: "render app: path leaves the source root",
		},
		"generator file climbing out": {
			fsys:     fstest.MapFS{"app/kustomization.yaml": kfile("configMapGenerator:\n- name: env\n  files:\n  - ../../../../proc/self/environ\n")},
			dir:      "app",
			is:       render.ErrOutsideRoot,
			contains: "render app: path leaves the source root",
		},
		"cycle A B A": {
			fsys: fstest.MapFS{
				"a/kustomization.yaml": kfile("resources:\n- ../b\n"),
				"b/kustomization.yaml": kfile("resources:\n- ../a\n"),
			},
			dir:      "a",
			contains: "cycle",
		},
		"resources dot": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- .\n")},
			dir:      "a",
			contains: "cycle detected",
		},
		"remote git base": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v1.0.6\n")},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "a/kustomization.yaml: not allowed: resources[0]: remote",
		},
		"remote https resource": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- https://example.invalid/x.yaml\n")},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "a/kustomization.yaml",
		},
		"remote patch file": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("patches:\n- path: https://example.invalid/p.yaml\n")},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "patches[0].path",
		},
		"remote base in a nested kustomization": {
			fsys: fstest.MapFS{
				"a/kustomization.yaml": kfile("resources:\n- ../b\n"),
				"b/kustomization.yaml": kfile("components:\n- git@github.com:org/repo.git//c\n"),
			},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "b/kustomization.yaml",
		},
		"exec function": {
			fsys: fstest.MapFS{
				"a/kustomization.yaml": kfile("resources:\n- cm.yaml\ntransformers:\n- fn.yaml\n"),
				"a/cm.yaml":            kfile(cm),
				"a/fn.yaml": kfile("apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: fn\n  annotations:\n" +
					"    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n"),
			},
			dir:      "a",
			contains: "external plugins disabled",
		},
		"container function": {
			fsys: fstest.MapFS{
				"a/kustomization.yaml": kfile("resources:\n- cm.yaml\ngenerators:\n- fn.yaml\n"),
				"a/cm.yaml":            kfile(cm),
				"a/fn.yaml": kfile("apiVersion: example.com/v1\nkind: Fn\nmetadata:\n  name: fn\n  annotations:\n" +
					"    config.kubernetes.io/function: |\n      container:\n        image: example.invalid/fn\n"),
			},
			dir:      "a",
			contains: "external plugins disabled",
		},
		"legacy plugin": {
			fsys: fstest.MapFS{
				"a/kustomization.yaml": kfile("resources:\n- cm.yaml\ntransformers:\n- plugin.yaml\n"),
				"a/cm.yaml":            kfile(cm),
				"a/plugin.yaml":        kfile("apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n"),
			},
			dir:      "a",
			contains: "external plugins disabled",
		},
		"helm charts": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("helmCharts:\n- name: x\n  repo: https://example.invalid\n")},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "helmCharts",
		},
		"custom openapi schema": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("openapi:\n  path: schema.json\n"), "a/schema.json": kfile("{}")},
			dir:      "a",
			is:       render.ErrNotAllowed,
			contains: "openapi",
		},
		"billion laughs": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- lol.yaml\n"), "a/lol.yaml": kfile(billionLaughs)},
			dir:      "a",
			is:       object.ErrAliasExpansion,
			contains: "a/lol.yaml: document 1",
		},
		"duplicate keys": {
			fsys:     fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- d.yaml\n"), "a/d.yaml": kfile(cm + "  name: other\n")},
			dir:      "a",
			contains: `duplicate key "name"`,
		},
		"deeply nested lists": {
			fsys: fstest.MapFS{"a/kustomization.yaml": kfile("resources:\n- n.yaml\n"),
				"a/n.yaml": kfile(cm + "data:\n  x: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n")},
			dir:      "a",
			is:       object.ErrTooDeep,
			contains: "render a/n.yaml",
		},
		"huge manifest": {
			fsys:     hugeFS{size: 200 << 20},
			dir:      "a",
			is:       render.ErrTooLarge,
			contains: "a/huge.yaml",
		},
		"missing directory": {
			fsys:     fstest.MapFS{},
			dir:      "nope",
			is:       fs.ErrNotExist,
			contains: "nope",
		},
		"absolute path": {
			fsys:     fstest.MapFS{},
			dir:      "../etc",
			is:       render.ErrOutsideRoot,
			contains: "etc",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := kustomize.New().Render(ctx, tc.fsys, tc.dir, render.DefaultOptions())
			require.Error(t, err)
			t.Log(err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), tc.contains)
			assert.NotContains(t, err.Error(), "PATH=", "no environment leaks into the message")
			assert.NotContains(t, err.Error(), "HOME=")
		})
	}
}

// TestSymlinksLeavingRoot uses a real directory: a symlink, and a chain of
// them, pointing outside the root. Through os.Root's fs.FS (which a source
// snapshot also guarantees) neither can be read.
func TestSymlinksLeavingRoot(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+secret+"\n"), 0o644))
	root := t.TempDir()
	app := filepath.Join(root, "app")
	require.NoError(t, os.MkdirAll(app, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(app, "direct.yaml")))
	require.NoError(t, os.Symlink("hop1.yaml", filepath.Join(app, "chain.yaml")))
	require.NoError(t, os.Symlink("../hop2.yaml", filepath.Join(app, "hop1.yaml")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "hop2.yaml")))
	require.NoError(t, os.Symlink(outside, filepath.Join(app, "dirlink")))

	r, err := os.OpenRoot(root)
	require.NoError(t, err)
	defer r.Close()

	// A link that stays inside the root is fine.
	require.NoError(t, os.WriteFile(filepath.Join(root, "inside.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inside\n"), 0o644))
	require.NoError(t, os.Symlink("../inside.yaml", filepath.Join(app, "ok.yaml")))
	require.NoError(t, os.WriteFile(filepath.Join(app, "kustomization.yaml"), []byte("resources:\n- ok.yaml\n"), 0o644))
	set, err := kustomize.New().Render(context.Background(), os.DirFS(root), "app", render.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, 1, set.Len())

	for name, resource := range map[string]string{
		"direct":      "direct.yaml",
		"chain":       "chain.yaml",
		"directory":   "dirlink",
		"file in dir": "dirlink/secret.yaml",
	} {
		for fsName, base := range map[string]fs.FS{"os.Root": r.FS(), "os.DirFS": os.DirFS(root)} {
			t.Run(name+" "+fsName, func(t *testing.T) {
				require.NoError(t, os.WriteFile(filepath.Join(app, "kustomization.yaml"), []byte("resources:\n- "+resource+"\n"), 0o644))
				_, err := kustomize.New().Render(context.Background(), base, "app", render.DefaultOptions())
				require.Error(t, err)
				t.Log(err)
				assert.Contains(t, err.Error(), "app")
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, err.Error(), outside)
			})
		}
	}
}

const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata:
  name: lol
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// hugeFS holds a/kustomization.yaml and a/huge.yaml, a manifest of size
// bytes generated as it is read, never held in memory.
type hugeFS struct{ size int64 }

func (h hugeFS) Open(name string) (fs.File, error) {
	m := fstest.MapFS{
		"a/kustomization.yaml": kfile("resources:\n- huge.yaml\n"),
		"a/huge.yaml":          &fstest.MapFile{Data: []byte{}},
	}
	if name != "a/huge.yaml" {
		return m.Open(name)
	}
	f, err := m.Open(name)
	if err != nil {
		return nil, err
	}
	return &hugeFile{File: f, r: io.MultiReader(strings.NewReader(cm+"data:\n  x: \""), io.LimitReader(zeros{}, h.size))}, nil
}

type hugeFile struct {
	fs.File
	r io.Reader
}

func (f *hugeFile) Read(p []byte) (int, error) { return f.r.Read(p) }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
