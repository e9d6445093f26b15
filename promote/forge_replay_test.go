package promote_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

// A recording is a sequence of exchanges with a forge's REST API, in the
// shapes its documentation gives (testdata/forge/<forge>/*.json). A
// replay server answers each request with the next exchange's response
// after checking that the request is the recorded one: method, escaped
// path, query, JSON body and credentials.

type recording struct {
	Comment   string              `json:"comment"`
	Exchanges []exchange          `json:"exchanges"`
	Cases     map[string]exchange `json:"cases"`
}

type exchange struct {
	Request struct {
		Method string            `json:"method"`
		Path   string            `json:"path"`
		Query  map[string]string `json:"query"`
		Body   json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status   int               `json:"status"`
		Headers  map[string]string `json:"headers"`
		Body     json.RawMessage   `json:"body"`
		BodyText *string           `json:"body_text"`
	} `json:"response"`
}

func loadRecording(t *testing.T, forge, name string) recording {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "forge", forge, name+".json"))
	require.NoError(t, err)
	var r recording
	require.NoError(t, json.Unmarshal(data, &r))
	return r
}

// replay serves exchanges in order. origin is the recorded server's root
// ("https://api.github.com"), replaced by the test server's in response
// headers so that Link pages lead back to it; headers must all be on
// every request (the token among them).
type replay struct {
	t       *testing.T
	srv     *httptest.Server
	origin  string
	headers map[string]string

	mu        sync.Mutex
	exchanges []exchange
	next      int
}

func newReplay(t *testing.T, origin string, headers map[string]string, exchanges ...exchange) *replay {
	t.Helper()
	r := &replay{t: t, origin: origin, headers: headers, exchanges: exchanges}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.next != len(r.exchanges) {
			t.Errorf("replay: %d of %d exchanges were not requested; the next is %s %s",
				len(r.exchanges)-r.next, len(r.exchanges), r.exchanges[r.next].Request.Method, r.exchanges[r.next].Request.Path)
		}
	})
	return r
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body, _ := io.ReadAll(req.Body)
	if r.next >= len(r.exchanges) {
		r.t.Errorf("replay: unexpected request %s %s after the last exchange", req.Method, req.URL.RequestURI())
		http.Error(w, "no more exchanges", http.StatusTeapot)
		return
	}
	ex := r.exchanges[r.next]
	if problem := r.mismatch(ex, req, body); problem != "" {
		r.t.Errorf("replay: exchange %d: %s", r.next, problem)
		http.Error(w, problem, http.StatusTeapot)
		return
	}
	r.next++
	for k, v := range ex.Response.Headers {
		w.Header().Set(k, strings.ReplaceAll(v, r.origin, r.srv.URL))
	}
	w.WriteHeader(ex.Response.Status)
	if ex.Response.BodyText != nil {
		_, _ = io.WriteString(w, *ex.Response.BodyText)
	} else {
		_, _ = w.Write(ex.Response.Body)
	}
}

// mismatch says how req differs from the recorded request, "" if not.
func (r *replay) mismatch(ex exchange, req *http.Request, body []byte) string {
	want := ex.Request
	if req.Method != want.Method || req.URL.EscapedPath() != want.Path {
		return fmt.Sprintf("got %s %s, want %s %s", req.Method, req.URL.EscapedPath(), want.Method, want.Path)
	}
	query := map[string]string{}
	for k, v := range req.URL.Query() {
		if len(v) != 1 {
			return fmt.Sprintf("query %s has %d values", k, len(v))
		}
		query[k] = v[0]
	}
	if want.Query == nil {
		want.Query = map[string]string{}
	}
	if !reflect.DeepEqual(query, want.Query) {
		return fmt.Sprintf("%s %s: query %v, want %v", req.Method, want.Path, query, want.Query)
	}
	for k, v := range r.headers {
		if got := req.Header.Get(k); got != v {
			return fmt.Sprintf("%s %s: header %s is %q, want %q", req.Method, want.Path, k, got, v)
		}
	}
	if want.Body == nil {
		if len(body) != 0 {
			return fmt.Sprintf("%s %s: unexpected body %s", req.Method, want.Path, body)
		}
		return ""
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Sprintf("%s %s: Content-Type %q", req.Method, want.Path, ct)
	}
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Sprintf("%s %s: body is not JSON: %v", req.Method, want.Path, err)
	}
	_ = json.Unmarshal(want.Body, &exp)
	if !reflect.DeepEqual(got, exp) {
		return fmt.Sprintf("%s %s: body %s, want %s", req.Method, want.Path, body, want.Body)
	}
	return ""
}

// count is how many exchanges were served.
func (r *replay) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// errorCase is how one recorded failure must surface.
type errorCase struct {
	reason string
	call   func(f promote.Forge) error
	kind   error
	status int
	// says is a part of the error's text: the forge's own words.
	says string
}

// runErrorCases replays each case of a recording's "cases" (every one
// of which must have an errorCase) against a fresh client made by
// newForge, and checks the typed error, its status and text: the forge's
// words, bounded, with no control character and no token.
func runErrorCases(t *testing.T, rec recording, token string, newForge func(t *testing.T, ex exchange) promote.Forge, cases map[string]errorCase) {
	t.Helper()
	for name := range rec.Cases {
		if _, ok := cases[name]; !ok {
			t.Errorf("recorded case %q has no test", name)
		}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ex, ok := rec.Cases[name]
			require.True(t, ok, "no recorded case %q", name)
			err := tc.call(newForge(t, ex))
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, tc.kind, tc.reason)
			var fe *promote.ForgeError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.status, fe.Status)
			text := err.Error()
			assert.Contains(t, text, tc.says)
			assert.NotContains(t, text, token)
			assert.LessOrEqual(t, len(fe.Message), 400, "the forge's words are a bounded excerpt")
			assert.False(t, strings.ContainsFunc(text, unicode.IsControl), "control character in %q", text)
		})
	}
}
