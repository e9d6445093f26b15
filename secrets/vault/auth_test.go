package vault

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorded answers of a real Vault v1.21.4 (captured from the dev server by
// TestKubernetesAuthReal with -update-recorded): a Kubernetes login, and
// its refusals.
func recorded(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

// loginVault stands in for Vault with the recorded login answer: it hands
// out numbered tokens, accepts only the newest, and counts logins.
type loginVault struct {
	t       *testing.T
	srv     *httptest.Server
	logins  atomic.Int64
	current atomic.Value // string: the token reads accept
	bodies  chan map[string]string
}

func newLoginVault(t *testing.T, leaseSeconds int64) *loginVault {
	v := &loginVault{t: t, bodies: make(chan map[string]string, 100)}
	v.current.Store("")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(recorded(t, "kubernetes-login.json"), &rec))
	forbidden := recorded(t, "permission-denied.json")
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/auth/kubernetes/login":
			var body map[string]string
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["jwt"] == "" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"errors":["missing jwt"]}`))
				return
			}
			v.bodies <- body
			if body["jwt"] == "bad-jwt-MARKER" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write(forbidden)
				return
			}
			n := v.logins.Add(1)
			token := "hvs.token-" + string(rune('a'+n))
			v.current.Store(token)
			auth := rec["auth"].(map[string]any)
			auth["client_token"] = token
			auth["lease_duration"] = leaseSeconds
			_ = json.NewEncoder(w).Encode(rec)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/secret/data/db":
			if r.Header.Get("X-Vault-Token") != v.current.Load().(string) {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write(forbidden)
				return
			}
			_, _ = w.Write(recorded(t, "kv-read.json"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[]}`))
		}
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func staticJWT(jwt string) JWTFunc {
	return func(context.Context) (string, error) { return jwt, nil }
}

func TestKubernetesAuthRecorded(t *testing.T) {
	ctx := context.Background()
	t.Run("login body and cache", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", staticJWT("the-jwt"), ""))
		for range 3 {
			got, err := p.Value(ctx, "db", "password")
			require.NoError(t, err)
			assert.Equal(t, "hunter2", string(got))
		}
		assert.Equal(t, int64(1), v.logins.Load(), "the token is cached")
		assert.Equal(t, map[string]string{"role": "app", "jwt": "the-jwt"}, <-v.bodies)
	})
	t.Run("re-login on 403", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", staticJWT("the-jwt"), "kubernetes"))
		_, err := p.Map(ctx, "db")
		require.NoError(t, err)
		v.current.Store("revoked-everything")
		// The next read is refused, the token dropped; the read retries
		// with a new login, which the stand-in accepts.
		_, err = p.Map(ctx, "db")
		require.NoError(t, err)
		assert.Equal(t, int64(2), v.logins.Load())
	})
	t.Run("lease end", func(t *testing.T) {
		v := newLoginVault(t, 100)
		a := KubernetesAuth("app", staticJWT("the-jwt"), "").(*kubernetesAuth)
		now := time.Unix(1_000_000, 0)
		var mu sync.Mutex
		a.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		p := newProvider(t, v.srv.URL, a)
		_, err := p.Map(ctx, "db")
		require.NoError(t, err)
		advance(79 * time.Second)
		_, err = p.Map(ctx, "db")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v.logins.Load(), "79 s into a 100 s lease: still cached")
		advance(2 * time.Second)
		_, err = p.Map(ctx, "db")
		require.NoError(t, err)
		assert.Equal(t, int64(2), v.logins.Load(), "81 s into a 100 s lease: a fifth is left, log in again")
	})
	t.Run("concurrent callers share one login", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", staticJWT("the-jwt"), ""))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				_, err := p.Map(ctx, "db")
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, int64(1), v.logins.Load())
	})
	t.Run("refused login", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", staticJWT("bad-jwt-MARKER"), ""))
		_, err := p.Map(ctx, "db")
		require.ErrorIs(t, err, ErrForbidden)
		assert.Contains(t, err.Error(), "login at auth/kubernetes")
		assert.Contains(t, err.Error(), `read "db"`)
		assert.NotContains(t, err.Error(), "MARKER")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusForbidden, e.Status)
	})
	t.Run("jwt source fails", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", ServiceAccountToken(filepath.Join(t.TempDir(), "none")), ""))
		_, err := p.Map(ctx, "db")
		require.ErrorIs(t, err, os.ErrNotExist)
		assert.Equal(t, int64(0), v.logins.Load())
	})
	t.Run("service account file", func(t *testing.T) {
		v := newLoginVault(t, 3600)
		path := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(path, []byte("file-jwt\n"), 0o600))
		p := newProvider(t, v.srv.URL, KubernetesAuth("app", ServiceAccountToken(path), ""))
		_, err := p.Map(ctx, "db")
		require.NoError(t, err)
		assert.Equal(t, "file-jwt", (<-v.bodies)["jwt"])
	})
}

func TestAuthFunc(t *testing.T) {
	v := newLoginVault(t, 3600)
	var got Lease
	auth := AuthFunc(func(ctx context.Context, login Login) (string, error) {
		l, err := login(ctx, "kubernetes", map[string]string{"role": "app", "jwt": "x"})
		got = l
		return l.Token, err
	})
	p := newProvider(t, v.srv.URL, auth)
	_, err := p.Map(context.Background(), "db")
	require.NoError(t, err)
	assert.Equal(t, time.Hour, got.TTL)
	assert.True(t, got.Renewable)
	assert.True(t, strings.HasPrefix(got.Token, "hvs."))
}
