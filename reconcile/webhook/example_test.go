package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/converge-dev/converge/reconcile/webhook"
)

// A Receiver verifies a GitHub push and hands it to the host, which
// would trigger the loop's units of that repository.
func Example() {
	secret := []byte("shared-with-github")
	rcv := &webhook.Receiver{GitHubSecret: secret, OnPush: func(_ context.Context, e webhook.Event) {
		fmt.Printf("push to %s of %s at %s\n", e.Branch, e.URLs[0], e.Revision[:7])
	}}
	body := `{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf","repository":{"clone_url":"https://github.com/acme/deploy.git"}}`
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	req := httptest.NewRequest(http.MethodPost, "/hooks/git", strings.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	w := httptest.NewRecorder()
	rcv.ServeHTTP(w, req)
	fmt.Println(w.Code)

	req = httptest.NewRequest(http.MethodPost, "/hooks/git", strings.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	w = httptest.NewRecorder()
	rcv.ServeHTTP(w, req)
	fmt.Println(w.Code)
	// Output:
	// push to main of https://github.com/acme/deploy.git at 0d1a26e
	// 202
	// 401
}
