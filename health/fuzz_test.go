package health_test

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/health"
)

// FuzzCompileRules: any expression either compiles or fails with a
// *RuleError; a compiled rule checks any object without panicking.
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
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "generation": int64(2)},
		"spec":     map[string]any{"items": []any{int64(1), "two", 3.5, nil, map[string]any{"a": true}}},
		"status": map[string]any{"phase": "Ready", "observedGeneration": int64(2),
			"conditions": []any{map[string]any{"type": "Ready", "status": "True"}, "junk"}},
	}}
	f.Fuzz(func(t *testing.T, expr string) {
		rs, err := health.CompileRules([]health.Rule{{Group: "example.com", Kind: "Widget", Healthy: expr, Degraded: expr}}, health.DefaultRuleOptions())
		if err != nil {
			return
		}
		r := rs.Check(obj)
		if !r.Status.Valid() {
			t.Fatalf("invalid status %q", r.Status)
		}
	})
}

// FuzzCheck: any JSON object checks without a panic, to a valid status
// with a reason; and a Healthy verdict never comes with malformed
// conditions.
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
		`{"kind":7,"apiVersion":[]}`,
	} {
		f.Add(s)
	}
	e, err := health.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		normalize(m)
		r := e.Check(&unstructured.Unstructured{Object: m})
		if !r.Status.Valid() || r.Reason == "" {
			t.Fatalf("bad result %+v", r)
		}
		if r.Status == health.Healthy {
			if st, ok := m["status"].(map[string]any); ok {
				if c, ok := st["conditions"]; ok && c != nil {
					if _, isList := c.([]any); !isList {
						t.Fatalf("Healthy with conditions %T", c)
					}
				}
			}
		}
	})
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
