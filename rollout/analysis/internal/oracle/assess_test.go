package oracle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	rolloutsanalysis "github.com/argoproj/argo-rollouts/analysis"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	argofake "github.com/argoproj/argo-rollouts/pkg/client/clientset/versioned/fake"
	argoinformers "github.com/argoproj/argo-rollouts/pkg/client/informers/externalversions"
	analysisutil "github.com/argoproj/argo-rollouts/utils/analysis"
	"github.com/argoproj/argo-rollouts/utils/record"
	timeutil "github.com/argoproj/argo-rollouts/utils/time"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8sinformers "k8s.io/client-go/informers"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8srecord "k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/converge-dev/converge/rollout/analysis"
)

// The differential test of the assessment: the same metrics, answered
// with the same scripted phases, stepped with the same clock, through
// converge's Run and through Rollouts' own reconcileAnalysisRun (its
// measurements through its real web provider, against a test server);
// after every step the run's and every metric's phase, message, counters
// and kept measurements must be the same.

// metricCase is one metric of a scenario. A nil limit is unset.
type metricCase struct {
	Count                           *int32
	FailureLimit, InconclusiveLimit *int32
	ConsecutiveErrorLimit           *int32
	ConsecutiveSuccessLimit         *int32
	Interval, InitialDelay          string
	DryRun                          bool
	Retention                       int32 // a measurementRetention limit; 0 for none
	// Phases are the provider's answers in turn (Error is a failed
	// request), then Successful.
	Phases []analysis.Phase
}

// scenario is a run of one to three metrics.
type scenario struct {
	Metrics []metricCase
	// StopAt is the step at which the run is stopped (as spec.terminate);
	// -1 for never. A run still running after maxSteps is stopped then.
	StopAt int
	// Gaps are the times between steps, in turn (each plus gapOffset);
	// none is stepEvery.
	Gaps []time.Duration
}

const (
	maxSteps = 60
	// stepEvery is longer than every interval and Rollouts' 10s error
	// retry, so that a metric is due at each step.
	stepEvery = 61 * time.Second
	// gapOffset is added to each gap, so that no step is exactly at a
	// measurement's due time: converge measures at its due time, Rollouts
	// only after it (a documented strictness this test does not
	// exercise).
	gapOffset  = 3 * time.Millisecond
	errMessage = "received non 2xx response code: 500"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// choices are the values a byte of the fuzzer's input chooses from: one
// of the common ones, each valid on its own, or for a byte of 248 or
// more one of the rare ones, which Rollouts or converge refuse (alone or
// with others), so that most scenarios run.
type choices[T any] struct {
	common, rare []T
	eq           func(a, b T) bool
}

func (c choices[T]) decode(b byte) T {
	if b >= 248 && len(c.rare) > 0 {
		return c.rare[int(b)%len(c.rare)]
	}
	return c.common[int(b)%len(c.common)]
}

func (c choices[T]) encode(v T) byte {
	for i, w := range c.common {
		if c.eq(v, w) {
			return byte(i)
		}
	}
	for b := 248; b < 256; b++ {
		if c.eq(v, c.rare[b%len(c.rare)]) {
			return byte(b)
		}
	}
	panic(fmt.Sprintf("no byte for %v", v))
}

func limits(common, rare []*int32) choices[*int32] {
	return choices[*int32]{common, rare, func(a, b *int32) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }}
}

func i32(n int32) *int32 { return &n }

// The values of a scenario; a nil limit is unset.
var (
	countChoices        = limits([]*int32{nil, i32(1), i32(2), i32(3), i32(4), i32(5), i32(6), i32(10)}, []*int32{i32(0), i32(-1)})
	failureChoices      = limits([]*int32{nil, i32(0), i32(1), i32(2), i32(3), i32(5)}, []*int32{i32(-1), i32(-2)})
	inconclusiveChoices = limits([]*int32{nil, i32(0), i32(1), i32(2), i32(3)}, []*int32{i32(-1)})
	errorChoices        = limits([]*int32{nil, i32(0), i32(1), i32(2), i32(4)}, []*int32{i32(-1)})
	successChoices      = limits([]*int32{nil, i32(0), i32(1), i32(2), i32(3)}, []*int32{i32(-1)})
	intervalChoices     = choices[string]{[]string{"1m", "30s", "1m", "10s"}, []string{"", "0s"}, func(a, b string) bool { return a == b }}
	delayChoices        = choices[string]{[]string{"", "", "", "", "30s", "1m", "0s", "10s"}, nil, func(a, b string) bool { return a == b }}
	gapChoices          = choices[time.Duration]{[]time.Duration{61 * time.Second, 10 * time.Second, 25 * time.Second, 30 * time.Second, 45 * time.Second, 2 * time.Minute}, nil,
		func(a, b time.Duration) bool { return a == b }}
	phaseChoices = choices[analysis.Phase]{[]analysis.Phase{analysis.PhaseSuccessful, analysis.PhaseFailed, analysis.PhaseInconclusive, analysis.PhaseError}, nil,
		func(a, b analysis.Phase) bool { return a == b }}
)

// decodeScenario reads a scenario from the fuzzer's bytes; missing bytes
// read as zero.
func decodeScenario(data []byte) scenario {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	n := 1 + int(next()%3)
	sc := scenario{StopAt: -1}
	if b := next(); b < 128 {
		sc.StopAt = int(b) % maxSteps
	}
	for range int(next()) % 4 {
		sc.Gaps = append(sc.Gaps, gapChoices.decode(next()))
	}
	for range n {
		var m metricCase
		m.Count = countChoices.decode(next())
		m.FailureLimit = failureChoices.decode(next())
		m.InconclusiveLimit = inconclusiveChoices.decode(next())
		m.ConsecutiveErrorLimit = errorChoices.decode(next())
		m.ConsecutiveSuccessLimit = successChoices.decode(next())
		m.Interval = intervalChoices.decode(next())
		m.InitialDelay = delayChoices.decode(next())
		flags := next()
		m.DryRun = flags&0x1 != 0
		m.Retention = int32(flags>>1) % 4
		for range int(next()) % 17 {
			m.Phases = append(m.Phases, phaseChoices.decode(next()))
		}
		sc.Metrics = append(sc.Metrics, m)
	}
	return sc
}

// encodeScenario is decodeScenario's inverse, for the seed corpus.
func encodeScenario(sc scenario) []byte {
	out := []byte{byte(len(sc.Metrics) - 1), 128}
	if sc.StopAt >= 0 {
		out[1] = byte(sc.StopAt)
	}
	out = append(out, byte(len(sc.Gaps)))
	for _, g := range sc.Gaps {
		out = append(out, gapChoices.encode(g))
	}
	for _, m := range sc.Metrics {
		flags := byte(m.Retention) << 1
		if m.DryRun {
			flags |= 0x1
		}
		out = append(out, countChoices.encode(m.Count), failureChoices.encode(m.FailureLimit), inconclusiveChoices.encode(m.InconclusiveLimit),
			errorChoices.encode(m.ConsecutiveErrorLimit), successChoices.encode(m.ConsecutiveSuccessLimit), intervalChoices.encode(m.Interval),
			delayChoices.encode(m.InitialDelay), flags, byte(len(m.Phases)))
		for _, p := range m.Phases {
			out = append(out, phaseChoices.encode(p))
		}
	}
	return out
}

// gap is the time from step k to the next.
func (sc scenario) gap(k int) time.Duration {
	if len(sc.Gaps) == 0 {
		return stepEvery + gapOffset
	}
	return sc.Gaps[k%len(sc.Gaps)] + gapOffset
}

func (sc scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stopAt=%d gaps=%v", sc.StopAt, sc.Gaps)
	show := func(name string, v *int32) {
		if v != nil {
			fmt.Fprintf(&b, " %s=%d", name, *v)
		}
	}
	for i, m := range sc.Metrics {
		fmt.Fprintf(&b, "\n  m%d: interval=%q", i, m.Interval)
		if m.InitialDelay != "" {
			fmt.Fprintf(&b, " initialDelay=%q", m.InitialDelay)
		}
		show("count", m.Count)
		show("failureLimit", m.FailureLimit)
		show("inconclusiveLimit", m.InconclusiveLimit)
		show("consecutiveErrorLimit", m.ConsecutiveErrorLimit)
		show("consecutiveSuccessLimit", m.ConsecutiveSuccessLimit)
		if m.DryRun {
			b.WriteString(" dryRun")
		}
		if m.Retention > 0 {
			fmt.Fprintf(&b, " retention=%d", m.Retention)
		}
		fmt.Fprintf(&b, " phases=%v", m.Phases)
	}
	return b.String()
}

// phaseAt is a metric's k-th answer.
func (m metricCase) phaseAt(k int) analysis.Phase {
	if k < len(m.Phases) {
		return m.Phases[k]
	}
	return analysis.PhaseSuccessful
}

func intOrString(v *int32) *intstr.IntOrString {
	if v == nil {
		return nil
	}
	x := intstr.FromInt32(*v)
	return &x
}

// The conditions both sides evaluate on the provider's answer: Rollouts
// on the JSON its web provider selects, converge on the same string.
const (
	successCondition = `result == "Successful"`
	failureCondition = `result == "Failed"`
)

// scriptServer answers Rollouts' web provider: GET /m<i> is that metric's
// next phase as {"phase": "..."}, or a 500 for Error.
type scriptServer struct {
	*httptest.Server
	mu    sync.Mutex
	sc    scenario
	taken map[string]int
}

var moreIdleConns sync.Once

func newScriptServer(tb testing.TB) *scriptServer {
	// Rollouts' web provider uses http.DefaultTransport, which keeps two
	// idle connections per host: with three metrics measured at once,
	// every step would open and close connections, and a long fuzzing
	// run would run out of local ports.
	moreIdleConns.Do(func() {
		if tr, ok := http.DefaultTransport.(*http.Transport); ok {
			tr.MaxIdleConnsPerHost = 16
		}
	})
	s := &scriptServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/m%d", &i); err != nil {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		if i >= len(s.sc.Metrics) {
			s.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		phase := s.sc.Metrics[i].phaseAt(s.taken[r.URL.Path])
		s.taken[r.URL.Path]++
		s.mu.Unlock()
		if phase == analysis.PhaseError {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"phase": %q}`, phase)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *scriptServer) load(sc scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sc, s.taken = sc, map[string]int{}
}

// scriptProvider answers converge the same way.
type scriptProvider struct {
	sc    scenario
	taken map[string]int
}

func (p *scriptProvider) Measure(ctx context.Context, q analysis.Query) (analysis.Result, error) {
	var i int
	if _, err := fmt.Sscanf(q.Metric, "m%d", &i); err != nil || i >= len(p.sc.Metrics) {
		return analysis.Result{}, fmt.Errorf("no metric %q", q.Metric)
	}
	phase := p.sc.Metrics[i].phaseAt(p.taken[q.Metric])
	p.taken[q.Metric]++
	if phase == analysis.PhaseError {
		return analysis.Result{}, errors.New(errMessage)
	}
	return analysis.Result{Value: string(phase)}, nil
}

// nopRecorder drops Rollouts' events.
type nopRecorder struct{}

func (nopRecorder) Eventf(runtime.Object, record.EventOptions, string, ...any) {}
func (nopRecorder) Warnf(runtime.Object, record.EventOptions, string, ...any)  {}
func (nopRecorder) K8sRecorder() k8srecord.EventRecorder                       { return &k8srecord.FakeRecorder{} }

var quietRollouts sync.Once

// recordingQueue keeps the delay of the controller's last AddAfter: when
// Rollouts would reconcile the run next.
type recordingQueue struct {
	workqueue.RateLimitingInterface
	mu      sync.Mutex
	after   time.Duration
	enqueue bool
}

// AddAfter records the delay, and queues nothing.
func (q *recordingQueue) AddAfter(item any, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.after, q.enqueue = d, true
}

// last returns the delay of the last AddAfter since the previous call.
func (q *recordingQueue) last() (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.after, q.enqueue
	q.after, q.enqueue = 0, false
	return d, ok
}

// newRolloutsController is Rollouts' analysis controller on fake
// clientsets; it is only ever reconciled through reconcileAnalysisRun,
// never run. queue sees when it would reconcile next.
func newRolloutsController(tb testing.TB) (*rolloutsanalysis.Controller, *recordingQueue) {
	quietRollouts.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.PanicLevel)
	})
	kube := k8sfake.NewClientset()
	argo := argofake.NewSimpleClientset()
	queue := &recordingQueue{RateLimitingInterface: workqueue.NewRateLimitingQueue(workqueue.DefaultControllerRateLimiter())}
	tb.Cleanup(queue.ShutDown)
	return rolloutsanalysis.NewController(rolloutsanalysis.ControllerConfig{
		KubeClientSet:        kube,
		ArgoProjClientset:    argo,
		AnalysisRunInformer:  argoinformers.NewSharedInformerFactory(argo, 0).Argoproj().V1alpha1().AnalysisRuns(),
		JobInformer:          k8sinformers.NewSharedInformerFactory(kube, 0).Batch().V1().Jobs(),
		AnalysisRunWorkQueue: queue,
		Recorder:             nopRecorder{},
	}), queue
}

// differ runs scenarios through both.
type differ struct {
	ctrl  *rolloutsanalysis.Controller
	queue *recordingQueue
	srv   *scriptServer
}

func newDiffer(tb testing.TB) *differ {
	ctrl, queue := newRolloutsController(tb)
	return &differ{ctrl: ctrl, queue: queue, srv: newScriptServer(tb)}
}

// build makes the scenario's template for converge and AnalysisRun for
// Rollouts, whose web provider asks baseURL/m<i>.
func build(sc scenario, baseURL string) (*analysis.Template, *v1alpha1.AnalysisRun) {
	tpl := &analysis.Template{Name: "oracle"}
	ar := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "oracle", Namespace: "default"}}
	for i, m := range sc.Metrics {
		name := fmt.Sprintf("m%d", i)
		url := baseURL + "/" + name
		tpl.Metrics = append(tpl.Metrics, analysis.Metric{
			Name: name, Interval: m.Interval, InitialDelay: m.InitialDelay, Count: intOrString(m.Count),
			SuccessCondition: successCondition, FailureCondition: failureCondition,
			FailureLimit: intOrString(m.FailureLimit), InconclusiveLimit: intOrString(m.InconclusiveLimit),
			ConsecutiveErrorLimit: intOrString(m.ConsecutiveErrorLimit), ConsecutiveSuccessLimit: intOrString(m.ConsecutiveSuccessLimit),
			Provider: analysis.ProviderSpec{Kind: "web", Spec: map[string]any{"url": url, "jsonPath": "{$.phase}"}},
		})
		ar.Spec.Metrics = append(ar.Spec.Metrics, v1alpha1.Metric{
			Name: name, Interval: v1alpha1.DurationString(m.Interval), InitialDelay: v1alpha1.DurationString(m.InitialDelay), Count: intOrString(m.Count),
			SuccessCondition: successCondition, FailureCondition: failureCondition,
			FailureLimit: intOrString(m.FailureLimit), InconclusiveLimit: intOrString(m.InconclusiveLimit),
			ConsecutiveErrorLimit: intOrString(m.ConsecutiveErrorLimit), ConsecutiveSuccessLimit: intOrString(m.ConsecutiveSuccessLimit),
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: url, JSONPath: "{$.phase}"}},
		})
		if m.DryRun {
			tpl.DryRun = append(tpl.DryRun, analysis.DryRun{MetricName: "^" + name + "$"})
			ar.Spec.DryRun = append(ar.Spec.DryRun, v1alpha1.DryRun{MetricName: "^" + name + "$"})
		}
		if m.Retention > 0 {
			tpl.MeasurementRetention = append(tpl.MeasurementRetention, analysis.MeasurementRetention{MetricName: "^" + name + "$", Limit: m.Retention})
			ar.Spec.MeasurementRetention = append(ar.Spec.MeasurementRetention, v1alpha1.MeasurementRetention{MetricName: "^" + name + "$", Limit: m.Retention})
		}
	}
	return tpl, ar
}

// stricter reports the metric fields ("metrics[0].count") converge
// refuses on purpose where Rollouts accepts them: a count that is not
// positive, an interval under a second.
func (sc scenario) stricter() []string {
	var fields []string
	for i, m := range sc.Metrics {
		if m.Count != nil && *m.Count <= 0 {
			fields = append(fields, fmt.Sprintf("metrics[%d].count", i))
		}
		if m.Interval == "0s" {
			fields = append(fields, fmt.Sprintf("metrics[%d].interval", i))
		}
	}
	return fields
}

// check runs one scenario through both and fails at the first
// difference. It returns how the scenario ended: the run's phase, or
// why it did not run.
func (d *differ) check(t testing.TB, sc scenario) string {
	t.Helper()
	tpl, ar := build(sc, d.srv.URL)
	d.srv.load(sc)
	now := start
	timeutil.SetNowTimeFunc(func() time.Time { return now })
	defer timeutil.SetNowTimeFunc(time.Now)
	// reconcile returns the delay after which Rollouts would reconcile
	// again, if it asked to.
	reconcile := func(stop bool) (time.Duration, bool) {
		if stop {
			ar.Spec.Terminate = true
		}
		for i := 0; ; i++ {
			if i == 5 {
				t.Fatalf("Rollouts asks for a reconciliation at once, again and again\n%s", sc)
			}
			d.queue.last()
			ar = reconcileAnalysisRun(d.ctrl, ar)
			after, ok := d.queue.last()
			// Rollouts reconciles again at once when a metric ends the run
			// (the status update enqueues it), and when it asks to (a
			// metric's initialDelay of 0s: its first reconciliation only
			// sets startedAt). Converge's Step does both itself.
			if ar.Status.Phase.Completed() || !(analysisutil.IsTerminating(ar) || (ok && after <= 0)) {
				return after, ok
			}
		}
	}

	run, err := analysis.NewRun([]*analysis.Template{tpl}, nil, map[string]analysis.Provider{"web": &scriptProvider{sc: sc, taken: map[string]int{}}})
	if err != nil {
		ar.Spec.Terminate = sc.StopAt == 0
		ar = reconcileAnalysisRun(d.ctrl, ar) // once: with an interval of 0s it would measure in a loop
		if ar.Status.Phase == v1alpha1.AnalysisPhaseError && strings.HasPrefix(ar.Status.Message, "Analysis spec invalid") {
			return "refused by both"
		}
		var fe *analysis.FieldError
		strict := sc.stricter()
		if len(strict) == 0 || !errors.As(err, &fe) || !errors.Is(err, analysis.ErrInvalidValue) || !endsWithAny(fe.Path, strict) {
			t.Fatalf("converge refuses what Rollouts runs (%s: %s): %v\n%s", ar.Status.Phase, ar.Status.Message, err, sc)
		}
		return "refused by converge on purpose"
	}

	for step := 0; ; step++ {
		stop := step == sc.StopAt || step == maxSteps
		var next time.Time
		if stop {
			run.Stop(now)
		} else {
			next, err = run.Step(context.Background(), now)
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if run.Phase().Completed() != next.IsZero() {
				t.Fatalf("step %d: phase %s, next %v\n%s", step, run.Phase(), next, sc)
			}
			if !next.IsZero() && !next.After(now) {
				t.Fatalf("step %d at %v: next %v\n%s", step, now, next, sc)
			}
		}
		after, ok := reconcile(stop)
		if step == 0 && ar.Status.Phase == v1alpha1.AnalysisPhaseError && strings.HasPrefix(ar.Status.Message, "Analysis spec invalid") {
			t.Fatalf("Rollouts refuses (%s), converge runs it\n%s", ar.Status.Message, sc)
		}
		where := fmt.Sprintf("step %d at %s (stop %v)", step, now.Format(time.TimeOnly+".000"), stop)
		compare(t, where, sc, run.Status(), ar)
		// A completed run's next time is zero; Rollouts may still enqueue
		// one (for a metric it never started), to find it completed.
		if !stop && !run.Phase().Completed() && (!ok || !now.Add(after).Equal(next)) {
			t.Fatalf("%s: converge's next step at %v, Rollouts' in %v (enqueued %v)\nscenario: %s", where, next, after, ok, sc)
		}
		if run.Phase().Completed() {
			if stop {
				return "stopped " + string(run.Phase())
			}
			return string(run.Phase())
		}
		if stop {
			t.Fatalf("stopped, but %s\n%s", run.Phase(), sc)
		}
		now = now.Add(sc.gap(step))
	}
}

func endsWithAny(s string, suffixes []string) bool {
	for _, e := range suffixes {
		if strings.HasSuffix(s, "."+e) {
			return true
		}
	}
	return false
}

// compare fails when converge's status is not Rollouts'.
func compare(t testing.TB, where string, sc scenario, st analysis.Status, ar *v1alpha1.AnalysisRun) {
	t.Helper()
	var diffs []string
	diff := func(what string, ours, theirs any) {
		if fmt.Sprint(ours) != fmt.Sprint(theirs) {
			diffs = append(diffs, fmt.Sprintf("%s: converge %q, rollouts %q", what, fmt.Sprint(ours), fmt.Sprint(theirs)))
		}
	}
	diff("run phase", st.Phase, ar.Status.Phase)
	diff("run message", st.Message, ar.Status.Message)
	diff("startedAt", timeOf(st.StartedAt), metaTimeOf(ar.Status.StartedAt))
	diff("completedAt", timeOf(st.CompletedAt), metaTimeOf(ar.Status.CompletedAt))
	for _, m := range st.Metrics {
		res := analysisutil.GetResult(ar, m.Name)
		if res == nil {
			diff(m.Name+" (no result in Rollouts)", fmt.Sprint(m.Phase, len(m.Measurements)), fmt.Sprint(analysis.PhasePending, 0))
			continue
		}
		diff(m.Name+" phase", m.Phase, res.Phase)
		diff(m.Name+" message", m.Message, res.Message)
		diff(m.Name+" dryRun", m.DryRun, res.DryRun)
		diff(m.Name+" counters",
			[]int32{m.Count, m.Successful, m.Failed, m.Inconclusive, m.Error, m.ConsecutiveError, m.ConsecutiveSuccess},
			[]int32{res.Count, res.Successful, res.Failed, res.Inconclusive, res.Error, res.ConsecutiveError, res.ConsecutiveSuccess})
		var ours, theirs []string
		for _, ms := range m.Measurements {
			ours = append(ours, fmt.Sprintf("%s %q %q %s", ms.Phase, ms.Message, ms.Value, ms.FinishedAt.Format(time.TimeOnly)))
		}
		for _, ms := range res.Measurements {
			theirs = append(theirs, fmt.Sprintf("%s %q %q %s", ms.Phase, ms.Message, ms.Value, metaTimeOf(ms.FinishedAt)))
		}
		diff(m.Name+" measurements", ours, theirs)
	}
	if len(diffs) > 0 {
		t.Fatalf("%s:\n  %s\nscenario: %s", where, strings.Join(diffs, "\n  "), sc)
	}
}

func timeOf(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.TimeOnly)
}

func metaTimeOf(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.TimeOnly)
}

// P is a phase sequence, for the scenarios below.
func P(s string) []analysis.Phase {
	var out []analysis.Phase
	for _, c := range s {
		out = append(out, map[rune]analysis.Phase{'S': analysis.PhaseSuccessful, 'F': analysis.PhaseFailed, 'I': analysis.PhaseInconclusive, 'E': analysis.PhaseError}[c])
	}
	return out
}

// assessmentScenarios are Rollouts' assessment rules, one by one; they
// seed FuzzAssessment too.
func assessmentScenarios() map[string]scenario {
	one := func(m metricCase) scenario { return scenario{Metrics: []metricCase{m}, StopAt: -1} }
	return map[string]scenario{
		"failure limit":                       one(metricCase{Count: i32(5), Interval: "1m", FailureLimit: i32(2), Phases: P("FFF")}),
		"failures within the limit":           one(metricCase{Count: i32(5), Interval: "1m", FailureLimit: i32(2), Phases: P("FFSSS")}),
		"inconclusive limit":                  one(metricCase{Count: i32(5), Interval: "1m", InconclusiveLimit: i32(1), Phases: P("II")}),
		"default consecutive error limit":     one(metricCase{Count: i32(3), Interval: "1m", Phases: P("EEEEE")}),
		"errors between successes":            one(metricCase{Count: i32(3), Interval: "30s", ConsecutiveErrorLimit: i32(1), Phases: P("ESESS")}),
		"consecutiveErrorLimit 0":             one(metricCase{Count: i32(3), Interval: "1m", ConsecutiveErrorLimit: i32(0), Phases: P("E")}),
		"consecutiveSuccessLimit early":       one(metricCase{Count: i32(10), Interval: "1m", FailureLimit: i32(3), ConsecutiveSuccessLimit: i32(2), Phases: P("FSS")}),
		"consecutiveSuccessLimit, no failure": one(metricCase{Count: i32(6), Interval: "1m", FailureLimit: i32(-1), ConsecutiveSuccessLimit: i32(3), Phases: P("SFSFSF")}),
		"count reached, success not: Inconclusive": one(metricCase{Count: i32(4), Interval: "1m", FailureLimit: i32(1),
			ConsecutiveSuccessLimit: i32(3), Phases: P("SFSS")}),
		"one measurement":                one(metricCase{Phases: P("S")}),
		"one measurement, Error retried": one(metricCase{Phases: P("EES")}),
		"indefinite, stopped":            {Metrics: []metricCase{{Interval: "1m", Phases: P("SSS")}}, StopAt: 5},
		"indefinite, never stopped":      one(metricCase{Interval: "30s", FailureLimit: i32(3), Phases: P("SFSFSF")}),
		"stopped before measuring":       {Metrics: []metricCase{{Count: i32(3), Interval: "1m"}}, StopAt: 0},
		"retention 2":                    one(metricCase{Count: i32(6), Interval: "1m", Retention: 2, Phases: P("SESFSS")}),
		"default retention":              one(metricCase{Count: i32(10), Interval: "1m", FailureLimit: i32(5), Phases: P("SSFSSFSSSSSS")}),
		"dry-run metric fails": {Metrics: []metricCase{
			{Count: i32(3), Interval: "1m", DryRun: true, Phases: P("F")},
			{Count: i32(3), Interval: "1m", Phases: P("SSS")}}, StopAt: -1},
		"dry-run metric errors": {Metrics: []metricCase{
			{Count: i32(2), Interval: "1m", DryRun: true, ConsecutiveErrorLimit: i32(0), Phases: P("E")},
			{Count: i32(2), Interval: "1m", Phases: P("SS")}}, StopAt: -1},
		"only dry-run metrics": {Metrics: []metricCase{{Count: i32(2), Interval: "1m", DryRun: true, Phases: P("FF")}}, StopAt: -1},
		"one metric ends the others": {Metrics: []metricCase{
			{Count: i32(3), Interval: "1m", Phases: P("SF")},
			{Interval: "1m", Phases: P("SSSS")}}, StopAt: -1},
		"worst of three": {Metrics: []metricCase{
			{Count: i32(2), Interval: "1m", InconclusiveLimit: i32(0), Phases: P("SI")},
			{Count: i32(2), Interval: "1m", ConsecutiveErrorLimit: i32(1), Phases: P("SEE")},
			{Count: i32(2), Interval: "1m", Phases: P("SS")}}, StopAt: -1},
		"stopped with one metric done": {Metrics: []metricCase{
			{Count: i32(1), Phases: P("F")}, {Interval: "1m", FailureLimit: i32(2), Phases: P("S")}}, StopAt: 1},

		"initialDelay": {Metrics: []metricCase{
			{Count: i32(3), Interval: "1m", Phases: P("SSS")},
			{Count: i32(2), Interval: "30s", InitialDelay: "1m", Phases: P("SS")}}, StopAt: -1, Gaps: []time.Duration{25 * time.Second}},
		"initialDelay 0s": {Metrics: []metricCase{
			{Count: i32(2), Interval: "1m", Phases: P("SS")},
			{Count: i32(2), Interval: "1m", InitialDelay: "0s", Phases: P("SS")}}, StopAt: -1},
		// Found by FuzzAssessment: converge measured m1 in the first step,
		// which Rollouts never does (startedAt is set after measuring).
		"initialDelay 0s, another metric ends the run first": {Metrics: []metricCase{
			{Count: i32(3), Interval: "1m", Phases: P("I")},
			{Count: i32(2), Interval: "1m", InitialDelay: "0s", Phases: P("F")}}, StopAt: -1},
		"steps between measurements": {Metrics: []metricCase{
			{Count: i32(4), Interval: "1m", FailureLimit: i32(1), Phases: P("SFES")},
			{Count: i32(3), Interval: "10s", Phases: P("SES")}}, StopAt: -1, Gaps: []time.Duration{10 * time.Second, 25 * time.Second, 45 * time.Second}},

		// Refused by both.
		"both limits disabled":         one(metricCase{Count: i32(3), Interval: "1m", FailureLimit: i32(-1)}),
		"count below the limits":       one(metricCase{Count: i32(2), Interval: "1m", FailureLimit: i32(2), ConsecutiveSuccessLimit: i32(1)}),
		"count without interval":       one(metricCase{Count: i32(3)}),
		"negative inconclusiveLimit":   one(metricCase{Count: i32(3), Interval: "1m", InconclusiveLimit: i32(-1)}),
		"negative consecutiveErrorLim": one(metricCase{Count: i32(3), Interval: "1m", ConsecutiveErrorLimit: i32(-1)}),

		// Refused by converge on purpose.
		"count 0 (stricter)":     one(metricCase{Count: i32(0), Interval: "1m", Phases: P("S")}),
		"count -1 (stricter)":    one(metricCase{Count: i32(-1), Interval: "1m", Phases: P("F")}),
		"interval 0s (stricter)": one(metricCase{Count: i32(3), Interval: "0s", Phases: P("S")}),
	}
}

// TestAssessmentMatchesRollouts: each rule of the assessment, then a few
// hundred random scenarios, decide what Rollouts' controller decides, step
// by step.
func TestAssessmentMatchesRollouts(t *testing.T) {
	d := newDiffer(t)
	for name, sc := range assessmentScenarios() {
		t.Run(name, func(t *testing.T) {
			d.check(t, sc)
			if got := decodeScenario(encodeScenario(sc)); got.String() != sc.String() {
				t.Fatalf("encoding: %s, want %s", got, sc)
			}
		})
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 2))
		n := 300
		if testing.Short() {
			n = 50
		}
		ended := map[string]int{}
		for range n {
			data := make([]byte, 8+rng.IntN(60))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			ended[d.check(t, decodeScenario(data))]++
		}
		t.Logf("%d scenarios: %v", n, ended)
		assert.Greater(t, n-ended["refused by both"]-ended["refused by converge on purpose"], n/3, "most scenarios run")
	})
}

// FuzzAssessment: any sequence of measurement phases, with any limits,
// count, interval, dry-run and retention, assesses as Rollouts' controller
// does, step by step; where converge refuses a metric Rollouts runs, the
// reason is a documented strictness.
func FuzzAssessment(f *testing.F) {
	for _, sc := range assessmentScenarios() {
		f.Add(encodeScenario(sc))
	}
	d := newDiffer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d.check(t, decodeScenario(data))
	})
}
