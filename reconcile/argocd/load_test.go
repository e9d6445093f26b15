package argocd_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/argocd"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source/git"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func load(t *testing.T, file string, opts argocd.Options) *argocd.Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	res, err := argocd.Load(f, opts)
	require.NoError(t, err)
	for _, u := range res.Units {
		require.NoError(t, u.Validate(), u.Ref().String())
	}
	return res
}

// TestGolden loads every testdata file, the manifests of
// gitops-patterns.md unchanged among them, and compares the whole Result
// with its golden file (zero values left out, so that a field added to
// reconcile.Unit does not change the goldens).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			res := load(t, filepath.Base(file), argocd.Options{})
			got := compactJSON(t, res)
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to write it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// compactJSON is v as indented JSON without null, false, 0, "" and empty
// values.
func compactJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var x any
	require.NoError(t, json.Unmarshal(b, &x))
	out, err := json.MarshalIndent(prune(x), "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x = prune(x); x == nil {
				delete(v, k)
			} else {
				v[k] = x
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		if len(v) == 0 {
			return nil
		}
		for i := range v {
			v[i] = prune(v[i])
		}
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	}
	return v
}

// The Application of gitops-patterns.md, field by field.
func TestApplicationOfThePatterns(t *testing.T) {
	res := load(t, "application.yaml", argocd.Options{})
	require.Len(t, res.Units, 1)
	u := res.Units[0]
	assert.Equal(t, reconcile.Ref{Name: "backend-prod", Namespace: "argocd"}, u.Ref())
	assert.Equal(t, "https://github.com/myorg/gitops-deploy.git", u.Source.URL)
	assert.Equal(t, git.Reference{Branch: "main"}, u.Source.Ref)
	assert.Equal(t, "apps/backend/overlays/prod", u.Path)
	assert.Equal(t, reconcile.RenderKustomize, u.Render.Kind)
	assert.Equal(t, []render.Image{{Name: "backend", NewName: "ghcr.io/myorg/backend", NewTag: "v1.2.3"}}, u.Render.Options.Images)
	assert.Equal(t, reconcile.Destination{Namespace: "backend"}, u.Destination)
	assert.Equal(t, reconcile.Sync{Prune: true, SelfHeal: true, CreateNamespace: true, PropagationPolicy: metav1.DeletePropagationForeground}, u.Sync)
	assert.Equal(t, reconcile.Retry{Limit: 3, Backoff: 5 * time.Second, Factor: 2, MaxBackoff: 3 * time.Minute}, u.Retry)
	require.Len(t, u.Ignore, 1)
	assert.Equal(t, "apps", u.Ignore[0].Group)
	assert.Equal(t, "Deployment", u.Ignore[0].Kind)
	assert.Equal(t, []string{"/spec/replicas"}, u.Ignore[0].JSONPointers)
	assert.Nil(t, u.Restrictions, "project production is not in the input")

	c, ok := res.Cascade(u.Ref())
	assert.True(t, ok)
	assert.Equal(t, metav1.DeletePropagationForeground, c.Propagation)
	assert.ElementsMatch(t, []string{"spec.syncPolicy.syncOptions[2]", "spec.project"}, warningPaths(res.Warnings))
}

// The ApplicationSet of gitops-patterns.md: string parameters in boolean
// fields become booleans.
func TestApplicationSetOfThePatterns(t *testing.T) {
	res := load(t, "applicationset.yaml", argocd.Options{})
	require.Len(t, res.Units, 3)
	for i, want := range []struct {
		name, cluster, path string
		auto                bool
	}{
		{"backend-dev", "https://dev-cluster.example.com", "apps/backend/overlays/dev", true},
		{"backend-staging", "https://staging-cluster.example.com", "apps/backend/overlays/staging", true},
		{"backend-prod", "https://prod-cluster.example.com", "apps/backend/overlays/prod", false},
	} {
		u := res.Units[i]
		assert.Equal(t, want.name, u.Name)
		assert.Equal(t, "argocd", u.Namespace)
		assert.Equal(t, want.cluster, u.Destination.Cluster)
		assert.Equal(t, "backend", u.Destination.Namespace)
		assert.Equal(t, want.path, u.Path)
		assert.Equal(t, want.auto, u.Sync.Prune, want.name)
		assert.Equal(t, want.auto, u.Sync.SelfHeal, want.name)
		assert.False(t, u.Sync.Manual, "automated is set, with or without prune")
	}
	assert.Empty(t, res.Cascades)
	// The Applications Argo CD's ApplicationSet controller would create:
	// the template as substituted, in the ApplicationSet's namespace.
	require.Len(t, res.Generated, 3)
	for i, g := range res.Generated {
		assert.Equal(t, reconcile.Ref{Namespace: "argocd", Name: "backend"}, g.Set)
		assert.Equal(t, res.Units[i].Name, g.Application.GetName())
		assert.Equal(t, "argocd", g.Application.GetNamespace())
		assert.Equal(t, "Application", g.Application.GetKind())
		path, _, _ := unstructured.NestedString(g.Application.Object, "spec", "source", "path")
		assert.Equal(t, res.Units[i].Path, path)
	}
	prune, _, _ := unstructured.NestedFieldNoCopy(res.Generated[2].Application.Object, "spec", "syncPolicy", "automated", "prune")
	assert.Equal(t, false, prune, "a boolean field substituted as text holds the boolean, as Argo CD's schema wants")
	assert.Contains(t, warningPaths(res.Warnings), "spec.template.spec.syncPolicy.automated.prune")
	assert.Contains(t, warningPaths(res.Warnings), "spec.generators[0].list.elements[2].autoSync")
}

func TestProjects(t *testing.T) {
	res := load(t, "project.yaml", argocd.Options{})
	require.Len(t, res.Units, 5)
	prod := res.Units[0]
	require.NotNil(t, prod.Restrictions)
	assert.Equal(t, &reconcile.Restrictions{
		Project:                   "shop",
		SourceRepos:               []string{"git@github.com:myorg/shop-*"},
		Destinations:              []reconcile.DestinationPattern{{Cluster: "prod-eu", Namespace: "shop"}, {Cluster: "https://kubernetes.default.svc", Namespace: "shop-*"}},
		ClusterResources:          []reconcile.GroupKindPattern{{Kind: "Namespace"}},
		NamespacedResourcesDenied: []reconcile.GroupKindPattern{{Kind: "ResourceQuota"}},
	}, prod.Restrictions)
	assert.Equal(t, git.Reference{Tag: "v1.4.2"}, prod.Source.Ref, "a version is a tag")
	assert.Equal(t, "prod-eu", prod.Destination.Cluster)
	assert.Equal(t, int64(7), prod.Generation)
	assert.Equal(t, map[string]any{"replicaCount": int64(3), "image": map[string]any{"tag": "1.4.2"}}, prod.Render.Helm.Values)
	assert.Equal(t, []reconcile.HelmParameter{{Name: "ingress.enabled", Value: "true"}, {Name: "podAnnotations.version", Value: "1.4", ForceString: true}}, prod.Render.Helm.Parameters)
	assert.Equal(t, reconcile.Retry{Backoff: 10 * time.Second, Factor: 3, MaxBackoff: 10 * time.Minute}, prod.Retry)
	assert.True(t, prod.Sync.Recreate)
	assert.Equal(t, []string{".spec.template.spec.containers[name=\"shop\"].image", `.metadata.annotations["example.com/checksum"]`}, prod.Ignore[0].Paths)
	assert.Equal(t, []string{"kube-controller-manager"}, prod.Ignore[0].Managers)
	c, ok := res.Cascade(prod.Ref())
	assert.True(t, ok)
	assert.Equal(t, metav1.DeletePropagationBackground, c.Propagation)

	docs := res.Units[1]
	assert.Equal(t, git.Reference{Branch: "release-1.x"}, docs.Source.Ref)
	assert.True(t, docs.Render.Recurse)
	assert.Equal(t, []string{"*", "!*/", "!*.yaml", "!/base/**", "*-test.yaml"}, docs.Render.Options.Ignore)

	values := res.Units[2]
	assert.Equal(t, git.Reference{Commit: "8f1c2a4b9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"}, values.Source.Ref)
	assert.Equal(t, []string{"../../environments/prod/values.yaml"}, values.Render.Helm.ValuesFiles)
	assert.Nil(t, values.Restrictions, "the default project")

	eu := res.Units[3]
	assert.Equal(t, "shop-eu", eu.Name)
	assert.Equal(t, git.Reference{SemVer: ">=1.4.0 <2.0.0"}, eu.Source.Ref)
	assert.Equal(t, "overlays/eu", eu.Path)
	assert.Equal(t, "eu-", eu.Render.Options.NamePrefix)
	assert.Equal(t, []render.Image{
		{Name: "shop", NewTag: "eu-stable"},
		{Name: "api", NewName: "ghcr.io/myorg/api", Digest: "sha256:0f3b6c2d8a1e4f5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"},
	}, eu.Render.Options.Images)
	assert.Equal(t, "- op: replace\n  path: /spec/replicas\n  value: 3", eu.Render.Options.Patches[0].Patch)
	assert.Equal(t, "", eu.Destination.Cluster, "in-cluster")
	assert.True(t, res.Units[4].Sync.SelfHeal)
	assert.Contains(t, res.Units[4].Render.Options.Patches[0].Patch, "value: 5")
}

func TestOptions(t *testing.T) {
	in := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: app}
spec:
  project: team
  source: {repoURL: "https://github.com/a/b", path: x}
  destination: {server: "https://kubernetes.default.svc", namespace: x}
`
	res, err := argocd.Load(strings.NewReader(in), argocd.Options{Namespace: "gitops", DefaultBranch: "trunk"})
	require.NoError(t, err)
	assert.Equal(t, "gitops", res.Units[0].Namespace)
	assert.Equal(t, git.Reference{Branch: "trunk"}, res.Units[0].Source.Ref)

	_, err = argocd.Load(strings.NewReader(in), argocd.Options{RequireProjects: true})
	require.ErrorIs(t, err, argocd.ErrMissing)
	assert.ErrorContains(t, err, `spec.project: project "team" has no AppProject in the input`)

	withRev := strings.Replace(in, "path: x", "path: x, targetRevision: stable", 1)
	res, err = argocd.Load(strings.NewReader(withRev), argocd.Options{ResolveRevision: func(repo string, c []git.Reference) (git.Reference, error) {
		assert.Equal(t, "https://github.com/a/b", repo)
		assert.Equal(t, []git.Reference{{Branch: "stable"}, {Tag: "stable"}}, c)
		return c[1], nil
	}})
	require.NoError(t, err)
	assert.Equal(t, git.Reference{Tag: "stable"}, res.Units[0].Source.Ref)
}

// The argocd-vault-plugin plugins load as units that resolve references,
// rendered by the kind the plugin's name says.
func TestVaultPlugin(t *testing.T) {
	for name, want := range map[string]reconcile.RenderKind{
		"argocd-vault-plugin":           "",
		"argocd-vault-plugin-kustomize": reconcile.RenderKustomize,
		"argocd-vault-plugin-helm":      reconcile.RenderHelm,
	} {
		t.Run(name, func(t *testing.T) {
			in := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: app}
spec:
  project: default
  source:
    repoURL: https://github.com/a/b
    path: x
    plugin: {name: ` + name + `}
  destination: {server: "https://kubernetes.default.svc", namespace: x}
`
			res, err := argocd.Load(strings.NewReader(in), argocd.DefaultOptions())
			require.NoError(t, err)
			require.Len(t, res.Units, 1)
			assert.True(t, res.Units[0].Render.ResolveReferences)
			assert.Equal(t, want, res.Units[0].Render.Kind)
		})
	}
}

func warningPaths(ws []argocd.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path)
	}
	return out
}

// Ignore rules from jq expressions parse as converge paths.
func TestIgnoreRulesValidate(t *testing.T) {
	res := load(t, "project.yaml", argocd.Options{})
	for _, u := range res.Units {
		assert.NoError(t, diff.ValidateIgnoreRules(u.Ignore))
	}
}

func TestDecodeError(t *testing.T) {
	in := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n---\nkind: [\n"
	_, err := argocd.Load(bytes.NewReader([]byte(in)), argocd.Options{Decode: argocd.DefaultOptions().Decode})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "document 2")
}
