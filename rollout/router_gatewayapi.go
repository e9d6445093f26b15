package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// The Gateway API router weighs HTTPRoutes' backendRefs as the
// argoproj-labs/gatewayAPI plugin does (pkg/plugin/httproute.go), reading
// the plugin's configuration:
//
//   - in every rule whose backendRefs reference both the canaryService and
//     the stableService, the canary's refs get the weight and the stable's
//     the rest; a route with no such rule is an error;
//   - on the routes the configuration lets use header routes (httpRoute,
//     and httpRoutes entries with useHeaderRoutes), each header route adds
//     one rule per weighed rule, after the others: named after the header
//     route (then name-1, name-2, … as the plugin names them), with the
//     weighed rule's matches and filters, the header matches added to each
//     match, and the canary's backendRef alone. Rules with those names are
//     the router's: Route rewrites them, and removes those t does not ask
//     for.
//
// Where it differs: only rules with both backends are weighed (the plugin
// sets a weight on every canary or stable ref, which changes nothing in a
// rule without the other); a ref is the Service's only when its kind is
// Service, its group core and its namespace (or the route's) the
// Rollout's, where the plugin compares names only; a prefix header match
// is a regular expression of the quoted prefix (the plugin does not quote
// it); the plugin's other route kinds, selectors and in-progress label
// are refused (ErrUnsupported), except disableInProgressLabel, which is
// what converge does anyway; unnamed rules that only reference the canary
// are kept (the plugin takes them for its own).

var gatewayHTTPRoute = schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}

// gatewayVersions are tried in order when reading live HTTPRoutes.
var gatewayVersions = []string{"v1", "v1beta1"}

// gatewayMaxRules is the most rules an HTTPRoute may hold.
const gatewayMaxRules = 16

// gatewayUnsupported are the plugin's fields converge does not honour.
var gatewayUnsupported = []string{
	"grpcRoute", "grpcRoutes", "tcpRoute", "tcpRoutes", "tlsRoute", "tlsRoutes",
	"httpRouteSelector", "grpcRouteSelector", "tcpRouteSelector", "tlsRouteSelector",
	"inProgressLabelKey", "inProgressLabelValue",
}

// gatewayRuleName is the pattern of an HTTPRoute rule's name.
var gatewayRuleName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

type gatewayAPIRouter struct {
	routes    []GatewayAPIHTTPRoute
	namespace string // empty: the Rollout's
	managed   []ManagedRoute
}

func newGatewayAPIRouter(raw json.RawMessage, managed []ManagedRoute) (TrafficRouter, error) {
	const p = "spec.strategy.canary.trafficRouting.plugins." + GatewayAPIPlugin
	if err := checkManagedRoutes(managed); err != nil {
		return nil, err
	}
	for i, m := range managed {
		// Header rules are named after them, with "-N" for the second
		// rule on.
		if len(m.Name) > 249 || !gatewayRuleName.MatchString(m.Name) {
			return nil, fmt.Errorf("spec.strategy.canary.trafficRouting.managedRoutes[%d]: %q cannot name an HTTPRoute rule (lower-case letters, digits, '-' and '.')", i, m.Name)
		}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%s: is not a map", p)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "httpRoute" || k == "httpRoutes" || k == "namespace":
		case k == "disableInProgressLabel":
			var b bool
			if err := json.Unmarshal(fields[k], &b); err != nil {
				return nil, fmt.Errorf("%s.%s: is not a boolean", p, k)
			}
			delete(fields, k) // converge never adds the label
		case slices.Contains(gatewayUnsupported, k):
			return nil, unsupported(p + "." + k)
		default:
			return nil, fmt.Errorf("%s.%s: unknown field", p, k)
		}
	}
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var cfg GatewayAPIRouting
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	g := &gatewayAPIRouter{namespace: cfg.Namespace, managed: managed}
	routes := slices.Clone(cfg.HTTPRoutes)
	if cfg.HTTPRoute != "" {
		// As the plugin reads it: a route of its own, with header routes.
		routes = append(routes, GatewayAPIHTTPRoute{Name: cfg.HTTPRoute, UseHeaderRoutes: true})
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("%s: httpRoute or httpRoutes is required", p)
	}
	for i, route := range routes {
		if route.Name == "" {
			return nil, fmt.Errorf("%s.httpRoutes[%d].name is required", p, i)
		}
		for _, prev := range g.routes {
			if prev.Name == route.Name {
				return nil, fmt.Errorf("%s: HTTPRoute %q is named twice", p, route.Name)
			}
		}
		g.routes = append(g.routes, route)
	}
	return g, nil
}

type gatewayTarget struct {
	canary, stable string
	namespace      string // the Services'
	weight         int64
}

func (g *gatewayAPIRouter) target(r *Rollout, t Traffic) (gatewayTarget, []HeaderRoute, string, error) {
	canary, stable, err := routedServices(r, true)
	if err != nil {
		return gatewayTarget{}, nil, "", err
	}
	if err := checkWeight(r, t); err != nil {
		return gatewayTarget{}, nil, "", err
	}
	hrs, err := activeHeaderRoutes(r, g.managed, t)
	if err != nil {
		return gatewayTarget{}, nil, "", err
	}
	ns := g.namespace
	if ns == "" {
		ns = r.Namespace
	}
	return gatewayTarget{canary: canary, stable: stable, namespace: r.Namespace, weight: int64(t.Weight)}, hrs, ns, nil
}

// Route weighs the HTTPRoutes and writes their header rules; see the
// comment at the top of the file.
func (g *gatewayAPIRouter) Route(set *object.Set, r *Rollout, t Traffic) error {
	gt, hrs, ns, err := g.target(r, t)
	if err != nil {
		return err
	}
	var out []*unstructured.Unstructured
	for _, ref := range g.routes {
		obj, err := routeObject(set, r, gatewayHTTPRoute, ns, ref.Name)
		if err != nil {
			return err
		}
		route := obj.DeepCopy()
		if err := g.routeHTTPRoute(route, ref, gt, hrs); err != nil {
			return routeError(r, obj, err)
		}
		out = append(out, route)
	}
	return putObjects(set, r, out...)
}

// Verify reports whether the live HTTPRoutes are what Route makes of
// them: their weights, and their header rules.
func (g *gatewayAPIRouter) Verify(ctx context.Context, live Reader, r *Rollout, t Traffic) (bool, error) {
	gt, hrs, ns, err := g.target(r, t)
	if err != nil {
		return false, err
	}
	for _, ref := range g.routes {
		route, found, err := lookupServed(ctx, live, gatewayHTTPRoute.Group, gatewayHTTPRoute.Kind, gatewayVersions, ns, ref.Name)
		if err != nil || !found {
			return false, err
		}
		want := route.DeepCopy()
		if err := g.routeHTTPRoute(want, ref, gt, hrs); err != nil {
			return false, nil
		}
		if !liveContains(want.Object["spec"], route.Object["spec"]) {
			return false, nil
		}
	}
	return true, nil
}

// routeHTTPRoute edits route in place.
func (g *gatewayAPIRouter) routeHTTPRoute(route *unstructured.Unstructured, ref GatewayAPIHTTPRoute, gt gatewayTarget, hrs []HeaderRoute) error {
	spec, ok, err := optMap(route.Object, "spec", "spec")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("spec is missing")
	}
	routeNS := route.GetNamespace()
	rules, _, err := optList(spec, "rules", "spec.rules")
	if err != nil {
		return err
	}
	managed := managedNames(g.managed)
	type source struct {
		rule   map[string]any
		canary map[string]any // its first canary backendRef
	}
	var kept []any
	var sources []source
	for i, v := range rules {
		p := fmt.Sprintf("spec.rules[%d]", i)
		rule, err := fieldMap(v, p)
		if err != nil {
			return err
		}
		name, _, err := optString(rule, "name", p+".name")
		if err != nil {
			return err
		}
		if ref.UseHeaderRoutes && gatewayManagedRule(name, managed) {
			continue // the router's own: rewritten below when asked for
		}
		kept = append(kept, rule)
		canary, err := gt.weigh(rule, p, routeNS)
		if err != nil {
			return err
		}
		if canary != nil {
			sources = append(sources, source{rule, canary})
		}
	}
	if len(sources) == 0 {
		return fmt.Errorf("spec.rules: no rule has backendRefs to both the canaryService %s and the stableService %s", gt.canary, gt.stable)
	}
	if ref.UseHeaderRoutes {
		for _, hr := range hrs {
			for i, src := range sources {
				name := hr.Name
				if i > 0 {
					name += "-" + strconv.Itoa(i)
				}
				rule, err := gatewayHeaderRule(name, hr, src.rule, src.canary)
				if err != nil {
					return err
				}
				kept = append(kept, rule)
			}
		}
	}
	if len(kept) > gatewayMaxRules {
		return fmt.Errorf("spec.rules: with the header routes there would be %d rules, more than the %d an HTTPRoute may hold", len(kept), gatewayMaxRules)
	}
	spec["rules"] = kept
	return nil
}

// gatewayManagedRule reports whether a rule's name is a managed route's,
// or one the router derives from it ("name-1").
func gatewayManagedRule(name string, managed map[string]bool) bool {
	if managed[name] {
		return true
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && managed[name[:i]] {
		n, err := strconv.Atoi(name[i+1:])
		return err == nil && n > 0 && strconv.Itoa(n) == name[i+1:]
	}
	return false
}

// weigh sets the weights of rule's refs when it references both Services,
// in place, and returns its first canary ref (nil when it does not).
func (gt gatewayTarget) weigh(rule map[string]any, p, routeNS string) (map[string]any, error) {
	refs, _, err := optList(rule, "backendRefs", p+".backendRefs")
	if err != nil {
		return nil, err
	}
	var canary, stable []map[string]any
	for j, v := range refs {
		rp := fmt.Sprintf("%s.backendRefs[%d]", p, j)
		ref, err := fieldMap(v, rp)
		if err != nil {
			return nil, err
		}
		svc, err := gatewayService(ref, rp, routeNS, gt.namespace)
		if err != nil {
			return nil, err
		}
		switch svc {
		case "":
		case gt.canary:
			canary = append(canary, ref)
		case gt.stable:
			stable = append(stable, ref)
		}
	}
	if len(canary) == 0 || len(stable) == 0 {
		return nil, nil
	}
	for _, ref := range canary {
		ref["weight"] = gt.weight
	}
	for _, ref := range stable {
		ref["weight"] = 100 - gt.weight
	}
	return canary[0], nil
}

// gatewayService returns the name of the Service in namespace ns a
// backendRef references, or "" when it references something else.
func gatewayService(ref map[string]any, p, routeNS, ns string) (string, error) {
	name, _, err := optString(ref, "name", p+".name")
	if err != nil {
		return "", err
	}
	kind, hasKind, err := optString(ref, "kind", p+".kind")
	if err != nil {
		return "", err
	}
	group, _, err := optString(ref, "group", p+".group")
	if err != nil {
		return "", err
	}
	refNS, hasNS, err := optString(ref, "namespace", p+".namespace")
	if err != nil {
		return "", err
	}
	if !hasNS {
		refNS = routeNS
	}
	if (hasKind && kind != "Service") || group != "" || refNS != ns {
		return "", nil
	}
	return name, nil
}

// gatewayHeaderRule is the plugin's header rule for one source rule.
func gatewayHeaderRule(name string, hr HeaderRoute, src, canary map[string]any) (map[string]any, error) {
	headers := make([]any, 0, len(hr.Match))
	for _, m := range hr.Match {
		h := map[string]any{"name": m.HeaderName}
		switch v := m.HeaderValue; {
		case v.Exact != "":
			h["type"], h["value"] = "Exact", v.Exact
		case v.Prefix != "":
			h["type"], h["value"] = "RegularExpression", regexp.QuoteMeta(v.Prefix)+".*"
		default:
			h["type"], h["value"] = "RegularExpression", v.Regex
		}
		headers = append(headers, h)
	}
	srcMatches, _, err := optList(src, "matches", "matches")
	if err != nil {
		return nil, fmt.Errorf("header route %q: %w", hr.Name, err)
	}
	var matches []any
	if len(srcMatches) == 0 {
		// What an empty matches means, written out as the API server
		// defaults it.
		matches = []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}, "headers": headers}}
	}
	for i, v := range srcMatches {
		m, err := fieldMap(runtime.DeepCopyJSONValue(v), fmt.Sprintf("matches[%d]", i))
		if err != nil {
			return nil, fmt.Errorf("header route %q: %w", hr.Name, err)
		}
		have, _, err := optList(m, "headers", fmt.Sprintf("matches[%d].headers", i))
		if err != nil {
			return nil, fmt.Errorf("header route %q: %w", hr.Name, err)
		}
		for _, hv := range have {
			hm, _ := hv.(map[string]any)
			hn, _ := hm["name"].(string)
			for _, m := range hr.Match {
				if strings.EqualFold(hn, m.HeaderName) {
					return nil, fmt.Errorf("header route %q: a rule it copies already matches header %s", hr.Name, hn)
				}
			}
		}
		m["headers"] = append(slices.Clone(have), runtime.DeepCopyJSONValue(headers).([]any)...)
		matches = append(matches, m)
	}
	backend := map[string]any{"group": "", "kind": "Service", "name": canary["name"]}
	for _, k := range []string{"namespace", "port"} {
		if v, ok := canary[k]; ok {
			backend[k] = runtime.DeepCopyJSONValue(v)
		}
	}
	rule := map[string]any{"name": name, "matches": matches, "backendRefs": []any{backend}}
	if filters, ok := src["filters"]; ok && filters != nil {
		rule["filters"] = runtime.DeepCopyJSONValue(filters)
	}
	return rule, nil
}
