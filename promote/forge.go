package promote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Forge is the part of a Git forge's API a [PullRequester] drives: pull
// requests (merge requests on GitLab) of one repository, their labels,
// the checks reported on their head commit, and merging. [Gitea],
// [GitHub] and [GitLab] implement it over their REST APIs; a host with
// another forge implements it itself.
//
// Implementations must be safe for concurrent use, must refuse a branch
// name that could be read as an option or a path (see
// [PullRequestSpec.Validate]) with [ErrInvalidPullRequest] before sending
// anything, and should fail with a
// [*ForgeError] wrapping one of the ErrForge sentinels, whose text never
// shows the token.
type Forge interface {
	// FindPullRequest returns the open pull request from the branch head
	// of this repository (not a fork's) into base. found is false, with
	// no error, when there is none; closed and merged pull requests are
	// never returned.
	FindPullRequest(ctx context.Context, head, base string) (pr PullRequest, found bool, err error)
	// OpenPullRequest opens a pull request from p.Head into p.Base with
	// p's title, body and labels.
	OpenPullRequest(ctx context.Context, p PullRequestSpec) (PullRequest, error)
	// UpdatePullRequest sets the title and body of pull request number.
	UpdatePullRequest(ctx context.Context, number int, title, body string) (PullRequest, error)
	// AddLabels adds labels to pull request number, creating those the
	// repository does not have yet; labels it already carries stay, none
	// is removed.
	AddLabels(ctx context.Context, number int, labels []string) error
	// PullRequest reads pull request number.
	PullRequest(ctx context.Context, number int) (PullRequest, error)
	// Checks returns the latest commit status or check run of each name
	// reported on the commit sha (a full or abbreviated hex object name),
	// all pages of them.
	Checks(ctx context.Context, sha string) ([]Check, error)
	// Merge merges pull request number. With opts.SHA set, the forge
	// merges only while the pull request's head is that commit.
	Merge(ctx context.Context, number int, opts MergeOptions) error
}

// Sentinel errors of a [Forge], for errors.Is. The forges' own failures
// come inside a [*ForgeError].
var (
	// ErrInvalidPullRequest: a branch name, title, body, label, number or
	// commit was refused before any request was sent.
	ErrInvalidPullRequest = errors.New("invalid pull request")
	// ErrForgeUnauthorized: the forge refused the token (401, or 403
	// without a rate limit).
	ErrForgeUnauthorized = errors.New("forge refused the credentials")
	// ErrForgeNotFound: the forge does not know the repository, pull
	// request or commit (404, 410), or the token may not see it.
	ErrForgeNotFound = errors.New("not found on the forge")
	// ErrForgeRejected: the forge refused the request (400, 405, 406,
	// 409, 412, 422): a pull request that already exists, a branch that does
	// not, a pull request that cannot be merged, a head that moved.
	ErrForgeRejected = errors.New("forge rejected the request")
	// ErrForgeRateLimited: the forge's rate limit is spent (429, or 403
	// with no requests remaining or a Retry-After, GitHub's secondary
	// limit).
	ErrForgeRateLimited = errors.New("forge rate limit exceeded")
	// ErrForgeBadResponse: the forge answered with something that is not
	// its API (an HTML page, a body that is not JSON or is over 8 MiB, a
	// redirect to another host, a server error) or paginated without end.
	ErrForgeBadResponse = errors.New("bad forge response")
	// ErrChecksFailed: a check on the pull request's head failed.
	ErrChecksFailed = errors.New("checks failed")
	// ErrPullRequestClosed: the pull request was closed without being
	// merged.
	ErrPullRequestClosed = errors.New("pull request closed without merging")
)

// ForgeError is the failure of one forge operation: Op ("open pull
// request") on Repo of Forge ("gitea", "github", "gitlab"). Its text
// never shows the token, and Message is a bounded excerpt of the forge's
// answer with control characters removed.
type ForgeError struct {
	Forge string
	Op    string
	Repo  string
	// Status is the HTTP status of the answer, 0 when there was none.
	Status int
	// Kind is one of the ErrForge sentinels, or nil for a failure to
	// reach the forge at all (then Err says why).
	Kind error
	// Message is what the forge said: its JSON "message" and "errors"
	// flattened, or an excerpt of a body that is not JSON.
	Message string
	Err     error

	token string
}

// Error implements error.
func (e *ForgeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Forge)
	if e.Repo != "" {
		b.WriteString(" " + e.Repo)
	}
	b.WriteString(": " + e.Op)
	if e.Kind != nil {
		b.WriteString(": " + e.Kind.Error())
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return redact(b.String(), e.token)
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As.
func (e *ForgeError) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// redact replaces every occurrence of token in s with "***".
func redact(s, token string) string {
	if len(token) < minSecret {
		return s
	}
	return strings.ReplaceAll(s, token, "***")
}

// Defaults of the forge clients.
const (
	// DefaultForgeTimeout bounds one forge operation, all its pages
	// included, on top of its context's deadline.
	DefaultForgeTimeout = time.Minute
	// DefaultForgeMaxPages bounds the pages one listing reads; a
	// pagination longer than this fails with [ErrForgeBadResponse].
	DefaultForgeMaxPages = 100
	// maxForgeBody bounds one answer's body.
	maxForgeBody = 8 << 20
	// maxExcerpt bounds the forge's words quoted in an error.
	maxExcerpt = 300
)

// ForgeOption configures a [Gitea], [GitHub] or [GitLab] client.
type ForgeOption func(*forgeConfig)

type forgeConfig struct {
	client   *http.Client
	insecure bool
	maxPages int
	timeout  time.Duration
}

// WithForgeHTTPClient sets the HTTP client (its transport, proxy and TLS
// settings). The client is copied: its redirect policy is replaced by one
// that refuses to follow a redirect to another host, so the token is only
// ever sent to the forge. The default is a client like
// http.DefaultClient.
func WithForgeHTTPClient(c *http.Client) ForgeOption {
	return func(f *forgeConfig) {
		if c != nil {
			f.client = c
		}
	}
}

// WithForgeInsecure allows a plain http:// base URL, a loopback test
// server's for instance. Without it, only https:// is accepted: the token
// would otherwise cross the network in clear text.
func WithForgeInsecure() ForgeOption { return func(f *forgeConfig) { f.insecure = true } }

// WithForgeMaxPages bounds the pages one listing reads
// ([DefaultForgeMaxPages]); n < 1 is ignored.
func WithForgeMaxPages(n int) ForgeOption {
	return func(f *forgeConfig) {
		if n > 0 {
			f.maxPages = n
		}
	}
}

// WithForgeTimeout bounds each operation ([DefaultForgeTimeout]); d <= 0
// is ignored.
func WithForgeTimeout(d time.Duration) ForgeOption {
	return func(f *forgeConfig) {
		if d > 0 {
			f.timeout = d
		}
	}
}

// validForgeBranch refuses a branch name that git would refuse (git
// check-ref-format) or that could be misread where it ends up: as an
// option (-f), in a shell (main;rm), as a path (../x), or in a log line
// (control characters). Only ASCII letters, digits and . _ - / + are
// allowed.
func validForgeBranch(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: branch name %q %s", ErrInvalidPullRequest, bounded(name, 64), why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: empty branch name", ErrInvalidPullRequest)
	case len(name) > 255:
		return bad("is longer than 255 bytes")
	case name[0] == '-':
		return bad("starts with '-'")
	case name[0] == '/' || name[len(name)-1] == '/':
		return bad("starts or ends with '/'")
	case name[len(name)-1] == '.':
		return bad("ends with '.'")
	case strings.Contains(name, ".."):
		return bad("contains '..'")
	case strings.Contains(name, "//"):
		return bad("contains '//'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-', c == '/', c == '+':
		case c < 0x20 || c == 0x7f:
			return bad("contains a control character")
		default:
			return bad(fmt.Sprintf("contains %q (allowed: letters, digits and . _ - / +)", rune(c)))
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return bad("has a component starting with '.'")
		}
		if strings.HasSuffix(part, ".lock") {
			return bad("has a component ending with .lock")
		}
	}
	return nil
}

// validSHA refuses anything but a hex object name of 7 to 64 digits.
func validSHA(sha string) error {
	if len(sha) < 7 || len(sha) > 64 {
		return fmt.Errorf("%w: commit %q is not a 7 to 64 digit hex object name", ErrInvalidPullRequest, bounded(sha, 64))
	}
	for i := 0; i < len(sha); i++ {
		c := sha[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return fmt.Errorf("%w: commit %q is not a hex object name", ErrInvalidPullRequest, bounded(sha, 64))
		}
	}
	return nil
}

// validNumber refuses a pull request number below 1.
func validNumber(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: pull request number %d", ErrInvalidPullRequest, n)
	}
	return nil
}

// bounded cuts s to at most n bytes (on a rune boundary), marking the cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
