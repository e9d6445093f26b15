// Package manifest is the strict reader that the argocd and flux loaders
// share: it reads decoded documents (map[string]any, as object.Decode
// gives them) field by field, and refuses, by path, every field no reader
// asked for, so that nothing a user wrote is dropped silently.
//
//	d := manifest.NewDoc("Kustomization flux-system/api")
//	n := d.Root(obj.Object, "")
//	n.Accept("apiVersion", "kind", "status")
//	m := manifest.ReadUnitMeta(n, "flux-system")
//	spec := n.Obj("spec")
//	prune := spec.Bool("prune")
//	spec.Refuse("include", "including other repositories is not supported")
//	spec.Inform("validation", "converge always lets the API server validate objects")
//	var found manifest.Findings
//	found.End(d) // "Kustomization flux-system/api: spec.prnue: unknown field"
//	if err := found.Err(); err != nil {
//		return err
//	}
//
// # Errors and warnings
//
// A field that refuses a document is a *FieldError naming the object, the
// field's path ("spec.sources[1].helm.valueFiles[0]") and the reason,
// wrapping one of ErrUnknownField, ErrUnsupported, ErrInvalid and
// ErrMissing. A field converge accepts without doing what the tool that
// wrote it does is a Warning. The loaders re-export these names
// (argocd.FieldError, flux.ErrUnknownField, ...); their texts are the
// loaders' API, checked by the loaders' golden tests.
//
// Values in messages are cut with Short; a loader never puts a secret or
// a whole value in a message.
//
// # Templates
//
// A document expanded from a template by string substitution (an Argo CD
// ApplicationSet's Application) is read with FromTemplate: its boolean and
// integer fields then also take the strings a parameter gives them.
//
// # Loads
//
// Findings gathers the errors and warnings of every document of a load,
// bounded (50 errors joined, 1000 warnings, 200 a document); Units keeps
// the units loaded, refusing a second definition of one.
package manifest
