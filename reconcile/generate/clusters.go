package generate

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Cluster is a registered destination cluster, as a host knows it (from
// Argo CD cluster Secrets, a kubeconfig, its own registry).
type Cluster struct {
	Name        string
	Server      string
	Project     string
	Labels      map[string]string
	Annotations map[string]string
}

// Clusters is Argo CD's cluster generator over the clusters the caller
// gives: one parameter set per cluster whose labels Selector matches (a
// nil or empty selector matches every cluster).
//
// The parameters are name, nameNormalized ([SanitizeName]), server,
// project, metadata.labels.<key> and metadata.annotations.<key>; in Go
// template mode metadata is a map with labels and annotations. Values are
// rendered with each cluster's parameters and added as values.<key>.
type Clusters struct {
	Clusters []Cluster
	Selector *metav1.LabelSelector
	Values   map[string]string
}

var (
	_ Generator    = Clusters{}
	_ Interpolator = Clusters{}
)

// Generate returns the matching clusters' parameters, in the given order.
func (c Clusters) Generate(_ context.Context, o Options) ([]Params, error) {
	o = o.withDefaults()
	sel := labels.Everything()
	if c.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(c.Selector)
		if err != nil {
			return nil, fmt.Errorf("clusters: selector: %w: %v", ErrInvalid, err)
		}
		sel = s
	}
	var out []Params
	for _, cl := range c.Clusters {
		if !sel.Matches(labels.Set(cl.Labels)) {
			continue
		}
		if len(out) == o.MaxParams {
			return nil, fmt.Errorf("clusters: %w: more than %d clusters match", ErrLimit, o.MaxParams)
		}
		p := Params{
			"name":           cl.Name,
			"nameNormalized": SanitizeName(cl.Name),
			"server":         cl.Server,
			"project":        cl.Project,
		}
		if o.GoTemplate {
			meta := map[string]any{}
			if len(cl.Labels) > 0 {
				meta["labels"] = stringMap(cl.Labels)
			}
			if len(cl.Annotations) > 0 {
				meta["annotations"] = stringMap(cl.Annotations)
			}
			p["metadata"] = meta
		} else {
			for k, v := range cl.Labels {
				p["metadata.labels."+k] = v
			}
			for k, v := range cl.Annotations {
				p["metadata.annotations."+k] = v
			}
		}
		if err := addValues(p, c.Values, o); err != nil {
			return nil, fmt.Errorf("clusters: %s: %w", cl.Name, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Interpolate renders the selector's labels and values with p.
func (c Clusters) Interpolate(p Params, o Options) (Generator, error) {
	if c.Selector == nil {
		return c, nil
	}
	out := c
	sel := c.Selector.DeepCopy()
	for k, v := range sel.MatchLabels {
		s, err := String(v, p, o)
		if err != nil {
			return nil, fmt.Errorf("clusters: selector.matchLabels.%s: %w", k, err)
		}
		sel.MatchLabels[k] = s
	}
	for i, e := range sel.MatchExpressions {
		for j, v := range e.Values {
			s, err := String(v, p, o)
			if err != nil {
				return nil, fmt.Errorf("clusters: selector.matchExpressions[%d].values[%d]: %w", i, j, err)
			}
			sel.MatchExpressions[i].Values[j] = s
		}
	}
	out.Selector = sel
	return out, nil
}
