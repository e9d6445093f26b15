package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func unsupported(field string) error { return fmt.Errorf("%s: %w", field, ErrUnsupported) }

// maxReplicas bounds spec.replicas and the counts derived from it.
const maxReplicas = 1 << 20

func (r *Rollout) validate() error {
	s := &r.Spec
	if field := firstPresent([]namedRaw{{"spec.workloadRef", s.WorkloadRef}, {"spec.restartAt", s.RestartAt}, {"spec.rollbackWindow", s.RollbackWindow}, {"spec.analysis", s.Analysis}}); field != "" {
		return unsupported(field)
	}
	if s.Replicas != nil && (*s.Replicas < 0 || *s.Replicas > maxReplicas) {
		return fmt.Errorf("spec.replicas: %d is out of range [0, %d]", *s.Replicas, maxReplicas)
	}
	if s.ProgressDeadlineSeconds != nil && *s.ProgressDeadlineSeconds <= 0 {
		return fmt.Errorf("spec.progressDeadlineSeconds: %d is not positive", *s.ProgressDeadlineSeconds)
	}
	if s.Selector == nil || len(s.Selector.MatchLabels) == 0 {
		return errors.New("spec.selector.matchLabels is required")
	}
	if present(s.Selector.MatchExpressions) {
		return unsupported("spec.selector.matchExpressions")
	}
	if s.Template == nil {
		return errors.New("spec.template is required")
	}
	labels, _, _ := unstructured.NestedStringMap(s.Template, "metadata", "labels")
	for k, v := range s.Selector.MatchLabels {
		if labels[k] != v {
			return fmt.Errorf("spec.selector: %s=%s does not match spec.template.metadata.labels", k, v)
		}
	}
	if _, ok := labels[LabelRevision]; ok {
		return fmt.Errorf("spec.template.metadata.labels: %s is converge's own", LabelRevision)
	}
	switch {
	case s.Strategy.Canary != nil && s.Strategy.BlueGreen != nil:
		return errors.New("spec.strategy: canary and blueGreen are both set")
	case s.Strategy.Canary != nil:
		return s.Strategy.Canary.validate(r)
	case s.Strategy.BlueGreen != nil:
		return s.Strategy.BlueGreen.validate()
	default:
		return errors.New("spec.strategy: one of canary and blueGreen is required")
	}
}

func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func (c *Canary) validate(r *Rollout) error {
	const p = "spec.strategy.canary"
	if field := firstPresent([]namedRaw{{p + ".antiAffinity", c.AntiAffinity}, {p + ".dynamicStableScale", c.DynamicStableScale}, {p + ".pingPong", c.PingPong}}); field != "" {
		return unsupported(field)
	}
	if c.CanaryService != "" && c.CanaryService == c.StableService {
		return fmt.Errorf("%s: canaryService and stableService are both %q", p, c.CanaryService)
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"scaleDownDelaySeconds", c.ScaleDownDelaySeconds}, {"abortScaleDownDelaySeconds", c.AbortScaleDownDelaySeconds},
		{"scaleDownDelayRevisionLimit", c.ScaleDownDelayRevisionLimit}, {"minPodsPerReplicaSet", c.MinPodsPerReplicaSet}} {
		if f.v != nil && *f.v < 0 {
			return fmt.Errorf("%s.%s: %d is negative", p, f.name, *f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    *intstr.IntOrString
	}{{"maxSurge", c.MaxSurge}, {"maxUnavailable", c.MaxUnavailable}} {
		if f.v == nil {
			continue
		}
		if _, err := intstr.GetScaledValueFromIntOrPercent(f.v, 100, true); err != nil {
			return fmt.Errorf("%s.%s: %w", p, f.name, err)
		}
	}
	if c.TrafficRouting != nil {
		if err := c.TrafficRouting.validate(p + ".trafficRouting"); err != nil {
			return err
		}
		bySubset := c.TrafficRouting.Istio != nil && c.TrafficRouting.Istio.DestinationRule != nil
		if !bySubset && (c.CanaryService == "" || c.StableService == "") {
			return fmt.Errorf("%s: trafficRouting needs canaryService and stableService (or Istio's destinationRule subsets)", p)
		}
	}
	for i, st := range c.Steps {
		if err := st.validate(fmt.Sprintf("%s.steps[%d]", p, i), c.TrafficRouting); err != nil {
			return err
		}
	}
	if c.Analysis != nil {
		if err := c.Analysis.StepAnalysis.validate(p + ".analysis"); err != nil {
			return err
		}
		if s := c.Analysis.StartingStep; s != nil && (*s < 0 || int(*s) > len(c.Steps)) {
			return fmt.Errorf("%s.analysis.startingStep: %d is not a step index", p, *s)
		}
	}
	return nil
}

func (st *CanaryStep) validate(p string, routing *TrafficRouting) error {
	if field := firstPresent([]namedRaw{{p + ".experiment", st.Experiment}, {p + ".setMirrorRoute", st.SetMirrorRoute}, {p + ".plugin", st.Plugin}}); field != "" {
		return unsupported(field)
	}
	n := 0
	if st.SetWeight != nil {
		n++
		if *st.SetWeight < 0 || *st.SetWeight > 100 {
			return fmt.Errorf("%s.setWeight: %d is not a percentage", p, *st.SetWeight)
		}
	}
	if st.Pause != nil {
		n++
		if _, err := st.Pause.duration(); err != nil {
			return fmt.Errorf("%s.pause.duration: %w", p, err)
		}
	}
	if st.Analysis != nil {
		n++
		if err := st.Analysis.validate(p + ".analysis"); err != nil {
			return err
		}
	}
	if sc := st.SetCanaryScale; sc != nil {
		n++
		set := 0
		if sc.Weight != nil {
			set++
			if *sc.Weight < 0 || *sc.Weight > 100 {
				return fmt.Errorf("%s.setCanaryScale.weight: %d is not a percentage", p, *sc.Weight)
			}
		}
		if sc.Replicas != nil {
			set++
			if *sc.Replicas < 0 || *sc.Replicas > maxReplicas {
				return fmt.Errorf("%s.setCanaryScale.replicas: %d is out of range", p, *sc.Replicas)
			}
		}
		if sc.MatchTrafficWeight {
			set++
		}
		if set != 1 {
			return fmt.Errorf("%s.setCanaryScale: exactly one of weight, replicas and matchTrafficWeight is required", p)
		}
		if routing == nil {
			return fmt.Errorf("%s.setCanaryScale needs trafficRouting", p)
		}
	}
	if hr := st.SetHeaderRoute; hr != nil {
		n++
		if hr.Name == "" {
			return fmt.Errorf("%s.setHeaderRoute.name is required", p)
		}
		switch {
		case routing == nil:
			return fmt.Errorf("%s.setHeaderRoute needs trafficRouting", p)
		case routing.SMI != nil:
			return unsupported(p + ".setHeaderRoute with trafficRouting.smi")
		case !slices.ContainsFunc(routing.ManagedRoutes, func(m ManagedRoute) bool { return m.Name == hr.Name }):
			return fmt.Errorf("%s.setHeaderRoute: %q is not among trafficRouting.managedRoutes", p, hr.Name)
		}
		for j, m := range hr.Match {
			v := m.HeaderValue
			count := 0
			for _, s := range []string{v.Exact, v.Prefix, v.Regex} {
				if s != "" {
					count++
				}
			}
			if m.HeaderName == "" || count != 1 {
				return fmt.Errorf("%s.setHeaderRoute.match[%d]: a headerName and exactly one of exact, prefix and regex are required", p, j)
			}
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: exactly one of setWeight, pause, analysis, setCanaryScale and setHeaderRoute is required", p)
	}
	return nil
}

// duration is the pause's; 0 means until promoted.
func (p *Pause) duration() (time.Duration, error) {
	if p.Duration == nil {
		return 0, nil
	}
	var d time.Duration
	if p.Duration.Type == intstr.Int {
		d = time.Duration(p.Duration.IntVal) * time.Second
	} else {
		s := p.Duration.StrVal
		var err error
		if strings.TrimLeft(s, "0123456789") == "" {
			var secs int64
			_, err = fmt.Sscan(s, &secs)
			d = time.Duration(secs) * time.Second
		} else {
			// Rollouts accepts one unit suffix: s, m or h.
			d, err = time.ParseDuration(s)
		}
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
	}
	if d < 0 || d > math.MaxInt32*time.Second {
		return 0, fmt.Errorf("%s is out of range", d)
	}
	return d, nil
}

func (a *StepAnalysis) validate(p string) error {
	if len(a.Templates) == 0 {
		return fmt.Errorf("%s.templates: at least one template is required", p)
	}
	for i, t := range a.Templates {
		if t.TemplateName == "" {
			return fmt.Errorf("%s.templates[%d].templateName is required", p, i)
		}
	}
	for i, arg := range a.Args {
		if arg.Name == "" {
			return fmt.Errorf("%s.args[%d].name is required", p, i)
		}
		if vf := arg.ValueFrom; vf != nil {
			if present(vf.FieldRef) {
				return unsupported(fmt.Sprintf("%s.args[%d].valueFrom.fieldRef", p, i))
			}
			if h := vf.PodTemplateHashValue; h != "Stable" && h != "Latest" {
				return fmt.Errorf("%s.args[%d].valueFrom.podTemplateHashValue: %q is neither Stable nor Latest", p, i, h)
			}
		}
	}
	return nil
}

func (t *TrafficRouting) validate(p string) error {
	if field := firstPresent([]namedRaw{{p + ".alb", t.ALB}, {p + ".ambassador", t.Ambassador}, {p + ".appMesh", t.AppMesh}, {p + ".traefik", t.Traefik}, {p + ".apisix", t.Apisix}}); field != "" {
		return unsupported(field)
	}
	n := 0
	if t.Istio != nil {
		n++
	}
	if t.Nginx != nil {
		n++
	}
	if t.SMI != nil {
		n++
	}
	for name := range t.Plugins {
		if name != GatewayAPIPlugin {
			return unsupported(p + ".plugins." + name)
		}
		n++
	}
	if n != 1 {
		return fmt.Errorf("%s: exactly one router is required (istio, nginx, smi or plugins.%s)", p, GatewayAPIPlugin)
	}
	return nil
}

func (b *BlueGreen) validate() error {
	const p = "spec.strategy.blueGreen"
	if present(b.AntiAffinity) {
		return unsupported(p + ".antiAffinity")
	}
	if b.ActiveService == "" {
		return fmt.Errorf("%s.activeService is required", p)
	}
	if b.ActiveService == b.PreviewService {
		return fmt.Errorf("%s: activeService and previewService are both %q", p, b.ActiveService)
	}
	if b.AutoPromotionSeconds < 0 {
		return fmt.Errorf("%s.autoPromotionSeconds: %d is negative", p, b.AutoPromotionSeconds)
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"previewReplicaCount", b.PreviewReplicaCount}, {"scaleDownDelaySeconds", b.ScaleDownDelaySeconds},
		{"abortScaleDownDelaySeconds", b.AbortScaleDownDelaySeconds}, {"scaleDownDelayRevisionLimit", b.ScaleDownDelayRevisionLimit}} {
		if f.v != nil && (*f.v < 0 || *f.v > maxReplicas) {
			return fmt.Errorf("%s.%s: %d is out of range", p, f.name, *f.v)
		}
	}
	for _, f := range []struct {
		name string
		a    *StepAnalysis
	}{{"prePromotionAnalysis", b.PrePromotionAnalysis}, {"postPromotionAnalysis", b.PostPromotionAnalysis}} {
		if f.a != nil {
			if err := f.a.validate(p + "." + f.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// namedRaw is a field converge refuses, by its path.
type namedRaw struct {
	field string
	raw   json.RawMessage
}

// firstPresent returns the path of the first field set, in order, so that
// the error names the same one every time.
func firstPresent(fields []namedRaw) string {
	for _, f := range fields {
		if present(f.raw) {
			return f.field
		}
	}
	return ""
}
