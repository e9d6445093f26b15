package health_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/health"
)

// crdMap is CRDs over a map, counting lookups.
type crdMap struct {
	crds  map[schema.GroupKind]*unstructured.Unstructured
	err   error
	calls atomic.Int64
}

func (m *crdMap) CRD(_ context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
	m.calls.Add(1)
	if m.err != nil {
		return nil, false, m.err
	}
	c, ok := m.crds[gk]
	return c, ok, nil
}

// versionedCRD returns a CRD for gk whose versions have a status
// subresource where status says so.
func versionedCRD(gk schema.GroupKind, status map[string]bool) *unstructured.Unstructured {
	c := testCRD(gk, false)
	var versions []any
	for _, name := range []string{"v1", "v2"} {
		has, listed := status[name]
		if !listed {
			continue
		}
		v := map[string]any{"name": name, "served": true, "storage": name == "v1"}
		if has {
			v["subresources"] = map[string]any{"status": map[string]any{}}
		}
		versions = append(versions, v)
	}
	c.Object["spec"].(map[string]any)["versions"] = versions
	return c
}

// TestCRDDecidesSilentCustomResources: with WithCRDs, a custom resource
// without a rule that says nothing about itself is decided by its live
// CRD; one that reports on itself, and every kind with a rule of its own,
// is decided as before.
func TestCRDDecidesSilentCustomResources(t *testing.T) {
	gizmo := schema.GroupKind{Group: "example.com", Kind: "Gizmo"}   // no status subresource
	gadget := schema.GroupKind{Group: "example.com", Kind: "Gadget"} // a status subresource
	mixed := schema.GroupKind{Group: "example.com", Kind: "Mixed"}   // v1 without, v2 with
	crds := &crdMap{crds: map[schema.GroupKind]*unstructured.Unstructured{
		gizmo:  testCRD(gizmo, false),
		gadget: testCRD(gadget, true),
		mixed:  versionedCRD(mixed, map[string]bool{"v1": false, "v2": true}),
		{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}: testCRD(schema.GroupKind{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}, false),
	}}
	cr := func(gk schema.GroupKind, version string, status any, meta ...string) *unstructured.Unstructured {
		md := map[string]any{"name": "x", "namespace": "ns"}
		for i := 0; i+1 < len(meta); i += 2 {
			md[meta[i]] = meta[i+1]
		}
		o := map[string]any{"apiVersion": gk.Group + "/" + version, "kind": gk.Kind, "metadata": md}
		if status != nil {
			o["status"] = status
		}
		return obj(o)
	}
	ready := map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "Waiting"}}}
	cases := map[string]struct {
		reason      string
		obj         *unstructured.Unstructured
		emptyOK     bool
		want        health.Status
		why         string
		noCRDLookup bool
	}{
		"no subresource, no status": {
			reason: "nothing can report on it: existing is enough",
			obj:    cr(gizmo, "v1", nil), want: health.Healthy, why: "NoStatusSubresource",
		},
		"no subresource, empty status": {
			reason: "status: {} from a manifest says nothing either",
			obj:    cr(gizmo, "v1", map[string]any{}), want: health.Healthy, why: "NoStatusSubresource",
		},
		"no subresource, status without conditions": {
			reason: "fields a manifest wrote are no report",
			obj:    cr(gizmo, "v1", map[string]any{"phase": "whatever"}), want: health.Healthy, why: "NoStatusSubresource",
		},
		"no subresource, but it reports": {
			reason: "a controller that writes status through the main resource is listened to",
			obj:    cr(gizmo, "v1", ready), want: health.Progressing, why: "Waiting",
		},
		"status subresource, no status": {
			reason: "a controller is expected to write it: safe default",
			obj:    cr(gadget, "v1", nil), want: health.Unknown, why: "NoStatus",
		},
		"status subresource, no status, host opts in": {
			reason: "WithEmptyStatusHealthy trades safety for progress",
			obj:    cr(gadget, "v1", nil), emptyOK: true, want: health.Healthy, why: "EmptyStatus",
		},
		"status subresource, status without conditions, host opts in": {
			reason: "the opt-in covers an empty status only: a written one is a report to read",
			obj:    cr(gadget, "v1", map[string]any{"phase": "x"}), emptyOK: true, want: health.Unknown, why: "NoConditions",
		},
		"status subresource, reports": {
			reason: "generic rules as before",
			obj:    cr(gadget, "v1", ready), want: health.Progressing, why: "Waiting",
		},
		"per version: v1 has none": {
			reason: "the object's own version decides",
			obj:    cr(mixed, "v1", nil), want: health.Healthy, why: "NoStatusSubresource",
		},
		"per version: v2 has one": {
			reason: "the object's own version decides",
			obj:    cr(mixed, "v2", nil), want: health.Unknown, why: "NoStatus",
		},
		"per version: an unlisted version": {
			reason: "any version with a status subresource makes it wait",
			obj:    cr(mixed, "v9", nil), want: health.Unknown, why: "NoStatus",
		},
		"no CRD": {
			reason: "a kind the CRDs do not know: as without WithCRDs",
			obj:    cr(schema.GroupKind{Group: "example.com", Kind: "Orphan"}, "v1", nil), want: health.Unknown, why: "NoStatus",
		},
		"being deleted": {
			reason: "deletion first, as everywhere",
			obj:    cr(gizmo, "v1", nil, "deletionTimestamp", "2026-01-01T00:00:00Z"), want: health.Progressing, why: "Terminating", noCRDLookup: true,
		},
		"a kind with a rule": {
			reason: "a rule decides, whatever the CRD: Flux's Kustomization without status is not Healthy",
			obj:    cr(schema.GroupKind{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}, "v1", nil), want: health.Progressing, why: "RuleInProgress", noCRDLookup: true,
		},
		"a built-in kind": {
			reason: "built-in kinds have no CRD to read",
			obj:    obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}), want: health.Healthy, why: "Exists", noCRDLookup: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := []health.Option{health.WithCRDs(crds)}
			if tc.emptyOK {
				opts = append(opts, health.WithEmptyStatusHealthy())
			}
			e := newEngine(t, opts...)
			before := crds.calls.Load()
			got := e.Check(tc.obj)
			assert.Equal(t, tc.want, got.Status, "%s: %s", tc.reason, got)
			assert.Equal(t, tc.why, got.Reason, tc.reason)
			assert.NotEmpty(t, got.Message)
			if tc.noCRDLookup {
				assert.Equal(t, before, crds.calls.Load(), "no CRD lookup: %s", tc.reason)
			}
		})
	}

	t.Run("the message says what to do", func(t *testing.T) {
		got := newEngine(t, health.WithCRDs(crds)).Check(cr(gadget, "v1", nil))
		assert.Contains(t, got.Message, "status subresource")
		assert.Contains(t, got.Message, "override")
	})
	t.Run("without WithCRDs", func(t *testing.T) {
		got := newEngine(t).Check(cr(gizmo, "v1", nil))
		assert.Equal(t, health.Unknown, got.Status, "the safe default stands without CRDs: %s", got)
	})
	t.Run("lookup error", func(t *testing.T) {
		failing := &crdMap{err: errors.New("the watch of CRDs has not synced")}
		got := newEngine(t, health.WithCRDs(failing)).Check(cr(gizmo, "v1", nil))
		assert.Equal(t, health.Unknown, got.Status)
		assert.Equal(t, "CRDError", got.Reason)
		assert.Contains(t, got.Message, "Gizmo.example.com")
		assert.Contains(t, got.Message, "not synced")
	})
	t.Run("malformed CRD", func(t *testing.T) {
		bad := testCRD(gizmo, false)
		bad.Object["spec"].(map[string]any)["versions"] = "v1"
		got := newEngine(t, health.WithCRDs(&crdMap{crds: map[schema.GroupKind]*unstructured.Unstructured{gizmo: bad}})).Check(cr(gizmo, "v1", nil))
		assert.Equal(t, health.Unknown, got.Status)
		assert.Equal(t, "InvalidCRD", got.Reason)
	})
}

// TestOverrides: an override fixes a kind's health above every rule but
// below the host's checkers, keeps deletion Progressing, and refuses
// statuses no existing object can have.
func TestOverrides(t *testing.T) {
	monitor := schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}
	kustomization := schema.GroupKind{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"}
	of := func(gk schema.GroupKind, meta ...string) *unstructured.Unstructured {
		md := map[string]any{"name": "x", "namespace": "ns"}
		for i := 0; i+1 < len(meta); i += 2 {
			md[meta[i]] = meta[i+1]
		}
		return obj(map[string]any{"apiVersion": gk.Group + "/v1", "kind": gk.Kind, "metadata": md})
	}
	e := newEngine(t, health.WithOverrides(health.Overrides{monitor: health.Healthy, kustomization: health.Suspended}))
	got := e.Check(of(monitor))
	assert.Equal(t, health.Healthy, got.Status, got.String())
	assert.Equal(t, "Override", got.Reason)
	assert.Equal(t, health.Suspended, e.Check(of(kustomization)).Status, "above the built-in CEL rules")
	assert.Equal(t, health.Progressing, e.Check(of(monitor, "deletionTimestamp", "2026-01-01T00:00:00Z")).Status, "deletion stays Progressing")
	assert.Equal(t, health.Missing, e.Check(nil).Status)

	host := health.ForKinds(health.CheckerFunc(func(*unstructured.Unstructured) health.Result {
		return health.Result{Status: health.Degraded, Reason: "Host", Message: "host"}
	}), monitor)
	e = newEngine(t, health.WithCheckers(host), health.WithOverrides(health.Overrides{monitor: health.Healthy}))
	assert.Equal(t, "Host", e.Check(of(monitor)).Reason, "the host's checkers come first")

	e = newEngine(t, health.WithOverrides(health.Overrides{monitor: health.Degraded}), health.WithOverrides(health.Overrides{monitor: health.Healthy}))
	assert.Equal(t, health.Healthy, e.Check(of(monitor)).Status, "the last override wins")

	for _, bad := range []health.Status{health.Missing, "Fine", ""} {
		_, err := health.New(health.WithOverrides(health.Overrides{monitor: bad}))
		require.ErrorIs(t, err, health.ErrInvalidOverride, "%q", bad)
		assert.Contains(t, err.Error(), "ServiceMonitor.monitoring.coreos.com")
		got := health.Overrides{monitor: bad}.Check(of(monitor))
		assert.Equal(t, health.Unknown, got.Status, "used directly: %q", bad)
		assert.Equal(t, "InvalidOverride", got.Reason)
	}
}

func TestParseOverrides(t *testing.T) {
	o, err := health.ParseOverrides("ServiceMonitor.monitoring.coreos.com=Healthy", " PrometheusRule.monitoring.coreos.com = healthy ", "Widget=Suspended")
	require.NoError(t, err)
	assert.Equal(t, health.Overrides{
		{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy,
		{Group: "monitoring.coreos.com", Kind: "PrometheusRule"}: health.Healthy,
		{Kind: "Widget"}: health.Suspended,
	}, o)
	for _, bad := range []string{"ServiceMonitor.monitoring.coreos.com", "=Healthy", "ServiceMonitor.monitoring.coreos.com=Fine",
		"ServiceMonitor.monitoring.coreos.com=Missing", "Deployment.apps/shop/api=Healthy"} {
		_, err := health.ParseOverrides(bad)
		assert.ErrorIs(t, err, health.ErrInvalidOverride, "%q", bad)
	}
}
