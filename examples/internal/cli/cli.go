// Package cli is the converge command: plan, apply, diff and sync a GitOps
// repository, built on converge's packages only. cmd/converge is its main
// function; cmd/quickstart and the tests call Main in-process.
//
//	code := cli.Main(ctx, []string{"plan", "--repo", "./deploy", "--path", "clusters/dev"}, os.Stdout, os.Stderr)
//
// # Exit codes
//
//	0  success (plan and diff: also when there are changes, unless --exit-code)
//	1  failure: an object failed to apply or to become healthy, or the
//	   repository, the path or the cluster could not be read
//	2  bad usage: an unknown command or flag, a missing or invalid value
//	3  plan --exit-code or diff --exit-code: there are changes
//
// Every failure ends with one line on stderr, "converge <command>: <what went
// wrong>", never a stack trace.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes Main returns.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitChanges = 3
)

const usage = `converge reconciles a GitOps repository into a Kubernetes cluster.

Usage:
  converge plan  --repo URL|DIR --path DIR [flags]   what apply would create, change and prune, with diffs
  converge apply --repo URL|DIR --path DIR [flags]   apply, prune and wait until healthy
  converge diff  --repo URL|DIR --base REV --head REV [--path DIR]...
                                                     what changes between two revisions, per environment; no cluster
  converge sync  --repo URL|DIR --path DIR [--interval 30s] [--once | --max-ticks N]
                                                     apply on every tick: self-heal and prune

Repository: an https://, http://, ssh:// or file:// Git URL (branch "main" unless
--ref), or a local directory read as it is on disk (its working tree).
Revisions: a branch, a tag or a full commit hash.

Cluster: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; or --local, which
starts a local control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok fake nodes) for the command's lifetime.

Exit codes: 0 ok; 1 failed (apply, health, repository, path or cluster);
2 bad usage; 3 changes found (plan and diff with --exit-code).

Run "converge COMMAND --help" for a command's flags.
`

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
// returns the process exit code. Output goes to stdout; progress for long
// work, and the one-line error a failure ends with, go to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "converge: missing command: plan, apply, diff or sync (see converge --help)")
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	var run func(context.Context, []string, *output) error
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	case "plan":
		run = runPlan
	case "apply":
		run = runApply
	case "diff":
		run = runDiff
	case "sync":
		run = runSync
	default:
		fmt.Fprintf(stderr, "converge: unknown command %q: use plan, apply, diff or sync (see converge --help)\n", name)
		return ExitUsage
	}
	out := newOutput(stdout, stderr)
	err := run(ctx, rest, out)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := ExitFailed
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
		err = fmt.Errorf("%s (see converge %s --help)", ue.msg, name)
	case errors.As(err, &ee):
		code = ee.code
		if ee.msg == "" {
			return code
		}
	case ctx.Err() != nil:
		err = fmt.Errorf("interrupted: %w", err)
	}
	out.errorf("converge %s: %s", name, oneLine(err.Error()))
	return code
}

// oneLine folds a multi-line message (errors.Join) into one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
