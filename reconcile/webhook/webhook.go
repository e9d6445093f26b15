// Package webhook receives the push events of GitHub, GitLab and Gitea,
// verifies them (an HMAC signature, or GitLab's token), and hands each
// push to the host, which triggers the units of that repository at once
// instead of at their next interval:
//
//	rcv := &webhook.Receiver{
//		GitHubSecret: secret, GitLabToken: token, GiteaSecret: secret,
//		OnPush: func(ctx context.Context, e webhook.Event) {
//			for _, url := range e.URLs {
//				loop.TriggerSource(url)
//			}
//		},
//	}
//	http.Handle("/hooks/git", rcv)
//
// A request that is not verified is a 401 and triggers nothing; a forge
// the Receiver has no secret for is refused the same way, so that an
// unconfigured forge cannot trigger reconciles. Events other than pushes
// are answered 202 and ignored; a ping is answered 200.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Forge names where an event came from.
type Forge string

const (
	GitHub Forge = "github"
	GitLab Forge = "gitlab"
	Gitea  Forge = "gitea"
)

// Event is one verified push.
type Event struct {
	Forge Forge
	// URLs are the repository's clone URLs the event names (HTTPS and
	// SSH), to match against units' sources (reconcile.SourceIdentity).
	URLs []string
	// Branch or Tag is what was pushed ("main", "v1.2.0"); Revision the
	// commit it points at now (all zeros for a deletion).
	Branch, Tag, Revision string
}

// DefaultMaxBody bounds a request's body: GitHub caps payloads at 25 MB,
// but a push payload for a deployment repository is kilobytes; 1 MiB
// leaves room for large pushes.
const DefaultMaxBody = 1 << 20

// Receiver is an http.Handler for push events.
type Receiver struct {
	// GitHubSecret verifies X-Hub-Signature-256; GiteaSecret
	// X-Gitea-Signature; GitLabToken is compared with X-Gitlab-Token. An
	// empty one refuses that forge's events.
	GitHubSecret, GiteaSecret, GitLabToken []byte
	// MaxBody bounds a body (DefaultMaxBody when 0).
	MaxBody int64
	// OnPush is called with each verified push, on the request's
	// goroutine, before the response: keep it short (a trigger).
	OnPush func(ctx context.Context, e Event)
}

// ErrUnverified is why an event was refused with 401.
var ErrUnverified = errors.New("the event is not verified")

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a push event", http.StatusMethodNotAllowed)
		return
	}
	max := r.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if int64(len(body)) > max {
		http.Error(w, fmt.Sprintf("the body is over %d bytes", max), http.StatusRequestEntityTooLarge)
		return
	}
	e, kind, err := r.Parse(req.Header, body)
	switch {
	case errors.Is(err, ErrUnverified):
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case kind == "ping":
		_, _ = io.WriteString(w, "pong\n")
		return
	case e == nil:
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, "ignored: %s events do not trigger reconciles\n", kind)
		return
	}
	if r.OnPush != nil {
		r.OnPush(req.Context(), *e)
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "accepted\n")
}

// Parse verifies and reads one delivery: its headers and body. It
// returns the push (nil for another event), the event's kind as the
// forge names it, and ErrUnverified (wrapped) when the delivery is not
// verified or comes from a forge without a secret.
func (r *Receiver) Parse(h http.Header, body []byte) (*Event, string, error) {
	switch {
	case h.Get("X-Gitea-Event") != "":
		// Gitea sends X-GitHub-Event too: its own header comes first.
		kind := h.Get("X-Gitea-Event")
		if err := verifyHMAC(r.GiteaSecret, h.Get("X-Gitea-Signature"), "", body); err != nil {
			return nil, kind, fmt.Errorf("gitea: %w", err)
		}
		if kind != "push" {
			return nil, kind, nil
		}
		return parseGitHubShape(Gitea, body)
	case h.Get("X-GitHub-Event") != "":
		kind := h.Get("X-GitHub-Event")
		if err := verifyHMAC(r.GitHubSecret, h.Get("X-Hub-Signature-256"), "sha256=", body); err != nil {
			return nil, kind, fmt.Errorf("github: %w", err)
		}
		switch kind {
		case "ping":
			return nil, kind, nil
		case "push":
			return parseGitHubShape(GitHub, body)
		}
		return nil, kind, nil
	case h.Get("X-Gitlab-Event") != "":
		kind := h.Get("X-Gitlab-Event")
		got := []byte(h.Get("X-Gitlab-Token"))
		if len(r.GitLabToken) == 0 || subtle.ConstantTimeCompare(got, r.GitLabToken) != 1 {
			return nil, kind, fmt.Errorf("gitlab: %w: X-Gitlab-Token does not match", ErrUnverified)
		}
		if kind != "Push Hook" && kind != "Tag Push Hook" {
			return nil, kind, nil
		}
		return parseGitLab(body)
	}
	return nil, "", fmt.Errorf("%w: no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header", ErrUnverified)
}

func verifyHMAC(secret []byte, signature, prefix string, body []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret is configured for this forge", ErrUnverified)
	}
	sig, ok := strings.CutPrefix(signature, prefix)
	if !ok || sig == "" {
		return fmt.Errorf("%w: no signature", ErrUnverified)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: the signature is not hex", ErrUnverified)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: the signature does not match", ErrUnverified)
	}
	return nil
}

// parseGitHubShape reads a push in GitHub's shape, which Gitea's
// follows.
func parseGitHubShape(f Forge, body []byte) (*Event, string, error) {
	var p struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			HTMLURL  string `json:"html_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, "push", fmt.Errorf("%s push: the body is not JSON: %s", f, clip(err.Error()))
	}
	return event(f, p.Ref, p.After, p.Repository.CloneURL, p.Repository.SSHURL, p.Repository.HTMLURL)
}

func parseGitLab(body []byte) (*Event, string, error) {
	var p struct {
		Ref         string `json:"ref"`
		After       string `json:"after"`
		CheckoutSHA string `json:"checkout_sha"`
		Project     struct {
			HTTPURL string `json:"git_http_url"`
			SSHURL  string `json:"git_ssh_url"`
			WebURL  string `json:"web_url"`
		} `json:"project"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, "push", fmt.Errorf("gitlab push: the body is not JSON: %s", clip(err.Error()))
	}
	rev := p.After
	if p.CheckoutSHA != "" {
		rev = p.CheckoutSHA
	}
	return event(GitLab, p.Ref, rev, p.Project.HTTPURL, p.Project.SSHURL, p.Project.WebURL)
}

func event(f Forge, ref, rev string, urls ...string) (*Event, string, error) {
	e := &Event{Forge: f, Revision: rev}
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		e.Branch = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		e.Tag = strings.TrimPrefix(ref, "refs/tags/")
	default:
		return nil, "push", fmt.Errorf("%s push: ref %q is not a branch or a tag", f, clip(ref))
	}
	for _, u := range urls {
		if u != "" && printable(u) {
			e.URLs = append(e.URLs, u)
		}
	}
	if len(e.URLs) == 0 {
		return nil, "push", fmt.Errorf("%s push: the event names no repository URL", f)
	}
	if !printable(e.Branch + e.Tag + e.Revision) {
		return nil, "push", fmt.Errorf("%s push: the ref or revision holds control characters", f)
	}
	return e, "push", nil
}

func printable(s string) bool {
	for _, c := range s {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
