// Package notify sends reconcile events to HTTP endpoints: a generic JSON
// webhook and a Slack-compatible incoming webhook. Both satisfy
// reconcile.Notifier:
//
//	hook, err := notify.NewWebhook("https://hooks.example.com/gitops", notify.WithSecret(key))
//	r, err := reconcile.New(client, reconcile.WithNotifier(reconcile.Notifiers{hook, slack}))
//
// The Reconciler sends one event per transition (a failure, a degraded
// health, a recovery), not one per pass, from a goroutine of its own with
// a deadline, so an endpoint that hangs delays only notifications.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/converge-dev/converge/reconcile"
)

// Option configures a notifier.
type Option func(*sender)

// WithHTTPClient sets the HTTP client; by default one that follows no
// redirects and gives up after 10 seconds.
func WithHTTPClient(c *http.Client) Option { return func(s *sender) { s.client = c } }

// WithHeader adds a header to every request, such as an Authorization
// token the receiver expects.
func WithHeader(name, value string) Option {
	return func(s *sender) { s.headers.Add(name, value) }
}

// WithSecret signs every body with HMAC-SHA256 under key, in the header
// X-Converge-Signature as "sha256=<hex>", the form GitHub's webhooks use,
// so a receiver can check the sender.
func WithSecret(key []byte) Option { return func(s *sender) { s.secret = key } }

// sender posts JSON bodies to one endpoint.
type sender struct {
	endpoint string
	client   *http.Client
	headers  http.Header
	secret   []byte
	body     func(reconcile.Event) any
}

func newSender(endpoint string, body func(reconcile.Event) any, opts []Option) (*sender, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL may hold a token (Slack's do): never echo it.
		return nil, errors.New("notify: the endpoint must be an http or https URL")
	}
	s := &sender{
		endpoint: endpoint,
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		headers: http.Header{},
		body:    body,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Notify posts the event and fails unless the endpoint answers 2xx.
func (s *sender) Notify(ctx context.Context, e reconcile.Event) error {
	body, err := json.Marshal(s.body(e))
	if err != nil {
		return fmt.Errorf("notify %s: %w", e.Unit, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %w", e.Unit, errors.New("cannot build the request"))
	}
	for k, vs := range s.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "converge-notify")
	if s.secret != nil {
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(body)
		req.Header.Set("X-Converge-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a token
		}
		return fmt.Errorf("notify %s: %w", e.Unit, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify %s: the endpoint answered %s", e.Unit, resp.Status)
	}
	return nil
}

// Payload is the generic webhook's JSON body.
type Payload struct {
	Unit      string    `json:"unit"`
	Name      string    `json:"name"`
	Namespace string    `json:"namespace,omitempty"`
	Reason    string    `json:"reason"`
	Severity  string    `json:"severity"`
	Revision  string    `json:"revision,omitempty"`
	Message   string    `json:"message"`
	Time      time.Time `json:"time"`
}

// NewWebhook returns a notifier that posts each event as a [Payload].
func NewWebhook(endpoint string, opts ...Option) (reconcile.Notifier, error) {
	return newSender(endpoint, func(e reconcile.Event) any {
		return Payload{
			Unit: e.Unit.String(), Name: e.Unit.Name, Namespace: e.Unit.Namespace,
			Reason: string(e.Reason), Severity: severity(e.Reason), Revision: e.Revision,
			Message: e.Message, Time: e.Time.UTC(),
		}
	}, opts)
}

func severity(r reconcile.EventReason) string {
	switch r {
	case reconcile.EventRecovered:
		return "info"
	case reconcile.EventHealthDegraded:
		return "warning"
	}
	return "error"
}

// NewSlack returns a notifier that posts each event to a Slack incoming
// webhook (or any service that takes Slack's payload: Mattermost, Rocket.Chat,
// Discord's /slack endpoints), as a message with a coloured attachment.
func NewSlack(webhookURL string, opts ...Option) (reconcile.Notifier, error) {
	return newSender(webhookURL, slackPayload, opts)
}

type slackMessage struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color  string       `json:"color"`
	Title  string       `json:"title"`
	Text   string       `json:"text"`
	Fields []slackField `json:"fields,omitempty"`
	Ts     int64        `json:"ts"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func slackPayload(e reconcile.Event) any {
	color := map[string]string{"error": "danger", "warning": "warning", "info": "good"}[severity(e.Reason)]
	a := slackAttachment{Color: color, Title: fmt.Sprintf("%s: %s", e.Unit, e.Reason), Text: e.Message, Ts: e.Time.Unix()}
	if e.Revision != "" {
		a.Fields = append(a.Fields, slackField{Title: "Revision", Value: e.Revision, Short: true})
	}
	return slackMessage{Text: fmt.Sprintf("converge: %s %s", e.Unit, e.Reason), Attachments: []slackAttachment{a}}
}
