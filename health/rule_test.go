package health_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/health"
)

func TestCompileErrors(t *testing.T) {
	cases := map[string]struct {
		reason string
		rule   health.Rule
		field  string
	}{
		"syntax error": {
			reason: "a rule that does not parse fails at load time",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "self.status.phase =="},
			field:  "Healthy",
		},
		"unknown function": {
			reason: "type-checking catches undeclared functions",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "frobnicate(self)"},
			field:  "Healthy",
		},
		"unknown variable": {
			reason: "only self is declared",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "obj.status.ready"},
			field:  "Healthy",
		},
		"not a boolean": {
			reason: "a rule must return a boolean",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "'yes'"},
			field:  "Healthy",
		},
		"message not a string": {
			reason: "the message must be a string",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "true", Message: "1 + 1"},
			field:  "Message",
		},
		"no healthy expression": {
			reason: "without a way to be healthy a wait could never end",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Degraded: "false"},
			field:  "Healthy",
		},
		"both names": {
			reason: "Healthy and Current mean the same; both is ambiguous",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "true", Current: "true"},
			field:  "Current",
		},
		"bad wildcard": {
			reason: "only a leading *. is a wildcard",
			rule:   health.Rule{Group: "example.*", Kind: "Widget", Healthy: "true"},
			field:  "",
		},
		"too long": {
			reason: "expressions are bounded",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: "true" + string(make([]byte, 5000))},
			field:  "Healthy",
		},
		"deep nesting": {
			reason: "the parser's recursion is bounded",
			rule:   health.Rule{Group: "example.com", Kind: "Widget", Healthy: repeat("(", 200) + "true" + repeat(")", 200)},
			field:  "Healthy",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := health.New(health.WithRules(tc.rule))
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, health.ErrInvalidRule)
			var re *health.RuleError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, tc.field, re.Field)
			assert.Contains(t, err.Error(), "Widget")
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func widget(status map[string]any) map[string]any {
	o := map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "ns", "generation": int64(1)},
		"spec":     map[string]any{"items": []any{}}}
	if status != nil {
		o["status"] = status
	}
	return o
}

func TestRuleEvaluation(t *testing.T) {
	argo := health.Rule{Group: "example.com", Kind: "Widget",
		Healthy:     `self.status.phase == "Ready"`,
		Degraded:    `self.status.phase == "Failed"`,
		Progressing: `self.status.phase == "Pending"`,
		Suspended:   `has(self.spec.paused) && self.spec.paused`,
		Message:     `"phase " + self.status.phase`,
	}
	flux := health.Rule{Group: "example.com", Kind: "Widget",
		Current:    `self.status.phase == "Ready"`,
		Failed:     `self.status.phase == "Failed"`,
		InProgress: `self.status.phase == "Pending"`,
	}
	cases := map[string]struct {
		reason string
		rule   health.Rule
		obj    map[string]any
		want   health.Status
		why    string
	}{
		"healthy":        {reason: "Healthy is true", rule: argo, obj: widget(map[string]any{"phase": "Ready"}), want: health.Healthy, why: "RuleHealthy"},
		"degraded":       {reason: "Degraded is true", rule: argo, obj: widget(map[string]any{"phase": "Failed"}), want: health.Degraded, why: "RuleDegraded"},
		"progressing":    {reason: "Progressing is true", rule: argo, obj: widget(map[string]any{"phase": "Pending"}), want: health.Progressing, why: "RuleProgressing"},
		"no match":       {reason: "nothing true yet means Progressing", rule: argo, obj: widget(map[string]any{"phase": "Starting"}), want: health.Progressing, why: "RuleNoMatch"},
		"flux current":   {reason: "Flux's names work", rule: flux, obj: widget(map[string]any{"phase": "Ready"}), want: health.Healthy, why: "RuleCurrent"},
		"flux failed":    {reason: "Flux's names work", rule: flux, obj: widget(map[string]any{"phase": "Failed"}), want: health.Degraded, why: "RuleFailed"},
		"flux progress":  {reason: "Flux's names work", rule: flux, obj: widget(map[string]any{"phase": "Pending"}), want: health.Progressing, why: "RuleInProgress"},
		"missing field":  {reason: "a rule reading a missing field is Unknown, not Healthy", rule: argo, obj: widget(nil), want: health.Unknown, why: "RuleError"},
		"wrong type":     {reason: "a number never equals a string: not Healthy", rule: argo, obj: widget(map[string]any{"phase": int64(3)}), want: health.Progressing, why: "RuleNoMatch"},
		"wrong type op":  {reason: "an operation on the wrong type fails closed", rule: health.Rule{Group: "example.com", Kind: "Widget", Healthy: "self.status.phase.startsWith('R')"}, obj: widget(map[string]any{"phase": int64(3)}), want: health.Unknown, why: "RuleError"},
		"dyn not a bool": {reason: "a dyn expression that yields a string is Unknown", rule: health.Rule{Group: "example.com", Kind: "Widget", Healthy: "self.status.phase"}, obj: widget(map[string]any{"phase": "Ready"}), want: health.Unknown, why: "RuleError"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, health.WithRules(tc.rule))
			got := e.Check(obj(tc.obj))
			assert.Equal(t, tc.want, got.Status, "%s: %s", tc.reason, got)
			assert.Equal(t, tc.why, got.Reason, tc.reason)
		})
	}
	e := newEngine(t, health.WithRules(argo))
	assert.Equal(t, "phase Ready", e.Check(obj(widget(map[string]any{"phase": "Ready"}))).Message, "the Message expression is used")
}

// TestRuleCostLimit: a rule that would run (nearly) forever is stopped by
// the cost limit and the object is Unknown.
func TestRuleCostLimit(t *testing.T) {
	rule := health.Rule{Group: "example.com", Kind: "Widget",
		Healthy: `self.spec.items.all(a, self.spec.items.all(b, self.spec.items.all(c, a + b + c >= 0)))`}
	e := newEngine(t, health.WithRules(rule))
	o := widget(map[string]any{})
	items := make([]any, 2000)
	for i := range items {
		items[i] = int64(i)
	}
	o["spec"] = map[string]any{"items": items}
	got := e.Check(obj(o))
	assert.Equal(t, health.Unknown, got.Status, got.String())
	assert.Equal(t, "RuleCostExceeded", got.Reason)

	o["spec"] = map[string]any{"items": []any{int64(1), int64(2)}}
	assert.Equal(t, health.Healthy, e.Check(obj(o)).Status, "the same rule on a small list is within the limit")
}

func TestRuleMatching(t *testing.T) {
	rs, err := health.CompileRules([]health.Rule{
		{Group: "example.com", Kind: "Widget", Healthy: "true"},
		{Group: "*.example.org", Kind: "*", Healthy: "true"},
		{Group: "things.io", Healthy: "true"},
	}, health.DefaultRuleOptions())
	require.NoError(t, err)
	cases := map[string]struct {
		gk   schema.GroupKind
		want bool
	}{
		"exact":               {schema.GroupKind{Group: "example.com", Kind: "Widget"}, true},
		"other kind":          {schema.GroupKind{Group: "example.com", Kind: "Gadget"}, false},
		"suffix":              {schema.GroupKind{Group: "s3.example.org", Kind: "Bucket"}, true},
		"suffix needs a dot":  {schema.GroupKind{Group: "badexample.org", Kind: "Bucket"}, false},
		"bare suffix":         {schema.GroupKind{Group: "example.org", Kind: "Bucket"}, false},
		"any kind of a group": {schema.GroupKind{Group: "things.io", Kind: "Anything"}, true},
	}
	for name, tc := range cases {
		assert.Equal(t, tc.want, rs.Supports(tc.gk), name)
	}
}

// TestHostRuleOverridesBuiltin: a host's rule for a kind that has a built-in
// rule wins.
func TestHostRuleOverridesBuiltin(t *testing.T) {
	e := newEngine(t, health.WithRules(health.Rule{Group: "cert-manager.io", Kind: "Certificate", Healthy: "true"}))
	got := e.Check(obj(map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": map[string]any{"name": "c"}}))
	assert.Equal(t, health.Healthy, got.Status)
	e = newEngine(t, health.WithoutBuiltinRules())
	got = e.Check(obj(map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": map[string]any{"name": "c"}}))
	assert.Equal(t, health.Unknown, got.Status, "without built-in rules a Certificate with no status is Unknown")
}
