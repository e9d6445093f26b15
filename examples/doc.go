// Package examples holds converge's reference programs and the GitOps
// repository they reconcile:
//
//   - gitops-deploy/: a deployment repository in the layout platform teams
//     use (apps with Kustomize overlays per environment, infrastructure,
//     one directory per cluster);
//   - cmd/converge: a CLI that plans, applies, syncs, diffs and deletes
//     the applications of such a repository, or of the Argo CD and Flux
//     files that describe them, on converge's reconcile engine (cobra reads
//     the command line);
//   - cmd/quickstart: what `make run` runs, a tour of the CLI against a
//     local control plane;
//   - internal/cli: the CLI's code, which both commands and the tests run
//     in process.
//
// The tests of this package check that the repository renders with converge
// exactly as with the kustomize CLI, and that it has the shape the README
// describes (pinned image tags, prod's replicas and autoscaler,
// infrastructure first in every cluster).
package examples
