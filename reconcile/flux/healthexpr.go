package flux

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/parser"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// objectFields are the variables Flux's health expressions see: the
// object's top-level fields. health.Rule sees the object as self.
var objectFields = map[string]bool{"metadata": true, "spec": true, "status": true}

// maxExprLength bounds one expression, as health does.
var maxExprLength = health.DefaultRuleOptions().MaxExpressionLength

// healthExprs reads spec.healthCheckExprs into health rules, compiled
// once to catch errors now.
func (l *loader) healthExprs(d *manifest.Doc, spec *manifest.Node) []health.Rule {
	var rules []health.Rule
	for _, e := range spec.Objs("healthCheckExprs") {
		gv, err := schema.ParseGroupVersion(e.Str("apiVersion"))
		if err != nil || gv.Group == "" && gv.Version == "" {
			d.Fail(e.At("apiVersion"), ErrInvalid, "required: the group and version of the kind")
			continue
		}
		r := health.Rule{Group: gv.Group, Kind: e.Str("kind")}
		if r.Kind == "" {
			d.Fail(e.At("kind"), ErrInvalid, "required")
			continue
		}
		ok := true
		for _, f := range []struct {
			key string
			dst *string
		}{{"current", &r.Current}, {"inProgress", &r.InProgress}, {"failed", &r.Failed}} {
			src := e.Str(f.key)
			if src == "" {
				continue
			}
			out, err := selfExpr(src)
			if err != nil {
				d.Fail(e.At(f.key), ErrInvalid, "%v", err)
				ok = false
				continue
			}
			*f.dst = out
		}
		if !ok {
			continue
		}
		if r.Current == "" {
			d.Fail(e.At("current"), ErrInvalid, "required")
			continue
		}
		if _, err := health.CompileRules([]health.Rule{r}, health.DefaultRuleOptions()); err != nil {
			var re *health.RuleError
			if errors.As(err, &re) {
				err = re.Err
			}
			d.Fail(e.Path(), ErrInvalid, "%v", err)
			continue
		}
		rules = append(rules, r)
	}
	if len(rules) > 0 {
		d.Warn(spec.At("healthCheckExprs"), "returned in Result.HealthRules for the host's health engine, where they apply to every object of their kinds, not to this unit's alone")
	}
	return rules
}

// selfExpr rewrites a Flux health expression, whose variables are the
// object's top-level fields ("status.conditions..."), into one over self
// ("self.status.conditions..."). Variables that a macro binds
// (filter(e, ...), all(c, ...)) are left alone.
func selfExpr(src string) (string, error) {
	if len(src) > maxExprLength {
		return "", fmt.Errorf("longer than %d characters", maxExprLength)
	}
	p, err := parser.NewParser(parser.MaxRecursionDepth(64), parser.ExpressionSizeCodePointLimit(maxExprLength))
	if err != nil {
		return "", err
	}
	parsed, errs := p.Parse(common.NewTextSource(src))
	if errs != nil && len(errs.GetErrors()) > 0 {
		return "", fmt.Errorf("CEL: %s", errs.GetErrors()[0].Message)
	}
	r := &rewriter{fac: ast.NewExprFactory(), next: maxID(parsed.Expr()) + 1}
	root := parsed.Expr()
	r.walk(root, nil, 0)
	if r.err != nil {
		return "", r.err
	}
	return parser.Unparse(root, parsed.SourceInfo(), parser.WrapOnColumn(1<<30))
}

// rewriter replaces the free object-field identifiers of an expression.
type rewriter struct {
	fac  ast.ExprFactory
	next int64
	err  error
}

// macroFuncs bind their first argument (and, with three arguments, the
// second for the two-variable forms) in the arguments after it.
var macroFuncs = map[string]bool{"all": true, "exists": true, "exists_one": true, "existsOne": true, "map": true, "filter": true}

func (r *rewriter) walk(e ast.Expr, bound []string, depth int) {
	if depth > 128 {
		r.err = errors.New("nested too deeply")
		return
	}
	switch e.Kind() {
	case ast.IdentKind:
		name := e.AsIdent()
		if objectFields[name] && !slices.Contains(bound, name) {
			e.SetKindCase(r.fac.NewSelect(r.id(), r.fac.NewIdent(r.id(), "self"), name))
		}
	case ast.SelectKind:
		r.walk(e.AsSelect().Operand(), bound, depth+1)
	case ast.CallKind:
		c := e.AsCall()
		args := c.Args()
		if c.IsMemberFunction() {
			r.walk(c.Target(), bound, depth+1)
		}
		inner := bound
		skip := 0
		if c.IsMemberFunction() && macroFuncs[c.FunctionName()] && len(args) >= 2 && args[0].Kind() == ast.IdentKind {
			inner = append(append([]string(nil), bound...), args[0].AsIdent())
			skip = 1
			if len(args) == 3 && c.FunctionName() != "map" && args[1].Kind() == ast.IdentKind {
				inner = append(inner, args[1].AsIdent())
				skip = 2
			}
		}
		for i, a := range args {
			if i >= skip {
				r.walk(a, inner, depth+1)
			}
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			r.walk(el, bound, depth+1)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			r.walk(me.Key(), bound, depth+1)
			r.walk(me.Value(), bound, depth+1)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			r.walk(f.AsStructField().Value(), bound, depth+1)
		}
	case ast.ComprehensionKind:
		r.err = errors.New("unexpected comprehension")
	}
}

func (r *rewriter) id() int64 {
	r.next++
	return r.next
}

func maxID(e ast.Expr) int64 {
	var m int64
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.ID() > m {
			m = x.ID()
		}
	}))
	return m
}
