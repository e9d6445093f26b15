// Package kustomize renders Kustomize overlays with kustomize's own library
// (sigs.k8s.io/kustomize/api, the version `kustomize build` v5.8.2 uses),
// giving the same bytes as the CLI.
//
//	r := kustomize.New()
//	set, err := r.Render(ctx, os.DirFS("/repo"), "apps/shop/overlays/prod", render.DefaultOptions())
//
// # Safety
//
// kustomize reads through the fs.FS given to Render, never the disk: every
// path is confined to the root of that fs.FS (overlays may use "../" as
// long as they stay inside it), and writes are refused. Files are bounded by
// [render.Options].Decode.MaxBytes. Only kustomize's built-in generators and
// transformers run: exec and container KRM functions, legacy plugins,
// helmCharts inflation, remote bases and remote files, and a custom
// "openapi:" schema are refused with [render.ErrNotAllowed] before any
// network or process I/O. A host that wants remote bases opts in with
// [WithRemoteBases]: only URLs under its allowlist are fetched, through the
// host's [Fetcher] (reconcile.RemoteBaseFetcher serves them from
// source/git), never by running git. Symbolic links are checked with
// [render.Confine]: a link or chain of links that leads outside the root
// is an error, so os.DirFS is as safe to pass as os.Root.FS or a source
// snapshot.
//
// # Directories without a kustomization
//
// A directory without a kustomization file renders as Flux renders it:
// converge generates one listing the directory's manifests ([Generate]).
// A directory without manifests, such as a new environment holding only a
// README or a .gitkeep, renders as an empty set, so that the pull request
// that fills it can be previewed. A kustomization file that declares
// nothing is an error, as with `kustomize build`, whose message converge
// replaces by one that names the file. Objects with a generateName and no
// name are refused before kustomize sees them ([object.ErrGenerateName]):
// converge follows every object by name.
//
// # Concurrency
//
// A Renderer is safe for concurrent use. kustomize keeps its OpenAPI schema
// in process-wide state; converge contains it by refusing kustomizations
// that change it, so builds on different goroutines cannot see each
// other's schema. Panics inside kustomize become errors.
//
// kustomize prints deprecation warnings ("'commonLabels' is deprecated")
// through the standard library's process-wide log package; converge leaves
// that logger alone, as it belongs to the host.
//
// # Caching
//
// [WithCache] makes re-rendering a changed tree cost only the overlays
// whose inputs changed: a [Cache] keys each output by the content hashes of
// everything the build read.
package kustomize
