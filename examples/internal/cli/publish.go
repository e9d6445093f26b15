package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/converge-dev/converge/promote"
	"github.com/converge-dev/converge/source/git"
)

// publishFlags say where promote and rollback commit: the repository's
// branch, directly or through a pull request, as whom, signed with what.
type publishFlags struct {
	repo, branch string
	dryRun       bool

	pr                  bool
	forge, forgeURL     string
	forgeRepo           string
	labels              []string
	tokenFile, gitUser  string
	author              string
	signingKey          string
	signingPassphrase   string
	insecureForge       bool
	localRemote, remote string // resolved by check
}

func (f *publishFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.repo, "repo", "", "Git URL (https, http, ssh, file) or local clone of the deployment repository")
	fs.StringVar(&f.branch, "branch", "main", "the branch the environments live on")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show the change and commit nothing")
	fs.BoolVar(&f.pr, "pr", false, "push to a head branch of its own and open (or update) a pull request instead of committing to --branch")
	fs.StringVar(&f.forge, "forge", "", "with --pr: gitea, github or gitlab")
	fs.StringVar(&f.forgeURL, "forge-url", "", "with --pr: the forge's URL (default https://api.github.com, https://gitlab.com; required for gitea)")
	fs.StringVar(&f.forgeRepo, "forge-repo", "", `with --pr: the repository on the forge, "owner/name" (a GitLab project path or ID)`)
	fs.StringSliceVar(&f.labels, "label", nil, "with --pr: a label for the pull request (repeatable)")
	fs.BoolVar(&f.insecureForge, "insecure-forge", false, "with --pr: let the forge's URL be plain http (loopback and tests)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the token for the forge's API and for pushing over https ($CONVERGE_GIT_TOKEN otherwise)")
	fs.StringVar(&f.gitUser, "git-user", "converge", "the user name pushes over https give with the token (GitLab wants oauth2)")
	fs.StringVar(&f.author, "author", "converge <converge@localhost>", `the commit's author and committer, "Name <email>"`)
	fs.StringVar(&f.signingKey, "signing-key", "", "sign the commit with this armored OpenPGP or OpenSSH private key file")
	fs.StringVar(&f.signingPassphrase, "signing-passphrase-file", "", "file holding --signing-key's passphrase")
}

var branchName = regexp.MustCompile(`^[A-Za-z0-9_+][A-Za-z0-9._+/-]{0,254}$`)

// check validates the flags and resolves --repo to the URL pushed to.
func (f *publishFlags) check() error {
	if f.repo == "" {
		return usagef("--repo is required")
	}
	// The rules promote.Change holds a branch to, checked before any
	// fetch: no option ("-f"), shell ("main;rm") or path ("../x") reading.
	if err := git.CheckRefName("refs/heads/" + f.branch); err != nil || !branchName.MatchString(f.branch) {
		return usagef("--branch %q is not a branch name", f.branch)
	}
	if isURL(f.repo) {
		f.remote = f.repo
	} else {
		abs, err := filepath.Abs(f.repo)
		if err != nil {
			return fmt.Errorf("repository %s: %w", f.repo, err)
		}
		if !isGitRoot(abs) {
			return fmt.Errorf("repository %s is not the root of a Git repository: promote and rollback commit to one", f.repo)
		}
		f.remote, f.localRemote = "file://"+filepath.ToSlash(abs), abs
	}
	if _, err := mail.ParseAddress(f.author); err != nil {
		return usagef(`--author %q: want "Name <email>"`, f.author)
	}
	if !f.pr {
		if f.forge != "" || f.forgeURL != "" || f.forgeRepo != "" || len(f.labels) > 0 {
			return usagef("--forge, --forge-url, --forge-repo and --label go with --pr")
		}
		return nil
	}
	switch f.forge {
	case "gitea", "github", "gitlab":
	case "":
		return usagef("--pr needs --forge: gitea, github or gitlab")
	default:
		return usagef("--forge %q: want gitea, github or gitlab", f.forge)
	}
	if f.forgeRepo == "" {
		return usagef("--pr needs --forge-repo owner/name")
	}
	if f.forge == "gitea" && f.forgeURL == "" {
		return usagef("--forge gitea needs --forge-url")
	}
	return nil
}

func (f *publishFlags) identity() promote.Identity {
	a, _ := mail.ParseAddress(f.author) // checked by check
	return promote.Identity{Name: cmpOr(a.Name, a.Address), Email: a.Address}
}

// token is the forge's and the push's token, from --token-file or the
// environment; "" when neither gives one.
// A token goes over plain http only to a loopback host.
func (f *publishFlags) token() (string, error) {
	token := os.Getenv("CONVERGE_GIT_TOKEN")
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", usagef("--token-file: %s", rootCause(err))
		}
		token = strings.TrimSpace(string(data))
	}
	if token != "" && strings.HasPrefix(f.remote, "http://") && !loopback(f.remote) {
		return "", usagef("%s is plain http: converge sends no token over it", git.Redact(f.remote))
	}
	return token, nil
}

func loopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// gitOptions are the source/git options that read the repository.
func (f *publishFlags) gitOptions(token string) []git.Option {
	var opts []git.Option
	if f.localRemote != "" || strings.HasPrefix(f.remote, "file://") {
		opts = append(opts, git.WithFileURLs())
	}
	if token != "" && strings.HasPrefix(f.remote, "http") {
		opts = append(opts, git.WithBasicAuth(f.gitUser, token))
	}
	return opts
}

// publisher builds the Publisher of the flags.
func (f *publishFlags) publisher(token string) (*promote.Publisher, error) {
	var opts []promote.PublisherOption
	if strings.HasPrefix(f.remote, "file://") {
		opts = append(opts, promote.WithLocalRemote())
	}
	if token != "" && strings.HasPrefix(f.remote, "http") {
		opts = append(opts, promote.WithPushCredentials(promote.Credentials{Username: f.gitUser, Password: token}))
	}
	if strings.HasPrefix(f.remote, "http://") {
		opts = append(opts, promote.WithPushInsecure())
	}
	if f.signingKey != "" {
		s, err := f.signer()
		if err != nil {
			return nil, err
		}
		opts = append(opts, promote.WithSigner(s))
	}
	p, err := promote.NewPublisher(f.remote, f.identity(), opts...)
	if err != nil {
		return nil, usagef("%s", oneLine(err.Error()))
	}
	return p, nil
}

// signer reads --signing-key, OpenPGP or SSH by its armor.
func (f *publishFlags) signer() (promote.Signer, error) {
	key, err := os.ReadFile(f.signingKey)
	if err != nil {
		return nil, usagef("--signing-key: %s", rootCause(err))
	}
	var pass []byte
	if f.signingPassphrase != "" {
		if pass, err = os.ReadFile(f.signingPassphrase); err != nil {
			return nil, usagef("--signing-passphrase-file: %s", rootCause(err))
		}
		pass = bytes.TrimRight(pass, "\r\n")
	}
	var s promote.Signer
	if bytes.Contains(key, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		s, err = promote.NewOpenPGPSigner(key, pass)
	} else {
		s, err = promote.NewSSHSigner(key, pass)
	}
	if err != nil {
		// The key's bytes never reach the message: only what failed.
		return nil, usagef("--signing-key %s: %s", f.signingKey, oneLine(err.Error()))
	}
	return s, nil
}

// forgeClient is the forge --pr names.
func (f *publishFlags) forgeClient(token string) (promote.Forge, error) {
	if token == "" {
		return nil, usagef("--pr needs a token: --token-file or $CONVERGE_GIT_TOKEN")
	}
	var opts []promote.ForgeOption
	if f.insecureForge {
		opts = append(opts, promote.WithForgeInsecure())
	}
	var (
		forge promote.Forge
		err   error
	)
	switch f.forge {
	case "gitea":
		forge, err = promote.NewGitea(f.forgeURL, f.forgeRepo, token, opts...)
	case "github":
		forge, err = promote.NewGitHub(cmpOr(f.forgeURL, promote.DefaultGitHubURL), f.forgeRepo, token, opts...)
	default:
		forge, err = promote.NewGitLab(cmpOr(f.forgeURL, promote.DefaultGitLabURL), f.forgeRepo, token, opts...)
	}
	if err != nil {
		return nil, usagef("%s", oneLine(err.Error()))
	}
	return forge, nil
}

// publish commits change to --branch, or, with --pr, to head and keeps
// a pull request of it open; it prints what it did.
func (f *publishFlags) publish(ctx context.Context, out *output, token string, change promote.Change, head, title, body string) error {
	var forge promote.Forge
	if f.pr {
		var err error
		if forge, err = f.forgeClient(token); err != nil {
			return err
		}
		change.Base, change.Branch = f.branch, head
	}
	p, err := f.publisher(token)
	if err != nil {
		return err
	}
	pub, err := p.Publish(ctx, change)
	if errors.Is(err, promote.ErrBranchMoved) {
		return fmt.Errorf("%s kept moving while converge committed: %s; run again", change.Branch, oneLine(err.Error()))
	}
	if err != nil {
		return err
	}
	switch {
	case pub.Action == promote.Unchanged && pub.Commit == "":
		out.printf("%s already holds this change: nothing committed", f.branch)
	case pub.Action == promote.Unchanged:
		out.printf("%s already holds this change at %s: nothing pushed", pub.Branch, short12(pub.Commit))
	default:
		out.printf("pushed %s to %s (on %s, %d attempt(s)): %s", short12(pub.Commit), pub.Branch, short12(pub.Base), pub.Attempts, strings.Join(pub.Files, ", "))
	}
	if forge == nil {
		return nil
	}
	res, err := promote.NewPullRequester(forge).Ensure(ctx, promote.PullRequestSpec{
		Head: head, Base: f.branch, Title: title, Body: body, Labels: f.labels,
	})
	if err != nil {
		return err
	}
	out.printf("pull request #%d %s: %s", res.PullRequest.Number, res.Action, res.PullRequest.URL)
	return nil
}

func short12(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
