package generate_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/converge-dev/converge/reconcile/generate"
)

// An ApplicationSet's list generator in Argo CD's default mode.
func ExampleExpand() {
	tmpl := map[string]any{
		"metadata": map[string]any{"name": "{{cluster}}-guestbook"},
		"spec":     map[string]any{"destination": map[string]any{"server": "{{url}}"}},
	}
	list := generate.List{Elements: []map[string]any{
		{"cluster": "engineering-dev", "url": "https://1.2.3.4"},
		{"cluster": "engineering-prod", "url": "https://2.4.6.8"},
	}}
	apps, err := generate.Expand(context.Background(), tmpl, generate.DefaultOptions(), list)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range apps {
		fmt.Println(a["metadata"].(map[string]any)["name"], a["spec"].(map[string]any)["destination"].(map[string]any)["server"])
	}
	// Output:
	// engineering-dev-guestbook https://1.2.3.4
	// engineering-prod-guestbook https://2.4.6.8
}

// The Git directory generator over a snapshot the host fetched, in Go
// template mode.
func ExampleGitDirectories() {
	snap := fstest.MapFS{
		"apps/api/kustomization.yaml": {Data: []byte("resources: []\n")},
		"apps/web/kustomization.yaml": {Data: []byte("resources: []\n")},
		"apps/old/kustomization.yaml": {Data: []byte("resources: []\n")},
	}
	g := generate.GitDirectories{
		Git:         generate.Git{Repos: generate.StaticFS(snap)},
		Directories: []generate.PathItem{{Path: "apps/*"}, {Path: "apps/old", Exclude: true}},
	}
	o := generate.DefaultOptions()
	o.GoTemplate = true
	o.GoTemplateOptions = []string{"missingkey=error"}
	sets, err := g.Generate(context.Background(), o)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range sets {
		name, _ := generate.String("{{.path.basename}}-{{index .path.segments 0}}", p, o)
		fmt.Println(name)
	}
	// Output:
	// api-apps
	// web-apps
}

// A matrix: every directory on every staging cluster.
func ExampleMatrix() {
	snap := fstest.MapFS{"apps/api/k.yaml": {}, "apps/web/k.yaml": {}}
	m := generate.Matrix{Generators: []generate.Generator{
		generate.GitDirectories{Git: generate.Git{Repos: generate.StaticFS(snap)}, Directories: []generate.PathItem{{Path: "apps/*"}}},
		generate.Clusters{Clusters: []generate.Cluster{{Name: "eu-1", Server: "https://eu-1"}, {Name: "us-1", Server: "https://us-1"}}},
	}}
	sets, _ := m.Generate(context.Background(), generate.DefaultOptions())
	for _, p := range sets {
		s, _ := generate.String("{{path.basename}}-{{name}}", p, generate.DefaultOptions())
		fmt.Println(s)
	}
	// Output:
	// api-eu-1
	// api-us-1
	// web-eu-1
	// web-us-1
}
