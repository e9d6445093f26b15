// Package living runs check's cluster rules against a living control plane
// (kube-controller-manager included, so the objects the control plane
// makes itself are there), with the changes made by hand by the real
// kubectl.
package living

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/check"
	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/internal/testenv"
	"github.com/converge-dev/converge/object"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{Mode: testenv.Living}, &env)
}

// kubectl runs the real kubectl against the plane.
func kubectl(t *testing.T, editor string, args ...string) string {
	t.Helper()
	bin, err := peers.CLI("kubectl")
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBE_EDITOR="+editor)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// applyAsConverge applies obj server-side under converge's field manager,
// as the applier does.
func applyAsConverge(t *testing.T, c *cluster.Client, obj *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	ri, _, err := c.ResourceFor(ctx, obj)
	require.NoError(t, err)
	_, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	require.NoError(t, err)
}

func deployment(ns string, replicas int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": ns},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "ghcr.io/converge-dev/shop-web:1.5.0"}}},
			},
		},
	}}
}

func configMap(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"LOG_LEVEL": "info"},
	}}
}

func byRule(rep *check.Report, rule string) []check.Finding {
	var out []check.Finding
	for _, f := range rep.Findings() {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestClusterRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)

	managed := env.Namespace(t)
	unmanaged := env.Namespace(t)
	applyAsConverge(t, c, deployment(managed, 1))
	applyAsConverge(t, c, configMap(managed, "web-config"))

	// A person edits the Deployment with kubectl edit (field manager
	// kubectl-edit), creates a ConfigMap beside the GitOps-managed ones,
	// and one in a namespace no GitOps tool manages.
	editor := filepath.Join(t.TempDir(), "editor.sh")
	require.NoError(t, os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/replicas: 1$/replicas: 3/' \"$1\"\n"), 0o755))
	kubectl(t, editor, "-n", managed, "edit", "deployment", "web")
	kubectl(t, "", "-n", managed, "create", "configmap", "handmade", "--from-literal=KEY=value")
	kubectl(t, "", "-n", unmanaged, "create", "configmap", "elsewhere", "--from-literal=KEY=value")
	// Write access for a person in the managed namespace, and for every
	// authenticated user cluster-wide.
	kubectl(t, "", "-n", managed, "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice")
	kubectl(t, "", "-n", managed, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice")
	kubectl(t, "", "create", "clusterrolebinding", "everyone-edit", "--clusterrole=edit", "--group=system:authenticated")
	t.Cleanup(func() { kubectl(t, "", "delete", "clusterrolebinding", "everyone-edit") })
	waitForAggregatedRules(t, ctx, c, "edit")

	before := c.Requests().Total()
	rep, err := check.Run(ctx, check.NewTarget(fstest.MapFS{}, "", check.DefaultLimits()),
		check.ClusterRules(c, check.DefaultClusterOptions()), check.DefaultOptions())
	require.NoError(t, err)
	t.Logf("requests: %d; report notes: %v", c.Requests().Total()-before, rep.Notes)
	for _, f := range rep.Findings() {
		t.Logf("%s %s %s: %s", f.Severity, f.Rule, f.Location, f.Message)
	}

	edits := byRule(rep, "cluster-hand-edit")
	require.Len(t, edits, 1, "one hand edit: the Deployment's replicas")
	assert.Equal(t, "Deployment/"+managed+"/web", edits[0].Location.String())
	assert.Contains(t, edits[0].Message, `"kubectl-edit" (update) at `)
	assert.Contains(t, edits[0].Message, "spec.replicas")
	assert.Equal(t, check.SeverityHigh, edits[0].Severity)

	unowned := byRule(rep, "cluster-unowned-object")
	var where []string
	for _, f := range unowned {
		where = append(where, f.Location.String())
		assert.Contains(t, f.Message, `was made by "kubectl-create", not from Git`)
	}
	assert.Equal(t, []string{"ConfigMap/" + managed + "/handmade", "RoleBinding/" + managed + "/alice-edit", "RoleBinding/" + managed + "/alice-view"}, where,
		"what kubectl created; not kube-root-ca.crt, not the default ServiceAccount, not the unmanaged namespace's ConfigMap")

	grants := byRule(rep, "cluster-rbac-write")
	require.Len(t, grants, 2, "alice's edit binding and everyone's, not alice's view binding nor the bootstrap bindings")
	assert.Equal(t, check.SeverityHigh, grants[0].Severity)
	assert.Contains(t, grants[0].Message, "ClusterRoleBinding everyone-edit gives system:authenticated write access (ClusterRole/edit) cluster-wide, so in "+managed)
	assert.Equal(t, "RoleBinding/"+managed+"/alice-edit", grants[1].Location.String())
	assert.Contains(t, grants[1].Message, "user alice write access (ClusterRole/edit) in "+managed+": create, delete, deletecollection, impersonate, patch, update on ")

	// The next apply takes the field back (self-heal): the hand edit is
	// gone from the managed fields, and from the report.
	applyAsConverge(t, c, deployment(managed, 1))
	rep, err = check.Run(ctx, check.NewTarget(fstest.MapFS{}, "", check.DefaultLimits()),
		check.ClusterRules(c, check.DefaultClusterOptions()), check.DefaultOptions())
	require.NoError(t, err)
	assert.Empty(t, byRule(rep, "cluster-hand-edit"))

	// The disable annotation turns a rule off for one object.
	for _, obj := range []string{"configmap/handmade", "rolebinding/alice-edit", "rolebinding/alice-view"} {
		kubectl(t, "", "-n", managed, "annotate", obj, check.AnnotationDisable+"=cluster-unowned-object")
	}
	rep, err = check.Run(ctx, check.NewTarget(fstest.MapFS{}, "", check.DefaultLimits()),
		check.ClusterRules(c, check.ClusterOptions{Namespaces: []string{managed, unmanaged}}), check.DefaultOptions())
	require.NoError(t, err)
	unowned = byRule(rep, "cluster-unowned-object")
	require.Len(t, unowned, 1, "with the namespaces given, the unmanaged one is read too")
	assert.Equal(t, "ConfigMap/"+unmanaged+"/elsewhere", unowned[0].Location.String())
}

// waitForAggregatedRules waits until the controller manager has filled
// an aggregated ClusterRole's rules.
func waitForAggregatedRules(t *testing.T, ctx context.Context, c *cluster.Client, name string) {
	t.Helper()
	gvk := schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}
	require.Eventually(t, func() bool {
		role, err := c.Get(ctx, gvk, "", name)
		if err != nil {
			return false
		}
		rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
		return len(rules) > 0
	}, time.Minute, 200*time.Millisecond)
}
