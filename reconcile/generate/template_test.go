package generate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/reconcile/generate"
)

func TestRender(t *testing.T) {
	cases := map[string]struct {
		reason string
		tmpl   any
		params generate.Params
		opts   generate.Options
		want   any
	}{
		"fasttemplate strings and keys": {
			reason: "every string and every key is rendered; spaces around names are trimmed",
			tmpl: map[string]any{
				"metadata": map[string]any{"name": "{{ cluster }}-guestbook", "labels": map[string]any{"env-{{cluster}}": "x"}},
				"spec":     map[string]any{"replicas": int64(2), "paths": []any{"a/{{cluster}}", true}},
			},
			params: generate.Params{"cluster": "dev"},
			opts:   generate.DefaultOptions(),
			want: map[string]any{
				"metadata": map[string]any{"name": "dev-guestbook", "labels": map[string]any{"env-dev": "x"}},
				"spec":     map[string]any{"replicas": int64(2), "paths": []any{"a/dev", true}},
			},
		},
		"fasttemplate keeps unknown names": {
			reason: "as Argo CD, a placeholder naming no string parameter stays as written",
			tmpl:   "{{nope}}-{{ n }}-{{}}-{{ m }}",
			params: generate.Params{"n": "1", "m": map[string]any{}},
			opts:   generate.DefaultOptions(),
			want:   "{{nope}}-1-{{}}-{{ m }}",
		},
		"goTemplate": {
			reason: "text/template over shaped parameters, with the safe functions",
			tmpl:   map[string]any{"name": "{{ .path.basename | normalize }}", "ns": `{{ default "apps" .ns }}`, "t": "{{ .tags | join \",\" | upper }}"},
			params: generate.Params{"path": map[string]any{"basename": "My_App"}, "tags": []any{"a", "b"}},
			opts:   goOpts(),
			want:   map[string]any{"name": "my-app", "ns": "apps", "t": "A,B"},
		},
		"goTemplate missing key by default": {
			reason: "without missingkey=error, text/template writes <no value>",
			tmpl:   "{{.nope}}",
			opts:   goOpts(),
			want:   "<no value>",
		},
		"goTemplate toYaml and fromYaml": {
			tmpl:   `{{ (fromYaml .y).a }}|{{ toYaml .m }}|{{ toJson .m }}`,
			params: generate.Params{"y": "a: 1", "m": map[string]any{"k": "v"}},
			opts:   goOpts(),
			want:   `1|k: v|{"k":"v"}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := generate.Render(tc.tmpl, tc.params, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

func TestRenderDoesNotChangeTheTemplate(t *testing.T) {
	tmpl := map[string]any{"a": map[string]any{"b": "{{x}}"}}
	_, err := generate.Render(tmpl, generate.Params{"x": "y"}, generate.DefaultOptions())
	require.NoError(t, err)
	assert.Equal(t, "{{x}}", tmpl["a"].(map[string]any)["b"])
}

func TestRenderRefusesDuplicateKeys(t *testing.T) {
	_, err := generate.Render(map[string]any{"{{a}}": "1", "{{b}}": "2"}, generate.Params{"a": "k", "b": "k"}, generate.DefaultOptions())
	assert.ErrorIs(t, err, generate.ErrInvalid)
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"directory_2":   "directory-2", // Argo CD's documented example
		"My.Cluster-":   "my.cluster",
		"-._x_.-":       "x",
		"UPPER lower 1": "upper-lower-1",
	} {
		assert.Equal(t, want, generate.SanitizeName(in), in)
	}
}

func TestPlaceholders(t *testing.T) {
	got, err := generate.Placeholders("a-{{ env }}-{{}}-{{x}}")
	require.NoError(t, err)
	assert.Equal(t, []string{"env", "", "x"}, got)
	_, err = generate.Placeholders("{{env")
	assert.ErrorIs(t, err, generate.ErrInvalid)
}
