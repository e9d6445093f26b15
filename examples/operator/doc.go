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
// destination.cluster names the operator's own cluster or another one
// (see Multi-cluster).
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
// Without a forge, [AnnotationRequestedAt] asks for a pass now, with a
// fresh fetch: `kubectl annotate application web
// converge.dev/requested-at="$(date -Is)" --overwrite`; the pass echoes
// the value in status.lastHandledReconcileAt, so a script can wait for
// it. Applications given the same value (a bulk annotate) share one
// fetch of their repository, as those woken by one push do.
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
// # ApplicationSets
//
// An ApplicationSet (converge.dev/v1alpha1) makes Applications from a
// template and generators, as Argo CD's does ([ApplicationSetReconciler],
// over the SDK's reconcile/generate): a list, the directories or the
// files of a Git repository, the registered clusters, or a matrix of two;
// {{param}} templates, or Go templates with goTemplate. The Applications
// it makes carry an owner reference and the label
// converge.dev/application-set; spec.syncPolicy.applicationsSync says
// whether it creates only, also updates (the default), or also deletes
// those its generators no longer give. Git and cluster generators are
// expanded again at an interval.
//
// # Argo CD's and Flux's own resources
//
// With Options.ServeArgoCD and Options.ServeFlux (--serve-argocd,
// --serve-flux) the operator also reconciles Argo CD Applications and
// ApplicationSets and Flux GitRepositories and Kustomizations as they are
// written, through the SDK's compat loaders ([SetupCompat]), and writes
// their status in their own shape (Argo CD's sync, health and
// operationState; Flux's Ready condition, revisions and inventory), so
// `kubectl wait --for=condition=Ready kustomization/NAME` and Argo CD's
// columns work unchanged. An Argo CD ApplicationSet makes Application
// objects it controls, as Argo CD's ApplicationSet controller does, and
// those are served as any other: a cluster that moves from Argo CD keeps
// the Applications its ApplicationSets made. Their CRDs are the upstream ones at pinned
// versions (config/compat, copied by hack/operator/compat-crds.sh; a
// test fails when they drift). On a cluster that serves both converge's
// and Argo CD's Application kinds, name them in full:
// applications.converge.dev.
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
// Project is bound by none, unless the operator runs with
// Options.RequireProject (--require-project): then it is Stalled
// (InvalidUnit) and nothing is applied. Tenants must not write Projects.
//
// # Scale-out
//
// Several replicas share the Applications with Options.Sharding
// (--shards, --lease-namespace, --lease-duration), the same number of
// shards on each: an Application belongs to shard [ShardOf] of its
// namespace/name (rendezvous hashing: every replica computes it alone,
// and a change of the number moves only the keys a new shard wins), and
// each shard is a Lease converge-shard-<i> of the operator's namespace
// ([ShardKeeper]). Every replica also renews a Lease of its own, so that
// it counts before it holds a shard, and takes free or expired shards up
// to a fair share, ceil(shards / live replicas), giving back, once their
// passes have left, those beyond it: a replica that joins gets its
// share, one that stops gives its shards back at once, and one that dies
// loses them when its Leases expire, within the lease duration and two
// renew periods (a sixth of the lease duration each).
//
// No Application is reconciled by two replicas at once: a Lease is taken,
// as leader election takes one, by a write conditioned on its
// resourceVersion, and only when its holder has not renewed it for the
// lease duration as the taker's clock measures from seeing the last
// renewal; a holder starts passes of a shard only within two thirds of
// the lease duration after the start of its last successful renewal,
// and cancels the passes still running on it when that ends. A pass of
// another replica's Application returns at once; a gained shard's
// Applications are queued. Each replica runs at most Options.Concurrency
// passes at once (--concurrency), its bounded worker pool. A push event
// reaches whichever replica the Service picks: that replica reconciles
// the Applications of its own shards and sets [AnnotationPushed] on the
// others, which wakes their holders (one write per Application, none for
// a redelivery, and one fetch per repository). With one shard (the default) there are no Leases: run
// one replica.
//
// # Multi-cluster
//
// An Application applies to another cluster when spec.destination.cluster
// names one that a Secret of the operator's namespace
// (Options.ClusterNamespace, converge-system by default) registers
// ([Clusters]):
//
//   - a Secret labelled converge.dev/cluster holding a kubeconfig under
//     the key kubeconfig; the label's value (or the Secret's name) names
//     the cluster, and the current context is used;
//   - an Argo CD cluster Secret (label argocd.argoproj.io/secret-type:
//     cluster; keys name, server and config), its config's bearerToken,
//     username and password, and tlsClientConfig (caData, certData,
//     keyData, insecure, serverName) understood.
//
// A cluster is named by its name or by its API server URL. What the
// operator would run or read on a Secret's say is refused by name: a
// kubeconfig's exec plugin, auth provider or file paths, an Argo CD
// config's execProviderConfig or awsAuthConfig, as are the Argo CD keys
// it cannot honour (namespaces, clusterResources, project) and any field
// it does not know. Secrets of other namespaces register nothing.
//
// The engine keeps one client and one watch cache per cluster, shared by
// every Application on it. The controller watches the cluster Secrets:
// when one changes, the engine forgets that cluster
// (reconcile.Reconciler.ForgetCluster) and its Applications run again with
// the Secret as it is now. An Application naming a cluster no Secret
// registers is Ready=False and Stalled with reason ClusterNotRegistered; a
// Secret that cannot be used, with ClusterSecretInvalid and a message
// naming the Secret and the field, never a credential. Both clear as soon
// as a Secret mends them.
//
// The SDK keeps an Application's inventory on its destination cluster, in
// the Application's namespace, so that namespace must exist there. An
// Application naming one cluster by its name and another by its URL gets
// two caches of it; name each cluster one way.
//
// # Install
//
// config/default is the Kustomize installation: the CRDs, RBAC (the
// operator's own least-privilege ClusterRole, the one broad apply rule in
// a ClusterRole of its own, a Role for Leases), the Deployment of
// cmd/operator and the Service of its metrics and webhook ports, in
// namespace converge-system; config/prometheus adds a ServiceMonitor, and
// config/sharded runs three replicas on twelve shards.
//
// # Generated files
//
// The API types live in api/v1alpha1; their DeepCopy methods and the CRD
// (config/crd, also embedded as [CRD] and [ProjectCRD]) are generated by
// hack/operator/generate.sh with controller-gen, and a test fails when
// they are stale. cmd/operator is the binary.
package operator
