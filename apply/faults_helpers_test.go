package apply_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/cluster"
)

// Helpers of the fault tests: transports that stop, gate or delay the
// API server's traffic, and a small admission webhook.

// newFixtureOn is newFixture on another plane or a wrapped config.
func newFixtureOn(t *testing.T, cfg *rest.Config, ns string, opts ...apply.Option) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := apply.New(c, apply.Owner{Name: "app", Namespace: ns}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &fixture{t: t, ctx: ctx, ns: ns, client: c, applier: a}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// writeGate lets `after` matching requests through, then calls trip once
// before sending the next one.
type writeGate struct {
	match func(*http.Request) bool
	after int
	trip  func()

	mu   sync.Mutex
	n    int
	done bool
}

func (g *writeGate) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if g.match(req) {
			g.mu.Lock()
			g.n++
			if g.n == g.after+1 && !g.done {
				g.done = true
				g.trip() // under the lock: later writes wait until it is done
			}
			g.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (g *writeGate) tripped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done
}

func (g *writeGate) seen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// watchLag holds back the events of watches on one resource while
// paused, the way a slow watch delivers them late.
type watchLag struct {
	mu     sync.Mutex
	paused chan struct{} // closed on resume; nil when not paused
}

func (l *watchLag) pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused == nil {
		l.paused = make(chan struct{})
	}
}

func (l *watchLag) resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused != nil {
		close(l.paused)
		l.paused = nil
	}
}

func (l *watchLag) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

func (l *watchLag) wrap(resource string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && req.URL.Query().Get("watch") == "true" && strings.HasSuffix(req.URL.Path, "/"+resource) {
				resp.Body = &laggingBody{ReadCloser: resp.Body, lag: l, closed: make(chan struct{})}
			}
			return resp, err
		})
	}
}

// laggingBody returns what it read only when its watchLag is not paused.
type laggingBody struct {
	io.ReadCloser
	lag       *watchLag
	closed    chan struct{}
	closeOnce sync.Once
}

func (b *laggingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if ch := b.lag.wait(); ch != nil {
		select {
		case <-ch:
		case <-b.closed:
			return 0, io.EOF
		}
	}
	return n, err
}

func (b *laggingBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return b.ReadCloser.Close()
}

// webhookLabel selects the objects a test's webhook sees.
const webhookLabel = "faults.converge.dev/webhook"

type webhookServer struct {
	url string
	ca  []byte // PEM
}

// startWebhook serves admission reviews over HTTPS with a certificate of
// its own CA. decide returns the response; nil hangs until the API server
// gives up on the request.
func startWebhook(t *testing.T, decide func(*admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) webhookServer {
	t.Helper()
	caPEM, serving := selfSignedServing(t)
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "not an admission review", http.StatusBadRequest)
			return
		}
		resp := decide(review.Request)
		if resp == nil {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		resp.UID = review.Request.UID
		review.Request, review.Response = nil, resp
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return webhookServer{url: srv.URL + "/validate", ca: caPEM}
}

// registerWebhook points a ValidatingWebhookConfiguration at hook for the
// ConfigMaps of f's namespace that carry webhookLabel, and waits until the
// API server calls it.
func (f *fixture) registerWebhook(hook webhookServer, name string, timeoutSeconds int32) {
	f.t.Helper()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	scope := admissionregistrationv1.NamespacedScope
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: f.ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &hook.url, CABundle: hook.ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"configmaps"}, Scope: &scope},
			}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: f.ns}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{webhookLabel: "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeoutSeconds,
		}},
	}
	if err := env.Client.Create(f.ctx, vwc); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = env.Client.Delete(context.Background(), vwc) })
	// The API server picks the configuration up from a watch: wait until
	// a dry-run create of a selected object reaches the webhook.
	waitFor(f.t, func() bool {
		probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: f.ns,
			Labels: map[string]string{webhookLabel: "true"}}}
		err := env.Client.Create(f.ctx, probe, client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), name)
	})
}

// selfSignedServing returns a CA (PEM) and a serving certificate for
// 127.0.0.1 that it signed.
func selfSignedServing(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "faults-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
