package generate_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile/generate"
)

func goOpts(extra ...string) generate.Options {
	o := generate.DefaultOptions()
	o.GoTemplate = true
	o.GoTemplateOptions = extra
	return o
}

// The repository of Argo CD's Git generator documentation, trimmed to
// what its examples read.
var argoRepo = fstest.MapFS{
	"applicationset/examples/git-generator-directory/cluster-addons/argo-workflows/kustomization.yaml":      {Data: []byte("resources: []\n")},
	"applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/kustomization.yaml": {Data: []byte("resources: []\n")},
	"applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook/x.yaml": {Data: []byte("a: b\n")},
	"applicationset/examples/git-generator-directory/excludes/cluster-addons/helm-guestbook/x.yaml":         {Data: []byte("a: b\n")},
	"applicationset/examples/git-generator-directory/excludes/cluster-addons/kustomize-guestbook/x.yaml":    {Data: []byte("a: b\n")},
	"applicationset/examples/git-generator-files-discovery/cluster-config/engineering/dev/config.json": {Data: []byte(`{
  "aws_account": "123456",
  "asset_id": "11223344",
  "cluster": {
    "owner": "cluster-admin@company.com",
    "name": "engineering-dev",
    "address": "https://1.2.3.4"
  }
}`)},
	"applicationset/examples/git-generator-files-discovery/cluster-config/engineering/prod/config.json": {Data: []byte(`{
  "aws_account": "123456",
  "asset_id": "11223344",
  "cluster": {
    "owner": "cluster-admin@company.com",
    "name": "engineering-prod",
    "address": "https://2.4.6.8"
  }
}`)},
	"apps/My_App/kustomization.yaml": {Data: []byte("resources: []\n")},
	".github/workflows/ci.yaml":      {Data: []byte("on: push\n")},
}

func gen(t *testing.T, g generate.Generator, o generate.Options) []generate.Params {
	t.Helper()
	ps, err := g.Generate(context.Background(), o)
	require.NoError(t, err)
	return ps
}

func TestList(t *testing.T) {
	cases := map[string]struct {
		reason string
		list   generate.List
		opts   generate.Options
		want   []generate.Params
	}{
		"fasttemplate": {
			reason: "Argo CD's list example: each key a string parameter, values.<key> for values",
			list: generate.List{Elements: []map[string]any{
				{"cluster": "engineering-dev", "url": "https://1.2.3.4", "values": map[string]any{"environment": "staging"}},
				{"cluster": "engineering-prod", "url": "https://2.4.6.8"},
			}},
			opts: generate.DefaultOptions(),
			want: []generate.Params{
				{"cluster": "engineering-dev", "url": "https://1.2.3.4", "values.environment": "staging"},
				{"cluster": "engineering-prod", "url": "https://2.4.6.8"},
			},
		},
		"goTemplate keeps shapes": {
			reason: "in Go template mode an element is its parameter set",
			list:   generate.List{Elements: []map[string]any{{"cluster": "dev", "replicas": float64(2), "tags": []any{"a"}}}},
			opts:   goOpts(),
			want:   []generate.Params{{"cluster": "dev", "replicas": float64(2), "tags": []any{"a"}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, gen(t, tc.list, tc.opts), tc.reason)
		})
	}
}

func TestListRefusesNonStrings(t *testing.T) {
	_, err := generate.List{Elements: []map[string]any{{"replicas": float64(2)}}}.Generate(context.Background(), generate.DefaultOptions())
	require.ErrorIs(t, err, generate.ErrInvalid)
	assert.EqualError(t, err, "list: elements[0]: replicas: invalid: must be a string, not a number")
}

func TestGitDirectories(t *testing.T) {
	base := "applicationset/examples/git-generator-directory"
	cases := map[string]struct {
		reason string
		gen    generate.GitDirectories
		opts   generate.Options
		want   []generate.Params
	}{
		"Argo CD's example": {
			reason: "one set per directory matching the glob, with path, basename and segments",
			gen: generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo)},
				Directories: []generate.PathItem{{Path: base + "/cluster-addons/*"}}},
			opts: generate.DefaultOptions(),
			want: []generate.Params{
				{
					"path": base + "/cluster-addons/argo-workflows", "path.basename": "argo-workflows", "path.basenameNormalized": "argo-workflows",
					"path[0]": "applicationset", "path[1]": "examples", "path[2]": "git-generator-directory", "path[3]": "cluster-addons", "path[4]": "argo-workflows",
				},
				{
					"path": base + "/cluster-addons/prometheus-operator", "path.basename": "prometheus-operator", "path.basenameNormalized": "prometheus-operator",
					"path[0]": "applicationset", "path[1]": "examples", "path[2]": "git-generator-directory", "path[3]": "cluster-addons", "path[4]": "prometheus-operator",
				},
			},
		},
		"exclude wins whatever the order": {
			reason: "Argo CD's exclude example: the excluded directory is left out although an earlier item includes it",
			gen: generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo), PathParamPrefix: "p"},
				Directories: []generate.PathItem{
					{Path: base + "/excludes/cluster-addons/exclude-helm-guestbook", Exclude: true},
					{Path: base + "/excludes/cluster-addons/*"},
				}},
			opts: generate.DefaultOptions(),
			want: []generate.Params{
				dirParams("p.path", base+"/excludes/cluster-addons/helm-guestbook"),
				dirParams("p.path", base+"/excludes/cluster-addons/kustomize-guestbook"),
			},
		},
		"normalized names and values": {
			reason: "basenameNormalized is a DNS name; values are rendered with the set's parameters",
			gen: generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo), Values: map[string]string{"app": "app-{{path.basenameNormalized}}"}},
				Directories: []generate.PathItem{{Path: "apps/*"}}},
			opts: generate.DefaultOptions(),
			want: []generate.Params{{
				"path": "apps/My_App", "path.basename": "My_App", "path.basenameNormalized": "my-app",
				"path[0]": "apps", "path[1]": "My_App", "values.app": "app-my-app",
			}},
		},
		"hidden directories are skipped": {
			reason: "as Argo CD's repo server, directories starting with '.' are not listed",
			gen: generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo)},
				Directories: []generate.PathItem{{Path: "*"}, {Path: ".github/*"}}},
			opts: generate.DefaultOptions(),
			want: []generate.Params{
				{"path": "applicationset", "path.basename": "applicationset", "path.basenameNormalized": "applicationset", "path[0]": "applicationset"},
				{"path": "apps", "path.basename": "apps", "path.basenameNormalized": "apps", "path[0]": "apps"},
			},
		},
		"goTemplate": {
			reason: "in Go template mode path is a map with segments",
			gen: generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo), Values: map[string]string{"n": "{{.path.basename}}"}},
				Directories: []generate.PathItem{{Path: "apps/*"}}},
			opts: goOpts(),
			want: []generate.Params{{
				"path":   map[string]any{"path": "apps/My_App", "basename": "My_App", "basenameNormalized": "my-app", "segments": []string{"apps", "My_App"}},
				"values": map[string]any{"n": "My_App"},
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, gen(t, tc.gen, tc.opts), tc.reason)
		})
	}
}

func dirParams(name, p string) generate.Params {
	segs := strings.Split(p, "/")
	out := generate.Params{name: p, name + ".basename": segs[len(segs)-1], name + ".basenameNormalized": segs[len(segs)-1]}
	for i, s := range segs {
		out[name+"["+string(rune('0'+i))+"]"] = s
	}
	return out
}

func TestGitFiles(t *testing.T) {
	base := "applicationset/examples/git-generator-files-discovery"
	want := func(env, address string) generate.Params {
		return generate.Params{
			"aws_account": "123456", "asset_id": "11223344",
			"cluster.owner": "cluster-admin@company.com", "cluster.name": "engineering-" + env, "cluster.address": address,
			"path": base + "/cluster-config/engineering/" + env, "path.basename": env, "path.basenameNormalized": env,
			"path.filename": "config.json", "path.filenameNormalized": "config.json",
			"path[0]": "applicationset", "path[1]": "examples", "path[2]": "git-generator-files-discovery",
			"path[3]": "cluster-config", "path[4]": "engineering", "path[5]": env,
		}
	}
	cases := map[string]struct {
		reason string
		files  []generate.PathItem
		want   []generate.Params
	}{
		"Argo CD's example": {
			reason: "the files' content flattened into dotted parameters, plus path parameters",
			files:  []generate.PathItem{{Path: base + "/cluster-config/**/config.json"}},
			want:   []generate.Params{want("dev", "https://1.2.3.4"), want("prod", "https://2.4.6.8")},
		},
		"exclude": {
			reason: "an Exclude item removes what it matches",
			files:  []generate.PathItem{{Path: base + "/**/config.json"}, {Path: base + "/cluster-config/*/prod/*", Exclude: true}},
			want:   []generate.Params{want("dev", "https://1.2.3.4")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := generate.GitFiles{Git: generate.Git{Repos: generate.StaticFS(argoRepo)}, Files: tc.files}
			assert.Equal(t, tc.want, gen(t, g, generate.DefaultOptions()), tc.reason)
		})
	}
}

func TestGitFilesShapes(t *testing.T) {
	fsys := fstest.MapFS{
		"envs/list.yaml": {Data: []byte("- name: a\n  replicas: 1000000\n  none: null\n  tags: [x, z]\n  empty: {}\n- name: b\n  replicas: 2\n")},
	}
	g := generate.GitFiles{Git: generate.Git{Repos: generate.StaticFS(fsys)}, Files: []generate.PathItem{{Path: "envs/*.yaml"}}}
	flat := gen(t, g, generate.DefaultOptions())
	require.Len(t, flat, 2, "a list gives one set per element")
	// %v of float64 and nil, as Argo CD writes them.
	assert.Equal(t, "1e+06", flat[0]["replicas"])
	assert.Equal(t, "<nil>", flat[0]["none"])
	assert.Equal(t, "z", flat[0]["tags.1"])
	assert.NotContains(t, flat[0], "empty", "an empty map vanishes")
	assert.Equal(t, "list.yaml", flat[1]["path.filename"])

	shaped := gen(t, g, goOpts())
	assert.Equal(t, float64(2), shaped[1]["replicas"])
	assert.Equal(t, "list.yaml", shaped[1]["path"].(map[string]any)["filename"])
}

func TestClusters(t *testing.T) {
	clusters := []generate.Cluster{
		{Name: "in-cluster", Server: "https://kubernetes.default.svc"},
		{Name: "Staging_1", Server: "https://1.2.3.4", Labels: map[string]string{"env": "staging"}, Annotations: map[string]string{"team": "a"}},
		{Name: "prod", Server: "https://2.4.6.8", Labels: map[string]string{"env": "production"}},
	}
	g := generate.Clusters{
		Clusters: clusters,
		Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"staging", "production"}}}},
		Values:   map[string]string{"revision": "{{metadata.labels.env}}"},
	}
	assert.Equal(t, []generate.Params{
		{"name": "Staging_1", "nameNormalized": "staging-1", "server": "https://1.2.3.4", "project": "",
			"metadata.labels.env": "staging", "metadata.annotations.team": "a", "values.revision": "staging"},
		{"name": "prod", "nameNormalized": "prod", "server": "https://2.4.6.8", "project": "",
			"metadata.labels.env": "production", "values.revision": "production"},
	}, gen(t, g, generate.DefaultOptions()))

	all := gen(t, generate.Clusters{Clusters: clusters}, goOpts())
	require.Len(t, all, 3, "no selector matches every cluster")
	assert.Equal(t, map[string]any{"labels": map[string]any{"env": "staging"}, "annotations": map[string]any{"team": "a"}}, all[1]["metadata"])

	_, err := generate.Clusters{Clusters: clusters, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}}.Generate(context.Background(), generate.DefaultOptions())
	assert.ErrorIs(t, err, generate.ErrInvalid)
}

func TestMatrix(t *testing.T) {
	base := "applicationset/examples/git-generator-directory"
	// Argo CD's matrix example: Git directories × clusters.
	m := generate.Matrix{Generators: []generate.Generator{
		generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo)}, Directories: []generate.PathItem{{Path: base + "/cluster-addons/*"}}},
		generate.Clusters{Clusters: []generate.Cluster{
			{Name: "staging", Server: "https://1.2.3.4", Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster"}},
			{Name: "production", Server: "https://2.4.6.8", Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster"}},
		}},
	}}
	tmpl := map[string]any{"metadata": map[string]any{"name": "{{path.basename}}-{{name}}"}, "spec": map[string]any{"destination": map[string]any{"server": "{{server}}"}}}
	apps, err := generate.Expand(context.Background(), tmpl, generate.DefaultOptions(), m)
	require.NoError(t, err)
	var names []string
	for _, a := range apps {
		names = append(names, a["metadata"].(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"argo-workflows-staging", "argo-workflows-production", "prometheus-operator-staging", "prometheus-operator-production"}, names)

	// The second generator uses the first's parameters: a list of
	// directories, each reading the config files under it.
	m2 := generate.Matrix{Generators: []generate.Generator{
		generate.List{Elements: []map[string]any{{"dir": "applicationset/examples/git-generator-files-discovery/cluster-config/engineering"}}},
		generate.GitFiles{Git: generate.Git{Repos: generate.StaticFS(argoRepo)}, Files: []generate.PathItem{{Path: "{{dir}}/*/config.json"}}},
	}}
	sets := gen(t, m2, generate.DefaultOptions())
	require.Len(t, sets, 2)
	assert.Equal(t, "engineering-dev", sets[0]["cluster.name"])
	assert.Equal(t, "applicationset/examples/git-generator-files-discovery/cluster-config/engineering", sets[0]["dir"])

	// Go template mode: maps merge, the first generator's values win.
	m3 := generate.Matrix{Generators: []generate.Generator{
		generate.List{Elements: []map[string]any{{"env": "dev", "meta": map[string]any{"a": "1"}}}},
		generate.List{Elements: []map[string]any{{"env": "{{.env}}-2", "meta": map[string]any{"a": "2", "b": "3"}}}},
	}}
	assert.Equal(t, []generate.Params{{"env": "dev", "meta": map[string]any{"a": "1", "b": "3"}}}, gen(t, m3, goOpts()))
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	big := fstest.MapFS{"big/config.yaml": {Data: []byte("a: " + strings.Repeat("x", 10<<20) + "\n")}}
	cases := map[string]struct {
		reason string
		run    func() error
		is     error
		want   string
	}{
		"bad directories glob": {
			reason: "a glob path.Match refuses is an invalid generator, not an empty result",
			run: func() error {
				_, err := generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(argoRepo)}, Directories: []generate.PathItem{{Path: "apps/[a"}}}.Generate(ctx, generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: `git directories: directories[0]: invalid: bad glob "apps/[a"`,
		},
		"bad files glob": {
			run: func() error {
				_, err := generate.GitFiles{Git: generate.Git{Repos: generate.StaticFS(argoRepo)}, Files: []generate.PathItem{{Path: "**/[x"}}}.Generate(ctx, generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: `git files: files[0]: invalid: bad glob "**/[x"`,
		},
		"missing key under missingkey=error": {
			reason: "Argo CD's goTemplateOptions: [missingkey=error]",
			run: func() error {
				_, err := generate.Render(map[string]any{"name": "{{.cluster}}-{{.nope}}"}, generate.Params{"cluster": "dev"}, goOpts("missingkey=error"))
				return err
			},
			is: generate.ErrTemplate, want: `name: template failed: :1:15: executing "" at <.nope>: map has no entry for key "nope"`,
		},
		"a 10 MB file": {
			reason: "each file is bounded before it is parsed",
			run: func() error {
				_, err := generate.GitFiles{Git: generate.Git{Repos: generate.StaticFS(big)}, Files: []generate.PathItem{{Path: "big/*.yaml"}}}.Generate(ctx, generate.DefaultOptions())
				return err
			},
			is: generate.ErrLimit, want: "git files: big/config.yaml: beyond a limit: the file exceeds 1048576 bytes",
		},
		"deep template": {
			run: func() error {
				var v any = "{{x}}"
				for range 100 {
					v = map[string]any{"a": v}
				}
				_, err := generate.Render(v, nil, generate.DefaultOptions())
				return err
			},
			is: generate.ErrLimit,
		},
		"deep file": {
			run: func() error {
				_, err := generate.ParseFile([]byte(strings.Repeat("[", 80)+strings.Repeat("]", 80)), generate.DefaultOptions())
				return err
			},
			is: generate.ErrLimit, want: "beyond a limit: nested deeper than 64",
		},
		"unterminated placeholder": {
			run: func() error {
				_, err := generate.Render(map[string]any{"spec": map[string]any{"path": "apps/{{path"}}, generate.Params{"path": "x"}, generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: "spec.path: invalid: a {{ without }}",
		},
		"template recursion": {
			run: func() error {
				_, err := generate.String(`{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`, nil, goOpts())
				return err
			},
			is: generate.ErrInvalid,
		},
		"range over a number": {
			run: func() error {
				_, err := generate.String(`{{range 100000000000}}{{end}}`, nil, goOpts())
				return err
			},
			is: generate.ErrInvalid,
		},
		"output budget": {
			run: func() error {
				o := goOpts()
				o.MaxBytes = 100
				_, err := generate.String(`{{range .l}}{{range $.l}}xxxxxxxxxx{{end}}{{end}}`, generate.Params{"l": make([]any, 100)}, o)
				return err
			},
			is: generate.ErrLimit,
		},
		"unknown option": {
			run: func() error {
				_, err := generate.Render("x", nil, goOpts("missingkey=panic"))
				return err
			},
			is: generate.ErrInvalid, want: `goTemplateOptions: invalid: "missingkey=panic" is not missingkey=default, invalid, zero or error`,
		},
		"matrix of three": {
			run: func() error {
				_, err := generate.Matrix{Generators: []generate.Generator{generate.List{}, generate.List{}, generate.List{}}}.Generate(ctx, generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: "matrix: invalid: 3 generators, not 2",
		},
		"matrix conflict": {
			run: func() error {
				_, err := generate.Matrix{Generators: []generate.Generator{
					generate.List{Elements: []map[string]any{{"env": "dev"}}},
					generate.List{Elements: []map[string]any{{"env": "prod"}}},
				}}.Generate(ctx, generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: "matrix: invalid: env: both generators set a parameter to different values",
		},
		"too many sets": {
			run: func() error {
				o := generate.DefaultOptions()
				o.MaxParams = 3
				l := generate.List{Elements: []map[string]any{{"a": "1"}, {"a": "2"}}}
				_, err := generate.Matrix{Generators: []generate.Generator{l, generate.List{Elements: []map[string]any{{"b": "1"}, {"b": "2"}}}}}.Generate(ctx, o)
				return err
			},
			is: generate.ErrLimit, want: "matrix: beyond a limit: more than 3 parameter sets",
		},
		"file syntax quotes nothing": {
			run: func() error {
				_, err := generate.ParseFile([]byte("password: hunter2\n  bad: [\n"), generate.DefaultOptions())
				if err != nil && strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error quotes the file: %v", err)
				}
				return err
			},
			is: generate.ErrInvalid,
		},
		"file of scalars": {
			run: func() error {
				_, err := generate.ParseFile([]byte("- a\n- b\n"), generate.DefaultOptions())
				return err
			},
			is: generate.ErrInvalid, want: "[0]: invalid: each element must be a mapping, not a string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.run()
			require.ErrorIs(t, err, tc.is, tc.reason)
			if tc.want != "" {
				assert.EqualError(t, err, tc.want)
			}
		})
	}
}
