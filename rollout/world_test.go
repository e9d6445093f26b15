package rollout_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
)

// world stands in for a cluster in the engine's pure tests: what a pass
// returns is "applied" to it (objects not returned are pruned), and its
// Deployments report as many available pods as ready() allows. The
// engine's behaviour on a real control plane is tested in living_test.go.
type world struct {
	mu      sync.Mutex
	objects map[object.ID]*unstructured.Unstructured
	// ready returns how many of a Deployment's replicas are available;
	// nil means all of them.
	ready func(name string, replicas int64) int64
	// notes are the annotations users put on objects (commands).
	notes map[object.ID]map[string]string
}

func newWorld() *world {
	return &world{objects: map[object.ID]*unstructured.Unstructured{}, notes: map[object.ID]map[string]string{}}
}

func (w *world) Lookup(_ context.Context, gvk schema.GroupVersionKind, ns, name string) (*unstructured.Unstructured, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	obj, ok := w.objects[object.ID{Group: gvk.Group, Kind: gvk.Kind, Namespace: ns, Name: name}]
	if !ok {
		return nil, false, nil
	}
	return obj.DeepCopy(), true, nil
}

// apply makes the world hold exactly set, with the users' annotations
// kept, and Deployments' status set.
func (w *world) apply(set *object.Set) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := map[object.ID]*unstructured.Unstructured{}
	for id, obj := range set.All() {
		obj = obj.DeepCopy()
		if old, ok := w.objects[id]; ok {
			obj.SetGeneration(old.GetGeneration())
			if !equalSpec(old, obj) {
				obj.SetGeneration(old.GetGeneration() + 1)
			}
		} else {
			obj.SetGeneration(1)
		}
		if notes := w.notes[id]; len(notes) > 0 {
			a := obj.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			maps.Copy(a, notes)
			obj.SetAnnotations(a)
		}
		if id.Kind == "Deployment" {
			replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			avail := replicas
			if w.ready != nil {
				avail = min(replicas, w.ready(id.Name, replicas))
			}
			_ = unstructured.SetNestedField(obj.Object, map[string]any{
				"observedGeneration": obj.GetGeneration(), "replicas": replicas, "availableReplicas": avail,
			}, "status")
		}
		next[id] = obj
	}
	w.objects = next
}

func equalSpec(a, b *unstructured.Unstructured) bool {
	return fmt.Sprint(a.Object["spec"]) == fmt.Sprint(b.Object["spec"])
}

// command gives a rollout a command, as `converge rollout` does.
func (w *world) command(name, c string, token string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := object.ID{Kind: "ConfigMap", Namespace: "shop", Name: rollout.StateName(name)}
	if w.notes[id] == nil {
		w.notes[id] = map[string]string{}
	}
	w.notes[id][rollout.CommandAnnotation(c)] = token
	if obj, ok := w.objects[id]; ok {
		a := obj.GetAnnotations()
		a[rollout.CommandAnnotation(c)] = token
		obj.SetAnnotations(a)
	}
}

func (w *world) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, obj := range w.objects {
		if id.Kind == kind && id.Name == name {
			return obj
		}
	}
	t.Fatalf("the world holds no %s %s; it holds %v", kind, name, w.names())
	return nil
}

func (w *world) names() []string {
	var out []string
	for id := range w.objects {
		out = append(out, id.Kind+"/"+id.Name)
	}
	slices.Sort(out)
	return out
}

// deployments returns the replicas of each Deployment of rollout name.
func (w *world) deployments(name string) map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int64{}
	for id, obj := range w.objects {
		if id.Kind == "Deployment" && obj.GetAnnotations()[rollout.AnnotationRollout] == "shop/"+name {
			r, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
			out[id.Name] = r
		}
	}
	return out
}

// driver steps one unit's rendered set through an engine on a world with
// a clock it controls.
type driver struct {
	t      *testing.T
	w      *world
	e      *rollout.Engine
	opts   rollout.Options
	now    time.Time
	set    *object.Set
	status rollout.Status
	// restart makes every pass use a new engine, as a host restarted
	// before every pass.
	restart bool
}

func newDriver(t *testing.T, opts rollout.Options, manifests string) *driver {
	t.Helper()
	d := &driver{t: t, w: newWorld(), opts: opts, now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	d.e = rollout.New(opts)
	d.render(manifests)
	return d
}

func (d *driver) render(manifests string) {
	d.t.Helper()
	objs, err := object.DecodeBytes([]byte(manifests), object.DefaultDecodeOptions())
	if err != nil {
		d.t.Fatal(err)
	}
	set := object.NewSet()
	for _, obj := range objs {
		if obj.GetNamespace() == "" {
			obj.SetNamespace("shop")
		}
		if err := set.Add(obj, "test"); err != nil {
			d.t.Fatal(err)
		}
	}
	d.set = set
}

// pass runs one pass and applies its result.
func (d *driver) pass() rollout.Status {
	d.t.Helper()
	if d.restart {
		d.e = rollout.New(d.opts)
	}
	before := d.set.DeepCopy()
	out, statuses, err := d.e.Process(context.Background(), rollout.Input{Set: d.set, Live: d.w, Now: d.now})
	if err != nil {
		d.t.Fatalf("at %s: %v", d.now.Format(time.TimeOnly), err)
	}
	if len(statuses) != 1 {
		d.t.Fatalf("%d statuses, want 1", len(statuses))
	}
	if !slices.Equal(before.IDs(), d.set.IDs()) {
		d.t.Fatal("Process modified its input")
	}
	d.w.apply(out)
	d.status = statuses[0]
	return d.status
}

// until runs passes, advancing the clock to each one's Next (at most a
// minute), until cond holds; it fails after max passes.
func (d *driver) until(what string, max int, cond func(rollout.Status) bool) rollout.Status {
	d.t.Helper()
	for i := 0; i < max; i++ {
		s := d.pass()
		if cond(s) {
			return s
		}
		step := time.Minute
		if !s.Next.IsZero() && s.Next.Sub(d.now) < step {
			step = max64(s.Next.Sub(d.now), time.Second)
		}
		d.now = d.now.Add(step)
	}
	d.t.Fatalf("%s: not reached in %d passes; last status %+v", what, max, d.status)
	return d.status
}

func max64(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// counter is an analysis provider returning a value the test sets.
type counter struct {
	mu    sync.Mutex
	value float64
	err   error
	n     int
}

func (c *counter) Measure(_ context.Context, q analysis.Query) (analysis.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.err != nil {
		return analysis.Result{}, c.err
	}
	return analysis.Result{Value: []float64{c.value}}, nil
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
