package operator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// The credentials of the tests' Secrets: no error may hold them.
const (
	testToken    = "tok3n-never-in-a-message"
	testPassword = "passw0rd-never-in-a-message"
)

// testCert is a self-signed certificate and its key, PEM-encoded.
func testCert(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func argoCDSecret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "converge-system", Labels: map[string]string{ArgoCDSecretTypeLabel: "cluster"}},
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func kubeconfigSecret(name, label, kubeconfig string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "converge-system", Labels: map[string]string{ClusterLabel: label}},
		Data:       map[string][]byte{KubeconfigKey: []byte(kubeconfig)},
	}
}

func configJSON(t testing.TB, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestParseArgoCDClusterSecret(t *testing.T) {
	certPEM, keyPEM := testCert(t)
	ca := base64.StdEncoding.EncodeToString(certPEM)
	cert, key := ca, base64.StdEncoding.EncodeToString(keyPEM)
	const server = "https://prod.example:6443"
	cases := map[string]struct {
		reason string
		data   map[string]string
		check  func(*testing.T, *Registration)
		// field is the start of the error's field; reason a part of its
		// reason.
		field, err string
	}{
		"bearer token": {
			reason: "Argo CD's most common shape: a token and the server's CA",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"bearerToken": testToken, "tlsClientConfig": map[string]any{"caData": ca, "serverName": "api.prod"}})},
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, "prod", r.Name)
				assert.Equal(t, server, r.Server)
				assert.Equal(t, server, r.Config.Host)
				assert.Equal(t, testToken, r.Config.BearerToken)
				assert.Equal(t, certPEM, r.Config.CAData)
				assert.Equal(t, "api.prod", r.Config.ServerName)
				assert.False(t, r.Config.Insecure)
			},
		},
		"client certificate": {
			reason: "certData and keyData authenticate as a client certificate",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"tlsClientConfig": map[string]any{"certData": cert, "keyData": key, "insecure": true}})},
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, certPEM, r.Config.CertData)
				assert.Equal(t, keyPEM, r.Config.KeyData)
				assert.True(t, r.Config.Insecure)
				_, err := rest.TLSConfigFor(r.Config)
				assert.NoError(t, err)
			},
		},
		"basic auth and a proxy": {
			reason: "username and password, through a proxy, with compression off",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"username": "admin", "password": testPassword, "proxyUrl": "http://proxy.example:3128", "disableCompression": true})},
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, "admin", r.Config.Username)
				assert.Equal(t, testPassword, r.Config.Password)
				assert.True(t, r.Config.DisableCompression)
				require.NotNil(t, r.Config.Proxy)
			},
		},
		"no name": {
			reason: "a Secret without a name registers the cluster by its server, as Argo CD does",
			data:   map[string]string{"server": server + "/", "shard": "1", "config": configJSON(t, map[string]any{"bearerToken": testToken, "tlsClientConfig": map[string]any{"insecure": true}})},
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, server, r.Name)
				assert.Equal(t, server, r.Server)
			},
		},
		"exec provider": {
			reason: "an exec provider would run a program in the operator on a Secret's say",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"execProviderConfig": map[string]any{"command": "argocd-k8s-auth", "args": []string{"gcp"}, "apiVersion": "client.authentication.k8s.io/v1beta1"}})},
			field: "data.config: execProviderConfig", err: "would run a program",
		},
		"aws auth": {
			reason: "EKS IAM authentication is refused by name, not dropped",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"awsAuthConfig": map[string]any{"clusterName": "prod"}})},
			field: "data.config: awsAuthConfig", err: "not supported",
		},
		"unknown field": {
			reason: "a field converge does not know is refused by name, never dropped",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"bearerToken": testToken, "tlsClientConfig": map[string]any{"insecure": true, "nextProtos": []string{"h2"}}})},
			field: "data.config: tlsClientConfig.nextProtos", err: "not understood",
		},
		"a credential as a field name": {
			reason: "a key that is no field name is not repeated: it may be a pasted token",
			data:   map[string]string{"name": "prod", "server": server, "config": `{"` + testToken + `": true}`},
			field:  "data.config", err: "not a field name",
		},
		"not JSON": {
			reason: "a syntax error is told by offset, never by the characters around it",
			data:   map[string]string{"name": "prod", "server": server, "config": `{"bearerToken": ` + testToken + `}`},
			field:  "data.config", err: "a syntax error at byte",
		},
		"wrong type": {
			reason: "a field of the wrong type is named",
			data:   map[string]string{"name": "prod", "server": server, "config": `{"bearerToken": true, "tlsClientConfig": {"insecure": "` + testToken + `"}}`},
			field:  "data.config", err: "is not a JSON",
		},
		"caData not base64": {
			reason: "each certificate field is decoded on its own, so the error names it",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"bearerToken": testToken, "tlsClientConfig": map[string]any{"caData": "%%" + testToken}})},
			field: "data.config: tlsClientConfig.caData", err: "not base64",
		},
		"caData not a certificate": {
			reason: "a CA that holds no certificate is found now, not on every request",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"bearerToken": testToken, "tlsClientConfig": map[string]any{"caData": base64.StdEncoding.EncodeToString([]byte(testToken))}})},
			field: "data.config: tlsClientConfig.caData", err: "no PEM certificate",
		},
		"key without its certificate": {
			reason: "certData and keyData go together",
			data: map[string]string{"name": "prod", "server": server, "config": configJSON(t, map[string]any{
				"bearerToken": testToken, "tlsClientConfig": map[string]any{"keyData": key}})},
			field: "data.config: tlsClientConfig.certData", err: "missing",
		},
		"no credentials": {
			reason: "a config that authenticates as no one is a mistake, said so",
			data:   map[string]string{"name": "prod", "server": server, "config": `{"tlsClientConfig": {"insecure": true}}`},
			field:  "data.config", err: "names no credentials",
		},
		"no config": {
			reason: "the config key holds the credentials",
			data:   map[string]string{"name": "prod", "server": server},
			field:  "data.config", err: "missing",
		},
		"no server": {
			reason: "the server is the cluster's address",
			data:   map[string]string{"name": "prod", "config": configJSON(t, map[string]any{"bearerToken": testToken})},
			field:  "data.server", err: "missing",
		},
		"server with a user": {
			reason: "a URL with credentials in it is refused, and not repeated",
			data:   map[string]string{"name": "prod", "server": "https://admin:" + testPassword + "@prod.example", "config": configJSON(t, map[string]any{"bearerToken": testToken})},
			field:  "data.server", err: "no user in it",
		},
		"namespaces": {
			reason: "a cluster limited to some namespaces would be served wider than its Secret says",
			data:   map[string]string{"name": "prod", "server": server, "namespaces": "a,b", "config": configJSON(t, map[string]any{"bearerToken": testToken})},
			field:  "data.namespaces", err: "not supported",
		},
		"project": {
			reason: "a project-scoped cluster would be open to every Application",
			data:   map[string]string{"name": "prod", "server": server, "project": "team-a", "config": configJSON(t, map[string]any{"bearerToken": testToken})},
			field:  "data.project", err: "not supported",
		},
		"unknown key": {
			reason: "a key that is not Argo CD's is refused by name",
			data:   map[string]string{"name": "prod", "server": server, "token": testToken, "config": configJSON(t, map[string]any{"bearerToken": testToken})},
			field:  "data.token", err: "not a key of Argo CD's cluster Secret",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reg, err := ParseClusterSecret(argoCDSecret("prod-cluster", tc.data))
			if tc.field == "" {
				require.NoError(t, err, tc.reason)
				assert.Equal(t, "converge-system/prod-cluster", reg.Secret.String())
				tc.check(t, reg)
				return
			}
			var se *ClusterSecretError
			require.ErrorAs(t, err, &se, tc.reason)
			assert.Equal(t, "converge-system/prod-cluster", se.Secret.String())
			assert.True(t, strings.HasPrefix(se.Field, tc.field), "%s: field %q, want %q", tc.reason, se.Field, tc.field)
			assert.Contains(t, se.Reason, tc.err, tc.reason)
			assert.Contains(t, err.Error(), "cluster Secret converge-system/prod-cluster: ")
			assert.NotContains(t, err.Error(), testToken, "an error holds the token")
			assert.NotContains(t, err.Error(), testPassword, "an error holds the password")
		})
	}
}

// testKubeconfig is a kubeconfig of one context; user holds the user's
// entry (indented by four spaces).
func testKubeconfig(server, user string) string {
	return `apiVersion: v1
kind: Config
current-context: remote
clusters:
- name: remote
  cluster:
    server: ` + server + `
    insecure-skip-tls-verify: true
contexts:
- name: remote
  context: {cluster: remote, user: admin}
users:
- name: admin
  user:
` + user
}

func TestParseKubeconfigClusterSecret(t *testing.T) {
	const server = "https://remote.example:6443"
	cases := map[string]struct {
		reason string
		secret *corev1.Secret
		check  func(*testing.T, *Registration)
		field  string
		err    string
	}{
		"token": {
			reason: "the label names the cluster; the current context's server names it too",
			secret: kubeconfigSecret("remote-kubeconfig", "remote", testKubeconfig(server+"/", "    token: "+testToken+"\n")),
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, "remote", r.Name)
				assert.Equal(t, server, r.Server)
				assert.Equal(t, testToken, r.Config.BearerToken)
				assert.True(t, r.Config.Insecure)
			},
		},
		"named by the Secret": {
			reason: "an empty label value names the cluster after the Secret",
			secret: kubeconfigSecret("staging", "", testKubeconfig(server, "    token: "+testToken+"\n")),
			check: func(t *testing.T, r *Registration) {
				assert.Equal(t, "staging", r.Name)
			},
		},
		"garbage": {
			reason: "a kubeconfig that does not parse is said so, without a byte of it",
			secret: kubeconfigSecret("broken", "broken", "\x00\xff"+testToken+": [unclosed"),
			field:  "data.kubeconfig", err: "not a kubeconfig",
		},
		"exec": {
			reason: "an exec plugin would run a program in the operator",
			secret: kubeconfigSecret("exec", "exec", testKubeconfig(server, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, id]}\n")),
			field:  "data.kubeconfig: users.admin.exec", err: "would run a program",
		},
		"token file": {
			reason: "a file would be read from the operator's own disk: its service account's token, sent to the Secret's server",
			secret: kubeconfigSecret("file", "file", testKubeconfig(server, "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n")),
			field:  "data.kubeconfig: users.admin.tokenFile", err: "a file is refused",
		},
		"no server": {
			reason: "the cluster's address is needed",
			secret: kubeconfigSecret("noserver", "noserver", testKubeconfig(`""`, "    token: "+testToken+"\n")),
			field:  "data.kubeconfig: clusters.remote.server", err: "missing",
		},
		"two contexts, none current": {
			reason: "which context to use is not guessed",
			secret: kubeconfigSecret("two", "two", `apiVersion: v1
kind: Config
contexts:
- {name: a, context: {cluster: a}}
- {name: b, context: {cluster: b}}
`),
			field: "data.kubeconfig", err: "no current-context, and 2 contexts",
		},
		"another key": {
			reason: "a key the format does not have is refused by name",
			secret: func() *corev1.Secret {
				s := kubeconfigSecret("extra", "extra", testKubeconfig(server, "    token: x\n"))
				s.Data["token"] = []byte(testToken)
				return s
			}(),
			field: "data.token", err: "holds only kubeconfig",
		},
		"both formats": {
			reason: "a Secret in both formats is refused rather than read as one of them",
			secret: func() *corev1.Secret {
				s := kubeconfigSecret("both", "both", testKubeconfig(server, "    token: x\n"))
				s.Labels[ArgoCDSecretTypeLabel] = "cluster"
				return s
			}(),
			field: "metadata.labels", err: "use one format",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reg, err := ParseClusterSecret(tc.secret)
			if tc.field == "" {
				require.NoError(t, err, tc.reason)
				tc.check(t, reg)
				return
			}
			var se *ClusterSecretError
			require.ErrorAs(t, err, &se, tc.reason)
			assert.True(t, strings.HasPrefix(se.Field, tc.field), "%s: field %q, want %q", tc.reason, se.Field, tc.field)
			assert.Contains(t, se.Reason, tc.err, tc.reason)
			assert.NotContains(t, err.Error(), testToken, "an error holds the token")
		})
	}
}

// FuzzArgoCDClusterConfig: whatever the config, the parser does not
// panic, a config it accepts loads its TLS settings and reaches the
// server it was given, and a refusal never repeats a value: the fuzzer's
// secret, wherever the template puts it (in a value, a key, or across the
// JSON's syntax), contains "=", which no message of the parser does.
func FuzzArgoCDClusterConfig(f *testing.F) {
	certPEM, keyPEM := testCert(f)
	ca, key := base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM)
	for _, seed := range []string{
		`{"bearerToken":"@@","tlsClientConfig":{"insecure":true}}`,
		`{"bearerToken":"@@","tlsClientConfig":{"caData":"` + ca + `"}}`,
		`{"tlsClientConfig":{"certData":"` + ca + `","keyData":"` + key + `"}}`,
		`{"username":"admin","password":"@@"}`,
		`{"bearerToken":@@}`,
		`{"@@":true}`,
		`{"tlsClientConfig":{"@@":1}}`,
		`{"bearerToken":"x","tlsClientConfig":{"caData":"@@"}}`,
		`{"bearerToken":"x","tlsClientConfig":{"insecure":"@@"}}`,
		`{"execProviderConfig":{"command":"@@"}}`,
		`{"awsAuthConfig":{"clusterName":"@@"}}`,
		`{"bearerToken":"x","proxyUrl":"@@"}`,
		`[@@]`, `@@`, `null`, `{"bearerToken":"x"} {"@@":1}`,
	} {
		f.Add([]byte(seed), "s3cr3t")
	}
	const server = "https://prod.example:6443"
	f.Fuzz(func(t *testing.T, template []byte, secret string) {
		secret = "=" + secret + "="
		raw := bytes.ReplaceAll(template, []byte("@@"), []byte(secret))
		cfg, field, reason := ArgoCDClusterConfig(server, raw)
		if reason != "" {
			if cfg != nil {
				t.Fatalf("a refusal (%s: %s) returned a config", field, reason)
			}
			if strings.Contains(field+reason, "=") {
				t.Fatalf("the refusal repeats the input: %q: %q", field, reason)
			}
			return
		}
		if cfg == nil || cfg.Host != server {
			t.Fatalf("accepted, but the config does not reach the server: %+v", cfg)
		}
		if _, err := rest.TLSConfigFor(cfg); err != nil {
			t.Fatalf("accepted a config whose TLS does not load: %v", err)
		}
		if cfg.BearerToken == "" && cfg.Username == "" && len(cfg.CertData) == 0 {
			t.Fatal("accepted a config with no credentials")
		}
	})
}

// TestSetStatusClusterUnavailable: a pass that cannot reach its
// destination cluster because of the registry is Stalled, with a reason
// that tells an unregistered cluster from an unusable Secret; any other
// failed pass is left to be retried.
func TestSetStatusClusterUnavailable(t *testing.T) {
	ref := reconcile.Ref{Name: "shop", Namespace: "team-a"}
	failed := func(err error) reconcile.Status {
		se := &reconcile.StageError{Unit: ref, Stage: reconcile.StageCluster, Err: fmt.Errorf("destination cluster %q: %w", "prod", err)}
		return reconcile.Status{Unit: ref, ObservedGeneration: 4, Err: se, Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reconcile.ReasonFailed, Message: se.Error()},
			{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reconcile.ReasonProgressingRetry, Message: "retried"},
		}}
	}
	cases := map[string]struct {
		err     error
		stalled string // the reason, "" for not Stalled
	}{
		"not registered":  {fmt.Errorf("%w: no Secret", ErrClusterNotRegistered), ReasonClusterNotRegistered},
		"invalid Secret":  {&ClusterSecretError{Field: "data.kubeconfig", Reason: "not a kubeconfig"}, ReasonClusterSecretInvalid},
		"cluster is down": {errors.New("connection refused"), ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var st v1alpha1.ApplicationStatus
			SetStatus(&st, failed(tc.err))
			stalled := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionStalled)
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			require.NotNil(t, ready)
			assert.Equal(t, metav1.ConditionFalse, ready.Status)
			if tc.stalled == "" {
				assert.Nil(t, stalled, "a cluster that is down is retried, not Stalled")
				assert.Equal(t, reconcile.ReasonFailed, ready.Reason)
				return
			}
			require.NotNil(t, stalled)
			assert.Equal(t, metav1.ConditionTrue, stalled.Status)
			assert.Equal(t, tc.stalled, stalled.Reason)
			assert.Equal(t, tc.stalled, ready.Reason)
			assert.Equal(t, int64(4), stalled.ObservedGeneration)
			assert.Contains(t, stalled.Message, `destination cluster "prod"`)
		})
	}
}
