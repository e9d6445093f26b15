package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Source fetches desired state.
//
// Fetch returns a snapshot of the source at its current revision. It must
// honour ctx's deadline and cancellation, must never return a nil snapshot
// with a nil error, and must be safe to call repeatedly; implementations
// that keep state between calls (a cache) document whether concurrent calls
// are allowed. The returned snapshot is owned by the caller and never
// changes; it may be shared with later calls that find the same revision.
type Source interface {
	Fetch(ctx context.Context) (*Snapshot, error)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(ctx context.Context) (*Snapshot, error)

// Fetch calls f(ctx).
func (f SourceFunc) Fetch(ctx context.Context) (*Snapshot, error) { return f(ctx) }

var _ Source = SourceFunc(nil)

// Snapshot is desired state at one revision.
type Snapshot struct {
	// Revision names what was fetched, such as "main@sha1:<40 hex>",
	// "v1.4.2@sha1:<40 hex>", "sha1:<40 hex>" for an exact commit, or
	// "sha256:<64 hex>" for a directory's content.
	Revision string
	// Commit describes the commit of a Git revision; nil for sources that
	// are not Git.
	Commit *Commit
	// FS is the content, read-only and confined to its root.
	FS fs.FS
	// Files and Bytes count the regular files in FS and their total size.
	Files int
	Bytes int64
}

// Commit is a Git commit's metadata.
type Commit struct {
	Hash      string // full hex hash
	Author    Signature
	Committer Signature
	Message   string
}

// Signature is who made a commit and when.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Errors that callers branch on. Implementations wrap them, so test with
// [errors.Is].
var (
	// ErrUnsafePath reports a path that would leave the snapshot root or
	// reach Git's internals: "..", an absolute path, ".git" in any spelling,
	// or a symbolic link whose target is outside the root.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrLimit reports content over a [Limits] bound.
	ErrLimit = errors.New("over limit")
	// ErrNotFound reports a revision that does not exist (any more): a
	// deleted branch or tag, a commit the remote does not have, no tag
	// matching a version range.
	ErrNotFound = errors.New("revision not found")
	// ErrHistoryRewritten reports that a reference moved to a commit that
	// does not descend from the one fetched before (a force-push).
	ErrHistoryRewritten = errors.New("history rewritten")
)

// PathError reports a path refused by confinement.
type PathError struct {
	Path   string // as found, quoted when printed
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("path %q: %s: %s", e.Path, ErrUnsafePath, e.Reason)
}

// Unwrap returns [ErrUnsafePath].
func (e *PathError) Unwrap() error { return ErrUnsafePath }

// LimitError reports content over a bound.
type LimitError struct {
	What  string // "file count", "file size" or "total size"
	Limit int64
	Path  string // the file that crossed the bound, if any
}

func (e *LimitError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s over limit %d at %q", e.What, e.Limit, e.Path)
	}
	return fmt.Sprintf("%s over limit %d", e.What, e.Limit)
}

// Unwrap returns [ErrLimit].
func (e *LimitError) Unwrap() error { return ErrLimit }
