package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/rollout"
)

// rolloutFieldManager owns the command annotations the rollout commands
// set, apart from the engine's own fields of the state ConfigMap, so
// that the engine's next apply of the ConfigMap keeps them.
const rolloutFieldManager = "converge-rollout-cli"

// rolloutFlags are the flags of the rollout commands.
type rolloutFlags struct {
	namespace string
	cluster   clusterFlags
}

func newRollout(out *output) *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "rollout status|promote|abort|retry|pause|resume NAME [-n NAMESPACE]",
		Short: "show an Argo Rollouts Rollout that converge runs, and give it commands",
		Long: `Shows where a Rollout that apply and sync run (without the Argo Rollouts
controller) stands, as kubectl argo rollouts get rollout does, and gives it
the commands kubectl argo rollouts gives: promote (--full), abort, retry,
pause and resume. A command is an annotation on the rollout's state
ConfigMap (converge-rollout-NAME); the next pass of apply or sync carries
it out, once. A command the rollout's state makes pointless (abort on a
rollout that is not progressing) is said so and not given.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("missing subcommand: status, promote, abort, retry, pause or resume")
			}
			return usagef("unknown subcommand %q: status, promote, abort, retry, pause or resume", args[0])
		},
	}
	fl := cmd.PersistentFlags()
	fl.StringVarP(&f.namespace, "namespace", "n", "default", "namespace of the rollout")
	f.cluster.register(fl)

	var output string
	status := &cobra.Command{
		Use:   "status NAME [-n NAMESPACE] [-o json]",
		Short: "show a rollout's status, steps and running analysis",
		Long: `Shows a rollout as kubectl argo rollouts get rollout does: its status
(Healthy, Progressing, Paused or Degraded), strategy, step, weights, the
images and replicas of its stable and canary revisions, its steps (✔ done,
▶ current, ॥ paused, ✖ aborted, ○ pending) and its running analysis.
-o json prints the state the engine keeps.`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return usagef("--output %q: the only format is json", output)
			}
			return withRollout(cmd.Context(), f, out, args[0], func(c *cluster.Client, ls *rollout.LiveState) error {
				if output == "json" {
					b, err := json.MarshalIndent(ls.State, "", "  ")
					if err != nil {
						return err
					}
					out.printf("%s", b)
					return nil
				}
				return printRollout(cmd.Context(), out, clientReader{c}, f.namespace, args[0], ls)
			})
		},
	}
	status.Flags().StringVarP(&output, "output", "o", "", `"json" for the rollout's state`)

	var full bool
	promote := commandCmd(out, &f, rollout.CommandPromote, "promote NAME [--full]", "finish the current step (a pause, an analysis, a blue-green wait); --full: every step",
		`Finishes the current step: a pause, an analysis, a blue-green rollout's
wait for promotion. With --full, skips every remaining step (and, blue-green,
the pre-promotion analysis and the wait) and promotes the new revision.`, &full)
	promote.Flags().BoolVar(&full, "full", false, "promote to the new revision at once, skipping the remaining steps and analyses")

	cmd.AddCommand(status, promote,
		commandCmd(out, &f, rollout.CommandAbort, "abort NAME", "send all traffic back to the stable revision and scale the canary down",
			`Aborts the rollout: all traffic goes back to the stable revision, the
canary is scaled down after abortScaleDownDelaySeconds, and the rollout is
Degraded until it is retried or a new revision is committed.`, nil),
		commandCmd(out, &f, rollout.CommandRetry, "retry NAME", "start an aborted rollout's steps over",
			`Starts an aborted rollout's steps over, from the first.`, nil),
		commandCmd(out, &f, rollout.CommandPause, "pause NAME", "stop the rollout where it is",
			`Stops the rollout at its current step until it is resumed (or promoted).`, nil),
		commandCmd(out, &f, rollout.CommandResume, "resume NAME", "let a paused rollout go on",
			`Lets a rollout paused by pause, or by an Inconclusive analysis, go on.
A pause step without a duration waits for promote instead.`, nil))
	return cmd
}

// nameArg requires the rollout's name.
func nameArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usagef("missing NAME: converge rollout %s NAME", cmd.Name())
	case len(args) > 1:
		return usagef("one rollout at a time: %d names given", len(args))
	}
	return nil
}

// commandCmd is the command that gives command c; full, when set, turns
// promote into promote-full.
func commandCmd(out *output, f *rolloutFlags, c, use, short, long string, full *bool) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + "\n\nThe next pass of converge apply or sync carries the command out.",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			command := c
			if full != nil && *full {
				command = rollout.CommandPromoteFull
			}
			name := args[0]
			return withRollout(cmd.Context(), *f, out, name, func(cl *cluster.Client, ls *rollout.LiveState) error {
				id := f.namespace + "/" + name
				if why := pointless(command, ls); why != "" {
					out.printf("rollout %s %s", id, why)
					return nil
				}
				pending := ls.Commands[command] != "" && ls.Commands[command] != ls.State.Handled[command]
				if err := giveCommand(cmd.Context(), cl, f.namespace, name, command, ls.Commands); err != nil {
					return fmt.Errorf("rollout %s: %s: %s", id, command, oneLine(err.Error()))
				}
				line := fmt.Sprintf("rollout %s: %s requested; the next pass of converge apply or sync carries it out", id, command)
				if pending {
					line += fmt.Sprintf(" (with the %s given before, which no pass has carried out yet)", command)
				}
				out.printf("%s", line)
				return nil
			})
		},
	}
}

// withRollout connects and reads rollout name's state, which must
// exist.
func withRollout(ctx context.Context, f rolloutFlags, out *output, name string, do func(*cluster.Client, *rollout.LiveState) error) error {
	if f.cluster.local && f.cluster.kubeconfig != "" {
		return usagef("--local and --kubeconfig exclude each other")
	}
	cfg, release, err := connect(ctx, f.cluster, out)
	if err != nil {
		return err
	}
	defer release()
	c, err := cluster.New(cfg)
	if err != nil {
		return err
	}
	ls, err := rollout.ReadState(ctx, clientReader{c}, f.namespace, name)
	if err != nil {
		return err
	}
	if ls.State == nil {
		return fmt.Errorf("rollout %s/%s not found: no %s ConfigMap; has a pass run it?", f.namespace, name, rollout.StateName(name))
	}
	return do(c, ls)
}

// clientReader reads live objects with one request each.
type clientReader struct{ c *cluster.Client }

var _ rollout.Reader = clientReader{}

// Lookup reads one object; found is false when there is none.
func (r clientReader) Lookup(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, bool, error) {
	obj, err := r.c.Get(ctx, gvk, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return obj, true, nil
}

// progressing reports whether st has a new revision on its way.
func progressing(st *rollout.State) bool {
	return st.Revision != st.Stable.Hash || st.Previous != nil
}

// pointless says why command c would change nothing, as the engine
// would carry it out; "" when it would. Such a command is not given: its
// token would wait on the ConfigMap and act on the next rollout.
func pointless(c string, ls *rollout.LiveState) string {
	st := ls.State
	switch c {
	case rollout.CommandAbort:
		if st.Aborted {
			return "is already aborted: nothing to abort"
		}
		if !progressing(st) {
			return "is not progressing: nothing to abort"
		}
	case rollout.CommandRetry:
		if !st.Aborted {
			return "is not aborted: nothing to retry"
		}
	case rollout.CommandPause:
		if st.Paused {
			return "is already paused: nothing to pause"
		}
		if !progressing(st) {
			return "is not progressing: nothing to pause"
		}
	case rollout.CommandResume:
		if !st.Paused {
			return "is not paused: nothing to resume"
		}
	case rollout.CommandPromote, rollout.CommandPromoteFull:
		if st.Aborted {
			return "is aborted: nothing to promote (retry it, or commit a new revision)"
		}
		if !progressing(st) {
			return "is not progressing: nothing to promote"
		}
	}
	return ""
}

// giveCommand sets command c's annotation on the state ConfigMap to a
// fresh token, with a server-side apply of the annotations alone under
// rolloutFieldManager. The commands given before keep their tokens: an
// apply that left them out would remove them before a pass saw them.
func giveCommand(ctx context.Context, c *cluster.Client, namespace, name, command string, given map[string]string) error {
	annotations := map[string]any{}
	for k, v := range given {
		annotations[rollout.CommandAnnotation(k)] = v
	}
	annotations[rollout.CommandAnnotation(command)] = time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": rollout.StateName(name), "namespace": namespace, "annotations": annotations},
	}}
	ri, _, err := c.ResourceFor(ctx, obj)
	if err != nil {
		return err
	}
	_, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: rolloutFieldManager, Force: true})
	return err
}
