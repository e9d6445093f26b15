package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// sshSession is converge's own upload-pack client over SSH. go-git's SSH
// transport offers no hook on the connection, so it could bound neither
// the bytes of the reference listing nor a stalled server; this one reads
// everything through a connection charged to the fetch's budget (listing
// and pack alike, as the HTTP client does) and closed when the context
// ends. The protocol itself is go-git's: packp encodes the request and
// decodes the advertisement and the response.
type sshSession struct {
	conn    net.Conn
	client  *ssh.Client
	sess    *ssh.Session
	stdin   io.WriteCloser
	stdout  io.Reader
	stderr  *capped
	b       *budget
	stop    func() bool
	advRefs *packp.AdvRefs
	packRun bool
	once    sync.Once
}

var _ transport.UploadPackSession = (*sshSession)(nil)

// dialSSH connects to u's host, authenticates with auth (whose host key
// check is strict) and starts git-upload-pack for u's path.
func dialSSH(ctx context.Context, u *url.URL, auth *gitssh.PublicKeys, knownHosts []byte, b *budget) (*sshSession, error) {
	cfg, err := auth.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = "22"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	cfg.HostKeyAlgorithms = hostKeyAlgorithms(knownHosts, addr)
	cfg.Timeout = 30 * time.Second
	if b != nil {
		b.requests.Add(1)
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: dial: %w", err)
	}
	conn := &countingConn{Conn: raw, b: b}
	s := &sshSession{conn: conn, b: b, stderr: &capped{max: 4096}}
	// Closing the connection unblocks every read and write below when the
	// context ends.
	s.stop = context.AfterFunc(ctx, func() { _ = raw.Close() })
	fail := func(err error) (*sshSession, error) {
		_ = s.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("ssh: %w", cerr)
		}
		return nil, s.wrap(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		return fail(fmt.Errorf("ssh: handshake: %w", err))
	}
	s.client = ssh.NewClient(c, chans, reqs)
	if s.sess, err = s.client.NewSession(); err != nil {
		return fail(fmt.Errorf("ssh: session: %w", err))
	}
	if s.stdin, err = s.sess.StdinPipe(); err != nil {
		return fail(err)
	}
	stdout, err := s.sess.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	s.stdout = stdout
	s.sess.Stderr = s.stderr
	if err := s.sess.Start("git-upload-pack " + shellQuote(u.Path)); err != nil {
		return fail(fmt.Errorf("ssh: start git-upload-pack: %w", err))
	}
	return s, nil
}

// wrap names the byte limit when the budget ran out, whatever error the
// broken connection caused further up.
func (s *sshSession) wrap(err error) error {
	if s.b != nil && s.b.over() {
		return fmt.Errorf("%w: more than %d bytes", ErrTransferLimit, s.b.limit)
	}
	return err
}

// shellQuote quotes p for the remote shell, as git does.
func shellQuote(p string) string {
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

func (s *sshSession) AdvertisedReferences() (*packp.AdvRefs, error) {
	return s.AdvertisedReferencesContext(context.Background())
}

// AdvertisedReferencesContext reads the server's reference listing.
func (s *sshSession) AdvertisedReferencesContext(ctx context.Context) (*packp.AdvRefs, error) {
	if s.advRefs != nil {
		return s.advRefs, nil
	}
	ar := packp.NewAdvRefs()
	if err := ar.Decode(s.stdout); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if s.b != nil && s.b.over() {
			return nil, s.wrap(err)
		}
		var errLine *pktline.ErrorLine
		switch {
		case errors.Is(err, packp.ErrEmptyAdvRefs):
			return nil, transport.ErrEmptyRemoteRepository
		case errors.As(err, &errLine):
			return nil, fmt.Errorf("server: %s", truncate(errLine.Text, 200))
		case errors.Is(err, packp.ErrEmptyInput):
			s.waitExit(ctx, 5*time.Second) // for the server's stderr
			msg := s.stderr.firstLine()
			if strings.Contains(msg, "not found") || strings.Contains(msg, "does not appear to be a git repository") {
				return nil, transport.ErrRepositoryNotFound
			}
			return nil, fmt.Errorf("server closed the connection: %q", truncate(msg, 200))
		}
		return nil, err
	}
	if ar.IsEmpty() {
		return nil, transport.ErrEmptyRemoteRepository
	}
	transport.FilterUnsupportedCapabilities(ar.Capabilities)
	s.advRefs = ar
	return ar, nil
}

// waitExit closes the server's input and waits, at most d, for it to exit,
// so that its error output has arrived.
func (s *sshSession) waitExit(ctx context.Context, d time.Duration) {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.sess.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// UploadPack sends the request and returns the response, whose pack the
// caller reads and closes.
func (s *sshSession) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	if req.IsEmpty() {
		return nil, transport.ErrEmptyUploadPackRequest
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if _, err := s.AdvertisedReferencesContext(ctx); err != nil {
		return nil, err
	}
	s.packRun = true
	if err := req.UploadRequest.Encode(s.stdin); err != nil {
		return nil, s.wrap(fmt.Errorf("send wants: %w", err))
	}
	if err := req.UploadHaves.Encode(s.stdin, true); err != nil {
		return nil, s.wrap(fmt.Errorf("send haves: %w", err))
	}
	if err := pktline.NewEncoder(s.stdin).Encodef("done\n"); err != nil {
		return nil, s.wrap(fmt.Errorf("send done: %w", err))
	}
	res := packp.NewUploadPackResponse(req)
	if err := res.Decode(io.NopCloser(s.stdout)); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, s.wrap(fmt.Errorf("decode response: %w", err))
	}
	return res, nil
}

// Close ends the session; a session that sent no request first tells the
// server it wants nothing, as git does.
func (s *sshSession) Close() error {
	s.once.Do(func() {
		if s.stdin != nil && !s.packRun {
			_, _ = s.stdin.Write(pktline.FlushPkt)
		}
		if s.sess != nil {
			_ = s.sess.Close()
		}
		if s.client != nil {
			_ = s.client.Close()
		}
		_ = s.conn.Close()
		if s.stop != nil {
			s.stop()
		}
	})
	return nil
}

// countingConn charges what it reads to a fetch's budget, so the
// reference listing and the pack are bounded together.
type countingConn struct {
	net.Conn
	b *budget
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.b != nil && c.b.limit > 0 && c.b.bytes.Add(int64(n)) > c.b.limit {
		return n, fmt.Errorf("%w: more than %d bytes", ErrTransferLimit, c.b.limit)
	}
	return n, err
}

// capped keeps the first max bytes written to it: a server's stderr, for
// error messages.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) firstLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	line, _, _ := strings.Cut(c.buf.String(), "\n")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, line)
}

// hostKeyAlgorithms lists the host key algorithms of the known_hosts
// entries for addr, so that a server offering several host keys shows one
// the host trusts. Nil (the library's defaults) when none match.
func hostKeyAlgorithms(knownHosts []byte, addr string) []string {
	entries, err := parseKnownHosts(knownHosts)
	if err != nil {
		return nil
	}
	var out []string
	add := func(algos ...string) {
		for _, a := range algos {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	norm := normalizeAddr(addr)
	for _, e := range entries {
		for _, h := range e.hosts {
			if !matchHost(h, norm) {
				continue
			}
			switch t := e.key.Type(); t {
			case ssh.KeyAlgoRSA:
				add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			default:
				add(t)
			}
		}
	}
	return out
}
