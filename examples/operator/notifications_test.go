package operator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/reconcile/notify"
)

// receiver is a real HTTP endpoint that keeps what it was sent.
type receiver struct {
	mu       sync.Mutex
	payloads []notify.Payload
	bad      []string // why a delivery was not what it should be
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	mac := hmac.New(sha256.New, []byte("signing-key"))
	mac.Write(body)
	if got := r.Header.Get("X-Converge-Signature"); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		rc.bad = append(rc.bad, "signature "+got)
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	rc.payloads = append(rc.payloads, p)
}

func (rc *receiver) reasons() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, p := range rc.payloads {
		out = append(out, p.Reason)
	}
	return out
}

// TestNotificationsOfAFailureAndTheRecovery: an Application's webhook
// target hears once that a pass failed and once that it recovered,
// signed with the key of its Secret, and a target whose Secret lacks an
// address sends nothing and breaks nothing.
func TestNotificationsOfAFailureAndTheRecovery(t *testing.T) {
	f := newFixture(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	for name, data := range map[string]map[string][]byte{
		"hook":    {"address": []byte(srv.URL + "/hooks/converge"), "secret": []byte("signing-key")},
		"no-addr": {"secret": []byte("x")},
	} {
		require.NoError(t, f.c.Create(ctxT(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Data: data}))
	}
	good := f.repo.Commit(t, "a map", map[string]string{"app/cm.yaml": configMapYAML("told", map[string]string{"k": "v"})})
	f.application("told", "app", func(a *v1alpha1.Application) {
		a.Spec.Notifications = []v1alpha1.NotificationTarget{
			{Type: "webhook", SecretRef: v1alpha1.SecretReference{Name: "hook"}},
			{Type: "slack", SecretRef: v1alpha1.SecretReference{Name: "no-addr"}},
		}
	})
	f.eventually("told", "ready", readyAt(good))
	assert.Empty(t, rc.reasons(), "a first good pass is no transition")

	f.repo.Commit(t, "a broken manifest", map[string]string{"app/cm.yaml": "kind: [\n"})
	require.Eventually(t, func() bool { return len(rc.reasons()) >= 1 }, waitFor, 100*time.Millisecond, "the failure is sent")
	fixed := f.repo.Commit(t, "fixed", map[string]string{"app/cm.yaml": configMapYAML("told", map[string]string{"k": "w"})})
	f.eventually("told", "ready again", readyAt(fixed))
	require.Eventually(t, func() bool { return len(rc.reasons()) >= 2 }, waitFor, 100*time.Millisecond, "the recovery is sent")
	time.Sleep(3 * testInterval) // passes that stay good send nothing more

	assert.Equal(t, []string{"SyncFailed", "Recovered"}, rc.reasons())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Empty(t, rc.bad)
	assert.Equal(t, "told", rc.payloads[0].Name)
	assert.Equal(t, f.ns, rc.payloads[0].Namespace)
	assert.Equal(t, "error", rc.payloads[0].Severity)
	assert.NotContains(t, rc.payloads[0].Message, srv.URL)
}
