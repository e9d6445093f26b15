package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/dir"
	"github.com/converge-dev/converge/source/git"
)

// SecretReader reads a Secret's data, for credentials named by
// Source.SecretRef.
type SecretReader interface {
	Secret(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// SecretReaderFunc adapts a function to a [SecretReader].
type SecretReaderFunc func(ctx context.Context, namespace, name string) (map[string][]byte, error)

// Secret calls f.
func (f SecretReaderFunc) Secret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	return f(ctx, namespace, name)
}

var _ SecretReader = SecretReaderFunc(nil)

// FetcherOptions configure the default fetcher.
type FetcherOptions struct {
	// CacheDir keeps Git repositories on disk, one folder per source, so a
	// restarted host transfers only new objects; in memory when empty.
	CacheDir string
	// AllowFileURLs allows file:// Git URLs (local repositories), which
	// are refused by default: a unit from an untrusted host must not read
	// the machine's files.
	AllowFileURLs bool
	// Timeout bounds each Git fetch; the pass's context bounds it too.
	Timeout time.Duration
	// Coalesce is how long a fetched snapshot answers further fetches of
	// the same source, so that units sharing a repository cost one
	// reference listing per interval, not one each. Off when zero: each
	// fetch asks the server, unless the pass comes from a Loop, which asks
	// for its LoopOptions.Coalesce.
	Coalesce time.Duration
	// Secrets resolves Source.SecretRef; the Reconciler's own cluster by
	// default.
	Secrets SecretReader
	Logger  logr.Logger
}

// Expirer is implemented by fetchers that coalesce fetches: Expire makes
// the next fetch of the unit's source ask the server (a webhook said it
// changed).
type Expirer interface {
	Expire(u *Unit)
}

// NewFetcher returns the default fetcher: Git URLs through source/git and
// directories through source/dir. One source.Source serves every unit
// with the same source settings and credentials.
func NewFetcher(o FetcherOptions) Fetcher {
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	return &fetcher{opts: o, sources: map[string]*sharedSource{}}
}

type fetcher struct {
	opts    FetcherOptions
	mu      sync.Mutex
	sources map[string]*sharedSource
}

// sharedSource is one source.Source and its last snapshot.
type sharedSource struct {
	src source.Source
	url string

	mu      sync.Mutex // one fetch at a time; the others wait and share it
	snap    *source.Snapshot
	fetched time.Time
	expired atomic.Bool
}

var (
	_ Fetcher = (*fetcher)(nil)
	_ Expirer = (*fetcher)(nil)
)

func (f *fetcher) Fetch(ctx context.Context, u *Unit) (*source.Snapshot, error) {
	creds, err := f.credentials(ctx, u)
	if err != nil {
		return nil, err
	}
	key, err := sourceKey(u, creds)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	s := f.sources[key]
	if s == nil {
		src, err := f.open(u, creds, key)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		s = &sharedSource{src: src, url: u.Source.URL + u.Source.Dir}
		f.sources[key] = s
	}
	f.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	coalesce := max(f.opts.Coalesce, coalesceOf(ctx))
	if s.snap != nil && coalesce > 0 && time.Since(s.fetched) < coalesce && !s.expired.Load() {
		return s.snap, nil
	}
	s.expired.Store(false)
	snap, err := s.src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.snap, s.fetched = snap, time.Now()
	return snap, nil
}

func (f *fetcher) Expire(u *Unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sources {
		if s.url == u.Source.URL+u.Source.Dir {
			s.expired.Store(true)
		}
	}
}

type coalesceKey struct{}

// withCoalesce asks the default fetcher to answer with a snapshot up to d
// old, as a Loop does.
func withCoalesce(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, coalesceKey{}, d)
}

func coalesceOf(ctx context.Context) time.Duration {
	d, _ := ctx.Value(coalesceKey{}).(time.Duration)
	return d
}

// sourceKey identifies a source by its settings and a hash of its
// credentials (never the credentials themselves).
func sourceKey(u *Unit, creds *Credentials) (string, error) {
	spec := u.Source
	spec.Credentials, spec.SecretRef = nil, ""
	credHash := ""
	if creds != nil {
		b, err := json.Marshal(creds)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		credHash = hex.EncodeToString(sum[:])
	}
	b, err := json.Marshal(struct {
		Spec  Source
		Creds string
	}{spec, credHash})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

func (f *fetcher) open(u *Unit, creds *Credentials, key string) (source.Source, error) {
	if u.Source.Dir != "" {
		var opts []dir.Option
		if len(u.Source.Ignore) > 0 {
			opts = append(opts, dir.WithIgnore(u.Source.Ignore...))
		}
		return dir.New(u.Source.Dir, opts...), nil
	}
	ref := u.Source.Ref
	if ref == (git.Reference{}) {
		ref.Branch = "main"
	}
	opts := []git.Option{git.WithLogger(f.opts.Logger)}
	if !u.Source.RefuseRewrites {
		// A force-push back to an older commit is how teams roll back:
		// follow the branch, as Flux and Argo CD do.
		opts = append(opts, git.WithHistoryRewrites())
	}
	if f.opts.CacheDir != "" {
		opts = append(opts, git.WithCacheDir(filepath.Join(f.opts.CacheDir, key)))
	}
	if f.opts.AllowFileURLs {
		opts = append(opts, git.WithFileURLs())
	}
	if f.opts.Timeout > 0 {
		opts = append(opts, git.WithTimeout(f.opts.Timeout))
	}
	if len(u.Source.Ignore) > 0 {
		opts = append(opts, git.WithIgnore(u.Source.Ignore...))
	}
	if u.Source.Submodules {
		opts = append(opts, git.WithSubmodules())
	}
	if v := u.Source.Verify; v != nil {
		opts = append(opts, git.WithVerification(v.Mode, v.Keys...))
	}
	if c := creds; c != nil {
		switch {
		case c.Username != "" || c.Password != "":
			opts = append(opts, git.WithBasicAuth(c.Username, c.Password))
		case c.BearerToken != "":
			opts = append(opts, git.WithBearerToken(c.BearerToken))
		case len(c.SSHKey) > 0:
			opts = append(opts, git.WithSSHKey("git", c.SSHKey, c.SSHPassphrase, c.KnownHosts))
		}
		if len(c.CABundle) > 0 {
			opts = append(opts, git.WithCABundle(c.CABundle))
		}
	}
	src, err := git.New(u.Source.URL, ref, opts...)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// credentials returns the unit's credentials: given, or read from the
// Secret SecretRef names, in Flux's GitRepository format.
func (f *fetcher) credentials(ctx context.Context, u *Unit) (*Credentials, error) {
	if u.Source.Credentials != nil || u.Source.SecretRef == "" {
		return u.Source.Credentials, nil
	}
	if f.opts.Secrets == nil {
		return nil, fmt.Errorf("source secretRef %s: no way to read Secrets", u.Source.SecretRef)
	}
	ns := u.Namespace
	if ns == "" {
		ns = "default"
	}
	d, err := f.opts.Secrets.Secret(ctx, ns, u.Source.SecretRef)
	if err != nil {
		return nil, fmt.Errorf("source credentials: %w", err)
	}
	return CredentialsFromSecret(d), nil
}

// CredentialsFromSecret reads credentials from a Secret's data in Flux's
// GitRepository format: username and password, or bearerToken, or
// identity (an SSH private key) with known_hosts and an optional
// password as passphrase; ca.crt (or caFile) for https.
func CredentialsFromSecret(d map[string][]byte) *Credentials {
	c := &Credentials{
		Username:    string(d["username"]),
		Password:    string(d["password"]),
		BearerToken: string(d["bearerToken"]),
		SSHKey:      d["identity"],
		KnownHosts:  d["known_hosts"],
		CABundle:    d["ca.crt"],
	}
	if len(c.CABundle) == 0 {
		c.CABundle = d["caFile"]
	}
	if len(c.SSHKey) > 0 {
		c.SSHPassphrase, c.Password = d["password"], ""
	}
	return c
}
