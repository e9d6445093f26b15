package promote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GitLab is a [Forge] over GitLab's REST API (v4), for one project on
// gitlab.com or a self-managed instance. Pull requests are GitLab's merge
// requests, their numbers its iids. It sends the token (a personal,
// project or group access token) as PRIVATE-TOKEN, reads the commit's
// statuses (pipeline jobs and external statuses alike), and pages with
// X-Next-Page.
type GitLab struct {
	api     *forgeAPI
	project string // escaped project path or id, one path segment
}

var _ Forge = (*GitLab)(nil)

// DefaultGitLabURL is gitlab.com.
const DefaultGitLabURL = "https://gitlab.com"

// NewGitLab returns a client for project (its path, "group/subgroup/name",
// or its numeric id) with token, which needs the api scope (or
// read_api for reading only) and at least the Developer role. baseURL is
// the instance's root: "" for gitlab.com ([DefaultGitLabURL]).
func NewGitLab(baseURL, project, token string, opts ...ForgeOption) (*GitLab, error) {
	if !validProject(project) {
		return nil, fmt.Errorf("gitlab: project %q is not a numeric id or a \"group/name\" path", bounded(project, 100))
	}
	if baseURL == "" {
		baseURL = DefaultGitLabURL
	}
	api, err := newForgeAPI("gitlab", project, baseURL, "/api/v4", token, opts)
	if err != nil {
		return nil, err
	}
	api.auth = func(h http.Header) { h.Set("PRIVATE-TOKEN", token) }
	api.next = gitlabNext
	return &GitLab{api: api, project: url.PathEscape(project)}, nil
}

// validProject accepts a numeric id or a path of two or more components.
func validProject(p string) bool {
	if _, err := strconv.ParseUint(p, 10, 63); err == nil {
		return p != "0"
	}
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 20 {
		return false
	}
	for _, part := range parts {
		if !validPathPart(part) {
			return false
		}
	}
	return true
}

// gitlabNext reads GitLab's X-Next-Page header ("" on the last page),
// refusing a next page that does not come after the current one.
// X-Total-Pages, which GitLab leaves out past 10,000 items, ends the
// listing when it is given and reached.
func gitlabNext(resp *http.Response, cur *url.URL) (string, error) {
	next := strings.TrimSpace(resp.Header.Get("X-Next-Page"))
	if next == "" {
		return "", nil
	}
	n, err := strconv.Atoi(next)
	if err != nil || n < 1 {
		return "", fmt.Errorf("X-Next-Page %q is not a page number", bounded(sanitize(next), 20))
	}
	page := 1
	if p := cur.Query().Get("page"); p != "" {
		page, _ = strconv.Atoi(p)
	}
	if n <= page {
		return "", fmt.Errorf("X-Next-Page %d does not come after page %d", n, page)
	}
	if total, err := strconv.Atoi(resp.Header.Get("X-Total-Pages")); err == nil && n > total {
		return "", nil
	}
	q := cur.Query()
	q.Set("page", strconv.Itoa(n))
	u := *cur
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// gitlabMR is the part of GitLab's merge request object converge reads.
type gitlabMR struct {
	IID             int      `json:"iid"`
	WebURL          string   `json:"web_url"`
	Title           string   `json:"title"`
	Description     *string  `json:"description"`
	State           string   `json:"state"`
	SourceBranch    string   `json:"source_branch"`
	TargetBranch    string   `json:"target_branch"`
	SourceProjectID int64    `json:"source_project_id"`
	TargetProjectID int64    `json:"target_project_id"`
	SHA             string   `json:"sha"`
	Labels          []string `json:"labels"`
}

func (m gitlabMR) pullRequest() PullRequest {
	out := PullRequest{
		Number: m.IID, URL: m.WebURL, Title: m.Title, Labels: m.Labels,
		Head: m.SourceBranch, Base: m.TargetBranch, HeadSHA: m.SHA, State: PullOpen,
	}
	if m.Description != nil {
		out.Body = *m.Description
	}
	switch m.State {
	case "merged":
		out.State = PullMerged
	case "closed":
		out.State = PullClosed
	}
	return out
}

func (g *GitLab) mrPath(iid int) string {
	return "/projects/" + g.project + "/merge_requests/" + itoa(iid)
}

// FindPullRequest implements [Forge] with the merge request listing
// filtered by state, source and target branch, all pages; a merge request
// from a fork is never returned.
func (g *GitLab) FindPullRequest(ctx context.Context, head, base string) (PullRequest, bool, error) {
	const op = "find merge request"
	if err := validBranches(head, base); err != nil {
		return PullRequest{}, false, err
	}
	q := url.Values{"state": {"opened"}, "source_branch": {head}, "target_branch": {base}, "per_page": {"100"}}
	var found *gitlabMR
	err := g.api.pages(ctx, op, "/projects/"+g.project+"/merge_requests", q, func(data []byte) (bool, error) {
		var page []gitlabMR
		if err := g.api.decode(op, data, &page); err != nil {
			return false, err
		}
		for i, m := range page {
			if m.SourceBranch == head && m.TargetBranch == base && m.State == "opened" &&
				m.SourceProjectID == m.TargetProjectID {
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

// OpenPullRequest implements [Forge]: one request, labels included
// (GitLab creates labels it does not know).
func (g *GitLab) OpenPullRequest(ctx context.Context, p PullRequestSpec) (PullRequest, error) {
	if err := p.Validate(); err != nil {
		return PullRequest{}, err
	}
	in := map[string]string{"source_branch": p.Head, "target_branch": p.Base, "title": p.Title, "description": p.Body}
	if len(p.Labels) > 0 {
		in["labels"] = strings.Join(p.Labels, ",")
	}
	var out gitlabMR
	if err := g.api.call(ctx, "open merge request", http.MethodPost, "/projects/"+g.project+"/merge_requests", nil, in, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("open merge request", out.pullRequest())
}

// UpdatePullRequest implements [Forge].
func (g *GitLab) UpdatePullRequest(ctx context.Context, number int, title, body string) (PullRequest, error) {
	if err := validEdit(number, title, body); err != nil {
		return PullRequest{}, err
	}
	var out gitlabMR
	in := map[string]string{"title": title, "description": body}
	if err := g.api.call(ctx, "update merge request", http.MethodPut, g.mrPath(number), nil, in, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("update merge request", out.pullRequest())
}

// AddLabels implements [Forge] with the merge request's add_labels.
func (g *GitLab) AddLabels(ctx context.Context, number int, labels []string) error {
	if err := validLabels(number, labels); err != nil {
		return err
	}
	if len(labels) == 0 {
		return nil
	}
	in := map[string]string{"add_labels": strings.Join(labels, ",")}
	return g.api.call(ctx, "add labels", http.MethodPut, g.mrPath(number), nil, in, nil)
}

// PullRequest implements [Forge].
func (g *GitLab) PullRequest(ctx context.Context, number int) (PullRequest, error) {
	if err := validNumber(number); err != nil {
		return PullRequest{}, err
	}
	var out gitlabMR
	if err := g.api.call(ctx, "read merge request", http.MethodGet, g.mrPath(number), nil, nil, &out); err != nil {
		return PullRequest{}, err
	}
	return g.api.checkPull("read merge request", out.pullRequest())
}

// Checks implements [Forge] with the commit's statuses (the latest of
// each name), all pages.
func (g *GitLab) Checks(ctx context.Context, sha string) ([]Check, error) {
	const op = "read commit statuses"
	if err := validSHA(sha); err != nil {
		return nil, err
	}
	var checks []Check
	path := "/projects/" + g.project + "/repository/commits/" + url.PathEscape(sha) + "/statuses"
	err := g.api.pages(ctx, op, path, url.Values{"per_page": {"100"}}, func(data []byte) (bool, error) {
		var page []struct {
			Name         string  `json:"name"`
			Status       string  `json:"status"`
			TargetURL    *string `json:"target_url"`
			Description  *string `json:"description"`
			AllowFailure bool    `json:"allow_failure"`
		}
		if err := g.api.decode(op, data, &page); err != nil {
			return false, err
		}
		for _, s := range page {
			c := Check{Name: s.Name, State: gitlabState(s.Status, s.AllowFailure)}
			if s.TargetURL != nil {
				c.URL = *s.TargetURL
			}
			if s.Description != nil {
				c.Description = *s.Description
			}
			checks = append(checks, c)
		}
		return false, nil
	})
	return checks, err
}

func gitlabState(status string, allowFailure bool) CheckState {
	switch status {
	case "success", "skipped":
		return CheckSuccess
	case "failed", "canceled":
		if allowFailure {
			return CheckSuccess
		}
		return CheckFailure
	case "manual":
		if allowFailure {
			return CheckSuccess
		}
		return CheckPending
	default: // created, waiting_for_resource, preparing, pending, running, scheduled
		return CheckPending
	}
}

// Merge implements [Forge] by the project's merge method; MergeSquash
// squashes first, MergeRebase is refused (GitLab rebases through the
// project's setting, not per merge). GitLab answers 405 or 422 when the
// merge request cannot be merged and 409 when opts.SHA is no longer its
// head, all [ErrForgeRejected].
func (g *GitLab) Merge(ctx context.Context, number int, opts MergeOptions) error {
	if err := validMerge(number, opts); err != nil {
		return err
	}
	if opts.Method == MergeRebase {
		return fmt.Errorf("%w: gitlab merges by the project's merge method; MergeRebase is not a per-merge choice", ErrInvalidPullRequest)
	}
	in := map[string]any{"squash": opts.Method == MergeSquash}
	if opts.SHA != "" {
		in["sha"] = opts.SHA
	}
	const op = "merge merge request"
	var out gitlabMR
	if err := g.api.call(ctx, op, http.MethodPut, g.mrPath(number)+"/merge", nil, in, &out); err != nil {
		return err
	}
	if out.State != "merged" {
		return g.api.fail(op, http.StatusOK, ErrForgeRejected, "merge request is "+bounded(sanitize(out.State), 32)+", not merged", nil)
	}
	return nil
}
