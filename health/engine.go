package health

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Engine is the default [Checker]: the host's checkers, then the host's
// overrides ([WithOverrides]), then CEL rules (the host's, then the
// built-in ones), then converge's rules for built-in Kubernetes kinds on
// top of kstatus's (ported natively in kstatus.go), then the generic rules
// for custom resources, which consult the live CRD when the host gives
// [WithCRDs]. It is safe for concurrent use.
type Engine struct {
	checkers           Chain
	rules              *RuleSet
	crds               CRDs
	emptyStatusHealthy bool
	log                logr.Logger
}

// Option configures [New].
type Option func(*config)

type config struct {
	checkers           Chain
	overrides          Overrides
	rules              []Rule
	builtin            bool
	ruleOptions        RuleOptions
	crds               CRDs
	emptyStatusHealthy bool
	log                logr.Logger
}

// WithCheckers adds checkers that take precedence over every other rule
// for the kinds they support, in the order given.
func WithCheckers(c ...KindChecker) Option {
	return func(cfg *config) { cfg.checkers = append(cfg.checkers, c...) }
}

// WithRules adds CEL rules; they take precedence over the built-in rules
// and, for the kinds they match, over the built-in Kubernetes rules too.
func WithRules(r ...Rule) Option {
	return func(cfg *config) { cfg.rules = append(cfg.rules, r...) }
}

// WithoutBuiltinRules leaves out [BuiltinRules].
func WithoutBuiltinRules() Option {
	return func(cfg *config) { cfg.builtin = false }
}

// WithRuleOptions sets the limits of CEL rules; see [DefaultRuleOptions].
func WithRuleOptions(o RuleOptions) Option {
	return func(cfg *config) { cfg.ruleOptions = o }
}

// WithLogger sets a logger for rule failures; discarded by default.
func WithLogger(l logr.Logger) Option {
	return func(cfg *config) { cfg.log = l }
}

// New returns an engine. It compiles the CEL rules, so a rule that does not
// compile is an error here (a [*RuleError] matching [ErrInvalidRule]), never
// at check time; an override with a status no object can have is an error
// matching [ErrInvalidOverride].
func New(opts ...Option) (*Engine, error) {
	cfg := config{builtin: true, ruleOptions: DefaultRuleOptions(), log: logr.Discard()}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.overrides.validate(); err != nil {
		return nil, err
	}
	rules := cfg.rules
	if cfg.builtin {
		rules = append(append([]Rule(nil), rules...), BuiltinRules()...)
	}
	rs, err := CompileRules(rules, cfg.ruleOptions)
	if err != nil {
		return nil, err
	}
	checkers := cfg.checkers
	if len(cfg.overrides) > 0 {
		checkers = append(append(Chain(nil), checkers...), cfg.overrides)
	}
	return &Engine{checkers: checkers, rules: rs, crds: cfg.crds, emptyStatusHealthy: cfg.emptyStatusHealthy, log: cfg.log}, nil
}

// Check returns obj's health: [Engine.CheckContext] with
// context.Background(). With [WithCRDs], prefer CheckContext where a
// context is at hand: the CRD lookup may wait for its watch to sync.
func (e *Engine) Check(obj *unstructured.Unstructured) Result {
	return e.CheckContext(context.Background(), obj)
}

// CheckContext returns obj's health. A nil obj is [Missing]. ctx bounds
// only what the engine reads through [WithCRDs]; without it the check is
// pure. CheckContext never panics: a panic in a host's checker becomes
// [Unknown] with reason "CheckPanicked" (converge's own rules never panic,
// which FuzzCheck asserts below this recover).
func (e *Engine) CheckContext(ctx context.Context, obj *unstructured.Unstructured) (res Result) {
	if obj == nil || obj.Object == nil {
		return Result{Status: Missing, Reason: "NotFound", Message: "object does not exist"}
	}
	defer func() {
		if p := recover(); p != nil {
			e.log.Info("health check panicked", "kind", obj.GetKind(), "name", obj.GetName(), "panic", p)
			res = Result{Status: Unknown, Reason: "CheckPanicked", Message: fmt.Sprint("health check panicked: ", p)}
		}
	}()
	gk := groupKind(obj.Object)
	if e.checkers.Supports(gk) {
		return e.checkers.Check(obj)
	}
	if e.rules.Supports(gk) {
		res = e.rules.Check(obj)
		if res.Reason == "RuleError" || res.Reason == "RuleCostExceeded" {
			e.log.V(1).Info("health rule failed", "kind", gk.String(), "name", obj.GetName(), "message", res.Message)
		}
		return res
	}
	if e.crds == nil {
		return builtin(obj.Object, gk, nil)
	}
	return builtin(obj.Object, gk, func(generic Result) Result {
		res := e.fromCRD(ctx, obj.Object, gk, generic)
		if res.Reason == "CRDError" {
			e.log.V(1).Info("health: CRD lookup failed", "kind", gk.String(), "name", obj.GetName(), "message", res.Message)
		}
		return res
	})
}

// Builtin returns obj's health by converge's rules for built-in Kubernetes
// kinds (kstatus's, made stricter) and the generic rules for every other
// kind, without CEL rules. It is pure and safe for concurrent use.
func Builtin(obj *unstructured.Unstructured) Result {
	if obj == nil || obj.Object == nil {
		return Result{Status: Missing, Reason: "NotFound", Message: "object does not exist"}
	}
	return builtin(obj.Object, groupKind(obj.Object), nil)
}

// builtin is Builtin on o, whose group and kind the caller has read. When
// silent is set, a custom resource that the generic rule finds silent
// (reason NoStatus or NoConditions) gets silent's verdict instead: the
// engine's look at the live CRD, which only such objects need.
func builtin(o map[string]any, gk schema.GroupKind, silent func(generic Result) Result) Result {
	if ts, err := str(o, "metadata", "deletionTimestamp"); err != nil {
		return invalid(err)
	} else if ts != "" {
		return Result{Status: Progressing, Reason: "Terminating", Message: "object is being deleted"}
	}
	// Read once: the generic rules, the kind's rule and kstatus's rules
	// all look at the conditions.
	sc := readConditions(o)
	k, known := kinds[gk]
	if !known && !builtinGroups[gk.Group] {
		if r, decided := custom(o, sc); decided {
			if silent != nil && (r.Reason == reasonNoStatus || r.Reason == reasonNoConditions) {
				return silent(r)
			}
			return r
		}
	}
	if !known && builtinGroups[gk.Group] {
		// A built-in kind with no rule of its own: without a status there
		// is nothing for kstatus to read (ConfigMaps, Secrets, RBAC...).
		if st, found := o["status"]; !found || st == nil {
			return Result{Status: Healthy, Reason: "Exists", Message: gk.Kind + " has no status to wait for"}
		}
	}
	if known && k.before != nil {
		if r, decided := k.before(o, sc); decided {
			return r
		}
	}
	ks, err := computeKstatus(o, sc)
	if err != nil {
		return invalid(err)
	}
	res := Result{Status: FromKstatus(ks.Status), Reason: ks.reason(), Message: ks.Message}
	if res.Message == "" {
		res.Message = "kstatus says " + string(ks.Status) + " (" + res.Reason + ")"
	}
	if known && k.after != nil {
		res = k.after(o, res)
	}
	return res
}

func invalid(err error) Result {
	return Result{Status: Unknown, Reason: "InvalidStatus", Message: err.Error()}
}

// groupKind reads apiVersion and kind without allocating a GroupVersionKind
// parse error: a malformed apiVersion gives an empty group.
func groupKind(o map[string]any) schema.GroupKind {
	av, _ := o["apiVersion"].(string)
	k, _ := o["kind"].(string)
	g := ""
	for i := 0; i < len(av); i++ {
		if av[i] == '/' {
			g = av[:i]
			break
		}
	}
	return schema.GroupKind{Group: g, Kind: k}
}

// custom applies the stricter generic rule for custom resources: an object
// must say something about itself before it can be Healthy. decided is
// false when kstatus's generic rules should decide.
func custom(o map[string]any, sc statusConditions) (Result, bool) {
	st, found, err := field(o, "status")
	if err != nil {
		return invalid(err), true
	}
	m, isMap := st.(map[string]any)
	if found && !isMap {
		return invalid(fmt.Errorf(".status is %s, not an object", typeName(st))), true
	}
	if !found || len(m) == 0 {
		return Result{Status: Unknown, Reason: reasonNoStatus,
			Message: "the object has no status; add a health rule for its kind"}, true
	}
	conds, err := sc.strict()
	if err != nil {
		return invalid(err), true
	}
	_, hasObserved, err := integer(o, "status", "observedGeneration")
	if err != nil {
		return invalid(err), true
	}
	if _, _, err := integer(o, "metadata", "generation"); err != nil {
		return invalid(err), true
	}
	if len(conds) == 0 && !hasObserved {
		return Result{Status: Unknown, Reason: reasonNoConditions,
			Message: "the object's status has no conditions and no observedGeneration; add a health rule for its kind"}, true
	}
	if !hasObserved {
		_, ready := find(conds, "Ready")
		_, reconciling := find(conds, "Reconciling")
		_, stalled := find(conds, "Stalled")
		if !ready && !reconciling && !stalled {
			return Result{Status: Unknown, Reason: "NoReadyCondition",
				Message: "the object has neither a Ready, Reconciling or Stalled condition nor an observedGeneration; add a health rule for its kind"}, true
		}
	}
	return Result{}, false
}

// builtinGroups are the API groups served by Kubernetes itself; kinds in
// them that have no rule of their own (RBAC, ConfigMaps, StorageClasses...)
// carry no status and are Healthy once they exist.
var builtinGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "autoscaling": true, "policy": true, "extensions": true,
	"rbac.authorization.k8s.io": true, "networking.k8s.io": true, "storage.k8s.io": true,
	"scheduling.k8s.io": true, "admissionregistration.k8s.io": true, "apiextensions.k8s.io": true,
	"apiregistration.k8s.io": true, "coordination.k8s.io": true, "discovery.k8s.io": true,
	"node.k8s.io": true, "certificates.k8s.io": true, "flowcontrol.apiserver.k8s.io": true,
	"events.k8s.io": true, "resource.k8s.io": true, "authentication.k8s.io": true,
	"authorization.k8s.io": true, "internal.apiserver.k8s.io": true, "storagemigration.k8s.io": true,
}
