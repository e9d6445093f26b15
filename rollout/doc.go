// Package rollout runs Argo Rollouts' canary and blue-green strategies
// without the Rollouts controller or its CRDs: a Rollout manifest, as its
// users write it, runs over ordinary Deployments and Services that
// converge applies, owns and prunes like any other object, decided by
// package analysis and stepped by the host's loop.
//
//	engine := rollout.New(rollout.Options{Providers: map[string]analysis.Provider{"prometheus": prometheus.New()}})
//	out, statuses, err := engine.Process(ctx, rollout.Input{Set: rendered, Live: cache, Now: time.Now(), Namespace: "shop"})
//	// apply out; step again by statuses[i].Next
//
// or, inside the reconcile engine, reconcile.WithRollouts(engine).
//
// # How a Rollout runs
//
// Process replaces each Rollout of a rendered set by what runs it, and
// consumes the set's AnalysisTemplates:
//
//   - a Deployment per live revision, named "<rollout>-<hash>", whose pods
//     and selector carry the revision's hash in the label
//     rollouts-pod-template-hash (Rollouts' name), as Rollouts' ReplicaSets
//     do;
//   - the Rollout's Services (canaryService, stableService, activeService,
//     previewService), which must be among the rendered objects, with that
//     label added to their selectors;
//   - its routes, weighted by its TrafficRouter: Istio VirtualServices
//     (and DestinationRule subsets), Gateway API HTTPRoutes (the
//     argoproj-labs/gatewayAPI plugin's configuration), an SMI
//     TrafficSplit or an NGINX canary Ingress; without trafficRouting the
//     split is the ratio of replicas;
//   - a ConfigMap, StateName(name), holding the rollout's State.
//
// Because routes and workloads are applied objects, a route edited by hand
// or a Service deleted is put back by the next apply, and a Rollout removed
// from Git takes all of them with it.
//
// # One call, one step of progress
//
// The engine has no goroutines and no clock of its own. Each Process call
// moves each rollout as far as it can without waiting for the cluster or
// the clock, and then holds: a setWeight step first scales the canary
// (traffic weight ceil(w% × replicas) pods, or its setCanaryScale), sets
// the weight once those pods are available, and finishes once the live
// routes carry it; a pause finishes at its duration on the host's clock,
// or on `promote` without one; an analysis step runs its templates merged
// (Successful goes on, Failed or Error aborts, Inconclusive pauses); after
// the last step the canary is scaled to every replica, the stable Service
// switches to it, its weight goes back to 0 and the old revision is
// scaled down after scaleDownDelaySeconds. Status.Next says when the
// rollout must be processed again at the latest.
//
// A failed analysis, a failed background analysis, a progress deadline
// passed (the new revision not available in progressDeadlineSeconds) or
// an abort request sends all traffic back to stable, scales the canary
// down after abortScaleDownDelaySeconds and reports the rollout Degraded
// until the revision changes: a git revert is the rollback. A new revision
// in the middle of a rollout replaces the canary and starts the steps
// over, as Rollouts does; a revision equal to the stable one ends the
// rollout at once.
//
// Blue-green brings the new revision up behind the preview Service
// (previewReplicaCount pods), runs the pre-promotion analysis, waits for
// autoPromotionSeconds or for `promote` when autoPromotionEnabled is
// false, scales it to every replica, switches the active Service, runs
// the post-promotion analysis (its failure switches back) and scales the
// old revision down after scaleDownDelaySeconds.
//
// # State, restarts and commands
//
// A rollout's State (step, weight, the analyses' runs serialized, the
// revisions) is written with the objects of the pass that changed it, so
// a restarted host resumes at the same step and never sets a weight again
// or repeats a finished analysis or measurement. Users give commands
// (promote, promote-full, abort, retry, pause, resume) by annotating that
// ConfigMap (CommandAnnotation) with a new token, which `converge rollout`
// does; each token is carried out once.
//
// # Where this package differs from Argo Rollouts
//
//   - Fields it cannot honour are refused by name (ErrUnsupported):
//     experiment, setMirrorRoute and plugin steps, workloadRef,
//     antiAffinity, dynamicStableScale, pingPong, ALB, Ambassador, App
//     Mesh, Traefik and APISIX routing, selector matchExpressions.
//   - The progress deadline always aborts (progressDeadlineAbort's
//     behaviour), so that traffic goes back to stable.
//   - Without a router, the replica-ratio split keeps every replica
//     available: the stable revision gives up only the pods the canary
//     made available (maxSurge and maxUnavailable are read but this bound
//     is stricter).
//   - An analysis's args may also come from the host (Options.Args), for
//     templates whose args a Rollout does not give, as the
//     gitops-patterns.md Rollout does not give service-name.
package rollout
