package operator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/reconcile/webhook"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

func TestFollows(t *testing.T) {
	const repo = "https://git.example/org/deploy.git"
	app := func(url, rev string, ref *v1alpha1.GitRef) *v1alpha1.Application {
		return &v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Source: v1alpha1.Source{RepoURL: url, TargetRevision: rev, Ref: ref}}}
	}
	push := func(branch string, urls ...string) webhook.Event {
		return webhook.Event{Forge: webhook.GitHub, URLs: urls, Branch: branch, Revision: strings.Repeat("a", 40)}
	}
	tag := func(name string, urls ...string) webhook.Event {
		return webhook.Event{Forge: webhook.GitHub, URLs: urls, Tag: name, Revision: strings.Repeat("a", 40)}
	}
	cases := map[string]struct {
		app    *v1alpha1.Application
		event  webhook.Event
		want   bool
		reason string
	}{
		"same url and branch": {app(repo, "main", nil), push("main", repo), true, "the plain case"},
		"spellings of the url": {app(repo, "main", nil), push("main", "HTTPS://Git.Example/org/deploy/"), true,
			"scheme, host case and trailing .git or / do not matter"},
		"ssh twin": {app(repo, "main", nil), push("main", "git@git.example:org/deploy.git"), true,
			"an SSH URL names the same repository"},
		"credentials in the url": {app("https://user:token@git.example/org/deploy", "main", nil), push("main", repo), true,
			"credentials are not part of the identity"},
		"any url of the event": {app(repo, "main", nil), push("main", "https://git.example/org/other.git", repo), true,
			"the event lists clone, SSH and web URLs"},
		"another repository": {app(repo, "main", nil), push("main", "https://git.example/org/other.git"), false, ""},
		"another host":       {app(repo, "main", nil), push("main", "https://git.example.org/org/deploy.git"), false, ""},
		"another branch":     {app(repo, "main", nil), push("release", repo), false, ""},
		"HEAD follows main":  {app(repo, "HEAD", nil), push("main", repo), true, "as the pass reads HEAD"},
		"no revision":        {app(repo, "", nil), push("main", repo), true, "an empty targetRevision is main"},
		"ref.branch":         {app(repo, "", &v1alpha1.GitRef{Branch: "release"}), push("release", repo), true, "Flux's shape"},
		"ref.name of a branch": {app(repo, "", &v1alpha1.GitRef{Name: "refs/heads/main"}), push("main", repo), true,
			"a reference name follows its branch"},
		"pinned commit": {app(repo, "", &v1alpha1.GitRef{Branch: "main", Commit: strings.Repeat("0", 40)}), push("main", repo), false,
			"a commit does not move with the branch"},
		"tag push, tag app":     {app(repo, "v1.2.0", nil), tag("v1.2.0", repo), true, "the tag moved or appeared"},
		"tag push, other tag":   {app(repo, "v1.2.0", nil), tag("v1.3.0", repo), false, ""},
		"tag push, semver app":  {app(repo, ">=1.0.0 <2.0.0", nil), tag("v1.3.0", repo), true, "a new tag may be in the range"},
		"tag push, branch app":  {app(repo, "main", nil), tag("main", repo), false, "a tag named like the branch is not the branch"},
		"branch push, tag app":  {app(repo, "v1.2.0", nil), push("v1.2.0", repo), false, ""},
		"no repository url":     {app("", "main", nil), push("main", repo), false, ""},
		"unparsable revision":   {app(repo, "bad..name", nil), push("main", repo), false, "an invalid spec follows nothing"},
		"an event with no urls": {app(repo, "main", nil), push("main"), false, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, Follows(tc.app, tc.event), tc.reason)
		})
	}
}

// An Application follows the pushes of its repository, however the
// forge spells its URL, and of the branch it names.
func ExampleFollows() {
	app := &v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{
		Source: v1alpha1.Source{RepoURL: "https://github.com/myorg/gitops-deploy.git", TargetRevision: "main"},
	}}
	push := webhook.Event{Forge: webhook.GitHub, Branch: "main", URLs: []string{"git@github.com:myorg/gitops-deploy.git"}}
	fmt.Println(Follows(app, push))
	push.Branch = "release"
	fmt.Println(Follows(app, push))
	// Output:
	// true
	// false
}

// isolated is an operator of its own on a bare plane of its own, for the
// tests that configure the operator (its webhook receiver, its metrics
// address): the shared operator of the living plane would reconcile
// their Applications too, at times the tests do not control.
type isolated struct {
	env              *testenv.Env
	c                client.Client
	webhook, metrics string // host:port
	secret           []byte
}

func startIsolated(t *testing.T, mutate func(*Options)) *isolated {
	t.Helper()
	env, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	if env != nil {
		t.Cleanup(func() { assert.NoError(t, env.Stop(), "stop the plane") })
	}
	require.NoError(t, err, "start a bare plane")
	require.NoError(t, InstallCRD(ctxT(t), env.Config))
	scheme, err := Scheme()
	require.NoError(t, err)
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)

	iso := &isolated{env: env, c: c, webhook: freeAddr(t), metrics: freeAddr(t), secret: []byte("shared-with-the-forges")}
	opts := DefaultOptions()
	opts.HealthAddr = "0"
	opts.MetricsAddr = iso.metrics
	opts.WebhookAddr = iso.webhook
	opts.WebhookSecrets = WebhookSecrets{GitHub: iso.secret, Gitea: iso.secret, GitLab: iso.secret}
	opts.DefaultInterval = time.Hour // nothing but a push reconciles again
	opts.RetryInterval = 500 * time.Millisecond
	opts.skipNameValidation = true
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, env.Config, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Run returns nil when its context ends")
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30s of its context ending")
		}
	})
	for _, addr := range []string{iso.webhook, iso.metrics} {
		deadline := time.Now().Add(waitFor)
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = conn.Close()
				break
			}
			select {
			case err := <-done:
				t.Fatalf("the operator stopped: %v", err)
			default:
			}
			require.True(t, time.Now().Before(deadline), "nothing listens on %s: %v", addr, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return iso
}

// fixture is a namespace of the isolated plane and a repository, with
// the shared tests' helpers.
func (iso *isolated) fixture(t *testing.T) *fixture {
	srv := gittest.NewServer(t)
	return &fixture{t: t, env: iso.env, c: iso.c, ns: iso.env.Namespace(t), repo: srv.NewRepo(t, "deploy"), down: &atomic.Bool{}}
}

// post delivers a push event to the operator's receiver and returns the
// status code.
func (iso *isolated) post(t *testing.T, headers map[string]string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://"+iso.webhook+WebhookPath, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// pushBody is a push event in GitHub's shape, which Gitea's follows.
func pushBody(t *testing.T, branch, after, cloneURL, sshURL string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"ref": "refs/heads/" + branch, "after": after,
		"repository": map[string]string{"clone_url": cloneURL, "ssh_url": sshURL},
	})
	require.NoError(t, err)
	return b
}

// TestWebhook: the operator's receiver, on the real HTTP server Run
// starts, takes GitHub, Gitea and GitLab push events. A delivery that is
// not verified is a 401 and changes nothing; a verified push of another
// repository or branch reconciles nothing; a verified push makes the
// Applications on that repository and branch apply its commit at once,
// though their interval is an hour and the fetch of their repository is
// coalesced for an hour.
func TestWebhook(t *testing.T) {
	t.Parallel()
	iso := startIsolated(t, func(o *Options) { o.FetchCoalesce = time.Hour })
	f := iso.fixture(t)
	first := f.repo.Commit(t, "first", map[string]string{
		"web/cm.yaml": configMapYAML("web", map[string]string{"v": "1"}),
		"rel/cm.yaml": configMapYAML("rel", map[string]string{"v": "1"}),
	})
	f.repo.Branch(t, "release")
	f.repo.Checkout(t, "main")
	f.application("web", "web")
	f.application("rel", "rel", func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "release" })
	f.eventually("web", "ready at the first commit", readyAt(first))
	f.eventually("rel", "ready at the first commit", readyAt(first))

	onMain := f.repo.Commit(t, "web v2", map[string]string{"web/cm.yaml": configMapYAML("web", map[string]string{"v": "2"})})
	f.repo.Checkout(t, "release")
	onRelease := f.repo.Commit(t, "rel v2", map[string]string{"rel/cm.yaml": configMapYAML("rel", map[string]string{"v": "2"})})
	f.repo.Checkout(t, "main")

	// The gittest URL is http://127.0.0.1:PORT/deploy.git; the forge
	// spells it its own way.
	spelled := strings.TrimSuffix(strings.Replace(f.repo.URL, "http://", "HTTPS://", 1), ".git") + "/"
	ssh := strings.Replace(f.repo.URL, "http://", "ssh://git@", 1)
	mainPush := pushBody(t, "main", onMain, spelled, ssh)

	unverified := map[string]struct {
		headers map[string]string
		body    []byte
	}{
		"github, wrong signature": {map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign([]byte("guess"), mainPush)}, mainPush},
		"github, no signature":    {map[string]string{"X-GitHub-Event": "push"}, mainPush},
		"github, body changed after signing": {map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(iso.secret, mainPush)},
			pushBody(t, "release", onRelease, spelled, ssh)},
		"gitea, wrong signature": {map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sign([]byte("guess"), mainPush)}, mainPush},
		"gitlab, wrong token":    {map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}, mainPush},
		"no forge":               {map[string]string{}, mainPush},
	}
	for name, tc := range unverified {
		assert.Equal(t, http.StatusUnauthorized, iso.post(t, tc.headers, tc.body), name)
	}
	other := pushBody(t, "main", onMain, strings.Replace(f.repo.URL, "deploy", "other", 1), "")
	assert.Equal(t, http.StatusAccepted, iso.post(t, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(iso.secret, other)}, other),
		"a verified push of another repository is accepted, and triggers nothing")
	time.Sleep(3 * time.Second)
	for name, branch := range map[string]string{"web": "main", "rel": "release"} {
		assert.Equal(t, branch+"@sha1:"+first, f.get(name).Status.LastAttemptedRevision, "%s: nothing fetched anew", name)
	}
	assert.Equal(t, map[string]string{"v": "1"}, f.configMap("web"))

	// A push of release reconciles rel, not web.
	relPush := pushBody(t, "release", onRelease, spelled, ssh)
	start := time.Now()
	assert.Equal(t, http.StatusAccepted, iso.post(t, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(iso.secret, relPush)}, relPush))
	f.eventually("rel", "ready at release's new commit", func(a *v1alpha1.Application) bool {
		return condition(a, v1alpha1.ConditionReady).Status == metav1.ConditionTrue && a.Status.LastAppliedRevision == "release@sha1:"+onRelease
	})
	t.Logf("push to applied: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("rel"))
	time.Sleep(time.Second)
	assert.Equal(t, "main@sha1:"+first, f.get("web").Status.LastAttemptedRevision, "a push of release leaves main's Applications alone")

	// Gitea's push of main, naming the repository by its SSH URL only.
	giteaPush := pushBody(t, "main", onMain, "", ssh)
	start = time.Now()
	assert.Equal(t, http.StatusAccepted, iso.post(t, map[string]string{"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gitea-Signature": sign(iso.secret, giteaPush)}, giteaPush))
	f.eventually("web", "ready at main's new commit", readyAt(onMain))
	took := time.Since(start)
	t.Logf("push to applied: %s", took.Round(time.Millisecond))
	assert.Less(t, took, time.Minute, "well before the interval of an hour")
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("web"))

	// GitLab's token verifies its events.
	gitlab, err := json.Marshal(map[string]any{"ref": "refs/heads/main", "after": onMain, "project": map[string]string{"git_http_url": f.repo.URL}})
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, iso.post(t, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": string(iso.secret)}, gitlab))
}

// TestRequestedAt: converge.dev/requested-at runs a pass now, with a
// fresh fetch, though the interval and the fetch coalescing are an
// hour; the value is echoed in status.lastHandledReconcileAt, and a
// second Application given the same value shares the first one's fetch.
func TestRequestedAt(t *testing.T) {
	t.Parallel()
	iso := startIsolated(t, func(o *Options) { o.FetchCoalesce = time.Hour })
	var listings atomic.Int64 // the operator's reference listings
	srv := gittest.NewServer(t, gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/info/refs") && !strings.HasPrefix(r.UserAgent(), "git/") {
				listings.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	f := &fixture{t: t, env: iso.env, c: iso.c, ns: iso.env.Namespace(t), repo: srv.NewRepo(t, "deploy"), down: &atomic.Bool{}}
	first := f.repo.Commit(t, "first", map[string]string{
		"web/cm.yaml": configMapYAML("web", map[string]string{"v": "1"}),
		"api/cm.yaml": configMapYAML("api", map[string]string{"v": "1"}),
	})
	f.application("web", "web")
	f.application("api", "api")
	f.eventually("web", "ready at the first commit", readyAt(first))
	f.eventually("api", "ready at the first commit", readyAt(first))
	second := f.repo.Commit(t, "v2", map[string]string{
		"web/cm.yaml": configMapYAML("web", map[string]string{"v": "2"}),
		"api/cm.yaml": configMapYAML("api", map[string]string{"v": "2"}),
	})

	request := func(name, at string) {
		t.Helper()
		app := f.get(name)
		base := app.DeepCopy()
		metav1.SetMetaDataAnnotation(&app.ObjectMeta, AnnotationRequestedAt, at)
		require.NoError(t, f.c.Patch(ctxT(t), app, client.MergeFrom(base)))
	}
	handled := func(at, commit string) func(*v1alpha1.Application) bool {
		return func(a *v1alpha1.Application) bool {
			return a.Status.LastHandledReconcileAt == at && readyAt(commit)(a)
		}
	}
	const at = "2026-12-04T10:00:00Z"
	request("web", at)
	f.eventually("web", "the request handled at the new commit", handled(at, second))
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("web"))
	assert.Equal(t, "main@sha1:"+first, f.get("api").Status.LastAttemptedRevision, "api was not asked")

	before := listings.Load()
	request("api", at)
	f.eventually("api", "the request handled at the new commit", handled(at, second))
	assert.Equal(t, before, listings.Load(), "the same request value shares web's fetch")

	third := f.repo.Commit(t, "v3", map[string]string{"api/cm.yaml": configMapYAML("api", map[string]string{"v": "3"})})
	request("api", "2026-12-04T10:05:00Z")
	f.eventually("api", "a new request fetches afresh", handled("2026-12-04T10:05:00Z", third))
	assert.Equal(t, map[string]string{"v": "3"}, f.configMap("api"))
}

// TestWebhookNeedsASecret: a receiver without a secret would refuse
// every event; Run says so instead of starting.
func TestWebhookNeedsASecret(t *testing.T) {
	opts := DefaultOptions()
	opts.WebhookAddr = "127.0.0.1:0"
	err := Run(context.Background(), nil, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no webhook secret")
}

// TestRunNeedsAConfig: a nil *rest.Config is an error, not a panic.
func TestRunNeedsAConfig(t *testing.T) {
	err := Run(context.Background(), nil, DefaultOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no cluster configuration")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := loopbackAddr()
	require.NoError(t, err)
	return addr
}
