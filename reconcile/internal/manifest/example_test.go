package manifest_test

import (
	"fmt"

	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// A loader reads the fields it knows; Finish refuses the rest by path.
func Example() {
	obj := map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": "api"},
		"spec": map[string]any{
			"prnue":      true,
			"path":       int64(3),
			"validation": "client",
		},
	}
	var found manifest.Findings
	d := manifest.NewDoc("Kustomization flux-system/api")
	n := d.Root(obj, "")
	n.Accept("apiVersion", "kind")
	manifest.ReadUnitMeta(n, "flux-system")
	spec := n.Obj("spec")
	spec.Str("path")
	spec.Bool("prune")
	spec.Inform("validation", "converge always lets the API server validate objects")
	found.End(d)

	fmt.Println(found.Err())
	for _, w := range found.Warnings() {
		fmt.Println(w)
	}
	// Output:
	// Kustomization flux-system/api: spec.path: must be a string, not a number
	// Kustomization flux-system/api: spec.prnue: unknown field
	// Kustomization flux-system/api: spec.validation: converge always lets the API server validate objects
}

// A document expanded from a template takes the strings its parameters
// give boolean fields, with a warning.
func ExampleFromTemplate() {
	d := manifest.NewDoc("ApplicationSet argocd/api", manifest.FromTemplate("Argo CD"))
	n := d.Root(map[string]any{"prune": "true"}, "spec.template.spec.syncPolicy.automated")
	fmt.Println(n.Bool("prune"))
	fmt.Println(d.Warnings()[0].Message)
	// Output:
	// true
	// a parameter gives this boolean field a string; converge reads "true" and "false" as booleans (Argo CD's schema wants a boolean here)
}
