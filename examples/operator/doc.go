// Package operator is converge's reference operator: a controller-runtime
// controller of converge.dev/v1alpha1 Applications, each reconciled by the
// SDK's reconcile.Reconciler, for a platform team to run as it is or copy
// as a template.
//
//	err := operator.Run(ctx, restConfig, operator.DefaultOptions()) // until ctx is done
//
// or, in a manager of one's own:
//
//	engine, err := reconcile.New(clusterClient)
//	metrics, err := operator.NewMetrics(ctrlmetrics.Registry, clusterClient)
//	r := &operator.ApplicationReconciler{Client: mgr.GetClient(), Engine: engine,
//		Recorder: mgr.GetEventRecorder("converge-operator"), DefaultInterval: 5 * time.Minute,
//		RetryInterval: 10 * time.Second, DependencyRetry: 30 * time.Second, Metrics: metrics}
//	err = r.SetupWithManager(ctx, mgr, 4)
//	http.Handle(operator.WebhookPath, r.Webhook(operator.WebhookSecrets{GitHub: secret}))
//
// An Application names a path of a Git repository at a revision and a
// destination namespace:
//
//	apiVersion: converge.dev/v1alpha1
//	kind: Application
//	metadata: {name: shop, namespace: platform}
//	spec:
//	  source: {repoURL: https://github.com/myorg/gitops-deploy.git, targetRevision: main, path: apps/shop}
//	  destination: {namespace: shop}
//	  syncPolicy: {prune: true}
//	  interval: 5m
//
// The rest of the spec, each field named as Argo CD or Flux names it:
// source.ref (Flux's branch, tag, semver, name, commit, instead of
// targetRevision), render.kind (Kustomize, Helm or Plain instead of by
// what the path holds), syncPolicy.allowEmpty, syncOptions
// (createNamespace, prunePropagationPolicy, recreate, conflicts,
// allowShared), retry (limit and backoff, Argo CD's shape),
// ignoreDifferences, healthChecks and wait, dependsOn, suspend, timeout.
// destination.cluster accepts only the operator's own cluster in this
// version; another name makes the Application Stalled, saying so.
//
// # A reconcile
//
// Each reconcile maps the Application to a reconcile.Unit ([Unit]), runs
// one pass (fetch, render, server-side apply, prune, health), copies the
// pass's Status into the Application's ([SetStatus]) and asks to run again
// at spec.interval. The status has the conditions Ready, Reconciling,
// Stalled and Healthy, each with observedGeneration, so
//
//	kubectl wait --for=condition=Ready application/shop
//
// waits for the current spec to be applied. The status is written only
// when it changed: an unchanged revision and an in-sync cluster cost the
// operator no write and the SDK no request beyond one reference listing.
//
// What GitOps users count on holds, because the SDK's pass does it: a
// source that cannot be fetched keeps what was applied and prunes nothing
// (Ready=False, reason ArtifactFailed, with the fetch's error), and the
// next good pass clears it (an event with reason Recovered). A failed
// pass is retried on the backoff of spec.retry; past retry.limit the
// Application is Stalled (reason RetriesExhausted) and tried only at its
// interval, where a new revision can mend it. A suspended
// Application is not fetched or applied. A dependent waits, Ready=False
// with reason DependencyNotReady and a message naming the dependency and
// why, and applies nothing until every dependency is Ready and healthy;
// it runs again as soon as a dependency's status changes.
//
// Kubernetes events (events.k8s.io) record every pass that wrote to the
// cluster (reason Applied, with the counts), every failed pass (the
// condition's reason: ArtifactFailed, BuildFailed, ...), recoveries,
// suspensions, waits, invalid specs and deletions.
//
// # Deleting an Application
//
// An Application with syncPolicy.prune carries the finalizer
// converge.dev/prune ([Finalizer]). Deleting it deletes what it applied
// first, through the SDK's reconcile.Reconciler.Delete: the objects of
// its inventory that still carry its ownership marks, then the
// inventory; a Namespace made by createNamespace is left, as an object
// another Application shares is. Then the finalizer comes off (event
// Deleted, with the count). A deletion that fails, or outlasts
// spec.timeout (5 minutes without one; another controller's finalizer
// on an object can hold it), keeps the finalizer, records a
// DeleteFailed event naming what is left, and is retried with the
// controller's backoff.
//
// Deleting an Application without prune deletes nothing in the
// cluster: it has no finalizer (turning prune off takes it off), so the
// API server removes it at once and its objects stay. A suspended
// Application is released the same way, its objects left as they are
// (event Released), as is one whose spec can no longer be mapped to a
// unit (its Project gone, say).
//
// # Push events
//
// With Options.WebhookAddr (--webhook-bind-address) the operator serves
// the SDK's reconcile/webhook receiver at /hooks/git ([WebhookPath]):
// GitHub and Gitea push events verified by their HMAC signature, GitLab's
// by its token ([WebhookSecrets]). A verified push reconciles at once,
// through the controller's queue, every Application that follows it
// ([Follows]): the same repository by reconcile.SourceIdentity (scheme,
// credentials, the host's case and a trailing .git do not matter) and
// the branch its revision names, or the tag, or any tag for a semver
// range; the fetch that follows asks the Git server even inside
// FetchCoalesce. A delivery that is not verified is a 401 and triggers
// nothing. Serve it behind TLS.
//
// # Metrics
//
// The manager's /metrics (Options.MetricsAddr) serves
// controller-runtime's metrics and converge's ([Metrics]):
// converge_reconcile_duration_seconds by phase (fetch, render, apply,
// health), converge_applied_objects_total by action,
// converge_drift_objects_total, converge_reconcile_api_requests (the
// SDK's API requests per pass: none in the steady state) and
// converge_applications by health.
//
// # Notifications
//
// spec.notifications lists endpoints ([Notifications]) told once of each
// transition: a failed pass (SyncFailed), a degraded health
// (HealthDegraded) and the recovery (Recovered). type webhook posts
// converge's JSON event, signed in X-Converge-Signature with the
// Secret's "secret" key when it has one; type slack posts to a
// Slack-compatible incoming webhook. The endpoint's URL is the "address"
// key of the Secret spec.notifications[].secretRef names, in the
// Application's namespace, as a Flux Provider's is; it is read when an
// event is sent and never shown.
//
// # Web page
//
// With Options.DashboardAddr (--dashboard-bind-address) the operator
// serves a read-only page ([Dashboard]): every Application with its sync
// and health status, its revision and its Ready condition's message, and
// for each one the resource tree, namespace by namespace, with each
// object's health read from the engine's watch cache and the last pass's
// action, and the last pass's diff with Secret values masked. It has no
// script and accepts nothing but GET.
//
// # Projects
//
// A Project of the Application's namespace (spec.project) limits the
// Applications that name it, as an Argo CD AppProject does: the
// repositories they may fetch (sourceRepos), the namespaces and clusters
// they may apply to (destinations), the cluster-scoped kinds they may
// apply (clusterResourceWhitelist, none by default) and the namespaced
// kinds they may not (namespaceResourceBlacklist), and the service account
// their writes are made as (serviceAccountName, impersonated). The SDK
// checks the source and destination before fetching and every rendered
// object before writing any ([Restrict]); a refused Application is
// Ready=False and Stalled with reason ProjectViolation, and a warning
// event says why. A Project that does not exist makes the Application
// Stalled (InvalidUnit) until it is created. An Application that names no
// Project is bound by none, so tenants must not be able to create
// Applications without one, nor write Projects.
//
// # Install
//
// config/default is the Kustomize installation: the CRDs, RBAC (the
// operator's own least-privilege ClusterRole, the one broad apply rule in
// a ClusterRole of its own, a Role for Leases), the Deployment of
// cmd/operator and the Service of its metrics and webhook ports, in
// namespace converge-system; config/prometheus adds a ServiceMonitor.
//
// # Generated files
//
// The API types live in api/v1alpha1; their DeepCopy methods and the CRD
// (config/crd, also embedded as [CRD] and [ProjectCRD]) are generated by
// hack/operator/generate.sh with controller-gen, and a test fails when
// they are stale. cmd/operator is the binary.
package operator
