package check_test

import (
	"context"
	"fmt"
	"os"
	"testing/fstest"
	"time"

	"github.com/converge-dev/converge/check"
)

func ExampleRun() {
	repo := fstest.MapFS{
		"apps/web/overlays/prod/kustomization.yaml": {Data: []byte("resources: [../../base]\nimages:\n  - name: web\n    newTag: latest\n")},
		"apps/web/base/secret.yaml":                 {Data: []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData:\n  password: hunter2\n")},
		".github/workflows/deploy.yml":              {Data: []byte("steps:\n  - run: kubectl apply -k apps/web/overlays/prod\n")},
	}
	t := check.NewTarget(repo, "3f2a9c1", check.DefaultLimits())
	rep, err := check.Run(context.Background(), t, check.RepositoryRules(check.DefaultRepositoryOptions()), check.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = rep.WriteText(os.Stdout)
	fmt.Println("fails on high:", rep.Fails(check.SeverityHigh))
	// Output:
	// converge check at 3f2a9c1
	//
	//  50  No plain-text secrets committed to any Git repository
	//      critical apps/web/base/secret.yaml:5:3: Secret/shop/db holds 1 key in plaintext (password): it is not SOPS-encrypted, sealed or external [secret-plaintext]
	//  75  Image tags are immutable (semver, SHA, or build ID, never latest)
	//      high     apps/web/overlays/prod/kustomization.yaml:4:13: kustomization sets image web to the tag latest [image-latest]
	//  75  No push-based deploys alongside GitOps
	//      high     .github/workflows/deploy.yml:2:10: the GitHub Actions workflow runs `kubectl apply` against a cluster: a push-based deploy beside GitOps [ci-push-deploy]
	// 100  Auto-sync enabled with self-heal and prune for all environments
	// 100  RBAC configured: AppProjects (ArgoCD) or namespaced Kustomizations (Flux)
	// 100  Reconciliation interval of 1-5 minutes
	// 100  Health checks configured for all synced applications
	// 100  Notifications configured for sync failures and degraded health
	// 100  Directory-per-environment structure with Kustomize overlays or Helm values
	//      info     directory per environment: apps/web/overlays/{prod} [layout-environments]
	//  75  Environment promotion workflow defined (PR-based or automated)
	//      high     apps/web/overlays/prod: prod has no environment before it in apps/web/overlays (dev → test → staging → prod): changes go to it untested [layout-promotion-path]
	// 100  All application manifests stored in a Git repository (and readable)
	//
	// 5 findings from 21 rules
	// fails on high: true
}

// UnitRules check a host's own units as the Argo CD and Flux rules check
// their manifests: the host describes each unit's settings.
func ExampleUnitRules() {
	units := []check.Unit{
		{Name: "web", Namespace: "shop", Prune: true, SelfHeal: true, Health: true, Interval: time.Minute, Notified: true, Restricted: true},
		{Name: "api", Namespace: "shop", Prune: true, SelfHeal: true, Health: true, Interval: time.Hour, Restricted: true},
	}
	rep, err := check.Run(context.Background(), check.NewTarget(fstest.MapFS{}, "", check.DefaultLimits()),
		check.UnitRules(units, 5*time.Minute), check.DefaultOptions())
	if err != nil {
		panic(err)
	}
	for _, f := range rep.Findings() {
		fmt.Printf("%s %s: %s\n", f.Severity, f.Rule, f.Message)
	}
	// Output:
	// low unit-interval-too-long: unit shop/api reconciles every 1h0m0s, over the 5m0s limit: drift persists that long
	// medium unit-no-notifications: unit shop/api has no notification target: a failed sync goes unnoticed
}
