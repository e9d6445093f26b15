package cli

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// healthChecker is health's default engine plus one rule: a custom
// resource whose CRD (in the rendered set) defines no status subresource
// can never report on itself, so it is Healthy once it exists. Without
// that rule such an object is Unknown and a wait would never end.
type healthChecker struct {
	*health.Engine
	statusless *statuslessKinds
}

func newHealthChecker() (*healthChecker, error) {
	sk := &statuslessKinds{kinds: map[schema.GroupKind]bool{}}
	e, err := health.New(health.WithCheckers(sk))
	if err != nil {
		return nil, err
	}
	return &healthChecker{Engine: e, statusless: sk}, nil
}

// learn records the statusless kinds the set's CRDs define.
func (h *healthChecker) learn(set *object.Set) {
	kinds := map[schema.GroupKind]bool{}
	for _, obj := range set.Objects() {
		gvk := obj.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions")
		hasStatus := false
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok {
				if _, ok, _ := unstructured.NestedMap(m, "subresources", "status"); ok {
					hasStatus = true
				}
			}
		}
		if !hasStatus {
			kinds[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	h.statusless.set(kinds)
}

type statuslessKinds struct {
	mu    sync.RWMutex
	kinds map[schema.GroupKind]bool
}

var _ health.KindChecker = (*statuslessKinds)(nil)

func (s *statuslessKinds) set(kinds map[schema.GroupKind]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds = kinds
}

func (s *statuslessKinds) Supports(gk schema.GroupKind) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.kinds[gk]
}

func (s *statuslessKinds) Check(obj *unstructured.Unstructured) health.Result {
	if obj == nil {
		return health.Result{Status: health.Missing}
	}
	return health.Result{Status: health.Healthy, Reason: "NoStatusSubresource",
		Message: "its CRD defines no status, so existing is healthy"}
}

// workload kinds are the ones whose roll-out people watch.
var workloads = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}:   true,
	{Group: "batch", Kind: "Job"}:        true,
}

// healthWatch prints workloads' health as it changes during an apply.
type healthWatch struct {
	r      *reconciler
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	last map[object.ID]health.Status // what was printed, or seen first
}

// watchHealth follows the workloads among ids on the Applier's cache until
// stop is called. It prints a workload when it is first seen unhealthy and
// on every change after that, so an unchanged, healthy workload is silent.
// The apply's own wait decides success; this only shows the roll-out.
func (r *reconciler) watchHealth(ctx context.Context, ids []object.ID, start time.Time) *healthWatch {
	var watched []object.ID
	for _, id := range ids {
		if workloads[id.GroupKind()] {
			watched = append(watched, id)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &healthWatch{r: r, start: start, cancel: cancel, done: make(chan struct{}), last: map[object.ID]health.Status{}}
	if len(watched) == 0 {
		close(w.done)
		return w
	}
	isWatched := map[object.ID]bool{}
	for _, id := range watched {
		isWatched[id] = true
	}
	view := r.applier.Cache().View()
	changed := make(chan object.ID, 1024)
	check := func(id object.ID) {
		res := health.Result{Status: health.Missing}
		if obj, found, err := view.Get(ctx, id); err == nil && found {
			res = r.health.Check(obj)
		}
		w.saw(health.ObjectResult{ID: id, Result: res})
	}
	go func() {
		defer close(w.done)
		err := view.Watch(ctx, watched, func(id object.ID) {
			if !isWatched[id] {
				return
			}
			select {
			case changed <- id:
			default: // display only: a dropped change is shown by the next one
			}
		})
		if err != nil {
			return
		}
		for _, id := range watched {
			check(id)
		}
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-changed:
				check(id)
			}
		}
	}()
	return w
}

func (w *healthWatch) saw(res health.ObjectResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, seen := w.last[res.ID]
	if res.Status == health.Missing || (seen && prev == res.Status) {
		if !seen {
			w.last[res.ID] = res.Status
		}
		return
	}
	w.last[res.ID] = res.Status
	if (!seen || prev == health.Missing) && res.Status == health.Healthy {
		return // created healthy, or unchanged: nothing to watch
	}
	w.print(res)
}

func (w *healthWatch) print(res health.ObjectResult) {
	line := "  health      " + res.ID.String() + " " + string(res.Status)
	if res.Message != "" && res.Status != health.Healthy {
		line += ": " + res.Message
	}
	w.r.printf("%s  %s", line, since(w.start))
}

// stop ends the watch and prints the final status of every workload whose
// last printed one differs, from the apply's own health report.
func (w *healthWatch) stop(res *apply.Result) {
	w.cancel()
	<-w.done
	if res == nil || res.Health == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range res.Health.Results {
		if !workloads[r.ID.GroupKind()] {
			continue
		}
		prev, seen := w.last[r.ID]
		if seen && prev != r.Status && (prev != health.Missing || r.Status != health.Healthy) {
			w.last[r.ID] = r.Status
			w.print(r)
		}
	}
}
