package render_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// one returns a Renderer that yields a single ConfigMap named after path.
func one() render.Renderer {
	return render.RendererFunc(func(_ context.Context, _ fs.FS, path string, _ render.Options) (*object.Set, error) {
		set := object.NewSet()
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion("v1")
		obj.SetKind("ConfigMap")
		obj.SetName(path)
		return set, set.Add(obj, path)
	})
}

// label returns a step that adds a label to every object.
func label(k, v string) render.Processor {
	return render.ProcessorFunc(func(_ context.Context, set *object.Set) (*object.Set, error) {
		for _, obj := range set.Objects() {
			l := obj.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			l[k] = l[k] + v
			obj.SetLabels(l)
		}
		return set, nil
	})
}

func TestThen(t *testing.T) {
	boom := errors.New("boom")
	tests := map[string]struct {
		steps []render.Processor
		want  string
		err   error
	}{
		"no steps":       {want: ""},
		"steps in order": {steps: []render.Processor{label("l", "a"), label("l", "b")}, want: "ab"},
		"nested chain":   {steps: []render.Processor{render.Chain{label("l", "a"), label("l", "b")}, label("l", "c")}, want: "abc"},
		"error stops": {steps: []render.Processor{render.ProcessorFunc(func(context.Context, *object.Set) (*object.Set, error) {
			return nil, boom
		}), label("l", "x")}, err: boom},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			set, err := render.Then(one(), tc.steps...).Render(context.Background(), fstest.MapFS{}, "cm", render.DefaultOptions())
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, set)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, set.Len())
			assert.Equal(t, tc.want, set.Objects()[0].GetLabels()["l"])
		})
	}

	t.Run("renderer error skips steps", func(t *testing.T) {
		called := false
		failing := render.RendererFunc(func(context.Context, fs.FS, string, render.Options) (*object.Set, error) { return nil, boom })
		_, err := render.Then(failing, render.ProcessorFunc(func(_ context.Context, s *object.Set) (*object.Set, error) {
			called = true
			return s, nil
		})).Render(context.Background(), fstest.MapFS{}, "x", render.DefaultOptions())
		require.ErrorIs(t, err, boom)
		assert.False(t, called)
	})

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := render.Chain{label("l", "a")}.Process(ctx, object.NewSet())
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestError(t *testing.T) {
	err := error(&render.Error{Path: "apps/x/kustomization.yaml", Err: render.ErrNotAllowed})
	assert.Equal(t, "render apps/x/kustomization.yaml: not allowed", err.Error())
	assert.ErrorIs(t, err, render.ErrNotAllowed)
	assert.Equal(t, "render: not allowed", (&render.Error{Err: render.ErrNotAllowed}).Error())
	named := &render.Error{Path: "apps/x/job.yaml", Err: fmt.Errorf("apps/x/job.yaml: %w", object.ErrGenerateName)}
	assert.Equal(t, "render apps/x/job.yaml: "+object.ErrGenerateName.Error(), named.Error(), "the path once, when Err names it already")
	other := &render.Error{Path: "apps/x", Err: fmt.Errorf("apps/x/job.yaml: %w", object.ErrGenerateName)}
	assert.Equal(t, "render apps/x: apps/x/job.yaml: "+object.ErrGenerateName.Error(), other.Error())
}

func TestIgnore(t *testing.T) {
	tests := map[string]struct {
		patterns []string
		path     string
		dir      bool
		want     bool
	}{
		"base name anywhere":     {[]string{"*.md"}, "a/b/README.md", false, true},
		"no match":               {[]string{"*.md"}, "a/b.yaml", false, false},
		"dir only skips files":   {[]string{"docs/"}, "docs", false, false},
		"dir only matches dirs":  {[]string{"docs/"}, "a/docs", true, true},
		"anchored":               {[]string{"/docs"}, "a/docs", true, false},
		"anchored at root":       {[]string{"/docs"}, "docs", true, true},
		"path pattern":           {[]string{"a/*.yaml"}, "a/x.yaml", false, true},
		"path pattern elsewhere": {[]string{"a/*.yaml"}, "b/a/x.yaml", false, false},
		"negation":               {[]string{"*.yaml", "!keep.yaml"}, "keep.yaml", false, false},
		"last wins":              {[]string{"!keep.yaml", "*.yaml"}, "keep.yaml", false, true},
		"comments and blanks":    {[]string{"# *.yaml", "", "  "}, "x.yaml", false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ig, err := render.NewIgnore(tc.patterns)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ig.Match(tc.path, tc.dir))
		})
	}
	_, err := render.NewIgnore([]string{"[unclosed"})
	require.ErrorIs(t, err, render.ErrSyntax)
}

func TestDefaultOptions(t *testing.T) {
	o := render.DefaultOptions()
	assert.False(t, o.HasOverrides())
	assert.Equal(t, object.DefaultDecodeOptions(), o.Decode)
	o.Images = []render.Image{{Name: "x"}}
	assert.True(t, o.HasOverrides())
}
