package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/notify"
)

var event = reconcile.Event{
	Unit:     reconcile.Ref{Name: "backend-prod", Namespace: "argocd"},
	Reason:   reconcile.EventSyncFailed,
	Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
	Message:  "argocd/backend-prod: fetch: connection refused",
	Time:     time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
}

type capture struct {
	body    []byte
	headers http.Header
}

func endpoint(t *testing.T, status int) (*httptest.Server, *capture) {
	c := &capture{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.body, _ = io.ReadAll(r.Body)
		c.headers = r.Header.Clone()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, c
}

func TestWebhookPostsSignedJSON(t *testing.T) {
	srv, got := endpoint(t, http.StatusNoContent)
	key := []byte("shared-secret")
	n, err := notify.NewWebhook(srv.URL+"/hook", notify.WithSecret(key), notify.WithHeader("Authorization", "Bearer t0ken"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	var p notify.Payload
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Unit != "argocd/backend-prod" || p.Reason != "SyncFailed" || p.Severity != "error" || p.Revision != event.Revision || !p.Time.Equal(event.Time) {
		t.Fatalf("payload: %+v", p)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(got.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got.headers.Get("X-Converge-Signature") != want {
		t.Fatalf("signature %q, want %q", got.headers.Get("X-Converge-Signature"), want)
	}
	if got.headers.Get("Authorization") != "Bearer t0ken" || got.headers.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", got.headers)
	}
}

// The shape Slack's incoming webhooks document: text, and attachments
// with color, title, text, fields and ts.
func TestSlackPayloadHasSlacksShape(t *testing.T) {
	srv, got := endpoint(t, http.StatusOK)
	n, err := notify.NewSlack(srv.URL + "/services/T000/B000/XXXX")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		reason reconcile.EventReason
		color  string
	}{{reconcile.EventSyncFailed, "danger"}, {reconcile.EventHealthDegraded, "warning"}, {reconcile.EventRecovered, "good"}} {
		e := event
		e.Reason = tc.reason
		if err := n.Notify(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		var m struct {
			Text        string `json:"text"`
			Attachments []struct {
				Color, Title, Text string
				Ts                 int64
				Fields             []struct {
					Title, Value string
					Short        bool
				}
			} `json:"attachments"`
		}
		if err := json.Unmarshal(got.body, &m); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "backend-prod") || len(m.Attachments) != 1 {
			t.Fatalf("%s: %s", tc.reason, got.body)
		}
		a := m.Attachments[0]
		if a.Color != tc.color || a.Ts != event.Time.Unix() || a.Text != event.Message || len(a.Fields) != 1 || a.Fields[0].Value != event.Revision {
			t.Fatalf("%s: attachment %+v", tc.reason, a)
		}
	}
}

func TestFailuresNeverEchoTheURL(t *testing.T) {
	srv, _ := endpoint(t, http.StatusInternalServerError)
	secretURL := srv.URL + "/services/T000/B000/s3cretT0ken"
	n, err := notify.NewSlack(secretURL)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), event)
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "s3cretT0ken") {
		t.Fatalf("want a 500 error without the URL, got %v", err)
	}

	unreachable, _ := notify.NewSlack("http://127.0.0.1:1/services/s3cretT0ken")
	if err := unreachable.Notify(context.Background(), event); err == nil || strings.Contains(err.Error(), "s3cretT0ken") {
		t.Fatalf("an unreachable endpoint: %v", err)
	}
	for _, bad := range []string{"ftp://host/x", "not a url", "https://", "/relative/s3cretT0ken"} {
		if _, err := notify.NewWebhook(bad); err == nil || strings.Contains(err.Error(), "s3cretT0ken") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	elsewhere, got := endpoint(t, http.StatusOK)
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	n, _ := notify.NewWebhook(redirect.URL)
	if err := n.Notify(context.Background(), event); err == nil {
		t.Fatal("a redirect was taken as delivered")
	}
	if got.body != nil {
		t.Fatal("the event was posted to where the redirect pointed")
	}
}

func ExampleNewWebhook() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p notify.Payload
		_ = json.NewDecoder(r.Body).Decode(&p)
		fmt.Println(p.Unit, p.Reason, p.Severity)
	}))
	defer srv.Close()
	hook, _ := notify.NewWebhook(srv.URL)
	_ = hook.Notify(context.Background(), reconcile.Event{Unit: reconcile.Ref{Name: "web", Namespace: "shop"}, Reason: reconcile.EventRecovered})
	// Output: shop/web Recovered info
}
