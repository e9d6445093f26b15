package promote

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// GitHub is a [Forge] over GitHub's REST API (v3, API version
// 2022-11-28), for one repository on github.com or GitHub Enterprise
// Server. It sends the token (a personal access token, fine-grained or
// classic, or an installation token) as a bearer token, reads the
// commit's statuses and its check runs (GitHub Actions reports those),
// and follows the Link header from page to page.
type GitHub struct {
	api         *forgeAPI
	owner, name string
}

var _ Forge = (*GitHub)(nil)

// DefaultGitHubURL is GitHub's API root.
const DefaultGitHubURL = "https://api.github.com"

// NewGitHub returns a client for the repository "owner/name" with
// token, which needs read and write access to pull requests and issues
// and read access to commit statuses and checks. baseURL is the API root:
// "" for github.com ([DefaultGitHubURL]), "https://HOST/api/v3" for
// GitHub Enterprise Server.
func NewGitHub(baseURL, repo, token string, opts ...ForgeOption) (*GitHub, error) {
	owner, name, err := splitOwnerRepo("github", repo)
	if err != nil {
		return nil, err
	}
	if baseURL == "" {
		baseURL = DefaultGitHubURL
	}
	api, err := newForgeAPI("github", repo, baseURL, "", token, opts)
	if err != nil {
		return nil, err
	}
	api.auth = func(h http.Header) { h.Set("Authorization", "Bearer "+token) }
	api.header.Set("Accept", "application/vnd.github+json")
	api.header.Set("X-GitHub-Api-Version", "2022-11-28")
	api.next = linkNext
	return &GitHub{api: api, owner: owner, name: name}, nil
}

// githubPull is the part of GitHub's pull request object converge reads.
type githubPull struct {
	Number   int     `json:"number"`
	HTMLURL  string  `json:"html_url"`
	Title    string  `json:"title"`
	Body     *string `json:"body"`
	State    string  `json:"state"`
	Merged   bool    `json:"merged"`
	MergedAt *string `json:"merged_at"`
	Labels   []struct {
		Name string `json:"name"`
	} `json:"labels"`
	Head githubRef `json:"head"`
	Base githubRef `json:"base"`
}

type githubRef struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo *struct {
		FullName string `json:"full_name"`
	} `json:"repo"`
}

func (p githubPull) pullRequest() PullRequest {
	out := PullRequest{
		Number: p.Number, URL: p.HTMLURL, Title: p.Title,
		Head: p.Head.Ref, Base: p.Base.Ref, HeadSHA: p.Head.SHA, State: PullOpen,
	}
	if p.Body != nil {
		out.Body = *p.Body
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.Name)
	}
	switch {
	case p.Merged || p.MergedAt != nil:
		out.State = PullMerged
	case p.State == "closed":
		out.State = PullClosed
	}
	return out
}

func (g *GitHub) repoPath() string {
	return "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.name)
}

// FindPullRequest implements [Forge] with the pulls listing filtered by
// head ("owner:branch") and base, all pages.
func (g *GitHub) FindPullRequest(ctx context.Context, head, base string) (PullRequest, bool, error) {
	const op = "find pull request"
	if err := validBranches(head, base); err != nil {
		return PullRequest{}, false, err
	}
	q := url.Values{"state": {"open"}, "head": {g.owner + ":" + head}, "base": {base}, "per_page": {"100"}}
	var found *githubPull
	err := g.api.pages(ctx, op, g.repoPath()+"/pulls", q, func(data []byte) (bool, error) {
		var page []githubPull
		if err := g.api.decode(op, data, &page); err != nil {
			return false, err
		}
		for i, p := range page {
			// The filter is GitHub's; check it, and that the head is
			// this repository's and not a fork's of the same name.
			if p.Head.Ref == head && p.Base.Ref == base && p.State == "open" &&
				p.Head.Repo != nil && strings.EqualFold(p.Head.Repo.FullName, g.owner+"/"+g.name) {
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

// OpenPullRequest implements [Forge]: it creates the pull request, then
// adds the labels (GitHub creates labels it does not know).
func (g *GitHub) OpenPullRequest(ctx context.Context, p PullRequestSpec) (PullRequest, error) {
	if err := p.Validate(); err != nil {
		return PullRequest{}, err
	}
	var out githubPull
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
func (g *GitHub) UpdatePullRequest(ctx context.Context, number int, title, body string) (PullRequest, error) {
	if err := validEdit(number, title, body); err != nil {
		return PullRequest{}, err
	}
	var out githubPull
	in := map[string]string{"title": title, "body": body}
	if err := g.api.call(ctx, "update pull request", http.MethodPatch, g.repoPath()+"/pulls/"+itoa(number), nil, in, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("update pull request", out.pullRequest())
}

// AddLabels implements [Forge] through the issue labels endpoint.
func (g *GitHub) AddLabels(ctx context.Context, number int, labels []string) error {
	if err := validLabels(number, labels); err != nil {
		return err
	}
	if len(labels) == 0 {
		return nil
	}
	in := map[string][]string{"labels": labels}
	return g.api.call(ctx, "add labels", http.MethodPost, g.repoPath()+"/issues/"+itoa(number)+"/labels", nil, in, nil)
}

// PullRequest implements [Forge].
func (g *GitHub) PullRequest(ctx context.Context, number int) (PullRequest, error) {
	if err := validNumber(number); err != nil {
		return PullRequest{}, err
	}
	var out githubPull
	if err := g.api.call(ctx, "read pull request", http.MethodGet, g.repoPath()+"/pulls/"+itoa(number), nil, nil, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("read pull request", out.pullRequest())
}

// Checks implements [Forge]: the commit's combined status (the latest
// status of each context) and its check runs (the latest of each name),
// all pages of both.
func (g *GitHub) Checks(ctx context.Context, sha string) ([]Check, error) {
	if err := validSHA(sha); err != nil {
		return nil, err
	}
	var checks []Check
	commit := g.repoPath() + "/commits/" + url.PathEscape(sha)
	const statusOp = "read commit statuses"
	err := g.api.pages(ctx, statusOp, commit+"/status", url.Values{"per_page": {"100"}}, func(data []byte) (bool, error) {
		var page struct {
			Statuses []struct {
				State       string `json:"state"`
				Context     string `json:"context"`
				TargetURL   string `json:"target_url"`
				Description string `json:"description"`
			} `json:"statuses"`
		}
		if err := g.api.decode(statusOp, data, &page); err != nil {
			return false, err
		}
		for _, s := range page.Statuses {
			checks = append(checks, Check{Name: s.Context, State: githubStatusState(s.State), URL: s.TargetURL, Description: s.Description})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	const runsOp = "read check runs"
	err = g.api.pages(ctx, runsOp, commit+"/check-runs", url.Values{"per_page": {"100"}, "filter": {"latest"}}, func(data []byte) (bool, error) {
		var page struct {
			CheckRuns []struct {
				Name       string  `json:"name"`
				Status     string  `json:"status"`
				Conclusion *string `json:"conclusion"`
				HTMLURL    string  `json:"html_url"`
				Output     struct {
					Title *string `json:"title"`
				} `json:"output"`
			} `json:"check_runs"`
		}
		if err := g.api.decode(runsOp, data, &page); err != nil {
			return false, err
		}
		for _, r := range page.CheckRuns {
			c := Check{Name: r.Name, State: githubRunState(r.Status, r.Conclusion), URL: r.HTMLURL}
			if r.Output.Title != nil {
				c.Description = *r.Output.Title
			}
			checks = append(checks, c)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return checks, nil
}

func githubStatusState(s string) CheckState {
	switch s {
	case "success":
		return CheckSuccess
	case "failure", "error":
		return CheckFailure
	default:
		return CheckPending
	}
}

func githubRunState(status string, conclusion *string) CheckState {
	if status != "completed" || conclusion == nil {
		return CheckPending
	}
	switch *conclusion {
	case "success", "neutral", "skipped":
		return CheckSuccess
	default: // failure, cancelled, timed_out, action_required, stale
		return CheckFailure
	}
}

// Merge implements [Forge]. GitHub answers 405 when the pull request
// cannot be merged (yet) and 409 when opts.SHA is no longer its head,
// both [ErrForgeRejected].
func (g *GitHub) Merge(ctx context.Context, number int, opts MergeOptions) error {
	if err := validMerge(number, opts); err != nil {
		return err
	}
	in := map[string]string{"merge_method": string(MergeCommit)}
	if opts.Method != "" {
		in["merge_method"] = string(opts.Method)
	}
	if opts.SHA != "" {
		in["sha"] = opts.SHA
	}
	var out struct {
		Merged  bool   `json:"merged"`
		Message string `json:"message"`
	}
	const op = "merge pull request"
	if err := g.api.call(ctx, op, http.MethodPut, g.repoPath()+"/pulls/"+itoa(number)+"/merge", nil, in, &out); err != nil {
		return err
	}
	if !out.Merged {
		return g.api.fail(op, http.StatusOK, ErrForgeRejected, bounded(sanitize(out.Message), maxExcerpt), nil)
	}
	return nil
}
