package promote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Gitea is a [Forge] over Gitea's REST API (/api/v1, Gitea 1.20 and
// later; tested against Gitea v1.26.0), for one repository. It sends the
// token as "Authorization: token ...". Forgejo speaks the same API.
// Listings page by the page number of Gitea's Link header, applied to
// the configured base URL: Gitea writes its links with its ROOT_URL,
// which may name another host than the one the client was given.
type Gitea struct {
	api         *forgeAPI
	owner, name string
	// retryMerge is how long Merge retries Gitea's "try again later",
	// which it answers while it is still checking a new head.
	retryMerge time.Duration
}

var _ Forge = (*Gitea)(nil)

// NewGitea returns a client for the repository "owner/name" on the Gitea
// server at baseURL (its root, such as https://gitea.example.com), with
// an access token that may write the repository's pull requests and
// issues (scopes write:repository and write:issue).
func NewGitea(baseURL, repo, token string, opts ...ForgeOption) (*Gitea, error) {
	owner, name, err := splitOwnerRepo("gitea", repo)
	if err != nil {
		return nil, err
	}
	api, err := newForgeAPI("gitea", repo, baseURL, "/api/v1", token, opts)
	if err != nil {
		return nil, err
	}
	api.auth = func(h http.Header) { h.Set("Authorization", "token "+token) }
	api.next = pageNext
	return &Gitea{api: api, owner: owner, name: name, retryMerge: 30 * time.Second}, nil
}

// giteaPull is the part of Gitea's PullRequest object converge reads.
type giteaPull struct {
	Number  int          `json:"number"`
	HTMLURL string       `json:"html_url"`
	Title   string       `json:"title"`
	Body    string       `json:"body"`
	State   string       `json:"state"`
	Merged  bool         `json:"merged"`
	Labels  []giteaLabel `json:"labels"`
	Head    giteaPullRef `json:"head"`
	Base    giteaPullRef `json:"base"`
}

type giteaPullRef struct {
	Ref    string `json:"ref"`
	SHA    string `json:"sha"`
	RepoID int64  `json:"repo_id"`
}

type giteaLabel struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (p giteaPull) pullRequest() PullRequest {
	out := PullRequest{
		Number: p.Number, URL: p.HTMLURL, Title: p.Title, Body: p.Body,
		Head: p.Head.Ref, Base: p.Base.Ref, HeadSHA: p.Head.SHA, State: PullOpen,
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.Name)
	}
	switch {
	case p.Merged:
		out.State = PullMerged
	case p.State == "closed":
		out.State = PullClosed
	}
	return out
}

func (g *Gitea) repoPath() string {
	return "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.name)
}

// FindPullRequest implements [Forge]: it lists the open pull requests
// into base, all pages, for the one whose head is the branch head of this
// repository.
func (g *Gitea) FindPullRequest(ctx context.Context, head, base string) (PullRequest, bool, error) {
	const op = "find pull request"
	if err := validBranches(head, base); err != nil {
		return PullRequest{}, false, err
	}
	q := url.Values{"state": {"open"}, "base_branch": {base}, "limit": {"50"}}
	var found *giteaPull
	err := g.api.pages(ctx, op, g.repoPath()+"/pulls", q, func(data []byte) (bool, error) {
		var page []giteaPull
		if err := g.api.decode(op, data, &page); err != nil {
			return false, err
		}
		for i, p := range page {
			if p.Head.Ref == head && p.Base.Ref == base && p.Head.RepoID == p.Base.RepoID && p.State == "open" {
				found = &page[i]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil || found == nil {
		return PullRequest{}, false, err
	}
	return found.pullRequest(), true, nil
}

// OpenPullRequest implements [Forge].
func (g *Gitea) OpenPullRequest(ctx context.Context, p PullRequestSpec) (PullRequest, error) {
	if err := p.Validate(); err != nil {
		return PullRequest{}, err
	}
	var out giteaPull
	in := map[string]string{"head": p.Head, "base": p.Base, "title": p.Title, "body": p.Body}
	if err := g.api.call(ctx, "open pull request", http.MethodPost, g.repoPath()+"/pulls", nil, in, &out); err != nil {
		return PullRequest{}, err
	}
	pr, err := g.api.checkPull("open pull request", out.pullRequest())
	if err != nil {
		return PullRequest{}, err
	}
	if len(p.Labels) > 0 {
		if err := g.AddLabels(ctx, pr.Number, p.Labels); err != nil {
			return pr, err
		}
		pr.Labels = append(pr.Labels, p.Labels...)
	}
	return pr, nil
}

// UpdatePullRequest implements [Forge].
func (g *Gitea) UpdatePullRequest(ctx context.Context, number int, title, body string) (PullRequest, error) {
	if err := validEdit(number, title, body); err != nil {
		return PullRequest{}, err
	}
	var out giteaPull
	in := map[string]string{"title": title, "body": body}
	if err := g.api.call(ctx, "update pull request", http.MethodPatch, g.repoPath()+"/pulls/"+itoa(number), nil, in, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("update pull request", out.pullRequest())
}

// AddLabels implements [Forge]. Gitea ignores label names a repository
// does not have, so AddLabels creates the missing ones (grey) first.
func (g *Gitea) AddLabels(ctx context.Context, number int, labels []string) error {
	const op = "add labels"
	if err := validLabels(number, labels); err != nil {
		return err
	}
	if len(labels) == 0 {
		return nil
	}
	add := func() ([]giteaLabel, error) {
		var out []giteaLabel
		in := map[string][]string{"labels": labels}
		err := g.api.call(ctx, op, http.MethodPost, g.repoPath()+"/issues/"+itoa(number)+"/labels", nil, in, &out)
		return out, err
	}
	have, err := add()
	if err != nil {
		return err
	}
	missing := missingLabels(labels, have)
	if len(missing) == 0 {
		return nil
	}
	for _, name := range missing {
		in := map[string]string{"name": name, "color": "#c0c0c0", "description": "added by converge"}
		err := g.api.call(ctx, "create label", http.MethodPost, g.repoPath()+"/labels", nil, in, nil)
		// Created concurrently by another run: fine.
		if err != nil && !errors.Is(err, ErrForgeRejected) {
			return err
		}
	}
	if have, err = add(); err != nil {
		return err
	}
	if missing = missingLabels(labels, have); len(missing) > 0 {
		return g.api.fail(op, 0, ErrForgeRejected, "labels not added: "+strings.Join(missing, ", "), nil)
	}
	return nil
}

func missingLabels(want []string, have []giteaLabel) []string {
	var missing []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(l giteaLabel) bool { return l.Name == w }) {
			missing = append(missing, w)
		}
	}
	return missing
}

// PullRequest implements [Forge].
func (g *Gitea) PullRequest(ctx context.Context, number int) (PullRequest, error) {
	if err := validNumber(number); err != nil {
		return PullRequest{}, err
	}
	var out giteaPull
	if err := g.api.call(ctx, "read pull request", http.MethodGet, g.repoPath()+"/pulls/"+itoa(number), nil, nil, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("read pull request", out.pullRequest())
}

// Checks implements [Forge] with the commit's combined status (the latest
// status of each context), all pages.
func (g *Gitea) Checks(ctx context.Context, sha string) ([]Check, error) {
	const op = "read commit statuses"
	if err := validSHA(sha); err != nil {
		return nil, err
	}
	var checks []Check
	q := url.Values{"limit": {"50"}}
	err := g.api.pages(ctx, op, g.repoPath()+"/commits/"+url.PathEscape(sha)+"/status", q, func(data []byte) (bool, error) {
		var page struct {
			Statuses []struct {
				Status      string `json:"status"`
				Context     string `json:"context"`
				TargetURL   string `json:"target_url"`
				Description string `json:"description"`
			} `json:"statuses"`
		}
		if err := g.api.decode(op, data, &page); err != nil {
			return false, err
		}
		for _, s := range page.Statuses {
			checks = append(checks, Check{Name: s.Context, State: giteaState(s.Status), URL: s.TargetURL, Description: s.Description})
		}
		return false, nil
	})
	return checks, err
}

func giteaState(s string) CheckState {
	switch s {
	case "success", "warning", "skipped":
		return CheckSuccess
	case "failure", "error":
		return CheckFailure
	default:
		return CheckPending
	}
}

// Merge implements [Forge]. While Gitea is still checking whether a new
// head merges ("Please try again later"), Merge retries for up to 30
// seconds.
func (g *Gitea) Merge(ctx context.Context, number int, opts MergeOptions) error {
	const op = "merge pull request"
	if err := validMerge(number, opts); err != nil {
		return err
	}
	do := map[MergeMethod]string{"": "merge", MergeCommit: "merge", MergeSquash: "squash", MergeRebase: "rebase"}[opts.Method]
	in := map[string]any{"do": do}
	if opts.SHA != "" {
		in["head_commit_id"] = opts.SHA
	}
	deadline := time.Now().Add(g.retryMerge)
	for {
		err := g.api.call(ctx, op, http.MethodPost, g.repoPath()+"/pulls/"+itoa(number)+"/merge", nil, in, nil)
		var fe *ForgeError
		if err == nil || !errors.As(err, &fe) || fe.Status != http.StatusMethodNotAllowed ||
			!strings.Contains(fe.Message, "try again later") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// splitOwnerRepo splits "owner/name", refusing anything that is not two
// plain path components.
func splitOwnerRepo(forge, repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !validPathPart(owner) || !validPathPart(name) {
		return "", "", fmt.Errorf("%s: repository %q is not \"owner/name\"", forge, bounded(repo, 100))
	}
	return owner, name, nil
}

// validPathPart accepts one component of a repository path: letters,
// digits, '.', '_' and '-', not "." or "..", not starting with '-'.
func validPathPart(s string) bool {
	if s == "" || s == "." || s == ".." || s[0] == '-' || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// The checks every implementation makes before sending a request.

func validBranches(head, base string) error {
	if err := validForgeBranch(head); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	if err := validForgeBranch(base); err != nil {
		return fmt.Errorf("base: %w", err)
	}
	return nil
}

func validEdit(number int, title, body string) error {
	if err := validNumber(number); err != nil {
		return err
	}
	if err := validTitle(title); err != nil {
		return err
	}
	return validBody(body)
}

func validLabels(number int, labels []string) error {
	if err := validNumber(number); err != nil {
		return err
	}
	for _, l := range labels {
		if err := validLabel(l); err != nil {
			return err
		}
	}
	return nil
}

func validMerge(number int, opts MergeOptions) error {
	if err := validNumber(number); err != nil {
		return err
	}
	switch opts.Method {
	case "", MergeCommit, MergeSquash, MergeRebase:
	default:
		return fmt.Errorf("%w: merge method %q", ErrInvalidPullRequest, bounded(string(opts.Method), 32))
	}
	if opts.SHA != "" {
		return validSHA(opts.SHA)
	}
	return nil
}
