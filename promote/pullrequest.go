package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A promotion's pull request is identified by its head branch: a
// [PullRequester] keeps at most one open pull request from a promotion's
// Head into its Base, finds it again by those two branches on every run,
// and updates it rather than opening a second. The head branch therefore
// belongs to the promotion: [PromotionBranch] derives one per target
// environment (and application), and the publisher pushes each new
// promotion of that target onto it. A pull request on that branch opened
// by someone else would be taken over; one closed or merged is left
// alone, and the next run opens a new one.

// PullRequest is a pull request (a merge request on GitLab) as the forge
// reports it. It is a value: changing it changes nothing on the forge.
type PullRequest struct {
	// Number is the pull request's number in its repository (GitLab's
	// iid), the one its web page shows.
	Number int
	// URL is its web page.
	URL string
	// Head and Base are the source and target branches.
	Head, Base string
	// HeadSHA is the commit the head branch points at.
	HeadSHA string
	Title   string
	Body    string
	// Labels are the label names it carries, in the forge's order.
	Labels []string
	State  PullState
}

// PullState is the state of a [PullRequest].
type PullState string

// States of a pull request.
const (
	// PullOpen: open (GitLab's "opened" and "locked").
	PullOpen PullState = "open"
	// PullClosed: closed without being merged.
	PullClosed PullState = "closed"
	// PullMerged: merged.
	PullMerged PullState = "merged"
)

// String returns the state's name.
func (s PullState) String() string { return string(s) }

// Check is one commit status (GitHub, Gitea, GitLab) or check run
// (GitHub) on a commit.
type Check struct {
	// Name is the status's context (GitHub, Gitea), the job's name
	// (GitLab) or the check run's name (GitHub).
	Name  string
	State CheckState
	// URL links to the check's details; it may be empty.
	URL string
	// Description is the forge's one-line description; it may be empty.
	Description string
}

// CheckState is the outcome of a [Check], or of all of a commit's checks.
type CheckState string

// Outcomes of a check. Each forge's states map onto these three: GitHub's
// error, failure, cancelled, timed_out, action_required and stale,
// Gitea's error and failure, and GitLab's failed and canceled (unless the
// job may fail) are failures; GitHub's neutral and skipped, Gitea's
// warning and skipped, and GitLab's skipped (and a manual job that may
// fail) pass; everything else is pending.
const (
	CheckPending CheckState = "pending"
	CheckSuccess CheckState = "success"
	CheckFailure CheckState = "failure"
)

// String returns the state's name.
func (s CheckState) String() string { return string(s) }

// MergeMethod is how a pull request is merged.
type MergeMethod string

// Merge methods. GitLab merges by the project's merge method; there
// MergeSquash squashes first and MergeRebase is refused.
const (
	MergeCommit MergeMethod = "merge"
	MergeSquash MergeMethod = "squash"
	MergeRebase MergeMethod = "rebase"
)

// String returns the method's name.
func (m MergeMethod) String() string { return string(m) }

// MergeOptions are the settings of one merge.
type MergeOptions struct {
	// Method defaults to MergeCommit.
	Method MergeMethod
	// SHA, when set, is the commit the head branch must be at: the forge
	// refuses the merge ([ErrForgeRejected]) when the branch has moved
	// since, so what merges is what passed the checks.
	SHA string
}

// PullRequestSpec is what the pull request of one promotion says.
type PullRequestSpec struct {
	// Head is the branch holding the promotion's commit, and its
	// identity (see [PromotionBranch]); Base is the branch it goes into.
	Head, Base string
	// Title is one line; Body is Markdown.
	Title, Body string
	// Labels are added to the pull request; labels it carries already,
	// from an earlier run or a person, are kept.
	Labels []string
}

// Limits of a [PullRequestSpec], the tightest of the three forges'.
const (
	maxTitle      = 255    // runes; GitLab's limit
	maxBody       = 60_000 // bytes; GitHub allows 65,536 characters
	maxLabel      = 50     // runes; GitHub's limit
	maxLabelCount = 20
)

// Validate refuses a promotion a forge would misread or refuse: an
// invalid branch name (see [Forge]), equal head and base, an empty or
// multi-line title, control characters, invalid UTF-8, a label with a
// comma (GitLab's separator), or sizes past the forges' limits. The
// error wraps [ErrInvalidPullRequest].
func (p PullRequestSpec) Validate() error {
	if err := validForgeBranch(p.Head); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	if err := validForgeBranch(p.Base); err != nil {
		return fmt.Errorf("base: %w", err)
	}
	if p.Head == p.Base {
		return fmt.Errorf("%w: head and base are both %q", ErrInvalidPullRequest, p.Base)
	}
	if err := validTitle(p.Title); err != nil {
		return err
	}
	if err := validBody(p.Body); err != nil {
		return err
	}
	if len(p.Labels) > maxLabelCount {
		return fmt.Errorf("%w: %d labels, more than %d", ErrInvalidPullRequest, len(p.Labels), maxLabelCount)
	}
	for _, l := range p.Labels {
		if err := validLabel(l); err != nil {
			return err
		}
	}
	return nil
}

func validTitle(title string) error {
	switch {
	case strings.TrimSpace(title) == "":
		return fmt.Errorf("%w: empty title", ErrInvalidPullRequest)
	case !utf8.ValidString(title):
		return fmt.Errorf("%w: title is not valid UTF-8", ErrInvalidPullRequest)
	case utf8.RuneCountInString(title) > maxTitle:
		return fmt.Errorf("%w: title is longer than %d characters", ErrInvalidPullRequest, maxTitle)
	case strings.IndexFunc(title, isUnsafe) >= 0:
		return fmt.Errorf("%w: title %q has a control character or line break", ErrInvalidPullRequest, bounded(title, 64))
	}
	return nil
}

func validBody(body string) error {
	switch {
	case !utf8.ValidString(body):
		return fmt.Errorf("%w: body is not valid UTF-8", ErrInvalidPullRequest)
	case len(body) > maxBody:
		return fmt.Errorf("%w: body is over %d bytes", ErrInvalidPullRequest, maxBody)
	case strings.IndexFunc(body, func(r rune) bool { return r != '\n' && r != '\t' && isUnsafe(r) }) >= 0:
		return fmt.Errorf("%w: body has a control character", ErrInvalidPullRequest)
	}
	return nil
}

func validLabel(l string) error {
	switch {
	case strings.TrimSpace(l) == "" || strings.TrimSpace(l) != l:
		return fmt.Errorf("%w: label %q is empty or has surrounding spaces", ErrInvalidPullRequest, l)
	case !utf8.ValidString(l) || utf8.RuneCountInString(l) > maxLabel:
		return fmt.Errorf("%w: label %q is not UTF-8 or longer than %d characters", ErrInvalidPullRequest, bounded(l, 64), maxLabel)
	case strings.ContainsRune(l, ','):
		return fmt.Errorf("%w: label %q has a comma", ErrInvalidPullRequest, l)
	case strings.IndexFunc(l, isUnsafe) >= 0:
		return fmt.Errorf("%w: label %q has a control character", ErrInvalidPullRequest, l)
	}
	return nil
}

// isUnsafe reports a control or invisible formatting character (a
// bidirectional override, say): what must not reach a title, a label or a
// log line.
func isUnsafe(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// PromotionBranch returns the head branch of the promotions into target
// (an environment such as "staging"), one per application when app is
// not empty: "converge/promote/staging" or "converge/promote/staging/web".
// It refuses names that do not make a valid branch.
func PromotionBranch(target, app string) (string, error) {
	if target == "" || strings.Contains(target, "/") || strings.Contains(app, "/") {
		return "", fmt.Errorf("%w: promotion target %q and application %q must be non-empty single path components", ErrInvalidPullRequest, bounded(target, 64), bounded(app, 64))
	}
	name := "converge/promote/" + target
	if app != "" {
		name += "/" + app
	}
	if err := validForgeBranch(name); err != nil {
		return "", err
	}
	return name, nil
}

// PullAction says what [PullRequester.Ensure] did.
type PullAction string

// Actions of Ensure.
const (
	PullOpened    PullAction = "opened"
	PullUpdated   PullAction = "updated"
	PullUnchanged PullAction = "unchanged"
)

// String returns the action's name.
func (a PullAction) String() string { return string(a) }

// PullResult is the outcome of [PullRequester.Ensure].
type PullResult struct {
	PullRequest PullRequest
	Action      PullAction
}

// CheckSummary is the combined outcome of a commit's checks.
type CheckSummary struct {
	// SHA is the commit the checks were read from: pass it to
	// [MergeOptions] to merge only that commit.
	SHA string
	// State is CheckFailure when any check failed, CheckPending when any
	// check (or a required one that has not reported) is still to come,
	// else CheckSuccess; no checks and none required is a success.
	State  CheckState
	Checks []Check
	// Missing are the required checks that have not reported.
	Missing []string
}

// SummarizeChecks combines checks, each name counted once (the first, which
// forges list as the latest), and the names of the checks that must
// report.
func SummarizeChecks(sha string, checks []Check, required []string) CheckSummary {
	s := CheckSummary{SHA: sha, State: CheckSuccess}
	seen := map[string]bool{}
	for _, c := range checks {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		s.Checks = append(s.Checks, c)
		switch c.State {
		case CheckFailure:
			s.State = CheckFailure
		case CheckSuccess:
		default:
			if s.State != CheckFailure {
				s.State = CheckPending
			}
		}
	}
	for _, name := range required {
		if !seen[name] && !slices.Contains(s.Missing, name) {
			s.Missing = append(s.Missing, name)
			if s.State != CheckFailure {
				s.State = CheckPending
			}
		}
	}
	return s
}

// PullWaitOptions are the settings of [PullRequester.WaitChecks] and
// [PullRequester.WaitMerged].
type PullWaitOptions struct {
	// Interval is the time between two reads of the forge; below one
	// second it is one second.
	Interval time.Duration
	// Required names checks that must report success: without them, a
	// commit none of whose checks has reported yet counts as passed.
	Required []string
}

// DefaultPullWaitOptions polls every 15 seconds and requires no check by
// name.
func DefaultPullWaitOptions() PullWaitOptions { return PullWaitOptions{Interval: 15 * time.Second} }

// PullRequester opens and updates the pull request of a promotion on a
// [Forge], waits for its checks or its merge, and merges it. It holds no
// state of its own (the forge is the record), so it is safe for
// concurrent use and a restarted host picks up where it left off.
type PullRequester struct {
	forge Forge
	// minInterval is one second; tests lower it.
	minInterval time.Duration
}

// NewPullRequester returns a PullRequester over forge.
func NewPullRequester(forge Forge) *PullRequester {
	return &PullRequester{forge: forge, minInterval: time.Second}
}

// Ensure makes the forge show p: it opens a pull request from p.Head
// into p.Base when none is open, and otherwise updates the open one's
// title and body where they differ and adds the labels it lacks. Ensure
// is idempotent: a second run with the same p changes nothing and
// reports PullUnchanged, one with a new title or body updates the same
// pull request, never opening a second. When another run opens the pull
// request between Ensure's look and its open, Ensure updates that one.
func (r *PullRequester) Ensure(ctx context.Context, p PullRequestSpec) (PullResult, error) {
	if err := p.Validate(); err != nil {
		return PullResult{}, err
	}
	pr, found, err := r.forge.FindPullRequest(ctx, p.Head, p.Base)
	if err != nil {
		return PullResult{}, err
	}
	if !found {
		pr, err = r.forge.OpenPullRequest(ctx, p)
		if err == nil {
			return PullResult{PullRequest: pr, Action: PullOpened}, nil
		}
		if !errors.Is(err, ErrForgeRejected) {
			return PullResult{}, err
		}
		// Opened concurrently ("already exists")? Then update that one.
		var findErr error
		pr, found, findErr = r.forge.FindPullRequest(ctx, p.Head, p.Base)
		if findErr != nil || !found {
			return PullResult{}, err
		}
	}
	action := PullUnchanged
	if pr.Title != p.Title || normalizeBody(pr.Body) != normalizeBody(p.Body) {
		if pr, err = r.forge.UpdatePullRequest(ctx, pr.Number, p.Title, p.Body); err != nil {
			return PullResult{}, err
		}
		action = PullUpdated
	}
	var missing []string
	for _, l := range p.Labels {
		if !slices.Contains(pr.Labels, l) && !slices.Contains(missing, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		if err := r.forge.AddLabels(ctx, pr.Number, missing); err != nil {
			return PullResult{}, err
		}
		pr.Labels = append(slices.Clone(pr.Labels), missing...)
		action = PullUpdated
	}
	return PullResult{PullRequest: pr, Action: action}, nil
}

// normalizeBody hides what forges change in a body they store: CRLF line
// ends and trailing white space.
func normalizeBody(s string) string {
	return strings.TrimRightFunc(strings.ReplaceAll(s, "\r\n", "\n"), unicode.IsSpace)
}

// Checks reads the checks on pull request number's current head.
func (r *PullRequester) Checks(ctx context.Context, number int, required []string) (CheckSummary, error) {
	pr, err := r.forge.PullRequest(ctx, number)
	if err != nil {
		return CheckSummary{}, err
	}
	checks, err := r.forge.Checks(ctx, pr.HeadSHA)
	if err != nil {
		return CheckSummary{}, err
	}
	return SummarizeChecks(pr.HeadSHA, checks, required), nil
}

// WaitChecks polls pull request number until its head's checks have all
// passed, and returns them. It fails with [ErrChecksFailed] (and the
// summary) when one fails, with [ErrPullRequestClosed] when the pull
// request is closed unmerged, and with ctx's error when ctx ends first.
// A push to the head branch while waiting restarts the wait on the new
// commit's checks. A merged pull request ends the wait with its last
// summary.
func (r *PullRequester) WaitChecks(ctx context.Context, number int, opts PullWaitOptions) (CheckSummary, error) {
	var last CheckSummary
	err := r.poll(ctx, opts.Interval, func() (bool, error) {
		pr, err := r.forge.PullRequest(ctx, number)
		if err != nil {
			return false, err
		}
		if pr.State == PullClosed {
			return false, fmt.Errorf("pull request %d: %w", number, ErrPullRequestClosed)
		}
		checks, err := r.forge.Checks(ctx, pr.HeadSHA)
		if err != nil {
			return false, err
		}
		last = SummarizeChecks(pr.HeadSHA, checks, opts.Required)
		switch {
		case last.State == CheckFailure:
			return false, fmt.Errorf("pull request %d at %s: %w: %s", number, shortSHA(pr.HeadSHA), ErrChecksFailed, failedNames(last))
		case last.State == CheckSuccess, pr.State == PullMerged:
			return true, nil
		}
		return false, nil
	})
	return last, err
}

// WaitMerged polls pull request number until it is merged (by a person,
// a merge queue or auto-merge), and returns it. It fails with
// [ErrPullRequestClosed] when it is closed unmerged, and with ctx's
// error when ctx ends first. opts.Required is not used.
func (r *PullRequester) WaitMerged(ctx context.Context, number int, opts PullWaitOptions) (PullRequest, error) {
	var last PullRequest
	err := r.poll(ctx, opts.Interval, func() (bool, error) {
		pr, err := r.forge.PullRequest(ctx, number)
		if err != nil {
			return false, err
		}
		last = pr
		switch pr.State {
		case PullMerged:
			return true, nil
		case PullClosed:
			return false, fmt.Errorf("pull request %d: %w", number, ErrPullRequestClosed)
		}
		return false, nil
	})
	return last, err
}

// Merge merges pull request number and returns it as merged. A pull
// request merged already is returned as it is (Merge is idempotent); one
// closed fails with [ErrPullRequestClosed]. Set opts.SHA to the
// [CheckSummary.SHA] that passed to merge nothing else.
func (r *PullRequester) Merge(ctx context.Context, number int, opts MergeOptions) (PullRequest, error) {
	pr, err := r.forge.PullRequest(ctx, number)
	if err != nil {
		return PullRequest{}, err
	}
	switch pr.State {
	case PullMerged:
		return pr, nil
	case PullClosed:
		return pr, fmt.Errorf("pull request %d: %w", number, ErrPullRequestClosed)
	}
	if err := r.forge.Merge(ctx, number, opts); err != nil {
		return pr, err
	}
	after, err := r.forge.PullRequest(ctx, number)
	if err != nil {
		return pr, err
	}
	return after, nil
}

// poll calls step every interval until it is done or fails, or ctx ends.
func (r *PullRequester) poll(ctx context.Context, interval time.Duration, step func() (bool, error)) error {
	interval = max(interval, r.minInterval)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		done, err := step()
		if err != nil || done {
			return err
		}
		t.Reset(interval)
	}
}

func failedNames(s CheckSummary) string {
	var names []string
	for _, c := range s.Checks {
		if c.State == CheckFailure {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
