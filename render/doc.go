// Package render turns a directory of a file system (a source snapshot, a
// checkout, an embedded tree) into the Kubernetes objects it describes.
//
// A [Renderer] has one method ([RendererFunc] adapts a function). The
// implementations live in sub-packages: render/kustomize builds Kustomize
// overlays with kustomize's own library, render/helm renders Helm charts
// with Helm's, render/plain reads a tree of YAML and JSON manifests.
// Post-processing steps, such as variable substitution ([Substitute],
// [Expand]), are [Processor]s ([ProcessorFunc]) composed with [Chain] and
// attached to a renderer with [Then]. A source snapshot's FS is what a
// host usually renders:
//
//	snap, err := src.Fetch(ctx)
//	r := render.Then(kustomize.New(), render.Substitute(vars, render.DefaultSubstituteOptions()))
//	set, err := r.Render(ctx, snap.FS, "apps/shop/overlays/prod", render.DefaultOptions())
//
// # Contracts
//
// A Renderer only reads from the fs.FS it is given, and only below its
// root: no file outside it (symbolic links are checked with [Confine]), no
// network, no process. Its output is an
// [object.Set] in a deterministic order (the same input gives the same
// objects in the same order), owned by the caller. Renderers are safe for
// concurrent use.
//
// # Errors
//
// Errors name the file at fault, wrap the sentinels below for errors.Is, and
// never quote file content (a secret read by mistake must not reach a log).
package render
