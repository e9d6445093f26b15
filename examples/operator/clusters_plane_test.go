package operator

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
	"github.com/converge-dev/converge/internal/testenv"
)

// clusterFixture is a test's fixture on the shared living plane plus a
// second control plane, the remote destination cluster.
type clusterFixture struct {
	*fixture
	remote *testenv.Env
}

// startRemote starts a bare control plane for one test, with the
// fixture's namespace on it too: the SDK keeps an Application's inventory
// on the destination cluster, in the Application's namespace.
func startRemote(t *testing.T) *clusterFixture {
	t.Helper()
	f := newFixture(t)
	remote, err := testenv.Start(testenv.Options{Mode: testenv.Bare})
	require.NoError(t, err, "start the remote control plane")
	t.Cleanup(func() { assert.NoError(t, remote.Stop()) })
	require.NoError(t, remote.Client.Create(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultOptions().ClusterNamespace}}
	if err := f.c.Create(ctxT(t), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	return &clusterFixture{fixture: f, remote: remote}
}

// server is the remote API server's URL.
func (f *clusterFixture) server() string {
	h := f.remote.Config.Host
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	return h
}

// kubeconfig is an admin kubeconfig of the remote with its certificates
// inline, as one registers a cluster by a kubeconfig.
func (f *clusterFixture) kubeconfig() []byte {
	f.t.Helper()
	cfg := f.remote.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["remote"] = &clientcmdapi.Cluster{Server: f.server(), CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["remote"] = &clientcmdapi.Context{Cluster: "remote", AuthInfo: "admin"}
	kc.CurrentContext = "remote"
	b, err := clientcmd.Write(*kc)
	require.NoError(f.t, err)
	return b
}

// token creates a service account of the remote bound to cluster-admin
// and returns a token of it.
func (f *clusterFixture) token(name string) string {
	f.t.Helper()
	ctx := ctxT(f.t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	require.NoError(f.t, f.remote.Client.Create(ctx, sa))
	require.NoError(f.t, f.remote.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: "default"}},
	}))
	tr := &authenticationv1.TokenRequest{}
	require.NoError(f.t, f.remote.Client.SubResource("token").Create(ctx, sa, tr))
	require.NotEmpty(f.t, tr.Status.Token)
	return tr.Status.Token
}

// secret creates a cluster Secret in the operator's namespace, deleted
// when the test ends.
func (f *clusterFixture) secret(s *corev1.Secret) {
	f.t.Helper()
	s.Namespace = DefaultOptions().ClusterNamespace
	require.NoError(f.t, f.c.Create(ctxT(f.t), s))
	f.t.Cleanup(func() { _ = f.c.Delete(context.Background(), s) })
}

// remoteConfigMap returns the data of a ConfigMap of the fixture's
// namespace on the remote, or nil when there is none.
func (f *clusterFixture) remoteConfigMap(name string) map[string]string {
	f.t.Helper()
	var cm corev1.ConfigMap
	err := f.remote.Client.Get(ctxT(f.t), client.ObjectKey{Namespace: f.ns, Name: name}, &cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(f.t, err)
	if cm.Data == nil {
		return map[string]string{}
	}
	return cm.Data
}

func stalledWith(reason string) func(*v1alpha1.Application) bool {
	return func(app *v1alpha1.Application) bool {
		c := condition(app, v1alpha1.ConditionStalled)
		return c.Status == metav1.ConditionTrue && c.Reason == reason && c.ObservedGeneration == app.Generation
	}
}

func toCluster(name string) func(*v1alpha1.Application) {
	return func(a *v1alpha1.Application) { a.Spec.Destination.Cluster = name }
}

// An Application naming a cluster no Secret registers is Stalled, saying
// which cluster and where Secrets are read; once a converge.dev/cluster
// Secret with a kubeconfig registers it, the Application applies there,
// and nothing is applied to the operator's own cluster.
func TestClusterRegisteredByKubeconfig(t *testing.T) {
	f := startRemote(t)
	name := "remote-" + rand.String(5)
	rev := f.repo.Commit(t, "app", map[string]string{"app/cm.yaml": configMapYAML("remote-settings", map[string]string{"where": "remote"})})
	f.application("app", "app", toCluster(name))

	app := f.eventually("app", "Stalled: not registered", stalledWith(ReasonClusterNotRegistered))
	msg := condition(app, v1alpha1.ConditionReady).Message
	assert.Contains(t, msg, `destination cluster "`+name+`"`)
	assert.Contains(t, msg, "no Secret of namespace converge-system labelled converge.dev/cluster="+name)
	assert.Nil(t, f.configMap("remote-settings"), "nothing is applied locally for a cluster that is not registered")

	f.secret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Labels: map[string]string{ClusterLabel: name}},
		Data: map[string][]byte{KubeconfigKey: f.kubeconfig()}})
	app = f.eventually("app", "Ready on the remote once registered", readyAt(rev))
	assert.Empty(t, condition(app, v1alpha1.ConditionStalled).Status, "Stalled is cleared")
	assert.Equal(t, map[string]string{"where": "remote"}, f.remoteConfigMap("remote-settings"), "the object is on the remote")
	assert.Nil(t, f.configMap("remote-settings"), "and not on the operator's own cluster")
	assert.NotNil(t, f.remoteConfigMap("converge-app"), "the inventory is kept on the remote")
}

// An Argo CD cluster Secret with a bearer token registers the remote by
// its name. When the Secret changes (here: the cluster moved, the Secret
// now holds the address and client certificate of another API server),
// the engine drops the cluster's client and cache, and the next revision
// lands where the Secret says now.
func TestClusterRegisteredByArgoCDSecretAndChanged(t *testing.T) {
	f := startRemote(t)
	name := "argo-" + rand.String(5)
	token := f.token("converge")
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + name, Labels: map[string]string{ArgoCDSecretTypeLabel: "cluster"}},
		Data: map[string][]byte{"name": []byte(name), "server": []byte(f.server()), "config": []byte(configJSON(t, map[string]any{
			"bearerToken": token, "tlsClientConfig": map[string]any{"caData": f.remote.Config.CAData}}))},
	}
	f.secret(sec)
	rev1 := f.repo.Commit(t, "v1", map[string]string{"app/cm.yaml": configMapYAML("argo-settings", map[string]string{"v": "1"})})
	f.application("app", "app", toCluster(name))
	f.eventually("app", "Ready on the remote", readyAt(rev1))
	assert.Equal(t, map[string]string{"v": "1"}, f.remoteConfigMap("argo-settings"))
	assert.Nil(t, f.configMap("argo-settings"), "nothing on the operator's own cluster")

	// The cluster "moves" to the operator's own API server, reached by
	// its URL and a client certificate: a client kept from before would
	// still write to the remote.
	local := f.env.Config
	latest := &corev1.Secret{}
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKeyFromObject(sec), latest))
	latest.Data["server"] = []byte(local.Host)
	latest.Data["config"] = []byte(configJSON(t, map[string]any{"tlsClientConfig": map[string]any{
		"caData": local.CAData, "certData": local.CertData, "keyData": local.KeyData}}))
	require.NoError(t, f.c.Update(ctxT(t), latest))

	rev2 := f.repo.Commit(t, "v2", map[string]string{"app/cm.yaml": configMapYAML("argo-settings", map[string]string{"v": "2"})})
	f.eventually("app", "Ready at the new revision where the Secret says now", readyAt(rev2))
	assert.Equal(t, map[string]string{"v": "2"}, f.configMap("argo-settings"), "the new revision is on the cluster the Secret names now")
	assert.Equal(t, map[string]string{"v": "1"}, f.remoteConfigMap("argo-settings"), "and not on the one it named before")
	for _, e := range f.events("app") {
		assert.NotContains(t, e, token)
	}
}

// A cluster Secret whose kubeconfig is garbage makes the Application
// Stalled with a message naming the Secret and its key, and neither the
// condition nor an event holds a byte of it; mending the Secret mends the
// Application.
func TestClusterSecretWithGarbageKubeconfig(t *testing.T) {
	f := startRemote(t)
	name := "garbage-" + rand.String(5)
	const garbage = "token: tok3n-in-garbage ][ \x00 not: [a kubeconfig"
	f.secret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ClusterLabel: name}},
		Data: map[string][]byte{KubeconfigKey: []byte(garbage)}})
	rev := f.repo.Commit(t, "app", map[string]string{"app/cm.yaml": configMapYAML("g", nil)})
	f.application("app", "app", toCluster(name))

	app := f.eventually("app", "Stalled: the Secret cannot be used", stalledWith(ReasonClusterSecretInvalid))
	msg := condition(app, v1alpha1.ConditionStalled).Message
	assert.Contains(t, msg, "cluster Secret converge-system/"+name+": data.kubeconfig: not a kubeconfig")
	assert.NotContains(t, msg, "tok3n")
	f.eventuallyEvent("app", "Warning/"+ReasonClusterSecretInvalid)
	for _, e := range f.events("app") {
		assert.NotContains(t, e, "tok3n")
	}

	latest := &corev1.Secret{}
	require.NoError(t, f.c.Get(ctxT(t), client.ObjectKey{Namespace: DefaultOptions().ClusterNamespace, Name: name}, latest))
	latest.Data[KubeconfigKey] = f.kubeconfig()
	require.NoError(t, f.c.Update(ctxT(t), latest))
	f.eventually("app", "Ready once the Secret is mended", readyAt(rev))
	assert.NotNil(t, f.remoteConfigMap("g"))
}

// Lookup finds a cluster by its name or its server's URL, in the
// registry's namespace only, and refuses to choose between two Secrets
// that register one name.
func TestClustersLookup(t *testing.T) {
	env := plane.Env(t)
	ns, other := env.Namespace(t), env.Namespace(t)
	reg := &Clusters{Reader: env.Client, Namespace: ns}
	ctx := ctxT(t)
	create := func(s *corev1.Secret) {
		t.Helper()
		require.NoError(t, env.Client.Create(ctx, s))
	}
	token := configJSON(t, map[string]any{"bearerToken": testToken, "tlsClientConfig": map[string]any{"insecure": true}})
	prod := argoCDSecret("prod", map[string]string{"name": "prod", "server": "https://prod.example:6443", "config": token})
	prod.Namespace = ns
	create(prod)
	stage := kubeconfigSecret("stage-kubeconfig", "stage", testKubeconfig("https://stage.example:6443", "    token: "+testToken+"\n"))
	stage.Namespace = ns
	create(stage)
	elsewhere := argoCDSecret("elsewhere", map[string]string{"name": "elsewhere", "server": "https://elsewhere.example", "config": token})
	elsewhere.Namespace = other
	create(elsewhere)

	for name, want := range map[string]string{
		"prod":                       "prod",
		"https://prod.example:6443/": "prod",
		"stage":                      "stage-kubeconfig",
		"https://stage.example:6443": "stage-kubeconfig",
	} {
		r, err := reg.Lookup(ctx, name)
		if assert.NoError(t, err, name) {
			assert.Equal(t, want, r.Secret.Name, name)
		}
	}
	_, err := reg.Lookup(ctx, "elsewhere")
	assert.ErrorIs(t, err, ErrClusterNotRegistered, "a Secret of another namespace registers nothing")

	twin := argoCDSecret("prod-again", map[string]string{"name": "prod", "server": "https://prod-2.example", "config": token})
	twin.Namespace = ns
	create(twin)
	_, err = reg.Lookup(ctx, "prod")
	var se *ClusterSecretError
	require.ErrorAs(t, err, &se, "two Secrets of one name")
	assert.Contains(t, err.Error(), "Secret prod-again registers cluster \"prod\" too")
	assert.NotContains(t, err.Error(), testToken)

	c, err := reg.Cluster(ctx, "stage")
	require.NoError(t, err)
	assert.Equal(t, "https://stage.example:6443", c.Config().Host)
}
