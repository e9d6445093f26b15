package operator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source/git"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func TestUnit(t *testing.T) {
	no, three := false, int32(3)
	base := func() *v1alpha1.Application {
		return &v1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "platform", Generation: 3},
			Spec:       v1alpha1.ApplicationSpec{Source: v1alpha1.Source{RepoURL: "https://git.example/deploy.git", Path: "apps/shop/"}},
		}
	}
	cases := map[string]struct {
		reason string
		mutate func(*v1alpha1.Application)
		check  func(*testing.T, reconcile.Unit)
		err    string
	}{
		"defaults": {
			reason: "an Application that says little is automated, prunes nothing, goes to its own namespace on branch main at the default interval",
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Equal(t, reconcile.Ref{Name: "shop", Namespace: "platform"}, u.Ref())
				assert.Equal(t, int64(3), u.Generation)
				assert.Equal(t, "apps/shop", u.Path)
				assert.Equal(t, git.Reference{Branch: "main"}, u.Source.Ref)
				assert.Equal(t, "platform", u.Destination.Namespace)
				assert.False(t, u.Sync.Manual)
				assert.False(t, u.Sync.Prune)
				assert.Equal(t, time.Minute, u.Interval)
				assert.Zero(t, u.Timeout)
				assert.Equal(t, reconcile.RenderAuto, u.Render.Kind)
				assert.Equal(t, reconcile.Retry{Backoff: 10 * time.Second, Factor: 2, MaxBackoff: time.Minute}, u.Retry,
					"the operator's retry interval, doubling up to the interval, forever")
				assert.Equal(t, reconcile.Health{}, u.Health)
				assert.Empty(t, u.Ignore)
			},
		},
		"everything": {
			reason: "each field of the spec reaches the unit",
			mutate: func(a *v1alpha1.Application) {
				a.Spec.Source.TargetRevision = "v1.4.2"
				a.Spec.Destination.Namespace = "shop"
				a.Spec.SyncPolicy = v1alpha1.SyncPolicy{Automated: &no, Prune: true, SelfHeal: true, AllowEmpty: true}
				a.Spec.SyncOptions = v1alpha1.SyncOptions{CreateNamespace: true, PrunePropagationPolicy: "foreground", Recreate: true, Conflicts: "Report", AllowShared: true}
				a.Spec.Render.Kind = v1alpha1.RenderKustomize
				a.Spec.Destination.Cluster = "in-cluster"
				a.Spec.Retry = &v1alpha1.Retry{Limit: 3, Backoff: &v1alpha1.Backoff{
					Duration: &metav1.Duration{Duration: 5 * time.Second}, Factor: &three, MaxDuration: &metav1.Duration{Duration: 3 * time.Minute}}}
				a.Spec.IgnoreDifferences = []v1alpha1.IgnoreDifference{{Group: "apps", Kind: "Deployment", Name: "web-*",
					JSONPointers: []string{"/spec/replicas"}, Paths: []string{".spec.template.spec.containers[name=app].image"}, ManagedFieldsManagers: []string{"kube-controller-manager"}}}
				a.Spec.HealthChecks = []v1alpha1.HealthCheck{{APIVersion: "apps/v1", Kind: "Deployment", Name: "db"}, {APIVersion: "v1", Kind: "Namespace", Name: "shop"}}
				a.Spec.Wait = true
				a.Spec.DependsOn = []string{"db", "cache"}
				a.Spec.Suspend = true
				a.Spec.Interval = &metav1.Duration{Duration: 30 * time.Second}
				a.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
			},
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Equal(t, git.Reference{Tag: "v1.4.2"}, u.Source.Ref)
				assert.Equal(t, "shop", u.Destination.Namespace)
				assert.Equal(t, reconcile.Sync{Manual: true, Prune: true, SelfHeal: true, AllowEmpty: true, CreateNamespace: true,
					PropagationPolicy: metav1.DeletePropagationForeground, Recreate: true, Conflicts: apply.ReportConflicts, Sharing: apply.AllowShared}, u.Sync)
				assert.Equal(t, reconcile.RenderKustomize, u.Render.Kind)
				assert.Equal(t, reconcile.Retry{Limit: 3, Backoff: 5 * time.Second, Factor: 3, MaxBackoff: 3 * time.Minute}, u.Retry)
				assert.Equal(t, []diff.IgnoreRule{{Group: "apps", Kind: "Deployment", Name: "web-*", JSONPointers: []string{"/spec/replicas"},
					Paths: []string{".spec.template.spec.containers[name=app].image"}, Managers: []string{"kube-controller-manager"}, Reason: "spec.ignoreDifferences"}}, u.Ignore)
				assert.Equal(t, reconcile.Health{Wait: true, Checks: []object.ID{
					{Group: "apps", Kind: "Deployment", Name: "db"}, {Kind: "Namespace", Name: "shop"}}}, u.Health)
				assert.Equal(t, []reconcile.Ref{{Name: "db", Namespace: "platform"}, {Name: "cache", Namespace: "platform"}}, u.DependsOn)
				assert.True(t, u.Suspend)
				assert.Equal(t, 30*time.Second, u.Interval)
				assert.Equal(t, 2*time.Minute, u.Timeout)
			},
		},
		"ref": {
			reason: "Flux's ref fields name the revision as targetRevision does",
			mutate: func(a *v1alpha1.Application) {
				a.Spec.Source.Ref = &v1alpha1.GitRef{Branch: "release", Commit: "0123456789abcdef0123456789abcdef01234567"}
			},
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Equal(t, git.Reference{Branch: "release", Commit: "0123456789abcdef0123456789abcdef01234567"}, u.Source.Ref)
			},
		},
		"ref and targetRevision": {
			reason: "two revisions are refused, not one picked",
			mutate: func(a *v1alpha1.Application) {
				a.Spec.Source.TargetRevision = "main"
				a.Spec.Source.Ref = &v1alpha1.GitRef{Tag: "v1"}
			},
			err: "spec.source: set targetRevision or ref, not both",
		},
		"empty ref": {
			reason: "a ref that names nothing is not branch main by accident",
			mutate: func(a *v1alpha1.Application) { a.Spec.Source.Ref = &v1alpha1.GitRef{} },
			err:    "spec.source.ref: names no revision",
		},
		"ref of two kinds": {
			reason: "the SDK's reference rules hold",
			mutate: func(a *v1alpha1.Application) { a.Spec.Source.Ref = &v1alpha1.GitRef{Tag: "v1", SemVer: ">=1"} },
			err:    "spec.source.ref",
		},
		"another cluster": {
			reason: "another cluster reaches the unit as named, for the registry to resolve when the pass runs",
			mutate: func(a *v1alpha1.Application) { a.Spec.Destination.Cluster = "prod-eu" },
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Equal(t, "prod-eu", u.Destination.Cluster)
			},
		},
		"own cluster by Argo CD's URL": {
			reason: "the operator's own cluster, named as Argo CD names it, is the unit's own cluster, not one to resolve",
			mutate: func(a *v1alpha1.Application) { a.Spec.Destination.Cluster = "https://kubernetes.default.svc" },
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Empty(t, u.Destination.Cluster)
			},
		},
		"bad render kind": {
			reason: "a kind the CRD's enum would refuse is refused here too (an old CRD, a client that skips validation)",
			mutate: func(a *v1alpha1.Application) { a.Spec.Render.Kind = "Jsonnet" },
			err:    "spec.render.kind",
		},
		"bad propagation policy": {
			mutate: func(a *v1alpha1.Application) { a.Spec.SyncOptions.PrunePropagationPolicy = "later" },
			err:    "spec.syncOptions: prunePropagationPolicy",
		},
		"bad health check": {
			mutate: func(a *v1alpha1.Application) {
				a.Spec.HealthChecks = []v1alpha1.HealthCheck{{APIVersion: "a/b/c", Kind: "X", Name: "x"}}
			},
			err: "spec.healthChecks[0].apiVersion",
		},
		"bad ignore path": {
			reason: "ignore rules are compiled before any pass",
			mutate: func(a *v1alpha1.Application) {
				a.Spec.IgnoreDifferences = []v1alpha1.IgnoreDifference{{Kind: "Deployment", Paths: []string{"spec[["}}}
			},
			err: "ignore",
		},
		"bad revision": {
			reason: "a revision a remote cannot resolve is refused before any fetch, naming the field",
			mutate: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "HEAD~1" },
			err:    "spec.source.targetRevision",
		},
		"self dependency": {
			reason: "the SDK's own validation runs too",
			mutate: func(a *v1alpha1.Application) { a.Spec.DependsOn = []string{"shop"} },
			err:    "depends on itself",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			app := base()
			if tc.mutate != nil {
				tc.mutate(app)
			}
			u, err := Unit(app, time.Minute, 10*time.Second)
			if tc.err != "" {
				require.ErrorIs(t, err, reconcile.ErrInvalidUnit, tc.reason)
				assert.ErrorContains(t, err, tc.err, tc.reason)
				return
			}
			require.NoError(t, err, tc.reason)
			tc.check(t, u)
		})
	}
}

func TestReference(t *testing.T) {
	cases := map[string]git.Reference{
		"":                  {Branch: "main"},
		"HEAD":              {Branch: "main"},
		"release/1.x":       {Branch: "release/1.x"},
		"v1.2.3":            {Tag: "v1.2.3"},
		"1.2.3":             {Tag: "1.2.3"},
		">=1.4.0 <2.0.0":    {SemVer: ">=1.4.0 <2.0.0"},
		"~1.4":              {SemVer: "~1.4"},
		"refs/heads/feat-x": {Name: "refs/heads/feat-x"},
		"0123456789abcdef0123456789abcdef01234567": {Commit: "0123456789abcdef0123456789abcdef01234567"},
	}
	for rev, want := range cases {
		t.Run(rev, func(t *testing.T) {
			got, err := Reference(rev)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	for _, bad := range []string{"HEAD~1", "abc1234", "v1..2"} {
		_, err := Reference(bad)
		assert.Error(t, err, bad)
	}
}

func TestRetryAfter(t *testing.T) {
	cases := map[string]struct {
		retry reconcile.Retry
		n     int
		want  time.Duration
	}{
		"first":                {reconcile.Retry{Backoff: time.Second, Factor: 2, MaxBackoff: time.Minute}, 1, time.Second},
		"third":                {reconcile.Retry{Backoff: time.Second, Factor: 2, MaxBackoff: time.Minute}, 3, 4 * time.Second},
		"capped":               {reconcile.Retry{Backoff: time.Second, Factor: 2, MaxBackoff: time.Minute}, 30, time.Minute},
		"factor one":           {reconcile.Retry{Backoff: 5 * time.Second, Factor: 1}, 1 << 30, 5 * time.Second},
		"no overflow":          {reconcile.Retry{Backoff: time.Hour, Factor: 1000}, 1 << 30, 24 * time.Hour},
		"no backoff":           {reconcile.Retry{}, 1, time.Second},
		"zero failures so far": {reconcile.Retry{Backoff: time.Second, Factor: 2}, 0, time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, RetryAfter(tc.retry, tc.n))
		})
	}
}
