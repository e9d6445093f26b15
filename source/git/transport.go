package git

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrTransferLimit reports a server that sent more than the fetch byte
// limit allows.
var ErrTransferLimit = errors.New("transfer over limit")

// budget counts one Fetch call's requests and received bytes. It travels in
// the request context, so the long-lived HTTP client can reuse connections.
type budget struct {
	limit    int64
	bytes    atomic.Int64
	requests atomic.Int64
}

type budgetKey struct{}

func withBudget(ctx context.Context, b *budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// countingTransport charges every response body to the request's budget
// and fails the read that crosses its limit.
type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := req.Context().Value(budgetKey{}).(*budget)
	if b != nil {
		b.requests.Add(1)
	}
	res, err := t.next.RoundTrip(req)
	if err != nil || b == nil {
		return res, err
	}
	res.Body = &limitedBody{ReadCloser: res.Body, b: b}
	return res, nil
}

type limitedBody struct {
	io.ReadCloser
	b *budget
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	if l.b.limit > 0 && l.b.bytes.Add(int64(n)) > l.b.limit {
		return n, fmt.Errorf("%w: more than %d bytes", ErrTransferLimit, l.b.limit)
	}
	return n, err
}

// over reports whether the budget ran out.
func (b *budget) over() bool { return b.limit > 0 && b.bytes.Load() > b.limit }

// limitedReader applies the same budget to a pack stream from any
// transport (SSH and file do not go through HTTP).
type limitedReader struct {
	r io.Reader
	b *budget
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.b.limit > 0 && l.b.bytes.Add(int64(n)) > l.b.limit {
		return n, fmt.Errorf("%w: more than %d bytes", ErrTransferLimit, l.b.limit)
	}
	return n, err
}

// newHTTPTransport returns go-git's smart-HTTP transport over a client of
// converge's own: custom CA bundle, proxy, byte accounting, and credentials
// that never follow a redirect to another origin (go-git strips them, and
// only the initial discovery request may be redirected at all).
func newHTTPTransport(caBundle []byte, proxy *url.URL) (transport.Transport, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caBundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("CA bundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	hc := &http.Client{Transport: countingTransport{next: tr}}
	return githttp.NewClientWithOptions(hc, &githttp.ClientOptions{
		RedirectPolicy: githttp.FollowInitialRedirects,
	}), nil
}

// newTransport picks the transport for a validated URL.
func newTransport(u *url.URL, httpTransport transport.Transport) (transport.Transport, *transport.Endpoint, error) {
	ep, err := transport.NewEndpoint(u.String())
	if err != nil {
		return nil, nil, errors.New("endpoint does not parse") // go-git quotes the URL
	}
	switch u.Scheme {
	case "http", "https":
		return httpTransport, ep, nil
	default:
		tr, err := client.NewClient(ep)
		if err != nil {
			return nil, nil, fmt.Errorf("no transport for scheme %q", u.Scheme)
		}
		return tr, ep, nil
	}
}

// sshAuth builds SSH public-key auth that accepts only host keys listed in
// knownHosts (OpenSSH known_hosts format, hashed host names included).
func sshAuth(user string, key, passphrase, knownHosts []byte) (*gitssh.PublicKeys, error) {
	signer, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(key, passphrase)
	}
	if err != nil {
		return nil, errors.New("SSH private key does not parse") // never echo key material
	}
	cb, err := KnownHostsCallback(knownHosts)
	if err != nil {
		return nil, err
	}
	pk := &gitssh.PublicKeys{User: user, Signer: signer}
	pk.HostKeyCallback = cb
	return pk, nil
}

// KnownHostsCallback returns an SSH host key check that accepts only the
// keys listed in data, in OpenSSH known_hosts format. An unknown host, a
// changed key and an empty list are all refused.
func KnownHostsCallback(data []byte) (ssh.HostKeyCallback, error) {
	entries, err := parseKnownHosts(data)
	if err != nil {
		return nil, err
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		addr := normalizeAddr(hostname)
		for _, e := range entries {
			for _, h := range e.hosts {
				if matchHost(h, addr) && bytes.Equal(e.key.Marshal(), key.Marshal()) {
					return nil
				}
			}
		}
		return fmt.Errorf("host key for %s is not in known_hosts", addr)
	}, nil
}

type knownHost struct {
	hosts []string
	key   ssh.PublicKey
}

// parseKnownHosts reads the entries of a known_hosts file, leaving out
// revoked keys; none at all is an error.
func parseKnownHosts(data []byte) ([]knownHost, error) {
	var entries []knownHost
	rest := data
	for len(bytes.TrimSpace(rest)) > 0 {
		marker, hosts, key, _, r, err := ssh.ParseKnownHosts(rest)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %v", err)
		}
		rest = r
		if marker == "@revoked" {
			continue
		}
		entries = append(entries, knownHost{hosts, key})
	}
	if len(entries) == 0 {
		return nil, errors.New("known_hosts: no host keys; strict host key checking needs at least one")
	}
	return entries, nil
}

func normalizeAddr(addr string) string { return knownhosts.Normalize(addr) }

// matchHost matches one known_hosts host pattern (plain, or hashed
// "|1|salt|hash") against a normalized address.
func matchHost(pattern, addr string) bool {
	if strings.HasPrefix(pattern, "|1|") {
		parts := strings.Split(pattern[3:], "|")
		if len(parts) != 2 {
			return false
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[0])
		want, err2 := base64.StdEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(addr))
		return hmac.Equal(mac.Sum(nil), want)
	}
	return knownhosts.Normalize(pattern) == addr
}
