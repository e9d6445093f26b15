package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/converge-dev/converge/source"
)

// fetchedRef records, in the repository, what the last successful Fetch
// found, so that an on-disk cache survives a restart.
const fetchedRef = plumbing.ReferenceName("refs/converge/fetched")

// NotFoundError reports a reference the remote does not have (any more).
type NotFoundError struct {
	Ref string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: %q", source.ErrNotFound, e.Ref)
}

// Unwrap returns [source.ErrNotFound].
func (e *NotFoundError) Unwrap() error { return source.ErrNotFound }

// RewriteError reports a branch that moved to a commit that does not
// descend from the one fetched before.
type RewriteError struct {
	Previous string // revision fetched before
	Current  string // revision the remote has now
}

func (e *RewriteError) Error() string {
	return fmt.Sprintf("%s: %s is not a descendant of %s", source.ErrHistoryRewritten, e.Current, e.Previous)
}

// Unwrap returns [source.ErrHistoryRewritten].
func (e *RewriteError) Unwrap() error { return source.ErrHistoryRewritten }

// target is what a reference resolved to on the remote.
type target struct {
	label  string        // revision prefix: branch or tag name, "" for a commit
	remote plumbing.Hash // the reference's value
	tags   bool          // a tag, which never counts as history
}

func (s *Source) fetch(ctx context.Context, b *budget) (*source.Snapshot, error) {
	prev := s.last
	if prev == nil {
		prev = s.restore()
	}
	if s.ref.Commit != "" {
		want := plumbing.NewHash(s.ref.Commit)
		if prev != nil && prev.commit == want && prev.snap != nil {
			return prev.snap, nil
		}
		if s.hasCommit(want) {
			return s.finish(ctx, prev, target{label: s.commitLabel(), remote: want}, want)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sess, err := s.openSession(ctx, s.url, b)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, &NotFoundError{Ref: s.refLabel()}
	}
	if err != nil {
		return nil, fmt.Errorf("list references: %w", err)
	}
	if s.ref.Commit != "" {
		return s.fetchCommit(ctx, sess, ar, prev, b)
	}
	t, err := s.resolve(ctx, sess, ar, prev, b)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.remote == t.remote && prev.snap != nil {
		return prev.snap, nil // the fast path: one listing, no pack
	}
	if !s.hasObject(t.remote) {
		depth := 1
		if prev != nil && !t.tags && !prev.commit.IsZero() {
			depth = 0 // only new commits, and the history to tell a rewrite
		}
		if err := s.pack(ctx, sess, ar, []plumbing.Hash{t.remote}, prev, depth, b); err != nil {
			return nil, err
		}
	}
	commit, err := s.peel(t.remote)
	if err != nil {
		return nil, err
	}
	return s.finish(ctx, prev, t, commit)
}

// openSession starts an upload-pack session with the repository at u:
// converge's own over SSH (see sshSession), go-git's otherwise (HTTP
// through converge's counting client, and file).
func (s *Source) openSession(ctx context.Context, u *url.URL, b *budget) (transport.UploadPackSession, error) {
	if u.Scheme == "ssh" {
		pk, ok := s.auth.(*gitssh.PublicKeys)
		if !ok {
			return nil, errors.New("ssh URL needs WithSSHKey")
		}
		return dialSSH(ctx, u, pk, s.opts.knownHosts, b)
	}
	tr, ep, err := newTransport(u, s.http)
	if err != nil {
		return nil, err
	}
	sess, err := tr.NewUploadPackSession(ep, s.auth)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	return sess, nil
}

// resolve finds the reference in the remote's advertisement. Tags tied on
// semver precedence may cost a pack (see breakTie).
func (s *Source) resolve(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, prev *state, b *budget) (target, error) {
	var name, label string
	tags := false
	switch {
	case s.ref.Tag != "":
		name, label, tags = "refs/tags/"+s.ref.Tag, s.ref.Tag, true
	case s.ref.SemVer != "":
		var all []string
		for n := range ar.References {
			if t, ok := strings.CutPrefix(n, "refs/tags/"); ok {
				all = append(all, t)
			}
		}
		tied, err := pickSemVer(s.ref.SemVer, all)
		if err != nil {
			return target{}, err
		}
		if len(tied) == 0 {
			return target{}, &NotFoundError{Ref: "tag in range " + s.ref.SemVer}
		}
		tag, err := s.breakTie(ctx, sess, ar, prev, b, tied)
		if err != nil {
			return target{}, err
		}
		name, label, tags = "refs/tags/"+tag, tag, true
	case s.ref.Name != "":
		name, label = s.ref.Name, s.ref.Name
		tags = strings.HasPrefix(name, "refs/tags/")
	default:
		name, label = "refs/heads/"+s.ref.Branch, s.ref.Branch
	}
	h, ok := ar.References[name]
	if !ok || h.IsZero() {
		return target{}, &NotFoundError{Ref: name}
	}
	return target{label: label, remote: h, tags: tags}, nil
}

// breakTie picks one of tags, which tie on semver precedence and are
// sorted by name, greatest first: the one whose commit has the latest
// committer time, as Flux does, and the first (greatest name) of those
// with the same time. It fetches the tied tags (shallow, one pack) only
// when they point to different commits the cache does not all hold.
func (s *Source) breakTie(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, prev *state, b *budget, tags []string) (string, error) {
	if len(tags) == 1 {
		return tags[0], nil
	}
	commits := make([]plumbing.Hash, len(tags))
	var wants []plumbing.Hash
	same := true
	for i, t := range tags {
		name := "refs/tags/" + t
		commits[i] = ar.References[name]
		if p, ok := ar.Peeled[name]; ok {
			commits[i] = p
		}
		same = same && commits[i] == commits[0]
		if !s.hasCommit(commits[i]) {
			wants = append(wants, ar.References[name])
		}
	}
	if same {
		return tags[0], nil
	}
	if len(wants) > 0 {
		if err := s.pack(ctx, sess, ar, wants, prev, 1, b); err != nil {
			return "", fmt.Errorf("fetch tags tied on version %q: %w", tags, err)
		}
	}
	best, bestTime := "", time.Time{}
	for i, t := range tags {
		h := commits[i] // the advertised peeled commit, or the tag's value
		if !s.hasCommit(h) {
			var err error
			if h, err = s.peel(ar.References["refs/tags/"+t]); err != nil {
				return "", fmt.Errorf("tag %q: %w", t, err)
			}
		}
		c, err := object.GetCommit(s.sto, h)
		if err != nil {
			return "", fmt.Errorf("read commit of tag %q: %w", t, err)
		}
		if best == "" || c.Committer.When.After(bestTime) {
			best, bestTime = t, c.Committer.When
		}
	}
	return best, nil
}

// deepenSteps are the depths, counted from the branch tips, at which
// fetchCommit looks for a commit on a server that does not let a client
// want it by hash; 0 is the whole history.
var deepenSteps = []int{1, 10, 100, 1000, 0}

// fetchCommit fetches an exact commit.
//
// When the server allows wanting any reachable commit
// (uploadpack.allowReachableSHA1InWant or allowAnySHA1InWant), or the
// commit is a reference tip, it asks for just that commit, shallow: one
// pack of one commit's tree. Otherwise (git's default) it asks for the tips
// of the branch (or of every branch when none is set) at growing depths,
// 1, 10, 100 and 1000 commits, and at last the whole history, stopping as
// soon as the commit is in the cache. A commit near a tip thus costs a
// shallow fetch or two instead of the full history; each further step
// costs one more listing and one pack that repeats the trees already
// fetched (the server cannot be told to skip them without also skipping
// the history), so the total stays within a small factor of the last
// step's. A commit on no branch is a *[NotFoundError].
func (s *Source) fetchCommit(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, prev *state, b *budget) (*source.Snapshot, error) {
	want := plumbing.NewHash(s.ref.Commit)
	if err := s.getCommit(ctx, sess, ar, want, prev, b); err != nil {
		return nil, err
	}
	return s.finish(ctx, prev, target{label: s.commitLabel(), remote: want}, want)
}

// commitLabel is the revision prefix of an exact commit: the branch or
// reference searched for it, if any.
func (s *Source) commitLabel() string {
	if s.ref.Branch != "" {
		return s.ref.Branch
	}
	return s.ref.Name
}

// getCommit brings the commit want into the cache, as fetchCommit
// describes. sess is closed when it returns.
func (s *Source) getCommit(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, want plumbing.Hash, prev *state, b *budget) error {
	defer func() { _ = sess.Close() }() // the last one reopen started
	direct := ar.Capabilities.Supports(capability.AllowReachableSHA1InWant)
	for _, h := range ar.References {
		direct = direct || h == want
	}
	if direct {
		if err := s.pack(ctx, sess, ar, []plumbing.Hash{want}, prev, 1, b); err != nil {
			if strings.Contains(err.Error(), "not our ref") {
				return &NotFoundError{Ref: want.String()}
			}
			return err
		}
	} else {
		for i, depth := range deepenSteps {
			if i > 0 {
				// One pack per session: SSH and file sessions end with it.
				var err error
				if sess, ar, err = s.reopen(ctx, sess, b); err != nil {
					return err
				}
			}
			wants, err := s.branchTips(ar, want)
			if err != nil {
				return err
			}
			if depth == 0 {
				depth = infiniteDepth
			}
			if err := s.pack(ctx, sess, ar, wants, nil, depth, b); err != nil {
				return err
			}
			if s.hasCommit(want) {
				break
			}
			if depth < infiniteDepth && !s.mayDeepen() {
				break // the history is shorter than depth: all of it is here
			}
		}
	}
	if !s.hasCommit(want) {
		return &NotFoundError{Ref: want.String()}
	}
	return nil
}

// infiniteDepth is git's "deepen 2147483647": the whole history, also
// below commits the cache holds as shallow.
const infiniteDepth = 1<<31 - 1

// branchTips returns the tips of the branch or reference the reference
// names, or of every branch.
func (s *Source) branchTips(ar *packp.AdvRefs, want plumbing.Hash) ([]plumbing.Hash, error) {
	if s.ref.Name != "" {
		h, ok := ar.References[s.ref.Name]
		if !ok || h.IsZero() {
			return nil, &NotFoundError{Ref: s.ref.Name}
		}
		return []plumbing.Hash{h}, nil
	}
	var wants []plumbing.Hash
	for n, h := range ar.References {
		if !strings.HasPrefix(n, "refs/heads/") || (s.ref.Branch != "" && n != "refs/heads/"+s.ref.Branch) {
			continue
		}
		if !contains(wants, h) {
			wants = append(wants, h)
		}
	}
	if len(wants) == 0 {
		if s.ref.Branch != "" {
			return nil, &NotFoundError{Ref: "refs/heads/" + s.ref.Branch}
		}
		return nil, &NotFoundError{Ref: want.String()}
	}
	return wants, nil
}

// mayDeepen reports whether the cache has a shallow boundary, below which
// a deeper fetch can bring more history.
func (s *Source) mayDeepen() bool {
	shallows, err := s.sto.Shallow()
	return err != nil || len(shallows) > 0
}

// reopen closes sess and starts a new session with a fresh listing.
func (s *Source) reopen(ctx context.Context, sess transport.UploadPackSession, b *budget) (transport.UploadPackSession, *packp.AdvRefs, error) {
	_ = sess.Close()
	next, err := s.openSession(ctx, s.url, b)
	if err != nil {
		return nil, nil, err
	}
	ar, err := next.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = next.Close()
		return nil, nil, fmt.Errorf("list references: %w", err)
	}
	return next, ar, nil
}

// pack asks for wants, telling the server what the cache holds, and
// stores the pack it sends.
func (s *Source) pack(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, wants []plumbing.Hash, prev *state, depth int, b *budget) error {
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	req.Wants = wants
	if prev != nil && s.hasObject(prev.remote) {
		req.Haves = []plumbing.Hash{prev.remote}
	}
	shallows, err := s.sto.Shallow()
	if err != nil {
		return fmt.Errorf("read shallow list: %w", err)
	}
	req.Shallows = shallows
	if depth > 0 {
		req.Depth = packp.DepthCommits(depth)
	}
	if depth > 0 || len(shallows) > 0 {
		if err := req.Capabilities.Set(capability.Shallow); err != nil {
			return err
		}
	}
	if ar.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return err
		}
	}
	resp, err := sess.UploadPack(ctx, req)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("request pack: %w", err)
	}
	defer resp.Close()
	if len(resp.Shallows) > 0 || len(resp.Unshallows) > 0 {
		// Commits the server deepened past are no longer the boundary.
		var merged []plumbing.Hash
		for _, h := range append(append([]plumbing.Hash(nil), shallows...), resp.Shallows...) {
			if !contains(merged, h) && !contains(resp.Unshallows, h) {
				merged = append(merged, h)
			}
		}
		if err := s.sto.SetShallow(merged); err != nil {
			return fmt.Errorf("write shallow list: %w", err)
		}
	}
	var r io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		r = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		r = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if s.url.Scheme == "file" {
		r = &limitedReader{r: r, b: b} // HTTP and SSH count on the wire
	}
	if err := packfile.UpdateObjectStorage(s.sto, r); err != nil {
		if b.over() {
			return fmt.Errorf("receive pack: %w: more than %d bytes", ErrTransferLimit, b.limit)
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("receive pack: %w", cerr)
		}
		return fmt.Errorf("receive pack: %w", err)
	}
	return nil
}

func contains(hs []plumbing.Hash, h plumbing.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

func (s *Source) hasObject(h plumbing.Hash) bool {
	if h.IsZero() {
		return false
	}
	_, err := s.sto.EncodedObject(plumbing.AnyObject, h)
	return err == nil
}

func (s *Source) hasCommit(h plumbing.Hash) bool {
	_, err := object.GetCommit(s.sto, h)
	return err == nil
}

// peel follows annotated tags to the commit they tag.
func (s *Source) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := s.sto.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read %s: %w", h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(s.sto, obj)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("decode tag %s: %w", h, err)
			}
			h = tag.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s is too long", h)
}

// restore reads what a previous process fetched into an on-disk cache.
func (s *Source) restore() *state {
	ref, err := s.sto.Reference(fetchedRef)
	if err != nil || !s.hasObject(ref.Hash()) {
		return nil
	}
	commit, err := s.peel(ref.Hash())
	if err != nil {
		return nil
	}
	return &state{remote: ref.Hash(), commit: commit}
}

// isAncestor reports whether old is reachable from the commit at tip,
// walking at most limit commits of what the cache holds.
func (s *Source) isAncestor(ctx context.Context, old, tip plumbing.Hash) bool {
	const limit = 1_000_000
	seen := map[plumbing.Hash]bool{tip: true}
	queue := []plumbing.Hash{tip}
	for len(queue) > 0 && len(seen) < limit {
		if ctx.Err() != nil {
			return false
		}
		h := queue[0]
		queue = queue[1:]
		if h == old {
			return true
		}
		c, err := object.GetCommit(s.sto, h)
		if err != nil {
			continue // the shallow edge of the cache
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}

func revision(label string, commit plumbing.Hash) string {
	if label == "" {
		return "sha1:" + commit.String()
	}
	return label + "@sha1:" + commit.String()
}

// finish checks history, builds the snapshot and records the state.
func (s *Source) finish(ctx context.Context, prev *state, t target, commit plumbing.Hash) (*source.Snapshot, error) {
	if prev != nil && !t.tags && s.ref.Commit == "" && !prev.commit.IsZero() && prev.commit != commit &&
		!s.isAncestor(ctx, prev.commit, commit) {
		err := &RewriteError{Previous: revision(t.label, prev.commit), Current: revision(t.label, commit)}
		if !s.opts.acceptRewrites {
			return nil, err
		}
		s.opts.log.Info("history rewritten", "url", s.display, "previous", err.Previous, "current", err.Current)
	}
	if err := s.verify(t, commit); err != nil {
		return nil, err
	}
	snap, err := s.snapshot(ctx, commit, revision(t.label, commit))
	if err != nil {
		return nil, err
	}
	if err := s.sto.SetReference(plumbing.NewHashReference(fetchedRef, t.remote)); err != nil {
		return nil, fmt.Errorf("record fetched reference: %w", err)
	}
	s.last = &state{remote: t.remote, commit: commit, snap: snap}
	return snap, nil
}
