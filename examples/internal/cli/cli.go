// Package cli is the converge command: plan, apply, sync, diff and delete
// applications from a GitOps repository, or from the Argo CD Application
// or Flux Kustomization that already describes them. It is a thin host of
// the SDK's reconcile engine: every pass, prune, health wait and diff is
// the engine's. cmd/converge is its main function; cmd/quickstart and the
// tests call Main in-process.
//
// An Argo Rollouts Rollout among the rendered objects runs without the
// Rollouts controller: apply and sync step its canary or blue-green
// strategy through the SDK's rollout engine, over Deployments and
// Services they apply, and converge rollout status, promote, abort,
// retry, pause and resume show where it stands and give it commands,
// as kubectl argo rollouts does.
//
//	code := cli.Main(ctx, []string{"plan", "--repo", "./deploy", "--path", "clusters/dev"}, os.Stdout, os.Stderr)
//
// # Exit codes
//
//	0  success (plan and diff: also when there are changes, unless --exit-code)
//	1  failure: an object failed to apply or to become healthy, or the
//	   repository, the path, the cluster or a rollout could not be read
//	2  bad usage: an unknown command or flag, a missing or invalid value
//	3  plan --exit-code or diff --exit-code: there are changes
//
// Every failure ends with one line on stderr, "converge <command>: <what went
// wrong>", never a stack trace.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes Main returns.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitChanges = 3
	// ExitInconclusive: analyze ended Inconclusive.
	ExitInconclusive = 4
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError ends a command with a code and, when msg is set, one line.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Main runs the converge command line args (without the program name) and
// returns the process exit code. Results go to stdout; news about the tool
// itself (a local control plane starting) and the one-line error a
// failure ends with go to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, os.Stdin, stdout, stderr)
}

// run is Main reading stdin (seal and unseal) from stdin.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := newOutput(stdout, stderr)
	root := newRoot(out)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if len(args) == 0 {
		out.errorf("converge: missing command: plan, apply, sync, diff, delete, seal, unseal, analyze, rollout, check, image, promote or rollback (see converge --help)")
		return ExitUsage
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	name := "converge"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath() // "converge rollout status"
	}
	code := ExitFailed
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
		err = fmt.Errorf("%s (see %s --help)", ue.msg, name)
	case isFlagError(err):
		code = ExitUsage
		err = fmt.Errorf("%s (see %s --help)", err.Error(), name)
	case errors.As(err, &ee):
		code = ee.code
		if ee.msg == "" {
			return code
		}
	case ctx.Err() != nil:
		err = fmt.Errorf("interrupted: %w", err)
	}
	out.errorf("%s: %s", name, oneLine(err.Error()))
	return code
}

// isFlagError tells cobra's and pflag's complaints about the command line
// (which they return as plain errors) from failures of the work.
func isFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument",
		"unknown command", "accepts ", "requires at least", "required flag", "if any flags in the group", "bad flag syntax"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, ": "+p) {
			return true
		}
	}
	return false
}

// oneLine folds a multi-line message (errors.Join) into one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

func newRoot(out *output) *cobra.Command {
	root := &cobra.Command{
		Use:   "converge",
		Short: "converge reconciles a GitOps repository into a Kubernetes cluster",
		Long: `converge reconciles a GitOps repository into a Kubernetes cluster.

An application is a path of a repository (--repo, --path), rendered as
Kustomize, a Helm chart or plain manifests by what the path holds, or the
Argo CD Application or Flux GitRepository+Kustomization file that already
describes it (-f FILE).

Repository: an https://, http://, ssh:// or file:// Git URL, or a local
directory: read as it is on disk, or, with --ref, as a Git repository at any
revision git rev-parse accepts (HEAD~1, a short hash, origin/main, a tag).
A remote repository takes a branch, a tag, a semver range, a full commit
hash or a refs/... name.

Rollouts: an Argo Rollouts Rollout runs without the Rollouts controller
or its CRDs: apply and sync step its canary or blue-green strategy over
Deployments and Services they apply (--analysis-arg gives its analyses
arguments); converge rollout status|promote|abort|retry|pause|resume NAME
shows it and gives it commands, carried out by the next pass.

Cluster: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; or --local,
which starts a local control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok fake nodes) for the
command's lifetime.

Check: converge check --repo URL|DIR [--history] runs the GitOps readiness
checklist and anti-patterns over the repository (and its history) and exits
1 when it finds something at or above --fail-on.

Promotion: converge promote --repo URL|DIR --from dev --to staging [--pr]
takes the images one environment runs, healthy, to the next as a commit
(or a pull request); converge rollback --env prod [--to REV] undoes one as
a commit; converge image latest REPOSITORY --semver RANGE prints the tag a
policy picks.

Exit codes: 0 ok; 1 failed (apply, health, repository, path, cluster or rollout);
2 bad usage; 3 changes found (plan and diff with --exit-code).`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	root.AddCommand(newPlan(out), newApply(out), newSync(out), newDiff(out), newDelete(out), newSeal(), newUnseal(), newAnalyze(out), newRollout(out), newCheck(out), newImage(out), newPromote(out), newRollback(out))
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}
