package rollout

import (
	"context"
	"fmt"
	"slices"

	"github.com/converge-dev/converge/rollout/analysis"
)

// runAnalysis starts or steps the analysis of a, kept in *slot for what.
// It returns the run's phase once completed, "" while it runs.
func (p *pass) runAnalysis(ctx context.Context, slot **AnalysisState, what string, a *StepAnalysis) (analysis.Phase, *analysis.Status, error) {
	templates, err := p.templatesOf(a)
	if err != nil {
		return "", nil, err
	}
	args := p.argsOf(a)
	opts := append(slices.Clone(p.e.opts.AnalysisOptions), analysis.WithDryRun(a.DryRun...), analysis.WithMeasurementRetention(a.MeasurementRetention...))
	run, err := analysis.NewRun(templates, args, p.e.opts.Providers, opts...)
	if err != nil {
		return "", nil, fmt.Errorf("%s analysis: %w", what, err)
	}
	if *slot != nil && (*slot).For == what {
		if err := run.Resume((*slot).Run); err != nil {
			return "", nil, fmt.Errorf("%s analysis: resuming: %w", what, err)
		}
	} else {
		*slot = &AnalysisState{For: what}
	}
	s := *slot
	if !run.Phase().Completed() && !p.now.Before(s.Next) && !p.dryRun {
		next, err := run.Step(ctx, p.now)
		if err != nil {
			return "", nil, fmt.Errorf("%s analysis: %w", what, err)
		}
		s.Next = next
		data, err := run.MarshalJSON()
		if err != nil {
			return "", nil, err
		}
		s.Run = data
	}
	s.Phase = string(run.Phase())
	status := run.Status()
	if run.Phase().Completed() {
		return run.Phase(), &status, nil
	}
	p.wait(s.Next)
	return "", &status, nil
}

// templatesOf finds the templates a names among the set's.
func (p *pass) templatesOf(a *StepAnalysis) ([]*analysis.Template, error) {
	out := make([]*analysis.Template, 0, len(a.Templates))
	for _, ref := range a.Templates {
		kind := analysis.KindAnalysisTemplate
		if ref.ClusterScope {
			kind = analysis.KindClusterAnalysisTemplate
		}
		i := slices.IndexFunc(p.templates, func(t *analysis.Template) bool {
			k := t.Kind
			if k == "" {
				k = analysis.KindAnalysisTemplate
			}
			return k == kind && t.Name == ref.TemplateName && (ref.ClusterScope || t.Namespace == "" || t.Namespace == p.r.Namespace)
		})
		if i < 0 {
			return nil, fmt.Errorf("%s %s is not among the rendered objects", kind, ref.TemplateName)
		}
		out = append(out, p.templates[i])
	}
	return out, nil
}

// argsOf returns the args of a, then the engine's.
func (p *pass) argsOf(a *StepAnalysis) []analysis.Arg {
	var args []analysis.Arg
	seen := map[string]bool{}
	for _, arg := range a.Args {
		v := arg.Value
		if vf := arg.ValueFrom; vf != nil {
			if vf.PodTemplateHashValue == "Stable" {
				v = p.st.Stable.Hash
			} else {
				v = p.st.Revision
			}
		}
		args = append(args, analysis.Arg{Name: arg.Name, Value: &v})
		seen[arg.Name] = true
	}
	for _, arg := range p.e.opts.Args {
		if !seen[arg.Name] {
			args = append(args, arg)
		}
	}
	return args
}
