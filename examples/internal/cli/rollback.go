package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing/fstest"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/spf13/cobra"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/source/git"
)

// rollbackFlags are converge rollback's flags.
type rollbackFlags struct {
	publishFlags
	layoutFlags
	env     string
	to      string
	history int
}

func newRollback(out *output) *cobra.Command {
	var f rollbackFlags
	cmd := &cobra.Command{
		Use:   "rollback --repo URL|DIR --env ENV [--to REV] [--app APP] [--pr --forge KIND --forge-repo OWNER/NAME]",
		Short: "Undo an environment's last promotion, or put it back as it was at a revision, as a commit",
		Long: `Rollback is a commit, never an apply: the sync that follows it
rolls the environment back, as it rolled the promotion out.

Without --to it finds the newest commit of --branch that promoted into
--env (its Promoted-To trailer, as converge promote writes it) and is not
reverted yet, and reverts it as git revert does; a file that changed
again since is a conflict a person must settle, and nothing is committed.
Run it again to undo the promotion before. With --app, only promotions
that changed nothing but those apps' overlays are candidates.

With --to REV (a commit, a tag, or HEAD~3 in a local clone) each app's
overlay of --env (--layout) gets the content it had at REV.

The commit goes to --branch, or with --pr to converge/rollback/{env}[/{app}]
and a pull request. --dry-run shows the change and commits nothing.

Exit codes: 0 rolled back; 1 no promotion to undo, a conflict, or the
repository or forge failed; 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRollback(cmd.Context(), out, &f) },
	}
	fl := cmd.Flags()
	f.publishFlags.register(fl)
	f.layoutFlags.register(fl)
	fl.StringVar(&f.env, "env", "", "the environment to roll back, e.g. prod")
	fl.StringVar(&f.to, "to", "", "put the overlays back as they were at this revision, instead of reverting the last promotion")
	fl.IntVar(&f.history, "history", 1000, "how many commits back to look for the promotion to undo")
	return cmd
}

func (f *rollbackFlags) check() error {
	if f.env == "" {
		return usagef("--env is required")
	}
	if !envName.MatchString(f.env) {
		return usagef("--env %q is not an environment name (lower-case letters, digits, '.', '_', '-')", f.env)
	}
	if f.history < 1 {
		return usagef("--history %d: want at least 1", f.history)
	}
	if f.to != "" && (strings.HasPrefix(f.to, "-") || strings.ContainsAny(f.to, " \t\r\n\x00")) {
		return usagef("--to %q is not a revision", f.to)
	}
	if err := f.layoutFlags.check(); err != nil {
		return err
	}
	return f.publishFlags.check()
}

func runRollback(ctx context.Context, out *output, f *rollbackFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	token, err := f.token()
	if err != nil {
		return err
	}
	repo, err := openHistory(ctx, &f.publishFlags, token)
	if err != nil {
		return err
	}
	var (
		edit          promote.Edit
		subject, body string
	)
	if f.to == "" {
		c, err := f.lastPromotion(repo)
		if err != nil {
			return err
		}
		if edit, err = promote.Revert(repo, c.Hash.String()); err != nil {
			return err
		}
		first, _, _ := strings.Cut(c.Message, "\n")
		subject = fmt.Sprintf("rollback %s: revert %s", f.env, short12(c.Hash.String()))
		body = fmt.Sprintf("Reverts %q.\n\nThis reverts commit %s.", first, c.Hash)
	} else {
		dirs, err := f.overlays(repo)
		if err != nil {
			return err
		}
		var edits []promote.Edit
		for _, d := range dirs {
			e, err := promote.Restore(repo, f.to, d)
			if err != nil {
				return err
			}
			edits = append(edits, e)
		}
		edit = promote.Edits(edits...)
		subject = fmt.Sprintf("rollback %s to %s", f.env, f.to)
		body = "Restores " + strings.Join(dirs, ", ") + " as they were at " + f.to + "."
	}

	// Show the change on the branch's head as it is now; Publish runs
	// the same edit again on the head it commits on.
	wt, err := headTree(repo, f.branch)
	if err != nil {
		return err
	}
	res, err := edit.Apply(ctx, wt)
	if err != nil {
		return err
	}
	out.printf("%s", subject)
	fmt.Fprint(out.stdout, res.Diff())
	if len(res.Files) == 0 {
		out.printf("%s already holds what the rollback would commit: nothing to do", f.branch)
		return nil
	}
	if f.dryRun {
		out.printf("--dry-run: nothing committed")
		return nil
	}
	head := "converge/rollback/" + f.env
	if len(f.apps) == 1 {
		head += "/" + f.apps[0]
	}
	change := promote.Change{Branch: f.branch, Message: subject + "\n\n" + body, Edit: edit}
	prBody := body + "\n\n```diff\n" + res.Diff() + "```\n\nOpened by `converge rollback`; merging it rolls " + f.env + " back.\n"
	return f.publish(ctx, out, token, change, head, subject, prBody)
}

// revertLine is the line a rollback commit names the commit it reverts by,
// as git revert writes it.
var revertLine = regexp.MustCompile(`(?m)^This reverts commit ([0-9a-f]{40})\.`)

// lastPromotion is the newest promotion into --env that no later commit
// reverts.
func (f *rollbackFlags) lastPromotion(repo *gogit.Repository) (*gitobject.Commit, error) {
	reverted := map[string]bool{}
	var skipped []string
	c, err := promote.FindCommit(repo, plumbing.NewBranchReferenceName(f.branch).String(), f.history, func(c *gitobject.Commit) bool {
		for _, m := range revertLine.FindAllStringSubmatch(c.Message, -1) {
			reverted[m[1]] = true
		}
		p, err := promote.ParseProvenance(c.Message)
		if err != nil || p.To != f.env || reverted[c.Hash.String()] {
			return false
		}
		if len(f.apps) > 0 && !f.onlyApps(c) {
			skipped = append(skipped, short12(c.Hash.String()))
			return false
		}
		return true
	})
	if errors.Is(err, promote.ErrNotFound) {
		msg := fmt.Sprintf("no promotion into %s to undo in the %d newest commits of %s", f.env, f.history, f.branch)
		if len(skipped) > 0 {
			msg += fmt.Sprintf(" (%s also changed other apps' overlays: roll back without --app, or with --to)", strings.Join(skipped, ", "))
		}
		return nil, &exitError{code: ExitFailed, msg: msg}
	}
	return c, err
}

// onlyApps reports whether c changed nothing but --app's overlays of --env.
func (f *rollbackFlags) onlyApps(c *gitobject.Commit) bool {
	stats, err := c.Stats()
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, s := range stats {
		in := false
		for _, app := range f.apps {
			if strings.HasPrefix(s.Name, f.dir(app, f.env)+"/") {
				in = true
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// overlays are the overlay directories of --env that --to restores: the
// apps asked for, else every app with an overlay of --env on the branch.
func (f *rollbackFlags) overlays(repo *gogit.Repository) ([]string, error) {
	fsys, err := headTree(repo, f.branch)
	if err != nil {
		return nil, err
	}
	pairs, err := f.pairs(fsys, f.env, f.env)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, len(pairs))
	for i, p := range pairs {
		dirs[i] = p[1].Dir
	}
	return dirs, nil
}

// openHistory opens --repo with its history: a local clone as it is, a
// remote one cloned into memory (one branch, every commit).
func openHistory(ctx context.Context, f *publishFlags, token string) (*gogit.Repository, error) {
	if f.localRemote != "" {
		repo, err := gogit.PlainOpenWithOptions(f.localRemote, &gogit.PlainOpenOptions{EnableDotGitCommonDir: true})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", f.repo, err)
		}
		return repo, nil
	}
	if _, err := git.ParseURL(f.remote, true); err != nil {
		return nil, usagef("%s", oneLine(err.Error()))
	}
	opts := &gogit.CloneOptions{URL: f.remote, ReferenceName: plumbing.NewBranchReferenceName(f.branch), SingleBranch: true, NoCheckout: true}
	if token != "" && strings.HasPrefix(f.remote, "http") {
		opts.Auth = &githttp.BasicAuth{Username: f.gitUser, Password: token}
	}
	repo, err := gogit.CloneContext(ctx, memory.NewStorage(), nil, opts)
	if err != nil {
		return nil, fmt.Errorf("clone %s of %s: %s", f.branch, git.Redact(f.remote), rootCause(err))
	}
	return repo, nil
}

// maxTreeBytes bounds the files headTree reads into memory.
const maxTreeBytes = 256 << 20

// headTree is the tree of branch's head, read into memory: what the
// rollback is shown against. A local clone's work tree, index and HEAD
// are left alone.
func headTree(repo *gogit.Repository, branch string) (fs.FS, error) {
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	files, err := c.Files()
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	tree := fstest.MapFS{}
	var total int64
	err = files.ForEach(func(f *gitobject.File) error {
		if !f.Mode.IsFile() || f.Mode == filemode.Symlink {
			return nil // a link is not followed, as Restore does not
		}
		if total += f.Size; total > maxTreeBytes {
			return fmt.Errorf("its files hold more than %d MiB", maxTreeBytes>>20)
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		tree[f.Name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", branch, short12(c.Hash.String()), err)
	}
	return tree, nil
}
