package promote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"github.com/converge-dev/converge/promote"
)

// roundTripFunc answers requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzForgeResponse feeds any answer (status, Content-Type, Link and
// X-Next-Page headers, body) to each forge client's listing, reading and
// checks calls, and asserts what the clients promise of a hostile forge:
// no panic; a failure is a *ForgeError wrapping one of the ErrForge
// sentinels; its text never shows the token (which the fuzzer may echo),
// has no control or invisible formatting character, and is bounded; a
// listing reads at most the page limit; a pull request read is one with
// a number.
func FuzzForgeResponse(f *testing.F) {
	const token = "fuzz-token-9f8e7d6c5b4a39281706"
	f.Add(uint8(0), uint16(200), "application/json", "", "", []byte(`[{"number":1,"head":{"ref":"converge/promote/staging","sha":"aaaaaaa"},"base":{"ref":"main"},"state":"open"}]`))
	f.Add(uint8(1), uint16(200), "application/json", `<http://forge.test/x?page=2>; rel="next"`, "", []byte(`[]`))
	f.Add(uint8(2), uint16(200), "application/json", "", "2", []byte(`[]`))
	f.Add(uint8(2), uint16(200), "application/json", "", "-1", []byte(`{"iid":0}`))
	f.Add(uint8(0), uint16(401), "application/json", "", "", []byte(`{"message":"bad `+token+`"}`))
	f.Add(uint8(1), uint16(422), "application/json", "", "", []byte(`{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"\u001b[2J\u202e`+token+`"}]}`))
	f.Add(uint8(2), uint16(400), "application/json", "", "", []byte(`{"message":{"title":[[[[[["deep"]]]]]],"x":{"y":{"z":{"w":"v"}}}}}`))
	f.Add(uint8(0), uint16(200), "text/html", "", "", []byte("<html><title>\x00"+token+"\xff</title>"))
	f.Add(uint8(1), uint16(502), "", "", "", []byte(strings.Repeat("<p>", 5000)))
	f.Add(uint8(1), uint16(200), "application/json", `<http://forge.test/repos/acme/deploy/pulls?page=1>; rel="next"`, "", []byte(`[]`))
	f.Add(uint8(0), uint16(200), "application/json", `<://bad>; rel="next", <`, "", []byte(`[]`))
	f.Add(uint8(2), uint16(429), "text/plain", "", "", []byte("Retry later\n"))
	f.Add(uint8(1), uint16(200), "application/json", "", "", []byte(`{"number":42,"state":"closed","merged":true}`))
	// Found by the fuzzer: invalid UTF-8 before an HTML title once moved
	// the title's index past its end.
	f.Add(uint8(2), uint16(214), "teXt/html", "", "0", []byte("000\xf70<title>"))
	f.Fuzz(func(t *testing.T, which uint8, status uint16, ctype, link, nextPage string, body []byte) {
		if status < 100 || status > 599 || (status >= 300 && status < 400) {
			status = 200 // the client's own redirect handling is tested elsewhere
		}
		var requests atomic.Int64
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			h := http.Header{}
			if ctype != "" {
				h.Set("Content-Type", ctype)
			}
			if link != "" {
				h.Set("Link", link)
			}
			if nextPage != "" {
				h.Set("X-Next-Page", nextPage)
			}
			return &http.Response{StatusCode: int(status), Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		const maxPages = 4
		opts := []promote.ForgeOption{promote.WithForgeHTTPClient(client), promote.WithForgeInsecure(), promote.WithForgeMaxPages(maxPages)}
		var forge promote.Forge
		var err error
		switch which % 3 {
		case 0:
			forge, err = promote.NewGitea("http://forge.test", "acme/deploy", token, opts...)
		case 1:
			forge, err = promote.NewGitHub("http://forge.test", "acme/deploy", token, opts...)
		default:
			forge, err = promote.NewGitLab("http://forge.test", "acme/deploy", token, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		check := func(op string, err error) {
			if err == nil {
				return
			}
			var fe *promote.ForgeError
			if !errors.As(err, &fe) {
				t.Fatalf("%s: %T is not a *ForgeError: %v", op, err, err)
			}
			if !errors.Is(err, promote.ErrForgeUnauthorized) && !errors.Is(err, promote.ErrForgeNotFound) &&
				!errors.Is(err, promote.ErrForgeRejected) && !errors.Is(err, promote.ErrForgeRateLimited) &&
				!errors.Is(err, promote.ErrForgeBadResponse) {
				t.Fatalf("%s: no ErrForge sentinel in %v", op, err)
			}
			text := err.Error()
			switch {
			case strings.Contains(text, token) || strings.Contains(fe.Message, token):
				t.Fatalf("%s: the token is in %q", op, text)
			case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
				t.Fatalf("%s: control character in %q", op, text)
			case len(text) > 1200:
				t.Fatalf("%s: %d bytes of error text", op, len(text))
			}
		}

		requests.Store(0)
		_, _, err = forge.FindPullRequest(ctx, "converge/promote/staging", "main")
		check("find", err)
		if n := requests.Load(); n > maxPages {
			t.Fatalf("find read %d pages, more than %d", n, maxPages)
		}
		requests.Store(0)
		_, err = forge.Checks(ctx, "8f3a1c0e5d9b2a7f4e6c1b0d3a5f7e9c2b4d6a81")
		check("checks", err)
		if n := requests.Load(); n > 2*maxPages { // GitHub reads statuses, then check runs
			t.Fatalf("checks read %d pages, more than %d", n, 2*maxPages)
		}
		pr, err := forge.PullRequest(ctx, 42)
		check("read", err)
		if err == nil && pr.Number < 1 {
			t.Fatalf("read returned a pull request without a number: %+v", pr)
		}
	})
}
