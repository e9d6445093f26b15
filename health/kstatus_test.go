package health

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/converge-dev/converge/object"
)

// kstatusRef is the reference: kstatus.Compute itself, with a panic made
// the error converge used to make of it.
func kstatusRef(o map[string]any) (res *kstatus.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("kstatus: %v", p)
		}
	}()
	return kstatus.Compute(&unstructured.Unstructured{Object: o})
}

// samePort reports how the port differs from kstatus on o: "" when both
// give the same status, message and conditions, or the same error.
func samePort(o map[string]any) string {
	want, werr := kstatusRef(o)
	got, gerr := computeKstatus(o, readConditions(o))
	switch {
	case werr != nil && gerr != nil:
		// DeepCopyJSONValue walks maps in random order, so with two
		// values it cannot copy either may be the one it names.
		const deep = "kstatus: cannot deep copy "
		if werr.Error() == gerr.Error() || strings.HasPrefix(werr.Error(), deep) && strings.HasPrefix(gerr.Error(), deep) {
			return ""
		}
		return fmt.Sprintf("errors differ:\n kstatus: %v\n port:    %v", werr, gerr)
	case werr != nil:
		return fmt.Sprintf("kstatus fails (%v), the port gives %+v", werr, got)
	case gerr != nil:
		return fmt.Sprintf("the port fails (%v), kstatus gives %+v", gerr, *want)
	}
	var conds []kstatus.Condition
	if got.Cond.Type != "" {
		c := got.Cond
		conds = []kstatus.Condition{{Type: kstatus.ConditionType(c.Type), Status: "True", Reason: c.Reason, Message: c.Message}}
		if c.Status != "True" {
			return fmt.Sprintf("port condition status %q", c.Status)
		}
	}
	if want.Status != got.Status || want.Message != got.Message || len(want.Conditions) != len(conds) ||
		len(conds) == 1 && want.Conditions[0] != conds[0] {
		return fmt.Sprintf("results differ:\n kstatus: %+v\n port:    %+v %+v", *want, got.Status, got)
	}
	return ""
}

func assertSamePort(t *testing.T, name string, o map[string]any) {
	t.Helper()
	if d := samePort(o); d != "" {
		js, _ := json.Marshal(o)
		t.Errorf("%s: %s\nobject: %s", name, d, js)
	}
}

// TestKstatusPortFixtures: the port agrees with kstatus on every fixture.
func TestKstatusPortFixtures(t *testing.T) {
	n := 0
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, u := range objs {
			n++
			assertSamePort(t, path+": "+u.GetKind()+"/"+u.GetName(), u.Object)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d fixtures", n)
	}
}

// portKinds are the kinds kstatus has rules for, and two it has none for.
var portKinds = []struct{ apiVersion, kind string }{
	{"v1", "Service"}, {"v1", "Pod"}, {"v1", "Secret"}, {"v1", "ConfigMap"}, {"v1", "PersistentVolumeClaim"},
	{"apps/v1", "StatefulSet"}, {"apps/v1", "DaemonSet"}, {"extensions/v1beta1", "DaemonSet"},
	{"apps/v1", "Deployment"}, {"extensions/v1beta1", "Deployment"}, {"apps/v1", "ReplicaSet"},
	{"extensions/v1beta1", "ReplicaSet"}, {"policy/v1", "PodDisruptionBudget"}, {"batch/v1", "CronJob"},
	{"batch/v1", "Job"}, {"apiextensions.k8s.io/v1", "CustomResourceDefinition"},
	{"example.com/v1", "Widget"}, {"v1", "Namespace"},
	// kstatus looks rules up by "group/kind", or the kind alone in the
	// core group.
	{"v1", "apps/Deployment"}, {"v1", "batch/Job"}, {"apps/v1", "Pod"},
}

// portPaths are the fields kstatus reads, for any kind.
var portPaths = [][]string{
	{"metadata", "deletionTimestamp"}, {"metadata", "generation"}, {"metadata", "creationTimestamp"},
	{"status", "observedGeneration"}, {"status", "phase"}, {"status", "conditions"},
	{"spec", "type"}, {"spec", "clusterIP"}, {"spec", "replicas"}, {"spec", "progressDeadlineSeconds"},
	{"spec", "updateStrategy", "type"}, {"spec", "updateStrategy", "rollingUpdate", "partition"},
	{"spec", "parallelism"}, {"spec", "completions"},
	{"status", "replicas"}, {"status", "readyReplicas"}, {"status", "currentReplicas"}, {"status", "updatedReplicas"},
	{"status", "availableReplicas"}, {"status", "fullyLabeledReplicas"},
	{"status", "currentRevision"}, {"status", "updateRevision"},
	{"status", "desiredNumberScheduled"}, {"status", "currentNumberScheduled"}, {"status", "updatedNumberScheduled"},
	{"status", "numberAvailable"}, {"status", "numberReady"},
	{"status", "succeeded"}, {"status", "active"}, {"status", "failed"}, {"status", "startTime"},
	{"status", "containerStatuses"},
	{"metadata"}, {"status"}, {"spec"}, {"spec", "updateStrategy"}, {"kind"}, {"apiVersion"},
}

// oddValues are a value of every JSON-ish type, and the Go types
// Unstructured may hold besides (int, int32).
var oddValues = []any{
	nil, int64(3), int(3), int32(3), float64(3), 2.5, "3", "", true, false,
	map[string]any{}, []any{}, map[string]any{"x": int64(1)}, []any{"x"}, json.Number("3"),
}

// healthyBase is an object of the kind that kstatus calls Current, so that
// changing one field exercises the rule that field feeds.
func healthyBase(apiVersion, kind string) map[string]any {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": "x", "generation": int64(2)},
		"spec":     map[string]any{"replicas": int64(2), "type": "LoadBalancer", "clusterIP": "10.0.0.1"},
		"status": map[string]any{"observedGeneration": int64(2), "replicas": int64(2), "readyReplicas": int64(2),
			"currentReplicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2),
			"fullyLabeledReplicas": int64(2), "currentRevision": "a", "updateRevision": "a",
			"desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2), "updatedNumberScheduled": int64(2),
			"numberAvailable": int64(2), "numberReady": int64(2), "phase": "Running", "startTime": "t",
			"containerStatuses": []any{map[string]any{"name": "a", "state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff"}}}},
			"conditions": []any{
				map[string]any{"type": "Available", "status": "True"},
				map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
			}}}
	return o
}

// setPath sets path in o, making maps on the way; false when a value on the
// way is not a map.
func setPath(o map[string]any, path []string, v any) bool {
	m := o
	for _, p := range path[:len(path)-1] {
		next, ok := m[p]
		if !ok || next == nil {
			nm := map[string]any{}
			m[p] = nm
			m = nm
			continue
		}
		if m, ok = next.(map[string]any); !ok {
			return false
		}
	}
	m[path[len(path)-1]] = v
	return true
}

func deleteUnder(o map[string]any, path []string) {
	m := o
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, path[len(path)-1])
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

// TestKstatusPortFieldTypes: for every kind, every field kstatus reads
// removed or set to a value of every type, the port agrees with kstatus.
func TestKstatusPortFieldTypes(t *testing.T) {
	for _, k := range portKinds {
		base := healthyBase(k.apiVersion, k.kind)
		assertSamePort(t, k.kind+" base", base)
		for _, p := range portPaths {
			name := k.apiVersion + " " + k.kind + " ." + strings.Join(p, ".")
			o := deepCopy(base).(map[string]any)
			deleteUnder(o, p)
			assertSamePort(t, name+" deleted", o)
			for _, v := range oddValues {
				o := deepCopy(base).(map[string]any)
				if setPath(o, p, v) {
					assertSamePort(t, fmt.Sprintf("%s = %T(%v)", name, v, v), o)
				}
			}
		}
	}
}

// TestKstatusPortConditionShapes: conditions and container statuses of
// every shape, on every kind.
func TestKstatusPortConditionShapes(t *testing.T) {
	entries := []any{nil, "x", int64(1), []any{}, map[string]any{}, map[string]any(nil)}
	for _, f := range []string{"type", "status", "reason", "message"} {
		for _, v := range oddValues {
			entries = append(entries, map[string]any{"type": "Ready", "status": "False", f: v})
		}
	}
	containers := []any{nil, "x", map[string]any{}, map[string]any{"name": nil},
		map[string]any{"name": int64(1)}, map[string]any{"name": "a"}, map[string]any{"name": "a", "state": nil},
		map[string]any{"name": "a", "state": "x"}, map[string]any{"name": "a", "state": map[string]any{"waiting": nil}},
		map[string]any{"name": "a", "state": map[string]any{"waiting": []any{}}},
		map[string]any{"name": "a", "state": map[string]any{"waiting": map[string]any{"reason": nil}}},
		map[string]any{"name": "a", "state": map[string]any{"waiting": map[string]any{"reason": true}}},
		map[string]any{"name": "a", "state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff"}}},
		map[string]any{"name": "b", "state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff"}}},
		map[string]any{"name": "a", "restartCount": int(1)},
		map[string]any{"name": "a", "ports": []any{int32(1)}},
		map[string]any{"state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff"}}},
	}
	for _, k := range portKinds {
		for i, e := range entries {
			o := healthyBase(k.apiVersion, k.kind)
			o["status"].(map[string]any)["conditions"] = []any{map[string]any{"type": "Available", "status": "True"}, e}
			assertSamePort(t, fmt.Sprintf("%s condition %d %v", k.kind, i, e), o)
		}
		for i, c := range containers {
			for _, other := range []any{nil, containers[12]} {
				o := healthyBase(k.apiVersion, k.kind)
				o["status"].(map[string]any)["conditions"] = []any{}
				list := []any{c}
				if other != nil {
					list = append(list, other)
				}
				o["status"].(map[string]any)["containerStatuses"] = list
				assertSamePort(t, fmt.Sprintf("%s container %d %v", k.kind, i, c), o)
			}
		}
	}
}

// TestKstatusPortBranches walks each branch of each of kstatus's rules.
func TestKstatusPortBranches(t *testing.T) {
	cond := func(t, s, r, m string) any { return map[string]any{"type": t, "status": s, "reason": r, "message": m} }
	obj := func(apiVersion, kind string, spec, status map[string]any, meta ...any) map[string]any {
		md := map[string]any{"name": "x"}
		for i := 0; i+1 < len(meta); i += 2 {
			md[meta[i].(string)] = meta[i+1]
		}
		o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
		if spec != nil {
			o["spec"] = spec
		}
		if status != nil {
			o["status"] = status
		}
		return o
	}
	type m = map[string]any
	type l = []any
	now := time.Now()
	cases := map[string]map[string]any{
		"deleted":          obj("v1", "Pod", nil, nil, "deletionTimestamp", "2020-01-01T00:00:00Z"),
		"deleted empty":    obj("v1", "Pod", nil, nil, "deletionTimestamp", ""),
		"generation stale": obj("apps/v1", "Deployment", nil, m{"observedGeneration": int64(1)}, "generation", int64(2)),
		"generation float": obj("apps/v1", "Deployment", nil, m{"observedGeneration": float64(2)}, "generation", int64(2)),
		"generation int":   obj("apps/v1", "Deployment", nil, m{"observedGeneration": int64(2)}, "generation", int(2)),
		"reconciling":      obj("example.com/v1", "W", nil, m{"conditions": l{cond("Reconciling", "True", "R", "m")}}),
		"stalled":          obj("example.com/v1", "W", nil, m{"conditions": l{cond("Stalled", "True", "S", "m")}}),
		"stalled false":    obj("example.com/v1", "W", nil, m{"conditions": l{cond("Stalled", "False", "S", "m")}}),
		"ready true":       obj("example.com/v1", "W", nil, m{"conditions": l{cond("Ready", "True", "S", "m")}}),
		"ready false":      obj("example.com/v1", "W", nil, m{"conditions": l{cond("Ready", "False", "S", "m")}}),
		"ready unknown":    obj("example.com/v1", "W", nil, m{"conditions": l{cond("Ready", "Unknown", "S", "m")}}),
		"ready odd":        obj("example.com/v1", "W", nil, m{"conditions": l{cond("Ready", "Maybe", "S", "m"), cond("Ready", "False", "T", "n")}}),
		"custom bare":      obj("example.com/v1", "W", nil, nil),
		"three slashes":    obj("a/b/v1", "Pod", nil, m{"phase": "Unknown"}),
		"slash only":       obj("/", "Pod", nil, m{"phase": "Unknown"}),
		"core slash":       obj("/v1", "Pod", nil, m{"phase": "Unknown"}),
		"kind int":         obj("v1", "Pod", nil, nil, "generation", int64(1)),

		"svc default":      obj("v1", "Service", m{}, nil),
		"svc lb no ip":     obj("v1", "Service", m{"type": "LoadBalancer"}, nil),
		"svc lb ip":        obj("v1", "Service", m{"type": "LoadBalancer", "clusterIP": "1.2.3.4"}, nil),
		"svc lb ip int":    obj("v1", "Service", m{"type": "LoadBalancer", "clusterIP": int64(1)}, nil),
		"pvc bound":        obj("v1", "PersistentVolumeClaim", nil, m{"phase": "Bound"}),
		"pvc none":         obj("v1", "PersistentVolumeClaim", nil, nil),
		"pvc pending":      obj("v1", "PersistentVolumeClaim", nil, m{"phase": "Pending"}),
		"secret":           obj("v1", "Secret", nil, nil),
		"cronjob":          obj("batch/v1", "CronJob", nil, m{"conditions": l{cond("Ready", "False", "", "")}}),
		"pdb":              obj("policy/v1", "PodDisruptionBudget", nil, nil),
		"pod succeeded":    obj("v1", "Pod", nil, m{"phase": "Succeeded"}),
		"pod failed":       obj("v1", "Pod", nil, m{"phase": "Failed"}),
		"pod ready":        obj("v1", "Pod", nil, m{"phase": "Running", "conditions": l{cond("Ready", "True", "", "")}}),
		"pod not ready":    obj("v1", "Pod", nil, m{"phase": "Running", "conditions": l{cond("Ready", "False", "", "")}}),
		"pod crashloop":    obj("v1", "Pod", nil, m{"phase": "Running", "containerStatuses": l{m{"name": "a", "state": m{"waiting": m{"reason": "CrashLoopBackOff"}}}, m{"name": "b", "state": m{"waiting": m{"reason": "CrashLoopBackOff"}}}}}),
		"pod states":       obj("v1", "Pod", nil, m{"phase": "Running", "containerStatuses": l{m{"name": "a", "state": m{"running": m{}}}, m{"name": "b", "state": m{"waiting": m{}}}, m{"name": "c", "state": m{"waiting": m{"reason": "ImagePullBackOff"}}}, m{"name": "d", "state": m{"waiting": m{"reason": "CrashLoopBackOff"}}}}}),
		"pod cs null":      obj("v1", "Pod", nil, m{"phase": "Running", "containerStatuses": nil}),
		"pod cs map":       obj("v1", "Pod", nil, m{"phase": "Running", "containerStatuses": m{}}),
		"pod cs int":       obj("v1", "Pod", nil, m{"phase": "Running", "containerStatuses": l{m{"name": "a", "x": int(1)}}}),
		"pod pending":      obj("v1", "Pod", nil, m{"phase": "Pending"}),
		"pod sched other":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Other", "")}}),
		"pod unsched old":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Unschedulable", "")}}, "creationTimestamp", "2020-01-01T00:00:00Z"),
		"pod unsched new":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Unschedulable", "")}}, "creationTimestamp", now.UTC().Format(time.RFC3339)),
		"pod unsched bad":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Unschedulable", "")}}, "creationTimestamp", "yesterday"),
		"pod unsched null": obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Unschedulable", "")}}, "creationTimestamp", "null"),
		"pod unsched int":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "False", "Unschedulable", "")}}, "creationTimestamp", int64(5)),
		"pod sched twice":  obj("v1", "Pod", nil, m{"phase": "Pending", "conditions": l{cond("PodScheduled", "True", "Unschedulable", ""), cond("PodScheduled", "False", "Other", ""), cond("PodScheduled", "False", "Unschedulable", "")}}),
		"pod no phase":     obj("v1", "Pod", nil, m{}),
		"pod odd phase":    obj("v1", "Pod", nil, m{"phase": "Unknown"}),

		"sts ondelete":      obj("apps/v1", "StatefulSet", m{"updateStrategy": m{"type": "OnDelete"}}, nil),
		"sts few":           obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(2)}),
		"sts not ready":     obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(3), "readyReplicas": int32(2)}),
		"sts extra":         obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(4), "readyReplicas": int64(3)}),
		"sts partition":     obj("apps/v1", "StatefulSet", m{"replicas": int64(3), "updateStrategy": m{"rollingUpdate": m{"partition": int64(1)}}}, m{"replicas": int64(3), "readyReplicas": int64(3), "updatedReplicas": int64(1)}),
		"sts partition ok":  obj("apps/v1", "StatefulSet", m{"replicas": int64(3), "updateStrategy": m{"rollingUpdate": m{"partition": int64(1)}}}, m{"replicas": int64(3), "readyReplicas": int64(3), "updatedReplicas": int64(2)}),
		"sts current":       obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(3), "readyReplicas": int64(3), "currentReplicas": int64(1)}),
		"sts revision":      obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(3), "readyReplicas": int64(3), "currentReplicas": int64(3), "currentRevision": "a", "updateRevision": "b"}),
		"sts ok":            obj("apps/v1", "StatefulSet", m{"replicas": int64(3)}, m{"replicas": int64(3), "readyReplicas": int64(3), "currentReplicas": int64(3), "currentRevision": "a", "updateRevision": "a"}),
		"sts float":         obj("apps/v1", "StatefulSet", m{"replicas": float64(3)}, m{"replicas": int64(3), "readyReplicas": int64(3), "currentReplicas": int64(3)}),
		"ds no gen":         obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1)}),
		"ds no observed":    obj("apps/v1", "DaemonSet", nil, m{}, "generation", int64(1)),
		"ds gen float":      obj("apps/v1", "DaemonSet", nil, m{}, "generation", float64(1)),
		"ds gen null":       obj("apps/v1", "DaemonSet", nil, m{}, "generation", nil),
		"ds observed null":  obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": nil}, "generation", int64(1)),
		"ds no desired":     obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1)}, "generation", int64(1)),
		"ds current":        obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2)}, "generation", int64(1)),
		"ds updated":        obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2)}, "generation", int64(1)),
		"ds available":      obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2), "updatedNumberScheduled": int64(2)}, "generation", int64(1)),
		"ds ready":          obj("apps/v1", "DaemonSet", nil, m{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2), "updatedNumberScheduled": int64(2), "numberAvailable": int64(2)}, "generation", int64(1)),
		"ds ok":             obj("extensions/v1beta1", "DaemonSet", nil, m{"observedGeneration": int64(1), "desiredNumberScheduled": int64(2), "currentNumberScheduled": int64(2), "updatedNumberScheduled": int64(2), "numberAvailable": int64(2), "numberReady": int64(2)}, "generation", int64(1)),
		"deploy deadline":   obj("apps/v1", "Deployment", m{"progressDeadlineSeconds": int64(60)}, m{"conditions": l{cond("Progressing", "True", "ProgressDeadlineExceeded", "late")}}),
		"deploy few":        obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(1)}),
		"deploy updated":    obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(2), "updatedReplicas": int64(1)}),
		"deploy extra":      obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(3), "updatedReplicas": int64(2)}),
		"deploy available":  obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(1)}),
		"deploy ready":      obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "readyReplicas": int64(1)}),
		"deploy no rs":      obj("apps/v1", "Deployment", m{"replicas": int64(2), "progressDeadlineSeconds": int64(600)}, m{"replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "readyReplicas": int64(2)}),
		"deploy maxint":     obj("apps/v1", "Deployment", m{"replicas": int64(2), "progressDeadlineSeconds": int64(math.MaxInt32)}, m{"replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "readyReplicas": int64(2)}),
		"deploy ok":         obj("apps/v1", "Deployment", m{"replicas": int64(2)}, m{"replicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "readyReplicas": int64(2), "conditions": l{cond("Available", "True", "", "")}}),
		"deploy zero":       obj("extensions/v1beta1", "Deployment", m{"replicas": int64(0)}, m{"conditions": l{cond("Available", "True", "", ""), cond("Progressing", "True", "NewReplicaSetAvailable", "")}}),
		"rs failure":        obj("apps/v1", "ReplicaSet", nil, m{"conditions": l{cond("ReplicaFailure", "True", "", "")}}),
		"rs labelled":       obj("apps/v1", "ReplicaSet", nil, m{}),
		"rs available":      obj("apps/v1", "ReplicaSet", nil, m{"fullyLabeledReplicas": int64(1)}),
		"rs ready":          obj("apps/v1", "ReplicaSet", nil, m{"fullyLabeledReplicas": int64(1), "availableReplicas": int64(1)}),
		"rs extra":          obj("apps/v1", "ReplicaSet", nil, m{"fullyLabeledReplicas": int64(1), "availableReplicas": int64(1), "readyReplicas": int64(1), "replicas": int64(2)}),
		"rs ok":             obj("extensions/v1beta1", "ReplicaSet", nil, m{"fullyLabeledReplicas": int64(1), "availableReplicas": int64(1), "readyReplicas": int64(1), "replicas": int64(1)}),
		"job complete":      obj("batch/v1", "Job", m{"completions": int64(3)}, m{"succeeded": int64(3), "conditions": l{cond("Complete", "True", "", "")}}),
		"job failed":        obj("batch/v1", "Job", m{"parallelism": int64(2)}, m{"failed": int64(3), "conditions": l{cond("Complete", "False", "", ""), cond("Failed", "True", "", "")}}),
		"job not started":   obj("batch/v1", "Job", nil, m{}),
		"job running":       obj("batch/v1", "Job", nil, m{"startTime": "t", "active": int64(1), "succeeded": int(2), "failed": int32(1)}),
		"crd established":   obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", nil, m{"conditions": l{cond("Established", "True", "", "")}}),
		"crd names":         obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", nil, m{"conditions": l{cond("NamesAccepted", "False", "Conflict", "taken")}}),
		"crd installing":    obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", nil, m{"conditions": l{cond("Established", "False", "Installing", "")}}),
		"crd not installed": obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", nil, m{"conditions": l{cond("Established", "False", "Other", "no")}}),
		"crd none":          obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", nil, nil),
	}
	for name, o := range cases {
		assertSamePort(t, name, o)
	}
}

// fuzzReader hands out choices from the fuzzer's bytes, zeros once they
// run out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) next(n int) int {
	if len(r.b) == 0 {
		return 0
	}
	v := int(r.b[0]) % n
	r.b = r.b[1:]
	return v
}

var fuzzStrings = []string{"", "True", "False", "Unknown", "Ready", "Reconciling", "Stalled", "Progressing",
	"Available", "ReplicaFailure", "Complete", "Failed", "NamesAccepted", "Established", "Installing",
	"PodScheduled", "Unschedulable", "ProgressDeadlineExceeded", "NewReplicaSetAvailable", "Running", "Pending",
	"Succeeded", "Bound", "LoadBalancer", "ClusterIP", "OnDelete", "CrashLoopBackOff", "10.0.0.1", "a", "b",
	"2020-01-01T00:00:00Z", "null"}

func (r *fuzzReader) value(depth int) any {
	switch r.next(14) {
	case 0:
		return nil
	case 1, 2:
		return int64(r.next(6) - 1)
	case 3:
		return int(r.next(6) - 1)
	case 4:
		return int32(r.next(6) - 1)
	case 5:
		if r.next(2) == 0 {
			return float64(r.next(6) - 1)
		}
		return 1.5
	case 6, 7, 8:
		return fuzzStrings[r.next(len(fuzzStrings))]
	case 9:
		return r.next(2) == 0
	case 10:
		if r.next(4) == 0 {
			return int64(math.MaxInt32)
		}
		return json.Number("2")
	case 11:
		if depth > 2 {
			return map[string]any{}
		}
		m := map[string]any{}
		for range r.next(3) {
			m[fuzzStrings[r.next(len(fuzzStrings))]] = r.value(depth + 1)
		}
		return m
	case 12:
		if depth > 2 {
			return []any{}
		}
		l := []any{}
		for range r.next(3) {
			l = append(l, r.value(depth+1))
		}
		return l
	default:
		return "x"
	}
}

// condition makes a status.conditions entry, usually well-formed.
func (r *fuzzReader) condition() any {
	if r.next(8) == 0 {
		return r.value(1)
	}
	c := map[string]any{}
	for _, f := range []string{"type", "status", "reason", "message"} {
		switch r.next(8) {
		case 0:
		case 1:
			c[f] = r.value(2)
		default:
			c[f] = fuzzStrings[r.next(len(fuzzStrings))]
		}
	}
	return c
}

func (r *fuzzReader) container() any {
	if r.next(8) == 0 {
		return r.value(1)
	}
	c := map[string]any{}
	if r.next(4) != 0 {
		c["name"] = fuzzStrings[r.next(len(fuzzStrings))]
	} else if r.next(2) == 0 {
		c["name"] = r.value(2)
	}
	switch r.next(6) {
	case 0:
	case 1:
		c["state"] = r.value(2)
	default:
		w := map[string]any{}
		switch r.next(4) {
		case 0:
			w["reason"] = r.value(2)
		case 1:
		default:
			w["reason"] = "CrashLoopBackOff"
		}
		if r.next(4) == 0 {
			c["state"] = map[string]any{"waiting": r.value(2)}
		} else {
			c["state"] = map[string]any{"waiting": w}
		}
	}
	if r.next(6) == 0 {
		c["extra"] = r.value(1)
	}
	return c
}

// fuzzObject builds an object of one of portKinds whose fields kstatus
// reads hold values of any type, with conditions and container statuses
// of any shape. A creationTimestamp is an hour from now either way, or
// absent, or not a time: never near kstatus's 15 second window.
func fuzzObject(data []byte) map[string]any {
	r := &fuzzReader{b: data}
	k := portKinds[r.next(len(portKinds))]
	o := map[string]any{"apiVersion": k.apiVersion, "kind": k.kind, "metadata": map[string]any{"name": "x"}}
	for _, p := range portPaths {
		switch r.next(4) {
		case 0, 1:
			continue
		case 2:
			// A plausible value: small integers, relevant strings.
			if r.next(2) == 0 {
				setPath(o, p, int64(r.next(4)))
			} else {
				setPath(o, p, fuzzStrings[r.next(len(fuzzStrings))])
			}
		default:
			setPath(o, p, r.value(0))
		}
	}
	if r.next(2) == 0 {
		conds := []any{}
		for range r.next(5) {
			conds = append(conds, r.condition())
		}
		setPath(o, []string{"status", "conditions"}, conds)
	}
	if r.next(3) == 0 {
		cs := []any{}
		for range r.next(4) {
			cs = append(cs, r.container())
		}
		setPath(o, []string{"status", "containerStatuses"}, cs)
	}
	switch r.next(4) {
	case 1:
		setPath(o, []string{"metadata", "creationTimestamp"}, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	case 2:
		setPath(o, []string{"metadata", "creationTimestamp"}, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	case 3:
		setPath(o, []string{"metadata", "creationTimestamp"}, r.value(1))
	}
	return o
}

// FuzzKstatusPort: on any object, the port and kstatus agree.
func FuzzKstatusPort(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	for i := range portKinds {
		f.Add([]byte{byte(i), 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 2})
		f.Add([]byte{byte(i), 3, 11, 3, 12, 3, 0, 3, 5, 3, 6, 3, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 1, 1})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := fuzzObject(data)
		if d := samePort(o); d != "" {
			js, _ := json.Marshal(o)
			t.Fatalf("%s\nobject: %s", d, js)
		}
	})
}

// TestKstatusReason: the reason is the condition's, else "kstatus" and the
// status, as before the port.
func TestKstatusReason(t *testing.T) {
	for _, s := range append([]kstatus.Status{kstatus.NotFoundStatus, "Odd"}, kstatus.Statuses...) {
		if got := (ksResult{Status: s}).reason(); got != "kstatus"+string(s) {
			t.Errorf("%s: reason %q", s, got)
		}
		if got := (ksResult{Status: s, Cond: condition{Type: "Stalled", Reason: "R"}}).reason(); got != "R" {
			t.Errorf("%s with a condition: reason %q", s, got)
		}
	}
}
