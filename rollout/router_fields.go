package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// What the traffic routers share: the errors they return, reading the
// fields of route objects written in Git (which may hold anything), the
// header routes a Traffic asks for, and reading live objects whichever
// version the API server serves.

// AnnotationRouteOf marks an object a TrafficRouter added to the set
// rather than edited (NGINX's canary Ingress, SMI's TrafficSplit). Its
// value is the Rollout's name. A router refuses to overwrite an object of
// the name it writes that does not carry it.
const AnnotationRouteOf = "rollout.converge.dev/route-of"

// RouteError is a TrafficRouter's failure on one route object: the
// Rollout, the object, and what is wrong with which of its fields.
type RouteError struct {
	// Rollout is "namespace/name".
	Rollout string
	// Object is the route object.
	Object object.ID
	// Err names the field ("spec.http[1].route: is a string, not a list").
	Err error
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("rollout %s: %s: %v", e.Rollout, e.Object, e.Err)
}

// Unwrap returns Err.
func (e *RouteError) Unwrap() error { return e.Err }

func routeError(r *Rollout, obj *unstructured.Unstructured, err error) error {
	return &RouteError{Rollout: r.String(), Object: object.IDOf(obj), Err: err}
}

// routeObject is setObject, with the Rollout named in the error.
func routeObject(set *object.Set, r *Rollout, gk schema.GroupKind, ns, name string) (*unstructured.Unstructured, error) {
	obj, err := setObject(set, gk, ns, name)
	if err != nil {
		return nil, fmt.Errorf("rollout %s: %w", r, err)
	}
	return obj, nil
}

// putObjects puts the routed copies in the set, in place of the objects
// they were copied from; an object the router made is added after the
// others, its source naming the Rollout. Routers build every copy before
// calling it, so that a failed Route leaves the set as it was.
func putObjects(set *object.Set, r *Rollout, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		if _, ok := set.Get(object.IDOf(obj)); ok {
			if err := set.Replace(obj); err != nil {
				return err
			}
			continue
		}
		if err := set.Add(obj, "rollout "+r.String()); err != nil {
			return err
		}
	}
	return nil
}

// routedServices returns the canary's and the stable revision's Services.
// Routers that pin subsets instead (Istio with a DestinationRule) do not
// need them.
func routedServices(r *Rollout, required bool) (canary, stable string, err error) {
	c := r.Spec.Strategy.Canary
	if c == nil {
		return "", "", fmt.Errorf("rollout %s: traffic routing needs spec.strategy.canary", r)
	}
	if required && (c.CanaryService == "" || c.StableService == "") {
		return "", "", fmt.Errorf("rollout %s: spec.strategy.canary: trafficRouting needs canaryService and stableService", r)
	}
	return c.CanaryService, c.StableService, nil
}

func checkWeight(r *Rollout, t Traffic) error {
	if t.Weight < 0 || t.Weight > 100 {
		return fmt.Errorf("rollout %s: weight %d is not a percentage", r, t.Weight)
	}
	return nil
}

// checkManagedRoutes validates trafficRouting.managedRoutes.
func checkManagedRoutes(managed []ManagedRoute) error {
	const p = "spec.strategy.canary.trafficRouting.managedRoutes"
	seen := make(map[string]bool, len(managed))
	for i, m := range managed {
		if m.Name == "" {
			return fmt.Errorf("%s[%d].name is required", p, i)
		}
		if seen[m.Name] {
			return fmt.Errorf("%s[%d]: %q is listed twice", p, i, m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

func managedNames(managed []ManagedRoute) map[string]bool {
	names := make(map[string]bool, len(managed))
	for _, m := range managed {
		names[m.Name] = true
	}
	return names
}

// activeHeaderRoutes returns the header routes of t that match something,
// in the order of managedRoutes (a route without matches is a removed
// one, as a setHeaderRoute step without match removes it). A route that
// managedRoutes does not name, a route given twice and a malformed match
// are errors.
func activeHeaderRoutes(r *Rollout, managed []ManagedRoute, t Traffic) ([]HeaderRoute, error) {
	names := managedNames(managed)
	byName := make(map[string]HeaderRoute, len(t.HeaderRoutes))
	for _, hr := range t.HeaderRoutes {
		if _, dup := byName[hr.Name]; dup {
			return nil, fmt.Errorf("rollout %s: header route %q is given twice", r, hr.Name)
		}
		if !names[hr.Name] {
			return nil, fmt.Errorf("rollout %s: header route %q is not in spec.strategy.canary.trafficRouting.managedRoutes", r, hr.Name)
		}
		for i, m := range hr.Match {
			n := 0
			for _, s := range []string{m.HeaderValue.Exact, m.HeaderValue.Prefix, m.HeaderValue.Regex} {
				if s != "" {
					n++
				}
			}
			if m.HeaderName == "" || n != 1 {
				return nil, fmt.Errorf("rollout %s: header route %q: match[%d]: a headerName and exactly one of exact, prefix and regex are required", r, hr.Name, i)
			}
		}
		byName[hr.Name] = hr
	}
	var out []HeaderRoute
	for _, m := range managed {
		if hr, ok := byName[m.Name]; ok && len(hr.Match) > 0 {
			out = append(out, hr)
		}
	}
	return out, nil
}

// The field readers below take what a manifest holds (JSON values: maps,
// lists, strings, int64 or float64 numbers, booleans, nil) and a path for
// the error, and never panic on a value of the wrong type.

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int32, int64, float32, float64, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

func fieldMap(v any, p string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: is %s, not a map", p, jsonKind(v))
	}
	return m, nil
}

func fieldList(v any, p string) ([]any, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: is %s, not a list", p, jsonKind(v))
	}
	return l, nil
}

// optMap, optList and optString read m[key]; found is false when the key
// is absent or null.
func optMap(m map[string]any, key, p string) (map[string]any, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	out, err := fieldMap(v, p)
	return out, err == nil, err
}

func optList(m map[string]any, key, p string) ([]any, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	out, err := fieldList(v, p)
	return out, err == nil, err
}

func optString(m map[string]any, key, p string) (string, bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", false, fmt.Errorf("%s: is %s, not a string", p, jsonKind(v))
	}
	return s, true, nil
}

// fieldInt reads a whole number of any of the types decoders produce.
func fieldInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// liveContains reports whether got holds every field of want with the
// same value, and lists of the same length: whether the live object got
// carries what a router wrote in want, whatever fields the API server
// defaulted beside them. Numbers compare by value.
func liveContains(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !liveContains(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !liveContains(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	if wi, ok := fieldInt(want); ok {
		gi, ok := fieldInt(got)
		return ok && gi == wi
	}
	return want == got
}

// lookupServed reads a live object at the first of versions the API
// server serves, so that a router reads its objects whichever of their
// versions a cluster has installed.
func lookupServed(ctx context.Context, live Reader, group, kind string, versions []string, ns, name string) (*unstructured.Unstructured, bool, error) {
	var last error
	for _, v := range versions {
		obj, found, err := live.Lookup(ctx, schema.GroupVersionKind{Group: group, Version: v, Kind: kind}, ns, name)
		if err == nil {
			return obj, found, nil
		}
		if !meta.IsNoMatchError(err) {
			return nil, false, fmt.Errorf("read %s.%s %s/%s: %w", kind, group, ns, name, err)
		}
		last = err
	}
	if last == nil {
		last = errors.New("no version to read")
	}
	return nil, false, fmt.Errorf("read %s.%s %s/%s: the API server serves none of %s: %w", kind, group, ns, name, strings.Join(versions, ", "), last)
}
