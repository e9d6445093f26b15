package rollout

import (
	"context"
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

// The NGINX router writes the canary Ingress Argo Rollouts' NGINX
// reconciler writes (rollout/trafficrouting/nginx/nginx.go), for each
// stable Ingress: named <rollout>-<ingress>-canary (cut to fit 253
// characters), with the stable Ingress's ingressClassName, TLS and
// kubernetes.io/ingress.class annotation, and a copy of each of its rules
// that has a path to the stableService, those paths sent to the
// canaryService. Its annotations are <prefix>/canary: "true",
// <prefix>/canary-weight: the weight, and additionalIngressAnnotations
// (prefixed when they are not). converge adds it to the set, marked with
// AnnotationRouteOf; an Ingress of that name in the set without the mark
// is an error, as Rollouts refuses a canary Ingress it does not control.
//
// Where it differs: Rollouts ignores setHeaderRoute with NGINX (its
// validation refuses the step); converge routes one header route through
// NGINX's header annotations: canary-by-header names the header, an exact
// match is canary-by-header-value, a regex canary-by-header-pattern
// anchored as the other routers match (^(?:regex)$), a prefix the pattern
// ^<quoted prefix>. More than one header route, or one with more than one
// match, is an error, and so is a header route while
// additionalIngressAnnotations set canary-by-header themselves. A rule
// without http is skipped (Rollouts would crash on it); stableIngress and
// stableIngresses both set is an error (Rollouts takes stableIngresses);
// additionalIngressAnnotations that set canary or canary-weight, which
// Rollouts silently overwrites, are refused; only networking.k8s.io/v1
// Ingresses are routed; the canary Ingress has no owner reference (there
// is no Rollout object in the cluster to own it).

var nginxIngress = schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}

const (
	nginxVersion       = "v1"
	nginxDefaultPrefix = "nginx.ingress.kubernetes.io"
	nginxCanarySuffix  = "-canary"
)

// nginxHeaderKeys are the header annotations, without their prefix.
var nginxHeaderKeys = []string{"canary-by-header", "canary-by-header-value", "canary-by-header-pattern"}

type nginxRouter struct {
	ingresses  []string
	prefix     string
	additional map[string]string // keys prefixed
	managed    []ManagedRoute
}

func newNginxRouter(cfg *NginxRouting, managed []ManagedRoute) (TrafficRouter, error) {
	const p = "spec.strategy.canary.trafficRouting.nginx"
	if cfg == nil {
		return nil, fmt.Errorf("%s is required", p)
	}
	if err := checkManagedRoutes(managed); err != nil {
		return nil, err
	}
	n := &nginxRouter{prefix: cfg.AnnotationPrefix, additional: map[string]string{}, managed: managed}
	if n.prefix == "" {
		n.prefix = nginxDefaultPrefix
	}
	switch {
	case cfg.StableIngress != "" && len(cfg.StableIngresses) > 0:
		return nil, fmt.Errorf("%s: stableIngress and stableIngresses are both set", p)
	case cfg.StableIngress != "":
		n.ingresses = []string{cfg.StableIngress}
	case len(cfg.StableIngresses) > 0:
		for i, name := range cfg.StableIngresses {
			if name == "" || slices.Contains(n.ingresses, name) {
				return nil, fmt.Errorf("%s.stableIngresses[%d]: %q is empty or named twice", p, i, name)
			}
			n.ingresses = append(n.ingresses, name)
		}
	default:
		return nil, fmt.Errorf("%s: one of stableIngress and stableIngresses is required", p)
	}
	keys := make([]string, 0, len(cfg.AdditionalIngressAnnotations))
	for k := range cfg.AdditionalIngressAnnotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		full := k
		if !strings.HasPrefix(k, n.prefix) {
			full = n.prefix + "/" + k
		}
		if full == n.key("canary") || full == n.key("canary-weight") {
			return nil, fmt.Errorf("%s.additionalIngressAnnotations.%s: converge sets %s itself", p, k, full)
		}
		if _, dup := n.additional[full]; dup {
			return nil, fmt.Errorf("%s.additionalIngressAnnotations.%s: %s is set twice", p, k, full)
		}
		n.additional[full] = cfg.AdditionalIngressAnnotations[k]
	}
	return n, nil
}

func (n *nginxRouter) key(name string) string { return n.prefix + "/" + name }

// nginxCanaryName is Rollouts' GetCanaryIngressName.
func nginxCanaryName(rollout, ingress string) string {
	prefix := rollout + "-" + ingress
	if limit := 253 - len(nginxCanarySuffix); len(prefix) > limit {
		prefix = prefix[:limit]
	}
	return prefix + nginxCanarySuffix
}

// annotations returns the canary Ingresses' annotations for t, besides
// the stable Ingress's class.
func (n *nginxRouter) annotations(r *Rollout, t Traffic) (map[string]string, error) {
	if _, _, err := routedServices(r, true); err != nil {
		return nil, err
	}
	if err := checkWeight(r, t); err != nil {
		return nil, err
	}
	hrs, err := activeHeaderRoutes(r, n.managed, t)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(n.additional)+5)
	for k, v := range n.additional {
		out[k] = v
	}
	out[n.key("canary")] = "true"
	out[n.key("canary-weight")] = strconv.Itoa(int(t.Weight))
	out[AnnotationRouteOf] = r.Name
	switch {
	case len(hrs) > 1:
		return nil, fmt.Errorf("rollout %s: header routes %q and %q are both set: an NGINX canary Ingress routes by one header", r, hrs[0].Name, hrs[1].Name)
	case len(hrs) == 1:
		hr := hrs[0]
		if len(hr.Match) > 1 {
			return nil, fmt.Errorf("rollout %s: header route %q has %d matches: an NGINX canary Ingress routes by one header", r, hr.Name, len(hr.Match))
		}
		for _, k := range nginxHeaderKeys {
			if _, ok := n.additional[n.key(k)]; ok {
				return nil, fmt.Errorf("rollout %s: header route %q: additionalIngressAnnotations set %s already", r, hr.Name, n.key(k))
			}
		}
		m := hr.Match[0]
		out[n.key("canary-by-header")] = m.HeaderName
		switch v := m.HeaderValue; {
		case v.Exact != "":
			out[n.key("canary-by-header-value")] = v.Exact
		case v.Prefix != "":
			out[n.key("canary-by-header-pattern")] = "^" + regexp.QuoteMeta(v.Prefix)
		default:
			out[n.key("canary-by-header-pattern")] = "^(?:" + v.Regex + ")$"
		}
	}
	return out, nil
}

// Route adds a canary Ingress for each stable Ingress; see the comment at
// the top of the file.
func (n *nginxRouter) Route(set *object.Set, r *Rollout, t Traffic) error {
	ann, err := n.annotations(r, t)
	if err != nil {
		return err
	}
	canarySvc, stableSvc, _ := routedServices(r, true)
	var out []*unstructured.Unstructured
	for _, name := range n.ingresses {
		stable, err := routeObject(set, r, nginxIngress, r.Namespace, name)
		if err != nil {
			return err
		}
		canary, err := nginxCanary(stable, nginxCanaryName(r.Name, name), ann, canarySvc, stableSvc)
		if err != nil {
			return routeError(r, stable, err)
		}
		if prev, ok := set.Get(object.IDOf(canary)); ok && prev.GetAnnotations()[AnnotationRouteOf] != r.Name {
			return routeError(r, prev, fmt.Errorf("is in the set but is the canary Ingress converge writes for %s (it has no %s: %s annotation)", name, AnnotationRouteOf, r.Name))
		}
		out = append(out, canary)
	}
	return putObjects(set, r, out...)
}

// Verify reports whether each live canary Ingress has the annotations of
// t, and none of the header annotations t does not set.
func (n *nginxRouter) Verify(ctx context.Context, live Reader, r *Rollout, t Traffic) (bool, error) {
	want, err := n.annotations(r, t)
	if err != nil {
		return false, err
	}
	for _, name := range n.ingresses {
		canary, found, err := lookupServed(ctx, live, nginxIngress.Group, "Ingress", []string{nginxVersion}, r.Namespace, nginxCanaryName(r.Name, name))
		if err != nil || !found {
			return false, err
		}
		got := canary.GetAnnotations()
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return false, nil
			}
		}
		for _, k := range nginxHeaderKeys {
			if _, ok := want[n.key(k)]; !ok {
				if _, has := got[n.key(k)]; has {
					return false, nil
				}
			}
		}
	}
	return true, nil
}

// nginxCanary builds the canary Ingress of stable.
func nginxCanary(stable *unstructured.Unstructured, name string, ann map[string]string, canarySvc, stableSvc string) (*unstructured.Unstructured, error) {
	if v := stable.GetAPIVersion(); v != nginxIngress.Group+"/"+nginxVersion {
		return nil, fmt.Errorf("is %s: converge routes %s/%s Ingresses", v, nginxIngress.Group, nginxVersion)
	}
	spec, ok, err := optMap(stable.Object, "spec", "spec")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("spec is missing")
	}
	rulesIn, _, err := optList(spec, "rules", "spec.rules")
	if err != nil {
		return nil, err
	}
	var rules []any
	for i, v := range rulesIn {
		p := fmt.Sprintf("spec.rules[%d]", i)
		rule, err := fieldMap(runtime.DeepCopyJSONValue(v), p)
		if err != nil {
			return nil, err
		}
		http, ok, err := optMap(rule, "http", p+".http")
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		paths, _, err := optList(http, "paths", p+".http.paths")
		if err != nil {
			return nil, err
		}
		routed := false
		for j, pv := range paths {
			pp := fmt.Sprintf("%s.http.paths[%d]", p, j)
			path, err := fieldMap(pv, pp)
			if err != nil {
				return nil, err
			}
			backend, _, err := optMap(path, "backend", pp+".backend")
			if err != nil {
				return nil, err
			}
			svc, _, err := optMap(backend, "service", pp+".backend.service")
			if err != nil {
				return nil, err
			}
			svcName, _, err := optString(svc, "name", pp+".backend.service.name")
			if err != nil {
				return nil, err
			}
			if svcName == stableSvc {
				svc["name"], routed = canarySvc, true
			}
		}
		if routed {
			rules = append(rules, rule)
		}
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("spec.rules: no rule has a path to the stableService %s", stableSvc)
	}
	annotations := make(map[string]any, len(ann)+1)
	for k, v := range ann {
		annotations[k] = v
	}
	if class, ok := stable.GetAnnotations()["kubernetes.io/ingress.class"]; ok {
		annotations["kubernetes.io/ingress.class"] = class
	}
	canarySpec := map[string]any{"rules": rules}
	for _, k := range []string{"ingressClassName", "tls"} {
		if v, ok := spec[k]; ok && v != nil {
			canarySpec[k] = runtime.DeepCopyJSONValue(v)
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": nginxIngress.Group + "/" + nginxVersion,
		"kind":       nginxIngress.Kind,
		"metadata": map[string]any{
			"name":        name,
			"namespace":   stable.GetNamespace(),
			"annotations": annotations,
		},
		"spec": canarySpec,
	}}, nil
}
