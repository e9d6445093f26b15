package rollout

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// LabelRevision is the label converge adds to a revision's pods and to the
// selectors of the Services that must reach only that revision. It is
// Argo Rollouts' name, so that dashboards and policies keyed on it keep
// working.
const LabelRevision = "rollouts-pod-template-hash"

// Reader reads live objects, from memory when it can: a cluster.Cache
// satisfies it. found is false when there is no such object.
type Reader interface {
	Lookup(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (obj *unstructured.Unstructured, found bool, err error)
}

// Traffic is the split a TrafficRouter is asked to put in place.
type Traffic struct {
	// Weight is the percentage of requests sent to the canary, 0 to 100.
	Weight int32
	// HeaderRoutes send the requests they match to the canary whatever
	// the weight, in the order of the trafficRouting's managedRoutes.
	HeaderRoutes []HeaderRoute
	// Canary and Stable are the revisions' hashes (LabelRevision), for
	// routers that pin subsets to them.
	Canary, Stable string
}

// HeaderRoute is a route set by a setHeaderRoute step.
type HeaderRoute struct {
	Name  string             `json:"name"`
	Match []HeaderRouteMatch `json:"match"`
}

// TrafficRouter splits a canary's traffic between its stable and canary
// Services. It works on the objects about to be applied, so that the
// routes are owned, diffed, self-healed and pruned like every other
// object: Route edits the route objects of the set (or adds the ones
// the router owns, such as NGINX's canary Ingress), and Verify reports
// whether the live objects carry the split yet.
type TrafficRouter interface {
	// Route edits set so that it sends t. A route object the Rollout
	// names that is not in set is an error that names it.
	Route(set *object.Set, r *Rollout, t Traffic) error
	// Verify reports whether the live objects send t; false with a nil
	// error means not yet.
	Verify(ctx context.Context, live Reader, r *Rollout, t Traffic) (bool, error)
}

// RouterFor returns the router r's trafficRouting names, or nil for a
// canary without one (its split is the ratio of replicas) and for a
// blue-green rollout.
func RouterFor(r *Rollout) (TrafficRouter, error) {
	c := r.Spec.Strategy.Canary
	if c == nil || c.TrafficRouting == nil {
		return nil, nil
	}
	tr := c.TrafficRouting
	var router TrafficRouter
	var err error
	switch {
	case tr.Istio != nil:
		router, err = newIstioRouter(tr.Istio, tr.ManagedRoutes)
	case tr.Nginx != nil:
		router, err = newNginxRouter(tr.Nginx, tr.ManagedRoutes)
	case tr.SMI != nil:
		router, err = newSMIRouter(tr.SMI, tr.ManagedRoutes)
	case tr.Plugins[GatewayAPIPlugin] != nil:
		router, err = newGatewayAPIRouter(tr.Plugins[GatewayAPIPlugin], tr.ManagedRoutes)
	default:
		err = errors.New("spec.strategy.canary.trafficRouting names no router")
	}
	if err != nil {
		return nil, fmt.Errorf("rollout %s: %w", r, err)
	}
	return router, nil
}

// setObject returns the object of set with gvk's group and kind, ns and
// name, or an error that names it.
func setObject(set *object.Set, gk schema.GroupKind, ns, name string) (*unstructured.Unstructured, error) {
	id := object.ID{Group: gk.Group, Kind: gk.Kind, Namespace: ns, Name: name}
	obj, ok := set.Get(id)
	if !ok {
		return nil, fmt.Errorf("%s is not among the rendered objects: converge routes traffic through the objects it applies", id)
	}
	return obj, nil
}
