package operator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source/git"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func TestUnit(t *testing.T) {
	no := false
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
			},
		},
		"everything": {
			reason: "each field of the spec reaches the unit",
			mutate: func(a *v1alpha1.Application) {
				a.Spec.Source.TargetRevision = "v1.4.2"
				a.Spec.Destination.Namespace = "shop"
				a.Spec.SyncPolicy = v1alpha1.SyncPolicy{Automated: &no, Prune: true, SelfHeal: true}
				a.Spec.DependsOn = []string{"db", "cache"}
				a.Spec.Suspend = true
				a.Spec.Interval = &metav1.Duration{Duration: 30 * time.Second}
				a.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
			},
			check: func(t *testing.T, u reconcile.Unit) {
				assert.Equal(t, git.Reference{Tag: "v1.4.2"}, u.Source.Ref)
				assert.Equal(t, "shop", u.Destination.Namespace)
				assert.Equal(t, reconcile.Sync{Manual: true, Prune: true, SelfHeal: true}, u.Sync)
				assert.Equal(t, []reconcile.Ref{{Name: "db", Namespace: "platform"}, {Name: "cache", Namespace: "platform"}}, u.DependsOn)
				assert.True(t, u.Suspend)
				assert.Equal(t, 30*time.Second, u.Interval)
				assert.Equal(t, 2*time.Minute, u.Timeout)
			},
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
			u, err := Unit(app, time.Minute)
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
