package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"

	"github.com/converge-dev/converge/source"
)

// Source fetches one reference of one Git repository. It keeps the
// repository between calls (in memory, or on disk with [WithCacheDir]) and
// the last snapshot, so an unchanged remote costs one reference listing.
// It is safe for concurrent use; calls are serialized.
//
// Snapshot files read their content from the cache when opened (the tree
// is in memory, file contents are not), so opening a file waits while a
// Fetch of the same Source is running, and a snapshot must not outlive its
// cache directory.
type Source struct {
	url     *url.URL
	display string // redacted URL
	ref     Reference
	opts    options
	http    transport.Transport
	auth    transport.AuthMethod

	mu    sync.Mutex // serializes Fetch
	stoMu sync.Mutex // guards sto between Fetch and snapshots reading files
	sto   storage.Storer
	last  *state
	sizes map[plumbing.Hash]int64 // blob sizes seen, guarded by stoMu

	children map[string]*Source // submodule repositories by URL, guarded by mu
}

var _ source.Source = (*Source)(nil)

// state is what the last successful Fetch found.
type state struct {
	remote plumbing.Hash // what the reference pointed at: a commit or a tag object
	commit plumbing.Hash
	snap   *source.Snapshot
}

type options struct {
	limits         source.Limits
	maxFetch       int64
	timeout        time.Duration
	cacheDir       string
	allowFile      bool
	acceptRewrites bool
	submodules     bool
	include        []string
	ignore         []string
	caBundle       []byte
	proxy          *url.URL
	basicUser      string
	basicPass      string
	token          string
	sshUser        string
	sshKey         []byte
	sshPassphrase  []byte
	knownHosts     []byte
	log            logr.Logger
	verify         VerifyMode
	keyText        []string
	keys           trustedKeys
}

// Option configures [New].
type Option func(*options)

// WithLimits replaces [source.DefaultLimits] for the snapshot's content.
func WithLimits(l source.Limits) Option { return func(o *options) { o.limits = l } }

// WithMaxFetchBytes bounds the bytes one Fetch receives from the server
// (reference listing and pack); 0 means no bound. The default is 1 GiB.
func WithMaxFetchBytes(n int64) Option { return func(o *options) { o.maxFetch = n } }

// WithTimeout bounds one Fetch, on top of its context. The default is five
// minutes; 0 means only the context bounds it.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithCacheDir keeps the repository under dir (in a subdirectory per URL
// and reference) instead of in memory, so that a restarted host transfers
// only new objects. One Source at a time may use a given directory.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithFileURLs allows file:// URLs and local paths, which are refused by
// default.
func WithFileURLs() Option { return func(o *options) { o.allowFile = true } }

// WithHistoryRewrites accepts a branch that moved to a commit not
// descending from the one fetched before. Without it such a Fetch fails
// with a *[RewriteError] until the branch comes back.
func WithHistoryRewrites() Option { return func(o *options) { o.acceptRewrites = true } }

// WithInclude keeps only these paths (files, or directories with
// everything under them).
func WithInclude(paths ...string) Option {
	return func(o *options) { o.include = append(o.include, paths...) }
}

// WithIgnore leaves out paths matching these gitignore patterns, in
// addition to the repository's ".sourceignore" files (one may sit in any
// directory; see [source.IgnoreFile]).
func WithIgnore(patterns ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, patterns...) }
}

// WithBasicAuth authenticates HTTP(S) requests with a user and password
// (or token as password).
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.basicUser, o.basicPass = user, password }
}

// WithBearerToken authenticates HTTP(S) requests with a bearer token.
func WithBearerToken(token string) Option { return func(o *options) { o.token = token } }

// WithSSHKey authenticates SSH with a PEM or OpenSSH private key
// (passphrase may be nil) and checks the server's host key strictly
// against knownHosts, in known_hosts format.
func WithSSHKey(user string, key, passphrase, knownHosts []byte) Option {
	return func(o *options) {
		o.sshUser, o.sshKey, o.sshPassphrase, o.knownHosts = user, key, passphrase, knownHosts
	}
}

// WithCABundle trusts these PEM certificates for HTTPS, in addition to the
// system's.
func WithCABundle(pem []byte) Option { return func(o *options) { o.caBundle = pem } }

// WithProxy sends HTTP(S) requests through this proxy instead of the one
// from the environment.
func WithProxy(proxy *url.URL) Option { return func(o *options) { o.proxy = proxy } }

// WithLogger logs fetches at V(1); the default discards.
func WithLogger(l logr.Logger) Option { return func(o *options) { o.log = l } }

// New returns a source for the repository at rawURL (https, http, ssh or
// SCP-like "git@host:org/repo.git"; file only [WithFileURLs]) and ref. It
// validates the URL, the reference and the credentials, and does no I/O
// beyond creating the cache directory.
func New(rawURL string, ref Reference, opts ...Option) (*Source, error) {
	o := options{
		limits:   source.DefaultLimits(),
		maxFetch: 1 << 30,
		timeout:  5 * time.Minute,
		log:      logr.Discard(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := ParseURL(rawURL, o.allowFile)
	if err != nil {
		return nil, err
	}
	s := &Source{url: u, display: Redact(u.String()), ref: ref, opts: o}
	fail := func(err error) (*Source, error) { return nil, fmt.Errorf("git %s: %w", s.display, err) }
	if err := ref.Validate(); err != nil {
		return fail(err)
	}
	switch o.verify {
	case "", VerifyHead, VerifyTag, VerifyTagAndHead:
	default:
		return fail(fmt.Errorf("unknown verification mode %q", o.verify))
	}
	if o.verify != "" && len(o.keyText) == 0 {
		return fail(errors.New("verification needs at least one key"))
	}
	if s.opts.keys, err = parseKeys(o.keyText); err != nil {
		return fail(err)
	}
	if ref == (Reference{}) {
		s.ref.Branch = "main"
	}
	if s.http, err = newHTTPTransport(o.caBundle, o.proxy); err != nil {
		return fail(err)
	}
	switch u.Scheme {
	case "http", "https":
		if o.token != "" {
			s.auth = &githttp.TokenAuth{Token: o.token}
		} else if o.basicUser != "" || o.basicPass != "" {
			s.auth = &githttp.BasicAuth{Username: o.basicUser, Password: o.basicPass}
		}
	case "ssh":
		if o.sshKey == nil {
			return fail(errors.New("ssh URL needs WithSSHKey"))
		}
		user := o.sshUser
		if u.User != nil {
			user = u.User.Username()
		}
		if s.auth, err = sshAuth(user, o.sshKey, o.sshPassphrase, o.knownHosts); err != nil {
			return fail(err)
		}
	}
	if o.cacheDir == "" {
		s.sto = memory.NewStorage()
	} else {
		key := sha256.Sum256([]byte(u.String() + "\x00" + fmt.Sprintf("%+v", s.ref)))
		dir := filepath.Join(o.cacheDir, hex.EncodeToString(key[:12]))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(err)
		}
		s.sto = filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(8*cache.MiByte),
			filesystem.Options{ExclusiveAccess: true})
	}
	return s, nil
}

// Fetch returns a snapshot of the reference's current commit. When the
// remote still points where it did at the last Fetch, it returns the same
// snapshot after one reference listing and no pack transfer; an exact
// commit already fetched costs no request at all.
func (s *Source) Fetch(ctx context.Context) (*source.Snapshot, error) {
	if s.opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.timeout)
		defer cancel()
	}
	b := &budget{limit: s.opts.maxFetch}
	ctx = withBudget(ctx, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	s.stoMu.Lock()
	snap, err := s.fetch(ctx, b)
	s.stoMu.Unlock()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, fmt.Errorf("git %s %s: %w", s.display, s.refLabel(), shorten(err))
	}
	s.opts.log.V(1).Info("fetched", "url", s.display, "revision", snap.Revision,
		"requests", b.requests.Load(), "bytes", b.bytes.Load(), "duration", time.Since(start))
	return snap, nil
}

func (s *Source) refLabel() string {
	if s.ref.Commit != "" && s.ref.Branch == "" {
		return s.ref.Commit
	}
	return s.ref.String()
}

// shorten keeps an error's chain but caps its text: some go-git errors
// quote whole lines the server sent.
func shorten(err error) error {
	if len(err.Error()) <= 512 {
		return err
	}
	return shortError{err}
}

type shortError struct{ err error }

func (e shortError) Error() string { return e.err.Error()[:512] + "..." }
func (e shortError) Unwrap() error { return e.err }
