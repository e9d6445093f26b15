package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/converge-dev/converge/object"
)

// Sentinel errors a caller can branch on with errors.Is. Renderers return
// them wrapped in an [*Error] that names the file.
var (
	// ErrOutsideRoot: a reference leaves the root of the file system.
	ErrOutsideRoot = errors.New("path leaves the source root")
	// ErrNotAllowed: the input asks for something the renderer refuses
	// unless the host opts in (remote bases, exec or container functions,
	// plugins, Helm inflation, a custom OpenAPI schema).
	ErrNotAllowed = errors.New("not allowed")
	// ErrTooLarge: a file exceeds the size limit.
	ErrTooLarge = errors.New("file exceeds the size limit")
	// ErrUnsupported: an option the renderer does not implement was set.
	ErrUnsupported = errors.New("option not supported by this renderer")
	// ErrUnsetVariable: strict substitution met a variable with no value
	// and no default.
	ErrUnsetVariable = errors.New("variable not set")
	// ErrSyntax: malformed input, such as an unterminated "${".
	ErrSyntax = errors.New("syntax error")
)

// Error is a rendering failure. Path is the file or directory at fault,
// relative to the root of the file system; Err says what went wrong.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	switch {
	case e.Path == "":
		return "render: " + msg
	case strings.HasPrefix(msg, e.Path+": "):
		// Err names the path already, as object.Set.Add's errors do.
		return "render " + msg
	}
	return fmt.Sprintf("render %s: %s", e.Path, msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Renderer turns the directory path of fsys into objects.
//
// Render must only read below the root of fsys, must not retain fsys after
// returning, and must return objects in a deterministic order. The returned
// Set belongs to the caller. Implementations are safe for concurrent use.
type Renderer interface {
	Render(ctx context.Context, fsys fs.FS, path string, opts Options) (*object.Set, error)
}

// RendererFunc adapts a function to a [Renderer].
type RendererFunc func(ctx context.Context, fsys fs.FS, path string, opts Options) (*object.Set, error)

// Render calls f.
func (f RendererFunc) Render(ctx context.Context, fsys fs.FS, path string, opts Options) (*object.Set, error) {
	return f(ctx, fsys, path, opts)
}

var _ Renderer = RendererFunc(nil)

// Processor is a post-processing step over rendered objects, such as
// variable substitution. It returns the processed set, which may be set
// itself changed in place; the input belongs to the step once passed.
type Processor interface {
	Process(ctx context.Context, set *object.Set) (*object.Set, error)
}

// ProcessorFunc adapts a function to a [Processor].
type ProcessorFunc func(ctx context.Context, set *object.Set) (*object.Set, error)

// Process calls f.
func (f ProcessorFunc) Process(ctx context.Context, set *object.Set) (*object.Set, error) {
	return f(ctx, set)
}

var _ Processor = ProcessorFunc(nil)

// Chain runs its steps in order, each on the previous one's output. An
// empty Chain returns its input.
type Chain []Processor

// Process runs every step, stopping at the first error.
func (c Chain) Process(ctx context.Context, set *object.Set) (*object.Set, error) {
	for _, p := range c {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		if set, err = p.Process(ctx, set); err != nil {
			return nil, err
		}
	}
	return set, nil
}

var _ Processor = Chain(nil)

// Then returns a Renderer that renders with r and then runs steps, in
// order, on the result.
func Then(r Renderer, steps ...Processor) Renderer {
	chain := Chain(steps)
	return RendererFunc(func(ctx context.Context, fsys fs.FS, path string, opts Options) (*object.Set, error) {
		set, err := r.Render(ctx, fsys, path, opts)
		if err != nil {
			return nil, err
		}
		return chain.Process(ctx, set)
	})
}
