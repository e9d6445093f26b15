package analysis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The template kinds LoadTemplates reads, as Argo Rollouts names them.
const (
	KindAnalysisTemplate        = "AnalysisTemplate"
	KindClusterAnalysisTemplate = "ClusterAnalysisTemplate"
	// APIVersion is the only apiVersion LoadTemplates accepts.
	APIVersion = "argoproj.io/v1alpha1"
	// MaxTemplateBytes bounds the input of LoadTemplates.
	MaxTemplateBytes = 4 << 20
)

// Template is an AnalysisTemplate or ClusterAnalysisTemplate's spec, with
// the object's kind and name for errors. Templates loaded by
// [LoadTemplates] are checked as far as they can be without their args;
// [NewRun] checks everything again after substitution, so a Template
// built in Go is held to the same rules.
type Template struct {
	// Kind is KindAnalysisTemplate (also when empty) or
	// KindClusterAnalysisTemplate.
	Kind string `json:"kind"`
	// Name and Namespace are the object's, for errors.
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`

	// Args are the template's arguments, with their defaults.
	Args []Arg `json:"args,omitempty"`
	// Metrics are measured in this order.
	Metrics []Metric `json:"metrics"`
	// DryRun and MeasurementRetention are the template's rules.
	DryRun               []DryRun               `json:"dryRun,omitempty"`
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
}

// String names the template as errors name it: "AnalysisTemplate/success-rate".
func (t *Template) String() string {
	if t == nil {
		return "<nil>"
	}
	kind := t.Kind
	if kind == "" {
		kind = KindAnalysisTemplate
	}
	return kind + "/" + t.Name
}

// Metric is one metric of a template, with Argo Rollouts' field names.
// Count and the limits are int-or-string so that they can be "{{args.n}}".
type Metric struct {
	// Name is unique in a run.
	Name string `json:"name"`
	// Interval between measurements (a Go duration, "30s"); empty means
	// one measurement.
	Interval string `json:"interval,omitempty"`
	// InitialDelay before the first measurement, from the run's start.
	InitialDelay string `json:"initialDelay,omitempty"`
	// Count of measurements; unset with an Interval means until stopped.
	Count *intstr.IntOrString `json:"count,omitempty"`
	// SuccessCondition and FailureCondition are expr-lang expressions
	// over `result`.
	SuccessCondition string `json:"successCondition,omitempty"`
	FailureCondition string `json:"failureCondition,omitempty"`
	// FailureLimit is the number of Failed measurements tolerated
	// (default 0; -1 disables it).
	FailureLimit *intstr.IntOrString `json:"failureLimit,omitempty"`
	// InconclusiveLimit is the number of Inconclusive measurements
	// tolerated (default 0).
	InconclusiveLimit *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is the number of Error measurements in a row
	// tolerated (default [DefaultConsecutiveErrorLimit]).
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	// ConsecutiveSuccessLimit, when > 0, ends the metric Successful after
	// that many Successful measurements in a row.
	ConsecutiveSuccessLimit *intstr.IntOrString `json:"consecutiveSuccessLimit,omitempty"`
	// Provider is the metric's one provider block.
	Provider ProviderSpec `json:"provider"`
}

// ProviderSpec is a metric's provider block: its one key and its value.
type ProviderSpec struct {
	// Kind is the block's key: "prometheus", "web", "job", ...
	Kind string `json:"kind"`
	// Spec is the block's value decoded from JSON (map[string]any,
	// []any, string, float64, bool, nil).
	Spec map[string]any `json:"spec"`
}

// Arg is a template argument; a value given to [NewRun] overrides the
// template's default.
type Arg struct {
	// Name is what {{args.name}} refers to.
	Name string `json:"name"`
	// Value is the arg's value; nil with no ValueFrom means the host
	// must give one.
	Value *string `json:"value,omitempty"`
	// ValueFrom sources the value from a Secret.
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

// ValueFrom sources an arg's value. Only SecretKeyRef is supported, through
// the [SecretResolver] the host passes; fieldRef (a Rollout's own fields)
// is refused by name, since no Rollout object is at hand.
type ValueFrom struct {
	// SecretKeyRef names the Secret's key.
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
}

// SecretKeyRef names a key of a Secret.
type SecretKeyRef struct {
	// Name is the Secret's name, in a namespace the host knows.
	Name string `json:"name"`
	// Key is the key in the Secret's data.
	Key string `json:"key"`
}

// DryRun marks the metrics whose names match MetricName (a regular
// expression) as dry-run: their phase never decides the run's.
type DryRun struct {
	// MetricName is a regular expression, matched as regexp.MatchString.
	MetricName string `json:"metricName"`
}

// MeasurementRetention keeps the last Limit measurements of the metrics
// whose names match MetricName (a regular expression), instead of the
// default [DefaultMeasurementHistoryLimit].
type MeasurementRetention struct {
	// MetricName is a regular expression, matched as regexp.MatchString.
	MetricName string `json:"metricName"`
	// Limit is the measurements kept; 0 keeps the default.
	Limit int32 `json:"limit"`
}

// providerKinds are the provider blocks Argo Rollouts v1.9 defines.
var providerKinds = []string{"cloudWatch", "datadog", "graphite", "influxdb", "job", "kayenta", "newRelic", "plugin", "prometheus", "skywalking", "wavefront", "web"}

var metaKeys = []string{"annotations", "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "finalizers", "generateName", "generation", "labels", "managedFields", "name", "namespace", "ownerReferences", "resourceVersion", "selfLink", "uid"}

// LoadTemplates reads AnalysisTemplate and ClusterAnalysisTemplate objects
// (argoproj.io/v1alpha1) from YAML or JSON, several separated by "---".
// A field Argo Rollouts does not define is an error naming its path, as is
// a provider kind it does not define, a value of the wrong type, and every
// check of [NewRun] that does not depend on an arg. The errors are
// [*FieldError]s. Any other kind of object is an error too.
func LoadTemplates(data []byte) ([]*Template, error) {
	if len(data) > MaxTemplateBytes {
		return nil, fmt.Errorf("analysis templates: %d bytes, more than %d", len(data), MaxTemplateBytes)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*Template
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("analysis templates: document %d: %w", i, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("analysis templates: document %d: %w", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("analysis templates: document %d: %w", i, err)
		}
		if v == nil {
			continue // empty document, comments only
		}
		t, err := decodeTemplate(v)
		if err != nil {
			return nil, err
		}
		if err := validateTemplate(t, true); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// decoder walks decoded JSON, failing with the path of what it refuses.
type decoder struct{ obj string }

func (d *decoder) fail(path string, err error, format string, a ...any) error {
	return &FieldError{Object: d.obj, Path: path, Reason: fmt.Sprintf(format, a...), Err: err}
}

func (d *decoder) object(v any, path string, keys ...string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, d.fail(path, ErrInvalidValue, "must be an object, not %s", typeName(v))
	}
	if keys == nil {
		return m, nil
	}
	var unknown []string
	for k := range m {
		if !contains(keys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, d.fail(join(path, unknown[0]), ErrUnknownField, "unknown field %q", unknown[0])
	}
	return m, nil
}

func (d *decoder) list(v any, path string) ([]any, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, d.fail(path, ErrInvalidValue, "must be a list, not %s", typeName(v))
	}
	return l, nil
}

func (d *decoder) str(m map[string]any, key, path string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", d.fail(join(path, key), ErrInvalidValue, "must be a string, not %s", typeName(v))
	}
	return s, nil
}

func (d *decoder) intOrString(m map[string]any, key, path string) (*intstr.IntOrString, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		is := intstr.FromString(x)
		return &is, nil
	case json.Number:
		n, err := x.Int64()
		if err != nil || n != int64(int32(n)) {
			return nil, d.fail(join(path, key), ErrInvalidValue, "%s is not a 32-bit integer", x)
		}
		is := intstr.FromInt32(int32(n))
		return &is, nil
	}
	return nil, d.fail(join(path, key), ErrInvalidValue, "must be an integer or a string, not %s", typeName(v))
}

func decodeTemplate(v any) (*Template, error) {
	d := &decoder{obj: "document"}
	if m, ok := v.(map[string]any); ok {
		// Name the object in every error, even about its top-level fields.
		kind, _ := m["kind"].(string)
		md, _ := m["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		d.obj = (&Template{Kind: kind, Name: name}).String()
	}
	top, err := d.object(v, "", "apiVersion", "kind", "metadata", "spec")
	if err != nil {
		return nil, err
	}
	kind, err := d.str(top, "kind", "")
	if err != nil {
		return nil, err
	}
	api, err := d.str(top, "apiVersion", "")
	if err != nil {
		return nil, err
	}
	t := &Template{Kind: kind}
	if md, ok := top["metadata"]; ok {
		m, err := d.object(md, "metadata", metaKeys...)
		if err != nil {
			return nil, err
		}
		if t.Name, err = d.str(m, "name", "metadata"); err != nil {
			return nil, err
		}
		if t.Namespace, err = d.str(m, "namespace", "metadata"); err != nil {
			return nil, err
		}
	}
	d.obj = t.String()
	if kind != KindAnalysisTemplate && kind != KindClusterAnalysisTemplate {
		return nil, d.fail("kind", ErrUnsupportedKind, "%q is not %s or %s", kind, KindAnalysisTemplate, KindClusterAnalysisTemplate)
	}
	if api != APIVersion {
		return nil, d.fail("apiVersion", ErrUnsupportedKind, "%q is not %s", api, APIVersion)
	}
	spec, err := d.object(top["spec"], "spec", "metrics", "args", "dryRun", "measurementRetention", "templates")
	if err != nil {
		return nil, err
	}
	if _, ok := spec["templates"]; ok {
		return nil, d.fail("spec.templates", ErrUnsupported, "templates that reference other templates are not supported: load those and pass them all to NewRun")
	}
	if err := d.args(t, spec["args"]); err != nil {
		return nil, err
	}
	metrics, err := d.list(spec["metrics"], "spec.metrics")
	if err != nil {
		return nil, err
	}
	for i, mv := range metrics {
		m, err := d.metric(mv, fmt.Sprintf("spec.metrics[%d]", i))
		if err != nil {
			return nil, err
		}
		t.Metrics = append(t.Metrics, m)
	}
	dr, err := d.list(spec["dryRun"], "spec.dryRun")
	if err != nil {
		return nil, err
	}
	for i, v := range dr {
		p := fmt.Sprintf("spec.dryRun[%d]", i)
		m, err := d.object(v, p, "metricName")
		if err != nil {
			return nil, err
		}
		name, err := d.str(m, "metricName", p)
		if err != nil {
			return nil, err
		}
		t.DryRun = append(t.DryRun, DryRun{MetricName: name})
	}
	mr, err := d.list(spec["measurementRetention"], "spec.measurementRetention")
	if err != nil {
		return nil, err
	}
	for i, v := range mr {
		p := fmt.Sprintf("spec.measurementRetention[%d]", i)
		m, err := d.object(v, p, "metricName", "limit")
		if err != nil {
			return nil, err
		}
		name, err := d.str(m, "metricName", p)
		if err != nil {
			return nil, err
		}
		limit, err := d.intOrString(m, "limit", p)
		if err != nil {
			return nil, err
		}
		if limit != nil && limit.Type == intstr.String {
			return nil, d.fail(p+".limit", ErrInvalidValue, "must be an integer")
		}
		r := MeasurementRetention{MetricName: name}
		if limit != nil {
			r.Limit = limit.IntVal
		}
		t.MeasurementRetention = append(t.MeasurementRetention, r)
	}
	return t, nil
}

func (d *decoder) args(t *Template, v any) error {
	args, err := d.list(v, "spec.args")
	if err != nil {
		return err
	}
	for i, av := range args {
		p := fmt.Sprintf("spec.args[%d]", i)
		m, err := d.object(av, p, "name", "value", "valueFrom")
		if err != nil {
			return err
		}
		a := Arg{}
		if a.Name, err = d.str(m, "name", p); err != nil {
			return err
		}
		if val, ok := m["value"]; ok && val != nil {
			s, err := d.str(m, "value", p)
			if err != nil {
				return err
			}
			a.Value = &s
		}
		if vf, ok := m["valueFrom"]; ok && vf != nil {
			vm, err := d.object(vf, p+".valueFrom", "secretKeyRef", "fieldRef")
			if err != nil {
				return err
			}
			if _, ok := vm["fieldRef"]; ok {
				return d.fail(p+".valueFrom.fieldRef", ErrUnsupported, "fieldRef is not supported: pass the value as an arg")
			}
			sv, err := d.object(vm["secretKeyRef"], p+".valueFrom.secretKeyRef", "name", "key")
			if err != nil {
				return err
			}
			ref := &SecretKeyRef{}
			if ref.Name, err = d.str(sv, "name", p+".valueFrom.secretKeyRef"); err != nil {
				return err
			}
			if ref.Key, err = d.str(sv, "key", p+".valueFrom.secretKeyRef"); err != nil {
				return err
			}
			a.ValueFrom = &ValueFrom{SecretKeyRef: ref}
		}
		t.Args = append(t.Args, a)
	}
	return nil
}

func (d *decoder) metric(v any, p string) (Metric, error) {
	var m Metric
	o, err := d.object(v, p, "name", "interval", "initialDelay", "count", "successCondition", "failureCondition",
		"failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit", "provider")
	if err != nil {
		return m, err
	}
	for key, dst := range map[string]*string{"name": &m.Name, "interval": &m.Interval, "initialDelay": &m.InitialDelay,
		"successCondition": &m.SuccessCondition, "failureCondition": &m.FailureCondition} {
		if *dst, err = d.str(o, key, p); err != nil {
			return m, err
		}
	}
	for key, dst := range map[string]**intstr.IntOrString{"count": &m.Count, "failureLimit": &m.FailureLimit,
		"inconclusiveLimit": &m.InconclusiveLimit, "consecutiveErrorLimit": &m.ConsecutiveErrorLimit,
		"consecutiveSuccessLimit": &m.ConsecutiveSuccessLimit} {
		if *dst, err = d.intOrString(o, key, p); err != nil {
			return m, err
		}
	}
	prov, err := d.object(o["provider"], p+".provider", providerKinds...)
	if err != nil {
		return m, err
	}
	kinds := make([]string, 0, len(prov))
	for k := range prov {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	switch len(kinds) {
	case 0:
		return m, d.fail(p+".provider", ErrInvalidValue, "no provider specified")
	case 1:
	default:
		return m, d.fail(p+".provider", ErrInvalidValue, "multiple providers specified: %s", strings.Join(kinds, ", "))
	}
	spec, err := d.object(prov[kinds[0]], p+".provider."+kinds[0])
	if err != nil {
		return m, err
	}
	m.Provider = ProviderSpec{Kind: kinds[0], Spec: plainJSON(spec).(map[string]any)}
	return m, nil
}

// plainJSON turns json.Numbers into float64s, as encoding/json decodes.
func plainJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	}
	return v
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
