// Package examples holds converge's reference programs and the GitOps
// repository they reconcile:
//
//   - gitops-deploy/: a deployment repository in the layout platform teams
//     use (apps with Kustomize overlays per environment, infrastructure,
//     one directory per cluster);
//   - cmd/converge: a CLI that plans, applies, diffs and syncs such a
//     repository, built on converge's packages only;
//   - cmd/quickstart: what `make run` runs, a tour of the CLI against a
//     local control plane.
//
// The tests of this package check that the repository renders with converge
// exactly as with the kustomize CLI.
package examples
