package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// The SMI router writes the TrafficSplit Argo Rollouts' SMI reconciler
// writes (rollout/trafficrouting/smi/smi.go): named trafficSplitName (the
// Rollout's name by default), for the rootService (the stableService by
// default), with two backends, the canaryService at the weight and the
// stableService at the rest. converge adds it to the set, marked with
// AnnotationRouteOf, so that it is applied, diffed and pruned like the
// other objects; a TrafficSplit of that name already in the set is edited
// instead (its service and backends set, its version and other fields
// kept).
//
// The TrafficSplit it adds is split.smi-spec.io/v1alpha1, the version
// Rollouts writes by default (defaults.DefaultSMITrafficSplitVersion; its
// --smi-api-version flag chooses another), which Linkerd's SMI extension
// serves. Rollouts writes v1alpha1's weights as quantity strings ("5");
// converge writes the integers, which v1alpha1 reads as the same
// quantities and v1alpha2 and later require.
//
// Header routes are refused, as Rollouts refuses a setHeaderRoute step
// with SMI: a TrafficSplit cannot match headers.

var smiTrafficSplit = schema.GroupKind{Group: "split.smi-spec.io", Kind: "TrafficSplit"}

// SMIVersion is the version of the TrafficSplit the SMI router adds.
const SMIVersion = "v1alpha1"

// smiVersions are tried in order when reading the live TrafficSplit.
var smiVersions = []string{"v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"}

type smiRouter struct {
	cfg SMIRouting
}

func newSMIRouter(cfg *SMIRouting, managed []ManagedRoute) (TrafficRouter, error) {
	if cfg == nil {
		return nil, errors.New("spec.strategy.canary.trafficRouting.smi is required")
	}
	if err := checkManagedRoutes(managed); err != nil {
		return nil, err
	}
	return &smiRouter{cfg: *cfg}, nil
}

// split returns the TrafficSplit's name, its root service and backends.
func (s *smiRouter) split(r *Rollout, t Traffic) (name, root string, backends []any, err error) {
	canary, stable, err := routedServices(r, true)
	if err != nil {
		return "", "", nil, err
	}
	if err := checkWeight(r, t); err != nil {
		return "", "", nil, err
	}
	for _, hr := range t.HeaderRoutes {
		if len(hr.Match) > 0 {
			return "", "", nil, fmt.Errorf("rollout %s: header route %q: setHeaderRoute with smi: %w", r, hr.Name, ErrUnsupported)
		}
	}
	name, root = s.cfg.TrafficSplitName, s.cfg.RootService
	if name == "" {
		name = r.Name
	}
	if root == "" {
		root = stable
	}
	backends = []any{
		map[string]any{"service": canary, "weight": int64(t.Weight)},
		map[string]any{"service": stable, "weight": int64(100 - t.Weight)},
	}
	return name, root, backends, nil
}

// Route adds the TrafficSplit to the set, or edits the one of its name.
func (s *smiRouter) Route(set *object.Set, r *Rollout, t Traffic) error {
	name, root, backends, err := s.split(r, t)
	if err != nil {
		return err
	}
	id := object.ID{Group: smiTrafficSplit.Group, Kind: smiTrafficSplit.Kind, Namespace: r.Namespace, Name: name}
	var ts *unstructured.Unstructured
	if obj, ok := set.Get(id); ok {
		ts = obj.DeepCopy()
		spec, ok, err := optMap(ts.Object, "spec", "spec")
		if err != nil {
			return routeError(r, obj, err)
		}
		if !ok {
			spec = map[string]any{}
			ts.Object["spec"] = spec
		}
		spec["service"], spec["backends"] = root, backends
	} else {
		ts = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": smiTrafficSplit.Group + "/" + SMIVersion,
			"kind":       smiTrafficSplit.Kind,
			"metadata": map[string]any{
				"name":        name,
				"namespace":   r.Namespace,
				"annotations": map[string]any{AnnotationRouteOf: r.Name},
			},
			"spec": map[string]any{"service": root, "backends": backends},
		}}
	}
	return putObjects(set, r, ts)
}

// Verify reports whether the live TrafficSplit has the root service and
// the two backends at their weights.
func (s *smiRouter) Verify(ctx context.Context, live Reader, r *Rollout, t Traffic) (bool, error) {
	name, root, backends, err := s.split(r, t)
	if err != nil {
		return false, err
	}
	ts, found, err := lookupServed(ctx, live, smiTrafficSplit.Group, smiTrafficSplit.Kind, smiVersions, r.Namespace, name)
	if err != nil || !found {
		return false, err
	}
	spec, _ := ts.Object["spec"].(map[string]any)
	got, _ := spec["backends"].([]any)
	if spec["service"] != root || len(got) != len(backends) {
		return false, nil
	}
	for i, b := range backends {
		want := b.(map[string]any)
		g, _ := got[i].(map[string]any)
		w, ok := smiWeight(g["weight"])
		if !ok || g["service"] != want["service"] || w != want["weight"] {
			return false, nil
		}
	}
	return true, nil
}

// smiWeight reads a weight written as a number or, in v1alpha1, as a
// quantity string.
func smiWeight(v any) (int64, bool) {
	if n, ok := fieldInt(v); ok {
		return n, true
	}
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	n, ok := q.AsInt64()
	return n, ok
}
