package prometheus

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrResponseTooLarge is returned when an answer is larger than the
// provider's limit ([WithMaxResponseBytes]); the rest is not read.
var ErrResponseTooLarge = errors.New("response exceeds the size limit")

// Error is a failed measurement: the metric, the server and why. Its text
// never holds a header value or an OAuth2 client secret.
type Error struct {
	// Metric is the metric's name.
	Metric string
	// Address is the server's address, without user info.
	Address string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prometheus metric %q", e.Metric)
	if e.Address != "" {
		fmt.Fprintf(&b, " at %s", e.Address)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// redactAddress drops user info and the query from an address for
// errors.
func redactAddress(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "(unparsable address)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// secrets lists the values no error may show: header values (whole, and
// their token-like words, as a server may echo "invalid token X") and
// the OAuth2 client secret.
func (s *Spec) secrets() []string {
	var out []string
	add := func(v string) {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	for _, h := range s.Headers {
		add(h.Value)
		for _, f := range strings.Fields(h.Value) {
			if len(f) >= 8 {
				out = append(out, f)
			}
		}
	}
	add(s.Authentication.OAuth2.ClientSecret)
	return out
}

// scrub returns err unchanged when its text holds no secret; otherwise an
// error whose text has each secret replaced, which still matches the
// sentinels of its cause with errors.Is but no longer unwraps to it.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	clean := text
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == text {
		return err
	}
	return &redacted{text: clean, cause: err}
}

type redacted struct {
	text  string
	cause error
}

func (r *redacted) Error() string        { return r.text }
func (r *redacted) Is(target error) bool { return errors.Is(r.cause, target) }

// plainURLError replaces a *url.Error's URL (which may carry a query) by
// the operation alone: `Post: dial tcp ...: connection refused`.
func plainURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
