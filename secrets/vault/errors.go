package vault

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Sentinels callers branch on with errors.Is. A missing secret, property or
// version wraps secrets.ErrNotFound instead.
var (
	// ErrForbidden: Vault refused the token (403: permission denied, an
	// unknown or expired token, or a policy that does not allow the path).
	ErrForbidden = errors.New("permission denied")
	// ErrDeleted: the version asked for (the latest when none was) is
	// soft-deleted; it also wraps secrets.ErrNotFound.
	ErrDeleted = errors.New("deleted")
	// ErrDestroyed: the version asked for is destroyed; it also wraps
	// secrets.ErrNotFound.
	ErrDestroyed = errors.New("destroyed")
	// ErrUnavailable: Vault could not be reached, did not answer in time,
	// or answered 429 or 5xx (sealed, standby, overloaded). A timeout also
	// wraps context.DeadlineExceeded.
	ErrUnavailable = errors.New("vault unavailable")
	// ErrBadResponse: the answer is not Vault's (HTML from a proxy, not
	// JSON, or JSON of another shape).
	ErrBadResponse = errors.New("not a Vault answer")
	// ErrTooLarge: the answer is larger than the bound set by
	// WithMaxResponseBytes.
	ErrTooLarge = errors.New("answer too large")
	// ErrInvalidKey: the key cannot name a KV v2 secret (empty, ".." or
	// "." segments, a bad version); no request was sent.
	ErrInvalidKey = errors.New("invalid key")
)

// Error is the error of every failed call: the Vault address, what was
// done (read, list, login), the key, and why. Its text never holds a
// secret value or a token.
type Error struct {
	// Address is the Vault address the Provider was made with.
	Address string
	// Op is "read", "list" or "login".
	Op string
	// Key is the key (or list prefix, or login mount) as the caller wrote it.
	Key string
	// Status is Vault's HTTP status, 0 when there was no answer.
	Status int
	// Err is the cause; it wraps the sentinels above, secrets.ErrNotFound,
	// or a network or context error.
	Err error
}

// Error reads "vault <address>: <op> "<key>": <cause>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vault ")
	b.WriteString(e.Address)
	b.WriteString(": ")
	b.WriteString(e.Op)
	if e.Key != "" {
		fmt.Fprintf(&b, " %q", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// maxMessage bounds the text taken from a Vault error answer.
const maxMessage = 256

// message turns Vault's "errors" list into one bounded line of printable
// text, with every string in hide replaced, so that an answer that echoes
// a token or a JWT does not carry it into an error.
func message(errs []string, hide []string) string {
	msg := strings.Join(errs, "; ")
	for _, h := range hide {
		if len(h) >= 4 {
			msg = strings.ReplaceAll(msg, h, "[redacted]")
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, msg)
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8Start(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
