// Package plain renders a directory tree of YAML and JSON manifests: every
// .yaml, .yml and .json file below the directory, recursively, in lexical
// order, each decoded with the object package's limits.
//
//	set, err := plain.New().Render(ctx, fsys, "deploy", render.DefaultOptions())
//
// Files and directories matching [render.Options].Ignore are skipped, as
// are hidden ones (".git", ".github"). Kustomization files are not
// interpreted: one is read as a manifest, and fails as not a Kubernetes
// object; render a Kustomize tree with render/kustomize. The Kustomize
// overrides of [render.Options] (a namespace, prefixes, labels, images,
// patches, components) are refused with [render.ErrUnsupported]. A directory
// without manifests (a new environment holding only a README or a
// .gitkeep) renders as an empty set; a directory that does not exist is an
// error wrapping fs.ErrNotExist. An object with a generateName and no name
// is refused with an [object.GenerateNameError] naming the file: converge
// follows every object by name.
package plain
