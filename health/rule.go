package health

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Rule is a health rule in CEL for one kind (or a family of kinds), given
// by the host as a value. Each expression sees the object as self, and its
// status.conditions keyed by type as conditions (so
// `has(conditions.Ready) && conditions.Ready.status == "True"` reads the
// Ready condition without a loop), and must return a boolean. An object whose
// conditions are malformed (not a list of objects with string fields) is
// Unknown before any expression runs.
//
//	health.Rule{
//		Group: "example.com", Kind: "Widget",
//		Healthy:  `self.status.phase == "Ready"`,
//		Degraded: `self.status.phase == "Failed"`,
//	}
//
// The expressions are tried in the order Progressing, Degraded, Suspended,
// Healthy (Flux's order: a reconciling object is not failed yet); the first
// that is true decides. When none is true the object is Progressing. An
// expression that fails at run time (a missing field, a wrong type, the
// cost limit) makes the object Unknown with reason "RuleError" or
// "RuleCostExceeded"; guard optional fields with has().
//
// Flux's names are accepted too: Current for Healthy, InProgress for
// Progressing, Failed for Degraded; giving both names of a pair is an error.
type Rule struct {
	// Group is an API group, or "*.suffix" for every group ending in
	// ".suffix".
	Group string
	// Kind is a kind, or "*" (or empty) for every kind of the group.
	Kind string

	Healthy, Progressing, Degraded, Suspended string
	Current, InProgress, Failed               string

	// Message, when set, is a CEL expression returning the result's message.
	Message string
}

func (r Rule) String() string {
	k := r.Kind
	if k == "" {
		k = "*"
	}
	if r.Group == "" {
		return k
	}
	return k + "." + r.Group
}

// RuleOptions limit CEL rules.
type RuleOptions struct {
	// CostLimit bounds the cost of one evaluation of one expression, in
	// CEL's cost units; an evaluation that would exceed it stops.
	CostLimit uint64
	// MaxExpressionLength bounds the length of an expression in bytes.
	MaxExpressionLength int
}

// DefaultRuleOptions returns a cost limit of 100,000 units (far above what
// a condition lookup costs, far below what would stall a check) and
// expressions up to 4 KiB.
func DefaultRuleOptions() RuleOptions {
	return RuleOptions{CostLimit: 100_000, MaxExpressionLength: 4096}
}

// ErrInvalidRule is matched by every error about a rule that cannot load.
var ErrInvalidRule = errors.New("invalid health rule")

// RuleError is a rule that cannot load.
type RuleError struct {
	Rule  string // the rule's kind, e.g. "Widget.example.com"
	Field string // the expression's field, e.g. "Healthy"; empty for the rule itself
	Err   error
}

func (e *RuleError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("health rule %s: %v", e.Rule, e.Err)
	}
	return fmt.Sprintf("health rule %s: %s: %v", e.Rule, e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *RuleError) Unwrap() error { return e.Err }

// Is matches [ErrInvalidRule].
func (e *RuleError) Is(target error) bool { return target == ErrInvalidRule }

// RuleSet is a compiled list of rules; the first rule that matches a kind
// checks it. It is a [KindChecker] and safe for concurrent use.
type RuleSet struct {
	exact    map[schema.GroupKind]*compiled
	wildcard []*compiled
}

type compiled struct {
	rule    Rule
	exprs   []namedProgram // in evaluation order
	message cel.Program
}

type namedProgram struct {
	status Status
	field  string
	prg    cel.Program
}

// CompileRules compiles rules. Every expression is type-checked to return
// a boolean (the message a string); any error is a [*RuleError].
func CompileRules(rules []Rule, opts RuleOptions) (*RuleSet, error) {
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultRuleOptions().CostLimit
	}
	if opts.MaxExpressionLength <= 0 {
		opts.MaxExpressionLength = DefaultRuleOptions().MaxExpressionLength
	}
	env, err := cel.NewEnv(
		cel.Variable("self", cel.DynType),
		cel.Variable("conditions", cel.MapType(cel.StringType, cel.DynType)),
		cel.ParserRecursionLimit(64),
		cel.ParserExpressionSizeLimit(opts.MaxExpressionLength),
	)
	if err != nil {
		return nil, fmt.Errorf("health: CEL environment: %w", err)
	}
	rs := &RuleSet{exact: map[schema.GroupKind]*compiled{}}
	for _, r := range rules {
		c, err := compileRule(env, r, opts)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(r.Group, "*.") || r.Kind == "" || r.Kind == "*" {
			rs.wildcard = append(rs.wildcard, c)
			continue
		}
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		if _, dup := rs.exact[gk]; !dup { // the first rule for a kind wins
			rs.exact[gk] = c
		}
	}
	return rs, nil
}

func compileRule(env *cel.Env, r Rule, opts RuleOptions) (*compiled, error) {
	fail := func(field string, err error) error {
		return &RuleError{Rule: r.String(), Field: field, Err: err}
	}
	if strings.Contains(strings.TrimPrefix(r.Group, "*."), "*") || strings.Contains(strings.TrimPrefix(r.Kind, "*"), "*") {
		return nil, fail("", errors.New(`only a leading "*." in Group and "*" as Kind are wildcards`))
	}
	if r.Group == "*." {
		return nil, fail("", errors.New(`Group "*." has an empty suffix`))
	}
	pairs := []struct {
		status       Status
		argo, flux   string
		aname, fname string
	}{
		{Progressing, r.Progressing, r.InProgress, "Progressing", "InProgress"},
		{Degraded, r.Degraded, r.Failed, "Degraded", "Failed"},
		{Suspended, r.Suspended, "", "Suspended", ""},
		{Healthy, r.Healthy, r.Current, "Healthy", "Current"},
	}
	c := &compiled{rule: r}
	for _, p := range pairs {
		src, field := p.argo, p.aname
		if p.flux != "" {
			if src != "" {
				return nil, fail(p.fname, fmt.Errorf("both %s and %s are set; use one", p.aname, p.fname))
			}
			src, field = p.flux, p.fname
		}
		if strings.TrimSpace(src) == "" {
			continue
		}
		prg, err := program(env, src, cel.BoolType, opts)
		if err != nil {
			return nil, fail(field, err)
		}
		c.exprs = append(c.exprs, namedProgram{status: p.status, field: field, prg: prg})
	}
	if len(c.exprs) == 0 || c.exprs[len(c.exprs)-1].status != Healthy {
		return nil, fail("Healthy", errors.New("a rule needs a Healthy (or Current) expression"))
	}
	if strings.TrimSpace(r.Message) != "" {
		prg, err := program(env, r.Message, cel.StringType, opts)
		if err != nil {
			return nil, fail("Message", err)
		}
		c.message = prg
	}
	return c, nil
}

func program(env *cel.Env, src string, want *cel.Type, opts RuleOptions) (cel.Program, error) {
	if len(src) > opts.MaxExpressionLength {
		return nil, fmt.Errorf("expression is %d bytes, more than the limit of %d", len(src), opts.MaxExpressionLength)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("expression returns %s, not %s", out, want)
	}
	return env.Program(ast, cel.CostLimit(opts.CostLimit), cel.EvalOptions(cel.OptOptimize))
}

// Supports reports whether a rule matches gk.
func (rs *RuleSet) Supports(gk schema.GroupKind) bool { return rs.match(gk) != nil }

func (rs *RuleSet) match(gk schema.GroupKind) *compiled {
	if rs == nil {
		return nil
	}
	if c, ok := rs.exact[gk]; ok {
		return c
	}
	for _, c := range rs.wildcard {
		g, k := c.rule.Group, c.rule.Kind
		if k != "" && k != "*" && k != gk.Kind {
			continue
		}
		if suffix, ok := strings.CutPrefix(g, "*"); ok {
			if strings.HasSuffix(gk.Group, suffix) && len(gk.Group) > len(suffix) {
				return c
			}
		} else if g == gk.Group {
			return c
		}
	}
	return nil
}

// Check evaluates the rule that matches obj's kind; with none it returns
// Unknown with reason "Unsupported".
func (rs *RuleSet) Check(obj *unstructured.Unstructured) Result {
	if obj == nil || obj.Object == nil {
		return Result{Status: Missing, Reason: "NotFound", Message: "object does not exist"}
	}
	gk := groupKind(obj.Object)
	c := rs.match(gk)
	if c == nil {
		return Result{Status: Unknown, Reason: "Unsupported", Message: "no rule matches " + gk.String()}
	}
	if ts, err := str(obj.Object, "metadata", "deletionTimestamp"); err != nil {
		return invalid(err)
	} else if ts != "" {
		return Result{Status: Progressing, Reason: "Terminating", Message: "object is being deleted"}
	}
	conds, err := conditionsByType(obj.Object)
	if err != nil {
		return invalid(err)
	}
	vars := map[string]any{"self": obj.Object, "conditions": conds}
	for _, e := range c.exprs {
		out, _, err := e.prg.Eval(vars)
		if err != nil {
			return ruleFailure(c.rule, e.field, err)
		}
		b, ok := out.(types.Bool)
		if !ok {
			return Result{Status: Unknown, Reason: "RuleError",
				Message: fmt.Sprintf("rule %s: %s returned %s, not a boolean", c.rule, e.field, out.Type())}
		}
		if b {
			return Result{Status: e.status, Reason: "Rule" + e.field, Message: c.messageFor(vars, e)}
		}
	}
	return Result{Status: Progressing, Reason: "RuleNoMatch", Message: c.messageFor(vars, namedProgram{field: "none"})}
}

func (c *compiled) messageFor(vars map[string]any, e namedProgram) string {
	if c.message != nil {
		if out, _, err := c.message.Eval(vars); err == nil {
			if s, ok := out.Value().(string); ok && s != "" {
				return s
			}
		}
	}
	if e.field == "none" {
		return fmt.Sprintf("rule %s: no expression is true yet", c.rule)
	}
	return fmt.Sprintf("rule %s: %s is true", c.rule, e.field)
}

func ruleFailure(r Rule, field string, err error) Result {
	reason := "RuleError"
	if strings.Contains(err.Error(), "actual cost limit exceeded") {
		reason = "RuleCostExceeded"
	}
	return Result{Status: Unknown, Reason: reason, Message: fmt.Sprintf("rule %s: %s: %v", r, field, err)}
}

// conditionsByType indexes status.conditions by type, after checking their
// shape; the values are the object's own condition maps.
func conditionsByType(o map[string]any) (map[string]any, error) {
	if _, err := conditions(o); err != nil {
		return nil, err
	}
	l, _ := list(o, "status", "conditions")
	out := make(map[string]any, len(l))
	for _, e := range l {
		m := e.(map[string]any) // checked by conditions
		if t, ok := m["type"].(string); ok {
			if _, dup := out[t]; !dup {
				out[t] = m
			}
		}
	}
	return out, nil
}
