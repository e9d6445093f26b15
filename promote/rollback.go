package promote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
)

// ErrConflict is what a revert returns when a file the reverted commit
// changed has changed again since: undoing the commit would undo the
// later change too, which a person must decide.
var ErrConflict = errors.New("changed again since")

// maxRevertFile bounds the files a revert reads from the history.
const maxRevertFile = 4 << 20

// Revert returns the Edit that undoes commit rev of repo in a tree, as
// `git revert` does for a promotion: each file the commit changed gets
// back its content from before the commit, provided the tree still holds
// what the commit left (else [ErrConflict], naming the file). A commit
// that added or deleted files, or a merge, is refused: a promotion
// changes files in place. A rollback is this edit committed, never an
// apply.
func Revert(repo *git.Repository, rev string) (Edit, error) {
	c, err := resolveCommit(repo, rev)
	if err != nil {
		return nil, err
	}
	if c.NumParents() != 1 {
		return nil, fmt.Errorf("revert %s: a commit with %d parents is not a promotion", short(c.Hash), c.NumParents())
	}
	parent, err := c.Parent(0)
	if err != nil {
		return nil, fmt.Errorf("revert %s: %w", short(c.Hash), err)
	}
	changes, err := changedFiles(parent, c)
	if err != nil {
		return nil, fmt.Errorf("revert %s: %w", short(c.Hash), err)
	}
	return EditFunc(func(ctx context.Context, fsys fs.FS) (Result, error) {
		var res Result
		for _, ch := range changes {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			now, err := readFile(fsys, ch.path)
			if err != nil {
				return Result{}, fmt.Errorf("revert %s: %w", short(c.Hash), err)
			}
			if !bytes.Equal(now, ch.after) {
				return Result{}, fmt.Errorf("revert %s: %s: %w", short(c.Hash), ch.path, ErrConflict)
			}
			res.Files = append(res.Files, FileChange{Path: ch.path, Old: now, New: ch.before})
		}
		return res, nil
	}), nil
}

// Restore returns the Edit that gives every file under dir the content
// it had at rev: `converge rollback --env prod --to REV`. A file under
// dir that rev does not have is refused (a rollback does not delete); one
// rev has and the tree does not is created.
func Restore(repo *git.Repository, rev, dir string) (Edit, error) {
	c, err := resolveCommit(repo, rev)
	if err != nil {
		return nil, err
	}
	dir = path.Clean(dir)
	if !fs.ValidPath(dir) || dir == "." {
		return nil, fmt.Errorf("restore %s: %q is not a directory inside the repository", short(c.Hash), dir)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", short(c.Hash), err)
	}
	sub, err := tree.Tree(dir)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %s is not in that commit: %w", short(c.Hash), dir, err)
	}
	then := map[string][]byte{}
	err = sub.Files().ForEach(func(f *gitobject.File) error {
		data, err := blobBytes(f)
		if err != nil {
			return err
		}
		then[path.Join(dir, f.Name)] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", short(c.Hash), err)
	}
	return EditFunc(func(ctx context.Context, fsys fs.FS) (Result, error) {
		var res Result
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if _, ok := then[p]; !ok {
				return fmt.Errorf("%s is not in %s: a rollback does not delete files", p, short(c.Hash))
			}
			return nil
		})
		if err != nil {
			return Result{}, fmt.Errorf("restore %s: %w", short(c.Hash), err)
		}
		for _, p := range slices.Sorted(maps.Keys(then)) {
			now, err := readFile(fsys, p)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return Result{}, fmt.Errorf("restore %s: %w", short(c.Hash), err)
			}
			if !bytes.Equal(now, then[p]) {
				res.Files = append(res.Files, FileChange{Path: p, Old: now, New: then[p]})
			}
		}
		return res, ctx.Err()
	}), nil
}

// FindCommit walks repo's history from rev (newest first, at most max
// commits) and returns the first commit match accepts, or ErrNotFound.
func FindCommit(repo *git.Repository, rev string, max int, match func(*gitobject.Commit) bool) (*gitobject.Commit, error) {
	start, err := resolveCommit(repo, rev)
	if err != nil {
		return nil, err
	}
	iter, err := repo.Log(&git.LogOptions{From: start.Hash})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	for range max {
		c, err := iter.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if match(c) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no such commit in the %d newest from %s: %w", max, rev, ErrNotFound)
}

type fileChange struct {
	path          string
	before, after []byte
}

// changedFiles returns the files that differ between two commits, all
// modified in place.
func changedFiles(from, to *gitobject.Commit) ([]fileChange, error) {
	a, err := from.Tree()
	if err != nil {
		return nil, err
	}
	b, err := to.Tree()
	if err != nil {
		return nil, err
	}
	diff, err := a.Diff(b)
	if err != nil {
		return nil, err
	}
	var out []fileChange
	for _, ch := range diff {
		if ch.From.Name == "" || ch.To.Name == "" || ch.From.Name != ch.To.Name {
			return nil, fmt.Errorf("it adds, deletes or renames %s: a promotion changes files in place", cmp.Or(ch.To.Name, ch.From.Name))
		}
		before, after, err := ch.Files()
		if err != nil {
			return nil, err
		}
		bb, err := blobBytes(before)
		if err != nil {
			return nil, err
		}
		ab, err := blobBytes(after)
		if err != nil {
			return nil, err
		}
		out = append(out, fileChange{path: ch.To.Name, before: bb, after: ab})
	}
	if len(out) == 0 {
		return nil, errors.New("it changes no file")
	}
	return out, nil
}

func blobBytes(f *gitobject.File) ([]byte, error) {
	if f.Size > maxRevertFile {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte bound", f.Name, f.Size, maxRevertFile)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxRevertFile))
}

func resolveCommit(repo *git.Repository, rev string) (*gitobject.Commit, error) {
	if repo == nil {
		return nil, errors.New("no repository")
	}
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, "\x00\n\r") {
		return nil, fmt.Errorf("revision %q is not valid", clip(rev))
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", clip(rev), err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", clip(rev), err)
	}
	return c, nil
}

func short(h plumbing.Hash) string { return h.String()[:12] }
