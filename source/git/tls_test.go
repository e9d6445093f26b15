package git_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source/git"
)

func TestCustomCA(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithTLS())
	repo := srv.NewRepo(t, "tls")
	head := repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	require.Contains(t, repo.URL, "https://")

	_, err := newSource(t, repo.URL, git.Reference{}).Fetch(ctx(t))
	require.Error(t, err, "an unknown CA is refused")

	snap, err := newSource(t, repo.URL, git.Reference{}, git.WithCABundle(srv.CertPEM)).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "main@sha1:"+head, snap.Revision)

	_, err = git.New(repo.URL, git.Reference{}, git.WithCABundle([]byte("not pem")))
	assert.Error(t, err)
}

func TestProxy(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "proxied")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})

	var proxied atomic.Int64
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	})}
	ln := listen(t)
	go func() { _ = proxy.Serve(ln) }()
	t.Cleanup(func() { _ = proxy.Close() })
	proxyURL, err := url.Parse("http://" + ln.Addr().String())
	require.NoError(t, err)

	before := srv.Requests()
	snap, err := newSource(t, repo.URL, git.Reference{}, git.WithProxy(proxyURL)).Fetch(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "a", read(t, snap, "a.txt"))
	assert.Equal(t, srv.Requests()-before, proxied.Load(), "every request went through the proxy")
	assert.Positive(t, proxied.Load())
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}
