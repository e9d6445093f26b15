package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/secrets"
	"github.com/converge-dev/converge/secrets/webhook"
)

// Planted secrets: no error may contain them.
const (
	marker = "s3cr3t-MARKER-7f1c"
	token  = "Bearer tok-MARKER-9d2e"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func jsonAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestMapValue(t *testing.T) {
	doc := `{"data": {"user": "app", "password": "` + marker + `", "port": 5432, "tls": true, "none": null,
		"tags": ["a", "b"], "nested": {"x": 1.50}}, "items": [{"value": "first"}], "a.b": {"c/d": "pointer"}}`
	srv := serve(t, jsonAnswer(doc))
	cases := map[string]struct {
		reason string
		path   string
		want   map[string][]byte
	}{
		"dotted": {reason: "fields of the object at $.data; non-strings as compact JSON", path: "$.data",
			want: map[string][]byte{"user": []byte("app"), "password": []byte(marker), "port": []byte("5432"), "tls": []byte("true"),
				"none": []byte("null"), "tags": []byte(`["a","b"]`), "nested": []byte(`{"x":1.50}`)}},
		"no dollar": {reason: "the same syntax without $", path: "data.nested", want: map[string][]byte{"x": []byte("1.50")}},
		"index":     {reason: "an array element", path: "$.items[0]", want: map[string][]byte{"value": []byte("first")}},
		"pointer":   {reason: "a JSON Pointer reaches names with . and /", path: "/a.b", want: map[string][]byte{"c/d": []byte("pointer")}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithResultPath(tc.path))
			require.NoError(t, err)
			m, err := p.Map(context.Background(), "db")
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, m, tc.reason)
		})
	}

	whole, err := webhook.New(srv.URL + "/{{ .key }}")
	require.NoError(t, err)
	m, err := whole.Map(context.Background(), "db")
	require.NoError(t, err)
	assert.Equal(t, []string{"a.b", "data", "items"}, keys(m), "no path: the whole document")

	cases2 := map[string]struct {
		reason, path, property, want string
	}{
		"property":         {reason: "one field", path: "data", property: "user", want: "app"},
		"scalar":           {reason: "a string result is the value", path: "$.data.password", want: marker},
		"scalar pointer":   {reason: "the same through a pointer", path: "/data/password", want: marker},
		"number":           {reason: "a number result keeps its digits", path: "$.data.nested.x", want: "1.50"},
		"only field":       {reason: "an object of one field gives it", path: "$.items[0]", want: "first"},
		"pointer escaping": {reason: "~1 is /", path: "/a.b/c~1d", want: "pointer"},
	}
	for name, tc := range cases2 {
		t.Run(name, func(t *testing.T) {
			p, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithResultPath(tc.path))
			require.NoError(t, err)
			v, err := p.Value(context.Background(), "db", tc.property)
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.want, string(v), tc.reason)
		})
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestRequestShape(t *testing.T) {
	type seen struct {
		method, rawPath, query, auth, rotating, contentType, body string
	}
	var mu sync.Mutex
	var got seen
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("X-Rotating"), r.Header.Get("Content-Type"), string(b)}
		mu.Unlock()
		jsonAnswer(`{"v": "x"}`)(w, r)
	})
	key := `team a/db&admin=1"}`

	get, err := webhook.New(srv.URL+"/v1/{{ .key }}?name={{ .key }}", webhook.WithHeader("Authorization", token),
		webhook.WithHeaderFunc("X-Rotating", func(context.Context) (string, error) { return "r1", nil }))
	require.NoError(t, err)
	_, err = get.Value(context.Background(), key, "v")
	require.NoError(t, err)
	assert.Equal(t, seen{method: "GET", rawPath: "/v1/team%20a%2Fdb%26admin%3D1%22%7D", query: "name=team%20a%2Fdb%26admin%3D1%22%7D",
		auth: token, rotating: "r1"}, got, "the key is one escaped segment, in the path and in the query")

	post, err := webhook.New(srv.URL+"/lookup", webhook.WithBody(`{"key": "{{ .key }}"}`))
	require.NoError(t, err)
	_, err = post.Value(context.Background(), key, "v")
	require.NoError(t, err)
	assert.Equal(t, "POST", got.method)
	assert.Equal(t, "application/json", got.contentType)
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(got.body), &body), "the key cannot break out of the JSON string: %s", got.body)
	assert.Equal(t, map[string]string{"key": key}, body)

	_, err = webhook.New(srv.URL+"/x", webhook.WithMethod("POST"))
	require.NoError(t, err, "POST without a body template sends an empty body")
}

func TestFaults(t *testing.T) {
	secretBody := `{"error": "denied", "leak": "` + marker + `"}`
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	cases := map[string]struct {
		reason  string
		handler http.HandlerFunc // nil: the refused address
		opts    []webhook.Option
		is      error
		want    string
	}{
		"connection refused": {reason: "nothing listens", is: nil, want: "connection refused"},
		"timeout": {reason: "the server answers too late",
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			opts: []webhook.Option{webhook.WithTimeout(100 * time.Millisecond)}, is: context.DeadlineExceeded,
			want: "no answer within the deadline (timeout 100ms)"},
		"server error": {reason: "a 500 names its status, not its body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, secretBody)
			}, want: "answered 500 Internal Server Error"},
		"unauthorized": {reason: "a 401 is a failure",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, marker, http.StatusUnauthorized) },
			want:    "answered 401 Unauthorized"},
		"404 failure": {reason: "without WithNotFoundStatus a 404 is not a missing key",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, marker, http.StatusNotFound) },
			want:    "answered 404 Not Found"},
		"404 not found": {reason: "with WithNotFoundStatus it is",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, marker, http.StatusNotFound) },
			opts:    []webhook.Option{webhook.WithNotFoundStatus(404)}, is: secrets.ErrNotFound, want: "answered 404 Not Found"},
		"redirect": {reason: "a redirect is not followed with the credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://elsewhere.invalid/?t="+marker, http.StatusFound)
			}, want: "answered 302 Found"},
		"html content type": {reason: "a login page",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = io.WriteString(w, "<html>"+marker+"</html>")
			}, is: webhook.ErrNotJSON, want: `Content-Type "text/html"`},
		"html body": {reason: "HTML served as JSON",
			handler: jsonAnswer("<!doctype html><p>" + marker), is: webhook.ErrNotJSON, want: "looks like HTML"},
		"not json":  {reason: "plain text", handler: jsonAnswer("password=" + marker), is: webhook.ErrNotJSON, want: "syntax error at byte 1"},
		"truncated": {reason: "a cut document", handler: jsonAnswer(`{"v": "` + marker), is: webhook.ErrNotJSON, want: "ends inside a JSON value"},
		"trailing":  {reason: "two documents", handler: jsonAnswer(`{"v": 1} {"w": "` + marker + `"}`), is: webhook.ErrNotJSON, want: "data after the JSON value"},
		"empty":     {reason: "no body", handler: jsonAnswer(""), is: webhook.ErrNotJSON, want: "the body is empty"},
		"oversize": {reason: "a declared length over the bound",
			handler: jsonAnswer(`{"v": "` + strings.Repeat(marker, 100) + `"}`),
			opts:    []webhook.Option{webhook.WithMaxBodySize(64)}, is: webhook.ErrTooLarge, want: "at most 64"},
		"oversize chunked": {reason: "an undeclared length over the bound",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for range 100 {
					_, _ = io.WriteString(w, marker)
					w.(http.Flusher).Flush()
				}
			},
			opts: []webhook.Option{webhook.WithMaxBodySize(64)}, is: webhook.ErrTooLarge, want: "more than 64 bytes"},
		"path not found": {reason: "the answer lacks the result path",
			handler: jsonAnswer(`{"other": {"v": "` + marker + `"}}`), opts: []webhook.Option{webhook.WithResultPath("$.data.v")},
			is: secrets.ErrNotFound, want: `result path "$.data.v": no field "data" at the document's root`},
		"index not found": {reason: "an array too short",
			handler: jsonAnswer(`{"items": ["` + marker + `"]}`), opts: []webhook.Option{webhook.WithResultPath("$.items[3]")},
			is: secrets.ErrNotFound, want: `no element "3" in the array of 1 at "/items"`},
		"through a scalar": {reason: "a path below a string",
			handler: jsonAnswer(`{"data": "` + marker + `"}`), opts: []webhook.Option{webhook.WithResultPath("/data/v")},
			is: secrets.ErrNotFound, want: `"/data" is a string, not an object or array`},
		"missing property": {reason: "the entry lacks the property",
			handler: jsonAnswer(`{"v": "` + marker + `"}`), is: secrets.ErrNotFound, want: `has no property "password"`},
		"scalar property": {reason: "a property of a scalar result",
			handler: jsonAnswer(`{"v": "` + marker + `"}`), opts: []webhook.Option{webhook.WithResultPath("v")},
			is: webhook.ErrNotObject, want: `selects a string, which has no property "password"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base := refusedURL
			if tc.handler != nil {
				base = serve(t, tc.handler).URL
			}
			// Credentials in the URL's user information and query are
			// redacted from every error.
			u := strings.Replace(base, "http://", "http://user:"+marker+"@", 1) + "/v1/{{ .key }}?token=" + marker
			opts := append([]webhook.Option{webhook.WithHeader("Authorization", token)}, tc.opts...)
			p, err := webhook.New(u, opts...)
			require.NoError(t, err)
			_, err = p.Value(context.Background(), "team/db", "password")
			require.Error(t, err, tc.reason)
			msg := err.Error()
			t.Log(msg)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is, tc.reason)
			}
			if tc.is != secrets.ErrNotFound {
				assert.NotErrorIs(t, err, secrets.ErrNotFound, "%s: a failure is not a missing key", tc.reason)
			}
			assert.Contains(t, msg, tc.want, tc.reason)
			assert.Contains(t, msg, "webhook GET "+base+"/v1/team%2Fdb?REDACTED: ", "%s: names the redacted URL", tc.reason)
			assert.Contains(t, msg, `key "team/db"`, "%s: names the key", tc.reason)
			assert.NotContains(t, msg, marker, tc.reason)
			assert.NotContains(t, msg, "tok-MARKER", tc.reason)
		})
	}
}

func TestStatusError(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	p, err := webhook.New(srv.URL + "/{{ .key }}")
	require.NoError(t, err)
	_, err = p.Map(context.Background(), "db")
	var se *webhook.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
}

func TestMapOfScalar(t *testing.T) {
	srv := serve(t, jsonAnswer(`["a"]`))
	p, err := webhook.New(srv.URL + "/{{ .key }}")
	require.NoError(t, err)
	_, err = p.Map(context.Background(), "db")
	assert.ErrorIs(t, err, webhook.ErrNotObject)
	assert.Contains(t, err.Error(), `selects a array`)
	v, err := p.Value(context.Background(), "db", "")
	require.NoError(t, err)
	assert.Equal(t, `["a"]`, string(v), "a non-object result is a single value")
}

func TestHeaderFuncError(t *testing.T) {
	var calls int
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { calls++ })
	p, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithHeaderFunc("Authorization", func(context.Context) (string, error) {
		return "", errors.New("token source down")
	}))
	require.NoError(t, err)
	_, err = p.Map(context.Background(), "db")
	assert.ErrorContains(t, err, `header "Authorization": token source down`)
	assert.Zero(t, calls, "no request without the header")

	bad, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithHeaderFunc("Authorization", func(context.Context) (string, error) {
		return token + "\r\nX-Injected: 1", nil
	}))
	require.NoError(t, err)
	_, err = bad.Map(context.Background(), "db")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line break")
	assert.NotContains(t, err.Error(), "tok-MARKER")
	assert.Zero(t, calls)
}

func TestNewRefuses(t *testing.T) {
	cases := map[string]struct {
		reason string
		url    string
		opts   []webhook.Option
		want   string
	}{
		"template syntax": {reason: "an unclosed action", url: "http://h/{{ .key", want: "URL template"},
		"unknown field":   {reason: "only .key exists", url: "http://h/{{ .name }}", want: "URL template"},
		"scheme":          {reason: "no file:// or gopher://", url: "file:///etc/{{ .key }}", want: `scheme "file"`},
		"no host":         {reason: "a relative URL", url: "/v1/{{ .key }}", want: "scheme"},
		"unparsable":      {reason: "the URL's text is not quoted", url: "http://h:" + marker + "x/{{ .key }}", want: "unparsable"},
		"method":          {reason: "GET or POST", url: "http://h/{{ .key }}", opts: []webhook.Option{webhook.WithMethod("DELETE")}, want: `method "DELETE"`},
		"body template":   {reason: "a body template error", url: "http://h/", opts: []webhook.Option{webhook.WithBody("{{ .nope }}")}, want: "body template"},
		"get with body":   {reason: "a body needs POST", url: "http://h/", opts: []webhook.Option{webhook.WithBody("{}"), webhook.WithMethod("GET")}, want: "needs POST"},
		"path":            {reason: "no wildcards", url: "http://h/", opts: []webhook.Option{webhook.WithResultPath("$.data[*]")}, want: "not an array index"},
		"pointer":         {reason: "a bad escape", url: "http://h/", opts: []webhook.Option{webhook.WithResultPath("/a~2")}, want: `"~" not followed`},
		"header name":     {reason: "a bad name", url: "http://h/", opts: []webhook.Option{webhook.WithHeader("Bad Name", "x")}, want: "not a valid field name"},
		"header value":    {reason: "a header value is never quoted", url: "http://h/", opts: []webhook.Option{webhook.WithHeader("Authorization", token+"\n")}, want: `header "Authorization": the value holds a line break`},
		"timeout":         {reason: "positive", url: "http://h/", opts: []webhook.Option{webhook.WithTimeout(0)}, want: "timeout"},
		"max body":        {reason: "positive", url: "http://h/", opts: []webhook.Option{webhook.WithMaxBodySize(-1)}, want: "max body size"},
		"nil client":      {reason: "a client is required", url: "http://h/", opts: []webhook.Option{webhook.WithHTTPClient(nil)}, want: "nil http.Client"},
		"nil header func": {reason: "a function is required", url: "http://h/", opts: []webhook.Option{webhook.WithHeaderFunc("X", nil)}, want: "nil function"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := webhook.New(tc.url, tc.opts...)
			require.Error(t, err, tc.reason)
			assert.Contains(t, err.Error(), tc.want, tc.reason)
			assert.NotContains(t, err.Error(), marker, tc.reason)
			assert.NotContains(t, err.Error(), "tok-MARKER", tc.reason)
		})
	}
}

func TestInvalidKey(t *testing.T) {
	var calls int
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { calls++ })
	p, err := webhook.New(srv.URL + "/v1/{{ .key }}")
	require.NoError(t, err)
	for _, key := range []string{"", ".", ".."} {
		_, err := p.Map(context.Background(), key)
		assert.ErrorIs(t, err, webhook.ErrInvalidKey, key)
	}
	assert.Zero(t, calls, "no request for a key that would climb the path")
}

func TestList(t *testing.T) {
	p, err := webhook.New("http://h/{{ .key }}")
	require.NoError(t, err)
	_, err = p.List(context.Background(), "")
	assert.ErrorIs(t, err, secrets.ErrListUnsupported)
}

func TestContext(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	p, err := webhook.New(srv.URL + "/{{ .key }}")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = p.Map(ctx, "db")
	assert.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Map(ctx, "db")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline wins over the 10s default")
}

func TestCustomClient(t *testing.T) {
	var used bool
	srv := serve(t, jsonAnswer(`{"v": "x"}`))
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	p, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithHTTPClient(client))
	require.NoError(t, err)
	_, err = p.Value(context.Background(), "db", "v")
	require.NoError(t, err)
	assert.True(t, used)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNotHTTP: servers that do not speak HTTP; net/http quotes what they
// sent in its errors.
func TestNotHTTP(t *testing.T) {
	for name, answer := range map[string]string{
		"status line": marker + "\r\n\r\n",
		"header line": "HTTP/1.1 200 OK\r\n" + marker + "\r\n\r\n",
		"status code": "HTTP/1.1 2" + marker + " OK\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, answer)
					_ = c.Close()
				}
			}()
			p, err := webhook.New(fmt.Sprintf("http://%s/{{ .key }}", ln.Addr()))
			require.NoError(t, err)
			_, err = p.Map(context.Background(), "db")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "the server's answer is not valid HTTP")
			assert.NotContains(t, err.Error(), marker)
		})
	}
}

// TestTLS: a certificate error passes through, so a host can see why.
func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(jsonAnswer(`{"v": "x"}`))
	t.Cleanup(srv.Close)
	p, err := webhook.New(srv.URL + "/{{ .key }}")
	require.NoError(t, err)
	_, err = p.Map(context.Background(), "db")
	assert.ErrorContains(t, err, "certificate signed by unknown authority")

	trusted, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	v, err := trusted.Value(context.Background(), "db", "v")
	require.NoError(t, err, "the host's client trusts the server")
	assert.Equal(t, "x", string(v))
}

func TestConcurrent(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(`{"key": "`+strings.TrimPrefix(r.URL.Path, "/")+`"}`)(w, r)
	})
	p, err := webhook.New(srv.URL+"/{{ .key }}", webhook.WithHeader("Authorization", token))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", i)
			v, err := p.Value(context.Background(), key, "key")
			assert.NoError(t, err)
			assert.Equal(t, key, string(v))
		})
	}
	wg.Wait()
}
