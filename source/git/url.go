package git

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// ErrInvalidURL reports a repository URL that converge refuses.
var ErrInvalidURL = errors.New("invalid repository URL")

// URLError reports why a URL was refused. Its text never contains the URL's
// credentials: only the redacted form is kept.
type URLError struct {
	URL    string // redacted
	Reason string
}

func (e *URLError) Error() string {
	if e.URL == "" {
		return fmt.Sprintf("%s: %s", ErrInvalidURL, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s", ErrInvalidURL, e.URL, e.Reason)
}

// Unwrap returns [ErrInvalidURL].
func (e *URLError) Unwrap() error { return ErrInvalidURL }

// scpLike matches "user@host:path" and "host:path", Git's SCP-like SSH
// syntax.
// plain is what a printable SCP-like address or local path may hold.
var plain = regexp.MustCompile(`^[A-Za-z0-9._~/@:+=-]*$`)

var scpLike = regexp.MustCompile(`^(?:([^@/:]+)@)?([^@/:]+):(.*)$`)

// ParseURL validates a repository URL and returns it in URL form
// (SCP-like "git@host:org/repo.git" becomes "ssh://git@host/org/repo.git").
// It accepts the schemes https, http and ssh, and file only when allowFile
// is set. It refuses what could be read as a command-line option by git or
// ssh (a URL, user, host or path starting with "-", "--upload-pack=" and
// the like), control characters and white space, passwords, queries and
// fragments (credentials belong in options, not URLs), and a missing host.
func ParseURL(raw string, allowFile bool) (*url.URL, error) {
	fail := func(reason string) (*url.URL, error) {
		return nil, &URLError{URL: Redact(raw), Reason: reason}
	}
	switch {
	case raw == "":
		return fail("empty")
	case len(raw) > 4096:
		return fail("longer than 4096 bytes")
	case strings.HasPrefix(raw, "-"):
		return fail("starts with '-'")
	case strings.Contains(raw, "--upload-pack") || strings.Contains(raw, "--receive-pack") ||
		strings.Contains(raw, "--config") || strings.Contains(raw, "-oProxyCommand"):
		return fail("contains a command-line option")
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return fail("contains white space or a control character")
		}
	}
	if !strings.Contains(raw, "://") {
		if strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, ".") {
			if !allowFile {
				return fail("local paths are not allowed")
			}
			if strings.ContainsAny(raw, "?#") {
				return fail("query or fragment")
			}
			return &url.URL{Scheme: "file", Path: raw}, nil
		}
		m := scpLike.FindStringSubmatch(raw)
		if m == nil {
			return fail("neither a URL nor user@host:path")
		}
		raw = "ssh://" + m[1] + "@" + m[2] + "/" + strings.TrimPrefix(m[3], "/")
		if m[1] == "" {
			raw = "ssh://" + m[2] + "/" + strings.TrimPrefix(m[3], "/")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail("malformed") // url.Parse quotes the input, which may hold secrets
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https", "http", "ssh":
	case "file":
		if !allowFile {
			return fail("scheme file is not allowed")
		}
	default:
		return fail(fmt.Sprintf("scheme %q is not allowed (https, http, ssh)", truncate(u.Scheme, 16)))
	}
	u.Scheme = scheme
	if _, set := u.User.Password(); set {
		return fail("credentials in the URL; pass them as options")
	}
	if u.User != nil && scheme != "ssh" {
		return fail("user name in an http URL; pass credentials as options")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fail("query or fragment")
	}
	if u.User != nil && (u.User.Username() == "" || strings.HasPrefix(u.User.Username(), "-")) {
		return fail("bad user name")
	}
	host := u.Hostname()
	if scheme != "file" {
		if host == "" {
			return fail("no host")
		}
		if strings.HasPrefix(host, "-") {
			return fail("host starts with '-'")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fail("bad port")
			}
		}
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if strings.HasPrefix(seg, "-") {
			return fail("path component starts with '-'")
		}
	}
	if scheme != "file" && strings.Trim(u.Path, "/") == "" {
		return fail("no repository path")
	}
	return u, nil
}

// Redact returns a form of a repository URL safe to print: without user
// info other than an SSH user name, query and fragment. A string that does
// not parse is reduced to its scheme or to "<redacted>".
func Redact(raw string) string {
	if !strings.Contains(raw, "://") {
		if !plain.MatchString(raw) {
			return "<redacted>"
		}
		if m := scpLike.FindStringSubmatch(raw); m != nil && !strings.Contains(m[3], "@") {
			return raw
		}
		if strings.HasPrefix(raw, "/") && !strings.Contains(raw, "@") {
			return raw
		}
		return "<redacted>"
	}
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "://"); i > 0 && i < 16 {
			return raw[:i] + "://<redacted>"
		}
		return "<redacted>"
	}
	if u.Scheme == "" || u.Opaque != "" || !plain.MatchString(u.Host) {
		return "<redacted>"
	}
	out := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if strings.Contains(u.Path, "@") || strings.Contains(u.Path, ":") {
		out.Path = "/<redacted>"
	}
	if u.User != nil {
		if _, set := u.User.Password(); !set && u.Scheme == "ssh" {
			out.User = url.User(u.User.Username())
		}
	}
	return out.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
