package check

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// HistoryOptions bound what [SecretHistory] reads of a repository's
// history. A zero field takes its default.
type HistoryOptions struct {
	// MaxCommits is how many commits are read, newest first; older ones
	// are not, and the report says so.
	MaxCommits int
	// MaxBytes is how many bytes of blobs are read in all; the walk
	// stops there, with a note.
	MaxBytes int64
	// MaxBlobSize is the size above which a blob is skipped, with a
	// note: a manifest is not 10 MB.
	MaxBlobSize int64
	// Timeout bounds the walk; it stops there, with a note.
	Timeout time.Duration
	// SkipUnreachable leaves out the commits of the object store that no
	// branch or tag reaches (what a force push or a reset dropped, kept
	// by the reflog until git gc prunes it). By default they are read,
	// after the reachable ones.
	SkipUnreachable bool
}

// DefaultHistoryOptions returns 10,000 commits, 256 MiB of blobs, blobs
// of up to 4 MiB and 60 seconds, unreachable commits included.
func DefaultHistoryOptions() HistoryOptions {
	return HistoryOptions{MaxCommits: 10000, MaxBytes: 256 << 20, MaxBlobSize: 4 << 20, Timeout: time.Minute}
}

func (o HistoryOptions) withDefaults() HistoryOptions {
	d := DefaultHistoryOptions()
	if o.MaxCommits <= 0 {
		o.MaxCommits = d.MaxCommits
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = d.MaxBlobSize
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	return o
}

// OpenRepository opens the Git repository at dir, a work tree or a bare
// repository, for [SecretHistory].
func OpenRepository(dir string) (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("check: open repository %s: %w", dir, err)
	}
	return repo, nil
}

// CloneRepository clones the repository at url (https://, http://,
// ssh://, file://) into dir, bare, with every branch and tag, for
// [SecretHistory]. It reads only what the server serves: commits that a
// force push dropped are not among them.
func CloneRepository(ctx context.Context, url, dir string) (*git.Repository, error) {
	repo, err := git.PlainCloneContext(ctx, dir, true, &git.CloneOptions{URL: url, Tags: git.AllTags})
	if err != nil {
		return nil, fmt.Errorf("check: clone: %w", err)
	}
	return repo, nil
}

// SecretHistory is the rule "secret-history": a Secret with plaintext
// data, or kustomize secretGenerator literals, that any commit of repo
// added, even if a later one removed it: the value stays in the history
// (and in every clone) until the history is rewritten, so it must be
// rotated. It finds what [PlaintextSecrets] finds, blob by blob.
//
// Each finding names the file, the line, the first commit that added
// the blob (Location.Commit), the others that did, and whether the blob
// is still at HEAD; never the value. The walk starts at every branch,
// tag and HEAD, newest commit first, then reads the commits no ref
// reaches (unless opts.SkipUnreachable). Each blob is read once;
// binary blobs, symlinks, submodules and Helm chart templates are not
// read. When a bound of opts stops the walk, Check returns its findings
// with an [*IncompleteError] that says what was not read.
//
// The rule does not read the target it is given: it checks repo. Checks
// of one rule value run one at a time.
func SecretHistory(repo *git.Repository, opts HistoryOptions) Rule {
	r := &historyRule{repo: repo, opts: opts.withDefaults()}
	return NewRule(secretHistoryMeta, r.check)
}

var secretHistoryMeta = Meta{
	ID:       "secret-history",
	Title:    "Secret with plaintext data in the Git history",
	Severity: SeverityCritical,
	Section:  SectionSecrets,
	Fix: "Rotate the value now: it is in every clone. Then rewrite the history (git filter-repo --invert-paths --path FILE), " +
		"force-push, expire the reflogs and gc the server; keep the Secret encrypted (SOPS, SealedSecret) or external from now on",
}

// IncompleteError is what a rule returns beside its findings when it
// checked only part of what it was given: a bound stopped it. The
// findings are good; Notes say what was not read. [Run] adds each note
// to the report.
type IncompleteError struct {
	Notes []string
}

func (e *IncompleteError) Error() string {
	return "not everything was read: " + strings.Join(e.Notes, "; ")
}

type historyRule struct {
	mu   sync.Mutex
	repo *git.Repository
	opts HistoryOptions
}

func (r *historyRule) check(ctx context.Context, _ *Target) ([]Finding, error) {
	if r.repo == nil {
		return nil, errors.New("no repository")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	w := &walk{repo: r.repo, opts: r.opts, blobs: map[plumbing.Hash][]Finding{}, seen: map[plumbing.Hash]bool{},
		added: map[occurrence][]addition{}}
	err := w.run(wctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		w.notes = append(w.notes, fmt.Sprintf("stopped after %s (the time bound) with %s read: %s", r.opts.Timeout, plural(w.commits, "commit"), w.rest()))
	case errors.Is(err, errBytes):
		w.notes = append(w.notes, fmt.Sprintf("stopped at the %d-byte bound of blobs read, with %s read: %s", r.opts.MaxBytes, plural(w.commits, "commit"), w.rest()))
	case errors.Is(err, errCommits):
		w.notes = append(w.notes, fmt.Sprintf("stopped at the %d-commit bound: %s", r.opts.MaxCommits, w.rest()))
	case err != nil:
		return nil, err
	}
	out := w.findings()
	if w.big > 0 {
		w.notes = append(w.notes, fmt.Sprintf("%s skipped, over the %d-byte bound (%s)", plural(w.big, "blob"), r.opts.MaxBlobSize, w.bigAt))
	}
	if w.binary > 0 {
		w.notes = append(w.notes, fmt.Sprintf("%s skipped", plural(w.binary, "binary blob")))
	}
	if len(w.notes) > 0 {
		return out, &IncompleteError{Notes: w.notes}
	}
	return out, nil
}

var (
	errBytes   = errors.New("byte bound")
	errCommits = errors.New("commit bound")
)

// occurrence is a blob at a path.
type occurrence struct {
	path string
	blob plumbing.Hash
}

// addition is a commit that added an occurrence.
type addition struct {
	commit      *object.Commit
	unreachable bool
}

type walk struct {
	repo  *git.Repository
	opts  HistoryOptions
	blobs map[plumbing.Hash][]Finding // scanned blobs, by hash
	seen  map[plumbing.Hash]bool      // commits read or queued
	added map[occurrence][]addition   // occurrences with findings
	order []occurrence

	commits, big, binary int
	bytes                int64
	bigAt                string
	next                 *object.Commit // the newest commit not read, when a bound stopped the walk
	unreachable          bool           // reading commits no ref reaches
	notes                []string
}

// rest says what a bound left unread.
func (w *walk) rest() string {
	if w.next == nil {
		return "the remaining commits were not read"
	}
	which := "older commits"
	if w.unreachable {
		which = "commits no branch or tag reaches"
	}
	return fmt.Sprintf("%s, from %s (%s), were not read", which, shortHash(w.next.Hash), w.next.Committer.When.UTC().Format(time.DateOnly))
}

func (w *walk) run(ctx context.Context) error {
	q := &commitQueue{}
	if err := w.tips(q); err != nil {
		return err
	}
	for q.Len() > 0 {
		c := heap.Pop(q).(*object.Commit)
		if err := w.commit(ctx, c); err != nil {
			return err
		}
		for _, h := range c.ParentHashes {
			if w.seen[h] {
				continue
			}
			w.seen[h] = true
			if p, err := w.repo.CommitObject(h); err == nil {
				heap.Push(q, p) // a shallow clone's missing parents end the walk there
			}
		}
	}
	if w.opts.SkipUnreachable {
		return nil
	}
	w.unreachable = true
	iter, err := w.repo.CommitObjects()
	if err != nil {
		return fmt.Errorf("list commits: %w", err)
	}
	defer iter.Close()
	var rest []*object.Commit
	err = iter.ForEach(func(c *object.Commit) error {
		if !w.seen[c.Hash] {
			rest = append(rest, c)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	slices.SortFunc(rest, func(a, b *object.Commit) int { return b.Committer.When.Compare(a.Committer.When) })
	for _, c := range rest {
		w.seen[c.Hash] = true
		if err := w.commit(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// tips queues the commits of HEAD and every reference.
func (w *walk) tips(q *commitQueue) error {
	refs, err := w.repo.References()
	if err != nil {
		return fmt.Errorf("list references: %w", err)
	}
	hashes := []plumbing.Hash{}
	if head, err := w.repo.Head(); err == nil {
		hashes = append(hashes, head.Hash())
	}
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			hashes = append(hashes, ref.Hash())
		}
		return nil
	})
	for _, h := range hashes {
		c, err := w.peel(h)
		if err != nil || w.seen[c.Hash] {
			continue // a reference to a tree or a blob, or a missing object
		}
		w.seen[c.Hash] = true
		heap.Push(q, c)
	}
	return nil
}

func (w *walk) peel(h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		tag, err := w.repo.TagObject(h)
		if err != nil {
			break
		}
		h = tag.Target
	}
	return w.repo.CommitObject(h)
}

// commit reads what c added relative to its parents.
func (w *walk) commit(ctx context.Context, c *object.Commit) error {
	if err := ctx.Err(); err != nil {
		w.next = c
		return err
	}
	if w.commits >= w.opts.MaxCommits {
		w.next = c
		return errCommits
	}
	tree, err := c.Tree()
	if err != nil {
		return nil // a missing tree: nothing to read
	}
	var parents []*object.Tree
	for _, h := range c.ParentHashes {
		if p, err := w.repo.CommitObject(h); err == nil {
			if pt, err := p.Tree(); err == nil {
				parents = append(parents, pt)
			}
		}
	}
	w.commits++
	if err := w.tree(ctx, c, tree, "", tree, parents); err != nil {
		w.commits--
		w.next = c
		return err
	}
	return nil
}

// tree reads the entries of t (at dir) that no parent tree has.
func (w *walk) tree(ctx context.Context, c *object.Commit, root *object.Tree, dir string, t *object.Tree, parents []*object.Tree) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	byName := make([]map[string]object.TreeEntry, len(parents))
	for i, pt := range parents {
		byName[i] = make(map[string]object.TreeEntry, len(pt.Entries))
		for _, e := range pt.Entries {
			byName[i][e.Name] = e
		}
	}
	for _, e := range t.Entries {
		p := path.Join(dir, e.Name)
		same := false
		var subs []*object.Tree
		for _, m := range byName {
			pe, ok := m[e.Name]
			if ok && pe.Hash == e.Hash {
				same = true
				break
			}
			if ok && pe.Mode == filemode.Dir {
				if st, err := w.repo.TreeObject(pe.Hash); err == nil {
					subs = append(subs, st)
				}
			}
		}
		if same {
			continue
		}
		switch e.Mode {
		case filemode.Dir:
			st, err := w.repo.TreeObject(e.Hash)
			if err != nil {
				continue
			}
			if err := w.tree(ctx, c, root, p, st, subs); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			if !isYAML(p) || helmTemplate(root, p) {
				continue
			}
			if err := w.blob(c, p, e.Hash); err != nil {
				return err
			}
		}
	}
	return nil
}

// helmTemplate reports whether p is a template of a Helm chart in root.
func helmTemplate(root *object.Tree, p string) bool {
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if path.Base(dir) == "templates" {
			if _, err := root.File(path.Join(path.Dir(dir), "Chart.yaml")); err == nil {
				return true
			}
		}
	}
	return false
}

// blob records that c added blob h at p, reading h the first time.
func (w *walk) blob(c *object.Commit, p string, h plumbing.Hash) error {
	found, ok := w.blobs[h]
	if !ok {
		var err error
		if found, err = w.scan(p, h); err != nil {
			return err
		}
		w.blobs[h] = found
	}
	if len(found) == 0 {
		return nil
	}
	o := occurrence{path: p, blob: h}
	if _, ok := w.added[o]; !ok {
		w.order = append(w.order, o)
	}
	w.added[o] = append(w.added[o], addition{commit: c, unreachable: w.unreachable})
	return nil
}

// scan returns the secret-plaintext findings of blob h, first seen at
// p, as [PlaintextSecrets] finds them in a file.
func (w *walk) scan(p string, h plumbing.Hash) ([]Finding, error) {
	b, err := w.repo.BlobObject(h)
	if err != nil {
		return nil, nil // missing (a partial clone): not read
	}
	if b.Size > w.opts.MaxBlobSize {
		if w.big == 0 {
			w.bigAt = p
		}
		w.big++
		return nil, nil
	}
	if w.bytes+b.Size > w.opts.MaxBytes {
		return nil, errBytes
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, nil
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, w.opts.MaxBlobSize+1))
	w.bytes += int64(len(data))
	if err != nil || int64(len(data)) > w.opts.MaxBlobSize {
		return nil, nil
	}
	if isBinary(data) {
		w.binary++
		return nil, nil
	}
	f := &File{Path: p, Data: data}
	f.Docs, f.YAMLError, f.YAMLErrorLine = parseYAML(p, data)
	return plaintextSecretFindings(f), nil
}

// findings turns the occurrences into findings, in the order they were
// first seen (newest commit first).
func (w *walk) findings() []Finding {
	var head *object.Tree
	if ref, err := w.repo.Head(); err == nil {
		if c, err := w.repo.CommitObject(ref.Hash()); err == nil {
			head, _ = c.Tree()
		}
	}
	var out []Finding
	for _, o := range w.order {
		adds := slices.Clone(w.added[o])
		slices.Reverse(adds) // read newest first: now oldest first, also among equal times
		slices.SortStableFunc(adds, func(a, b addition) int { return a.commit.Committer.When.Compare(b.commit.Committer.When) })
		first := adds[0]
		msg := fmt.Sprintf("added in commit %s (%s)", shortHash(first.commit.Hash), first.commit.Committer.When.UTC().Format(time.DateOnly))
		if first.unreachable {
			msg += ", which no branch or tag reaches (a force push or a reset dropped it; the object store keeps it until git gc prunes it)"
		}
		if len(adds) > 1 {
			var more []string
			for _, a := range adds[1:] {
				more = append(more, shortHash(a.commit.Hash))
			}
			msg += ", and again in " + listKeys(more)
		}
		if head != nil {
			if f, err := head.File(o.path); err == nil && f.Hash == o.blob {
				msg += "; still at HEAD"
			} else {
				msg += "; removed since, but still in the history"
			}
		}
		for _, f := range w.blobs[o.blob] {
			f.Rule = secretHistoryMeta.ID
			f.Location.File = o.path
			f.Location.Commit = first.commit.Hash.String()
			f.Message += "; " + msg
			out = append(out, f)
		}
	}
	return out
}

func shortHash(h plumbing.Hash) string { return h.String()[:12] }

// commitQueue is a heap of commits, newest committer time first.
type commitQueue []*object.Commit

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].Committer.When.After(q[j].Committer.When) }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}
