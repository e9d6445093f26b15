package diff_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
)

// loadCorpus reads testdata/corpus: objects in the shapes Helm charts
// render (grafana, kube-prometheus-stack), with ${NS} replaced by ns.
func loadCorpus(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		objs, err := object.DecodeBytes([]byte(strings.ReplaceAll(string(data), "${NS}", ns)), object.DecodeOptions{})
		require.NoError(t, err, f)
		out = append(out, objs...)
	}
	return out
}

// TestCorpusCleanInFreshProcess applies every corpus object, then diffs it
// with a brand-new Differ (no receipts: a new process), as `plan` does
// after a restart. Server defaulting and storage (fieldRef.apiVersion,
// webhook rule scope, rules: [] stored as null, volumeClaimTemplates, ...)
// must not look like drift: the local verdict must be a certain Unchanged,
// and agree with the API server's own dry-run.
func TestCorpusCleanInFreshProcess(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	objs := loadCorpus(t, ns)
	// A Differ that saw the applies checks each answer against its own
	// merge (Record): the server's defaulting must not read as a mutation
	// that makes later local verdicts uncertain.
	store := &diff.MemoryReceipts{}
	recorder, err := diff.New(c, diff.WithReceipts(store))
	require.NoError(t, err)
	for _, obj := range objs {
		applied := applyAs(t, c, obj, object.FieldManager)
		require.NoError(t, recorder.Record(context.Background(), obj, applied))
	}
	for _, obj := range objs {
		id := object.IDOf(obj)
		live, err := c.Get(ctx, obj.GroupVersionKind(), id.Namespace, id.Name)
		require.NoError(t, err)
		require.False(t, serverWouldChange(t, c, obj, live), "%s: the server itself sees a change", id)

		fresh, err := diff.New(c)
		require.NoError(t, err)
		res, err := fresh.Diff(ctx, obj, live)
		require.NoError(t, err, "%s", id)
		assert.Equal(t, diff.Unchanged, res.Action, "%s\n%s", res, res.Diff)
		assert.False(t, res.Uncertain, "%s", res)
		assert.Equal(t, diff.ByLocalMerge, res.Method, "%s", res)

		store.Delete(id) // as if the receipt store lost it
		res, err = recorder.Diff(ctx, obj, live)
		require.NoError(t, err, "%s", id)
		assert.Equal(t, diff.Unchanged, res.Action, "%s\n%s", res, res.Diff)
		assert.False(t, res.Uncertain, "after Record: %s", res)
	}
}

// corpusChanges are edits to corpus objects, on the desired side or by
// another actor, whose verdicts must agree with the server's dry-run.
// They cover the fields the server defaults inside atomic values: there a
// default is only right when the value the server would store equals live.
var corpusChanges = map[string]struct {
	id string // Kind/name of the corpus object
	// desired edits the desired object; live edits the live one as
	// "kubectl-edit" through an Update.
	desired, live func(u *unstructured.Unstructured)
	want          diff.Action
}{
	"another manager changes a defaulted rule scope": {
		id: "MutatingWebhookConfiguration/kps-admission",
		live: func(u *unstructured.Unstructured) {
			setRuleScope(u, "Namespaced")
		},
		want: diff.Update,
	},
	"desired drops an explicit scope equal to the default": {
		id:      "ValidatingWebhookConfiguration/kps-admission",
		desired: func(u *unstructured.Unstructured) { setRuleScope(u, "") },
		want:    diff.Unchanged,
	},
	"desired sets a scope other than the default": {
		id:      "ValidatingWebhookConfiguration/kps-admission",
		desired: func(u *unstructured.Unstructured) { setRuleScope(u, "Cluster") },
		want:    diff.Update,
	},
	"desired writes the default fieldRef apiVersion": {
		id: "Deployment/grafana",
		desired: func(u *unstructured.Unstructured) {
			env := containerEnv(u)
			env[0].(map[string]any)["valueFrom"].(map[string]any)["fieldRef"].(map[string]any)["apiVersion"] = "v1"
		},
		want: diff.Unchanged,
	},
	"desired changes a fieldRef": {
		id: "Deployment/grafana",
		desired: func(u *unstructured.Unstructured) {
			env := containerEnv(u)
			env[0].(map[string]any)["valueFrom"].(map[string]any)["fieldRef"].(map[string]any)["fieldPath"] = "status.hostIP"
		},
		want: diff.Update,
	},
	"desired adds a rule to an empty ClusterRole": {
		id: "ClusterRole/grafana-clusterrole",
		desired: func(u *unstructured.Unstructured) {
			u.Object["rules"] = []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"get"}}}
		},
		want: diff.Update,
	},
	"desired writes rules: null": {
		id:      "ClusterRole/grafana-clusterrole",
		desired: func(u *unstructured.Unstructured) { u.Object["rules"] = nil },
		want:    diff.Unchanged,
	},
	"another manager changes a defaulted token lifetime": {
		id: "Deployment/kps-operator",
		live: func(u *unstructured.Unstructured) {
			sources := podSpec(u)["volumes"].([]any)[1].(map[string]any)["projected"].(map[string]any)["sources"].([]any)
			sources[0].(map[string]any)["serviceAccountToken"].(map[string]any)["expirationSeconds"] = int64(7200)
		},
		want: diff.Update,
	},
	"desired drops a port protocol equal to the default": {
		id: "NetworkPolicy/grafana",
		desired: func(u *unstructured.Unstructured) {
			ingress, _, _ := unstructured.NestedSlice(u.Object, "spec", "ingress")
			ingress[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["protocol"] = "TCP"
			_ = unstructured.SetNestedSlice(u.Object, ingress, "spec", "ingress")
		},
		want: diff.Unchanged,
	},
	"desired writes a claim template's defaults": {
		// (Claim templates are immutable: a change cannot be dry-run.)
		id: "StatefulSet/grafana-persistent",
		desired: func(u *unstructured.Unstructured) {
			tpls, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
			tpl := tpls[0].(map[string]any)
			tpl["apiVersion"], tpl["kind"] = "v1", "PersistentVolumeClaim"
			_ = unstructured.SetNestedField(tpl, "Filesystem", "spec", "volumeMode")
			_ = unstructured.SetNestedSlice(u.Object, tpls, "spec", "volumeClaimTemplates")
		},
		want: diff.Unchanged,
	},
}

// TestCorpusChangesAgreeWithServer applies each corpus object, makes one
// change, and checks a fresh Differ's local verdict against the server's
// dry-run.
func TestCorpusChangesAgreeWithServer(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	c, err := cluster.New(env.Config)
	require.NoError(t, err)
	byID := map[string]*unstructured.Unstructured{}
	for _, obj := range loadCorpus(t, ns) {
		byID[obj.GetKind()+"/"+strings.TrimSuffix(obj.GetName(), "-"+ns)] = obj
	}
	for name, tc := range corpusChanges {
		t.Run(name, func(t *testing.T) {
			base, ok := byID[tc.id]
			require.True(t, ok, tc.id)
			applyAs(t, c, base, object.FieldManager)
			ri, _, err := c.ResourceFor(ctx, base)
			require.NoError(t, err)
			live, err := ri.Get(ctx, base.GetName(), metav1.GetOptions{})
			require.NoError(t, err)
			if tc.live != nil {
				tc.live(live)
				live, err = ri.Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
				require.NoError(t, err)
			}
			desired := base.DeepCopy()
			if tc.desired != nil {
				tc.desired(desired)
			}
			serverChanged := serverWouldChange(t, c, desired, live)
			require.Equal(t, tc.want == diff.Update, serverChanged, "the server's verdict is not the one this case expects")

			fresh, err := diff.New(c)
			require.NoError(t, err)
			res, err := fresh.Diff(ctx, desired, live)
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.Action, "%s\n%s", res, res.Diff)
			assert.False(t, res.Uncertain, "%s", res)
			// Put the object back for the next case.
			applyAs(t, c, base, object.FieldManager)
			if tc.live != nil {
				require.NoError(t, ri.Delete(ctx, base.GetName(), metav1.DeleteOptions{}))
			}
		})
	}
}

func setRuleScope(u *unstructured.Unstructured, scope string) {
	hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
	rules := hooks[0].(map[string]any)["rules"].([]any)
	rule := rules[0].(map[string]any)
	if scope == "" {
		delete(rule, "scope")
	} else {
		rule["scope"] = scope
	}
	_ = unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
}

// podSpec returns the pod spec of a workload, in place (unstructured's
// Nested helpers return copies).
func podSpec(u *unstructured.Unstructured) map[string]any {
	m := u.Object
	for _, k := range []string{"spec", "template", "spec"} {
		m = m[k].(map[string]any)
	}
	return m
}

// containerEnv returns the env of a workload's first container, in place.
func containerEnv(u *unstructured.Unstructured) []any {
	return podSpec(u)["containers"].([]any)[0].(map[string]any)["env"].([]any)
}
