package operator

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// TestMetricsShareARegistry: two operators in one process share the
// collectors of one registry, each counts its own Applications in the
// health gauge and takes them out when released; a collector of another
// shape under a converge name is refused by name.
func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := NewMetrics(reg, nil)
	require.NoError(t, err)
	m2, err := NewMetrics(reg, nil)
	require.NoError(t, err, "the second finds the first's collectors")
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}

	m1.setHealth(a, "Healthy")
	m2.setHealth(b, "Healthy")
	m1.setHealth(a, "Healthy") // unchanged: counted once
	assert.Equal(t, 2.0, value(t, m1.apps.WithLabelValues("Healthy")))
	m1.setHealth(a, "Degraded")
	assert.Equal(t, 1.0, value(t, m1.apps.WithLabelValues("Healthy")))
	assert.Equal(t, 1.0, value(t, m1.apps.WithLabelValues("Degraded")))
	m2.setHealth(types.NamespacedName{Namespace: "ns", Name: "new"}, "")
	assert.Equal(t, 1.0, value(t, m2.apps.WithLabelValues("Unknown")), "no health yet is Unknown")

	m1.Release()
	assert.Equal(t, 0.0, value(t, m1.apps.WithLabelValues("Degraded")), "released")
	assert.Equal(t, 1.0, value(t, m1.apps.WithLabelValues("Healthy")), "the other operator's Application stays")
	m2.forget(b)
	assert.Equal(t, 0.0, value(t, m2.apps.WithLabelValues("Healthy")))

	var none *Metrics // records nothing, and does not panic
	none.setHealth(a, "Healthy")
	none.endPass(none.startPass(reconcile.Ref{Name: "a"}), &v1alpha1.Application{}, &v1alpha1.ApplicationStatus{}, &reconcile.Status{}, nil)
	none.Release()

	clash := prometheus.NewRegistry()
	require.NoError(t, clash.Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: "converge_drift_objects_total", Help: "not ours"})))
	_, err = NewMetrics(clash, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "converge_drift_objects_total")
	_, err = NewMetrics(nil, nil)
	assert.Error(t, err)
}

// TestEndPass: what one pass adds to the counters and the histograms.
func TestEndPass(t *testing.T) {
	rev := "main@sha1:" + strings.Repeat("a", 40)
	result := func(dryRun bool, actions ...apply.Action) *apply.Result {
		r := &apply.Result{DryRun: dryRun, Duration: 300 * time.Millisecond}
		for i, a := range actions {
			r.Objects = append(r.Objects, apply.ObjectResult{ID: object.ID{Kind: "ConfigMap", Name: fmt.Sprint(i)}, Action: a})
		}
		return r
	}
	type want struct {
		created, configured, unchanged, drift float64
		apply, health                         uint64
	}
	cases := map[string]struct {
		before     v1alpha1.ApplicationStatus
		generation int64
		status     reconcile.Status
		err        error
		want       want
		reason     string
	}{
		"first pass": {
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Created, apply.Created)},
			want:       want{created: 2, apply: 1, health: 1},
			reason:     "what a first pass creates is not drift",
		},
		"someone changed an object": {
			before:     v1alpha1.ApplicationStatus{ObservedGeneration: 1, LastAppliedRevision: rev},
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Configured, apply.Unchanged)},
			want:       want{configured: 1, unchanged: 1, drift: 1, apply: 1, health: 1},
			reason:     "neither the revision nor the spec asked for the change",
		},
		"someone deleted an object": {
			before:     v1alpha1.ApplicationStatus{ObservedGeneration: 1, LastAppliedRevision: rev},
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Created)},
			want:       want{created: 1, drift: 1, apply: 1, health: 1},
		},
		"a new revision": {
			before:     v1alpha1.ApplicationStatus{ObservedGeneration: 1, LastAppliedRevision: "main@sha1:" + strings.Repeat("b", 40)},
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Configured)},
			want:       want{configured: 1, apply: 1, health: 1},
			reason:     "Git asked for it",
		},
		"a new spec": {
			before:     v1alpha1.ApplicationStatus{ObservedGeneration: 1, LastAppliedRevision: rev},
			generation: 2,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Configured)},
			want:       want{configured: 1, apply: 1, health: 1},
			reason:     "the spec asked for it",
		},
		"a manual Application's plan": {
			before:     v1alpha1.ApplicationStatus{ObservedGeneration: 1, LastAppliedRevision: rev},
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(true, apply.Configured)},
			want:       want{drift: 1, apply: 1, health: 1},
			reason:     "a plan applies nothing, but finds the drift",
		},
		"failed at apply": {
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Created, apply.Failed)},
			err:        &reconcile.StageError{Stage: reconcile.StageApply, Err: fmt.Errorf("refused")},
			want:       want{created: 1, apply: 1},
			reason:     "no health phase after a failed apply",
		},
		"failed at health": {
			generation: 1,
			status:     reconcile.Status{Revision: rev, Result: result(false, apply.Created)},
			err:        &reconcile.StageError{Stage: reconcile.StageHealth, Err: fmt.Errorf("not healthy")},
			want:       want{created: 1, apply: 1, health: 1},
			reason:     "the wait for health ran",
		},
		"suspended": {
			generation: 1,
			status:     reconcile.Status{},
			err:        reconcile.ErrSuspended,
			reason:     "nothing ran",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := NewMetrics(prometheus.NewRegistry(), nil)
			require.NoError(t, err)
			app := &v1alpha1.Application{}
			app.Name, app.Namespace, app.Generation = "a", "ns", tc.generation
			ref := reconcile.Ref{Name: "a", Namespace: "ns"}
			mark := m.startPass(ref)
			m.phase(ref, PhaseFetch, 100*time.Millisecond)
			tc.status.Started = time.Now()
			tc.status.Finished = tc.status.Started.Add(time.Second)
			m.endPass(mark, app, &tc.before, &tc.status, tc.err)

			got := want{
				created:    value(t, m.objects.WithLabelValues("created")),
				configured: value(t, m.objects.WithLabelValues("configured")),
				unchanged:  value(t, m.objects.WithLabelValues("unchanged")),
				drift:      value(t, m.drift),
				apply:      histogramCount(t, m.duration, PhaseApply),
				health:     histogramCount(t, m.duration, PhaseHealth),
			}
			assert.Equal(t, tc.want, got, tc.reason)
			if tc.want.health == 1 {
				// 1s in all, 100ms fetching, 300ms applying: the rest.
				assert.InDelta(t, 0.6, histogramSum(t, m.duration, PhaseHealth), 1e-9)
			}
		})
	}
}

// value reads a counter or a gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func histogramCount(t *testing.T, h *prometheus.HistogramVec, phase string) uint64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.WithLabelValues(phase).(prometheus.Histogram).Write(&m))
	return m.GetHistogram().GetSampleCount()
}

func histogramSum(t *testing.T, h *prometheus.HistogramVec, phase string) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, h.WithLabelValues(phase).(prometheus.Histogram).Write(&m))
	return m.GetHistogram().GetSampleSum()
}

// scrape reads the manager's /metrics over HTTP, as Prometheus does, into
// samples keyed by `name{label="value",...}` (labels sorted); a
// histogram gives name_count, name_sum and name_bucket{le=...}.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, "http://"+addr+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "the endpoint serves Prometheus' text format")
	out := map[string]float64{}
	key := func(name string, labels []*dto.LabelPair, extra ...string) string {
		var ls []string
		for _, l := range labels {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		ls = append(ls, extra...)
		sort.Strings(ls)
		if len(ls) == 0 {
			return name
		}
		return name + "{" + strings.Join(ls, ",") + "}"
	}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			switch {
			case m.Counter != nil:
				out[key(name, m.GetLabel())] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key(name, m.GetLabel())] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				out[key(name+"_count", m.GetLabel())] = float64(h.GetSampleCount())
				out[key(name+"_sum", m.GetLabel())] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key(name+"_bucket", m.GetLabel(), fmt.Sprintf("le=%q", fmt.Sprint(b.GetUpperBound())))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// TestMetricsEndpoint: after an Application is applied, corrected after
// someone changed it, and passed over unchanged, the manager's /metrics
// (a real HTTP server on a loopback port) has converge's series with
// the values those passes make: time in each phase, the objects by
// action, the drift, the API requests of each pass (none for the
// unchanged one) and the Application under its health.
//
// Other tests' operators in this process add to the same registry, so
// the checks are on what grew, and from below.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	iso := startIsolated(t, func(o *Options) { o.DefaultInterval = testInterval })
	f := iso.fixture(t)
	before := scrape(t, iso.metrics)

	head := f.repo.Commit(t, "two maps", map[string]string{
		"app/a.yaml": configMapYAML("a", map[string]string{"k": "a"}),
		"app/b.yaml": configMapYAML("b", map[string]string{"k": "b"}),
	})
	f.application("m", "app")
	f.eventually("m", "ready", readyAt(head))

	// Someone changes a field converge owns; a later pass puts it back.
	var cm corev1.ConfigMap
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: f.ns, Name: "a"}, &cm))
	cm.Data["k"] = "edited by hand"
	require.NoError(t, f.c.Update(ctxT(t), &cm))

	grew := func(after map[string]float64, key string) float64 { return after[key] - before[key] }
	var after map[string]float64
	deadline := time.Now().Add(waitFor)
	for {
		after = scrape(t, iso.metrics)
		// The correcting pass, then a pass with nothing to do.
		if grew(after, "converge_drift_objects_total") >= 1 && grew(after, `converge_reconcile_api_requests_bucket{le="0"}`) >= 1 &&
			grew(after, `converge_applied_objects_total{action="unchanged"}`) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			break // the assertions below say what is missing
		}
		time.Sleep(500 * time.Millisecond)
	}
	assert.Equal(t, map[string]string{"k": "a"}, f.configMap("a"), "the drift was corrected")

	for _, phase := range []string{PhaseFetch, PhaseApply, PhaseHealth} {
		k := fmt.Sprintf(`converge_reconcile_duration_seconds_count{phase=%q}`, phase)
		assert.GreaterOrEqual(t, grew(after, k), 3.0, "%s: a first, a correcting and an idle pass", k)
	}
	assert.GreaterOrEqual(t, grew(after, `converge_reconcile_duration_seconds_count{phase="render"}`), 1.0, "rendered once; later passes reuse it")
	assert.Greater(t, grew(after, `converge_reconcile_duration_seconds_sum{phase="fetch"}`), 0.0, "a fetch takes time")
	assert.Less(t, grew(after, `converge_reconcile_duration_seconds_sum{phase="fetch"}`)/grew(after, `converge_reconcile_duration_seconds_count{phase="fetch"}`), 10.0,
		"a fetch of a local server takes well under 10s")

	assert.GreaterOrEqual(t, grew(after, `converge_applied_objects_total{action="created"}`), 2.0)
	assert.GreaterOrEqual(t, grew(after, `converge_applied_objects_total{action="configured"}`), 1.0, "the correction")
	assert.GreaterOrEqual(t, grew(after, `converge_applied_objects_total{action="unchanged"}`), 3.0)
	assert.GreaterOrEqual(t, grew(after, "converge_drift_objects_total"), 1.0)

	assert.GreaterOrEqual(t, grew(after, "converge_reconcile_api_requests_count"), 3.0)
	assert.GreaterOrEqual(t, grew(after, "converge_reconcile_api_requests_sum"), 2.0, "the first pass wrote two objects")
	assert.GreaterOrEqual(t, grew(after, `converge_reconcile_api_requests_bucket{le="0"}`), 1.0, "an unchanged pass sends no request")

	assert.GreaterOrEqual(t, after[`converge_applications{health="Healthy"}`], 1.0)
	assert.Greater(t, after[`controller_runtime_reconcile_total{controller="application",result="requeue_after"}`], 0.0,
		"controller-runtime's own metrics are there too (each pass asks to run again at the interval)")
}
