package flux_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/flux"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source/git"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// resolve stands for a host that knows the GitRepositories of its cluster.
func resolve(namespace, name string) (reconcile.Source, error) {
	if namespace == "flux-system" && name == "gitops-deploy" {
		return reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git", Ref: git.Reference{Branch: "main"}, SecretRef: "gitops-deploy-auth"}, nil
	}
	return reconcile.Source{}, errors.New("no such GitRepository")
}

func load(t *testing.T, file string, opts flux.Options) *flux.Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	require.NoError(t, err)
	defer f.Close()
	res, err := flux.Load(f, opts)
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
			res := load(t, filepath.Base(file), flux.Options{ResolveSource: resolve})
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

// The GitRepository, Kustomization and ImagePolicy of gitops-patterns.md,
// field by field.
func TestKustomizationOfThePatterns(t *testing.T) {
	res := load(t, "kustomization.yaml", flux.Options{})
	require.Len(t, res.Units, 1)
	u := res.Units[0]
	assert.Equal(t, reconcile.Ref{Name: "backend-prod", Namespace: "flux-system"}, u.Ref())
	assert.Equal(t, reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git", Ref: git.Reference{Branch: "main"}, SecretRef: "gitops-deploy-auth"}, u.Source)
	assert.Equal(t, "apps/backend/overlays/prod", u.Path)
	assert.True(t, u.Render.Recurse)
	assert.Equal(t, time.Minute, u.Interval, "the GitRepository's 1m is more frequent than the Kustomization's 5m")
	assert.Equal(t, reconcile.Retry{Backoff: 2 * time.Minute, Factor: 1}, u.Retry)
	assert.Equal(t, 5*time.Minute, u.Timeout)
	assert.True(t, u.Sync.Prune)
	assert.False(t, u.Sync.Manual)
	assert.Equal(t, "backend", u.Destination.TargetNamespace)
	assert.Equal(t, []object.ID{{Group: "apps", Kind: "Deployment", Namespace: "backend", Name: "backend"}}, u.Health.Checks)
	assert.Equal(t, []reconcile.Ref{{Name: "infrastructure"}}, u.DependsOn)
	assert.Equal(t, []reconcile.SubstituteFrom{{Kind: "ConfigMap", Name: "cluster-config"}}, u.Substitute.From)
	_, cascade := res.Cascade(u.Ref())
	assert.True(t, cascade, "prune with the default deletionPolicy")

	assert.Equal(t, []object.ID{{Group: "image.toolkit.fluxcd.io", Kind: "ImagePolicy", Namespace: "flux-system", Name: "backend"}}, res.Skipped)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0].Message, "promote package")
}

// The SOPS Kustomization of gitops-patterns.md names a GitRepository the
// file does not hold: the host resolves it.
func TestSOPSOfThePatterns(t *testing.T) {
	f, err := os.Open("testdata/sops.yaml")
	require.NoError(t, err)
	defer f.Close()
	_, err = flux.Load(f, flux.Options{})
	require.ErrorIs(t, err, flux.ErrMissing)
	assert.ErrorContains(t, err, "Kustomization flux-system/backend-prod: spec.sourceRef: GitRepository flux-system/gitops-deploy is not in the input")

	res := load(t, "sops.yaml", flux.Options{ResolveSource: resolve})
	require.Len(t, res.Units, 1)
	u := res.Units[0]
	assert.Equal(t, "https://github.com/myorg/gitops-deploy.git", u.Source.URL)
	assert.Equal(t, &reconcile.Decryption{Provider: "sops", SecretRef: "sops-age-key"}, u.Decryption)
	assert.Equal(t, 5*time.Minute, u.Interval)
	assert.Equal(t, reconcile.Retry{Backoff: 5 * time.Minute, Factor: 1}, u.Retry, "retryInterval defaults to interval")
	assert.Equal(t, 5*time.Minute, u.Timeout, "timeout defaults to interval")
}

func TestTenants(t *testing.T) {
	res := load(t, "tenants.yaml", flux.Options{})
	require.Len(t, res.Units, 2)
	prod, canary := res.Units[0], res.Units[1]
	assert.Equal(t, git.Reference{SemVer: ">=1.4.0 <2.0.0"}, prod.Source.Ref)
	assert.Equal(t, []string{"/*", "!/deploy/"}, prod.Source.Ignore)
	assert.True(t, prod.Source.Submodules)
	assert.Equal(t, "shop-ssh", prod.Source.SecretRef)
	assert.Equal(t, int64(3), prod.Generation)
	assert.Equal(t, 5*time.Minute, prod.Interval)
	assert.True(t, prod.Health.Wait)
	assert.True(t, prod.Sync.Recreate)
	assert.Equal(t, "shop-deployer", prod.Destination.ServiceAccount)
	assert.Equal(t, "prod-", prod.Render.Options.NamePrefix)
	assert.Equal(t, map[string]string{"team": "shop"}, prod.Render.Options.CommonLabels)
	assert.Equal(t, []render.Image{{Name: "shop", NewName: "ghcr.io/myorg/shop", NewTag: "1.4.2"}}, prod.Render.Options.Images)
	assert.Equal(t, &render.Selector{Kind: "Deployment", Name: "shop"}, prod.Render.Options.Patches[0].Target)
	assert.Equal(t, []string{"../components/monitoring"}, prod.Render.Options.Components)
	assert.Equal(t, []reconcile.Ref{{Name: "infrastructure", Namespace: "flux-system"}}, prod.DependsOn)
	assert.Equal(t, map[string]string{"cluster_region": "eu-west-1"}, prod.Substitute.Vars)
	assert.Equal(t, []reconcile.SubstituteFrom{{Kind: "Secret", Name: "shop-vars", Optional: true}}, prod.Substitute.From)
	_, cascade := res.Cascade(prod.Ref())
	assert.False(t, cascade, "deletionPolicy Orphan")

	require.Len(t, res.HealthRules, 1)
	assert.Equal(t, prod.Ref(), res.HealthRules[0].Unit)
	assert.Equal(t, health.Rule{
		Group: "cert-manager.io", Kind: "Certificate",
		Current: `self.status.conditions.filter(e, e.type == "Ready").all(e, e.observedGeneration == self.metadata.generation && e.status == "True")`,
		Failed:  `self.status.conditions.filter(e, e.type == "Issuing").all(e, e.observedGeneration == self.metadata.generation && e.status == "False")`,
	}, res.HealthRules[0].Rules[0])

	assert.True(t, canary.Suspend)
	assert.Equal(t, reconcile.Retry{Backoff: 30 * time.Second, Factor: 1}, canary.Retry)
	assert.Equal(t, 10*time.Minute, canary.Interval, "the GitRepository's 10m beats the Kustomization's 1h")
	require.Len(t, canary.Render.Options.Patches, 2)
	assert.JSONEq(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop"},"spec":{"replicas":1}}`, canary.Render.Options.Patches[0].Patch)
	assert.JSONEq(t, `[{"op":"add","path":"/metadata/labels/track","value":"canary"}]`, canary.Render.Options.Patches[1].Patch)
	_, cascade = res.Cascade(canary.Ref())
	assert.False(t, cascade, "no prune")
}

// The health rules Load returns compile, and decide as Flux's do.
func TestHealthRulesWork(t *testing.T) {
	res := load(t, "tenants.yaml", flux.Options{})
	engine, err := health.New(health.WithRules(res.HealthRules[0].Rules...))
	require.NoError(t, err)
	cert := func(ready, issuing string) map[string]any {
		return map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": "c", "namespace": "x", "generation": int64(2)},
			"status": map[string]any{"conditions": []any{
				map[string]any{"type": "Ready", "status": ready, "observedGeneration": int64(2)},
				map[string]any{"type": "Issuing", "status": issuing, "observedGeneration": int64(2)},
			}},
		}
	}
	assert.Equal(t, health.Healthy, engine.Check(unstructuredOf(cert("True", "True"))).Status)
	assert.Equal(t, health.Progressing, engine.Check(unstructuredOf(cert("False", "True"))).Status, "neither failed nor current")
	assert.Equal(t, health.Degraded, engine.Check(unstructuredOf(cert("False", "False"))).Status, "failed")
}

func TestResolvers(t *testing.T) {
	in := `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: team}
spec:
  interval: 1m
  url: https://github.com/myorg/deploy
  ref: {tag: v1.2.0, branch: main}
  verify: {mode: Tag, secretRef: {name: keys}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: team}
spec:
  interval: 1m
  sourceRef: {kind: GitRepository, name: repo}
  kubeConfig: {secretRef: {name: prod-kubeconfig, key: value}}
`
	res, err := flux.Load(strings.NewReader(in), flux.Options{
		VerifyKeys: func(ns, name string) ([]string, error) {
			assert.Equal(t, "team", ns)
			assert.Equal(t, "keys", name)
			return []string{"-----BEGIN PGP PUBLIC KEY BLOCK-----"}, nil
		},
		KubeConfigCluster: func(ref flux.KubeConfigRef) (string, error) {
			assert.Equal(t, flux.KubeConfigRef{Namespace: "team", Secret: "prod-kubeconfig", Key: "value"}, ref)
			return "prod", nil
		},
	})
	require.NoError(t, err)
	u := res.Units[0]
	assert.Equal(t, git.Reference{Tag: "v1.2.0"}, u.Source.Ref)
	assert.Equal(t, &reconcile.Verify{Mode: git.VerifyTag, Keys: []string{"-----BEGIN PGP PUBLIC KEY BLOCK-----"}}, u.Source.Verify)
	assert.Equal(t, "prod", u.Destination.Cluster)
	assert.Equal(t, "team", u.Namespace)
	assert.Contains(t, warningPaths(res.Warnings), "spec.ref.branch", "the tag wins")
	assert.Empty(t, u.Path)
}

func warningPaths(ws []flux.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Path)
	}
	return out
}
