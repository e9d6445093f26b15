package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"

	"github.com/spf13/cobra"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source"
)

func newDiff(out *output) *cobra.Command {
	var repo, base, head, output string
	var paths, remoteBases []string
	var keys keyFlags
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff --repo URL|DIR --base REV --head REV [--path DIR]...",
		Short: "what changes between two revisions, per environment; no cluster",
		Long: `Renders both revisions of each environment (Kustomize, Helm or plain manifests,
by what the path holds) and prints what would change in it, as YAML diffs
with Secret values masked. Needs no cluster: a preview for pull requests.
An environment that holds no manifests yet renders as empty, so every
object of the revision that fills it shows as added.

Revisions: in a local repository anything git rev-parse takes (HEAD~1, a
short hash, origin/main, a tag); in a remote one a branch, a tag, a semver
range, a full commit hash or a refs/... name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if base == "" || head == "" {
				return usagef("--base and --head are both required")
			}
			if output != "" && output != "json" {
				return usagef("--output %q: the only format is json", output)
			}
			for i, p := range paths {
				clean, err := checkPath(p)
				if err != nil {
					return err
				}
				paths[i] = clean
			}
			ctx := cmd.Context()
			fopts := reconcile.FetcherOptions{AllowFileURLs: true}
			fetcher := reconcile.NewFetcher(fopts)
			var ropts []reconcile.RendererOption
			if len(remoteBases) > 0 {
				ropts = append(ropts, reconcile.WithRemoteBases(remoteBases, reconcile.RemoteBaseFetcher(fopts)))
			}
			renderer := reconcile.NewRenderer(ropts...)
			if keys.given() {
				d, err := keys.decryptor()
				if err != nil {
					return err
				}
				renderer = reconcile.DecryptingRenderer(renderer, d)
			}
			baseSnap, baseUnit, err := fetchRevision(ctx, fetcher, repo, base)
			if err != nil {
				return err
			}
			headSnap, headUnit, err := fetchRevision(ctx, fetcher, repo, head)
			if err != nil {
				return err
			}
			if len(paths) == 0 {
				if paths = environments(baseSnap.FS, headSnap.FS); len(paths) == 0 {
					return fmt.Errorf("no environments: neither revision has directories under clusters/ (pass --path)")
				}
			}
			var envs []envDiff
			for _, p := range paths {
				from, err := renderIfPresent(ctx, renderer, baseUnit, baseSnap, p)
				if err != nil {
					return err
				}
				to, err := renderIfPresent(ctx, renderer, headUnit, headSnap, p)
				if err != nil {
					return err
				}
				if from == nil && to == nil {
					return fmt.Errorf("path %s exists at neither %s nor %s", p, shortRevision(baseSnap.Revision), shortRevision(headSnap.Revision))
				}
				e, err := compare(p, from, to)
				if err != nil {
					return err
				}
				envs = append(envs, e)
			}
			total := 0
			for _, e := range envs {
				total += len(e.Changes)
			}
			if output == "json" {
				b, _ := json.MarshalIndent(map[string]any{"base": baseSnap.Revision, "head": headSnap.Revision, "environments": envs}, "", "  ")
				out.printf("%s", b)
			} else {
				out.printf("diff: %s → %s", shortRevision(baseSnap.Revision), shortRevision(headSnap.Revision))
				changed := 0
				for _, e := range envs {
					if printEnvDiff(out, e) {
						changed++
					}
				}
				out.printf("Diff: %s in %s of %d.", plural(total, "object changes", "objects change"), plural(changed, "environment", "environments"), len(envs))
			}
			if exitCode && total > 0 {
				return &exitError{code: ExitChanges}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&repo, "repo", "", "Git URL (https, http, ssh, file) or local Git repository")
	fl.StringVar(&base, "base", "", "revision to compare from")
	fl.StringVar(&head, "head", "", "revision to compare to")
	fl.StringSliceVar(&paths, "path", nil, "environment directory to compare, repeatable or comma-separated (default: every directory under clusters/)")
	fl.StringSliceVar(&remoteBases, "allow-remote-base", nil, "let Kustomize fetch remote bases under this URL prefix (repeatable)")
	fl.StringVarP(&output, "output", "o", "", `"json" for a machine-readable result`)
	keys.register(fl)
	fl.BoolVar(&exitCode, "exit-code", false, "exit with 3 when anything changes")
	return cmd
}

// fetchRevision fetches repo at rev (a remote revision that may be a
// branch or a tag is tried as both).
func fetchRevision(ctx context.Context, f reconcile.Fetcher, repo, rev string) (*source.Snapshot, *reconcile.Unit, error) {
	rs, err := resolveRepo(ctx, repo, rev, true)
	if err != nil {
		return nil, nil, err
	}
	u := &reconcile.Unit{Name: "diff", Source: rs.source, Render: reconcile.Render{Recurse: true}}
	for {
		snap, err := f.Fetch(ctx, u)
		if notFound(err) && len(rs.candidates) > 0 {
			u.Source.Ref, rs.candidates = rs.candidates[0], rs.candidates[1:]
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("cannot fetch %s at %s: %s", rs.display, rev, rootCause(err))
		}
		return snap, u, nil
	}
}

// environments lists the directories right under clusters/ at either
// revision: Kustomize overlays, Flux's per-cluster folders of manifests,
// or empty folders a pull request is about to fill.
func environments(fsyss ...fs.FS) []string {
	seen := map[string]bool{}
	var out []string
	for _, fsys := range fsyss {
		entries, err := fs.ReadDir(fsys, "clusters")
		if err != nil {
			continue
		}
		for _, e := range entries {
			p := "clusters/" + e.Name()
			if e.IsDir() && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// renderIfPresent renders p, or returns nil when p does not exist at that
// revision (an environment added or removed).
func renderIfPresent(ctx context.Context, r reconcile.Renderer, u *reconcile.Unit, snap *source.Snapshot, p string) (*object.Set, error) {
	if info, err := fs.Stat(snap.FS, p); err != nil || !info.IsDir() {
		return nil, nil
	}
	at := *u
	at.Path = p
	set, err := r.Render(ctx, &at, snap)
	if err != nil {
		return nil, fmt.Errorf("render %s at %s: %s", p, shortRevision(snap.Revision), oneLine(err.Error()))
	}
	return set, nil
}

// envDiff is what changes in one environment.
type envDiff struct {
	Path    string       `json:"path"`
	Objects int          `json:"objects"`
	Changes []diffChange `json:"changes"`
}

type diffChange struct {
	Action string `json:"action"` // add, update, remove
	ID     string `json:"id"`
	Diff   string `json:"diff,omitempty"`
}

// compare diffs two renders of an environment with the SDK's unified
// diff, which masks Secret values (data, stringData, last-applied and
// every copy).
func compare(env string, from, to *object.Set) (envDiff, error) {
	if from == nil {
		from = object.NewSet()
	}
	if to == nil {
		to = object.NewSet()
	}
	e := envDiff{Path: env, Objects: to.Len(), Changes: []diffChange{}}
	for id, obj := range to.All() {
		old, existed := from.Get(id)
		d, err := diff.Unified(old, obj, diff.UnifiedOptions{From: "base/" + env + " " + id.String(), To: "head/" + env + " " + id.String()})
		if err != nil {
			return e, fmt.Errorf("%s %s: %w", env, id, err)
		}
		switch {
		case !existed:
			e.Changes = append(e.Changes, diffChange{"add", id.String(), d})
		case d != "":
			e.Changes = append(e.Changes, diffChange{"update", id.String(), d})
		}
	}
	for id := range from.All() {
		if _, ok := to.Get(id); !ok {
			e.Changes = append(e.Changes, diffChange{"remove", id.String(), ""})
		}
	}
	return e, nil
}

var diffMarks = map[string]string{"add": "+ add", "update": "~ update", "remove": "- remove"}

// printEnvDiff prints what changes in one environment and reports whether
// anything does.
func printEnvDiff(out *output, e envDiff) bool {
	if len(e.Changes) == 0 {
		out.printf("%s: no changes (%s)", e.Path, plural(e.Objects, "object", "objects"))
		return false
	}
	n := map[string]int{}
	for _, c := range e.Changes {
		n[c.Action]++
	}
	out.printf("%s: %d to add, %d to update, %d to remove", e.Path, n["add"], n["update"], n["remove"])
	for _, c := range e.Changes {
		out.printf("  %-9s %s", diffMarks[c.Action], c.ID)
		out.block("      ", c.Diff)
	}
	return true
}
