package promote

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), string(got))
}

// tree reads testdata/dir into a MapFS.
func tree(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	root := filepath.Join("testdata", dir)
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "golden" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	}))
	return m
}

func mustImage(t *testing.T, arg string) Image {
	t.Helper()
	img, err := ParseImage(arg)
	require.NoError(t, err)
	return img
}

func TestSetImageGolden(t *testing.T) {
	fsys := tree(t, "setimage")
	for name, args := range map[string][]string{
		"tag-clears-digest": {"web:1.2.3"},
		"digest-clears-tag": {"worker@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		"first-key-removed": {"api:1.10"},
		"flow-entry":        {"db:2"},
		"new-entry":         {"cache=redis:7"},
		"preserve":          {"web=*:9@*"},
		"rename-tag-digest": {"web=registry.example/web:2@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
		"several":           {"web:1.2.3", "api=ghcr.io/acme/api:2.0.0", "cache:7"},
	} {
		t.Run(name, func(t *testing.T) {
			var imgs []Image
			for _, a := range args {
				imgs = append(imgs, mustImage(t, a))
			}
			res, err := SetImage{File: ".", Images: imgs}.Apply(context.Background(), fsys)
			require.NoError(t, err)
			require.Equal(t, []string{"kustomization.yaml"}, res.Paths())
			golden(t, "setimage/golden/"+name+".yaml", res.Files[0].New)
			golden(t, "setimage/golden/"+name+".diff", []byte(res.Diff()))
		})
	}
}

func TestSetImageUnchanged(t *testing.T) {
	fsys := tree(t, "setimage")
	res, err := SetImage{File: "kustomization.yaml", Images: []Image{mustImage(t, "db:1")}}.Apply(context.Background(), fsys)
	require.NoError(t, err)
	assert.Empty(t, res.Files, "an edit that changes nothing reports no file")
}

func TestSetImageNoImagesList(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"no images key":    {"resources:\n- a.yaml # base\n", "resources:\n- a.yaml # base\nimages:\n- name: x\n  newTag: \"1\"\n"},
		"no final newline": {"resources: [a.yaml]", "resources: [a.yaml]\nimages:\n- name: x\n  newTag: \"1\"\n"},
		"empty images":     {"images:\nresources: [a.yaml]\n", "images:\n- name: x\n  newTag: \"1\"\nresources: [a.yaml]\n"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := setImages("k.yaml", []byte(tc.in), []Image{{Name: "x", NewTag: "1"}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(out))
		})
	}
}

func TestParseImage(t *testing.T) {
	for arg, want := range map[string]Image{
		"web=ghcr.io/acme/web:1.2.3": {Name: "web", NewName: "ghcr.io/acme/web", NewTag: "1.2.3"},
		"web=ghcr.io/acme/web":       {Name: "web", NewName: "ghcr.io/acme/web"},
		"web:1.2.3":                  {Name: "web", NewTag: "1.2.3"},
		"localhost:5000/web:1":       {Name: "localhost:5000/web", NewTag: "1"},
		"web@sha256:abc":             {Name: "web", Digest: "sha256:abc"},
		"web:1@sha256:abc":           {Name: "web", NewTag: "1", Digest: "sha256:abc"},
		"web=*:*@sha256:abc":         {Name: "web", NewName: "*", NewTag: "*", Digest: "sha256:abc"},
	} {
		got, err := ParseImage(arg)
		require.NoError(t, err, arg)
		assert.Equal(t, want, got, arg)
	}
	for _, arg := range []string{"web", "", "web:1\nx", "web:\"1\"", "web:1 # c", "web=a b:1", "web:" + string(make([]byte, 200)), "web:-1", "web@sha256:ABC x", "=x:1"} {
		_, err := ParseImage(arg)
		assert.Error(t, err, "%q", arg)
	}
}

// TestSetPoliciesFlux runs Flux's own setter fixtures
// (image-automation-controller internal/update/testdata/setters, commit
// d36e2ea, with the policies of its update_test.go) and expects Flux's
// output byte for byte: the changed files and no others.
func TestSetPoliciesFlux(t *testing.T) {
	res, err := SetPolicies{Path: ".", Policies: map[string]ImageRef{
		"automation-ns:policy":             {Name: "index.repo.fake/updated", Tag: "v1.0.1"},
		"automation-ns:unchanged":          {Name: "image", Tag: "v1.0.0"},
		"automation-ns:policy-with-digest": {Name: "image", Tag: "v1.0.0", Digest: "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be"},
	}}.Apply(context.Background(), tree(t, "flux-setters/original"))
	require.NoError(t, err)
	want := tree(t, "flux-setters/expected")
	assert.ElementsMatch(t, []string{"Kustomization", "kustomization.yml", "marked.yaml"}, res.Paths())
	for _, f := range res.Files {
		assert.Equal(t, string(want[f.Path].Data), string(f.New), f.Path)
	}
	assert.Equal(t, []string{`otherns.yaml: setter "other-namespace:policy" names no known policy`}, res.Skipped)
}

func TestSetPoliciesGolden(t *testing.T) {
	res, err := SetPolicies{Path: ".", Policies: map[string]ImageRef{
		"flux-system:web":     {Name: "ghcr.io/acme/web", Tag: "1.2.0"},
		"flux-system:numeric": {Name: "x", Tag: "1.10"},
	}}.Apply(context.Background(), tree(t, "setters"))
	require.NoError(t, err)
	require.Equal(t, []string{"deploy.yaml"}, res.Paths(), "untouched.yaml has no marker")
	golden(t, "setters/golden/deploy.yaml", res.Files[0].New)
	golden(t, "setters/golden/deploy.diff", []byte(res.Diff()))
	assert.Equal(t, []string{`deploy.yaml: setter "flux-system:missing" names no known policy`}, res.Skipped)
}

func TestSetPoliciesRefusesBadRefs(t *testing.T) {
	for _, ref := range []ImageRef{{Name: "web", Tag: "1\n2"}, {Name: "web", Tag: "'x'"}, {Name: "web", Tag: "a: b"}, {Name: "we b", Tag: "1"}, {Name: "web", Tag: "1", Digest: "sha256:x y"}} {
		_, err := SetPolicies{Path: ".", Policies: map[string]ImageRef{"a:b": ref}}.Apply(context.Background(), tree(t, "setters"))
		assert.Error(t, err, "%+v", ref)
	}
}

func TestSetFieldGolden(t *testing.T) {
	fsys := tree(t, "setfield")
	for name, e := range map[string]SetField{
		"image-tag":     {File: "values.yaml", Path: "image.tag", Value: "1.2.0"},
		"sidecar-tag":   {File: "values.yaml", Path: "sidecars.0.image.tag", Value: "v1.31.0"},
		"replica-count": {File: "values.yaml", Path: "replicaCount", Value: "3"},
		"repository":    {File: "values.yaml", Path: "image.repository", Value: "registry.example/web"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := e.Apply(context.Background(), fsys)
			require.NoError(t, err)
			require.Len(t, res.Files, 1)
			golden(t, "setfield/golden/"+name+".yaml", res.Files[0].New)
		})
	}
	for name, e := range map[string]SetField{
		"missing key":   {File: "values.yaml", Path: "image.digest", Value: "x"},
		"missing index": {File: "values.yaml", Path: "sidecars.3.image", Value: "x"},
		"a mapping":     {File: "values.yaml", Path: "image", Value: "x"},
		"no file":       {File: "nope.yaml", Path: "image.tag", Value: "x"},
		"escaping path": {File: "../values.yaml", Path: "image.tag", Value: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Apply(context.Background(), fsys)
			assert.Error(t, err)
		})
	}
}

func TestDirWrite(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("image:\n  tag: '1' # c\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("x: 1\n"), 0o644))
	d, err := OpenDir(dir)
	require.NoError(t, err)
	defer d.Close()
	res, err := SetField{File: "values.yaml", Path: "image.tag", Value: "2"}.Apply(context.Background(), d)
	require.NoError(t, err)
	require.NoError(t, res.Write(d))
	got, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "image:\n  tag: '2' # c\n", string(got))
	st, err := os.Stat(filepath.Join(dir, "values.yaml"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "evil.yaml")))
	_, err = SetField{File: "evil.yaml", Path: "a", Value: "x"}.Apply(context.Background(), d)
	assert.Error(t, err, "a symlink out of the root is not followed")
}

// TestDiffAppliesWithGitApply: git apply, the oracle, takes every diff a
// change shows and makes the new content from the old, at the end of a
// file too, with and without a final newline.
func TestDiffAppliesWithGitApply(t *testing.T) {
	for name, c := range map[string]struct{ old, new string }{
		"last line":             {"a\nb\nc\n", "a\nb\nC\n"},
		"last line, no newline": {"a\nb\nc", "a\nb\nC"},
		"newline added":         {"a\nb\nc", "a\nb\nc\n"},
		"newline removed":       {"a\nb\nc\n", "a\nb\nc"},
		"middle of a long file": {strings.Repeat("x\n", 20) + "tag: 1\n" + strings.Repeat("y\n", 20), strings.Repeat("x\n", 20) + "tag: 2\n" + strings.Repeat("y\n", 20)},
		"line appended":         {"a\n", "a\nb\n"},
		"from empty":            {"", "a\n"},
		"only line, no newline": {"a", "b"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "k.yaml"), []byte(c.old), 0o644))
			diff := FileChange{Path: "k.yaml", Old: []byte(c.old), New: []byte(c.new)}.Diff()
			require.NotEmpty(t, diff)
			patch := filepath.Join(t.TempDir(), "p.diff")
			require.NoError(t, os.WriteFile(patch, []byte(diff), 0o644))
			cmd := exec.Command("git", "apply", "--unidiff-zero", patch)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "git apply:\n%s\n%s", out, diff)
			got, err := os.ReadFile(filepath.Join(dir, "k.yaml"))
			require.NoError(t, err)
			assert.Equal(t, c.new, string(got), diff)
		})
	}
}
