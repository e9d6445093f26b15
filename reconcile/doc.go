// Package reconcile is the engine of a GitOps host: one reconcile pass
// over a Unit (an application in one environment), and a Loop that runs
// passes continuously. It wires source, render, apply, diff and health
// the way Argo CD and Flux do, as a library that controllers, CLIs,
// portals and CI jobs import.
//
//	r, err := reconcile.New(client, reconcile.WithNotifier(hook))
//	defer r.Close()
//	unit := reconcile.Unit{
//		Name: "backend-prod", Namespace: "platform",
//		Source:      reconcile.Source{URL: "https://github.com/myorg/gitops-deploy.git"},
//		Path:        "apps/backend/overlays/prod",
//		Destination: reconcile.Destination{Namespace: "backend"},
//		Sync:        reconcile.Sync{Prune: true, SelfHeal: true, CreateNamespace: true},
//	}
//	status, err := r.Reconcile(ctx, unit) // one pass
//	fmt.Println(status.Condition(reconcile.ConditionReady).Message) // "Applied revision: main@sha1:…"
//
//	loop := reconcile.NewLoop(r, reconcile.DefaultLoopOptions())
//	err = loop.Set(unit)
//	err = loop.Run(ctx) // until ctx is done
//
// The argocd and flux subpackages load Argo CD Applications,
// ApplicationSets and AppProjects, and Flux GitRepositories and
// Kustomizations, into Units; notify sends the Reconciler's notifications
// to JSON webhooks and Slack.
//
// # A pass
//
// Reconcile fetches the unit's source (one reference listing when nothing
// changed), renders its path (Kustomize, Helm or plain manifests, by what
// the path holds), substitutes variables, runs the host's Steps, asks the
// Gate when something would change, applies with server-side apply,
// prunes, and checks health. The Status it returns has Flux's and
// kstatus's conditions (Ready, Reconciling, Stalled, Healthy) with
// reasons and observedGeneration, the revision, the sync and health
// statuses and what each object did.
//
// What GitOps users count on holds:
//   - a fetch or render failure keeps the last applied state and prunes
//     nothing;
//   - an unchanged revision and an in-sync cluster cost no API request
//     and no render: the Reconciler keeps each unit's render and Applier,
//     and one watch cache per cluster serves every unit on it;
//   - an empty render of a pruning unit is refused unless AllowEmpty;
//   - a Manual unit is only planned (Ready False, OutOfSync) until Sync
//     applies it;
//   - a force-push back to an older commit is followed, as a rollback.
//
// # Stages
//
// Each stage is a small interface with a Func adapter: [Fetcher],
// [Renderer], [Step], [Gate] and [Notifier]. A host replaces one (an
// OCI source, an extra render step, a policy that refuses a set, an
// approval before apply) without touching the others.
//
// # The Loop
//
// A [Loop] runs each unit at its interval with jitter, retries failures
// with exponential backoff (Argo CD's retry, Flux's retryInterval), runs a
// triggered unit at once (Trigger, TriggerSource for webhooks), runs a
// SelfHeal unit as soon as the watch cache sees its objects change, and
// runs a unit as soon as the units it depends on are Ready and healthy. A
// dependsOn cycle is refused, named. Notifications are sent once per
// transition (a failure, a degradation, a recovery), never per pass, and a
// hanging endpoint never holds a pass up.
package reconcile
