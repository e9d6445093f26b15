package analysis

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Bounds beyond Argo Rollouts' own checks: Rollouts accepts a zero or
// negative interval or count (and measures in a loop, or once); this
// package refuses them, and absurd ones, before the first measurement.
const (
	// MinInterval and MaxInterval bound a metric's interval.
	MinInterval = time.Second
	MaxInterval = 7 * 24 * time.Hour
	// MaxInitialDelay bounds a metric's initialDelay.
	MaxInitialDelay = 7 * 24 * time.Hour
	// MaxCount bounds a metric's count.
	MaxCount = 100000
	// MaxMetrics bounds the metrics of a run.
	MaxMetrics = 256
	// DefaultConsecutiveErrorLimit is Rollouts' default consecutiveErrorLimit.
	DefaultConsecutiveErrorLimit = 4
	// DefaultMeasurementHistoryLimit is how many measurements a metric
	// keeps without a measurementRetention rule, as in Rollouts.
	DefaultMeasurementHistoryLimit = 10
	// ErrorRetryInterval is the wait after an Error measurement, and
	// between measurements of a metric without an interval, as in Rollouts.
	ErrorRetryInterval = 10 * time.Second
)

// limits is a metric's validated numbers.
type limits struct {
	interval, initialDelay       time.Duration
	hasInterval, hasInitialDelay bool
	count                        int32 // effective count; 0 means until stopped
	failure, inconclusive        int32
	consecutiveError             int32
	consecutiveSuccess           int32
}

func templated(s string) bool { return strings.Contains(s, "{{") }

// intField reads an int-or-string field. skip reports a templated value
// that lenient validation leaves for NewRun.
func intField(v *intstr.IntOrString, lenient bool, obj, path string) (n int64, set, skip bool, err error) {
	if v == nil {
		return 0, false, false, nil
	}
	if v.Type == intstr.Int {
		return int64(v.IntVal), true, false, nil
	}
	s := strings.TrimSpace(v.StrVal)
	if lenient && templated(s) {
		return 0, false, true, nil
	}
	n, perr := strconv.ParseInt(s, 10, 32)
	if perr != nil {
		return 0, false, false, &FieldError{Object: obj, Path: path, Reason: fmt.Sprintf("%q is not a 32-bit integer", truncate(v.StrVal, 64)), Err: ErrInvalidValue}
	}
	return n, true, false, nil
}

func durationField(s string, lenient bool, obj, path string, min, max time.Duration) (time.Duration, bool, bool, error) {
	if s == "" {
		return 0, false, false, nil
	}
	if lenient && templated(s) {
		return 0, false, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false, false, &FieldError{Object: obj, Path: path, Reason: fmt.Sprintf("invalid duration %q", truncate(s, 64)), Err: ErrInvalidValue}
	}
	if d < min || d > max {
		return 0, false, false, &FieldError{Object: obj, Path: path, Reason: fmt.Sprintf("%s is outside [%s, %s]", d, min, max), Err: ErrInvalidValue}
	}
	return d, true, false, nil
}

// validateMetric applies Argo Rollouts' ValidateMetric and this package's
// bounds. lenient skips what still holds "{{args...}}".
func validateMetric(m *Metric, lenient bool, obj, p string) (limits, error) {
	var l limits
	fail := func(field, format string, a ...any) error {
		return &FieldError{Object: obj, Path: join(p, field), Reason: fmt.Sprintf(format, a...), Err: ErrInvalidValue}
	}
	if m.Name == "" {
		return l, fail("name", "must not be empty")
	}
	count, countSet, countSkip, err := intField(m.Count, lenient, obj, join(p, "count"))
	if err != nil {
		return l, err
	}
	failure, _, failureSkip, err := intField(m.FailureLimit, lenient, obj, join(p, "failureLimit"))
	if err != nil {
		return l, err
	}
	success, _, successSkip, err := intField(m.ConsecutiveSuccessLimit, lenient, obj, join(p, "consecutiveSuccessLimit"))
	if err != nil {
		return l, err
	}
	inconclusive, _, inconclusiveSkip, err := intField(m.InconclusiveLimit, lenient, obj, join(p, "inconclusiveLimit"))
	if err != nil {
		return l, err
	}
	consErr, consErrSet, _, err := intField(m.ConsecutiveErrorLimit, lenient, obj, join(p, "consecutiveErrorLimit"))
	if err != nil {
		return l, err
	}
	if !consErrSet {
		consErr = DefaultConsecutiveErrorLimit
	}
	if countSet && (count <= 0 || count > MaxCount) {
		return l, fail("count", "%d is outside [1, %d]", count, MaxCount)
	}
	if success < 0 {
		return l, fail("consecutiveSuccessLimit", "must be >= 0")
	}
	if failure < -1 {
		return l, fail("failureLimit", "must be >= 0, or -1 to be disabled")
	}
	if !failureSkip && !successSkip && success == 0 && failure == -1 {
		return l, fail("failureLimit", "failureLimit and consecutiveSuccessLimit cannot both be disabled")
	}
	if inconclusive < 0 {
		return l, fail("inconclusiveLimit", "must be >= 0")
	}
	if consErr < 0 {
		return l, fail("consecutiveErrorLimit", "must be >= 0")
	}
	if countSet && !failureSkip && !successSkip {
		if failure >= 0 && count < failure+success {
			return l, fail("count", "count (%d) must be >= failureLimit + consecutiveSuccessLimit (%d + %d) if both >= 0", count, failure, success)
		} else if failure < 0 && count < success {
			return l, fail("count", "count must be >= consecutiveSuccessLimit")
		}
	}
	if countSet && !inconclusiveSkip && count < inconclusive {
		return l, fail("count", "count must be >= inconclusiveLimit")
	}
	interval, hasInterval, intervalSkip, err := durationField(m.Interval, lenient, obj, join(p, "interval"), MinInterval, MaxInterval)
	if err != nil {
		return l, err
	}
	if countSet && count > 1 && !hasInterval && !intervalSkip {
		return l, fail("interval", "interval must be specified when count > 1")
	}
	delay, hasDelay, _, err := durationField(m.InitialDelay, lenient, obj, join(p, "initialDelay"), 0, MaxInitialDelay)
	if err != nil {
		return l, err
	}
	if !countSkip && !countSet && !hasInterval && !intervalSkip {
		count = 1 // Rollouts' EffectiveCount: no count and no interval is one measurement
	}
	if m.Provider.Kind == "" {
		return l, fail("provider", "no provider specified")
	}
	if !contains(providerKinds, m.Provider.Kind) {
		return l, &FieldError{Object: obj, Path: join(p, "provider."+m.Provider.Kind), Reason: fmt.Sprintf("unknown provider kind %q", m.Provider.Kind), Err: ErrUnknownField}
	}
	l = limits{interval: interval, initialDelay: delay, hasInterval: hasInterval, hasInitialDelay: hasDelay,
		count: int32(count), failure: int32(failure), inconclusive: int32(inconclusive),
		consecutiveError: int32(consErr), consecutiveSuccess: int32(success)}
	return l, nil
}

// validateTemplate checks one template on its own.
func validateTemplate(t *Template, lenient bool) error {
	obj := t.String()
	if len(t.Metrics) > MaxMetrics {
		return &FieldError{Object: obj, Path: "spec.metrics", Reason: fmt.Sprintf("%d metrics, more than %d", len(t.Metrics), MaxMetrics), Err: ErrInvalidValue}
	}
	seen := map[string]bool{}
	for i := range t.Metrics {
		p := fmt.Sprintf("spec.metrics[%d]", i)
		if _, err := validateMetric(&t.Metrics[i], lenient, obj, p); err != nil {
			return err
		}
		if !templated(t.Metrics[i].Name) {
			if seen[t.Metrics[i].Name] {
				return &FieldError{Object: obj, Path: p + ".name", Reason: fmt.Sprintf("duplicate name %q", t.Metrics[i].Name), Err: ErrInvalidValue}
			}
			seen[t.Metrics[i].Name] = true
		}
		for _, c := range []struct{ field, expr string }{{"successCondition", t.Metrics[i].SuccessCondition}, {"failureCondition", t.Metrics[i].FailureCondition}} {
			if c.expr == "" || templated(c.expr) {
				continue
			}
			if err := checkCondition(c.expr, DefaultEvalLimits()); err != nil {
				return &FieldError{Object: obj, Path: p + "." + c.field, Reason: err.Error(), Err: ErrCondition}
			}
		}
	}
	names := map[string]bool{}
	for i, a := range t.Args {
		p := fmt.Sprintf("spec.args[%d]", i)
		if a.Name == "" {
			return &FieldError{Object: obj, Path: p + ".name", Reason: "must not be empty", Err: ErrInvalidValue}
		}
		if names[a.Name] {
			return &FieldError{Object: obj, Path: p + ".name", Reason: fmt.Sprintf("duplicate arg %q", a.Name), Err: ErrInvalidValue}
		}
		names[a.Name] = true
		if err := checkArgSource(a, obj, p); err != nil {
			return err
		}
	}
	for i, d := range t.DryRun {
		if err := checkRegexp(d.MetricName, obj, fmt.Sprintf("spec.dryRun[%d].metricName", i)); err != nil {
			return err
		}
	}
	for i, r := range t.MeasurementRetention {
		p := fmt.Sprintf("spec.measurementRetention[%d]", i)
		if err := checkRegexp(r.MetricName, obj, p+".metricName"); err != nil {
			return err
		}
		if r.Limit < 0 || r.Limit > MaxCount {
			return &FieldError{Object: obj, Path: p + ".limit", Reason: fmt.Sprintf("%d is outside [0, %d]", r.Limit, MaxCount), Err: ErrInvalidValue}
		}
	}
	return nil
}

func checkArgSource(a Arg, obj, p string) error {
	if a.ValueFrom == nil {
		return nil
	}
	if a.ValueFrom.SecretKeyRef == nil {
		return &FieldError{Object: obj, Path: p + ".valueFrom", Reason: "needs secretKeyRef", Err: ErrInvalidValue}
	}
	if a.ValueFrom.SecretKeyRef.Name == "" || a.ValueFrom.SecretKeyRef.Key == "" {
		return &FieldError{Object: obj, Path: p + ".valueFrom.secretKeyRef", Reason: "needs name and key", Err: ErrInvalidValue}
	}
	return nil
}

func checkRegexp(s, obj, p string) error {
	if s == "" {
		return &FieldError{Object: obj, Path: p, Reason: "must not be empty", Err: ErrInvalidValue}
	}
	if _, err := regexp.Compile(s); err != nil {
		return &FieldError{Object: obj, Path: p, Reason: fmt.Sprintf("invalid regular expression: %v", err), Err: ErrInvalidValue}
	}
	return nil
}

// truncate bounds s to n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
