package promote_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// Bad input for the forge clients, each of the three: branch names and
// pull request contents refused before a request is sent, constructor
// arguments refused, and hostile answers (401, 404, 422, HTML, huge or
// malformed bodies, endless or looping pagination, redirects to another
// host) turned into typed errors that never show the token.

const hostileToken = "tok-4f8e2a1c9b7d6e5f3a2b1c0d9e8f7a6b"

// forgeKinds builds each forge's client against base.
var forgeKinds = map[string]func(base string, opts ...promote.ForgeOption) (promote.Forge, error){
	"gitea": func(base string, opts ...promote.ForgeOption) (promote.Forge, error) {
		return promote.NewGitea(base, "acme/deploy", hostileToken, append(opts, promote.WithForgeInsecure())...)
	},
	"github": func(base string, opts ...promote.ForgeOption) (promote.Forge, error) {
		return promote.NewGitHub(base, "acme/deploy", hostileToken, append(opts, promote.WithForgeInsecure())...)
	},
	"gitlab": func(base string, opts ...promote.ForgeOption) (promote.Forge, error) {
		return promote.NewGitLab(base, "acme/deploy", hostileToken, append(opts, promote.WithForgeInsecure())...)
	},
}

// countingServer answers every request with h and counts them.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

var badBranches = map[string]string{
	"option":            "-f",
	"option long":       "--force",
	"shell":             "main;rm",
	"shell subst":       "$(id)",
	"parent":            "../x",
	"inner parent":      "a/../x",
	"absolute":          "/etc",
	"trailing slash":    "a/",
	"double slash":      "a//b",
	"dot component":     "a/.x",
	"lock":              "main.lock",
	"trailing dot":      "main.",
	"nul":               "a\x00b",
	"newline":           "main\nrm",
	"escape":            "main\x1b[31m",
	"del":               "main\x7f",
	"space":             "a b",
	"tilde":             "a~1",
	"caret":             "a^",
	"colon":             "a:b",
	"glob":              "a*",
	"backslash":         `a\b`,
	"reflog":            "a@{1}",
	"non-ascii":         "mäin",
	"bidi override":     "main\u202e",
	"empty":             "",
	"longer than 255 B": strings.Repeat("a", 256),
}

// TestForgeRefusesBadBranches: every forge refuses each bad branch name
// with ErrInvalidPullRequest before sending anything, as head or base,
// and quotes it escaped.
func TestForgeRefusesBadBranches(t *testing.T) {
	for kind, newForge := range forgeKinds {
		srv, requests := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "must not be called", http.StatusTeapot)
		})
		f, err := newForge(srv.URL)
		require.NoError(t, err)
		for reason, name := range badBranches {
			t.Run(kind+"/"+reason, func(t *testing.T) {
				ctx := context.Background()
				_, _, err := f.FindPullRequest(ctx, name, "main")
				assertInvalid(t, err)
				_, _, err = f.FindPullRequest(ctx, "converge/promote/staging", name)
				assertInvalid(t, err)
				_, err = f.OpenPullRequest(ctx, promote.PullRequestSpec{Head: name, Base: "main", Title: "t"})
				assertInvalid(t, err)
				_, err = f.OpenPullRequest(ctx, promote.PullRequestSpec{Head: "converge/promote/staging", Base: name, Title: "t"})
				assertInvalid(t, err)
			})
		}
		assert.Zero(t, requests.Load(), "%s sent a request for a refused name", kind)
	}
}

func assertInvalid(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, promote.ErrInvalidPullRequest)
	assert.False(t, strings.ContainsFunc(err.Error(), unicode.IsControl), "control character in %q", err.Error())
}

// TestForgeRefusesBadArguments: numbers, commits, labels, titles,
// bodies and merge methods a forge would misread are refused before a
// request.
func TestForgeRefusesBadArguments(t *testing.T) {
	ctx := context.Background()
	for kind, newForge := range forgeKinds {
		srv, requests := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "must not be called", http.StatusTeapot)
		})
		f, err := newForge(srv.URL)
		require.NoError(t, err)
		for name, call := range map[string]func() error{
			"pull number 0":      func() error { _, err := f.PullRequest(ctx, 0); return err },
			"negative number":    func() error { return f.Merge(ctx, -1, promote.MergeOptions{}) },
			"commit not hex":     func() error { _, err := f.Checks(ctx, "../../admin"); return err },
			"commit too short":   func() error { _, err := f.Checks(ctx, "abc"); return err },
			"merge pin not hex":  func() error { return f.Merge(ctx, 1, promote.MergeOptions{SHA: "main;rm -rf"}) },
			"merge method":       func() error { return f.Merge(ctx, 1, promote.MergeOptions{Method: "fast-forward; drop"}) },
			"label with comma":   func() error { return f.AddLabels(ctx, 1, []string{"a,b"}) },
			"label with newline": func() error { return f.AddLabels(ctx, 1, []string{"a\nb"}) },
			"title with newline": func() error { _, err := f.UpdatePullRequest(ctx, 1, "a\nb", ""); return err },
			"body with escape":   func() error { _, err := f.UpdatePullRequest(ctx, 1, "t", "a\x1b[2Jb"); return err },
		} {
			t.Run(kind+"/"+name, func(t *testing.T) { assertInvalid(t, call()) })
		}
		assert.Zero(t, requests.Load(), "%s sent a refused request", kind)
	}
}

// TestPullRequestSpecValidate: what a pull request may say.
func TestPullRequestSpecValidate(t *testing.T) {
	ok := promote.PullRequestSpec{Head: "converge/promote/staging/web", Base: "main", Title: "Promote web 1.4.3 to staging",
		Body: "Promotes web.\n\n| a | b |\n\t- tabbed\n", Labels: []string{"promotion", "env/staging", "größe"}}
	require.NoError(t, ok.Validate())
	for name, tc := range map[string]struct {
		reason string
		edit   func(p *promote.PullRequestSpec)
	}{
		"same branches":    {"a pull request into its own head", func(p *promote.PullRequestSpec) { p.Base = p.Head }},
		"empty title":      {"forges refuse it", func(p *promote.PullRequestSpec) { p.Title = "  " }},
		"multi-line title": {"a title is one line", func(p *promote.PullRequestSpec) { p.Title = "a\nb" }},
		"bidi title":       {"an override hides what the title says", func(p *promote.PullRequestSpec) { p.Title = "safe\u202egnp.exe" }},
		"long title":       {"GitLab's 255", func(p *promote.PullRequestSpec) { p.Title = strings.Repeat("é", 256) }},
		"invalid UTF-8":    {"not text", func(p *promote.PullRequestSpec) { p.Body = "a\xffb" }},
		"body control":     {"a terminal escape", func(p *promote.PullRequestSpec) { p.Body = "a\x1b]8;;x\x07b" }},
		"body too long":    {"GitHub's 65,536", func(p *promote.PullRequestSpec) { p.Body = strings.Repeat("a", 60_001) }},
		"label comma":      {"GitLab's separator", func(p *promote.PullRequestSpec) { p.Labels = []string{"a,b"} }},
		"label spaces":     {"forges trim them", func(p *promote.PullRequestSpec) { p.Labels = []string{" a"} }},
		"label empty":      {"nothing to add", func(p *promote.PullRequestSpec) { p.Labels = []string{""} }},
		"label too long":   {"GitHub's 50", func(p *promote.PullRequestSpec) { p.Labels = []string{strings.Repeat("l", 51)} }},
		"too many labels": {"a bound", func(p *promote.PullRequestSpec) {
			p.Labels = nil
			for i := range 21 {
				p.Labels = append(p.Labels, "l"+strconv.Itoa(i))
			}
		}},
		"bad head": {"see TestForgeRefusesBadBranches", func(p *promote.PullRequestSpec) { p.Head = "-f" }},
	} {
		t.Run(name, func(t *testing.T) {
			p := ok
			p.Labels = append([]string(nil), ok.Labels...)
			tc.edit(&p)
			assert.ErrorIs(t, p.Validate(), promote.ErrInvalidPullRequest, tc.reason)
		})
	}
}

// TestPromotionBranch: one branch per target and application, refusing
// what would not make one.
func TestPromotionBranch(t *testing.T) {
	b, err := promote.PromotionBranch("staging", "")
	require.NoError(t, err)
	assert.Equal(t, "converge/promote/staging", b)
	b, err = promote.PromotionBranch("prod", "web")
	require.NoError(t, err)
	assert.Equal(t, "converge/promote/prod/web", b)
	for _, bad := range [][2]string{{"", "web"}, {"a/b", ""}, {"prod", "x/y"}, {"..", ""}, {"prod;rm", ""}, {"prod\n", ""}} {
		_, err := promote.PromotionBranch(bad[0], bad[1])
		assert.ErrorIs(t, err, promote.ErrInvalidPullRequest, "%q %q", bad[0], bad[1])
	}
}

// TestForgeNewRefuses: base URLs that would leak the token, and
// repositories and tokens that are not what they should be.
func TestForgeNewRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		reason string
		new    func() error
	}{
		"plain http": {"the token would cross the network in clear", func() error {
			_, err := promote.NewGitHub("http://ghe.example/api/v3", "acme/deploy", hostileToken)
			return err
		}},
		"credentials in URL": {"the token goes in a header", func() error {
			_, err := promote.NewGitea("https://user:pw@gitea.example", "acme/deploy", hostileToken)
			return err
		}},
		"query": {"no place for one", func() error {
			_, err := promote.NewGitLab("https://gitlab.example?x=1", "acme/deploy", hostileToken)
			return err
		}},
		"not a URL": {"relative", func() error { _, err := promote.NewGitea("gitea.example", "acme/deploy", hostileToken); return err }},
		"empty token": {"nothing to send", func() error {
			_, err := promote.NewGitHub("", "acme/deploy", "")
			return err
		}},
		"token with newline": {"header injection", func() error {
			_, err := promote.NewGitHub("", "acme/deploy", "tok\r\nX-Evil: 1")
			return err
		}},
		"repo path":   {"one owner, one name", func() error { _, err := promote.NewGitHub("", "acme/deploy/x", hostileToken); return err }},
		"repo parent": {"a path", func() error { _, err := promote.NewGitea("https://g.example", "../deploy", hostileToken); return err }},
		"repo option": {"an option", func() error {
			_, err := promote.NewGitea("https://g.example", "-acme/deploy", hostileToken)
			return err
		}},
		"project alone":   {"GitLab needs a namespace", func() error { _, err := promote.NewGitLab("", "deploy", hostileToken); return err }},
		"project zero":    {"no such id", func() error { _, err := promote.NewGitLab("", "0", hostileToken); return err }},
		"project escaped": {"an encoded slash is not a path", func() error { _, err := promote.NewGitLab("", "acme%2Fx/y", hostileToken); return err }},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.new()
			require.Error(t, err, tc.reason)
			assert.NotContains(t, err.Error(), hostileToken)
		})
	}
	_, err := promote.NewGitLab("", "12345", hostileToken)
	assert.NoError(t, err, "a numeric project id")
}

// TestForgeBadAnswers: each forge, each hostile answer, the same typed
// error; the forge's words are bounded and sanitized, and the token it
// echoes is never shown.
func TestForgeBadAnswers(t *testing.T) {
	huge := strings.Repeat("x", 9<<20)
	for name, tc := range map[string]struct {
		status int
		ctype  string
		body   string
		kind   error
		says   string
	}{
		"401 echoing the token": {401, "application/json", `{"message":"bad token ` + hostileToken + `"}`, promote.ErrForgeUnauthorized, "bad token ***"},
		"404":                   {404, "application/json", `{"message":"Not Found"}`, promote.ErrForgeNotFound, "Not Found"},
		"422 nested errors":     {422, "application/json", `{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"base","code":"invalid"},"plain"]}`, promote.ErrForgeRejected, "Validation Failed: PullRequest base invalid; plain"},
		"422 escape sequences":  {422, "application/json", `{"message":"\u001b[2Jgone\u202e"}`, promote.ErrForgeRejected, "[2Jgone"},
		"HTML 200":              {200, "text/html", "<html><head><title>Log in\r\n" + hostileToken + "</title></head></html>", promote.ErrForgeBadResponse, "an HTML page (Log in ***)"},
		"HTML no content type":  {200, "", "  <!doctype html><p>proxy", promote.ErrForgeBadResponse, "an HTML page"},
		"HTML 503":              {503, "text/html", "<title>Maintenance</title>", promote.ErrForgeBadResponse, "an HTML page (Maintenance)"},
		"10 KB of text":         {500, "text/plain", strings.Repeat("line\n", 2048), promote.ErrForgeBadResponse, "line line"},
		"not JSON":              {200, "application/json", `{"number":`, promote.ErrForgeBadResponse, "not the API's JSON"},
		"wrong JSON":            {200, "application/json", `["a list"]`, promote.ErrForgeBadResponse, "not the API's JSON"},
		"empty":                 {200, "application/json", ``, promote.ErrForgeBadResponse, "empty answer"},
		"no number":             {200, "application/json", `{}`, promote.ErrForgeBadResponse, "no pull request number"},
		"over 8 MiB":            {200, "application/json", huge, promote.ErrForgeBadResponse, "over 8 MiB"},
	} {
		for kind, newForge := range forgeKinds {
			t.Run(name+"/"+kind, func(t *testing.T) {
				srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
					if tc.ctype != "" {
						w.Header().Set("Content-Type", tc.ctype)
					}
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
				})
				f, err := newForge(srv.URL)
				require.NoError(t, err)
				_, err = f.PullRequest(context.Background(), 7)
				require.ErrorIs(t, err, tc.kind)
				var fe *promote.ForgeError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, kind, fe.Forge)
				text := err.Error()
				assert.Contains(t, text, tc.says)
				assert.NotContains(t, text, hostileToken)
				assert.NotContains(t, fe.Message, hostileToken)
				assert.Less(t, len(text), 600, "unbounded: %d bytes", len(text))
				assert.False(t, strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }), "%q", text)
			})
		}
	}
}

// TestForgePaginationBounded: a forge whose listing never ends is read
// for at most the page limit, one that loops back or sends the client to
// another host is refused, and the other host never sees the token.
func TestForgePaginationBounded(t *testing.T) {
	sha := "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81"
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)

	// next says what the page after r is: a Link header (GitHub, Gitea)
	// or X-Next-Page (GitLab).
	for name, tc := range map[string]struct {
		next     func(w http.ResponseWriter, r *http.Request, base string)
		requests int64
		says     string
	}{
		"endless": {
			next: func(w http.ResponseWriter, r *http.Request, base string) {
				page, _ := strconv.Atoi(r.URL.Query().Get("page"))
				page = max(page, 1) + 1
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=%d>; rel="next", <%s%s?page=%d>; rel="last"`, base, r.URL.Path, page, base, r.URL.Path, page+1))
				w.Header().Set("X-Next-Page", strconv.Itoa(page))
			},
			requests: 5, says: "pagination did not end after 5 pages",
		},
		"loop": {
			next: func(w http.ResponseWriter, r *http.Request, base string) {
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=1>; rel="next"`, base, r.URL.Path))
				w.Header().Set("X-Next-Page", "1")
			},
			requests: 2, says: "", // the first page, then its page 1 once
		},
		"other host": {
			next: func(w http.ResponseWriter, r *http.Request, base string) {
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?page=2>; rel="next"`, other.URL, r.URL.Path))
				w.Header().Set("X-Next-Page", "2")
			},
			says: "",
		},
	} {
		for kind, newForge := range forgeKinds {
			t.Run(name+"/"+kind, func(t *testing.T) {
				var srv *httptest.Server
				srv, requests := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
					tc.next(w, r, srv.URL)
					w.Header().Set("Content-Type", "application/json")
					if strings.HasSuffix(r.URL.Path, "/statuses") {
						_, _ = w.Write([]byte(`[{"name":"x","status":"success"}]`))
					} else {
						_, _ = w.Write([]byte(`{"state":"success","statuses":[{"context":"x","state":"success","status":"success"}]}`))
					}
				})
				f, err := newForge(srv.URL, promote.WithForgeMaxPages(5))
				require.NoError(t, err)
				_, err = f.Checks(context.Background(), sha)
				if name == "other host" && kind == "gitea" {
					// Gitea's links carry its ROOT_URL's host: only their
					// page number is used, on the configured host.
					require.ErrorIs(t, err, promote.ErrForgeBadResponse)
					assert.Contains(t, err.Error(), "loops back")
					return
				}
				require.ErrorIs(t, err, promote.ErrForgeBadResponse)
				assert.Contains(t, err.Error(), tc.says)
				switch {
				case name == "endless":
					assert.Equal(t, tc.requests, requests.Load(), "exactly the page limit")
				case tc.requests > 0:
					assert.LessOrEqual(t, requests.Load(), tc.requests)
				}
				assert.NotContains(t, err.Error(), hostileToken)
			})
		}
	}
	assert.Zero(t, elsewhere.Load(), "a request went to another host")
}

// TestForgeRedirectToOtherHost: a redirect away from the forge's host is
// not followed, so the token is never sent there.
func TestForgeRedirectToOtherHost(t *testing.T) {
	var leaked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Add(1) }))
	t.Cleanup(other.Close)
	for kind, newForge := range forgeKinds {
		t.Run(kind, func(t *testing.T) {
			srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			})
			f, err := newForge(srv.URL)
			require.NoError(t, err)
			_, err = f.PullRequest(context.Background(), 1)
			require.ErrorIs(t, err, promote.ErrForgeBadResponse)
			assert.Contains(t, err.Error(), "refused a redirect to another host")
		})
	}
	assert.Zero(t, leaked.Load())
}
