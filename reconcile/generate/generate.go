package generate

import (
	"context"
	"errors"
	"fmt"
)

// Params is one parameter set a generator produces. In the default
// (fasttemplate) mode every value is a string and nested values are
// flattened into dotted keys ("values.env", "path[0]"); in Go template
// mode values keep their shape ("path" is a map with "basename" in it).
type Params map[string]any

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrInvalid is a generator or template that cannot be used as it is
	// written: a bad glob, a selector that does not parse, a matrix of
	// other than two generators, a {{ without }}.
	ErrInvalid = errors.New("invalid")
	// ErrTemplate is a template that failed when it ran: a parameter
	// missing under missingkey=error, a function given the wrong value.
	ErrTemplate = errors.New("template failed")
	// ErrLimit is input or output beyond a bound of [Options]: a file,
	// the parameter sets, the rendered bytes, the nesting depth.
	ErrLimit = errors.New("beyond a limit")
)

// Default limits of [DefaultOptions].
const (
	DefaultMaxParams    = 10_000
	DefaultMaxBytes     = 4 << 20
	DefaultMaxFileBytes = 1 << 20
	DefaultMaxDepth     = 64
)

// Options say how parameters are shaped and substituted, and bound what
// generators and templates may produce. A zero limit means its default;
// there is no way to turn a limit off.
type Options struct {
	// GoTemplate selects Argo CD's goTemplate mode: parameters keep their
	// shape and every string is a text/template. Off, strings take
	// {{name}} placeholders (Argo CD's default fasttemplate mode).
	GoTemplate bool
	// GoTemplateOptions are text/template options, as Argo CD's
	// spec.goTemplateOptions: "missingkey=error" fails on a parameter
	// that is not there instead of writing "<no value>".
	GoTemplateOptions []string
	// MaxParams bounds the parameter sets one generator (a matrix
	// included) produces.
	MaxParams int
	// MaxBytes bounds the bytes one Render produces.
	MaxBytes int
	// MaxFileBytes bounds each file a Git files generator reads.
	MaxFileBytes int64
	// MaxDepth bounds how deeply a template value or a parameter file
	// nests.
	MaxDepth int
}

// DefaultOptions returns the fasttemplate mode with the default limits.
func DefaultOptions() Options {
	return Options{
		MaxParams:    DefaultMaxParams,
		MaxBytes:     DefaultMaxBytes,
		MaxFileBytes: DefaultMaxFileBytes,
		MaxDepth:     DefaultMaxDepth,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxParams <= 0 {
		o.MaxParams = d.MaxParams
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = d.MaxFileBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = d.MaxDepth
	}
	return o
}

// Generator produces parameter sets. Implementations must be safe to call
// again (an ApplicationSet is expanded at every pass) and must not keep
// the Params they return: they belong to the caller.
type Generator interface {
	Generate(ctx context.Context, o Options) ([]Params, error)
}

// GeneratorFunc adapts a function to a [Generator].
type GeneratorFunc func(ctx context.Context, o Options) ([]Params, error)

// Generate calls f.
func (f GeneratorFunc) Generate(ctx context.Context, o Options) ([]Params, error) { return f(ctx, o) }

var _ Generator = GeneratorFunc(nil)

// Interpolator is implemented by generators whose settings may hold
// placeholders: in a [Matrix], the second generator is interpolated with
// each parameter set of the first before it runs, as Argo CD does. A
// generator that is no Interpolator runs as it is.
type Interpolator interface {
	Interpolate(p Params, o Options) (Generator, error)
}

// Expand runs each generator and renders tmpl with each parameter set, in
// order: the values an ApplicationSet's generators produce. The template
// is not changed; every returned value is new.
func Expand(ctx context.Context, tmpl map[string]any, o Options, gens ...Generator) ([]map[string]any, error) {
	o = o.withDefaults()
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, g := range gens {
		sets, err := g.Generate(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("generators[%d]: %w", i, err)
		}
		for j, p := range sets {
			v, err := Render(tmpl, p, o)
			if err != nil {
				return nil, fmt.Errorf("generators[%d]: parameter set %d: %w", i, j, err)
			}
			m, _ := v.(map[string]any)
			out = append(out, m)
		}
	}
	return out, nil
}
