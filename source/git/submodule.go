package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/converge-dev/converge/source"
)

// Bounds on submodules, against a repository that nests them without end
// or lists thousands of them.
const (
	// MaxSubmoduleDepth is how deep submodules may nest: a submodule of
	// the fetched repository is at depth 1.
	MaxSubmoduleDepth = 8
	// MaxSubmodules bounds the submodules one snapshot fetches.
	MaxSubmodules = 256
)

// ErrSubmodule reports a submodule that cannot be fetched: no entry in
// .gitmodules for a gitlink, a URL converge refuses, nesting too deep.
var ErrSubmodule = errors.New("bad submodule")

// WithSubmodules fetches submodules, recursively, into the snapshot at
// their paths; by default they are left out (their paths are absent).
//
// Each submodule URL comes from the .gitmodules file of the commit that
// holds it and passes the same checks as the repository's own URL
// ([ParseURL]: no option-like URLs, only https, http and ssh, file only
// [WithFileURLs]); a relative URL ("./x", "../x") is resolved against the
// URL of the repository whose .gitmodules names it, as git does, and may
// not climb above its host. The pinned commit is fetched as an exact
// commit (see [Reference].Commit), within the same [WithMaxFetchBytes]
// budget and [WithTimeout] as the rest of the Fetch; its files count
// towards the same [source.Limits], pass the same confinement, and obey
// the same ignore rules (patterns and .sourceignore files match paths from
// the snapshot's root). Credentials go only to the repository's own
// origin: an HTTP(S) submodule on another scheme, host or port is fetched
// without them; an SSH submodule uses the [WithSSHKey] key, and its host
// must be in the same known_hosts. Signatures are checked on the
// repository's own commit or tag only. Submodules nest at most
// [MaxSubmoduleDepth] deep and at most [MaxSubmodules] are fetched; a
// .gitmodules file over [source.MaxIgnoreFileBytes] fails the Fetch, and
// one that is a symbolic link is not read (as git does not).
//
// Each submodule repository is cached like the main one (in memory, or
// under [WithCacheDir]), keyed by URL, so a later Fetch transfers only new
// objects.
func WithSubmodules() Option { return func(o *options) { o.submodules = true } }

// submoduleError names the submodule in a failure.
func submoduleError(p, reason string, err error) error {
	if err != nil {
		return fmt.Errorf("%w %q: %s: %w", ErrSubmodule, p, reason, err)
	}
	return fmt.Errorf("%w %q: %s", ErrSubmodule, p, reason)
}

// readModules parses the .gitmodules file of tree, keyed by path. A tree
// without one has no submodule URLs.
func readModules(w *treeWalker, tree *object.Tree) (map[string]*config.Submodule, error) {
	e, err := tree.FindEntry(".gitmodules")
	if err != nil {
		return nil, nil
	}
	if e.Mode != filemode.Regular && e.Mode != filemode.Executable {
		return nil, nil // git, too, ignores a .gitmodules that is a link
	}
	data, err := w.readBlob(e.Hash, source.MaxIgnoreFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read .gitmodules: %w", err)
	}
	m := config.NewModules()
	if err := m.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("%w: .gitmodules does not parse", ErrSubmodule)
	}
	out := make(map[string]*config.Submodule, len(m.Submodules))
	for _, sm := range m.Submodules {
		out[path.Clean(sm.Path)] = sm
	}
	return out, nil
}

// resolveSubmoduleURL returns the URL a .gitmodules entry names, relative
// ones resolved against base as git resolves them ("./x" below the base
// URL itself, each "../" one path component up), checked by [ParseURL].
func resolveSubmoduleURL(base *url.URL, raw string, allowFile bool) (*url.URL, error) {
	if !strings.HasPrefix(raw, "./") && !strings.HasPrefix(raw, "../") {
		return ParseURL(raw, allowFile)
	}
	if strings.ContainsAny(raw, "?#") {
		return nil, &URLError{URL: Redact(raw), Reason: "query or fragment"}
	}
	dir := strings.TrimRight(base.Path, "/")
	rest := raw
	for {
		switch {
		case strings.HasPrefix(rest, "./"):
			rest = rest[2:]
			continue
		case strings.HasPrefix(rest, "../"):
			rest = rest[3:]
			i := strings.LastIndex(dir, "/")
			if i < 0 || dir == "" {
				return nil, &URLError{URL: Redact(raw), Reason: "relative URL climbs above the host"}
			}
			dir = dir[:i]
			continue
		}
		break
	}
	if rest == "" {
		return nil, &URLError{URL: Redact(raw), Reason: "relative URL names no repository"}
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "." || seg == ".." {
			return nil, &URLError{URL: Redact(raw), Reason: "relative URL with a dot component after its prefix"}
		}
	}
	u := *base
	u.Path = dir + "/" + rest
	u.RawPath = ""
	return ParseURL(u.String(), allowFile)
}

// child returns the Source that fetches submodule repositories from u,
// creating it on first use. It shares the parent's options, HTTP client
// and cache directory, and keeps its own repository between fetches.
func (s *Source) child(u *url.URL) (*Source, error) {
	key := u.String()
	if c, ok := s.children[key]; ok {
		return c, nil
	}
	c := &Source{url: u, display: Redact(key), opts: s.opts, http: s.http}
	c.opts.verify = "" // signatures are the top repository's
	switch u.Scheme {
	case "http", "https":
		if sameOrigin(s.url, u) {
			c.auth = s.auth
		}
	case "ssh":
		if s.opts.sshKey == nil {
			return nil, errors.New("ssh URL needs WithSSHKey")
		}
		user := s.opts.sshUser
		if u.User != nil {
			user = u.User.Username()
		}
		auth, err := sshAuth(user, s.opts.sshKey, s.opts.sshPassphrase, s.opts.knownHosts)
		if err != nil {
			return nil, err
		}
		c.auth = auth
	}
	if s.opts.cacheDir == "" {
		c.sto = memory.NewStorage()
	} else {
		sum := sha256.Sum256([]byte(key + "\x00submodule"))
		dir := filepath.Join(s.opts.cacheDir, hex.EncodeToString(sum[:12]))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		c.sto = filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(8*cache.MiByte),
			filesystem.Options{ExclusiveAccess: true})
	}
	if s.children == nil {
		s.children = map[string]*Source{}
	}
	s.children[key] = c
	return c, nil
}

// sameOrigin reports whether a and b share scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	case "ssh":
		return "22"
	}
	return ""
}

// fetchObjects brings commit want into c's repository, when it is not
// there already.
func (c *Source) fetchObjects(ctx context.Context, want plumbing.Hash, b *budget) error {
	if c.hasCommit(want) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, err := c.openSession(ctx, c.url, b)
	if err != nil {
		return err
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = sess.Close()
		return fmt.Errorf("list references: %w", err)
	}
	return c.getCommit(ctx, sess, ar, want, nil, b)
}

// submodule adds the submodule whose gitlink e is at path p (relative to
// the snapshot root) to the snapshot, walking its tree with ig.
func (w *treeWalker) submodule(p string, e object.TreeEntry, ig *source.Ignore) error {
	rel := strings.TrimPrefix(p, w.root)
	rel = strings.TrimPrefix(rel, "/")
	sm, ok := w.mods[rel]
	if !ok || sm.URL == "" {
		return submoduleError(p, "no URL in .gitmodules", nil)
	}
	if w.depth+1 > MaxSubmoduleDepth {
		return submoduleError(p, fmt.Sprintf("nested more than %d deep", MaxSubmoduleDepth), nil)
	}
	*w.count++
	if *w.count > MaxSubmodules {
		return &source.LimitError{What: "submodule count", Limit: MaxSubmodules, Path: p}
	}
	u, err := resolveSubmoduleURL(w.s.url, sm.URL, w.s.opts.allowFile)
	if err != nil {
		return submoduleError(p, "URL", err)
	}
	c, err := w.s.child(u)
	if err != nil {
		return submoduleError(p, Redact(u.String()), err)
	}
	c.stoMu.Lock()
	defer c.stoMu.Unlock()
	b, _ := w.ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		b = &budget{limit: w.s.opts.maxFetch}
	}
	if err := c.fetchObjects(w.ctx, e.Hash, b); err != nil {
		return submoduleError(p, c.display, err)
	}
	commit, err := object.GetCommit(c.sto, e.Hash)
	if err != nil {
		return submoduleError(p, "read commit", err)
	}
	tree, err := object.GetTree(c.sto, commit.TreeHash)
	if err != nil {
		return submoduleError(p, "read tree", err)
	}
	cw := &treeWalker{
		s:      c,
		ctx:    w.ctx,
		b:      w.b,
		levels: w.levels,
		sizes:  make(map[plumbing.Hash]int64),
		root:   p,
		depth:  w.depth + 1,
		count:  w.count,
	}
	if cw.mods, err = readModules(cw, tree); err != nil {
		return submoduleError(p, "modules", err)
	}
	if err := cw.walk(tree, p, ig); err != nil {
		return err
	}
	c.sizes = cw.sizes
	return nil
}
