package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// TestTheAPIServerRestartedUnderTheOperator: the operator rides out its
// API server going away: nothing it applied is pruned, and once the
// server is back the commit pushed in between is applied.
func TestTheAPIServerRestartedUnderTheOperator(t *testing.T) {
	iso := startIsolated(t, func(o *Options) { o.DefaultInterval = time.Second })
	f := iso.fixture(t)
	first := f.repo.Commit(t, "two maps", map[string]string{
		"app/kept.yaml":  configMapYAML("kept", map[string]string{"rev": "1"}),
		"app/other.yaml": configMapYAML("other", map[string]string{"k": "v"}),
	})
	f.application("survivor", "app", prune)
	f.eventually("survivor", "ready", readyAt(first))

	require.NoError(t, iso.env.StopAPIServer())
	second := f.repo.Commit(t, "rev 2 while the API server is down", map[string]string{
		"app/kept.yaml": configMapYAML("kept", map[string]string{"rev": "2"}),
	})
	time.Sleep(3 * time.Second) // passes at the 1s interval meet no API server
	require.NoError(t, iso.env.StartAPIServer())

	f.eventually("survivor", "ready at the commit pushed while the API server was down", readyAt(second))
	assert.Equal(t, map[string]string{"rev": "2"}, f.configMap("kept"))
	assert.Equal(t, map[string]string{"k": "v"}, f.configMap("other"), "nothing was pruned")
}

// TestRequireProject: with Options.RequireProject an Application that
// names no Project is Stalled and applies nothing; naming one (that
// allows it) applies it.
func TestRequireProject(t *testing.T) {
	iso := startIsolated(t, func(o *Options) { o.RequireProject = true; o.DefaultInterval = time.Second })
	f := iso.fixture(t)
	head := f.repo.Commit(t, "a map", map[string]string{"app/cm.yaml": configMapYAML("tenant-config", map[string]string{"k": "v"})})
	f.application("unbound", "app")
	app := f.eventually("unbound", "stalled", func(a *v1alpha1.Application) bool {
		return condition(a, v1alpha1.ConditionStalled).Status == "True"
	})
	assert.Contains(t, condition(app, v1alpha1.ConditionReady).Message, "spec.project: this operator requires every Application to name a Project")
	assert.Nil(t, f.configMap("tenant-config"), "nothing applied")

	require.NoError(t, f.c.Create(ctxT(t), &v1alpha1.Project{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "team"},
		Spec: v1alpha1.ProjectSpec{
			SourceRepos:  []string{strings.TrimSuffix(f.repo.URL, "deploy.git") + "*"},
			Destinations: []v1alpha1.ProjectDestination{{Namespace: f.ns}},
		},
	}))
	app = f.get("unbound")
	app.Spec.Project = "team"
	require.NoError(t, f.c.Update(ctxT(t), app))
	f.eventually("unbound", "ready once it names a Project", readyAt(head))
	assert.NotNil(t, f.configMap("tenant-config"))
}
