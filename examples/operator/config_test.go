package operator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/object"
)

// installNamespace is where config/default installs the operator.
const installNamespace = "converge-system"

// kustomizeBuild runs the real kustomize CLI on a folder of config/ and
// returns the objects it prints.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	bin, err := peers.CLI("kustomize")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "build", filepath.Join("config", dir))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kustomize build config/%s:\n%s", dir, stderr.String())
	opts := object.DefaultDecodeOptions()
	opts.MaxBytes = 4 << 20 // the CRDs are long
	objs, err := object.DecodeBytes(out, opts)
	require.NoError(t, err, "decode the output of kustomize build config/%s", dir)
	require.NotEmpty(t, objs)
	return objs
}

// typed converts the objects of kind into T.
func typed[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) []*T {
	t.Helper()
	var out []*T
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		v := new(T)
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, v), "%s %s", kind, o.GetName())
		out = append(out, v)
	}
	return out
}

// warnings collects the API server's warnings (PodSecurity's among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, _ string, text string) {
	if code == 299 && text != "" {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.list = append(w.list, text)
	}
}

// TestInstallManifests builds config/default with the real kustomize and
// server-side applies every object it holds to the living plane as a dry
// run, after applying the CRDs and the namespace for real (the rest
// cannot be validated without them): each is accepted as it is, with no
// warning (the Deployment passes the namespace's restricted Pod Security
// level).
func TestInstallManifests(t *testing.T) {
	t.Parallel()
	env, _ := startOperator(t)
	objs := kustomizeBuild(t, "default")

	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
		if o.GetNamespace() != "" {
			assert.Equal(t, installNamespace, o.GetNamespace(), "%s/%s", o.GetKind(), o.GetName())
		}
	}
	for _, want := range []string{
		"CustomResourceDefinition/applications.converge.dev", "CustomResourceDefinition/projects.converge.dev",
		"Namespace/" + installNamespace, "ServiceAccount/converge-operator",
		"ClusterRole/converge-operator", "ClusterRole/converge-operator-apply", "ClusterRoleBinding/converge-operator",
		"ClusterRoleBinding/converge-operator-apply", "Role/converge-operator-leases", "RoleBinding/converge-operator-leases",
		"Deployment/converge-operator", "Service/converge-operator",
	} {
		assert.Contains(t, kinds, want)
	}

	cfg := rest.CopyConfig(env.Config)
	warned := &warnings{}
	cfg.WarningHandler = warned
	scheme := runtime.NewScheme()
	require.NoError(t, apiextensionsv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	ctx := ctxT(t)
	apply := func(o *unstructured.Unstructured, opts ...client.ApplyOption) error {
		opts = append(opts, client.FieldOwner("converge-install-test"), client.ForceOwnership)
		return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...)
	}

	// First what the rest needs: the CRDs, established, and the namespace.
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			require.NoError(t, apply(o), "apply CRD %s", o.GetName())
			require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				var crd apiextensionsv1.CustomResourceDefinition
				if err := c.Get(ctx, client.ObjectKey{Name: o.GetName()}, &crd); err != nil {
					return false, err
				}
				for _, cond := range crd.Status.Conditions {
					if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
						return true, nil
					}
				}
				return false, nil
			}), "CRD %s established", o.GetName())
		case "Namespace":
			require.NoError(t, apply(o), "apply namespace %s", o.GetName())
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = c.Delete(ctx, o.DeepCopy())
			})
		}
	}
	for _, o := range objs {
		if k := o.GetKind(); k == "CustomResourceDefinition" || k == "Namespace" {
			continue
		}
		assert.NoError(t, apply(o, client.DryRunAll), "server-side dry-run of %s %s", o.GetKind(), o.GetName())
	}
	warned.mu.Lock()
	defer warned.mu.Unlock()
	assert.Empty(t, warned.list, "the API server warned about the manifests")
}

// rulesAllow reports whether rules grant verb on group/resource.
func rulesAllow(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	has := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	for _, r := range rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) && len(r.ResourceNames) == 0 {
			return true
		}
	}
	return false
}

// TestInstallRBAC: no role of config/default names a wildcard verb; only
// the documented apply role names wildcard groups or resources, in one
// rule; impersonation reaches service accounts only; and the least
// privilege roles alone cover what the operator does itself.
func TestInstallRBAC(t *testing.T) {
	t.Parallel()
	objs := kustomizeBuild(t, "default")
	clusterRoles := typed[rbacv1.ClusterRole](t, objs, "ClusterRole")
	roles := typed[rbacv1.Role](t, objs, "Role")
	require.Len(t, clusterRoles, 2)
	require.Len(t, roles, 1)

	type named struct {
		name  string
		rules []rbacv1.PolicyRule
		apply bool
	}
	var all []named
	for _, r := range clusterRoles {
		all = append(all, named{"ClusterRole/" + r.Name, r.Rules, r.Annotations["converge.dev/rbac"] != ""})
	}
	for _, r := range roles {
		all = append(all, named{"Role/" + r.Name, r.Rules, false})
	}
	applyRoles := 0
	for _, r := range all {
		broad := 0
		for i, rule := range r.rules {
			assert.NotContains(t, rule.Verbs, "*", "%s rule %d names a wildcard verb", r.name, i)
			if slices.Contains(rule.Verbs, "impersonate") {
				assert.Equal(t, []string{""}, rule.APIGroups, "%s rule %d", r.name, i)
				assert.Equal(t, []string{"serviceaccounts"}, rule.Resources, "%s rule %d impersonates more than service accounts", r.name, i)
			}
			if slices.Contains(rule.APIGroups, "*") || slices.Contains(rule.Resources, "*") {
				broad++
				assert.True(t, r.apply, "%s rule %d names wildcard groups or resources outside the documented apply role", r.name, i)
			}
		}
		if r.apply {
			applyRoles++
			assert.Equal(t, 1, broad, "%s holds the one broad rule", r.name)
		}
	}
	assert.Equal(t, 1, applyRoles, "one ClusterRole is the documented apply rule (annotation converge.dev/rbac)")

	var own []rbacv1.PolicyRule
	for _, r := range all {
		if !r.apply {
			own = append(own, r.rules...)
		}
	}
	for _, need := range []struct{ group, resource, verbs string }{
		{"converge.dev", "applications", "get list watch update patch"},
		{"converge.dev", "applications/status", "get update patch"},
		{"converge.dev", "applications/finalizers", "update"},
		{"converge.dev", "projects", "get list watch"},
		{"events.k8s.io", "events", "create patch"},
		{"", "configmaps", "get list watch create update patch delete"},
		{"", "secrets", "get list watch"},
		{"", "serviceaccounts", "impersonate"},
		{"coordination.k8s.io", "leases", "get list watch create update patch delete"},
		{"apiextensions.k8s.io", "customresourcedefinitions", "get list watch"},
		// --serve-argocd: ApplicationSets write their Applications.
		{"argoproj.io", "applications", "get list watch create update patch delete"},
		{"argoproj.io", "applicationsets/status", "update patch"},
	} {
		for _, verb := range strings.Fields(need.verbs) {
			assert.True(t, rulesAllow(own, need.group, need.resource, verb), "the operator's own roles do not grant %s on %s in group %q", verb, need.resource, need.group)
		}
	}
	assert.False(t, rulesAllow(own, "", "secrets", "create"), "the operator's own roles write no Secrets; only the apply role does")
}

// TestInstallWiring: the Service selects the operator's pods and targets
// their named ports, a ServiceMonitor of config/prometheus selects the
// Service and scrapes its metrics port, and the Deployment's flags are
// the binary's (built from cmd/operator and run with them).
func TestInstallWiring(t *testing.T) {
	t.Parallel()
	objs := kustomizeBuild(t, "default")
	deps := typed[appsv1.Deployment](t, objs, "Deployment")
	svcs := typed[corev1.Service](t, objs, "Service")
	require.Len(t, deps, 1)
	require.Len(t, svcs, 1)
	dep, svc := deps[0], svcs[0]
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	ctr := dep.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "converge-operator", dep.Spec.Template.Spec.ServiceAccountName)

	for k, v := range svc.Spec.Selector {
		assert.Equal(t, v, dep.Spec.Template.Labels[k], "the Service selects the pods by %s", k)
	}
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	var svcPorts []string
	for _, p := range svc.Spec.Ports {
		svcPorts = append(svcPorts, p.Name)
		_, ok := ports[p.TargetPort.StrVal]
		assert.True(t, ok, "Service port %s targets container port %q, which the container does not name", p.Name, p.TargetPort.String())
	}
	assert.Subset(t, svcPorts, []string{"metrics", "webhook"})
	assert.Contains(t, ctr.Args, "--metrics-bind-address=:"+strconv.Itoa(int(ports["metrics"])), "metrics are served on the port named metrics")
	assert.Contains(t, ctr.Args, "--health-probe-bind-address=:"+strconv.Itoa(int(ports["health"])), "probes are served on the port named health")
	assert.Contains(t, ctr.Args, "--webhook-bind-address=:"+strconv.Itoa(int(ports["webhook"])), "push events are received on the port named webhook")

	// The ServiceMonitor, read without its CRD: its selector and port.
	var monitor *unstructured.Unstructured
	for _, o := range kustomizeBuild(t, "prometheus") {
		if o.GetKind() == "ServiceMonitor" {
			monitor = o
		}
	}
	require.NotNil(t, monitor, "config/prometheus holds a ServiceMonitor")
	match, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	require.NotEmpty(t, match)
	for k, v := range match {
		assert.Equal(t, v, svc.Labels[k], "the ServiceMonitor selects the Service by %s", k)
	}
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	require.Len(t, endpoints, 1)
	assert.Equal(t, "metrics", endpoints[0].(map[string]any)["port"])

	if !testing.Short() {
		checkFlags(t, ctr.Args)
	}
}

// TestInstallSharded: config/sharded runs three replicas that share
// twelve shards, their Leases in the operator's own namespace, where its
// Role lets it write them; the flags are the binary's.
func TestInstallSharded(t *testing.T) {
	t.Parallel()
	objs := kustomizeBuild(t, "sharded")
	deps := typed[appsv1.Deployment](t, objs, "Deployment")
	require.Len(t, deps, 1)
	dep := deps[0]
	require.NotNil(t, dep.Spec.Replicas)
	assert.Equal(t, int32(3), *dep.Spec.Replicas)
	args := dep.Spec.Template.Spec.Containers[0].Args
	assert.Contains(t, args, "--shards=12")
	assert.Contains(t, args, "--lease-namespace="+dep.Namespace, "the Leases are in the operator's namespace")
	var leases bool
	for _, r := range typed[rbacv1.Role](t, objs, "Role") {
		leases = leases || (r.Namespace == dep.Namespace && rulesAllow(r.Rules, "coordination.k8s.io", "leases", "update"))
	}
	assert.True(t, leases, "a Role of %s lets the replicas write their Leases", dep.Namespace)
	if !testing.Short() {
		checkFlags(t, args)
	}
}

// checkFlags runs the operator binary with a Deployment's flags: it
// parses and checks them all, then fails only on the kubeconfig it is
// given.
func checkFlags(t *testing.T, flags []string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "operator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/operator")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/operator:\n%s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Files the pod mounts are given here by the test.
	secret := filepath.Join(t.TempDir(), "webhook-secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cr3t\n"), 0o600))
	var args []string
	for _, a := range flags {
		if strings.HasPrefix(a, "--webhook-secret-file=") {
			a = "--webhook-secret-file=" + secret
		}
		args = append(args, a)
	}
	run := exec.CommandContext(ctx, bin, append(args, "--kubeconfig=/nonexistent/kubeconfig")...)
	run.Env = append(os.Environ(), "KUBECONFIG=")
	out, err = run.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "kubeconfig /nonexistent/kubeconfig", "the Deployment's flags are the binary's: %s", out)
}
