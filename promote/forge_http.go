package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// forgeAPI is the HTTP client all three forges share: JSON in and out,
// bounded bodies, typed errors, pagination and the token in a header.
type forgeAPI struct {
	forge    string // "gitea", "github", "gitlab"
	repo     string // for error texts
	root     string // API root, no trailing slash
	host     string // scheme://host of root: pages and redirects stay there
	token    string
	auth     func(h http.Header) // sets the token's header
	header   http.Header         // fixed headers (Accept, API version)
	client   *http.Client
	timeout  time.Duration
	maxPages int
	// next returns the URL of the page after cur's, "" at the end.
	next func(resp *http.Response, cur *url.URL) (string, error)
}

// newForgeAPI checks base (an absolute http(s) URL without credentials,
// query or fragment) and token, and returns a client for the API under
// base+apiPath.
func newForgeAPI(forge, repo, base, apiPath, token string, opts []ForgeOption) (*forgeAPI, error) {
	cfg := forgeConfig{maxPages: DefaultForgeMaxPages, timeout: DefaultForgeTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%s: base URL: %w", forge, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, fmt.Errorf("%s: base URL %q is not an absolute http(s) URL", forge, bounded(base, 200))
	case u.Scheme == "http" && !cfg.insecure:
		return nil, fmt.Errorf("%s: base URL %s is plain http; use https, or WithForgeInsecure for a test server", forge, u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("%s: base URL must not carry credentials; pass the token instead", forge)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%s: base URL %s must not have a query or fragment", forge, u.Redacted())
	}
	if len(token) < minSecret {
		return nil, fmt.Errorf("%s: empty or too short token", forge)
	}
	for _, r := range token {
		if r <= ' ' || r == 0x7f || r > '~' {
			return nil, fmt.Errorf("%s: token has spaces, control or non-ASCII characters", forge)
		}
	}
	client := &http.Client{}
	if cfg.client != nil {
		c := *cfg.client
		client = &c
	}
	a := &forgeAPI{
		forge: forge, repo: repo, token: token,
		root:     strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/") + apiPath,
		host:     u.Scheme + "://" + u.Host,
		header:   http.Header{},
		client:   client,
		timeout:  cfg.timeout,
		maxPages: cfg.maxPages,
	}
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return fmt.Errorf("%w: stopped after 5 redirects", errRedirect)
		}
		if req.URL.Scheme+"://"+req.URL.Host != a.host {
			return fmt.Errorf("%w to another host (%s)", errRedirect, bounded(sanitize(req.URL.Host), 100))
		}
		return nil
	}
	return a, nil
}

// errRedirect marks a redirect the client refused to follow.
var errRedirect = errors.New("refused a redirect")

// fail makes the error of op. msg is redacted here, so that not even the
// Message field holds the token.
func (a *forgeAPI) fail(op string, status int, kind error, msg string, err error) *ForgeError {
	return &ForgeError{Forge: a.forge, Op: op, Repo: a.repo, Status: status, Kind: kind, Message: redact(msg, a.token), Err: err, token: a.token}
}

// checkPull refuses a pull request answer without a number (an empty
// object, another API's JSON that happened to decode).
func (a *forgeAPI) checkPull(op string, pr PullRequest) (PullRequest, error) {
	if pr.Number < 1 {
		return PullRequest{}, a.fail(op, 0, ErrForgeBadResponse, "answer has no pull request number", nil)
	}
	return pr, nil
}

// url returns the API URL of path (its parts already escaped) with query.
func (a *forgeAPI) url(path string, query url.Values) (*url.URL, error) {
	u, err := url.Parse(a.root + path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPullRequest, err)
	}
	u.RawQuery = query.Encode()
	return u, nil
}

// call sends method to path with in (when not nil) as JSON, and decodes a
// 2xx answer into out (when not nil).
func (a *forgeAPI) call(ctx context.Context, op, method, path string, query url.Values, in, out any) error {
	u, err := a.url(path, query)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, data, err := a.send(ctx, op, method, u, in)
	if err != nil {
		return err
	}
	return a.decode(op, data, out)
}

// send does one request and returns a 2xx answer's headers and body.
func (a *forgeAPI) send(ctx context.Context, op, method string, u *url.URL, in any) (*http.Response, []byte, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, nil, a.fail(op, 0, nil, "", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, a.fail(op, 0, nil, "", err)
	}
	req.Header = a.header.Clone()
	req.Header.Set("Accept", firstNonEmpty(req.Header.Get("Accept"), "application/json"))
	req.Header.Set("User-Agent", "converge-promote")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a.auth(req.Header)
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if errors.Is(err, errRedirect) {
			return nil, nil, a.fail(op, 0, ErrForgeBadResponse, "", err)
		}
		return nil, nil, a.fail(op, 0, nil, "", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxForgeBody+1))
	if err != nil {
		return nil, nil, a.fail(op, resp.StatusCode, nil, "", fmt.Errorf("read answer: %w", err))
	}
	if len(data) > maxForgeBody {
		return nil, nil, a.fail(op, resp.StatusCode, ErrForgeBadResponse, fmt.Sprintf("answer is over %d MiB", maxForgeBody>>20), nil)
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, a.fail(op, resp.StatusCode, statusKind(resp), answerMessage(resp, data, a.token), nil)
	}
	if isHTML(resp, data) {
		return nil, nil, a.fail(op, resp.StatusCode, ErrForgeBadResponse, "answered "+answerMessage(resp, data, a.token)+", not the API's JSON", nil)
	}
	return resp, data, nil
}

// decode decodes a JSON answer into out (when not nil); an empty answer
// where one was expected is a bad response.
func (a *forgeAPI) decode(op string, data []byte, out any) error {
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return a.fail(op, 0, ErrForgeBadResponse, "empty answer", nil)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return a.fail(op, 0, ErrForgeBadResponse, "answer is not the API's JSON", err)
	}
	return nil
}

// pages reads the pages of a listing from path, passing each body to
// page until it returns true (stop) or the pages end. It refuses more
// than maxPages pages, a next page seen before or on another host.
func (a *forgeAPI) pages(ctx context.Context, op, path string, query url.Values, page func(data []byte) (stop bool, err error)) error {
	u, err := a.url(path, query)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n == a.maxPages {
			return a.fail(op, 0, ErrForgeBadResponse, fmt.Sprintf("pagination did not end after %d pages", a.maxPages), nil)
		}
		seen[u.String()] = true
		resp, data, err := a.send(ctx, op, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		stop, err := page(data)
		if err != nil || stop {
			return err
		}
		next, err := a.next(resp, u)
		if err != nil {
			return a.fail(op, resp.StatusCode, ErrForgeBadResponse, "", err)
		}
		if next == "" {
			return nil
		}
		nu, err := u.Parse(next)
		switch {
		case err != nil:
			return a.fail(op, resp.StatusCode, ErrForgeBadResponse, "next page: "+bounded(sanitize(next), 200), nil)
		case nu.Scheme+"://"+nu.Host != a.host:
			return a.fail(op, resp.StatusCode, ErrForgeBadResponse, "next page is on another host ("+bounded(sanitize(nu.Host), 100)+")", nil)
		case seen[nu.String()]:
			return a.fail(op, resp.StatusCode, ErrForgeBadResponse, "pagination loops back to a page it read", nil)
		}
		u = nu
	}
}

// linkNext reads the rel="next" URL of an RFC 8288 Link header, as GitHub
// and Gitea send it.
func linkNext(resp *http.Response, _ *url.URL) (string, error) {
	for _, h := range resp.Header.Values("Link") {
		for len(h) > 0 {
			start := strings.IndexByte(h, '<')
			end := strings.IndexByte(h, '>')
			if start < 0 || end < start {
				return "", fmt.Errorf("malformed Link header")
			}
			target := h[start+1 : end]
			h = h[end+1:]
			params := h
			if i := strings.IndexByte(h, '<'); i >= 0 {
				params, h = h[:i], h[i:]
			} else {
				h = ""
			}
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(p), ",")), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
					for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
						if strings.EqualFold(rel, "next") {
							return target, nil
						}
					}
				}
			}
		}
	}
	return "", nil
}

// pageNext reads the page number of the Link header's rel="next" URL and
// returns the current URL with that page. Gitea builds its links from its
// configured ROOT_URL, which need not be the address the client uses
// (a proxy, an internal name), so only the page number is taken from it,
// and the token never leaves the configured host.
func pageNext(resp *http.Response, cur *url.URL) (string, error) {
	next, err := linkNext(resp, cur)
	if err != nil || next == "" {
		return "", err
	}
	nu, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("malformed next page URL")
	}
	n, err := strconv.Atoi(nu.Query().Get("page"))
	if err != nil || n < 1 {
		return "", fmt.Errorf("next page URL has no page number")
	}
	q := cur.Query()
	q.Set("page", strconv.Itoa(n))
	u := *cur
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// statusKind maps an HTTP status to a sentinel.
func statusKind(resp *http.Response) error {
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests,
		s == http.StatusForbidden && (resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""):
		return ErrForgeRateLimited
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return ErrForgeUnauthorized
	case s == http.StatusNotFound, s == http.StatusGone:
		return ErrForgeNotFound
	case s == http.StatusBadRequest, s == http.StatusMethodNotAllowed, s == http.StatusConflict,
		s == http.StatusNotAcceptable, s == http.StatusPreconditionFailed, s == http.StatusUnprocessableEntity:
		return ErrForgeRejected
	default:
		return ErrForgeBadResponse
	}
}

// isHTML tells an HTML page (a login page, a proxy's error) from JSON.
func isHTML(resp *http.Response, data []byte) bool {
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "text/html") {
		return true
	}
	trimmed := bytes.TrimSpace(data)
	return len(trimmed) > 0 && trimmed[0] == '<'
}

// answerMessage says what an answer said, sanitized, with token
// redacted before it is cut to a bounded excerpt (so no prefix of the
// token survives a cut): the API's JSON message and errors, "an HTML
// page" (with its title), or an excerpt of other text.
func answerMessage(resp *http.Response, data []byte, token string) string {
	excerpt := func(s string, n int) string { return bounded(redact(sanitize(redact(s, token)), token), n) }
	if isHTML(resp, data) {
		msg := "an HTML page"
		if title := htmlTitle(data); title != "" {
			msg += " (" + excerpt(title, 100) + ")"
		}
		return msg
	}
	var v struct {
		Message json.RawMessage   `json:"message"`
		Error   json.RawMessage   `json:"error"`
		Errors  []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &v); err == nil {
		var parts []string
		for _, raw := range []json.RawMessage{v.Message, v.Error} {
			if s := flattenJSON(raw, 0); s != "" {
				parts = append(parts, s)
			}
		}
		var details []string
		for _, raw := range v.Errors {
			if s := flattenJSON(raw, 0); s != "" {
				details = append(details, s)
			}
		}
		if len(details) > 0 {
			parts = append(parts, strings.Join(details, "; "))
		}
		if len(parts) > 0 {
			return excerpt(strings.Join(parts, ": "), maxExcerpt)
		}
	}
	return excerpt(string(data), maxExcerpt)
}

// flattenJSON renders a JSON message (a string, a list, an object of
// field errors, GitHub's {"resource","field","code","message"}) as text.
func flattenJSON(raw json.RawMessage, depth int) string {
	if len(raw) == 0 || depth > 4 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, item := range list {
			if s := flattenJSON(item, depth+1); s != "" {
				out = append(out, s)
			}
		}
		return strings.Join(out, "; ")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if m := flattenJSON(obj["message"], depth+1); m != "" {
			return m
		}
		if _, ok := obj["code"]; ok {
			var parts []string
			for _, k := range []string{"resource", "field", "code"} {
				if s := flattenJSON(obj[k], depth+1); s != "" {
					parts = append(parts, s)
				}
			}
			return strings.Join(parts, " ")
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			if s := flattenJSON(obj[k], depth+1); s != "" {
				out = append(out, k+" "+s)
			}
		}
		return strings.Join(out, "; ")
	}
	return string(raw)
}

// htmlTitle returns the raw text of an HTML page's <title> (at most 200
// bytes of it when the tag is not closed); the caller sanitizes it.
func htmlTitle(data []byte) string {
	// ASCII case folding keeps every byte where it was, so indexes into
	// lower are indexes into data (bytes.ToLower would turn invalid
	// UTF-8 into longer replacement characters).
	lower := asciiLower(data)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	start := i + len("<title>")
	j := bytes.Index(lower[start:], []byte("</title>"))
	if j < 0 {
		j = min(len(data)-start, 200)
	}
	return string(data[start : start+j])
}

func asciiLower(data []byte) []byte {
	out := make([]byte, len(data))
	for i, c := range data {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// sanitize makes text safe to quote in an error: invalid UTF-8 and
// control characters become spaces, runs of spaces collapse.
func sanitize(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s) && b.Len() < 4*maxExcerpt; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) ||
			unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// itoa is strconv.Itoa, for building paths.
func itoa(n int) string { return strconv.Itoa(n) }
