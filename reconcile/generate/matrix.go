package generate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Matrix is Argo CD's matrix generator: the cartesian product of two
// generators' parameter sets. The second is interpolated with each set
// of the first ([Interpolator]) before it runs, so it may use the first's
// parameters ("{{path}}" in a Git files glob).
//
// Each product set holds both sets' parameters. In the default mode a
// parameter both name with different values fails, as in Argo CD; in Go
// template mode maps are merged and the first generator's value wins.
type Matrix struct {
	Generators []Generator
}

var (
	_ Generator    = Matrix{}
	_ Interpolator = Matrix{}
)

// Generate returns the product, the first generator's order outermost.
func (m Matrix) Generate(ctx context.Context, o Options) ([]Params, error) {
	o = o.withDefaults()
	if len(m.Generators) != 2 {
		return nil, fmt.Errorf("matrix: %w: %d generators, not 2", ErrInvalid, len(m.Generators))
	}
	first, err := m.Generators[0].Generate(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("matrix: generators[0]: %w", err)
	}
	var out []Params
	for i, a := range first {
		second := m.Generators[1]
		if in, ok := second.(Interpolator); ok {
			if second, err = in.Interpolate(a, o); err != nil {
				return nil, fmt.Errorf("matrix: generators[1] with set %d of generators[0]: %w", i, err)
			}
		}
		bs, err := second.Generate(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("matrix: generators[1] with set %d of generators[0]: %w", i, err)
		}
		for _, b := range bs {
			if len(out) == o.MaxParams {
				return nil, fmt.Errorf("matrix: %w: more than %d parameter sets", ErrLimit, o.MaxParams)
			}
			p, err := combine(a, b, o)
			if err != nil {
				return nil, fmt.Errorf("matrix: %w", err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Interpolate interpolates the first generator: a matrix inside a
// matrix's second place.
func (m Matrix) Interpolate(p Params, o Options) (Generator, error) {
	if len(m.Generators) == 0 {
		return m, nil
	}
	out := Matrix{Generators: append([]Generator(nil), m.Generators...)}
	if in, ok := out.Generators[0].(Interpolator); ok {
		g, err := in.Interpolate(p, o)
		if err != nil {
			return nil, err
		}
		out.Generators[0] = g
	}
	return out, nil
}

var errConflict = errors.New("both generators set a parameter to different values")

func combine(a, b Params, o Options) (Params, error) {
	out := make(Params, len(a)+len(b))
	if !o.GoTemplate {
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			if prev, ok := out[k]; ok && !reflect.DeepEqual(prev, v) {
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, k, errConflict)
			}
			out[k] = v
		}
		return out, nil
	}
	merged := merge(map[string]any(a), map[string]any(b))
	return Params(merged), nil
}

// merge is mergo.Merge without override, as Argo CD's matrix uses it: a's
// values win, maps are merged key by key, b fills what a lacks.
func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range b {
		out[k] = v
	}
	for k, v := range a {
		am, aok := v.(map[string]any)
		bm, bok := out[k].(map[string]any)
		if aok && bok {
			out[k] = merge(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}
