package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/helper/iofs"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	gitobject "github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"

	sourcegit "github.com/converge-dev/converge/source/git"
)

var (
	// ErrInvalidBranch: a branch name git would refuse, or one that could
	// be misread where it ends up (see [Change]).
	ErrInvalidBranch = errors.New("invalid branch name")
	// ErrInvalidMessage: a commit message or identity that cannot be
	// committed as given (see [Change]).
	ErrInvalidMessage = errors.New("invalid commit")
	// ErrBranchNotFound: the branch to publish on does not exist on the
	// remote, or the remote is empty.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrBranchMoved: every attempt's push was refused because the branch
	// had moved on since it was fetched (someone else pushed first).
	ErrBranchMoved = errors.New("the branch moved on at every attempt")
)

// DefaultPushAttempts is how many times [Publisher.Publish] tries when the
// branch keeps moving, unless WithPushAttempts says otherwise.
const DefaultPushAttempts = 4

// DefaultPushRetryDelay is the delay before the second attempt; the n-th
// waits n-1 times as long, give or take half, so that racing publishers
// spread out.
const DefaultPushRetryDelay = 250 * time.Millisecond

// Identity is a commit's author or committer.
type Identity struct {
	Name, Email string
}

func (id Identity) validate(role string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s %q %q %s", ErrInvalidMessage, role, clip(id.Name), clip(id.Email), why)
	}
	switch {
	case strings.TrimSpace(id.Name) == "" || strings.TrimSpace(id.Email) == "":
		return bad("needs a name and an email")
	case !utf8.ValidString(id.Name+id.Email) || strings.ContainsFunc(id.Name+id.Email, isUnsafeInLine):
		return bad("holds a control character or invalid UTF-8")
	case strings.ContainsAny(id.Name+id.Email, "<>"):
		return bad("holds '<' or '>'") // git would cut the identity there
	case len(id.Name) > 256 || len(id.Email) > 256:
		return bad("is over 256 bytes")
	}
	return nil
}

// Change is one publication: an edit committed on a branch.
type Change struct {
	// Branch is the branch the commit is pushed to. Without a Base it
	// must exist on the remote, and the commit goes on top of its head.
	// It must be a name `git check-ref-format --branch` accepts and,
	// beyond that, only ASCII letters, digits and . _ - / +, so that it
	// cannot be read as an option ("-f"), a shell command ("main;rm") or
	// a path ("../x") wherever it is shown or passed on; at most 255
	// bytes. Base is held to the same rules.
	Branch string
	// Base, when set to another branch than Branch, makes Branch a pull
	// request's head branch ([PromotionBranch]): the edit runs on Base's
	// head, and the commit, one on top of it, is pushed to Branch,
	// creating it or replacing what it holds. The head branch belongs to
	// the promotion; commits someone else pushed to it are replaced too.
	// The push is a compare-and-swap on the head Branch had when fetched
	// (on its absence, when it had none), so a push to Branch in between
	// is never overwritten unseen: it starts another attempt. When Branch
	// already holds the change (a commit on Base's head with the tree the
	// edit makes), nothing is pushed and the Publication says Unchanged.
	// Base must exist on the remote; empty, the commit goes on Branch
	// itself.
	Base string
	// Message is the commit message: a subject line, then optionally a
	// blank line and a body. It is refused, not cleaned, when it holds a
	// control character other than newline and tab (a carriage return
	// included), a bidirectional formatting character, invalid UTF-8, an
	// empty subject, more than 64 KiB, or a line that looks like one of
	// the promotion trailers: what a person reviews is what is committed,
	// and provenance comes only from Provenance. Trailing white space is
	// trimmed.
	Message string
	// Provenance is appended to the message as Git trailers (see
	// [Provenance]); when the message ends in a trailer block of its own
	// (Signed-off-by), they join it.
	Provenance Provenance
	// Author defaults to the Publisher's committer.
	Author Identity
	// Edit makes the change. It runs on the branch's head as fetched, and
	// again on the new head after every push the remote refuses because
	// the branch moved: give an edit that computes its change from the
	// tree it is given (a [SetImage], or an [EditFunc] that plans a
	// promotion with [PlanPromotion]), not a Result computed beforehand.
	// Its Result's files are written, and those whose content changes are
	// committed; a path must be a valid fs path, outside .git and not
	// through a symbolic link. An edit cannot delete a file.
	Edit Edit
}

// PublishAction says what [Publisher.Publish] did.
type PublishAction string

// Actions of Publish.
const (
	// Pushed: a commit was made and pushed.
	Pushed PublishAction = "pushed"
	// Unchanged: the edit changed nothing on the branch's head, or the
	// head branch already holds the change (see [Change].Base); nothing
	// was pushed.
	Unchanged PublishAction = "unchanged"
)

// String returns the action's name.
func (a PublishAction) String() string { return string(a) }

// Publication is what [Publisher.Publish] did.
type Publication struct {
	Action PublishAction
	Branch string
	// Commit is the pushed commit's hash. When Unchanged it is empty,
	// unless a head branch (see [Change].Base) already holds the
	// change: then it is that branch's commit.
	Commit string
	// Base is the head the edit ran on (of Change.Base, when given):
	// the pushed commit's parent, or, when Unchanged, the head that
	// already holds the change or that the change is already on.
	Base string
	// Replaced is, on a head branch (see [Change].Base), the commit the
	// push replaced; empty when the push created the branch, and
	// without a Base.
	Replaced string
	// Files are the paths the commit changes, in the edit's order.
	Files []string
	// Edit is what the edit changed on Base, files whose content did not
	// change left out: its diffs show the commit.
	Edit Result
	// Attempts is how many times the edit ran: one, plus one for every
	// push refused because the branch had moved.
	Attempts int
}

// PublishError is a failed publication: what failed, on which branch,
// after how many attempts. No credential shows in its text, nor in the
// text of any error it wraps: a cause whose text holds one (a server
// that quotes a token back) is replaced by its redacted text, keeping
// the package's and go-git's sentinels for errors.Is.
type PublishError struct {
	Remote   string
	Branch   string
	Attempts int
	Err      error

	secrets []string
}

// newPublishError builds the error, redacting its cause when needed.
func (p *Publisher) newPublishError(branch string, attempts int, err error) *PublishError {
	if text := redactAll(err.Error(), p.secrets); text != err.Error() {
		r := &redactedError{text: text}
		for _, kind := range []error{ErrInvalidBranch, ErrInvalidMessage, ErrInvalidProvenance, ErrBranchNotFound,
			ErrBranchMoved, ErrUnauthorized, ErrNotFound, ErrInvalidCredentials, context.Canceled, context.DeadlineExceeded,
			transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, transport.ErrRepositoryNotFound} {
			if errors.Is(err, kind) {
				r.kinds = append(r.kinds, kind)
			}
		}
		err = r
	}
	return &PublishError{Remote: p.display, Branch: bounded(branch, 64), Attempts: attempts, Err: err, secrets: p.secrets}
}

// redactedError is an error's text with the secrets taken out, and the
// sentinels it matched.
type redactedError struct {
	text  string
	kinds []error
}

func (e *redactedError) Error() string   { return e.text }
func (e *redactedError) Unwrap() []error { return e.kinds }

func redactAll(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// Error implements error.
func (e *PublishError) Error() string {
	branch := e.Branch
	if validBranch(branch) != nil {
		branch = strconv.Quote(branch) // a hostile name shows escaped
	}
	s := fmt.Sprintf("publish %s on %s", branch, e.Remote)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return redactAll(s+": "+e.Err.Error(), e.secrets)
}

// Unwrap returns the cause.
func (e *PublishError) Unwrap() error { return e.Err }

// Publisher commits edits to branches of one Git remote and pushes them
// with go-git over HTTP(S): it fetches the branch's head (depth 1, into
// memory; nothing touches the local disk), runs the edit on it, commits
// the changed files (signed when it has a [Signer]) and pushes. A push is
// a compare-and-swap on the head the commit was built on, so it never
// rewrites the remote's history; when it is refused because the branch
// moved, Publish fetches the new head, runs the edit again on it and
// retries, up to its attempts. A Publisher is safe for concurrent use;
// each Publish works on its own copy.
type Publisher struct {
	url       string
	display   string
	committer Identity
	auth      transport.AuthMethod
	secrets   []string
	caBundle  []byte
	signer    Signer
	attempts  int
	delay     time.Duration
	log       logr.Logger
}

// PublisherOption configures [NewPublisher].
type PublisherOption func(*publisherConfig)

type publisherConfig struct {
	creds    Credentials
	insecure bool
	local    bool
	caBundle []byte
	signer   Signer
	attempts int
	delay    time.Duration
	log      logr.Logger
}

// WithPushCredentials authenticates to the remote: Username and Password
// as HTTP basic (for GitHub and GitLab, a token as the password), or Token
// as "Authorization: Bearer". A Docker config is refused.
func WithPushCredentials(c Credentials) PublisherOption {
	return func(p *publisherConfig) { p.creds = c }
}

// WithPushInsecure allows a plain http:// remote.
func WithPushInsecure() PublisherOption { return func(p *publisherConfig) { p.insecure = true } }

// WithPushCABundle trusts these PEM certificates for an https:// remote,
// besides the system's.
func WithPushCABundle(pem []byte) PublisherOption {
	return func(p *publisherConfig) { p.caBundle = pem }
}

// WithLocalRemote allows a remote that is a local path or a file:// URL,
// pushed to through the git CLI's receive-pack: for tests and examples.
func WithLocalRemote() PublisherOption { return func(p *publisherConfig) { p.local = true } }

// WithSigner signs every commit with s ([NewOpenPGPSigner],
// [NewSSHSigner]); commits are unsigned without it.
func WithSigner(s Signer) PublisherOption { return func(p *publisherConfig) { p.signer = s } }

// WithPushAttempts sets how many times Publish runs the edit and pushes
// when the branch keeps moving ([DefaultPushAttempts]); at least 1.
func WithPushAttempts(n int) PublisherOption { return func(p *publisherConfig) { p.attempts = n } }

// WithPushRetryDelay sets the delay before the second attempt
// ([DefaultPushRetryDelay]); 0 retries at once.
func WithPushRetryDelay(d time.Duration) PublisherOption {
	return func(p *publisherConfig) { p.delay = d }
}

// WithPushLogger logs attempts at V(1); the default discards.
func WithPushLogger(l logr.Logger) PublisherOption { return func(p *publisherConfig) { p.log = l } }

// NewPublisher returns a Publisher for the remote at rawURL, an https://
// URL without credentials in it (http:// only WithPushInsecure, a local
// path only WithLocalRemote), committing as committer. It validates its
// arguments and does no I/O.
func NewPublisher(rawURL string, committer Identity, opts ...PublisherOption) (*Publisher, error) {
	cfg := publisherConfig{attempts: DefaultPushAttempts, delay: DefaultPushRetryDelay, log: logr.Discard()}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := sourcegit.ParseURL(rawURL, cfg.local)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	p := &Publisher{
		url: u.String(), display: sourcegit.Redact(u.String()), committer: committer,
		caBundle: cfg.caBundle, signer: cfg.signer, attempts: cfg.attempts, delay: cfg.delay, log: cfg.log,
		secrets: cfg.creds.secrets(),
	}
	fail := func(err error) (*Publisher, error) { return nil, fmt.Errorf("publisher %s: %w", p.display, err) }
	switch {
	case u.Scheme == "ssh":
		return fail(errors.New("SSH remotes are not supported; use the https URL"))
	case u.Scheme == "http" && !cfg.insecure:
		return fail(errors.New("plain HTTP needs WithPushInsecure"))
	case cfg.attempts < 1:
		return fail(fmt.Errorf("attempts must be at least 1, not %d", cfg.attempts))
	case cfg.delay < 0:
		return fail(fmt.Errorf("retry delay must not be negative, not %s", cfg.delay))
	}
	if err := committer.validate("committer"); err != nil {
		return fail(err)
	}
	if err := cfg.creds.validate(); err != nil {
		return fail(err)
	}
	switch {
	case len(cfg.creds.DockerConfigJSON) > 0:
		return fail(fmt.Errorf("%w: a Docker config is for registries; give a Git remote a username and password or a token", ErrInvalidCredentials))
	case cfg.creds.Username != "":
		p.auth = &githttp.BasicAuth{Username: cfg.creds.Username, Password: cfg.creds.Password}
	case cfg.creds.Token != "":
		p.auth = &githttp.TokenAuth{Token: cfg.creds.Token}
	}
	return p, nil
}

// Publish commits c.Edit's change on c.Branch and pushes it. It validates
// c before anything is fetched or written. When the edit changes nothing
// on the head, no commit is made and the Publication says Unchanged. When
// the push is refused because the branch moved (or, with a Base, the head
// branch moved), it fetches the new heads, runs the edit on them again and
// retries, up to the Publisher's attempts, then fails with
// [ErrBranchMoved]. Other failures (the edit's, authentication, a hook
// that refuses the push) end it at once. Errors are [*PublishError]s; the
// Publication says how many attempts were made even then.
func (p *Publisher) Publish(ctx context.Context, c Change) (Publication, error) {
	pub := Publication{Branch: c.Branch}
	fail := func(err error) (Publication, error) {
		return pub, p.newPublishError(c.Branch, pub.Attempts, err)
	}
	if err := validBranch(c.Branch); err != nil {
		return fail(err)
	}
	if c.Base != "" {
		if err := validBranch(c.Base); err != nil {
			return fail(fmt.Errorf("base: %w", err))
		}
	}
	message, err := composeMessage(c.Message, c.Provenance)
	if err != nil {
		return fail(err)
	}
	author := c.Author
	if author == (Identity{}) {
		author = p.committer
	}
	if err := author.validate("author"); err != nil {
		return fail(err)
	}
	if c.Edit == nil {
		return fail(errors.New("no edit"))
	}

	s := &session{p: p, branch: plumbing.NewBranchReferenceName(c.Branch), sto: memory.NewStorage()}
	s.base = s.branch
	if c.Base != "" {
		s.base = plumbing.NewBranchReferenceName(c.Base)
	}
	if s.repo, err = git.Init(s.sto, nil); err != nil {
		return fail(err)
	}
	if _, err := s.repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{p.url}}); err != nil {
		return fail(err)
	}
	h, err := s.fetchHeads(ctx)
	if err != nil {
		return fail(err)
	}
	for {
		pub.Attempts++
		p.log.V(1).Info("publishing", "remote", p.display, "branch", c.Branch, "attempt", pub.Attempts, "head", h.base.String())
		edit, commit, err := s.commit(ctx, h.base, c.Edit, message, author)
		if err != nil {
			return fail(err)
		}
		pub.Base, pub.Edit, pub.Files = h.base.String(), edit, edit.Paths()
		if commit.IsZero() {
			pub.Action = Unchanged
			return pub, nil
		}
		if s.headBranch() && !h.branch.IsZero() {
			same, err := s.holds(h.branch, h.base, commit)
			if err != nil {
				return fail(err)
			}
			if same {
				pub.Action, pub.Commit = Unchanged, h.branch.String()
				return pub, nil
			}
		}
		pushed := func() (Publication, error) {
			pub.Action, pub.Commit = Pushed, commit.String()
			if s.headBranch() && !h.branch.IsZero() {
				pub.Replaced = h.branch.String()
			}
			return pub, nil
		}
		pushErr := s.push(ctx, h.branch)
		if pushErr == nil {
			return pushed()
		}
		// Whether the branch moved decides what the refusal was: go-git
		// and servers word a lost race in many ways.
		now, err := s.fetchHeads(ctx)
		switch {
		case err != nil:
			return fail(fmt.Errorf("push: %w; then fetch: %w", pushErr, err))
		case now.branch == commit:
			return pushed() // the push landed; only its answer was lost
		case now == h:
			return fail(fmt.Errorf("push: %w", pushErr))
		case pub.Attempts >= p.attempts:
			return fail(fmt.Errorf("%w: it was at %s when last fetched", ErrBranchMoved, now))
		}
		p.log.V(1).Info("branch moved; retrying", "branch", c.Branch, "was", h.String(), "now", now.String())
		if err := p.wait(ctx, pub.Attempts); err != nil {
			return fail(err)
		}
		h = now
	}
}

// wait sleeps before attempt n+1.
func (p *Publisher) wait(ctx context.Context, n int) error {
	d := p.delay * time.Duration(n)
	if d <= 0 {
		return ctx.Err()
	}
	d = d/2 + rand.N(d) // jitter, so that racing publishers spread out
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// session is one Publish's in-memory repository.
type session struct {
	p *Publisher
	// branch is pushed to; the edit runs on base's head. They are the
	// same but on a head branch.
	branch, base plumbing.ReferenceName
	sto          *memory.Storage
	repo         *git.Repository
}

// headBranch reports a push to a head branch, from another base.
func (s *session) headBranch() bool { return s.branch != s.base }

// heads are the remote's heads one attempt builds on: base's, and
// branch's (the same on a direct commit; zero when a head branch does not
// exist yet).
type heads struct{ base, branch plumbing.Hash }

func (h heads) String() string {
	if h.base == h.branch {
		return short(h.base)
	}
	branch := "none"
	if !h.branch.IsZero() {
		branch = short(h.branch)
	}
	return fmt.Sprintf("base %s, branch %s", short(h.base), branch)
}

// fetchHeads fetches the heads of base and, on a head branch, of branch.
func (s *session) fetchHeads(ctx context.Context) (heads, error) {
	base, err := s.fetch(ctx, s.base)
	if err != nil || !s.headBranch() {
		return heads{base: base, branch: base}, err
	}
	branch, err := s.fetch(ctx, s.branch)
	if errors.Is(err, ErrBranchNotFound) {
		return heads{base: base}, nil // not there (any more): the push creates it
	}
	return heads{base: base, branch: branch}, err
}

func tracking(branch plumbing.ReferenceName) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", branch.Short())
}

// fetch fetches a branch's head, one commit deep, and returns it.
func (s *session) fetch(ctx context.Context, branch plumbing.ReferenceName) (plumbing.Hash, error) {
	err := s.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec("+" + branch.String() + ":" + tracking(branch).String())},
		Depth:      1,
		Tags:       git.NoTags,
		Force:      true,
		Auth:       s.p.auth,
		CABundle:   s.p.caBundle,
	})
	var noMatch git.NoMatchingRefSpecError
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.As(err, &noMatch), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return plumbing.ZeroHash, fmt.Errorf("%w: no branch %s on the remote", ErrBranchNotFound, branch.Short())
	default:
		return plumbing.ZeroHash, fmt.Errorf("fetch: %w", transportError(ctx, err))
	}
	ref, err := s.repo.Reference(tracking(branch), true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch: %w", err)
	}
	return ref.Hash(), nil
}

// holds reports whether the head branch's commit at already is the
// change commit makes: one commit on base, with the same tree.
func (s *session) holds(at, base, commit plumbing.Hash) (bool, error) {
	have, err := s.repo.CommitObject(at)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", short(at), err)
	}
	want, err := s.repo.CommitObject(commit)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", short(commit), err)
	}
	return have.TreeHash == want.TreeHash && len(have.ParentHashes) == 1 && have.ParentHashes[0] == base, nil
}

// commit checks head out into a fresh in-memory work tree, runs edit on
// it, writes and stages the files whose content changes and commits them.
// It returns the zero hash when nothing changes.
func (s *session) commit(ctx context.Context, head plumbing.Hash, edit Edit, message string, author Identity) (Result, plumbing.Hash, error) {
	wfs := memfs.New()
	repo, err := git.Open(s.sto, wfs)
	if err != nil {
		return Result{}, plumbing.ZeroHash, err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return Result{}, plumbing.ZeroHash, err
	}
	// A fresh work tree and an empty index: nothing an earlier attempt
	// wrote survives into this one.
	if err := s.sto.SetIndex(&index.Index{Version: 2}); err != nil {
		return Result{}, plumbing.ZeroHash, err
	}
	for _, ref := range []*plumbing.Reference{
		plumbing.NewHashReference(s.branch, head),
		plumbing.NewSymbolicReference(plumbing.HEAD, s.branch),
	} {
		if err := s.sto.SetReference(ref); err != nil {
			return Result{}, plumbing.ZeroHash, err
		}
	}
	if err := wt.Reset(&git.ResetOptions{Commit: head, Mode: git.HardReset}); err != nil {
		return Result{}, plumbing.ZeroHash, fmt.Errorf("check out %s: %w", short(head), err)
	}
	res, err := edit.Apply(ctx, iofs.New(wfs))
	if err != nil {
		return Result{}, plumbing.ZeroHash, fmt.Errorf("edit on %s: %w", short(head), err)
	}
	changed, err := writeChanges(wfs, res)
	if err != nil {
		return Result{}, plumbing.ZeroHash, fmt.Errorf("edit on %s: %w", short(head), err)
	}
	if len(changed.Files) == 0 {
		return changed, plumbing.ZeroHash, nil
	}
	for _, f := range changed.Files {
		if err := wt.AddWithOptions(&git.AddOptions{Path: f.Path, SkipStatus: true}); err != nil {
			return Result{}, plumbing.ZeroHash, fmt.Errorf("stage %s: %w", f.Path, err)
		}
	}
	now := time.Now()
	commit, err := wt.Commit(message, &git.CommitOptions{
		Author:    &gitobject.Signature{Name: author.Name, Email: author.Email, When: now},
		Committer: &gitobject.Signature{Name: s.p.committer.Name, Email: s.p.committer.Email, When: now},
		Signer:    s.p.signer,
	})
	if errors.Is(err, git.ErrEmptyCommit) {
		return Result{}, plumbing.ZeroHash, nil
	}
	if err != nil {
		return Result{}, plumbing.ZeroHash, fmt.Errorf("commit: %w", err)
	}
	return changed, commit, nil
}

// push pushes the branch, provided the remote's branch is still at old
// (still absent, when old is zero).
func (s *session) push(ctx context.Context, old plumbing.Hash) error {
	opts := &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec(s.branch.String() + ":" + s.branch.String())},
		Auth:       s.p.auth,
		CABundle:   s.p.caBundle,
	}
	if !old.IsZero() {
		// A lease, not a force: the remote's branch must be where it was
		// fetched, and the server checks it again under its lock. Without
		// one, a branch the push creates must not exist: the server gets
		// the zero hash as its old value, and refuses it if it does.
		opts.ForceWithLease = &git.ForceWithLease{RefName: s.branch, Hash: old}
	}
	if err := s.repo.PushContext(ctx, opts); err != nil {
		return transportError(ctx, err)
	}
	return nil
}

// transportError names go-git's transport failures by the package's
// sentinels, and the context's when it ended the call.
func transportError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return err
}

// writeChanges writes res's files into wfs and returns those whose
// content changed, each once, with the content it had before.
func writeChanges(wfs billy.Filesystem, res Result) (Result, error) {
	var out Result
	at := map[string]int{}
	for _, f := range res.Files {
		if err := validChangePath(f.Path); err != nil {
			return Result{}, err
		}
		old, err := util.ReadFile(wfs, f.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return Result{}, fmt.Errorf("%s: %w", f.Path, err)
		}
		if err := noLinks(wfs, f.Path); err != nil {
			return Result{}, err
		}
		perm := fs.FileMode(0o644)
		if st, err := wfs.Lstat(f.Path); err == nil {
			perm = st.Mode().Perm()
		}
		if i, ok := at[f.Path]; ok {
			out.Files[i].New = f.New // a second change to the file: the last wins
		} else if !exists || !bytes.Equal(old, f.New) {
			at[f.Path] = len(out.Files)
			out.Files = append(out.Files, FileChange{Path: f.Path, Old: old, New: f.New})
		} else {
			continue
		}
		if err := wfs.MkdirAll(path.Dir(f.Path), 0o755); err != nil {
			return Result{}, fmt.Errorf("%s: %w", f.Path, err)
		}
		if err := util.WriteFile(wfs, f.Path, f.New, perm); err != nil {
			return Result{}, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	// A file changed and changed back is no change.
	kept := out.Files[:0]
	for _, f := range out.Files {
		if f.Old == nil || !bytes.Equal(f.Old, f.New) {
			kept = append(kept, f)
		}
	}
	out.Files = kept
	out.Skipped = res.Skipped
	return out, nil
}

// noLinks refuses a path that is, or goes through, a symbolic link of the
// tree: an edit writes the files it names, not what a link points to.
func noLinks(wfs billy.Filesystem, p string) error {
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		st, err := wfs.Lstat(p[:i])
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p[:i], err)
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: %s is a symbolic link; an edit writes files, not through links", p, p[:i])
		}
	}
	return nil
}

// validChangePath refuses a path an edit must not write: not a clean
// relative path, or inside a .git directory (which git refuses in a tree,
// and which would be another repository's configuration once checked out).
func validChangePath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`) {
		return fmt.Errorf("%q is not a clean slash-separated path inside the tree", clip(p))
	}
	for _, part := range strings.Split(p, "/") {
		if strings.EqualFold(part, ".git") {
			return fmt.Errorf("%q is inside .git", clip(p))
		}
	}
	return nil
}

// validBranch refuses what `git check-ref-format --branch` refuses and,
// stricter, anything but ASCII letters, digits and . _ - / +.
func validBranch(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q %s", ErrInvalidBranch, bounded(name, 64), why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidBranch)
	case len(name) > 255:
		return bad("is longer than 255 bytes")
	case name[0] == '-':
		return bad("starts with '-'")
	case name == "HEAD":
		return bad("is HEAD")
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-', c == '/', c == '+':
		case c < 0x20 || c == 0x7f:
			return bad("holds a control character")
		default:
			return bad(fmt.Sprintf("holds %q (allowed: letters, digits and . _ - / +)", rune(c)))
		}
	}
	switch {
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return bad("has an empty path component")
	case strings.HasSuffix(name, "."):
		return bad("ends with '.'")
	case strings.Contains(name, ".."):
		return bad("holds '..'")
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return bad("has a component starting with '.' or ending with .lock")
		}
	}
	// go-git's own reading of git's rules, as a second opinion.
	if plumbing.NewBranchReferenceName(name).Validate() != nil {
		return bad("is not a valid reference name")
	}
	return nil
}
