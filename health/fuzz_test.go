package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/health"
)

// fatalf is what the fuzz properties need of a *testing.T, so that a test
// can prove they fail.
type fatalf interface {
	Helper()
	Fatalf(format string, args ...any)
}

// FuzzCompileRules: any expression either compiles or fails with a
// *RuleError that matches ErrInvalidRule and names the rule; a compiled
// rule checks any object without panicking (RuleSet.Check has no recover),
// to a valid status with a reason.
func FuzzCompileRules(f *testing.F) {
	for _, s := range []string{
		`self.status.phase == "Ready"`,
		`self.status.conditions.exists(c, c.type == "Ready" && c.status == "True")`,
		`[1,2,3].all(a, [1,2,3].all(b, [1,2,3].all(c, true)))`,
		`self.spec.items.map(a, self.spec.items.map(b, a + b)).size() > 0`,
		`((((((((((true))))))))))`,
		`self.status.phase ==`,
		`"x" * 3`,
		`dyn(self).status`,
		`1/0 == 1`,
		`self.metadata.generation == self.status.observedGeneration`,
		`size(self.status.phase) > 2 ? true : false`,
		"\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		compileProperty(t, health.CompileRules, expr)
	})
}

// fuzzWidget is the object FuzzCompileRules's rules check: every type in
// its spec, and malformed conditions.
var fuzzWidget = map[string]any{
	"apiVersion": "example.com/v1", "kind": "Widget",
	"metadata": map[string]any{"name": "w", "generation": int64(2)},
	"spec":     map[string]any{"items": []any{int64(1), "two", 3.5, nil, map[string]any{"a": true}}},
	"status": map[string]any{"phase": "Ready", "observedGeneration": int64(2),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True"}, "junk"}},
}

// compileProperty is FuzzCompileRules's property for one expression,
// compiled by compile (CompileRules; a test passes a broken one).
func compileProperty(t fatalf, compile func([]health.Rule, health.RuleOptions) (*health.RuleSet, error), expr string) {
	t.Helper()
	rule := health.Rule{Group: "example.com", Kind: "Widget", Healthy: expr, Degraded: expr}
	rs, err := compile([]health.Rule{rule}, health.DefaultRuleOptions())
	if err != nil {
		var re *health.RuleError
		if !errors.As(err, &re) {
			t.Fatalf("compile %q: error %T is not a *health.RuleError: %v", expr, err, err)
			return
		}
		if !errors.Is(err, health.ErrInvalidRule) {
			t.Fatalf("compile %q: error does not match ErrInvalidRule: %v", expr, err)
		}
		if re.Rule != rule.String() || (re.Field != "" && re.Field != "Healthy" && re.Field != "Degraded") {
			t.Fatalf("compile %q: the error names rule %q field %q", expr, re.Rule, re.Field)
		}
		return
	}
	if rs == nil {
		t.Fatalf("compile %q: no rule set and no error", expr)
		return
	}
	r := rs.Check(&unstructured.Unstructured{Object: fuzzWidget})
	if !r.Status.Valid() || r.Reason == "" {
		t.Fatalf("check with %q: bad result %+v", expr, r)
	}
}

// FuzzCheck: any JSON object checks without a panic, to a valid status
// with a reason; and a Healthy verdict never comes with malformed
// conditions. The property is asserted on converge's rules themselves
// (health.Builtin, the built-in CEL rules' RuleSet), which have no
// recover, so a panic there fails the fuzzer; and on the Engine, whose
// recover would hide one, by refusing its "CheckPanicked" verdict.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","generation":1},"status":{"observedGeneration":1,"replicas":1,"readyReplicas":1,"availableReplicas":1,"updatedReplicas":1}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"status":{"conditions":{"type":"Ready"}}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"status":{"conditions":[{"type":"Ready","status":true}]}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":"x"},"status":{"observedGeneration":1.5}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"status":{"phase":"Running","containerStatuses":[{"state":{"terminated":{"exitCode":"1"}}}]}}`,
		`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"suspend":1},"status":{"conditions":[1,2]}}`,
		`{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"k","generation":1},"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True"}]}}`,
		`{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"r","generation":1},"status":{"observedGeneration":{"x":1},"phase":7}}`,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{"ingress":"x"}}}`,
		`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s","generation":1},"spec":{"updateStrategy":{"rollingUpdate":{"partition":"2"}}}}`,
		`{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"m","deletionTimestamp":7}}`,
		`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"status":{}}`,
		`{"kind":7,"apiVersion":[]}`,
	} {
		f.Add(s)
	}
	c, err := newFuzzCheckers()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		normalize(m)
		checkProperty(t, c, m)
	})
}

// fuzzCheckers are what FuzzCheck checks with: the engine (with CRDs that
// answer from the object's own group, so that the CRD path runs too, and an
// override), and the pieces below its recover.
type fuzzCheckers struct {
	engine *health.Engine
	rules  *health.RuleSet
}

func newFuzzCheckers() (fuzzCheckers, error) {
	rules, err := health.CompileRules(health.BuiltinRules(), health.DefaultRuleOptions())
	if err != nil {
		return fuzzCheckers{}, err
	}
	crds := health.CRDsFunc(func(_ context.Context, gk schema.GroupKind) (*unstructured.Unstructured, bool, error) {
		// Half the groups have a status subresource, decided by the name
		// so that the answer is stable.
		if len(gk.Group)%2 == 0 {
			return testCRD(gk, true), true, nil
		}
		return testCRD(gk, false), true, nil
	})
	e, err := health.New(health.WithCRDs(crds),
		health.WithOverrides(health.Overrides{{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy}))
	return fuzzCheckers{engine: e, rules: rules}, err
}

// checkProperty is FuzzCheck's property on one object.
func checkProperty(t fatalf, c fuzzCheckers, m map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: m}
	results := map[string]health.Result{"Builtin": health.Builtin(u), "Engine": c.engine.Check(u)}
	if gk := u.GroupVersionKind().GroupKind(); c.rules.Supports(gk) {
		results["RuleSet"] = c.rules.Check(u)
	}
	for by, r := range results {
		if !r.Status.Valid() || r.Reason == "" {
			t.Fatalf("%s: bad result %+v", by, r)
		}
		if r.Reason == "CheckPanicked" {
			t.Fatalf("%s: a rule of converge's panicked: %s", by, r.Message)
		}
		if r.Status == health.Healthy && r.Reason != "Override" {
			if st, ok := m["status"].(map[string]any); ok {
				if cs, ok := st["conditions"]; ok && cs != nil {
					if _, isList := cs.([]any); !isList {
						t.Fatalf("%s: Healthy with conditions %T", by, cs)
					}
				}
			}
		}
	}
}

// testCRD returns a CRD for gk with one version, v1, with or without a
// status subresource.
func testCRD(gk schema.GroupKind, status bool) *unstructured.Unstructured {
	v := map[string]any{"name": "v1", "served": true, "storage": true}
	if status {
		v["subresources"] = map[string]any{"status": map[string]any{}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "things." + gk.Group},
		"spec": map[string]any{"group": gk.Group, "names": map[string]any{"kind": gk.Kind, "plural": "things"},
			"versions": []any{v}},
	}}
}

// normalize turns integral JSON numbers into int64, as the API machinery
// decodes them.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	}
	return v
}

// recorder is a fatalf that records instead of stopping the test.
type recorder struct {
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	if !r.failed {
		r.failed, r.msg = true, fmt.Sprintf(format, args...)
	}
}

// TestFuzzPropertiesCanFail: the fuzz targets' properties fail on what
// they claim to catch. Before, FuzzCompileRules returned on any error, so
// an error of the wrong type passed; and FuzzCheck went through
// Engine.Check, whose recover turned any panic into a valid Unknown result
// that passed too.
func TestFuzzPropertiesCanFail(t *testing.T) {
	t.Run("compile error not a RuleError", func(t *testing.T) {
		var r recorder
		untyped := func([]health.Rule, health.RuleOptions) (*health.RuleSet, error) { return nil, errors.New("untyped") }
		compileProperty(&r, untyped, "true")
		assert.True(t, r.failed, "an untyped compile error must fail the property")
		assert.Contains(t, r.msg, "not a *health.RuleError")
	})
	t.Run("compile error of the right type", func(t *testing.T) {
		var r recorder
		compileProperty(&r, health.CompileRules, "self.status.phase ==")
		assert.False(t, r.failed, r.msg)
	})
	t.Run("panic below the engine's recover", func(t *testing.T) {
		var r recorder
		boom := health.ForKinds(health.CheckerFunc(func(*unstructured.Unstructured) health.Result { panic("boom") }),
			schema.GroupKind{Group: "example.com", Kind: "Widget"})
		e, err := health.New(health.WithCheckers(boom))
		require.NoError(t, err)
		c, err := newFuzzCheckers()
		require.NoError(t, err)
		c.engine = e
		checkProperty(&r, c, map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}})
		assert.True(t, r.failed, "a panic the engine recovered must fail the property")
		assert.Contains(t, r.msg, "panicked")
	})
	t.Run("clean object", func(t *testing.T) {
		var r recorder
		c, err := newFuzzCheckers()
		require.NoError(t, err)
		checkProperty(&r, c, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}})
		assert.False(t, r.failed, r.msg)
	})
}
