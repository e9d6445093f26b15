package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/reconcile/webhook"
)

var (
	githubSecret = []byte("gh-webhook-s3cret")
	giteaSecret  = []byte("gitea-webhook-s3cret")
	gitlabToken  = []byte("gl-webhook-t0ken")
)

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return data
}

type delivery struct {
	headers map[string]string
	body    []byte
}

func post(t *testing.T, rcv http.Handler, d delivery) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/git", strings.NewReader(string(d.body)))
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	rcv.ServeHTTP(w, req)
	return w
}

// TestReceiver delivers each forge's push, as the forge signs it, and
// the same deliveries tampered with: only verified pushes reach OnPush.
func TestReceiver(t *testing.T) {
	var got []webhook.Event
	rcv := &webhook.Receiver{GitHubSecret: githubSecret, GiteaSecret: giteaSecret, GitLabToken: gitlabToken,
		OnPush: func(_ context.Context, e webhook.Event) { got = append(got, e) }}

	gh := fixture(t, "github-push.json")
	gl := fixture(t, "gitlab-push.json")
	gt := fixture(t, "gitea-push.json")
	ok := map[string]delivery{
		"github": {map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e", "X-Hub-Signature-256": "sha256=" + sign(githubSecret, gh)}, gh},
		"gitlab": {map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": string(gitlabToken)}, gl},
		// Gitea sends its own headers and GitHub's.
		"gitea": {map[string]string{"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": sign(giteaSecret, gt), "X-Hub-Signature-256": "sha256=" + sign(giteaSecret, gt)}, gt},
	}
	for _, name := range []string{"github", "gitlab", "gitea"} {
		w := post(t, rcv, ok[name])
		assert.Equal(t, http.StatusAccepted, w.Code, name+": "+w.Body.String())
	}
	require.Len(t, got, 3)
	assert.Equal(t, webhook.Event{Forge: webhook.GitHub, Branch: "main", Revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		URLs: []string{"https://github.com/acme/gitops-deploy.git", "git@github.com:acme/gitops-deploy.git", "https://github.com/acme/gitops-deploy"}}, got[0])
	assert.Equal(t, webhook.Event{Forge: webhook.GitLab, Branch: "main", Revision: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		URLs: []string{"https://gitlab.example.com/acme/gitops-deploy.git", "git@gitlab.example.com:acme/gitops-deploy.git", "https://gitlab.example.com/acme/gitops-deploy"}}, got[1])
	assert.Equal(t, webhook.Event{Forge: webhook.Gitea, Tag: "v1.5.1", Revision: "8a1b3f0c2d4e6f8091a2b3c4d5e6f708192a3b4c",
		URLs: []string{"http://gitea.example.com/acme/gitops-deploy.git", "git@gitea.example.com:acme/gitops-deploy.git", "http://gitea.example.com/acme/gitops-deploy"}}, got[2])

	got = nil
	tampered := append([]byte{}, gh...)
	tampered[10] ^= 1
	for name, d := range map[string]delivery{
		"github body changed":        {ok["github"].headers, tampered},
		"github no signature":        {map[string]string{"X-GitHub-Event": "push"}, gh},
		"github signed with gitea's": {map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(giteaSecret, gh)}, gh},
		"github sha1 signature only": {map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=00"}, gh},
		"github not hex":             {map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=zz"}, gh},
		"gitlab wrong token":         {map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}, gl},
		"gitlab no token":            {map[string]string{"X-Gitlab-Event": "Push Hook"}, gl},
		"gitea as github":            {map[string]string{"X-Gitea-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(giteaSecret, gt)}, gt},
		"no forge":                   {map[string]string{}, gh},
	} {
		w := post(t, rcv, d)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name+": "+w.Body.String())
		assert.NotContains(t, w.Body.String(), "s3cret", name)
	}
	// A forge with no secret configured is refused, even when signed.
	noGitHub := &webhook.Receiver{GitLabToken: gitlabToken, OnPush: func(context.Context, webhook.Event) { got = append(got, webhook.Event{}) }}
	assert.Equal(t, http.StatusUnauthorized, post(t, noGitHub, ok["github"]).Code)
	assert.Empty(t, got, "nothing unverified was triggered")
}

func TestReceiverOtherEventsAndBadRequests(t *testing.T) {
	calls := 0
	rcv := &webhook.Receiver{GitHubSecret: githubSecret, GitLabToken: gitlabToken, MaxBody: 4096,
		OnPush: func(context.Context, webhook.Event) { calls++ }}
	signed := func(event string, body []byte) delivery {
		return delivery{map[string]string{"X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + sign(githubSecret, body)}, body}
	}
	w := post(t, rcv, signed("ping", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "pong\n", w.Body.String())
	w = post(t, rcv, signed("pull_request", []byte(`{"action":"opened"}`)))
	assert.Equal(t, http.StatusAccepted, w.Code)
	assert.Contains(t, w.Body.String(), "ignored: pull_request events")
	w = post(t, rcv, delivery{map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": string(gitlabToken)}, []byte(`{}`)})
	assert.Equal(t, http.StatusAccepted, w.Code)

	for name, c := range map[string]struct {
		body []byte
		code int
	}{
		"not json":       {[]byte(`<html>`), http.StatusBadRequest},
		"not a branch":   {[]byte(`{"ref":"refs/pull/1/head","repository":{"clone_url":"https://x/y.git"}}`), http.StatusBadRequest},
		"no repository":  {[]byte(`{"ref":"refs/heads/main"}`), http.StatusBadRequest},
		"control in ref": {[]byte(`{"ref":"refs/heads/ma\u0000in","repository":{"clone_url":"https://x/y.git"}}`), http.StatusBadRequest},
		"too large":      {[]byte(`{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 5000) + `"}`), http.StatusRequestEntityTooLarge},
	} {
		w := post(t, rcv, signed("push", c.body))
		assert.Equal(t, c.code, w.Code, name+": "+w.Body.String())
	}
	req := httptest.NewRequest(http.MethodGet, "/hooks/git", nil)
	rec := httptest.NewRecorder()
	rcv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Zero(t, calls)
}

// FuzzParse reads arbitrary signed bodies as each forge's push: no input
// may panic, and an accepted push always names a repository and a ref.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"github-push.json", "gitlab-push.json", "gitea-push.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"ref":"refs/heads/x","repository":{"clone_url":"\u0001"}}`))
	rcv := &webhook.Receiver{GitHubSecret: githubSecret, GiteaSecret: giteaSecret, GitLabToken: gitlabToken}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, h := range []http.Header{
			{"X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + sign(githubSecret, body)}},
			{"X-Gitea-Event": {"push"}, "X-Gitea-Signature": {sign(giteaSecret, body)}},
			{"X-Gitlab-Event": {"Push Hook"}, "X-Gitlab-Token": {string(gitlabToken)}},
		} {
			e, _, err := rcv.Parse(h, body)
			if err == nil && e != nil && (len(e.URLs) == 0 || e.Branch == "" && e.Tag == "") {
				t.Fatalf("accepted a push without a repository or ref: %+v", e)
			}
		}
	})
}
