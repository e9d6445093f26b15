package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Error is a failed measurement: the metric, the URL and why. Its text
// never holds a header value, an OAuth2 client secret or the answer's
// body.
type Error struct {
	// Metric is the metric's name.
	Metric string
	// URL is the request's URL without user info or query.
	URL string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	if e.URL == "" {
		return fmt.Sprintf("web metric %q: %v", e.Metric, e.Err)
	}
	return fmt.Sprintf("web metric %q at %s: %v", e.Metric, e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// scrub returns err unchanged when its text holds no secret; otherwise an
// error whose text has each secret replaced, which still matches its
// cause's sentinels with errors.Is but no longer unwraps to it.
func scrub(err error, secrets []string) error {
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
