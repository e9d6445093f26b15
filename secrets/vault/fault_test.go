package vault

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/vaulttest"
	"github.com/converge-dev/converge/secrets"
)

func TestVaultDown(t *testing.T) {
	s := vaulttest.Start(t) // its own server: this test stops it
	ctx := context.Background()
	s.Put(t, "db", map[string]any{"k": "v"})
	p := newProvider(t, s.Addr, TokenAuth(s.Token))
	_, err := p.Map(ctx, "db")
	require.NoError(t, err)

	require.NoError(t, s.Stop())
	for name, call := range map[string]func() error{
		"read": func() error { _, err := p.Map(ctx, "db"); return err },
		"list": func() error { _, err := p.List(ctx, ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, ErrUnavailable)
			require.ErrorIs(t, err, syscall.ECONNREFUSED)
			assert.Contains(t, err.Error(), s.Addr)
			assert.Contains(t, err.Error(), "connection refused")
			assert.NotContains(t, err.Error(), s.Token)
		})
	}
}

func TestVaultSlow(t *testing.T) {
	s := server.Server(t)
	key := uniq(t)
	s.Put(t, key, map[string]any{"k": "v"})
	slow := s.Slow(t, 3*time.Second)

	t.Run("timeout option", func(t *testing.T) {
		p := newProvider(t, slow, TokenAuth(s.Token), WithTimeout(200*time.Millisecond))
		start := time.Now()
		_, err := p.Map(context.Background(), key)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Contains(t, err.Error(), slow)
		assert.Contains(t, err.Error(), key)
	})
	t.Run("context deadline", func(t *testing.T) {
		p := newProvider(t, slow, TokenAuth(s.Token))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := p.Map(ctx, key)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("cancelled", func(t *testing.T) {
		p := newProvider(t, slow, TokenAuth(s.Token))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := p.Map(ctx, key)
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrUnavailable, "the caller gave up; Vault is not to blame")
	})
	t.Run("slow but in time", func(t *testing.T) {
		slow := s.Slow(t, 100*time.Millisecond)
		p := newProvider(t, slow, TokenAuth(s.Token), WithTimeout(5*time.Second))
		v, err := p.Value(context.Background(), key, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", string(v))
	})
}

func TestOversizeReal(t *testing.T) {
	s := server.Server(t)
	key := uniq(t)
	s.Put(t, key, map[string]any{"blob": strings.Repeat("x", 64<<10)})
	p := newProvider(t, s.Addr, TokenAuth(s.Token), WithMaxResponseBytes(16<<10))
	_, err := p.Map(context.Background(), key)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), key)
	assert.NotContains(t, err.Error(), "xxxx")

	p = newProvider(t, s.Addr, TokenAuth(s.Token), WithMaxResponseBytes(1<<20))
	m, err := p.Map(context.Background(), key)
	require.NoError(t, err)
	assert.Len(t, m["blob"], 64<<10)
}

// fake serves one canned answer to every request and records the last one.
func fake(t *testing.T, status int, contentType, body string) (*httptest.Server, *http.Request) {
	t.Helper()
	var last http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = *r.Clone(context.Background())
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func TestForeignAnswers(t *testing.T) {
	const html = `<!doctype html><html><body><h1>502 Bad Gateway</h1><p>token hvs.LEAKED</p></body></html>`
	cases := map[string]struct {
		status      int
		contentType string
		body        string
		is          []error
		text        string
	}{
		"html page with 200": {status: 200, contentType: "text/html; charset=utf-8", body: html,
			is: []error{ErrBadResponse}, text: "200 answer of text/html (88 bytes) is not JSON"},
		"html page with 502": {status: 502, contentType: "text/html", body: html,
			is: []error{ErrUnavailable}, text: "502 Bad Gateway"},
		"plain text": {status: 200, contentType: "text/plain", body: "ok",
			is: []error{ErrBadResponse}},
		"empty 200": {status: 200, is: []error{ErrBadResponse}},
		"truncated json": {status: 200, contentType: "application/json", body: `{"data":{"data":{"k":"v"`,
			is: []error{ErrBadResponse}},
		"json list": {status: 200, contentType: "application/json", body: `["a"]`,
			is: []error{ErrBadResponse}},
		"kv version 1 shape": {status: 200, contentType: "application/json", body: `{"data":{"k":"v"}}`,
			is: []error{ErrBadResponse}, text: "KV version 2"},
		"no data": {status: 200, contentType: "application/json", body: `{"data":null}`,
			is: []error{ErrBadResponse}},
		"sealed": {status: 503, contentType: "application/json", body: `{"errors":["Vault is sealed"]}`,
			is: []error{ErrUnavailable}, text: "Vault is sealed"},
		"rate limited": {status: 429, contentType: "application/json", body: `{"errors":["request path \"secret/data/db\": rate limit quota exceeded"]}`,
			is: []error{ErrUnavailable}, text: "rate limit"},
		"bad request": {status: 400, contentType: "application/json", body: `{"errors":["invalid version"]}`,
			text: "400 Bad Request: invalid version"},
		"forbidden": {status: 403, contentType: "application/json", body: `{"errors":["permission denied"]}`,
			is: []error{ErrForbidden}, text: "403 Forbidden: permission denied"},
		"not found": {status: 404, contentType: "application/json", body: `{"errors":[]}`,
			is: []error{secrets.ErrNotFound}},
		"not found html": {status: 404, contentType: "text/html", body: html,
			is: []error{secrets.ErrNotFound}},
		"long error": {status: 500, contentType: "application/json", body: `{"errors":["` + strings.Repeat("e", 5000) + `"]}`,
			is: []error{ErrUnavailable}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv, _ := fake(t, tc.status, tc.contentType, tc.body)
			p := newProvider(t, srv.URL, TokenAuth("hvs.LEAKED"))
			_, err := p.Map(context.Background(), "db")
			require.Error(t, err)
			for _, want := range tc.is {
				assert.ErrorIs(t, err, want)
			}
			if tc.text != "" {
				assert.Contains(t, err.Error(), tc.text)
			}
			assert.Contains(t, err.Error(), srv.URL)
			assert.Contains(t, err.Error(), `"db"`)
			assert.NotContains(t, err.Error(), "LEAKED")
			assert.NotContains(t, err.Error(), "<html")
			assert.Less(t, len(err.Error()), 512, "a bounded message")
		})
	}
}

func TestOversizeFake(t *testing.T) {
	srv, _ := fake(t, 200, "application/json", `{"data":{"data":{"k":"`+strings.Repeat("s", 2000)+`"}}}`)
	p := newProvider(t, srv.URL, TokenAuth("t0ken"), WithMaxResponseBytes(1000))
	_, err := p.Map(context.Background(), "db")
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "over 1000 bytes")
}

func TestRequestShape(t *testing.T) {
	srv, last := fake(t, 200, "application/json", `{"data":{"data":{"k":"v"},"metadata":{"version":3}}}`)
	p := newProvider(t, srv.URL+"/prefix/", TokenAuth("t0ken"), WithNamespace("team-a/"), WithMount("kv"))
	_, err := p.Map(context.Background(), "kv/data/app/a b?version=3")
	require.NoError(t, err)
	assert.Equal(t, http.MethodGet, last.Method)
	assert.Equal(t, "/prefix/v1/kv/data/app/a%20b", last.URL.EscapedPath())
	assert.Equal(t, "version=3", last.URL.RawQuery)
	assert.Equal(t, "t0ken", last.Header.Get("X-Vault-Token"))
	assert.Equal(t, "team-a", last.Header.Get("X-Vault-Namespace"))

	srv, last = fake(t, 200, "application/json", `{"data":{"keys":["a"]}}`)
	p = newProvider(t, srv.URL, TokenAuth("t0ken"))
	_, err = p.List(context.Background(), "app")
	require.NoError(t, err)
	assert.Equal(t, "/v1/secret/metadata/app/", last.URL.Path)
	assert.Equal(t, "list=true", last.URL.RawQuery)
}

func TestRedirectToOtherHostRefused(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Vault-Token")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/v1/secret/data/db", http.StatusTemporaryRedirect))
	defer srv.Close()
	p := newProvider(t, srv.URL, TokenAuth("t0ken"))
	_, err := p.Map(context.Background(), "db")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused a redirect")
	assert.Empty(t, leaked, "the token must not follow a redirect to another host")
}

func TestNewRefuses(t *testing.T) {
	cases := map[string]struct {
		addr string
		auth Auth
		opts []Option
	}{
		"no scheme":      {addr: "vault:8200", auth: TokenAuth("t")},
		"ftp":            {addr: "ftp://vault", auth: TokenAuth("t")},
		"query":          {addr: "http://vault?x=1", auth: TokenAuth("t")},
		"user info":      {addr: "http://u:p@vault", auth: TokenAuth("t")},
		"no auth":        {addr: "http://vault"},
		"bad mount":      {addr: "http://vault", auth: TokenAuth("t"), opts: []Option{WithMount("a/../b")}},
		"empty mount":    {addr: "http://vault", auth: TokenAuth("t"), opts: []Option{WithMount("/")}},
		"bad CA":         {addr: "https://vault", auth: TokenAuth("t"), opts: []Option{WithCACert([]byte("nope"))}},
		"CA and client":  {addr: "https://vault", auth: TokenAuth("t"), opts: []Option{WithCACert([]byte("x")), WithHTTPClient(http.DefaultClient)}},
		"zero max bytes": {addr: "http://vault", auth: TokenAuth("t"), opts: []Option{WithMaxResponseBytes(0)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.addr, tc.auth, tc.opts...)
			require.Error(t, err)
		})
	}
}

func TestInvalidKeySendsNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for an invalid key: %s", r.URL)
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL, TokenAuth("t"))
	_, err := p.Map(context.Background(), "app/../../sys/raw")
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = p.List(context.Background(), "../sys")
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestCACert(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"data":{"k":"v"}}}`))
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	p := newProvider(t, srv.URL, TokenAuth("t0ken"), WithCACert(ca))
	v, err := p.Value(context.Background(), "db", "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))

	p = newProvider(t, srv.URL, TokenAuth("t0ken"))
	_, err = p.Map(context.Background(), "db")
	require.Error(t, err, "the test CA is not among the system's roots")
	assert.Contains(t, err.Error(), "certificate")
}
