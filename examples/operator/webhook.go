package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/webhook"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// WebhookPath is where the operator receives push events.
const WebhookPath = "/hooks/git"

// WebhookSecrets verify push events: GitHub's and Gitea's HMAC
// signatures and GitLab's token. A forge whose secret is empty is
// refused (401), so an unconfigured forge cannot trigger reconciles.
type WebhookSecrets struct {
	GitHub, Gitea, GitLab []byte
}

func (s WebhookSecrets) empty() bool {
	return len(s.GitHub) == 0 && len(s.Gitea) == 0 && len(s.GitLab) == 0
}

// Follows reports whether a push concerns app: e names app's repository
// (compared by reconcile.SourceIdentity, so the scheme, credentials, the
// case of the host and a trailing ".git" or "/" do not matter, and an
// SSH URL matches its HTTPS twin), and what was pushed is what app's
// revision follows: the branch it names (an empty targetRevision or HEAD
// follows main, as the pass does), the tag it names, or any tag for a
// semver range. An Application pinned to a commit follows nothing.
func Follows(app *v1alpha1.Application, e webhook.Event) bool {
	id := reconcile.SourceIdentity(app.Spec.Source.RepoURL)
	if id == "" {
		return false
	}
	same := false
	for _, u := range e.URLs {
		if reconcile.SourceIdentity(u) == id {
			same = true
			break
		}
	}
	if !same {
		return false
	}
	ref, _, err := revision(&app.Spec.Source)
	if err != nil || ref.Commit != "" {
		return false
	}
	switch {
	case e.Branch != "":
		return ref.Branch == e.Branch || ref.Name == "refs/heads/"+e.Branch
	case e.Tag != "":
		return ref.Tag == e.Tag || ref.Name == "refs/tags/"+e.Tag || ref.SemVer != ""
	}
	return false
}

// Webhook returns the receiver of push events for r's Applications:
// each verified push makes every Application that [Follows] it
// reconcile at once, through the controller's queue, instead of at its
// interval; its source is fetched anew even inside the fetch-coalescing
// window (r.Expirer). A delivery that is not verified is a 401 and
// triggers nothing. Serve it at [WebhookPath] behind TLS (an Ingress):
// the forges sign the body, they do not encrypt it.
//
// The receiver enqueues only once the controller runs (SetupWithManager
// and the manager's start); until then a push waits for the queue, as
// long as the forge's request lasts.
func (r *ApplicationReconciler) Webhook(secrets WebhookSecrets) http.Handler {
	return &webhook.Receiver{
		GitHubSecret: secrets.GitHub,
		GiteaSecret:  secrets.Gitea,
		GitLabToken:  secrets.GitLab,
		OnPush:       func(ctx context.Context, e webhook.Event) { r.trigger(ctx, e) },
	}
}

// trigger enqueues the Applications that follow e and returns how many.
func (r *ApplicationReconciler) trigger(ctx context.Context, e webhook.Event) int {
	if len(e.URLs) == 0 {
		return 0 // the Receiver hands on no such event
	}
	// The identity, never the URL: it may hold credentials.
	log := r.Log.WithValues("repository", reconcile.SourceIdentity(e.URLs[0]), "branch", e.Branch, "tag", e.Tag)
	if r.triggers == nil {
		log.Info("push ignored: the controller is not set up")
		return 0
	}
	var list v1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list); err != nil {
		log.Error(err, "push: list applications")
		return 0
	}
	n := 0
	for i := range list.Items {
		app := &list.Items[i]
		if app.Spec.Suspend || !app.DeletionTimestamp.IsZero() || !Follows(app, e) {
			continue
		}
		if !r.Shards.Owns(client.ObjectKeyFromObject(app)) {
			// Another replica holds its shard, and the forge reached this
			// one: the annotation wakes the holder.
			if err := r.forwardPush(ctx, app, e); err != nil {
				log.Error(err, "push: hand on to the shard's holder", "application", client.ObjectKeyFromObject(app))
				continue
			}
			n++
			continue
		}
		if r.Expirer != nil {
			// The fetcher's coalesced snapshot predates the push.
			r.Expirer.Expire(&reconcile.Unit{Source: reconcile.Source{URL: app.Spec.Source.RepoURL}})
		}
		select {
		case r.triggers <- event.GenericEvent{Object: app}:
			n++
		case <-ctx.Done():
			log.Info("push: the request ended before every application was queued", "triggered", n)
			return n
		}
	}
	log.Info("push", "revision", e.Revision, "triggered", n)
	return n
}

// forwardPush sets AnnotationPushed on an Application whose shard
// another replica holds.
func (r *ApplicationReconciler) forwardPush(ctx context.Context, app *v1alpha1.Application, e webhook.Event) error {
	v := e.Revision
	if v == "" {
		v = time.Now().UTC().Format(time.RFC3339Nano)
	}
	if app.Annotations[AnnotationPushed] == v {
		return nil // a redelivery: the holder was told
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationPushed: v}}})
	if err != nil {
		return err
	}
	return r.Client.Patch(ctx, app, client.RawPatch(types.MergePatchType, patch))
}

// serveWebhook serves h at WebhookPath on addr while the manager runs.
func serveWebhook(addr string, h http.Handler, log logr.Logger) manager.Runnable {
	mux := http.NewServeMux()
	mux.Handle(WebhookPath, h)
	return serveHTTP("webhook receiver", addr, mux, log)
}

// serveHTTP serves h on addr while the manager runs; what names it in
// errors and logs.
func serveHTTP(what, addr string, mux http.Handler, log logr.Logger) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		srv := &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		log.Info("serving "+what, "address", ln.Addr().String())
		select {
		case err := <-served:
			return fmt.Errorf("%s: %w", what, err)
		case <-ctx.Done():
		}
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			// Deliveries still under way after 5s are cut: the forge
			// retries them, or the next interval comes round.
			_ = srv.Close()
		}
		return nil
	})
}
