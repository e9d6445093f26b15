package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout/analysis"
)

// Options configure an Engine.
type Options struct {
	// Providers measure the analyses' metrics, by provider kind
	// ("prometheus", "web", "job").
	Providers map[string]analysis.Provider
	// Args are given to every analysis, after the step's own (which win
	// over them): values such as the Prometheus address a template
	// leaves to its caller.
	Args []analysis.Arg
	// AnalysisOptions are passed to every analysis.NewRun (a
	// SecretResolver, evaluation limits).
	AnalysisOptions []analysis.Option
	// Workload runs the revisions; Deployments when nil.
	Workload Workload
	// Router returns a Rollout's traffic router; RouterFor when nil.
	Router func(*Rollout) (TrafficRouter, error)
	// Poll is how soon a rollout that waits for the cluster (pods to
	// become available, a route to be verified) asks to be stepped
	// again; 5 s when zero.
	Poll time.Duration
}

// Engine advances rollouts. It has no goroutines: each Process call
// moves each rollout of a set as far as it can go without waiting for
// the cluster or the clock, and returns the objects to apply. It is safe
// for concurrent use by units with distinct rollouts.
type Engine struct {
	opts Options

	mu   sync.Mutex
	last map[object.ID]*State // the newest state this engine produced
}

// New returns an Engine.
func New(opts Options) *Engine {
	if opts.Workload == nil {
		opts.Workload = Deployments{}
	}
	if opts.Router == nil {
		opts.Router = RouterFor
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	return &Engine{opts: opts, last: map[object.ID]*State{}}
}

// Status is where one rollout stands after a Process call.
type Status struct {
	// Rollout is the Rollout's ID.
	Rollout object.ID `json:"rollout"`
	// Strategy is "Canary" or "BlueGreen".
	Strategy string `json:"strategy"`
	Phase    Phase  `json:"phase"`
	Message  string `json:"message,omitempty"`
	// Step is the current step's index, Steps their number.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// Weight is the canary's traffic weight.
	Weight int32 `json:"weight"`
	// Revision and Stable are the newest and the stable revisions.
	Revision string `json:"revision"`
	Stable   string `json:"stable"`
	// Analysis and Background are the running analyses, if any.
	Analysis   *analysis.Status `json:"analysis,omitempty"`
	Background *analysis.Status `json:"background,omitempty"`
	// Next is when the rollout should be processed again at the latest;
	// zero when only a change (in Git, or a command) moves it.
	Next time.Time `json:"next,omitzero"`
}

// IsRollout reports whether obj is a Rollout.
func IsRollout(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().GroupKind() == GroupKind
}

func isTemplate(gk schema.GroupKind) bool {
	return gk.Group == Group && (gk.Kind == analysis.KindAnalysisTemplate || gk.Kind == analysis.KindClusterAnalysisTemplate)
}

// Input is what Process works on.
type Input struct {
	// Set is the rendered set; Process does not modify it.
	Set *object.Set
	// Live reads the rollouts' state, their workloads and their routes.
	Live Reader
	// Now is the host's clock.
	Now time.Time
	// Namespace is the namespace the set's objects that name none are
	// applied to (the unit's destination namespace).
	Namespace string
	// DryRun plans: the objects returned are what a pass would apply, but
	// no measurement is taken and the engine remembers nothing of it.
	DryRun bool
}

// defaulted are the kinds whose objects Process places in the Input's
// Namespace when they name none: the Rollout and what it routes through.
var defaulted = map[schema.GroupKind]bool{
	GroupKind: true,
	{Group: Group, Kind: analysis.KindAnalysisTemplate}: true,
	{Kind: "Service"}: true,
	{Group: "networking.k8s.io", Kind: "Ingress"}:           true,
	{Group: "networking.istio.io", Kind: "VirtualService"}:  true,
	{Group: "networking.istio.io", Kind: "DestinationRule"}: true,
	{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}: true,
	{Group: "split.smi-spec.io", Kind: "TrafficSplit"}:      true,
}

// Process steps every Rollout of the set and returns a new set in which
// each Rollout is replaced by what runs it: its revisions' workloads, its
// Services pinned to their revisions, its routes weighted, and its
// state; AnalysisTemplates are consumed.
func (e *Engine) Process(ctx context.Context, in Input) (*object.Set, []Status, error) {
	live, now := in.Live, in.Now
	out := object.NewSet()
	for id, obj := range in.Set.All() {
		obj = obj.DeepCopy()
		if id.Namespace == "" && in.Namespace != "" && defaulted[id.GroupKind()] {
			obj.SetNamespace(in.Namespace)
		}
		if err := out.Add(obj, in.Set.Source(id)); err != nil {
			return nil, nil, err
		}
	}
	var rollouts []*unstructured.Unstructured
	var templates []*analysis.Template
	var consumed []object.ID
	for id, obj := range out.All() {
		switch {
		case id.GroupKind() == GroupKind:
			rollouts, consumed = append(rollouts, obj), append(consumed, id)
		case isTemplate(id.GroupKind()):
			consumed = append(consumed, id)
			data, err := json.Marshal(obj.Object)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", id, err)
			}
			ts, err := analysis.LoadTemplates(data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", id, err)
			}
			templates = append(templates, ts...)
		}
	}
	for _, id := range consumed {
		out.Remove(id)
	}
	statuses := make([]Status, 0, len(rollouts))
	for _, obj := range rollouts {
		r, err := Parse(obj)
		if err != nil {
			return nil, nil, err
		}
		s, err := e.step(ctx, r, templates, out, live, now, in.DryRun)
		if err != nil {
			return nil, nil, fmt.Errorf("rollout %s: %w", r, err)
		}
		statuses = append(statuses, s)
	}
	return out, statuses, nil
}

// pass is one rollout's work in one Process call.
type pass struct {
	e         *Engine
	r         *Rollout
	st        *State
	live      Reader
	now       time.Time
	templates []*analysis.Template
	router    TrafficRouter
	desired   Revision
	dryRun    bool

	// What to emit.
	workloads []workloadOut
	services  map[string]string // Service name → revision hash
	traffic   *Traffic
	next      time.Time
	phase     Phase
	message   string
	analysis  *analysis.Status
	bg        *analysis.Status
	changed   bool
}

type workloadOut struct {
	rev      Revision
	replicas int32
	meta     *PodMetadata
}

func (e *Engine) step(ctx context.Context, r *Rollout, templates []*analysis.Template, out *object.Set, live Reader, now time.Time, dryRun bool) (Status, error) {
	desired, err := RevisionOf(r.Spec.Template)
	if err != nil {
		return Status{}, err
	}
	ls, err := ReadState(ctx, live, r.Namespace, r.Name)
	if err != nil {
		return Status{}, err
	}
	st, mine := e.newest(r.ID(), ls.State)
	if !mine {
		if err := e.trust(ctx, r, st, live); err != nil {
			return Status{}, fmt.Errorf("ConfigMap %s/%s: %w", r.Namespace, StateName(r.Name), err)
		}
	}
	router, err := e.opts.Router(r)
	if err != nil {
		return Status{}, err
	}
	p := &pass{e: e, r: r, st: st, live: live, now: now, templates: templates, router: router, desired: desired, services: map[string]string{}, dryRun: dryRun}
	before, _ := json.Marshal(st)
	p.revisions()
	p.commands(ls.Commands)
	if r.Spec.Strategy.Canary != nil {
		err = p.canary(ctx)
	} else {
		err = p.blueGreen(ctx)
	}
	if err != nil {
		return Status{}, err
	}
	p.scaleDowns()
	if after, _ := json.Marshal(st); string(after) != string(before) {
		st.Seq++
	}
	if err := p.emit(out); err != nil {
		return Status{}, err
	}
	if !dryRun {
		e.remember(r.ID(), st)
	}
	s := Status{
		Rollout: r.ID(), Phase: p.phase, Message: p.message, Step: st.Step, Weight: st.Weight,
		Revision: st.Revision, Stable: st.Stable.Hash, Analysis: p.analysis, Background: p.bg, Next: p.next,
	}
	if c := r.Spec.Strategy.Canary; c != nil {
		s.Strategy, s.Steps = "Canary", len(c.Steps)
	} else {
		s.Strategy = "BlueGreen"
	}
	return s, nil
}

// newest returns a copy of the newer of the live state and the one this
// engine last produced: the cache the live one comes from may not have
// seen the last write yet.
// ours reports whether the copy is the engine's own.
func (e *Engine) newest(id object.ID, live *State) (st *State, ours bool) {
	e.mu.Lock()
	mine := e.last[id]
	e.mu.Unlock()
	st = live
	if mine != nil && (st == nil || mine.Seq >= st.Seq) {
		st, ours = mine, true
	}
	if st == nil {
		return &State{}, true
	}
	var c State
	data, _ := json.Marshal(st)
	_ = json.Unmarshal(data, &c)
	return &c, ours
}

func (e *Engine) remember(id object.ID, st *State) {
	e.mu.Lock()
	e.last[id] = st
	e.mu.Unlock()
}

// wait asks to be stepped again by at.
func (p *pass) wait(at time.Time) {
	if !at.IsZero() && (p.next.IsZero() || at.Before(p.next)) {
		p.next = at
	}
}

// poll asks to be stepped again soon: the cluster has to move first.
func (p *pass) poll() { p.wait(p.now.Add(p.e.opts.Poll)) }

// revisions notices a new revision: the first one becomes stable at
// once, as Rollouts does; a return to the stable one ends the rollout
// in progress; any other replaces the canary and starts the steps over.
func (p *pass) revisions() {
	st, d := p.st, p.desired
	switch {
	case st.Stable.Hash == "":
		*st = State{Seq: st.Seq, Revision: d.Hash, Stable: d, RevisionSince: p.now, StepSince: p.now, Step: len(p.r.steps()), Handled: st.Handled}
	case d.Hash == st.Revision:
	case d.Hash == st.Stable.Hash:
		// A revert to the stable revision: nothing to roll out. The
		// canary goes at once (Rollouts skips the steps too).
		*st = State{Seq: st.Seq, Revision: d.Hash, Stable: d, RevisionSince: p.now, StepSince: p.now, Step: len(p.r.steps()), Handled: st.Handled, ScaleDown: st.ScaleDown}
	default:
		prev := *st
		*st = State{Seq: st.Seq, Revision: d.Hash, Stable: st.Stable, RevisionSince: p.now, StepSince: p.now, Handled: st.Handled, ScaleDown: st.ScaleDown}
		if prev.Previous != nil { // blue-green: a revision replaced in its post-promotion analysis
			st.Stable = *prev.Previous
			if prev.Stable.Hash != d.Hash {
				st.ScaleDown = append(st.ScaleDown, ScaleDown{Revision: prev.Stable, Replicas: p.r.Replicas(), At: p.now.Add(p.abortDelay())})
			}
		}
	}
}

// commands carries out the commands given since the last pass.
func (p *pass) commands(given map[string]string) {
	st := p.st
	if st.Handled == nil {
		st.Handled = map[string]string{}
	}
	progressing := st.Revision != st.Stable.Hash || st.Previous != nil
	for _, c := range Commands {
		token, ok := given[c]
		if !ok || st.Handled[c] == token {
			continue
		}
		st.Handled[c] = token
		switch c {
		case CommandAbort:
			if progressing && !st.Aborted {
				p.abort("aborted by request")
			}
		case CommandRetry:
			if st.Aborted {
				if st.Previous != nil {
					st.Stable, st.Previous = *st.Previous, nil
				}
				*st = State{Seq: st.Seq, Revision: st.Revision, Stable: st.Stable, RevisionSince: p.now, StepSince: p.now, Handled: st.Handled, ScaleDown: st.ScaleDown}
			}
		case CommandPause:
			if !st.Paused {
				st.Paused, st.PauseReason = true, "paused by request"
			}
		case CommandResume:
			st.Paused, st.PauseReason = false, ""
		case CommandPromoteFull:
			if progressing && !st.Aborted {
				st.Paused, st.PauseReason = false, ""
				if p.r.Spec.Strategy.Canary != nil {
					st.Step, st.StepSince, st.Analysis = len(p.r.steps()), p.now, nil
				} else {
					st.Promote, st.PromoteFull = true, true
				}
			}
		case CommandPromote:
			if progressing && !st.Aborted {
				p.skipStep()
			}
		}
	}
}

// skipStep is `promote`: the current step (a pause, an analysis, a
// blue-green wait for promotion) is done.
func (p *pass) skipStep() {
	st := p.st
	st.Paused, st.PauseReason = false, ""
	if p.r.Spec.Strategy.Canary != nil {
		if st.Step < len(p.r.steps()) {
			p.advance()
		}
		return
	}
	st.Promote = true
}

// advance moves to the next canary step.
func (p *pass) advance() {
	p.st.Step++
	p.st.StepSince = p.now
	p.st.Analysis = nil
	p.st.WeightVerified = false
}

// abort sends traffic back to stable.
func (p *pass) abort(message string) {
	st := p.st
	st.Aborted, st.AbortedAt, st.Message = true, p.now, message
	st.Paused, st.PauseReason = false, ""
	st.HeaderRoutes = nil
	st.WeightVerified = false
	if st.Previous != nil { // blue-green after the switch: back to the old revision
		st.Stable, st.Previous = *st.Previous, nil
	}
}

func delay(v *int32, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	return time.Duration(*v) * time.Second
}

func (p *pass) abortDelay() time.Duration {
	if c := p.r.Spec.Strategy.Canary; c != nil {
		return delay(c.AbortScaleDownDelaySeconds, 30*time.Second)
	}
	return delay(p.r.Spec.Strategy.BlueGreen.AbortScaleDownDelaySeconds, 30*time.Second)
}

// scaleDowns keeps the old revisions whose time has not come.
func (p *pass) scaleDowns() {
	kept := p.st.ScaleDown[:0]
	for _, sd := range p.st.ScaleDown {
		if sd.Revision.Hash == p.st.Revision || sd.Revision.Hash == p.st.Stable.Hash {
			continue
		}
		if p.now.Before(sd.At) {
			kept = append(kept, sd)
			p.workloads = append(p.workloads, workloadOut{rev: sd.Revision, replicas: sd.Replicas})
			p.wait(sd.At)
		}
	}
	p.st.ScaleDown = kept
	if len(kept) == 0 {
		p.st.ScaleDown = nil
	}
}

// retire schedules rev's scale-down after d.
func (p *pass) retire(rev Revision, replicas int32, d time.Duration) {
	if rev.Hash == "" || d <= 0 {
		return
	}
	p.st.ScaleDown = append(p.st.ScaleDown, ScaleDown{Revision: rev, Replicas: replicas, At: p.now.Add(d)})
}

// status reads rev's workload.
func (p *pass) status(ctx context.Context, rev Revision) (WorkloadStatus, error) {
	return p.e.opts.Workload.Status(ctx, p.live, p.r, rev)
}

// availableAt reports whether rev runs at least n available pods.
func (p *pass) availableAt(ctx context.Context, rev Revision, n int32) (bool, error) {
	ws, err := p.status(ctx, rev)
	if err != nil {
		return false, err
	}
	return ws.Runs(n), nil
}

// deadline aborts a rollout whose new revision did not become available
// in time; it reports whether it did.
func (p *pass) deadline() bool {
	d := p.r.ProgressDeadline()
	if p.now.Sub(p.st.StepSince) < d {
		p.wait(p.st.StepSince.Add(d))
		return false
	}
	p.abort(fmt.Sprintf("ProgressDeadlineExceeded: revision %s was not available within %s", p.st.Revision, d))
	return true
}

// emit adds the pass's objects to out.
func (p *pass) emit(out *object.Set) error {
	src := "rollout " + p.r.String()
	seen := map[string]bool{}
	for _, w := range p.workloads {
		if seen[w.rev.Hash] {
			continue
		}
		seen[w.rev.Hash] = true
		objs, err := p.e.opts.Workload.Objects(p.r, w.rev, w.replicas, w.meta)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := out.Add(obj, src); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(p.services))
	for name := range p.services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		svc, err := setObject(out, schema.GroupKind{Kind: "Service"}, p.r.Namespace, name)
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(svc.Object, p.services[name], "spec", "selector", LabelRevision); err != nil {
			return fmt.Errorf("Service %s: %w", name, err)
		}
	}
	if p.traffic != nil && p.router != nil {
		if err := p.router.Route(out, p.r, *p.traffic); err != nil {
			return err
		}
	}
	obj, err := stateObject(p.r, p.st)
	if err != nil {
		return err
	}
	return out.Add(obj, src)
}
