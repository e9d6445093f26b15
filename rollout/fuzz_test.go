package rollout_test

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
)

// Parse never panics, and what it accepts names a strategy.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/seed/rollout.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(canaryRollout("x:1", "")))
	f.Add([]byte(blueGreen))
	f.Add([]byte("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {strategy: {canary: {steps: [{pause: {duration: -1}}]}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil {
			return
		}
		for _, obj := range objs {
			if !rollout.IsRollout(obj) {
				continue
			}
			r, err := rollout.Parse(obj)
			if err != nil {
				continue
			}
			if (r.Spec.Strategy.Canary == nil) == (r.Spec.Strategy.BlueGreen == nil) {
				t.Fatalf("accepted a Rollout with strategy %+v", r.Spec.Strategy)
			}
			if _, err := rollout.RevisionOf(r.Spec.Template); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A state ConfigMap is a trust boundary (anyone who can edit ConfigMaps in
// the namespace can write it): whatever it holds, Process returns an error
// or a status, never panics, and never sends traffic to a canary that is
// not the Rollout's newest revision.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"seq":3,"revision":"abc","stable":{"hash":"def","template":{}},"step":2,"weight":50}`))
	f.Add([]byte(`{"seq":1,"revision":"x","stable":{"hash":"x"},"step":-5,"weight":900,"analysis":{"for":"step 2","run":"garbage"}}`))
	f.Add([]byte(`{"seq":9,"revision":"a","stable":{"hash":"b"},"previous":{"hash":"c"},"scaleDown":[{"revision":{"hash":"d"},"at":"2030-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, state []byte) {
		for _, manifests := range []string{canaryRollout("backend:v2", ""), blueGreen} {
			w := newWorld()
			cm := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": rollout.StateName(map[bool]string{true: "backend", false: "web"}[manifests != blueGreen]), "namespace": "shop"},
				"data":     map[string]any{"state.json": string(state)},
			}}
			set := object.NewSet()
			_ = set.Add(cm, "fuzz")
			w.apply(set)
			d := &driver{t: t, w: w, opts: rollout.Options{Providers: map[string]analysis.Provider{"prometheus": &counter{value: 1}}}, now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
			d.e = rollout.New(d.opts)
			d.render(manifests)
			out, statuses, err := d.e.Process(context.Background(), rollout.Input{Set: d.set, Live: w, Now: d.now})
			if err != nil {
				continue
			}
			if len(statuses) != 1 || out == nil {
				t.Fatalf("%d statuses", len(statuses))
			}
			want, _ := rollout.RevisionOf(mustParse(t, d.set).Spec.Template)
			if s := statuses[0]; s.Revision != want.Hash {
				t.Fatalf("status revision %s, want the Rollout's %s", s.Revision, want.Hash)
			}
		}
	})
}

func mustParse(t *testing.T, set *object.Set) *rollout.Rollout {
	t.Helper()
	for _, obj := range set.All() {
		if rollout.IsRollout(obj) {
			r, err := rollout.Parse(obj)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatal("no Rollout")
	return nil
}
