package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/notify"
)

// A Reconciler that tells a signed JSON webhook and a Slack channel about
// every transition, as the package overview wires it. (Compiled, not run:
// it needs a cluster.)
func Example() {
	key := []byte(os.Getenv("WEBHOOK_SECRET"))
	hook, err := notify.NewWebhook("https://hooks.example.com/gitops", notify.WithSecret(key))
	if err != nil {
		fmt.Println(err)
		return
	}
	slack, err := notify.NewSlack(os.Getenv("SLACK_WEBHOOK_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := cluster.New(restConfig)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := reconcile.New(client, reconcile.WithNotifier(reconcile.Notifiers{hook, slack}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
}

// With a secret, every body is signed in X-Converge-Signature, as GitHub
// signs its webhooks.
func ExampleWithSecret() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p notify.Payload
		_ = json.Unmarshal(body, &p)
		fmt.Println(p.Unit, p.Reason, p.Severity, p.Message)
		fmt.Println(req.Header.Get("X-Converge-Signature") != "")
	}))
	defer srv.Close()

	hook, err := notify.NewWebhook(srv.URL, notify.WithSecret([]byte("s3cret")))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = hook.Notify(context.Background(), reconcile.Event{
		Unit:   reconcile.Ref{Namespace: "platform", Name: "backend-prod"},
		Reason: reconcile.EventSyncFailed, Revision: "main@sha1:0123456789ab",
		Message: "apply: 1 object failed", Time: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println(err)
	// Output:
	// platform/backend-prod SyncFailed error apply: 1 object failed
	// true
	// <nil>
}
