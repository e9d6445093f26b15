package vault

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoSecretInErrors plants marker values in real secrets and a marker
// in the token, drives every failure the provider has, and checks that no
// error text carries either.
func TestNoSecretInErrors(t *testing.T) {
	const value = "VALUE-MARKER-7f3a"
	s := server.Server(t)
	ctx := context.Background()
	base := uniq(t)
	s.Put(t, base+"/db", map[string]any{"password": value, "user": value + "-user", "nested": map[string]any{"x": value}})
	s.Put(t, base+"/db", map[string]any{"password": value + "-2"})
	s.Delete(t, base+"/db", 2)
	s.Put(t, base+"/big", map[string]any{"blob": strings.Repeat(value, 2000)})
	s.Policy(t, base, fmt.Sprintf(`path "secret/data/%s/db" { capabilities = ["read"] }`, base))
	limited := s.CreateToken(t, "1h", base)

	root := newProvider(t, s.Addr, TokenAuth(s.Token))
	small := newProvider(t, s.Addr, TokenAuth(s.Token), WithMaxResponseBytes(4096))
	bad := newProvider(t, s.Addr, TokenAuth("hvs.TOKEN-MARKER-91c2"))
	lim := newProvider(t, s.Addr, TokenAuth(limited))

	// A proxy that echoes the token and a value in its error pages.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/html") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "<html>%s %s</html>", r.Header.Get("X-Vault-Token"), value)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/typed") {
			fmt.Fprintf(w, `{"data":{"data":{"k":%q},"metadata":{"version":%q}}}`, value, value)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":["token %s is not allowed"]}`, r.Header.Get("X-Vault-Token"))
	}))
	defer echo.Close()
	echoing := newProvider(t, echo.URL, TokenAuth("hvs.TOKEN-MARKER-91c2"))
	slow := newProvider(t, s.Slow(t, time.Second), TokenAuth("hvs.TOKEN-MARKER-91c2"), WithTimeout(50*time.Millisecond))

	calls := map[string]func() error{
		"missing property":  func() error { _, err := root.Value(ctx, base+"/db?version=1", "nope"); return err },
		"several":           func() error { _, err := root.Value(ctx, base+"/db?version=1", ""); return err },
		"deleted version":   func() error { _, err := root.Map(ctx, base+"/db"); return err },
		"oversize":          func() error { _, err := small.Map(ctx, base+"/big"); return err },
		"bad token":         func() error { _, err := bad.Map(ctx, base+"/db"); return err },
		"bad token list":    func() error { _, err := bad.List(ctx, base); return err },
		"policy":            func() error { _, err := lim.Map(ctx, base+"/big"); return err },
		"echoed token":      func() error { _, err := echoing.Map(ctx, "db"); return err },
		"echoed html":       func() error { _, err := echoing.Map(ctx, "html"); return err },
		"value in bad json": func() error { _, err := echoing.Map(ctx, "typed"); return err },
		"slow":              func() error { _, err := slow.Map(ctx, base+"/db"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.Error(t, err)
			for _, secret := range []string{value, "TOKEN-MARKER", s.Token, limited} {
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, fmt.Sprintf("%+v", err), secret)
				assert.NotContains(t, fmt.Sprintf("%#v", err), secret)
			}
		})
	}
}
