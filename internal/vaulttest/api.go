package vaulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Do sends method to /v1/path with the root token and body (when not nil)
// as JSON, and returns the status and the answer's body. It fails t when
// the request cannot be sent.
func (s *Server) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return s.DoToken(t, s.Token, method, path, body)
}

// DoToken is Do with another token ("" sends none).
func (s *Server) DoToken(t testing.TB, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("vaulttest: encode %s %s: %v", method, path, err)
		}
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Addr+"/v1/"+strings.TrimPrefix(path, "/"), r)
	if err != nil {
		t.Fatalf("vaulttest: %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("vaulttest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("vaulttest: %s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// Must is Do that fails t unless the answer is 2xx, and decodes a JSON
// answer into out (when not nil).
func (s *Server) Must(t testing.TB, method, path string, body, out any) {
	t.Helper()
	status, data := s.Do(t, method, path, body)
	if status/100 != 2 {
		t.Fatalf("vaulttest: %s %s: %d %s", method, path, status, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("vaulttest: %s %s: decode answer: %v", method, path, err)
		}
	}
}

// Put writes data as a new version of the KV v2 secret at path under the
// "secret/" mount and returns the version number.
func (s *Server) Put(t testing.TB, path string, data map[string]any) int {
	t.Helper()
	return s.PutMount(t, "secret", path, data)
}

// PutMount is Put under another KV v2 mount (see [Server.EnableKV]).
func (s *Server) PutMount(t testing.TB, mount, path string, data map[string]any) int {
	t.Helper()
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	s.Must(t, http.MethodPost, mount+"/data/"+path, map[string]any{"data": data}, &out)
	return out.Data.Version
}

// Delete soft-deletes versions of the secret at path under "secret/" (the
// latest when none are given); their data can be undeleted.
func (s *Server) Delete(t testing.TB, path string, versions ...int) {
	t.Helper()
	if len(versions) == 0 {
		s.Must(t, http.MethodDelete, "secret/data/"+path, nil, nil)
		return
	}
	s.Must(t, http.MethodPost, "secret/delete/"+path, map[string]any{"versions": versions}, nil)
}

// Destroy destroys versions of the secret at path under "secret/": their
// data is gone for good.
func (s *Server) Destroy(t testing.TB, path string, versions ...int) {
	t.Helper()
	s.Must(t, http.MethodPut, "secret/destroy/"+path, map[string]any{"versions": versions}, nil)
}

// EnableKV mounts a KV v2 engine at mount and waits until it takes writes.
func (s *Server) EnableKV(t testing.TB, mount string) {
	t.Helper()
	s.Must(t, http.MethodPost, "sys/mounts/"+mount, map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}, nil)
	// A new KV v2 mount answers writes with an "upgrading" error for a
	// moment.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := s.Do(t, http.MethodGet, mount+"/config", nil)
		if status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("vaulttest: KV mount %s not ready: %d %s", mount, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Policy writes the ACL policy name with the HCL rules.
func (s *Server) Policy(t testing.TB, name, rules string) {
	t.Helper()
	s.Must(t, http.MethodPut, "sys/policies/acl/"+name, map[string]string{"policy": rules}, nil)
}

// CreateToken creates a token with policies (no default policy) that
// lives for ttl ("" for the default) and returns it.
func (s *Server) CreateToken(t testing.TB, ttl string, policies ...string) string {
	t.Helper()
	body := map[string]any{"policies": policies, "no_default_policy": true}
	if ttl != "" {
		body["ttl"] = ttl
	}
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	s.Must(t, http.MethodPost, "auth/token/create", body, &out)
	if out.Auth.ClientToken == "" {
		t.Fatal("vaulttest: token create answered no token")
	}
	return out.Auth.ClientToken
}

// RevokeToken revokes token.
func (s *Server) RevokeToken(t testing.TB, token string) {
	t.Helper()
	s.Must(t, http.MethodPost, "auth/token/revoke", map[string]string{"token": token}, nil)
}

// Slow returns the address of a proxy in front of s that holds every
// request for delay before passing it on (or until the client gives up).
// The proxy stops when t ends.
func (s *Server) Slow(t testing.TB, delay time.Duration) string {
	t.Helper()
	target, err := url.Parse(s.Addr)
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	return srv
}

// newLoopbackServer serves h on a loopback port until t ends and returns
// its address.
func newLoopbackServer(t testing.TB, h http.Handler) string {
	t.Helper()
	l, err := listenLoopback()
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://%s", l.Addr())
}
