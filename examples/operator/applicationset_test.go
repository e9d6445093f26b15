package operator

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientretry "k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// crdOnce installs the ApplicationSet CRD once for the plane tests.
var crdOnce struct {
	once sync.Once
	err  error
}

// startApplicationSets starts an ApplicationSet controller for one test,
// on a manager of its own (run.go does not start it yet) that expands
// again every second and stops with the test.
func startApplicationSets(t *testing.T) (*fixture, client.Client) {
	t.Helper()
	f := newFixture(t)
	crdOnce.once.Do(func() { crdOnce.err = InstallApplicationSetCRD(context.Background(), f.env.Config) })
	require.NoError(t, crdOnce.err, "install the ApplicationSet CRD")
	scheme, err := Scheme()
	require.NoError(t, err)
	require.NoError(t, v1alpha1.AddApplicationSetToScheme(scheme))
	mgr, err := ctrl.NewManager(f.env.Config, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{f.ns: {}}},
	})
	require.NoError(t, err)
	r := &ApplicationSetReconciler{Interval: time.Second, RetryInterval: 500 * time.Millisecond,
		Clusters: &Clusters{Reader: mgr.GetClient(), Namespace: f.ns}}
	require.NoError(t, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "the manager stops cleanly")
	})
	c, err := client.New(f.env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	return f, c
}

// appSetSpec is a template of suspended Applications of the fixture's
// repository, so the Application controller applies nothing.
func (f *fixture) appSet(c client.Client, name string, goTemplate bool, nameTmpl, pathTmpl string, labels map[string]string, gens ...v1alpha1.ApplicationSetGenerator) *v1alpha1.ApplicationSet {
	f.t.Helper()
	spec, err := json.Marshal(map[string]any{
		"source":  map[string]any{"repoURL": f.repo.URL, "targetRevision": "main", "path": pathTmpl},
		"suspend": true,
	})
	require.NoError(f.t, err)
	set := &v1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: v1alpha1.ApplicationSetSpec{
			GoTemplate: goTemplate,
			Generators: gens,
			Template: v1alpha1.ApplicationSetTemplate{
				Metadata: v1alpha1.ApplicationSetTemplateMeta{Name: nameTmpl, Labels: labels},
				Spec:     runtime.RawExtension{Raw: spec},
			},
		},
	}
	require.NoError(f.t, c.Create(ctxT(f.t), set))
	return set
}

func elements(t *testing.T, es ...map[string]any) []apiextensionsv1.JSON {
	var out []apiextensionsv1.JSON
	for _, e := range es {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		out = append(out, apiextensionsv1.JSON{Raw: b})
	}
	return out
}

// generated waits until the ApplicationSet's Applications are exactly
// want (sorted names), and returns them.
func (f *fixture) generated(c client.Client, set string, want ...string) map[string]v1alpha1.Application {
	f.t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(waitFor)
	for {
		var list v1alpha1.ApplicationList
		require.NoError(f.t, c.List(ctxT(f.t), &list, client.InNamespace(f.ns), client.MatchingLabels{LabelApplicationSet: set}))
		got := map[string]v1alpha1.Application{}
		var names []string
		for _, a := range list.Items {
			got[a.Name] = a
			names = append(names, a.Name)
		}
		sort.Strings(names)
		if assert.ObjectsAreEqual(want, names) || (len(want) == 0 && len(names) == 0) {
			return got
		}
		if time.Now().After(deadline) {
			var s v1alpha1.ApplicationSet
			_ = c.Get(ctxT(f.t), client.ObjectKey{Namespace: f.ns, Name: set}, &s)
			f.t.Fatalf("ApplicationSet %s: Applications %v, want %v within %s; status %+v", set, names, want, waitFor, s.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// updateSet changes an ApplicationSet, again on a conflict with the
// controller's status writes.
func updateSet(t *testing.T, c client.Client, set *v1alpha1.ApplicationSet, mutate func(*v1alpha1.ApplicationSet)) {
	t.Helper()
	require.NoError(t, clientretry.RetryOnConflict(clientretry.DefaultRetry, func() error {
		if err := c.Get(ctxT(t), client.ObjectKeyFromObject(set), set); err != nil {
			return err
		}
		mutate(set)
		return c.Update(ctxT(t), set)
	}))
}

func TestApplicationSetList(t *testing.T) {
	f, c := startApplicationSets(t)
	set := f.appSet(c, "envs", false, "api-{{env}}", "apps/api/{{env}}", map[string]string{"team": "{{team}}"}, v1alpha1.ApplicationSetGenerator{List: &v1alpha1.ListGenerator{
		Elements: elements(t, map[string]any{"env": "dev", "team": "a"}, map[string]any{"env": "staging", "team": "a"}, map[string]any{"env": "prod", "team": "b"}),
	}})
	apps := f.generated(c, "envs", "api-dev", "api-prod", "api-staging")
	prod := apps["api-prod"]
	assert.Equal(t, "apps/api/prod", prod.Spec.Source.Path)
	assert.Equal(t, "b", prod.Labels["team"])
	assert.True(t, metav1.IsControlledBy(&prod, set), "owned by the ApplicationSet")

	var s v1alpha1.ApplicationSet
	require.Eventually(t, func() bool {
		require.NoError(t, c.Get(ctxT(t), client.ObjectKeyFromObject(set), &s))
		return meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionReady) && s.Status.ApplicationCount == 3
	}, waitFor, 200*time.Millisecond)
	assert.Equal(t, []string{"api-dev", "api-staging", "api-prod"}, s.Status.Applications)

	// The default policy (create-update) updates, and never deletes.
	updateSet(t, c, set, func(s *v1alpha1.ApplicationSet) {
		s.Spec.Generators[0].List.Elements = elements(t, map[string]any{"env": "dev", "team": "c"})
	})
	require.Eventually(t, func() bool {
		var a v1alpha1.Application
		require.NoError(t, c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "api-dev"}, &a))
		return a.Labels["team"] == "c"
	}, waitFor, 200*time.Millisecond, "the Application follows the template")
	time.Sleep(2 * time.Second) // two expansions
	f.generated(c, "envs", "api-dev", "api-prod", "api-staging")
}

func TestApplicationSetPrunesWhenThePolicySays(t *testing.T) {
	f, c := startApplicationSets(t)
	set := f.appSet(c, "pruned", false, "web-{{env}}", "apps/web", map[string]string{"team": "{{team}}"}, v1alpha1.ApplicationSetGenerator{List: &v1alpha1.ListGenerator{
		Elements: elements(t, map[string]any{"env": "dev", "team": "a"}, map[string]any{"env": "prod", "team": "a"}),
	}})
	f.generated(c, "pruned", "web-dev", "web-prod")
	updateSet(t, c, set, func(s *v1alpha1.ApplicationSet) {
		s.Spec.SyncPolicy.ApplicationsSync = v1alpha1.PolicySync
		s.Spec.Generators[0].List.Elements = elements(t, map[string]any{"env": "dev", "team": "a"})
	})
	f.generated(c, "pruned", "web-dev")
}

func TestApplicationSetGitDirectories(t *testing.T) {
	f, c := startApplicationSets(t)
	f.repo.Commit(t, "two apps", map[string]string{
		"apps/api/kustomization.yaml": "resources: []\n",
		"apps/web/kustomization.yaml": "resources: []\n",
		"apps/old/kustomization.yaml": "resources: []\n",
		"README.md":                   "apps\n",
	})
	f.appSet(c, "dirs", true, "{{.path.basename}}", "{{.path.path}}", nil, v1alpha1.ApplicationSetGenerator{Git: &v1alpha1.GitGenerator{
		RepoURL: f.repo.URL, Revision: "main",
		Directories: []v1alpha1.GitPathItem{{Path: "apps/*"}, {Path: "apps/old", Exclude: true}},
	}})
	apps := f.generated(c, "dirs", "api", "web")
	assert.Equal(t, "apps/web", apps["web"].Spec.Source.Path)

	// A push with a new directory gives one more Application.
	f.repo.Commit(t, "a third app", map[string]string{"apps/jobs/kustomization.yaml": "resources: []\n"})
	f.generated(c, "dirs", "api", "jobs", "web")
}

func TestApplicationSetMatrix(t *testing.T) {
	f, c := startApplicationSets(t)
	f.repo.Commit(t, "envs", map[string]string{
		"envs/dev/config.json":  `{"cluster": {"name": "dev-1"}}`,
		"envs/prod/config.yaml": "cluster:\n  name: prod-1\n",
	})
	f.appSet(c, "matrix", false, "{{team}}-{{path.basename}}-{{cluster.name}}", "{{path}}", map[string]string{"team": "{{team}}"}, v1alpha1.ApplicationSetGenerator{Matrix: &v1alpha1.MatrixGenerator{
		Generators: []v1alpha1.ApplicationSetBaseGenerator{
			{List: &v1alpha1.ListGenerator{Elements: elements(t, map[string]any{"team": "a", "dir": "envs"}, map[string]any{"team": "b", "dir": "envs"})}},
			{Git: &v1alpha1.GitGenerator{RepoURL: f.repo.URL, Files: []v1alpha1.GitPathItem{{Path: "{{dir}}/*/config.*"}}}},
		},
	}})
	apps := f.generated(c, "matrix", "a-dev-dev-1", "a-prod-prod-1", "b-dev-dev-1", "b-prod-prod-1")
	assert.Equal(t, "envs/prod", apps["b-prod-prod-1"].Spec.Source.Path)
}

func TestApplicationSetInvalid(t *testing.T) {
	f, c := startApplicationSets(t)
	set := f.appSet(c, "missing", true, "{{.nope}}", "x", nil, v1alpha1.ApplicationSetGenerator{List: &v1alpha1.ListGenerator{
		Elements: elements(t, map[string]any{"env": "dev"}),
	}})
	updateSet(t, c, set, func(s *v1alpha1.ApplicationSet) { s.Spec.GoTemplateOptions = []string{"missingkey=error"} })
	var s v1alpha1.ApplicationSet
	require.Eventually(t, func() bool {
		require.NoError(t, c.Get(ctxT(t), client.ObjectKeyFromObject(set), &s))
		cond := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Reason == ReasonGenerateFailed && s.Status.ObservedGeneration == s.Generation
	}, waitFor, 200*time.Millisecond)
	assert.Contains(t, meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady).Message, `map has no entry for key "nope"`)
	f.generated(c, "missing")
}

// The cluster generator lists the operator's own cluster and the
// registry's, selected by their Secrets' labels.
func TestApplicationSetClusters(t *testing.T) {
	f, c := startApplicationSets(t)
	for _, cl := range []struct{ name, server, env string }{{"eu-1", "https://eu-1.example:6443", "prod"}, {"lab", "https://lab.example:6443", "dev"}} {
		require.NoError(t, c.Create(ctxT(t), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + cl.name, Namespace: f.ns, Labels: map[string]string{ArgoCDSecretTypeLabel: "cluster", "env": cl.env}},
			StringData: map[string]string{"name": cl.name, "server": cl.server, "config": `{"bearerToken": "s3cr3t", "tlsClientConfig": {"insecure": true}}`},
		}))
	}
	f.appSet(c, "all", false, "api-{{nameNormalized}}", "apps/api", map[string]string{"cluster": "{{nameNormalized}}"}, v1alpha1.ApplicationSetGenerator{Clusters: &v1alpha1.ClusterGenerator{}})
	f.generated(c, "all", "api-eu-1", "api-in-cluster", "api-lab")
	f.appSet(c, "prod", false, "web-{{name}}", "apps/{{metadata.labels.env}}", nil, v1alpha1.ApplicationSetGenerator{Clusters: &v1alpha1.ClusterGenerator{
		Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}},
	}})
	apps := f.generated(c, "prod", "web-eu-1")
	assert.Equal(t, "apps/prod", apps["web-eu-1"].Spec.Source.Path)
}

// A rendered spec is read strictly and errors name fields, not values.
func TestApplicationOf(t *testing.T) {
	set := &v1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}}
	cases := map[string]struct {
		spec map[string]any
		want string
	}{
		"unknown field": {
			spec: map[string]any{"source": map[string]any{"repoURL": "https://x", "paht": "a"}},
			want: `a: invalid spec: spec.template.spec is no Application spec: json: unknown field "paht"`,
		},
		"wrong type": {
			spec: map[string]any{"source": map[string]any{"repoURL": "https://x"}, "suspend": "hunter2"},
			want: "a: invalid spec: spec.template.spec is no Application spec: suspend must be bool, not a string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := applicationOf(set, map[string]any{"metadata": map[string]any{"name": "a"}, "spec": tc.spec})
			require.ErrorIs(t, err, errInvalidSpec)
			assert.EqualError(t, err, tc.want)
		})
	}
	app, err := applicationOf(set, map[string]any{"metadata": map[string]any{"name": "a", "labels": map[string]any{"x": "y"}}, "spec": map[string]any{"source": map[string]any{"repoURL": "https://x"}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x": "y", LabelApplicationSet: "s"}, app.Labels)
	assert.Equal(t, "https://x", app.Spec.Source.RepoURL)
}
