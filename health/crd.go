package health

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CRDs finds the live CustomResourceDefinition of a kind, so that an
// [Engine] given [WithCRDs] can decide a custom resource nobody wrote a
// rule for from the CRD the cluster actually serves, whoever applied it
// (another unit, a "CRDs first" layout, a Helm chart's crds/ folder). The
// cluster package's View satisfies it from a watch of CRDs. The contract:
//
//   - CRD returns the CRD whose spec.group and spec.names.kind are gk's,
//     or found false when the cluster has none. The object holds at least
//     spec.group, spec.names and spec.versions with each version's name
//     and subresources; the caller does not modify it.
//   - It reads memory: no request to the API server per call (a watch
//     started on first use is fine), because the engine asks on every
//     check of such an object. It waits (for that watch to sync) no longer
//     than ctx allows, and bounds the wait itself when ctx does not: a
//     check called without a context ([Engine.Check]) must not hang.
//   - It is safe for concurrent use.
type CRDs interface {
	CRD(ctx context.Context, gk schema.GroupKind) (crd *unstructured.Unstructured, found bool, err error)
}

// CRDsFunc adapts a function to [CRDs].
type CRDsFunc func(ctx context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error)

// CRD calls f(ctx, gk).
func (f CRDsFunc) CRD(ctx context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
	return f(ctx, gk)
}

var _ CRDs = CRDsFunc(nil)

// WithCRDs lets the engine decide, from its live CRD read through crds, a
// custom resource that no checker, override or rule covers and that says
// nothing about itself (no status, or a status with neither conditions
// nor an observedGeneration). Without it such an object is [Unknown]:
//
//   - Its CRD defines no status subresource (for the object's version):
//     [Healthy] once it exists, reason "NoStatusSubresource". The API
//     server keeps no status for such a kind apart from the object itself,
//     so no controller is expected to report on it and waiting for one
//     would never end.
//   - Its CRD has a status subresource but the status is still empty:
//     [Unknown], reason "NoStatus", as without WithCRDs: a controller is
//     expected to write it, and until it does nothing says the object
//     works. Some kinds have a status subresource no controller fills
//     (prometheus-operator's ServiceMonitor, PodMonitor, PrometheusRule);
//     give those an override ([WithOverrides]), skip them in waits
//     ([WaitOptions.Skip]), or opt in to [WithEmptyStatusHealthy].
//   - The object reports on itself (conditions, observedGeneration): the
//     generic rules decide (kstatus's, with converge's stricter checks),
//     whatever its CRD says.
//   - crds knows no CRD for the kind: the generic rules decide, as without
//     WithCRDs. An error reading it is Unknown with reason "CRDError".
//
// A CRD's status subresource is read per check, so a CRD changed on the
// cluster is followed without restarting the engine.
func WithCRDs(crds CRDs) Option {
	return func(cfg *config) { cfg.crds = crds }
}

// WithEmptyStatusHealthy makes a custom resource whose CRD has a status
// subresource but whose status is still empty (absent or {}) Healthy once
// it exists, reason "EmptyStatus", instead of Unknown. It needs
// [WithCRDs] (without the CRD nothing tells a kind that has a status
// subresource from one that has none) and applies to every such kind.
// It is opt-in because it trades safety for progress: an object whose
// controller is down, or slow to write its first status, passes a wait
// too. Prefer [WithOverrides] for the few kinds known never to report.
func WithEmptyStatusHealthy() Option {
	return func(cfg *config) { cfg.emptyStatusHealthy = true }
}

// Reasons the generic rule for custom resources gives an object that says
// nothing about itself; WithCRDs looks at its CRD for them.
const (
	reasonNoStatus     = "NoStatus"
	reasonNoConditions = "NoConditions"
)

// fromCRD decides obj, a custom resource for which the generic rules gave
// generic (reason NoStatus or NoConditions), from its live CRD.
func (e *Engine) fromCRD(ctx context.Context, o map[string]any, gk schema.GroupKind, generic Result) Result {
	crd, found, err := e.crds.CRD(ctx, gk)
	if err != nil {
		return Result{Status: Unknown, Reason: "CRDError", Message: fmt.Sprintf("read the CRD of %s: %v", gk, err)}
	}
	if !found || crd == nil {
		return generic
	}
	version := ""
	if av, ok := o["apiVersion"].(string); ok {
		_, version = splitAPIVersion(av)
	}
	has, err := statusSubresource(crd.Object, version)
	if err != nil {
		return Result{Status: Unknown, Reason: "InvalidCRD", Message: fmt.Sprintf("CRD %s of %s: %v", crd.GetName(), gk, err)}
	}
	if !has {
		return Result{Status: Healthy, Reason: "NoStatusSubresource",
			Message: "its CRD defines no status subresource, so nothing reports on it: healthy once it exists"}
	}
	if generic.Reason == reasonNoStatus {
		if e.emptyStatusHealthy {
			return Result{Status: Healthy, Reason: "EmptyStatus",
				Message: "its status is empty and the host counts an empty status as healthy"}
		}
		generic.Message = "its CRD has a status subresource but nothing has written the status yet; " +
			"if no controller ever does, give " + gk.String() + " a health override or skip it in waits"
	}
	return generic
}

// statusSubresource reports whether the CRD crd gives version a status
// subresource. When no version of the CRD is called version (an object
// read at a version the CRD no longer lists), any version that has one
// counts, so that the answer errs towards waiting.
func statusSubresource(crd map[string]any, version string) (bool, error) {
	versions, err := list(crd, "spec", "versions")
	if err != nil {
		return false, err
	}
	anyHas := false
	for i, v := range versions {
		m, ok := v.(map[string]any)
		if !ok {
			return false, fmt.Errorf(".spec.versions[%d] is %s, not an object", i, typeName(v))
		}
		name, err := str(m, "name")
		if err != nil {
			return false, fmt.Errorf(".spec.versions[%d]: %w", i, err)
		}
		sub, found, err := field(m, "subresources", "status")
		if err != nil {
			return false, fmt.Errorf(".spec.versions[%d]: %w", i, err)
		}
		if _, isMap := sub.(map[string]any); found && !isMap {
			return false, fmt.Errorf(".spec.versions[%d].subresources.status is %s, not an object", i, typeName(sub))
		}
		if name == version && version != "" {
			return found, nil
		}
		anyHas = anyHas || found
	}
	return anyHas, nil
}

// splitAPIVersion splits "group/version" ("v1" is the core group).
func splitAPIVersion(av string) (group, version string) {
	for i := 0; i < len(av); i++ {
		if av[i] == '/' {
			return av[:i], av[i+1:]
		}
	}
	return "", av
}
