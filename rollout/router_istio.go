package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// The Istio router weighs the HTTP routes of VirtualServices as Argo
// Rollouts' Istio reconciler does (rollout/trafficrouting/istio/istio.go):
//
//   - the routes are the ones virtualService(s)[].routes name; with none
//     named, the VirtualService must have exactly one HTTP route (not
//     counting the header routes of managedRoutes), and that one is
//     weighed;
//   - in a weighed route, the destination whose host is the canaryService
//     (or, with a destinationRule, whose subset is its canarySubsetName)
//     gets the weight and the stable's gets the rest. A host is compared by
//     its first label, so "backend-canary.shop.svc.cluster.local" is the
//     Service backend-canary; any other destination with a host is dropped
//     (Rollouts drops them too: they are what its experiments add); a route
//     without both destinations is an error;
//   - a VirtualService with spec.tls or spec.tcp must have exactly one such
//     route, weighed the same way, as Rollouts does when tlsRoutes and
//     tcpRoutes are not given (naming them is refused: ErrUnsupported);
//   - with a destinationRule, the canary and stable subsets' labels are
//     pinned to the revisions (LabelRevision);
//   - a header route is an HTTP route named after it, at the top of
//     spec.http in managedRoutes order, matching its headers (one match
//     per header, as Rollouts writes them) and sending everything to the
//     canary. Every route named in managedRoutes is the router's: Route
//     rewrites them, and removes those t does not ask for.
//
// Where it differs: a VirtualService or route it cannot weigh is an error
// where Rollouts would silently weigh nothing (spec.http missing while
// routes are named; no route left to weigh); a destination of the canary
// or stable subset is that subset's whatever its host (Rollouts looks at
// the host first); the DestinationRule's other subsets are kept (Rollouts'
// update drops them), a subset it lacks is an error, and it gets no
// managed-by annotation.

var (
	istioVirtualService  = schema.GroupKind{Group: "networking.istio.io", Kind: "VirtualService"}
	istioDestinationRule = schema.GroupKind{Group: "networking.istio.io", Kind: "DestinationRule"}
	// istioVersions are tried in order when reading live objects: Istio
	// serves v1 since 1.22, v1beta1 and v1alpha3 before.
	istioVersions = []string{"v1", "v1beta1", "v1alpha3"}
)

type istioRouter struct {
	vss     []istioVSRef
	dr      *IstioDestinationRule
	managed []ManagedRoute
}

type istioVSRef struct {
	namespace string // empty: the Rollout's
	name      string
	routes    []string
}

func newIstioRouter(cfg *IstioRouting, managed []ManagedRoute) (TrafficRouter, error) {
	const p = "spec.strategy.canary.trafficRouting.istio"
	if cfg == nil {
		return nil, fmt.Errorf("%s is required", p)
	}
	if err := checkManagedRoutes(managed); err != nil {
		return nil, err
	}
	var list []IstioVirtualService
	var fields []string
	switch {
	case cfg.VirtualService != nil && len(cfg.VirtualServices) > 0:
		return nil, fmt.Errorf("%s: virtualService and virtualServices are both set", p)
	case cfg.VirtualService != nil:
		list, fields = []IstioVirtualService{*cfg.VirtualService}, []string{p + ".virtualService"}
	case len(cfg.VirtualServices) > 0:
		list = cfg.VirtualServices
		for i := range list {
			fields = append(fields, fmt.Sprintf("%s.virtualServices[%d]", p, i))
		}
	default:
		return nil, fmt.Errorf("%s: one of virtualService and virtualServices is required", p)
	}
	ir := &istioRouter{dr: cfg.DestinationRule, managed: managed}
	managedSet := managedNames(managed)
	seen := map[string]bool{}
	for i, vs := range list {
		f := fields[i]
		if present(vs.TLSRoutes) {
			return nil, unsupported(f + ".tlsRoutes")
		}
		if present(vs.TCPRoutes) {
			return nil, unsupported(f + ".tcpRoutes")
		}
		ns, name := istioNamespaceName(vs.Name)
		if name == "" {
			return nil, fmt.Errorf("%s.name is required", f)
		}
		if seen[ns+"/"+name] {
			return nil, fmt.Errorf("%s: VirtualService %q is named twice", f, vs.Name)
		}
		seen[ns+"/"+name] = true
		ref := istioVSRef{namespace: ns, name: name}
		for j, route := range vs.Routes {
			switch {
			case route == "":
				return nil, fmt.Errorf("%s.routes[%d] is empty", f, j)
			case managedSet[route]:
				return nil, fmt.Errorf("%s.routes[%d]: %q is also in managedRoutes, whose routes converge writes itself", f, j, route)
			case slices.Contains(ref.routes, route):
				return nil, fmt.Errorf("%s.routes[%d]: %q is named twice", f, j, route)
			}
			ref.routes = append(ref.routes, route)
		}
		ir.vss = append(ir.vss, ref)
	}
	if dr := cfg.DestinationRule; dr != nil {
		switch {
		case dr.Name == "":
			return nil, fmt.Errorf("%s.destinationRule.name is required", p)
		case dr.CanarySubsetName == "" || dr.StableSubsetName == "":
			return nil, fmt.Errorf("%s.destinationRule: canarySubsetName and stableSubsetName are required", p)
		case dr.CanarySubsetName == dr.StableSubsetName:
			return nil, fmt.Errorf("%s.destinationRule: canarySubsetName and stableSubsetName are both %q", p, dr.CanarySubsetName)
		}
	}
	return ir, nil
}

// istioNamespaceName splits Istio's "name.namespace" shorthand as Rollouts
// does (GetVirtualServiceNamespaceName): the last label is the namespace.
func istioNamespaceName(ref string) (ns, name string) {
	ref = strings.TrimSuffix(ref, ".cluster.local")
	if i := strings.LastIndex(ref, "."); i >= 0 {
		return ref[i+1:], ref[:i]
	}
	return "", ref
}

// istioTarget is what a route's destinations are matched against.
type istioTarget struct {
	canary, stable             string // Services; may be empty with subsets
	canarySubset, stableSubset string
	weight                     int64
}

func (ir *istioRouter) target(r *Rollout, t Traffic) (istioTarget, []HeaderRoute, error) {
	canary, stable, err := routedServices(r, ir.dr == nil)
	if err != nil {
		return istioTarget{}, nil, err
	}
	if err := checkWeight(r, t); err != nil {
		return istioTarget{}, nil, err
	}
	hrs, err := activeHeaderRoutes(r, ir.managed, t)
	if err != nil {
		return istioTarget{}, nil, err
	}
	it := istioTarget{canary: canary, stable: stable, weight: int64(t.Weight)}
	if ir.dr != nil {
		it.canarySubset, it.stableSubset = ir.dr.CanarySubsetName, ir.dr.StableSubsetName
	}
	return it, hrs, nil
}

// Route weighs the VirtualServices' routes, writes the header routes and
// pins the DestinationRule's subsets; see the comment at the top of the
// file.
func (ir *istioRouter) Route(set *object.Set, r *Rollout, t Traffic) error {
	it, hrs, err := ir.target(r, t)
	if err != nil {
		return err
	}
	var out []*unstructured.Unstructured
	var drHost string
	if ir.dr != nil {
		obj, err := routeObject(set, r, istioDestinationRule, r.Namespace, ir.dr.Name)
		if err != nil {
			return err
		}
		dr := obj.DeepCopy()
		if drHost, err = ir.pinSubsets(dr, t); err != nil {
			return routeError(r, obj, err)
		}
		out = append(out, dr)
	}
	for _, ref := range ir.vss {
		ns := ref.namespace
		if ns == "" {
			ns = r.Namespace
		}
		obj, err := routeObject(set, r, istioVirtualService, ns, ref.name)
		if err != nil {
			return err
		}
		vs := obj.DeepCopy()
		if err := ir.routeVirtualService(vs, ref, it, drHost, hrs); err != nil {
			return routeError(r, obj, err)
		}
		out = append(out, vs)
	}
	return putObjects(set, r, out...)
}

// Verify reports whether the live VirtualServices are what Route makes of
// them (weights, header routes and their order) and the live
// DestinationRule's subsets are pinned.
func (ir *istioRouter) Verify(ctx context.Context, live Reader, r *Rollout, t Traffic) (bool, error) {
	it, hrs, err := ir.target(r, t)
	if err != nil {
		return false, err
	}
	var drHost string
	if ir.dr != nil {
		dr, found, err := lookupServed(ctx, live, istioDestinationRule.Group, istioDestinationRule.Kind, istioVersions, r.Namespace, ir.dr.Name)
		if err != nil || !found {
			return false, err
		}
		if drHost, err = ir.pinSubsets(dr.DeepCopy(), t); err != nil || !ir.pinned(dr, t) {
			return false, nil
		}
	}
	for _, ref := range ir.vss {
		ns := ref.namespace
		if ns == "" {
			ns = r.Namespace
		}
		vs, found, err := lookupServed(ctx, live, istioVirtualService.Group, istioVirtualService.Kind, istioVersions, ns, ref.name)
		if err != nil || !found {
			return false, err
		}
		want := vs.DeepCopy()
		if err := ir.routeVirtualService(want, ref, it, drHost, hrs); err != nil {
			return false, nil
		}
		if !liveContains(want.Object["spec"], vs.Object["spec"]) {
			return false, nil
		}
	}
	return true, nil
}

// routeVirtualService edits vs in place.
func (ir *istioRouter) routeVirtualService(vs *unstructured.Unstructured, ref istioVSRef, it istioTarget, drHost string, hrs []HeaderRoute) error {
	spec, ok, err := optMap(vs.Object, "spec", "spec")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("spec is missing")
	}
	routed := false
	http, hasHTTP, err := optList(spec, "http", "spec.http")
	if err != nil {
		return err
	}
	if hasHTTP {
		routes, err := ir.routeHTTP(http, ref, it, drHost, hrs)
		if err != nil {
			return err
		}
		spec["http"] = routes
		routed = true
	} else if len(ref.routes) > 0 || len(hrs) > 0 {
		return fmt.Errorf("spec.http is missing: there is no HTTP route to weigh")
	}
	for _, kind := range []string{"tls", "tcp"} {
		p := "spec." + kind
		routes, ok, err := optList(spec, kind, p)
		if err != nil {
			return err
		}
		if !ok || len(routes) == 0 {
			continue
		}
		if len(routes) > 1 {
			return fmt.Errorf("%s has %d routes: converge weighs the only one, as Rollouts does without %sRoutes (which converge does not support)", p, len(routes), kind)
		}
		route, err := fieldMap(routes[0], p+"[0]")
		if err != nil {
			return err
		}
		if err := it.weigh(route, p+"[0]"); err != nil {
			return err
		}
		routed = true
	}
	if !routed {
		return errors.New("spec has no http, tls or tcp routes")
	}
	return nil
}

// routeHTTP returns spec.http routed: the header routes first, then the
// other routes in their order, weighed.
func (ir *istioRouter) routeHTTP(http []any, ref istioVSRef, it istioTarget, drHost string, hrs []HeaderRoute) ([]any, error) {
	managed := managedNames(ir.managed)
	type indexed struct {
		route map[string]any
		p     string // its path in the object as written
		name  string
	}
	var kept []indexed
	for i, v := range http {
		p := fmt.Sprintf("spec.http[%d]", i)
		route, err := fieldMap(v, p)
		if err != nil {
			return nil, err
		}
		name, _, err := optString(route, "name", p+".name")
		if err != nil {
			return nil, err
		}
		if managed[name] {
			continue // the router's own: rewritten below when asked for
		}
		kept = append(kept, indexed{route, p, name})
	}
	var weighed []indexed
	if len(ref.routes) == 0 {
		if len(kept) != 1 {
			return nil, fmt.Errorf("spec.http has %d routes besides the managed ones: with no routes named in the Rollout it must have exactly one", len(kept))
		}
		weighed = kept
	}
	for _, name := range ref.routes {
		found := false
		for _, k := range kept {
			if k.name == name {
				weighed, found = append(weighed, k), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("spec.http has no route named %q", name)
		}
	}
	for _, w := range weighed {
		if err := it.weigh(w.route, fmt.Sprintf("%s (route %q)", w.p, w.name)); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(hrs)+len(kept))
	if len(hrs) > 0 {
		host := it.canary
		if ir.dr != nil {
			if drHost == "" {
				return nil, fmt.Errorf("header routes need the host of DestinationRule %s (spec.host)", ir.dr.Name)
			}
			host = drHost
		}
		port := firstPort(weighed[0].route)
		for _, hr := range hrs {
			out = append(out, istioHeaderRoute(hr, host, it.canarySubset, port))
		}
	}
	for _, k := range kept {
		out = append(out, k.route)
	}
	return out, nil
}

// weigh sets the weights of route's destinations, in place.
func (it istioTarget) weigh(route map[string]any, p string) error {
	dests, _, err := optList(route, "route", p+".route")
	if err != nil {
		return err
	}
	out := make([]any, 0, len(dests))
	var canary, stable bool
	for i, v := range dests {
		dp := fmt.Sprintf("%s.route[%d]", p, i)
		d, err := fieldMap(v, dp)
		if err != nil {
			return err
		}
		dest, _, err := optMap(d, "destination", dp+".destination")
		if err != nil {
			return err
		}
		host, _, err := optString(dest, "host", dp+".destination.host")
		if err != nil {
			return err
		}
		subset, _, err := optString(dest, "subset", dp+".destination.subset")
		if err != nil {
			return err
		}
		host = istioShortHost(host)
		isCanarySubset := subset != "" && subset == it.canarySubset
		isStableSubset := subset != "" && subset == it.stableSubset
		// A destination of one of the subsets is the subset's whatever its
		// host (Rollouts checks the host first, which sends the canary's
		// weight to the stable subset when the DestinationRule's host is
		// the canaryService); with subsets, only they count.
		switch {
		case host == "":
			// No Service: left alone, as Rollouts does.
		case isCanarySubset:
			d["weight"], canary = it.weight, true
		case isStableSubset:
			d["weight"], stable = 100-it.weight, true
		case it.canary != "" && host == it.canary:
			d["weight"], canary = it.weight, canary || it.canarySubset == ""
		case it.stable != "" && host == it.stable:
			d["weight"], stable = 100-it.weight, stable || it.stableSubset == ""
		default:
			continue // dropped, as Rollouts drops it
		}
		out = append(out, d)
	}
	switch {
	case !canary && it.canarySubset != "":
		return fmt.Errorf("%s: no destination has the canary subset %q", p, it.canarySubset)
	case !canary:
		return fmt.Errorf("%s: no destination has the canaryService %s as its host", p, it.canary)
	case !stable && it.stableSubset != "":
		return fmt.Errorf("%s: no destination has the stable subset %q", p, it.stableSubset)
	case !stable:
		return fmt.Errorf("%s: no destination has the stableService %s as its host", p, it.stable)
	}
	route["route"] = out
	return nil
}

// istioShortHost is the Service name of a destination host, as Rollouts
// reads it (getHost): up to the first dot, so that a FQDN matches its
// Service. A host that starts with a dot is no Service.
func istioShortHost(host string) string {
	if i := strings.Index(host, "."); i >= 0 {
		return host[:i]
	}
	return host
}

// firstPort is the port number of route's first destination, which
// Rollouts gives the header routes' canary destination; 0 for none.
func firstPort(route map[string]any) int64 {
	dests, _ := route["route"].([]any)
	if len(dests) == 0 {
		return 0
	}
	d, _ := dests[0].(map[string]any)
	dest, _ := d["destination"].(map[string]any)
	port, _ := dest["port"].(map[string]any)
	n, _ := fieldInt(port["number"])
	return n
}

// istioHeaderRoute is createHeaderRoute's route: one match per header.
func istioHeaderRoute(hr HeaderRoute, host, subset string, port int64) map[string]any {
	matches := make([]any, 0, len(hr.Match))
	for _, m := range hr.Match {
		v := map[string]any{}
		for k, s := range map[string]string{"exact": m.HeaderValue.Exact, "prefix": m.HeaderValue.Prefix, "regex": m.HeaderValue.Regex} {
			if s != "" {
				v[k] = s
			}
		}
		matches = append(matches, map[string]any{"headers": map[string]any{m.HeaderName: v}})
	}
	dest := map[string]any{"host": host}
	if port > 0 {
		dest["port"] = map[string]any{"number": port}
	}
	if subset != "" {
		dest["subset"] = subset
	}
	return map[string]any{
		"name":  hr.Name,
		"match": matches,
		"route": []any{map[string]any{"destination": dest, "weight": int64(100)}},
	}
}

// pinSubsets sets LabelRevision on the canary and stable subsets of dr,
// in place, and returns its spec.host. An empty hash removes the label.
func (ir *istioRouter) pinSubsets(dr *unstructured.Unstructured, t Traffic) (string, error) {
	spec, ok, err := optMap(dr.Object, "spec", "spec")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("spec is missing")
	}
	host, _, err := optString(spec, "host", "spec.host")
	if err != nil {
		return "", err
	}
	subsets, _, err := optList(spec, "subsets", "spec.subsets")
	if err != nil {
		return "", err
	}
	want := map[string]string{ir.dr.CanarySubsetName: t.Canary, ir.dr.StableSubsetName: t.Stable}
	found := map[string]bool{}
	for i, v := range subsets {
		p := fmt.Sprintf("spec.subsets[%d]", i)
		s, err := fieldMap(v, p)
		if err != nil {
			return "", err
		}
		name, _, err := optString(s, "name", p+".name")
		if err != nil {
			return "", err
		}
		hash, ok := want[name]
		if !ok {
			continue
		}
		found[name] = true
		labels, ok, err := optMap(s, "labels", p+".labels")
		if err != nil {
			return "", err
		}
		switch {
		case hash != "" && !ok:
			s["labels"] = map[string]any{LabelRevision: hash}
		case hash != "":
			labels[LabelRevision] = hash
		case ok:
			delete(labels, LabelRevision)
		}
	}
	for _, name := range []string{ir.dr.CanarySubsetName, ir.dr.StableSubsetName} {
		if !found[name] {
			return "", fmt.Errorf("spec.subsets has no subset %q", name)
		}
	}
	return host, nil
}

// pinned reports whether the live DestinationRule's subsets carry the
// revisions, and no revision where the hash is empty.
func (ir *istioRouter) pinned(dr *unstructured.Unstructured, t Traffic) bool {
	want := map[string]string{ir.dr.CanarySubsetName: t.Canary, ir.dr.StableSubsetName: t.Stable}
	spec, _ := dr.Object["spec"].(map[string]any)
	subsets, _ := spec["subsets"].([]any)
	for _, v := range subsets {
		s, _ := v.(map[string]any)
		name, _ := s["name"].(string)
		hash, ok := want[name]
		if !ok {
			continue
		}
		labels, _ := s["labels"].(map[string]any)
		got, has := labels[LabelRevision]
		if has != (hash != "") || (has && got != hash) {
			return false
		}
	}
	return true
}
