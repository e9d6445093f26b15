package git_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// FuzzRevisionSyntax: the revision parser and RemoteReferences take any
// string. An accepted expression writes back in a canonical form that
// parses to itself; a refusal is typed; every Reference RemoteReferences
// returns is valid.
func FuzzRevisionSyntax(f *testing.F) {
	for _, s := range []string{"HEAD~1", "@", "main^2~3^{commit}", "v1^{}", "a..b", "main@{1}", ":/x", "HEAD:p",
		"^x", "HEAD^!", "~1.4", ">=1.0 <2", "refs/pull/7/head", strings.Repeat("ab", 20), "3f2a9c1", "-x",
		"HEAD~99999999999", "x^{", "x^{tree}", "a\x00b", "HEAD^{/fix}", "v1.0-3-gabcdef0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		canon, err := git.CanonicalRevision(expr)
		if err != nil {
			if !errors.Is(err, git.ErrInvalidReference) && !errors.Is(err, git.ErrUnsupportedRevision) {
				t.Fatalf("untyped refusal of %q: %v", expr, err)
			}
		} else {
			again, err := git.CanonicalRevision(canon)
			if err != nil || again != canon {
				t.Fatalf("%q is %q, which parses to %q, %v", expr, canon, again, err)
			}
		}
		refs, err := git.RemoteReferences(expr)
		if err != nil {
			if refs != nil || (!errors.Is(err, git.ErrInvalidReference) && !errors.Is(err, git.ErrUnsupportedRevision)) {
				t.Fatalf("RemoteReferences(%q): %v, %v", expr, refs, err)
			}
			return
		}
		if len(refs) == 0 {
			t.Fatalf("RemoteReferences(%q): no reference and no error", expr)
		}
		for _, r := range refs {
			if err := r.Validate(); err != nil {
				t.Fatalf("RemoteReferences(%q) gives an invalid %+v: %v", expr, r, err)
			}
		}
	})
}

// FuzzResolveRevision compares ResolveRevision with `git rev-parse
// --verify rev^{commit}` on the test repository: a commit converge finds
// is the one git finds, and converge never calls "not found" what git
// finds. (It may refuse, as invalid or unsupported, forms git reads; see
// ResolveRevision.)
func FuzzResolveRevision(f *testing.F) {
	r := newRevisionRepo(f)
	resolvable, refused, unsupported := revisionCases(r)
	for _, s := range append(append(resolvable, refused...), unsupported...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rev string) {
		if strings.ContainsRune(rev, 0) || !utf8.ValidString(rev) || len(rev) > 256 {
			return // not an argument git can be given
		}
		ref, err := git.ResolveRevision(context.Background(), r.work, rev)
		want := gitRevParse(r.work, rev)
		switch {
		case err == nil && ref.Commit != want:
			t.Fatalf("%q: converge resolves %s, git %q", rev, ref.Commit, want)
		case err == nil && ref.Validate() != nil:
			t.Fatalf("%q: invalid %+v", rev, ref)
		case err != nil && !errors.Is(err, source.ErrNotFound) && !errors.Is(err, git.ErrInvalidReference) &&
			!errors.Is(err, git.ErrUnsupportedRevision):
			t.Fatalf("%q: untyped error %v", rev, err)
		case err != nil && want != "" && errors.Is(err, source.ErrNotFound):
			t.Fatalf("%q: converge finds nothing, git finds %s: %v", rev, want, err)
		}
	})
}
