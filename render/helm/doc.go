// Package helm renders Helm charts with Helm's own library
// (helm.sh/helm/v3, the version of the `helm` v3.22.0 CLI), giving the
// objects `helm template --include-crds --skip-tests` prints.
//
//	s := helm.DefaultSettings()
//	s.ReleaseName, s.Namespace = "shop", "shop"
//	s.ValuesFiles = []string{"apps/shop/values-prod.yaml"} // relative to the fs root
//	s.Values = map[string]any{"replicaCount": 3}
//	s.Capabilities = helm.Capabilities{KubeVersion: "v1.37.2", APIVersions: discovered} // e.g. "monitoring.coreos.com/v1"
//	set, err := helm.New(s).Render(ctx, snap.FS, "charts/shop", render.DefaultOptions())
//
// A [Renderer] is one release: [Settings] (release name and namespace,
// values files, inline values, cluster capabilities) are given to [New],
// and the chart directory to Render, so it is a [render.Renderer] that
// composes with render.Then like the others. Renderers are cheap; a host
// creates one per release.
//
// # What is rendered
//
// The chart directory comes from the fs.FS given to Render. Its
// dependencies must be vendored in charts/, as directories or .tgz
// archives; a Chart.yaml dependency missing there is an
// [ErrMissingDependency] error, since nothing is downloaded. Conditions,
// tags, import-values, globals, .helmignore and values.schema.json work as
// in Helm. The output is, in order: the files of crds/ (the chart's, then
// its subcharts'), the chart's manifests in Helm's install order, then its
// hooks in Helm's order, each decoded with the object package's bounded
// decoder into an [object.Set]. NOTES.txt is dropped.
//
// # Hooks
//
// Hooks keep Helm's annotations and gain converge's:
//
//	helm.sh/hook: pre-install, pre-upgrade    → converge.dev/hook: PreSync
//	helm.sh/hook: post-install, post-upgrade  → converge.dev/hook: PostSync
//	helm.sh/hook-delete-policy                → converge.dev/hook-delete-policy:
//	  before-hook-creation, hook-succeeded,       BeforeHookCreation, HookSucceeded,
//	  hook-failed (none: Helm's default)          HookFailed (none: BeforeHookCreation)
//	helm.sh/hook-weight (when set)            → converge.dev/sync-wave
//
// A hook of both phases gets "PreSync,PostSync". Test hooks are dropped,
// as with --skip-tests, and so are hooks whose events are all delete or
// rollback events (pre-delete, post-rollback, ...): a GitOps sync has no
// such phase. Converge annotations the chart sets itself win.
//
// # Safety
//
// Rendering is client-only: "lookup" returns an empty map and never
// reaches a cluster, "getHostByName" returns an empty string without
// resolving anything, and no chart, schema or values file is fetched. A
// values.schema.json "$ref" to a file or URL is refused with
// [render.ErrNotAllowed]. Everything is read through the fs.FS, confined
// with [render.Confine]: values files are paths relative to its root, and
// "../" leaving it, absolute paths and symbolic links leading out are
// refused with [render.ErrOutsideRoot].
//
// What one render may use is bounded: files and bytes loaded ([Limits],
// archives counted decompressed, so a decompression bomb stops at the
// limit; archive entries leaving the chart's folder, links and devices are
// refused with [ErrArchive]), each file and the rendered output
// ([render.Options].Decode.MaxBytes), the objects rendered (Decode's
// MaxDocuments) and nested includes (Helm's own limit). Helm's template
// engine takes no context and cannot be stopped, so it runs on its own
// goroutine: Render returns when the context ends or [Limits].Timeout
// passes, and an abandoned engine runs to its end in the background, its
// result dropped. The memory a template uses while it runs (a huge string
// built in a loop) is not bounded by converge.
//
// # Errors
//
// Errors wrap [render.Error] and the render package's sentinels and never
// quote file content or values, which may be secret: Helm's messages are
// reduced to a file, a line and a reason. A template failure is a
// [*TemplateError], whose Detail field holds Helm's full message for a
// host that chooses to show it to the chart's owner.
//
// # Concurrency
//
// A Renderer is safe for concurrent use: each render loads its own copy of
// the chart. Panics inside Helm become errors.
//
// Helm prints some warnings through the standard library's process-wide
// log package ("skipping unknown hook", values that cannot be merged,
// where it quotes a chart's default value); converge leaves that logger
// alone, as it belongs to the host.
package helm
