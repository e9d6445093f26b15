package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxMessageBytes bounds a measurement's or a run's message and value.
const maxMessageBytes = 1024

// Option configures a [Run].
type Option func(*runOptions)

type runOptions struct {
	secrets   SecretResolver
	limits    EvalLimits
	dryRun    []DryRun
	retention []MeasurementRetention
}

// WithSecretResolver sets how args with valueFrom.secretKeyRef get their
// values; without one, such an arg is an error in [NewRun].
func WithSecretResolver(r SecretResolver) Option { return func(o *runOptions) { o.secrets = r } }

// WithEvalLimits sets the limits of condition evaluation; zero fields
// keep [DefaultEvalLimits].
func WithEvalLimits(l EvalLimits) Option { return func(o *runOptions) { o.limits = l } }

// WithDryRun adds dry-run rules, as a Rollout's analysis step adds them to
// its templates'.
func WithDryRun(rules ...DryRun) Option {
	return func(o *runOptions) { o.dryRun = append(o.dryRun, rules...) }
}

// WithMeasurementRetention adds measurementRetention rules, as a Rollout's
// analysis step adds them to its templates'.
func WithMeasurementRetention(rules ...MeasurementRetention) Option {
	return func(o *runOptions) { o.retention = append(o.retention, rules...) }
}

// metricDef is a metric ready to measure.
type metricDef struct {
	Metric
	limits
	cond      *Conditions
	provider  Provider
	dryRun    bool
	retention int
	// rawSpec is the provider block with only the secret args left to
	// substitute; spec has placeholders for them.
	rawSpec map[string]any
}

// Run is one analysis run: the metrics of its templates, measured when
// the host calls [Run.Step] and assessed with Argo Rollouts' rules. A Run
// starts no goroutines and takes its time from the host. It is not safe
// for concurrent use.
type Run struct {
	metrics     []*metricDef
	secretArgs  map[string]SecretKeyRef
	values      map[string]string // non-secret args, then secrets once resolved
	secrets     []string
	resolved    bool
	resolver    SecretResolver
	fingerprint string

	status     Status
	terminated bool
	stepped    bool
}

// NewRun merges the templates as Argo Rollouts does, applies args (the
// host's values over the templates' defaults), substitutes
// {{args.name}}, checks every metric and compiles its conditions. It is
// an error (naming the field or arg) when an arg has no value, a
// condition does not compile, a value is out of bounds or a metric's
// provider kind has no entry in providers. No measurement is taken.
func NewRun(templates []*Template, args []Arg, providers map[string]Provider, opts ...Option) (*Run, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	o.limits = o.limits.orDefault()
	for _, t := range templates {
		if t == nil {
			return nil, errors.New("analysis: nil template")
		}
		if err := validateTemplate(t, true); err != nil {
			return nil, err
		}
	}
	merged, err := flatten(templates)
	if err != nil {
		return nil, err
	}
	if len(merged.Metrics) == 0 {
		return nil, &FieldError{Object: "analysis run", Path: "spec.metrics", Reason: "no metrics specified", Err: ErrInvalidValue}
	}
	resolvedArgs, err := mergeArgs(args, merged.Args)
	if err != nil {
		return nil, err
	}
	r := &Run{secretArgs: map[string]SecretKeyRef{}, values: map[string]string{}, resolver: o.secrets}
	placeholders := map[string]string{}
	for _, a := range resolvedArgs {
		if a.Value != nil {
			r.values[a.Name] = *a.Value
			placeholders[a.Name] = *a.Value
			continue
		}
		if err := checkArgSource(a, "analysis run", "args."+a.Name); err != nil {
			return nil, err
		}
		if o.secrets == nil {
			return nil, fmt.Errorf("args.%s: valueFrom.secretKeyRef needs a SecretResolver (WithSecretResolver): %w", a.Name, ErrMissingArg)
		}
		r.secretArgs[a.Name] = *a.ValueFrom.SecretKeyRef
		placeholders[a.Name] = secretPlaceholder
	}
	r.resolved = len(r.secretArgs) == 0
	for i := range merged.Metrics {
		def, err := r.prepare(merged.Metrics[i], i, placeholders, providers, o)
		if err != nil {
			return nil, err
		}
		r.metrics = append(r.metrics, def)
	}
	names := map[string]bool{}
	for i, m := range r.metrics {
		if names[m.Name] {
			return nil, &FieldError{Object: "analysis run", Path: fmt.Sprintf("metrics[%d].name", i), Reason: fmt.Sprintf("duplicate name %q", m.Name), Err: ErrInvalidValue}
		}
		names[m.Name] = true
	}
	dry := append(append([]DryRun{}, o.dryRun...), merged.DryRun...)
	if err := r.applyDryRun(dry); err != nil {
		return nil, err
	}
	ret := append(append([]MeasurementRetention{}, o.retention...), merged.MeasurementRetention...)
	if err := r.applyRetention(ret); err != nil {
		return nil, err
	}
	sum := sha256.New()
	enc := json.NewEncoder(sum)
	for _, m := range r.metrics {
		_ = enc.Encode(struct {
			M         Metric
			D         bool
			R         int
			Secretful []string
		}{m.Metric, m.dryRun, m.retention, sortedKeys(r.secretArgs)})
	}
	r.fingerprint = hex.EncodeToString(sum.Sum(nil))
	r.status = Status{Phase: PhasePending}
	for _, m := range r.metrics {
		r.status.Metrics = append(r.status.Metrics, MetricStatus{Name: m.Name, Phase: PhasePending, DryRun: m.dryRun})
	}
	return r, nil
}

func (r *Run) prepare(m Metric, i int, placeholders map[string]string, providers map[string]Provider, o runOptions) (*metricDef, error) {
	obj, p := "analysis run", fmt.Sprintf("metrics[%d]", i)
	for name := range r.secretArgs {
		for field, s := range map[string]string{"name": m.Name, "interval": m.Interval, "initialDelay": m.InitialDelay,
			"successCondition": m.SuccessCondition, "failureCondition": m.FailureCondition} {
			if refersTo(s, name) {
				return nil, &FieldError{Object: obj, Path: join(p, field), Reason: fmt.Sprintf("args.%s comes from a Secret and may be used only in the provider block", name), Err: ErrInvalidValue}
			}
		}
	}
	sub := func(field, s string) (string, error) {
		out, err := substitute(s, placeholders)
		if err != nil {
			return "", &FieldError{Object: obj, Path: join(p, field), Reason: err.Error(), Err: ErrMissingArg}
		}
		return out, nil
	}
	var err error
	def := &metricDef{Metric: m}
	for field, dst := range map[string]*string{"name": &def.Name, "interval": &def.Interval, "initialDelay": &def.InitialDelay,
		"successCondition": &def.SuccessCondition, "failureCondition": &def.FailureCondition} {
		if *dst, err = sub(field, *dst); err != nil {
			return nil, err
		}
	}
	for field, v := range map[string]**intstr.IntOrString{"count": &def.Count, "failureLimit": &def.FailureLimit, "inconclusiveLimit": &def.InconclusiveLimit,
		"consecutiveErrorLimit": &def.ConsecutiveErrorLimit, "consecutiveSuccessLimit": &def.ConsecutiveSuccessLimit} {
		if *v == nil || (*v).Type != intstr.String {
			continue
		}
		s, err := sub(field, (*v).StrVal)
		if err != nil {
			return nil, err
		}
		c := **v
		c.StrVal = s
		*v = &c
	}
	for name := range r.secretArgs {
		for _, c := range []*intstr.IntOrString{m.Count, m.FailureLimit, m.InconclusiveLimit, m.ConsecutiveErrorLimit, m.ConsecutiveSuccessLimit} {
			if c != nil && refersTo(c.StrVal, name) {
				return nil, &FieldError{Object: obj, Path: p, Reason: fmt.Sprintf("args.%s comes from a Secret and may be used only in the provider block", name), Err: ErrInvalidValue}
			}
		}
	}
	spec, err := substituteValue(m.Provider.Spec, placeholders, join(p, "provider."+m.Provider.Kind))
	if err != nil {
		return nil, &FieldError{Object: obj, Path: join(p, "provider"), Reason: err.Error(), Err: ErrMissingArg}
	}
	def.rawSpec = m.Provider.Spec // substituted with the secrets at each measurement
	def.Provider.Spec, _ = spec.(map[string]any)
	if def.limits, err = validateMetric(&def.Metric, false, obj, p); err != nil {
		return nil, err
	}
	if def.cond, err = CompileConditions(def.SuccessCondition, def.FailureCondition, o.limits); err != nil {
		return nil, &FieldError{Object: obj, Path: p, Reason: err.Error(), Err: ErrCondition}
	}
	prov, ok := providers[def.Provider.Kind]
	if !ok || prov == nil {
		return nil, &FieldError{Object: obj, Path: join(p, "provider."+def.Provider.Kind),
			Reason: fmt.Sprintf("provider %q is not supported here (have: %s)", def.Provider.Kind, strings.Join(sortedKeys(providers), ", ")), Err: ErrUnsupportedProvider}
	}
	def.provider = prov
	def.retention = DefaultMeasurementHistoryLimit
	return def, nil
}

// applyDryRun matches rules as Rollouts' GetDryRunMetrics: each must match
// at least one metric, and two rules may not have the same metricName.
func (r *Run) applyDryRun(rules []DryRun) error {
	seen := map[string]bool{}
	for i, rule := range rules {
		if seen[rule.MetricName] {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("dryRun[%d]", i), Reason: fmt.Sprintf("two Dry-Run metric rules have the same name %q", rule.MetricName), Err: ErrInvalidValue}
		}
		seen[rule.MetricName] = true
		re, err := regexp.Compile(rule.MetricName)
		if err != nil {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("dryRun[%d].metricName", i), Reason: err.Error(), Err: ErrInvalidValue}
		}
		matched := false
		for _, m := range r.metrics {
			if re.MatchString(m.Name) {
				m.dryRun, matched = true, true
			}
		}
		if !matched {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("dryRun[%d]", i), Reason: "rule didn't match any metric name(s)", Err: ErrInvalidValue}
		}
	}
	return nil
}

// applyRetention matches rules as Rollouts' GetMeasurementRetentionMetrics;
// the last matching rule with a limit > 0 wins.
func (r *Run) applyRetention(rules []MeasurementRetention) error {
	seen := map[string]bool{}
	for i, rule := range rules {
		if seen[rule.MetricName] {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("measurementRetention[%d]", i), Reason: fmt.Sprintf("two Measurement Retention metric rules have the same name %q", rule.MetricName), Err: ErrInvalidValue}
		}
		seen[rule.MetricName] = true
		if rule.Limit < 0 || rule.Limit > MaxCount {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("measurementRetention[%d].limit", i), Reason: fmt.Sprintf("%d is outside [0, %d]", rule.Limit, MaxCount), Err: ErrInvalidValue}
		}
		re, err := regexp.Compile(rule.MetricName)
		if err != nil {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("measurementRetention[%d].metricName", i), Reason: err.Error(), Err: ErrInvalidValue}
		}
		matched := false
		for _, m := range r.metrics {
			if re.MatchString(m.Name) {
				matched = true
				if rule.Limit > 0 {
					m.retention = int(rule.Limit)
				} else {
					m.retention = DefaultMeasurementHistoryLimit
				}
			}
		}
		if !matched {
			return &FieldError{Object: "analysis run", Path: fmt.Sprintf("measurementRetention[%d]", i), Reason: "rule didn't match any metric name(s)", Err: ErrInvalidValue}
		}
	}
	return nil
}

// Phase is the run's phase.
func (r *Run) Phase() Phase { return r.status.Phase }

// Status returns a copy of the run's status.
func (r *Run) Status() Status { return r.status.clone() }

// Stop terminates the run at now, as setting an AnalysisRun's
// spec.terminate does: no further measurement is taken; a metric still
// running, or not yet started, is Successful, and the run takes the worst
// phase of its metrics (Successful when none has a result).
func (r *Run) Stop(now time.Time) {
	if r.status.Phase.Completed() {
		return
	}
	r.terminated = true
	if r.status.StartedAt == nil {
		t := now
		r.status.StartedAt = &t
	}
	r.assess(now, true)
	r.gc()
}

// Step takes the measurements due at now (the host's clock: tests pass
// any time they like), assesses the run, and returns when the next
// measurement is due; the zero time once the run is completed. Call it
// again at (or after) that time. A measurement is due when now is at or
// after the previous measurement's end plus the interval
// ([ErrorRetryInterval] after an Error), or, for the first, the run's
// start (its first Step) plus initialDelay. Measurements are taken one
// after another in the metrics' order, each with ctx. As in Rollouts,
// whose first reconciliation sets the start after measuring, a metric
// with an initialDelay of 0s is measured in the first Step only once the
// others have been measured and assessed, and not at all when one of them
// ended the run.
//
// Step returns an error only when ctx ends; the measurement it
// interrupted is not recorded, so it is taken again later. Everything
// else, including a provider's error, is in the run's [Status]. Step does
// not recover a Provider's panic.
func (r *Run) Step(ctx context.Context, now time.Time) (time.Time, error) {
	if r.status.Phase.Completed() {
		return time.Time{}, nil
	}
	r.stepped = true
	first := r.status.StartedAt == nil
	if first {
		t := now
		r.status.StartedAt = &t
	}
	if !r.resolved {
		if err := r.resolveSecrets(ctx); err != nil {
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			r.finish(now, PhaseError, "Unable to resolve metric arguments: "+truncate(err.Error(), maxMessageBytes))
			return time.Time{}, nil
		}
	}
	terminating := r.isTerminating()
	if !terminating {
		if err := r.measureDue(ctx, now, first); err != nil {
			return time.Time{}, err
		}
	}
	r.assess(now, terminating)
	if first && !terminating && !r.status.Phase.Completed() && !r.isTerminating() {
		// Rollouts sets startedAt in its first reconciliation, after
		// measuring, so a metric with an initialDelay waits for the next
		// one, which comes at once for an initialDelay of 0s.
		if err := r.measureDue(ctx, now, false); err != nil {
			return time.Time{}, err
		}
		r.assess(now, false)
	}
	if !r.status.Phase.Completed() && !terminating && r.isTerminating() {
		// Rollouts reconciles again at once when a metric ends the run.
		r.assess(now, true)
	}
	r.gc()
	if r.status.Phase.Completed() {
		return time.Time{}, nil
	}
	return r.next(now), nil
}

// measureDue takes the measurements due at now, in the metrics' order.
// In the run's first step, a metric with an initialDelay is not due.
func (r *Run) measureDue(ctx context.Context, now time.Time, first bool) error {
	for i, m := range r.metrics {
		if err := ctx.Err(); err != nil {
			return err
		}
		if (first && m.hasInitialDelay) || !r.due(i, now) {
			continue
		}
		ms, err := r.measure(ctx, m, now)
		if err != nil {
			return err
		}
		r.record(i, ms)
	}
	return nil
}

func (r *Run) finish(now time.Time, phase Phase, msg string) {
	r.status.Phase, r.status.Message = phase, mask(msg, r.secrets)
	t := now
	r.status.CompletedAt = &t
}

func (r *Run) resolveSecrets(ctx context.Context) error {
	for _, name := range sortedKeys(r.secretArgs) {
		v, err := r.resolver.ResolveSecret(ctx, r.secretArgs[name])
		if err != nil {
			ref := r.secretArgs[name]
			return fmt.Errorf("args.%s: secret %q key %q: %w", name, ref.Name, ref.Key, err)
		}
		r.values[name] = v
		r.secrets = append(r.secrets, v)
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	r.resolved = true
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
