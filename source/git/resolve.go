package git

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
)

// ResolveRevision reads rev in the Git repository at dir, a work tree's
// root (holding .git, a directory or a worktree's file) or a bare
// repository, as `git rev-parse --verify rev^{commit}` does, and returns
// the [Reference] that fetches that commit from the same repository
// through a file URL ([WithFileURLs]): Commit is the full hash, and Branch
// or Name the reference rev starts from, if any, so that a Fetch searches
// that reference's history only (see [Reference]).
//
// rev is any of git's revision forms that names one commit without the
// reflog (gitrevisions(7)):
//
//   - a reference name as git expands it: "main", "v1.4.2", "heads/main",
//     "origin/main" (refs/remotes/origin/main), "origin"
//     (refs/remotes/origin/HEAD), "refs/pull/7/head", "HEAD", "@";
//     where several match, git's order wins (refs/<name>, refs/tags,
//     refs/heads, refs/remotes, as git warns about);
//   - a full or abbreviated commit hash (at least 4 hex digits, a
//     reference of the same name winning), or `git describe` output
//     ("v1.4.2-3-g1a2b3c4");
//   - any of those followed by "~", "~n", "^", "^n" and "^{}",
//     "^{commit}", "^{tag}", "^{object}": "HEAD~1", "main^2", "v1^{}".
//
// The forms git reads from the reflog or the configuration ("main@{1}",
// "@{yesterday}", "@{-1}", "@{upstream}", "@{push}"), those that name a
// file or a tree ("HEAD:apps", "HEAD^{tree}"), those that search commit
// messages (":/fix", "HEAD^{/fix}") and ranges ("a..b", "^a", "HEAD^!")
// fail with [ErrUnsupportedRevision]; go-git keeps no reflog, and the
// others name no single commit. Malformed input, and an abbreviated hash
// that matches several commits, fail with [ErrInvalidReference]; a
// revision the repository does not have fails with a *[NotFoundError].
//
// ResolveRevision only reads the repository. It honours ctx while it
// walks the history.
func ResolveRevision(ctx context.Context, dir, rev string) (Reference, error) {
	fail := func(err error) (Reference, error) { return Reference{}, fmt.Errorf("git %s: %w", dir, err) }
	r, err := parseRevision(rev)
	if err != nil {
		return fail(err)
	}
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return fail(fmt.Errorf("open repository: %w", err))
	}
	res := &resolver{ctx: ctx, sto: repo.Storer, rev: rev}
	h, refName, err := res.resolve(r)
	if err != nil {
		return fail(err)
	}
	ref := Reference{Commit: h.String()}
	switch {
	case strings.HasPrefix(refName, "refs/heads/"):
		ref.Branch = strings.TrimPrefix(refName, "refs/heads/")
	case strings.HasPrefix(refName, "refs/"):
		ref.Name = refName
	}
	if ref.Validate() != nil {
		// A reference git made but its own rules refuse: fetch the
		// commit from every branch instead.
		ref = Reference{Commit: h.String()}
	}
	return ref, nil
}

// resolver resolves one parsed revision in a repository's storage.
type resolver struct {
	ctx context.Context
	sto storage.Storer
	rev string
}

// hint says which objects an abbreviated hash may name, as git's
// disambiguation does: any object, those that peel to a commit, or
// commits only (for `git describe` output).
type hint int

const (
	anyObject hint = iota
	committish
	commitOnly
)

// describeName matches `git describe` output: the hash after "-g".
var describeName = regexp.MustCompile(`^.+-g([0-9a-fA-F]+)$`)

func (r *resolver) notFound(detail string) error {
	if detail == "" {
		return &NotFoundError{Ref: r.rev}
	}
	return fmt.Errorf("%w: %s", &NotFoundError{Ref: r.rev}, detail)
}

// resolve returns the commit rev names and the full name of the reference
// it starts from ("" for a hash or a detached HEAD).
func (r *resolver) resolve(rev revExpr) (plumbing.Hash, string, error) {
	// git asks for what peels to a commit unless the first suffix asks for
	// another type.
	h := committish
	if len(rev.steps) > 0 && rev.steps[0].op == '{' && rev.steps[0].kind != "commit" {
		h = anyObject
	}
	cur, refName, err := r.base(rev.base, h)
	if err != nil {
		return plumbing.ZeroHash, "", err
	}
	for _, s := range rev.steps {
		if cur, err = r.step(cur, s); err != nil {
			return plumbing.ZeroHash, "", err
		}
	}
	c, err := r.peelTo(cur, plumbing.CommitObject)
	return c, refName, err
}

// base resolves the name before the suffixes, in git's order: a full
// hash, then references by git's rules, then `git describe` output, then
// an abbreviated hash.
func (r *resolver) base(name string, h hint) (plumbing.Hash, string, error) {
	if len(name) == 40 && isHexDigits(name) {
		hash := plumbing.NewHash(strings.ToLower(name))
		if _, err := r.sto.EncodedObject(plumbing.AnyObject, hash); err != nil {
			return plumbing.ZeroHash, "", r.notFound("")
		}
		return hash, "", nil
	}
	for _, full := range expandName(name) {
		ref, err := storer.ResolveReference(r.sto, plumbing.ReferenceName(full))
		if err == nil && !ref.Hash().IsZero() {
			n := ref.Name().String()
			if n == "HEAD" {
				n = "" // detached
			}
			return ref.Hash(), n, nil
		}
	}
	if m := describeName.FindStringSubmatch(name); m != nil {
		if hash, ok, err := r.abbreviated(m[1], commitOnly); ok || err != nil {
			return hash, "", err
		}
	}
	if len(name) >= 4 && isHexDigits(name) {
		if hash, ok, err := r.abbreviated(name, h); ok || err != nil {
			return hash, "", err
		}
	}
	return plumbing.ZeroHash, "", r.notFound("")
}

// expandName lists the references name may stand for, in git's order
// (refs.c, ref_rev_parse_rules). The name itself counts only for what git
// reads as a reference at the top of the repository: "refs/..." and
// all-capitals names such as HEAD.
func expandName(name string) []string {
	var out []string
	if strings.HasPrefix(name, "refs/") || isRootRef(name) {
		out = append(out, name)
	}
	return append(out, "refs/"+name, "refs/tags/"+name, "refs/heads/"+name,
		"refs/remotes/"+name, "refs/remotes/"+name+"/HEAD")
}

func isRootRef(name string) bool {
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return name != ""
}

// abbreviated resolves an abbreviated hash (4 to 39 hex digits). ok is
// false when no object matches; several matches fail, unless h leaves
// exactly one, as in git.
func (r *resolver) abbreviated(prefix string, h hint) (plumbing.Hash, bool, error) {
	if len(prefix) < 4 || len(prefix) >= 40 {
		return plumbing.ZeroHash, false, nil
	}
	prefix = strings.ToLower(prefix)
	even, err := hex.DecodeString(prefix[:len(prefix)&^1])
	if err != nil {
		return plumbing.ZeroHash, false, nil
	}
	lister, ok := r.sto.(interface {
		HashesWithPrefix(prefix []byte) ([]plumbing.Hash, error)
	})
	if !ok {
		return plumbing.ZeroHash, false, errors.New("the repository's storage cannot look up abbreviated hashes")
	}
	all, err := lister.HashesWithPrefix(even)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("look up abbreviated hash: %w", err)
	}
	var cands []plumbing.Hash
	for _, c := range all {
		if strings.HasPrefix(c.String(), prefix) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return plumbing.ZeroHash, false, nil
	}
	fits := cands
	if h != anyObject {
		fits = nil
		for _, c := range cands {
			if r.fits(c, h) {
				fits = append(fits, c)
			}
		}
	}
	if len(fits) == 1 {
		return fits[0], true, nil
	}
	if len(fits) == 0 && len(cands) == 1 {
		return cands[0], true, nil // not a commit: peeling says so
	}
	return plumbing.ZeroHash, true, fmt.Errorf("%w: revision %q: the abbreviated hash %s is ambiguous (%d objects match): give more digits",
		ErrInvalidReference, truncate(r.rev, 256), prefix, len(cands))
}

func (r *resolver) fits(h plumbing.Hash, want hint) bool {
	obj, err := r.sto.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return false
	}
	if want == commitOnly {
		return obj.Type() == plumbing.CommitObject
	}
	_, err = r.peelTo(h, plumbing.CommitObject)
	return err == nil
}

// step applies one suffix.
func (r *resolver) step(cur plumbing.Hash, s revStep) (plumbing.Hash, error) {
	switch s.op {
	case '{':
		switch s.kind {
		case "object":
			return cur, nil
		case "":
			return r.peelTo(cur, plumbing.AnyObject)
		case "commit":
			return r.peelTo(cur, plumbing.CommitObject)
		case "tag":
			if t, err := r.typeOf(cur); err != nil || t != plumbing.TagObject {
				return plumbing.ZeroHash, fmt.Errorf("%w: %q: ^{tag} of an object that is not an annotated tag", ErrUnsupportedRevision, truncate(r.rev, 256))
			}
			return cur, nil
		}
		return plumbing.ZeroHash, fmt.Errorf("%w: %q names a %s, not a commit", ErrUnsupportedRevision, truncate(r.rev, 256), s.kind)
	case '^':
		c, err := r.commit(cur)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if s.n == 0 {
			return c.Hash, nil
		}
		if len(c.ParentHashes) < s.n {
			return plumbing.ZeroHash, r.notFound(fmt.Sprintf("commit %s has %d parents", c.Hash, len(c.ParentHashes)))
		}
		return c.ParentHashes[s.n-1], nil
	case '~':
		c, err := r.commit(cur)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for i := 0; i < s.n; i++ {
			if err := r.ctx.Err(); err != nil {
				return plumbing.ZeroHash, err
			}
			if len(c.ParentHashes) == 0 {
				return plumbing.ZeroHash, r.notFound(fmt.Sprintf("the history ends %d commits back", i))
			}
			if c, err = r.commit(c.ParentHashes[0]); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		return c.Hash, nil
	}
	return plumbing.ZeroHash, fmt.Errorf("unknown revision step %q", s.op)
}

// commit peels h to a commit and reads it.
func (r *resolver) commit(h plumbing.Hash) (*object.Commit, error) {
	c, err := r.peelTo(h, plumbing.CommitObject)
	if err != nil {
		return nil, err
	}
	commit, err := object.GetCommit(r.sto, c)
	if err != nil {
		return nil, r.notFound(fmt.Sprintf("commit %s is not in the repository (a shallow clone?)", c))
	}
	return commit, nil
}

func (r *resolver) typeOf(h plumbing.Hash) (plumbing.ObjectType, error) {
	obj, err := r.sto.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.InvalidObject, r.notFound(fmt.Sprintf("object %s is not in the repository", h))
	}
	return obj.Type(), nil
}

// peelTo follows annotated tags from h until an object of type want, or
// until an object that is not a tag when want is AnyObject.
func (r *resolver) peelTo(h plumbing.Hash, want plumbing.ObjectType) (plumbing.Hash, error) {
	for range 100 {
		t, err := r.typeOf(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if t == want || (want == plumbing.AnyObject && t != plumbing.TagObject) {
			return h, nil
		}
		if t != plumbing.TagObject {
			return plumbing.ZeroHash, fmt.Errorf("%w: %q names a %s, not a commit", ErrUnsupportedRevision, truncate(r.rev, 256), t)
		}
		tag, err := object.GetTag(r.sto, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tag %s: %w", h, err)
		}
		h = tag.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s is too long", h)
}
