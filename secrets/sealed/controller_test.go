package sealed_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/secrets/sealed"
)

var sealedSecretsGVR = schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}

// controllerFixture is the real sealed-secrets-controller v0.27.1 running
// out of cluster against the test plane, holding the two test keys as its
// sealing key Secrets, reachable through a Service.
type controllerFixture struct {
	env  *testenv.Env
	cs   kubernetes.Interface
	dyn  dynamic.Interface
	ns   string // the controller's namespace
	port int    // where it listens
}

// expose makes the controller reachable as the Service
// sealed-secrets-controller in ns, its endpoint this host's own address
// (the API server will not proxy to loopback).
func (f *controllerFixture) expose(t *testing.T, ns string) {
	t.Helper()
	ctx := testCtx(t)
	ip := hostIP(t)
	if ip == "" {
		// Nothing to point the Service at: FetchCertificate then reads the
		// key Secret, which is what the tests check.
		t.Log("no non-loopback IPv4 address: the controller gets no Service")
		return
	}
	// The service proxy only dials an endpoint whose target Pod has its IP.
	pod, err := f.cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller-0"},
		Spec:       corev1.PodSpec{NodeName: "out-of-cluster", Containers: []corev1.Container{{Name: "controller", Image: "controller"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	pod.Status.Phase = corev1.PodRunning
	_, err = f.cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, err = f.cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: sealed.DefaultControllerName},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(int32(f.port))}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	//nolint:staticcheck // Endpoints: what the API server's service proxy may read
	_, err = f.cs.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: sealed.DefaultControllerName},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name}}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: int32(f.port)}},
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = f.cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: sealed.DefaultControllerName + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: sealed.DefaultControllerName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(f.port))}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

}

// startController runs the controller. It reads only the in-cluster
// configuration, from fixed paths under /var/run/secrets, so it runs in
// a private mount namespace (unshare -m) with a tmpfs on /run that holds a
// ServiceAccount token of the test plane.
func startController(t *testing.T) *controllerFixture {
	t.Helper()
	bin, err := peers.CLI("sealed-secrets-controller")
	require.NoError(t, err)
	_, err = exec.LookPath("unshare")
	require.NoError(t, err, "unshare (util-linux) is needed: the controller runs in a private mount namespace")
	env := plane.Env(t)
	ctx := testCtx(t)
	cs, err := kubernetes.NewForConfig(env.Config)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(env.Config)
	require.NoError(t, err)
	f := &controllerFixture{env: env, cs: cs, dyn: dyn, ns: env.Namespace(t)}

	installCRD(t, env)

	// The sealing keys, as the controller writes them.
	for i, k := range []struct{ key, cert string }{{"key1.pem", "cert1.pem"}, {"key2.pem", "cert2.pem"}} {
		_, err := cs.CoreV1().Secrets(f.ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sealed-secrets-key%d", i+1), Labels: map[string]string{sealed.KeyLabel: "active"}},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.key": readTestdata(t, k.key), "tls.crt": readTestdata(t, k.cert)},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// A ServiceAccount token for the in-cluster configuration.
	_, err = cs.CoreV1().ServiceAccounts(f.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-" + f.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "sealed-secrets", Namespace: f.ns}},
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
	})
	tok, err := cs.CoreV1().ServiceAccounts(f.ns).CreateToken(ctx, "sealed-secrets", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	sa := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(sa, "token"), []byte(tok.Status.Token), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(sa, "ca.crt"), env.Config.CAData, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(sa, "namespace"), []byte(f.ns), 0o600))

	host, err := url.Parse(env.Config.Host)
	require.NoError(t, err)
	port, metricsPort := freePort(t), freePort(t)
	script := `set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
cp "$SA"/* /run/secrets/kubernetes.io/serviceaccount/
exec "$BIN" "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
		"--listen-addr=:"+strconv.Itoa(port), "--listen-metrics-addr=127.0.0.1:"+strconv.Itoa(metricsPort),
		"--key-renew-period=0", "--update-status=true")
	cmd.Env = append(os.Environ(), "SA="+sa, "BIN="+bin, "POD_NAMESPACE="+f.ns,
		"KUBERNETES_SERVICE_HOST="+host.Hostname(), "KUBERNETES_SERVICE_PORT="+host.Port())
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("controller logs:\n%s", logs.String())
		}
	})

	f.port = port
	f.expose(t, f.ns)

	// Ready when it serves its certificate.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 60*time.Second, 100*time.Millisecond, "the controller does not listen; logs:\n%s", &logs)
	return f
}

func installCRD(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx := testCtx(t)
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.Unmarshal(readTestdata(t, "bitnami.com_sealedsecrets.yaml"), &crd))
	if err := env.Client.Create(ctx, &crd); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		var got apiextensionsv1.CustomResourceDefinition
		if env.Client.Get(ctx, clientKey(crd.Name), &got) != nil {
			return false
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond)
}

// TestControllerUnsealsConvergeSealed: SealedSecrets converge seals (with
// the certificate FetchCertificate gets from the controller, and with the
// older key of the rotated pair) become the right Secrets in the real
// controller; a renamed one does not.
func TestControllerUnsealsConvergeSealed(t *testing.T) {
	f := startController(t)
	ctx := testCtx(t)
	keys := testKeys(t)

	pub, err := sealed.FetchCertificate(ctx, f.cs, f.ns, "")
	// Through the service proxy when the API server reaches the controller
	// (not proven here: this plane's proxy reports no endpoints for an
	// out-of-cluster process), else from the key Secrets.
	require.NoError(t, err)
	assert.True(t, testPub(t, "cert2.pem").Equal(pub), "the controller seals with the newest key")

	pubFallback, err := sealed.FetchCertificate(ctx, f.cs, f.ns, "no-such-controller")
	require.NoError(t, err, "from the key Secrets")
	assert.True(t, pub.Equal(pubFallback))

	_, err = sealed.FetchCertificate(ctx, f.cs, f.env.Namespace(t), "")
	require.Error(t, err, "no controller, no key Secrets")
	assert.Contains(t, err.Error(), "sealed-secrets-controller")

	app := f.env.Namespace(t)
	older := testPub(t, "cert1.pem")
	cases := map[string]struct {
		pub    *rsa.PublicKey
		scope  sealed.Scope
		rename string // a new name for the SealedSecret after sealing
		ok     bool
	}{
		"strict":                 {pub: pub, scope: sealed.ScopeStrict, ok: true},
		"namespace-wide":         {pub: pub, scope: sealed.ScopeNamespaceWide, ok: true},
		"cluster-wide":           {pub: pub, scope: sealed.ScopeClusterWide, ok: true},
		"older key":              {pub: older, scope: sealed.ScopeStrict, ok: true},
		"namespace-wide renamed": {pub: pub, scope: sealed.ScopeNamespaceWide, rename: "nsw-renamed", ok: true},
		"strict renamed":         {pub: pub, scope: sealed.ScopeStrict, rename: "strict-renamed"},
		"strict renamed, template says cluster-wide": {pub: pub, scope: sealed.ScopeStrict, rename: "injected-renamed"},
	}
	type created struct {
		name string
		want *corev1.Secret // nil: the controller must refuse it
	}
	var all []created
	i := 0
	for name, tc := range cases {
		i++
		in := testSecret()
		in.Namespace, in.Name = app, fmt.Sprintf("s%d", i)
		ss, err := sealed.Seal(rnd, tc.pub, in, tc.scope)
		require.NoError(t, err, name)
		if tc.rename != "" {
			ss.SetName(tc.rename)
		}
		if name == "strict renamed, template says cluster-wide" {
			require.NoError(t, unstructured.SetNestedField(ss.Object, "true", "spec", "template", "metadata", "annotations", sealed.AnnotationClusterWide))
		}
		c := created{name: ss.GetName()}
		if tc.ok {
			c.want, err = keys.Unseal(ss)
			require.NoError(t, err, name)
		} else {
			_, err = keys.Unseal(ss)
			require.ErrorIs(t, err, sealed.ErrNoKeyDecrypts, name)
		}
		_, err = f.dyn.Resource(sealedSecretsGVR).Namespace(app).Create(ctx, ss, metav1.CreateOptions{})
		require.NoError(t, err, name)
		all = append(all, c)
	}

	for _, c := range all {
		if c.want == nil {
			// The controller reports it cannot decrypt, and makes no Secret.
			require.Eventually(t, func() bool {
				got, err := f.dyn.Resource(sealedSecretsGVR).Namespace(app).Get(ctx, c.name, metav1.GetOptions{})
				if err != nil {
					return false
				}
				conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
				for _, cond := range conds {
					m, _ := cond.(map[string]any)
					if m["type"] == "Synced" && m["status"] == "False" {
						return true
					}
				}
				return false
			}, 60*time.Second, 200*time.Millisecond, "controller status for %s", c.name)
			_, err := f.cs.CoreV1().Secrets(app).Get(ctx, c.name, metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "the controller must not unseal %s", c.name)
			continue
		}
		var got *corev1.Secret
		require.Eventually(t, func() bool {
			got, err = f.cs.CoreV1().Secrets(app).Get(ctx, c.name, metav1.GetOptions{})
			return err == nil
		}, 60*time.Second, 200*time.Millisecond, "the controller makes Secret %s", c.name)
		assert.Equal(t, c.want.Data, got.Data, c.name)
		assert.Equal(t, c.want.Type, got.Type, c.name)
		assert.Equal(t, c.want.Labels, got.Labels, c.name)
		for k, v := range c.want.Annotations {
			assert.Equal(t, v, got.Annotations[k], c.name)
		}
		require.Len(t, got.OwnerReferences, 1)
		assert.Equal(t, "SealedSecret", got.OwnerReferences[0].Kind)
		assert.Equal(t, c.name, got.OwnerReferences[0].Name)

		// What converge unseals from the live SealedSecret is what the
		// controller made, owner reference and all.
		live, err := f.dyn.Resource(sealedSecretsGVR).Namespace(app).Get(ctx, c.name, metav1.GetOptions{})
		require.NoError(t, err)
		ours, err := keys.Unseal(live)
		require.NoError(t, err)
		assert.Equal(t, got.OwnerReferences[0].UID, ours.OwnerReferences[0].UID)
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hostIP returns a non-loopback IPv4 address of this host.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
