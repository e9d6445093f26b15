package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/secrets"
)

// These tests read a real Vault v1.21.4 dev server.

// uniq names a test's secrets so tests sharing the server do not meet.
var uniqN atomic.Int64

func uniq(t testing.TB) string {
	return fmt.Sprintf("t%d-%s", uniqN.Add(1), strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"))
}

func TestReadReal(t *testing.T) {
	s := server.Server(t)
	ctx := context.Background()
	base := uniq(t)
	s.Put(t, base+"/db", map[string]any{
		"password": "hunter2",
		"port":     5432,
		"big":      json.Number("12345678901234567890123"),
		"tls":      map[string]any{"on": true, "ciphers": []string{"a", "b"}},
		"none":     nil,
		"empty":    "",
		"unicode":  "пароль\n",
	})
	p := newProvider(t, s.Addr, TokenAuth(s.Token))

	want := map[string][]byte{
		"password": []byte("hunter2"),
		"port":     []byte("5432"),
		// Vault itself keeps JSON numbers as float64: a number beyond its
		// precision is rounded on write, and the provider passes on
		// Vault's text (TestValueText shows it keeps any text exactly).
		"big":     []byte("1.2345678901234568e+22"),
		"tls":     []byte(`{"ciphers":["a","b"],"on":true}`),
		"none":    {},
		"empty":   {},
		"unicode": []byte("пароль\n"),
	}
	for name, key := range map[string]string{"path form": base + "/db", "full form": "secret/data/" + base + "/db"} {
		t.Run(name, func(t *testing.T) {
			got, err := p.Map(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}

	t.Run("property", func(t *testing.T) {
		v, err := p.Value(ctx, base+"/db", "password")
		require.NoError(t, err)
		assert.Equal(t, "hunter2", string(v))
	})
	t.Run("missing property", func(t *testing.T) {
		_, err := p.Value(ctx, base+"/db", "nope")
		require.ErrorIs(t, err, secrets.ErrNotFound)
		assert.Contains(t, err.Error(), `"nope"`)
	})
	t.Run("only property", func(t *testing.T) {
		s.Put(t, base+"/one", map[string]any{"token": "abc"})
		v, err := p.Value(ctx, base+"/one", "")
		require.NoError(t, err)
		assert.Equal(t, "abc", string(v))
		_, err = p.Value(ctx, base+"/db", "")
		require.Error(t, err, "several properties: the caller must name one")
	})
	t.Run("not found", func(t *testing.T) {
		_, err := p.Map(ctx, base+"/missing")
		require.ErrorIs(t, err, secrets.ErrNotFound)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusNotFound, e.Status)
		assert.Equal(t, "read", e.Op)
		assert.Contains(t, err.Error(), s.Addr)
		assert.Contains(t, err.Error(), base+"/missing")
	})
}

func TestVersionsReal(t *testing.T) {
	s := server.Server(t)
	ctx := context.Background()
	key := uniq(t)
	for i := 1; i <= 4; i++ {
		require.Equal(t, i, s.Put(t, key, map[string]any{"v": fmt.Sprint(i)}))
	}
	p := newProvider(t, s.Addr, TokenAuth(s.Token))
	read := func(k string) (string, error) {
		v, err := p.Value(ctx, k, "v")
		return string(v), err
	}

	got, err := read(key)
	require.NoError(t, err)
	assert.Equal(t, "4", got, "no version: the latest")
	got, err = read(key + "?version=2")
	require.NoError(t, err)
	assert.Equal(t, "2", got)
	got, err = read("secret/data/" + key + "?version=3")
	require.NoError(t, err)
	assert.Equal(t, "3", got)

	_, err = read(key + "?version=9")
	require.ErrorIs(t, err, secrets.ErrNotFound, "a version that never was")

	s.Delete(t, key, 2)
	_, err = read(key + "?version=2")
	require.ErrorIs(t, err, ErrDeleted)
	require.ErrorIs(t, err, secrets.ErrNotFound)
	assert.Contains(t, err.Error(), "version 2 is deleted")

	s.Destroy(t, key, 3)
	_, err = read(key + "?version=3")
	require.ErrorIs(t, err, ErrDestroyed)
	require.ErrorIs(t, err, secrets.ErrNotFound)

	s.Delete(t, key) // the latest, 4
	_, err = read(key)
	require.ErrorIs(t, err, ErrDeleted, "the latest version is deleted")
	got, err = read(key + "?version=1")
	require.NoError(t, err)
	assert.Equal(t, "1", got, "older versions stay readable")
}

func TestListReal(t *testing.T) {
	s := server.Server(t)
	ctx := context.Background()
	base := uniq(t)
	for _, k := range []string{"b", "a", "dir/x", "dir/sub/y", "dir/sub/deeper/z", "other/w"} {
		s.Put(t, base+"/"+k, map[string]any{"k": "v"})
	}
	p := newProvider(t, s.Addr, TokenAuth(s.Token))

	cases := map[string]struct {
		prefix string
		want   []string
	}{
		"folder": {prefix: base, want: []string{
			base + "/a", base + "/b", base + "/dir/sub/deeper/z", base + "/dir/sub/y", base + "/dir/x", base + "/other/w",
		}},
		"sub folder":    {prefix: base + "/dir/", want: []string{base + "/dir/sub/deeper/z", base + "/dir/sub/y", base + "/dir/x"}},
		"metadata form": {prefix: "secret/metadata/" + base + "/other", want: []string{base + "/other/w"}},
		"missing":       {prefix: base + "/nothing", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := p.List(ctx, tc.prefix)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("keys read back", func(t *testing.T) {
		keys, err := p.List(ctx, base)
		require.NoError(t, err)
		for _, k := range keys {
			_, err := p.Map(ctx, k)
			assert.NoError(t, err, k)
		}
	})
	t.Run("whole mount", func(t *testing.T) {
		keys, err := p.List(ctx, "")
		require.NoError(t, err)
		assert.Contains(t, keys, base+"/dir/sub/deeper/z")
	})
}

func TestTokenAuthReal(t *testing.T) {
	s := server.Server(t)
	ctx := context.Background()
	base := uniq(t)
	s.Put(t, base+"/allowed", map[string]any{"k": "v"})
	s.Put(t, base+"/denied", map[string]any{"k": "v"})
	s.Policy(t, base, fmt.Sprintf(`
path "secret/data/%[1]s/allowed" { capabilities = ["read"] }
path "secret/metadata/%[1]s/*" { capabilities = ["list"] }
`, base))
	token := s.CreateToken(t, "1h", base)

	p := newProvider(t, s.Addr, TokenAuth(token))
	v, err := p.Value(ctx, base+"/allowed", "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))

	_, err = p.Map(ctx, base+"/denied")
	require.ErrorIs(t, err, ErrForbidden, "the policy does not allow the path")
	assert.Contains(t, err.Error(), "403")
	assert.NotContains(t, err.Error(), token)

	keys, err := p.List(ctx, base+"/")
	require.NoError(t, err)
	assert.Equal(t, []string{base + "/allowed", base + "/denied"}, keys, "list needs only the list capability")

	for name, tok := range map[string]string{"bad token": "hvs.not-a-real-token-0123456789", "revoked token": revoked(t, s.RevokeToken, s.CreateToken(t, "1h", base))} {
		t.Run(name, func(t *testing.T) {
			p := newProvider(t, s.Addr, TokenAuth(tok))
			_, err := p.Map(ctx, base+"/allowed")
			require.ErrorIs(t, err, ErrForbidden)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, http.StatusForbidden, e.Status)
			assert.NotContains(t, err.Error(), tok)
		})
	}
	t.Run("empty token", func(t *testing.T) {
		p := newProvider(t, s.Addr, TokenAuth(""))
		_, err := p.Map(ctx, base+"/allowed")
		require.Error(t, err)
	})
}

func revoked(t *testing.T, revoke func(testing.TB, string), token string) string {
	revoke(t, token)
	return token
}

func TestOtherMountReal(t *testing.T) {
	s := server.Server(t)
	ctx := context.Background()
	mount := "team/" + uniq(t)
	s.EnableKV(t, mount)
	s.PutMount(t, mount, "db", map[string]any{"k": "team"})
	p := newProvider(t, s.Addr, TokenAuth(s.Token), WithMount(mount))
	for _, key := range []string{"db", mount + "/data/db"} {
		v, err := p.Value(ctx, key, "k")
		require.NoError(t, err, key)
		assert.Equal(t, "team", string(v))
	}
	keys, err := p.List(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"db"}, keys)
}

func TestConcurrentReal(t *testing.T) {
	s := server.Server(t)
	key := uniq(t)
	s.Put(t, key, map[string]any{"k": "v"})
	p := newProvider(t, s.Addr, TokenAuth(s.Token), WithTimeout(20*time.Second))
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := p.Value(context.Background(), key, "k")
			errs <- err
		}()
	}
	for range 16 {
		assert.NoError(t, <-errs)
	}
}
