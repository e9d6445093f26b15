package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"

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
			return s.finish(ctx, prev, target{label: s.ref.Branch, remote: want}, want)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tr, ep, err := newTransport(s.url, s.http)
	if err != nil {
		return nil, err
	}
	sess, err := tr.NewUploadPackSession(ep, s.auth)
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
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
	t, err := s.resolve(ar)
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

// resolve finds the reference in the remote's advertisement.
func (s *Source) resolve(ar *packp.AdvRefs) (target, error) {
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
		tag, err := pickSemVer(s.ref.SemVer, all)
		if err != nil {
			return target{}, err
		}
		if tag == "" {
			return target{}, &NotFoundError{Ref: "tag in range " + s.ref.SemVer}
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

// fetchCommit fetches an exact commit: directly when the server allows
// wanting any reachable commit, otherwise with the history of the branch
// (or of every branch) that should hold it.
func (s *Source) fetchCommit(ctx context.Context, sess transport.UploadPackSession, ar *packp.AdvRefs, prev *state, b *budget) (*source.Snapshot, error) {
	want := plumbing.NewHash(s.ref.Commit)
	t := target{label: s.ref.Branch, remote: want}
	caps := ar.Capabilities
	if caps.Supports(capability.AllowReachableSHA1InWant) || caps.Supports(capability.AllowTipSHA1InWant) {
		if err := s.pack(ctx, sess, ar, []plumbing.Hash{want}, prev, 1, b); err != nil {
			return nil, err
		}
	} else {
		var wants []plumbing.Hash
		for n, h := range ar.References {
			if s.ref.Branch != "" && n != "refs/heads/"+s.ref.Branch {
				continue
			}
			if strings.HasPrefix(n, "refs/heads/") && !s.hasObject(h) {
				wants = append(wants, h)
			}
		}
		if s.ref.Branch != "" && len(wants) == 0 && !s.hasObject(ar.References["refs/heads/"+s.ref.Branch]) {
			return nil, &NotFoundError{Ref: "refs/heads/" + s.ref.Branch}
		}
		if len(wants) > 0 {
			if err := s.pack(ctx, sess, ar, wants, prev, 0, b); err != nil {
				return nil, err
			}
		}
	}
	if !s.hasCommit(want) {
		return nil, &NotFoundError{Ref: s.ref.Commit}
	}
	return s.finish(ctx, prev, t, want)
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
	if len(resp.Shallows) > 0 {
		merged := append([]plumbing.Hash(nil), shallows...)
		for _, h := range resp.Shallows {
			if !contains(merged, h) {
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
	if err := packfile.UpdateObjectStorage(s.sto, &limitedReader{r: r, b: b}); err != nil {
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
