package vault

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/internal/vaulttest"
)

var updateRecorded = flag.Bool("update-recorded", false, "rewrite testdata/*.json from the real Vault")

// TestKubernetesAuthReal logs in to a real Vault with a real service
// account token: Vault's Kubernetes auth method reviews the token with a
// real kube-apiserver, using a reviewer service account bound to
// system:auth-delegator.
func TestKubernetesAuthReal(t *testing.T) {
	s := server.Server(t)
	// A real API server for Vault to send TokenReviews to; only this test
	// needs one.
	env, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, env.Stop()) })
	ctx := context.Background()
	ns := env.Namespace(t)
	var cs *kubernetes.Clientset
	cs, err = kubernetes.NewForConfig(env.Config)
	require.NoError(t, err)

	tokenFor := func(ctx context.Context, sa string) (string, error) {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
		}, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		return tr.Status.Token, nil
	}
	for _, sa := range []string{"vault-reviewer", "app", "intruder"} {
		_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-vault-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "vault-reviewer", Namespace: ns}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	reviewer, err := tokenFor(ctx, "vault-reviewer")
	require.NoError(t, err)

	mount := "k8s-" + uniq(t)
	host := env.Config.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	s.Must(t, http.MethodPost, "sys/auth/"+mount, map[string]any{"type": "kubernetes"}, nil)
	s.Must(t, http.MethodPost, "auth/"+mount+"/config", map[string]any{
		"kubernetes_host":    host,
		"kubernetes_ca_cert": string(env.Config.CAData),
		"token_reviewer_jwt": reviewer,
	}, nil)
	base := uniq(t)
	s.Put(t, base+"/db", map[string]any{"password": "hunter2"})
	s.Policy(t, base, fmt.Sprintf(`path "secret/data/%s/*" { capabilities = ["read"] }`, base))
	s.Must(t, http.MethodPost, "auth/"+mount+"/role/app", map[string]any{
		"bound_service_account_names":      []string{"app"},
		"bound_service_account_namespaces": []string{ns},
		"token_policies":                   []string{base},
		"token_ttl":                        "1h",
	}, nil)

	var jwts atomic.Int64
	jwt := func(ctx context.Context) (string, error) {
		jwts.Add(1)
		return tokenFor(ctx, "app")
	}
	auth := KubernetesAuth("app", jwt, mount).(*kubernetesAuth)
	p := newProvider(t, s.Addr, auth)

	v, err := p.Value(ctx, base+"/db", "password")
	require.NoError(t, err, "log in through Vault's TokenReview and read")
	assert.Equal(t, "hunter2", string(v))
	_, err = p.Value(ctx, base+"/db", "password")
	require.NoError(t, err)
	assert.Equal(t, int64(1), jwts.Load(), "the client token is cached")

	auth.mu.Lock()
	first, refresh := auth.token, auth.refresh
	auth.mu.Unlock()
	assert.False(t, refresh.IsZero(), "a 1h lease is refreshed before it ends")

	s.RevokeToken(t, first)
	_, err = p.Value(ctx, base+"/db", "password")
	require.NoError(t, err, "a revoked token is refused with 403; the provider logs in again")
	assert.Equal(t, int64(2), jwts.Load())

	t.Run("service account not bound", func(t *testing.T) {
		p := newProvider(t, s.Addr, KubernetesAuth("app", func(ctx context.Context) (string, error) { return tokenFor(ctx, "intruder") }, mount))
		_, err := p.Map(ctx, base+"/db")
		require.ErrorIs(t, err, ErrForbidden)
		assert.Contains(t, err.Error(), "login at auth/"+mount)
	})
	t.Run("forged token", func(t *testing.T) {
		forged := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6eDphcHAifQ.MARKERsig"
		p := newProvider(t, s.Addr, KubernetesAuth("app", staticJWT(forged), mount))
		_, err := p.Map(ctx, base+"/db")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "MARKER")
	})
	t.Run("unknown role", func(t *testing.T) {
		p := newProvider(t, s.Addr, KubernetesAuth("nope", jwt, mount))
		_, err := p.Map(ctx, base+"/db")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "invalid role name")
	})

	if *updateRecorded {
		record(t, s, mount, base, tokenFor)
	}
}

// record captures the real answers the recorded tests replay, with the
// tokens and identifiers replaced.
func record(t *testing.T, s *vaulttest.Server, mount, base string, tokenFor func(context.Context, string) (string, error)) {
	jwt, err := tokenFor(context.Background(), "app")
	require.NoError(t, err)
	_, login := s.DoToken(t, "", http.MethodPost, "auth/"+mount+"/login", map[string]string{"role": "app", "jwt": jwt})
	var l map[string]any
	require.NoError(t, json.Unmarshal(login, &l))
	auth := l["auth"].(map[string]any)
	auth["client_token"] = "hvs.RECORDED-TOKEN"
	auth["accessor"] = "RECORDED-ACCESSOR"
	auth["metadata"].(map[string]any)["service_account_namespace"] = "default"
	auth["metadata"].(map[string]any)["service_account_uid"] = "00000000-0000-0000-0000-000000000000"
	auth["policies"] = []string{"default", "app"}
	auth["token_policies"] = []string{"default", "app"}
	l["request_id"] = "00000000-0000-0000-0000-000000000001"
	write := func(name string, v any) {
		data, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("testdata", name), append(data, '\n'), 0o644))
	}
	write("kubernetes-login.json", l)

	_, denied := s.DoToken(t, "hvs.bad", http.MethodGet, "secret/data/"+base+"/db", nil)
	var d any
	require.NoError(t, json.Unmarshal(denied, &d))
	write("permission-denied.json", d)

	_, read := s.Do(t, http.MethodGet, "secret/data/"+base+"/db", nil)
	var r map[string]any
	require.NoError(t, json.Unmarshal(read, &r))
	r["request_id"] = "00000000-0000-0000-0000-000000000002"
	write("kv-read.json", r)
}
