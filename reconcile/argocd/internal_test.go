package argocd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source/git"
)

func TestJQPath(t *testing.T) {
	tests := map[string]string{
		".spec.replicas": ".spec.replicas",
		`.spec.template.spec.containers[] | select(.name == "api") | .image`: `.spec.template.spec.containers[name="api"].image`,
		`.spec.template.spec.initContainers[] | select(.name == "injected")`: `.spec.template.spec.initContainers[name="injected"]`,
		`.metadata.annotations."x"`:                       `.metadata.annotations.x`,
		`.metadata.annotations["example.com/checksum"]`:   `.metadata.annotations["example.com/checksum"]`,
		`.webhooks[]?.clientConfig.caBundle`:              `.webhooks[*].clientConfig.caBundle`,
		`.spec.containers[0].image`:                       `.spec.containers[0].image`,
		`.spec.ports[] | select(.port == 80) | .nodePort`: `.spec.ports[port="80"].nodePort`,
		`.spec.ports[] | select("tcp" == .name)`:          `.spec.ports[name="tcp"]`,
		`.data.".dockerconfigjson"`:                       `.data[".dockerconfigjson"]`,
		`.spec.env[] | select(.name == "a|b") | .value`:   `.spec.env[name="a|b"].value`,
	}
	for in, want := range tests {
		got, err := jqPath(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
			assert.NoError(t, diff.ValidateIgnoreRules([]diff.IgnoreRule{{Paths: []string{got}}}), in)
		}
	}
	for _, bad := range []string{
		"", ".", "spec", "..", ".a | del(.b)", `.a[] | select(.name | startswith("x"))`,
		`select(.a == "b")`, `.a | select(.name == "x")`, `.a[] | select(.x.y == "z")`,
		`.a[] | select(.name != "x")`, `.a[-1]`, `.a["x`, `.a[] | select(.n == null)`, ".a[]  | .b | (", ".a.b-c",
	} {
		_, err := jqPath(bad)
		assert.ErrorIs(t, err, errJQ, bad)
	}
}

func TestGlobPatterns(t *testing.T) {
	tests := map[string][]string{
		"config.json":              {"/config.json"},
		"*.yaml":                   {"*.yaml"},
		"*":                        {"*"},
		"env-usw2/*":               {"/env-usw2/**"},
		"prod/*.yaml":              {"/prod/**/*.yaml"},
		"{config.json,env-usw2/*}": {"/config.json", "/env-usw2/**"},
	}
	for in, want := range tests {
		got, err := globPatterns(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		_, err = render.NewIgnore(got)
		assert.NoError(t, err, in)
	}
	for _, bad := range []string{"**/*.yaml", "a*.yaml", "[ab].yaml", "a?.yaml", "{a,{b,c}}", "x/*/y", "!a", "/abs", "a/*/*"} {
		_, err := globPatterns(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseImage(t *testing.T) {
	tests := map[string]render.Image{
		"backend=ghcr.io/myorg/backend:v1.2.3": {Name: "backend", NewName: "ghcr.io/myorg/backend", NewTag: "v1.2.3"},
		"nginx:1.27":                           {Name: "nginx", NewTag: "1.27"},
		"nginx@sha256:abc":                     {Name: "nginx", Digest: "sha256:abc"},
		"nginx=registry:5000/nginx":            {Name: "nginx", NewName: "registry:5000/nginx"},
		"nginx=nginx:1.27@sha256:abc":          {Name: "nginx", NewName: "nginx", NewTag: "1.27", Digest: "sha256:abc"},
		"registry:5000/app:v1":                 {Name: "registry:5000/app", NewTag: "v1"},
	}
	for in, want := range tests {
		got, err := parseImage(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"nginx", "", "=x"} {
		_, err := parseImage(bad)
		assert.Error(t, err, bad)
	}
}

func TestDecodeValues(t *testing.T) {
	v, err := decodeValues("a: 1\nb:\n  - x\n  - |\n    multi\n    line\nc: {d: e}\n", DefaultOptions().Decode)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": int64(1), "b": []any{"x", "multi\nline\n"}, "c": map[string]any{"d": "e"}}, v)
	v, err = decodeValues("# only a comment\n", DefaultOptions().Decode)
	require.NoError(t, err)
	assert.Nil(t, v)
	for _, bad := range []string{"a: 1\n---\nb: 2", "[1, 2]", "a: [", "%YAML 1.2\n---\na: 1"} {
		_, err := decodeValues(bad, DefaultOptions().Decode)
		assert.Error(t, err, bad)
	}
}

func TestRevision(t *testing.T) {
	l := &loader{}
	tests := map[string]git.Reference{
		"main":              {Branch: "main"},
		"release/1.x":       {Branch: "release/1.x"},
		"release-1.4":       {Branch: "release-1.4"},
		"v1.4.2":            {Tag: "v1.4.2"},
		"1.4.2-rc.1":        {Tag: "1.4.2-rc.1"},
		"v1":                {Branch: "v1"},
		"1.x":               {SemVer: "1.x"},
		"~1.4":              {SemVer: "~1.4"},
		"^1.2.0":            {SemVer: "^1.2.0"},
		">=1.0.0 <2.0.0":    {SemVer: ">=1.0.0 <2.0.0"},
		"*":                 {SemVer: "*"},
		"refs/pull/42/head": {Name: "refs/pull/42/head"},
		"8F1C2A4B9D0E7F6A5B4C3D2E1F0A9B8C7D6E5F4A": {Commit: "8f1c2a4b9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"},
	}
	for rev, want := range tests {
		d := manifest.NewDoc("Application test/x")
		got := l.revision(d, "spec.source.targetRevision", "https://example.com/r.git", rev)
		assert.Empty(t, d.Errors(), rev)
		assert.Equal(t, want, got, rev)
	}
	for _, rev := range []string{"HEAD~1", "8f1c2a4", "main@{1}", "a..b", "-x"} {
		d := manifest.NewDoc("Application test/x")
		l.revision(d, "spec.source.targetRevision", "https://example.com/r.git", rev)
		assert.NotEmpty(t, d.Errors(), rev)
	}
	d := manifest.NewDoc("Application test/x")
	assert.Equal(t, git.Reference{}, l.revision(d, "p", "r", "HEAD"))
	require.Len(t, d.Warnings(), 1)
	assert.Contains(t, d.Warnings()[0].Message, `fetches branch "main"`)
}
