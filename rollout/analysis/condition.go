package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// EvalLimits bounds the cost of evaluating a condition. expr-lang has no
// loops but the predicates of its builtins (all, map, filter, reduce, ...);
// each predicate call is counted against MaxSteps, and every 256 of them
// the Timeout and the context are checked, so a condition such as
// all(result, all(result, all(result, # > 0))) ends as an Error instead of
// running for hours. Between two predicate calls the work is one builtin
// over a value bounded by MaxResultElements or MemoryBudget.
type EvalLimits struct {
	// MaxNodes bounds the expression's syntax tree.
	MaxNodes uint
	// MemoryBudget bounds what the expr VM allocates and iterates
	// (expr's own unit, about one per element).
	MemoryBudget uint
	// MaxResultElements bounds the values in a result (a vector's
	// samples, a JSON document's values); a larger result is an Error
	// measurement.
	MaxResultElements int
	// MaxSteps bounds the predicate calls of one evaluation.
	MaxSteps int
	// Timeout bounds one evaluation's time.
	Timeout time.Duration
}

// DefaultEvalLimits are the limits [NewRun] uses unless told otherwise:
// 1,000 nodes, expr's default budget of 1e6, 100,000 result elements,
// a million predicate calls and one second.
func DefaultEvalLimits() EvalLimits {
	return EvalLimits{MaxNodes: 1000, MemoryBudget: 1e6, MaxResultElements: 100000, MaxSteps: 1e6, Timeout: time.Second}
}

func (l EvalLimits) orDefault() EvalLimits {
	d := DefaultEvalLimits()
	if l.MaxNodes == 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MemoryBudget == 0 {
		l.MemoryBudget = d.MemoryBudget
	}
	if l.MaxResultElements <= 0 {
		l.MaxResultElements = d.MaxResultElements
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Conditions are a metric's success and failure conditions, checked once
// and evaluated on each result with Argo Rollouts' rules. Safe for
// concurrent use.
type Conditions struct {
	success, failure string
	limits           EvalLimits
	// nonFiniteOK is set when the condition that decides success
	// mentions isNaN or isInf: then a non-finite value may pass.
	nonFiniteOK bool

	mu sync.Mutex
	// programs are compiled per type of result, because Rollouts
	// compiles against the result it binds: a condition that does not
	// type-check for a result is an Error for it, as in Rollouts.
	programs map[programKey]*vm.Program
}

type programKey struct {
	condition string
	typ       reflect.Type
}

// maxPrograms bounds the compiled programs kept per Conditions.
const maxPrograms = 16

// CompileConditions checks both conditions (either may be empty) so that
// one that does not compile is an error before the first measurement.
func CompileConditions(success, failure string, limits EvalLimits) (*Conditions, error) {
	c := &Conditions{success: success, failure: failure, limits: limits.orDefault(), programs: map[programKey]*vm.Program{},
		nonFiniteOK: handlesNonFinite(success, failure)}
	if success != "" {
		if err := checkCondition(success, c.limits); err != nil {
			return nil, fmt.Errorf("successCondition: %w: %w", ErrCondition, err)
		}
	}
	if failure != "" {
		if err := checkCondition(failure, c.limits); err != nil {
			return nil, fmt.Errorf("failureCondition: %w: %w", ErrCondition, err)
		}
	}
	return c, nil
}

// Verdict is the phase a metric's conditions decide for one result.
type Verdict struct {
	// Phase is the measurement's phase.
	Phase Phase
	// Message says why the phase is not the one Argo Rollouts would
	// decide: which value of the result was not finite. It is empty
	// otherwise (an Error's cause is the error [Conditions.Decide]
	// returns).
	Message string
}

// Evaluate decides a measurement's phase from its result, as Argo
// Rollouts' evaluate.EvaluateResult does: with neither condition
// Successful; a true failure condition Failed; without a failure
// condition, a false success condition Failed; without a success
// condition, a false failure condition Successful; with both and neither
// true Inconclusive. A condition that errors, or is not a bool, is
// PhaseError with the error; the error is non-nil exactly then. It never
// panics and its cost is bounded by the [EvalLimits]; when ctx ends, the
// evaluation stops with an Error.
//
// Stricter than Rollouts: a result holding a NaN or ±Inf (a float64
// result, or an element of a vector, slice or map) that would be
// Successful is Inconclusive, unless the condition that decides success
// (the successCondition, or without one the failureCondition) mentions
// isNaN or isInf. Failed stays Failed. [Conditions.Decide] says which
// value it was.
func (c *Conditions) Evaluate(ctx context.Context, result any) (Phase, error) {
	v, err := c.Decide(ctx, result)
	return v.Phase, err
}

// Decide is [Conditions.Evaluate] with the reason for a phase that
// differs from Rollouts'. The error is non-nil exactly when the phase is
// PhaseError.
func (c *Conditions) Decide(ctx context.Context, result any) (Verdict, error) {
	result = valueFromPointer(result)
	phase, err := c.decide(ctx, result)
	if err != nil {
		return Verdict{Phase: PhaseError}, err
	}
	if phase == PhaseSuccessful && !c.nonFiniteOK {
		if path, v, found := findNonFinite(result); found {
			return Verdict{Phase: PhaseInconclusive, Message: nonFiniteMessage(path, v)}, nil
		}
	}
	return Verdict{Phase: phase}, nil
}

// decide is Rollouts' evaluate.EvaluateResult.
func (c *Conditions) decide(ctx context.Context, result any) (Phase, error) {
	if n := countElements(result, c.limits.MaxResultElements); n > c.limits.MaxResultElements {
		return PhaseError, fmt.Errorf("result has more than %d values", c.limits.MaxResultElements)
	}
	var successCondition, failCondition bool
	var err error
	if c.success != "" {
		if successCondition, err = c.eval(ctx, c.success, result); err != nil {
			return PhaseError, err
		}
	}
	if c.failure != "" {
		if failCondition, err = c.eval(ctx, c.failure, result); err != nil {
			return PhaseError, err
		}
	}
	switch {
	case c.success == "" && c.failure == "":
		return PhaseSuccessful, nil
	case c.success != "" && c.failure == "":
		failCondition = !successCondition
	case c.success == "" && c.failure != "":
		successCondition = !failCondition
	}
	if failCondition {
		return PhaseFailed, nil
	}
	if !successCondition {
		return PhaseInconclusive, nil
	}
	return PhaseSuccessful, nil
}

func (c *Conditions) eval(ctx context.Context, condition string, result any) (bool, error) {
	env := conditionEnv(result)
	env[tickName] = c.ticker(ctx)
	key := programKey{condition, reflect.TypeOf(result)}
	c.mu.Lock()
	program, ok := c.programs[key]
	c.mu.Unlock()
	if !ok {
		var err error
		strIndex := &stringIndexCheck{}
		program, err = expr.Compile(condition, expr.Env(env), expr.MaxNodes(c.limits.MaxNodes), expr.Patch(strIndex), expr.Patch(tickPatch{}))
		if err != nil {
			return false, unwrapFileError(err)
		}
		if strIndex.err != nil {
			return false, strIndex.err
		}
		c.mu.Lock()
		if len(c.programs) >= maxPrograms {
			clear(c.programs)
		}
		c.programs[key] = program
		c.mu.Unlock()
	}
	machine := vm.VM{MemoryBudget: c.limits.MemoryBudget}
	out, err := machine.Run(program, env)
	if err != nil {
		return false, unwrapFileError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expected bool, but got %T", out)
	}
	return b, nil
}

// checkCondition compiles a condition with `result` of unknown type, so
// that what does not parse or cannot type-check for any result fails.
func checkCondition(condition string, limits EvalLimits) error {
	_, err := expr.Compile(condition, expr.Env(anyEnv{}), expr.MaxNodes(limits.orDefault().MaxNodes), expr.Patch(tickPatch{}))
	if err != nil {
		return unwrapFileError(err)
	}
	return nil
}

// anyEnv has the names of conditionEnv, with result of any type.
type anyEnv struct {
	Result  any                        `expr:"result"`
	AsInt   func(any) (int64, error)   `expr:"asInt"`
	AsFloat func(any) (float64, error) `expr:"asFloat"`
	IsNaN   func(float64) bool         `expr:"isNaN"`
	IsInf   func(float64) bool         `expr:"isInf"`
	IsNil   func(any) bool             `expr:"isNil"`
	Default func(any, any) any         `expr:"default"`
	Tick    func() (bool, error)       `expr:"__converge_tick"`
}

// tickName is the function the patch calls at each predicate call.
const tickName = "__converge_tick"

// tickPatch makes every predicate body "tick(); body".
type tickPatch struct{}

// Visit patches one node.
func (tickPatch) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	if seq, ok := p.Node.(*ast.SequenceNode); ok && len(seq.Nodes) == 2 {
		if call, ok := seq.Nodes[0].(*ast.CallNode); ok {
			if id, ok := call.Callee.(*ast.IdentifierNode); ok && id.Value == tickName {
				return // already patched
			}
		}
	}
	p.Node = &ast.SequenceNode{Nodes: []ast.Node{&ast.CallNode{Callee: &ast.IdentifierNode{Value: tickName}}, p.Node}}
}

// stringIndexCheck refuses indexing a string by an integer, as the expr
// that Rollouts v1.9 uses (antonmedv/expr v1.15) does at compile time
// ("type string[int] is undefined"); expr-lang v1.17 would return a byte.
type stringIndexCheck struct{ err error }

// Visit checks one node.
func (v *stringIndexCheck) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok || v.err != nil {
		return
	}
	t, pt := m.Node.Type(), m.Property.Type()
	if t == nil || pt == nil || t.Kind() != reflect.String {
		return
	}
	switch pt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.err = errors.New("type string[int] is undefined")
	}
}

// ticker counts predicate calls and checks the deadline and ctx.
func (c *Conditions) ticker(ctx context.Context) func() (bool, error) {
	steps := 0
	deadline := time.Now().Add(c.limits.Timeout)
	return func() (bool, error) {
		steps++
		if steps > c.limits.MaxSteps {
			return false, fmt.Errorf("condition took more than %d steps", c.limits.MaxSteps)
		}
		if steps%256 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if time.Now().After(deadline) {
				return false, fmt.Errorf("condition took more than %s", c.limits.Timeout)
			}
		}
		return true, nil
	}
}

// conditionEnv binds what Rollouts binds: result and its helpers. isNil
// and default look at the result whatever their first argument, as in
// Rollouts.
func conditionEnv(result any) map[string]any {
	return map[string]any{
		"result":  result,
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   isInf,
		"isNil":   func(any) bool { return isNil(result) },
		"default": func(_ any, def any) any {
			if isNil(result) {
				return def
			}
			return result
		},
	}
}

func unwrapFileError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(truncate(fe.Message, maxMessageBytes))
	}
	return errors.New(truncate(err.Error(), maxMessageBytes))
}

func isInf(f float64) bool { return math.IsInf(f, 0) }

func asInt(in any) (int64, error) {
	switch i := in.(type) {
	case float64:
		return int64(i), nil
	case float32:
		return int64(i), nil
	case int64:
		return i, nil
	case int32:
		return int64(i), nil
	case int16:
		return int64(i), nil
	case int8:
		return int64(i), nil
	case int:
		return int64(i), nil
	case uint64:
		return int64(i), nil
	case uint32:
		return int64(i), nil
	case uint16:
		return int64(i), nil
	case uint8:
		return int64(i), nil
	case uint:
		return int64(i), nil
	case string:
		return strconv.ParseInt(i, 10, 64)
	}
	return 0, fmt.Errorf("asInt() not supported on %T", in)
}

func asFloat(in any) (float64, error) {
	switch i := in.(type) {
	case float64:
		return i, nil
	case float32:
		return float64(i), nil
	case int64:
		return float64(i), nil
	case int32:
		return float64(i), nil
	case int16:
		return float64(i), nil
	case int8:
		return float64(i), nil
	case int:
		return float64(i), nil
	case uint64:
		return float64(i), nil
	case uint32:
		return float64(i), nil
	case uint16:
		return float64(i), nil
	case uint8:
		return float64(i), nil
	case uint:
		return float64(i), nil
	case string:
		return strconv.ParseFloat(i, 64)
	}
	return 0, fmt.Errorf("asFloat() not supported on %T", in)
}

func isNil(in any) bool {
	if in == nil {
		return true
	}
	switch reflect.TypeOf(in).Kind() {
	case reflect.Ptr, reflect.Map, reflect.Chan, reflect.Slice, reflect.Func, reflect.Interface:
		return reflect.ValueOf(in).IsNil()
	}
	return false
}

// valueFromPointer dereferences a non-nil pointer result, and turns a
// nil one into nil, as Rollouts does.
func valueFromPointer(in any) any {
	if isNil(in) {
		return nil
	}
	if reflect.TypeOf(in).Kind() != reflect.Ptr {
		return in
	}
	return reflect.ValueOf(in).Elem().Interface()
}

// countElements counts the values in v, stopping past limit.
func countElements(v any, limit int) int {
	n := 0
	var walk func(reflect.Value, int)
	walk = func(rv reflect.Value, depth int) {
		if n > limit {
			return
		}
		n++
		if depth > 64 {
			n = limit + 1 // absurdly deep: refuse
			return
		}
		switch rv.Kind() {
		case reflect.Interface, reflect.Ptr:
			if !rv.IsNil() {
				n--
				walk(rv.Elem(), depth+1)
			}
		case reflect.Slice, reflect.Array:
			switch rv.Type().Elem().Kind() {
			case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64, reflect.Int32, reflect.String, reflect.Bool:
				n += rv.Len()
				return
			}
			for i := 0; i < rv.Len() && n <= limit; i++ {
				walk(rv.Index(i), depth+1)
			}
		case reflect.Map:
			it := rv.MapRange()
			for it.Next() && n <= limit {
				walk(it.Value(), depth+1)
			}
		}
	}
	if v == nil {
		return 0
	}
	walk(reflect.ValueOf(v), 0)
	return n
}
