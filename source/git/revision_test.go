package git_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/git"
)

// revisionRepo is a throwaway work tree cloned from a bare upstream, with
// commits, a merge and an octopus merge, branches, annotated, lightweight,
// nested and tree tags, remote-tracking references ahead of the local
// branch, a branch named like a hash, and packed as well as loose objects
// and references.
type revisionRepo struct {
	work, upstream string
	commits        map[string]string // message → hash
}

// newRevisionRepo builds the repository in a temporary directory of t.
func newRevisionRepo(t testing.TB) *revisionRepo {
	t.Helper()
	r, err := buildRevisionRepo(t.TempDir())
	require.NoError(t, err)
	return r
}

func buildRevisionRepo(dir string) (*revisionRepo, error) {
	r := &revisionRepo{work: filepath.Join(dir, "work"), upstream: filepath.Join(dir, "upstream.git"), commits: map[string]string{}}
	var failed error
	git := func(where string, args ...string) string {
		if failed != nil {
			return ""
		}
		out, err := gittest.Git(where, args...)
		if err != nil {
			failed = err
		}
		return out
	}
	commit := func(where, msg string) string {
		if failed != nil {
			return ""
		}
		// A file per commit: merges never conflict.
		if err := os.WriteFile(filepath.Join(where, msg+".txt"), []byte(msg+"\n"), 0o644); err != nil {
			failed = err
			return ""
		}
		git(where, "add", msg+".txt")
		git(where, "commit", "--quiet", "-m", msg)
		h := git(where, "rev-parse", "HEAD")
		r.commits[msg] = h
		return h
	}
	seed := filepath.Join(dir, "seed")
	git(dir, "init", "--quiet", "--initial-branch=main", seed)
	commit(seed, "c1")
	commit(seed, "c2")
	git(seed, "tag", "-a", "-m", "release 1.0.0", "v1.0.0")
	commit(seed, "c3")
	git(seed, "tag", "v1.1.0") // lightweight
	git(seed, "branch", "feature")
	git(seed, "checkout", "--quiet", "feature")
	commit(seed, "f1")
	commit(seed, "f2")
	git(seed, "checkout", "--quiet", "main")
	commit(seed, "c4")
	git(seed, "merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
	r.commits["merge feature"] = git(seed, "rev-parse", "HEAD")
	git(seed, "branch", "o1", "HEAD~1")
	git(seed, "branch", "o2", "HEAD~2")
	git(seed, "checkout", "--quiet", "o1")
	commit(seed, "o1")
	git(seed, "checkout", "--quiet", "o2")
	commit(seed, "o2")
	git(seed, "checkout", "--quiet", "main")
	git(seed, "merge", "--quiet", "--no-ff", "-m", "octopus", "o1", "o2")
	r.commits["octopus"] = git(seed, "rev-parse", "HEAD")
	git(seed, "tag", "-a", "-m", "tag of a tag", "nested", "v1.0.0")
	git(seed, "tag", "-a", "-m", "a tree", "treetag", "HEAD^{tree}")
	git(seed, "branch", "release/1.x", "v1.1.0")
	git(seed, "branch", "both", r.commits["c1"])
	git(seed, "tag", "both", r.commits["c2"]) // refs/tags wins over refs/heads
	git(dir, "clone", "--quiet", "--bare", seed, r.upstream)
	git(dir, "clone", "--quiet", r.upstream, r.work)
	// Upstream moves on: origin/main is then ahead of the local main.
	commit(seed, "u1")
	commit(seed, "u2")
	git(seed, "push", "--quiet", r.upstream, "main")
	git(r.work, "fetch", "--quiet", "origin")
	for _, b := range []string{"feature", "release/1.x", "both"} {
		git(r.work, "branch", "--quiet", b, "origin/"+b)
	}
	// A branch named like the start of another commit's hash: git reads
	// the name as the branch.
	git(r.work, "branch", r.commits["c3"][:8], r.commits["c1"])
	// 2,000 blobs, so that some share a 4-digit prefix (the contents are
	// fixed, and so is the collision).
	blobs := filepath.Join(dir, "blobs")
	var names []string
	if failed == nil {
		failed = os.MkdirAll(blobs, 0o755)
	}
	for i := 0; i < 2000 && failed == nil; i++ {
		name := filepath.Join(blobs, fmt.Sprint(i))
		names = append(names, name)
		failed = os.WriteFile(name, []byte(fmt.Sprintf("blob %d\n", i)), 0o644)
	}
	git(r.work, append([]string{"hash-object", "-w"}, names...)...)
	git(r.work, "gc", "--quiet")
	// After gc, which expires reflog entries dated (as gittest dates them)
	// more than 90 days ago.
	git(r.work, "checkout", "--quiet", "feature") // for @{-1}
	git(r.work, "checkout", "--quiet", "main")
	commit(r.work, "loose") // after gc: a loose object and a loose ref
	return r, failed
}

// revisionCases are expressions for both git and ResolveRevision: ones
// that name a commit in the work tree, ones git refuses too, and ones git
// reads that converge refuses.
func revisionCases(r *revisionRepo) (resolvable, refused, unsupported []string) {
	c := r.commits
	tagObject, _ := gittest.Git(r.work, "rev-parse", "v1.0.0")
	describe, _ := gittest.Git(r.work, "describe", "--tags", "--long", "--abbrev=9", c["c4"])
	resolvable = []string{
		"HEAD", "@", "HEAD~", "HEAD~1", "HEAD~2", "HEAD^", "HEAD^^", "HEAD^1", "HEAD^0", "HEAD~0",
		"HEAD~1^2", "HEAD~1^2~1", "main~2^2", "HEAD~2^2^", "@~3",
		"main", "heads/main", "refs/heads/main", "feature", "refs/heads/feature", "release/1.x",
		"origin/main", "origin/main~1", "origin", "remotes/origin/main", "refs/remotes/origin/main",
		"origin/feature^", "v1.0.0", "v1.0.0^{}", "v1.0.0^{commit}", "v1.0.0^{tag}", "v1.0.0~1",
		"tags/v1.0.0", "refs/tags/v1.0.0", "v1.1.0", "nested", "nested^{}", "nested^{tag}",
		"both", "heads/both", "tags/both", "HEAD^{}", "HEAD^{object}", "HEAD^{commit}",
		c["c2"], strings.ToUpper(c["c2"]), c["c2"][:4], c["c2"][:7], c["c2"][:12], c["f1"][:10] + "~1",
		c["u1"][:9], strings.ToUpper(c["c1"][:8]), c["c3"][:8], tagObject[:10], describe,
		"HEAD~1^3", // the octopus merge is HEAD~1
	}
	refused = []string{
		"HEAD~100", "HEAD^3", "HEAD~2^3", "octopus", "nosuch", "treetag", "HEAD^{tree}", "HEAD^{blob}",
		"v1.0.0^{tree}", "main^{tag}", "v1.1.0^{tag}", "HEAD^{bogus}", "HEAD~x", "HEAD^^^^^^^^^^^^^^^^^^^^^^",
		"HEAD~99999999999", "0000000000000000000000000000000000000000", "abc", "-main", "ma in", "main.lock",
		"refs/heads/", "HEAD^{", "~1", "",
	}
	unsupported = []string{"main@{1}", "@{0}", "@{-1}", "main@{upstream}", "@{u}", "HEAD@{yesterday}",
		":/c2", "HEAD^{/c2}", "HEAD:c1.txt", "HEAD~1..HEAD", "^HEAD~1", "HEAD^!", "HEAD^@", "HEAD^-1", "v1.0.0...main"}
	return resolvable, refused, unsupported
}

// gitRevParse is the oracle: the commit git names for rev, or "" when git
// names none.
func gitRevParse(dir, rev string) string {
	out, err := gittest.Git(dir, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return ""
	}
	return out
}

// TestResolveRevisionAgreesWithGit resolves every case in the work tree
// and in the bare upstream, and compares with `git rev-parse --verify
// rev^{commit}`.
func TestResolveRevisionAgreesWithGit(t *testing.T) {
	r := newRevisionRepo(t)
	resolvable, refused, unsupportedList := revisionCases(r)
	unsupported := map[string]bool{}
	for _, u := range unsupportedList {
		unsupported[u] = true
	}
	cases := append(append(append([]string(nil), resolvable...), refused...), unsupportedList...)
	for _, dir := range []string{r.work, r.upstream} {
		for i, rev := range cases {
			t.Run(fmt.Sprintf("%s %d %s", filepath.Base(dir), i, rev), func(t *testing.T) {
				want := gitRevParse(dir, rev)
				if dir == r.work && !unsupported[rev] {
					// The oracle itself: the cases mean what they say.
					require.Equal(t, i < len(resolvable), want != "", "git resolves %q", rev)
				}
				ref, err := git.ResolveRevision(context.Background(), dir, rev)
				if unsupported[rev] {
					if dir == r.work {
						// git reads it (as a range, a file, a reflog entry...),
						// where there is the history it needs.
						_, gitErr := gittest.Git(dir, "rev-parse", rev)
						require.NoError(t, gitErr)
					}
					require.ErrorIs(t, err, git.ErrUnsupportedRevision)
					assert.True(t, strings.HasPrefix(err.Error(), "git "+dir+": "), err.Error())
					return
				}
				if want == "" {
					require.Error(t, err, "git names no commit")
					assert.True(t, errors.Is(err, source.ErrNotFound) || errors.Is(err, git.ErrInvalidReference) ||
						errors.Is(err, git.ErrUnsupportedRevision), "a typed error: %v", err)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want, ref.Commit)
				assert.NoError(t, ref.Validate())
			})
		}
	}
}

// TestResolveRevisionReferences: the Reference says which reference the
// commit was reached from, and a Source fetches it through a file URL,
// also when no local branch leads to it.
func TestResolveRevisionReferences(t *testing.T) {
	r := newRevisionRepo(t)
	c := r.commits
	tests := map[string]struct {
		rev  string
		want git.Reference
	}{
		"a branch's ancestor":         {"HEAD~1", git.Reference{Branch: "main", Commit: gitRevParse(r.work, "HEAD~1")}},
		"a remote-tracking reference": {"origin/main~1", git.Reference{Name: "refs/remotes/origin/main", Commit: c["u1"]}},
		"through origin/HEAD":         {"origin", git.Reference{Name: "refs/remotes/origin/main", Commit: c["u2"]}},
		"a tag's ancestor":            {"v1.0.0~1", git.Reference{Name: "refs/tags/v1.0.0", Commit: c["c1"]}},
		"an abbreviated hash":         {c["f2"][:7], git.Reference{Commit: c["f2"]}},
		"a full hash":                 {c["c3"], git.Reference{Commit: c["c3"]}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ref, err := git.ResolveRevision(ctx(t), r.work, tc.rev)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ref)
			snap, err := newSource(t, "file://"+r.work, ref, git.WithFileURLs()).Fetch(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, tc.want.Commit, snap.Commit.Hash)
		})
	}

	t.Run("not a repository", func(t *testing.T) {
		_, err := git.ResolveRevision(ctx(t), t.TempDir(), "HEAD")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "open repository")
	})
	t.Run("an ambiguous abbreviated hash", func(t *testing.T) {
		// Four hex digits match two of the repository's objects: find them.
		prefix := ambiguousPrefix(t, r.work)
		require.NotEmpty(t, prefix, "2,000 blobs share a 4-digit prefix")
		_, err := git.ResolveRevision(ctx(t), r.work, prefix+"^{}")
		require.ErrorIs(t, err, git.ErrInvalidReference)
		assert.Contains(t, err.Error(), "ambiguous")
		assert.Empty(t, gitRevParse(r.work, prefix+"^{}"), "git calls it ambiguous too")
	})
	t.Run("canceled", func(t *testing.T) {
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := git.ResolveRevision(c, r.work, "HEAD~3")
		require.ErrorIs(t, err, context.Canceled)
	})
}

// ambiguousPrefix returns 4 hex digits that start two objects' hashes.
func ambiguousPrefix(t *testing.T, dir string) string {
	out, err := gittest.Git(dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, h := range strings.Fields(out) {
		if seen[h[:4]] {
			return h[:4]
		}
		seen[h[:4]] = true
	}
	return ""
}

func TestRemoteReferences(t *testing.T) {
	hash := strings.Repeat("ab", 20)
	tests := map[string]struct {
		rev  string
		want []git.Reference
		err  error
	}{
		"branch or tag":          {rev: "main", want: []git.Reference{{Branch: "main"}, {Tag: "main"}}},
		"slashed name":           {rev: "release/1.x", want: []git.Reference{{Branch: "release/1.x"}, {Tag: "release/1.x"}}},
		"version tag":            {rev: "v1.4.2", want: []git.Reference{{Branch: "v1.4.2"}, {Tag: "v1.4.2"}}},
		"short hex word":         {rev: "cafe", want: []git.Reference{{Branch: "cafe"}, {Tag: "cafe"}}},
		"full hash":              {rev: hash, want: []git.Reference{{Commit: hash}}},
		"upper full hash":        {rev: strings.ToUpper(hash), want: []git.Reference{{Commit: hash}}},
		"reference name":         {rev: "refs/pull/7/head", want: []git.Reference{{Name: "refs/pull/7/head"}}},
		"tilde range":            {rev: "~1.4", want: []git.Reference{{SemVer: "~1.4"}}},
		"caret range":            {rev: "^1.2", want: []git.Reference{{SemVer: "^1.2"}}},
		"two bounds":             {rev: ">=1.0.0 <2.0.0", want: []git.Reference{{SemVer: ">=1.0.0 <2.0.0"}}},
		"operator":               {rev: ">=1.0", want: []git.Reference{{SemVer: ">=1.0"}}},
		"wildcard":               {rev: "1.4.*", want: []git.Reference{{SemVer: "1.4.*"}}},
		"ancestor":               {rev: "HEAD~1", err: git.ErrUnsupportedRevision},
		"HEAD":                   {rev: "HEAD", err: git.ErrUnsupportedRevision},
		"remote-tracking parent": {rev: "origin/main~2", err: git.ErrUnsupportedRevision},
		"abbreviated hash":       {rev: "3f2a9c1", err: git.ErrUnsupportedRevision},
		"peeled tag":             {rev: "v1.4^{commit}", err: git.ErrUnsupportedRevision},
		"reflog":                 {rev: "main@{1}", err: git.ErrUnsupportedRevision},
		"range":                  {rev: "main..next", err: git.ErrUnsupportedRevision},
		"bad reference name":     {rev: "refs/heads/a..b", err: git.ErrInvalidReference},
		"option":                 {rev: "--upload-pack=sh", err: git.ErrInvalidReference},
		"empty":                  {rev: "", err: git.ErrInvalidReference},
		"space":                  {rev: "a b", err: git.ErrInvalidReference},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			refs, err := git.RemoteReferences(tc.rev)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, refs)
				if errors.Is(err, git.ErrUnsupportedRevision) {
					for _, form := range []string{"branch", "tag", "semver range", "full commit hash", "refs/pull/7/head"} {
						assert.Contains(t, err.Error(), form, "the error lists the forms that work")
					}
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, refs)
			for _, r := range refs {
				assert.NoError(t, r.Validate())
			}
		})
	}
}

// TestCommitWithName: a commit may go with a reference name, whose history
// a Fetch then searches (what ResolveRevision gives for a commit only a
// tag or a remote-tracking reference leads to), but not with a tag or a
// range.
func TestCommitWithName(t *testing.T) {
	hash := strings.Repeat("ab", 20)
	assert.NoError(t, git.Reference{Name: "refs/remotes/origin/main", Commit: hash}.Validate())
	assert.NoError(t, git.Reference{Branch: "main", Commit: hash}.Validate())
	for _, ref := range []git.Reference{
		{Tag: "v1", Commit: hash},
		{SemVer: "~1", Commit: hash},
		{Name: "refs/tags/v1", Branch: "main", Commit: hash},
		{Name: "remotes/origin/main", Commit: hash},
	} {
		assert.ErrorIs(t, ref.Validate(), git.ErrInvalidReference, "%+v", ref)
	}
}
