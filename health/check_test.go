package health_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
)

// loadFixtures reads every document of the files matching glob; each
// carries the status it must get in the annotation "expect".
func loadFixtures(t *testing.T, glob string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(glob)
	require.NoError(t, err)
	require.NotEmpty(t, files, "no fixtures match %s", glob)
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
		require.NoError(t, err, f)
		out = append(out, objs...)
	}
	return out
}

func newEngine(t *testing.T, opts ...health.Option) *health.Engine {
	t.Helper()
	e, err := health.New(opts...)
	require.NoError(t, err)
	return e
}

// TestFixtures checks every fixture document, built-in kinds and the
// built-in CEL rules alike, against the status it declares.
func TestFixtures(t *testing.T) {
	e := newEngine(t)
	seen := map[health.Status]int{}
	for _, glob := range []string{"testdata/kinds/*.yaml", "testdata/builtin/*.yaml"} {
		for _, obj := range loadFixtures(t, glob) {
			want := health.Status(obj.GetAnnotations()["expect"])
			require.True(t, want.Valid(), "%s: bad expect annotation %q", object.IDOf(obj), want)
			seen[want]++
			t.Run(object.IDOf(obj).String(), func(t *testing.T) {
				got := e.Check(obj)
				assert.Equal(t, want, got.Status, "result: %s", got)
				assert.NotEmpty(t, got.Reason, "every result has a reason")
				assert.NotEmpty(t, got.Message, "every result has a message")
			})
		}
	}
	for _, s := range []health.Status{health.Healthy, health.Progressing, health.Degraded, health.Suspended, health.Unknown} {
		assert.Positive(t, seen[s], "fixtures cover %s", s)
	}
}

// TestBuiltinRuleKindsCovered makes sure each family the issue names has a
// fixture in every one of its main states.
func TestBuiltinRuleKindsCovered(t *testing.T) {
	have := map[string]map[health.Status]bool{}
	for _, obj := range loadFixtures(t, "testdata/builtin/*.yaml") {
		k := obj.GetKind()
		if have[k] == nil {
			have[k] = map[health.Status]bool{}
		}
		have[k][health.Status(obj.GetAnnotations()["expect"])] = true
	}
	for kind, states := range map[string][]health.Status{
		"Kustomization":  {health.Healthy, health.Degraded, health.Progressing, health.Suspended},
		"HelmRelease":    {health.Healthy, health.Degraded},
		"GitRepository":  {health.Healthy, health.Degraded},
		"Rollout":        {health.Healthy, health.Degraded, health.Progressing, health.Suspended},
		"Certificate":    {health.Healthy, health.Degraded, health.Progressing},
		"Issuer":         {health.Degraded, health.Progressing},
		"ClusterIssuer":  {health.Healthy},
		"SealedSecret":   {health.Healthy, health.Degraded},
		"ExternalSecret": {health.Healthy, health.Degraded},
		"Bucket":         {health.Healthy, health.Progressing},
		"Instance":       {health.Degraded},
		"Cluster":        {health.Healthy, health.Progressing, health.Degraded},
	} {
		for _, s := range states {
			assert.True(t, have[kind][s], "a %s fixture that is %s", kind, s)
		}
	}
}

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

// TestBadInput: malformed objects are Unknown with a reason, never Healthy
// and never a panic.
func TestBadInput(t *testing.T) {
	e := newEngine(t)
	widget := func(status any, gen any) *unstructured.Unstructured {
		md := map[string]any{"name": "w", "namespace": "ns"}
		if gen != nil {
			md["generation"] = gen
		}
		o := map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": md}
		if status != nil {
			o["status"] = status
		}
		return obj(o)
	}
	cases := map[string]struct {
		reason string
		obj    *unstructured.Unstructured
		want   health.Status
		why    string
	}{
		"conditions not a list": {
			reason: "a controller wrote a map where a list belongs",
			obj:    widget(map[string]any{"conditions": map[string]any{"type": "Ready"}}, int64(1)),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"condition not an object": {
			reason: "a list of strings instead of condition objects",
			obj:    widget(map[string]any{"conditions": []any{"Ready"}}, int64(1)),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"condition status a bool": {
			reason: "status: true instead of \"True\" must not count as True",
			obj:    widget(map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": true}}}, int64(1)),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"status a string": {
			reason: "status must be an object",
			obj:    widget("ok", int64(1)),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"observedGeneration a string": {
			reason: "a number of the wrong type",
			obj:    widget(map[string]any{"observedGeneration": "2"}, int64(2)),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"generation a string": {
			reason: "metadata.generation of the wrong type",
			obj:    widget(map[string]any{"observedGeneration": int64(2)}, "2"),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"missing generation, Ready condition": {
			reason: "no generation to compare with: the Ready condition decides",
			obj:    widget(map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}, nil),
			want:   health.Healthy, why: "kstatusCurrent",
		},
		"missing generation, observedGeneration only": {
			reason: "observedGeneration without generation says nothing about health",
			obj:    widget(map[string]any{"observedGeneration": int64(1), "conditions": []any{map[string]any{"type": "Synced", "status": "True"}}}, nil),
			want:   health.Healthy, why: "kstatusCurrent",
		},
		"deployment paused a string": {
			reason: "spec.paused of the wrong type",
			obj: obj(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d"},
				"spec": map[string]any{"paused": "yes"}}),
			want: health.Unknown, why: "InvalidStatus",
		},
		"deployment replicas a string": {
			reason: "kstatus's own readers reject it",
			obj: obj(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d", "generation": int64(1)},
				"spec": map[string]any{"replicas": "three"}, "status": map[string]any{"observedGeneration": int64(1), "replicas": "three"}}),
			want: health.Unknown, why: "InvalidStatus",
		},
		"pod containerStatuses not a list": {
			reason: "malformed pod status",
			obj: obj(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
				"status": map[string]any{"phase": "Running", "containerStatuses": "x"}}),
			want: health.Unknown, why: "InvalidStatus",
		},
		"pod unknown phase": {
			reason: "kstatus returns an error for phases it does not know",
			obj: obj(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
				"status": map[string]any{"phase": "Exploded"}}),
			want: health.Unknown, why: "InvalidStatus",
		},
		"deletionTimestamp a number": {
			reason: "metadata of the wrong type",
			obj:    obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "deletionTimestamp": int64(5)}}),
			want:   health.Unknown, why: "InvalidStatus",
		},
		"flux conditions not a list": {
			reason: "a CEL rule hitting a wrong type fails closed",
			obj: obj(map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
				"metadata": map[string]any{"name": "k", "generation": int64(1)},
				"status":   map[string]any{"observedGeneration": int64(1), "conditions": "Ready"}}),
			want: health.Unknown, why: "InvalidStatus",
		},
		"flux observedGeneration a string": {
			reason: "a string never equals the generation: Ready is not trusted",
			obj: obj(map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
				"metadata": map[string]any{"name": "k", "generation": int64(1)},
				"status":   map[string]any{"observedGeneration": "1", "conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}}),
			want: health.Progressing, why: "RuleInProgress",
		},
		"rollout phase a number": {
			reason: "a phase of the wrong type matches no expression: never Healthy",
			obj: obj(map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
				"metadata": map[string]any{"name": "r", "generation": int64(1)},
				"status":   map[string]any{"observedGeneration": "1", "phase": int64(3)}}),
			want: health.Progressing, why: "RuleNoMatch",
		},
		"nil object": {
			reason: "an object that does not exist",
			obj:    nil,
			want:   health.Missing, why: "NotFound",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Engine.Check recovers panics, so "never a panic" is asserted
			// on converge's rules below it, and on the engine's reason.
			require.NotPanics(t, func() { _ = health.Builtin(tc.obj) }, tc.reason)
			got := e.Check(tc.obj)
			assert.NotEqual(t, "CheckPanicked", got.Reason, tc.reason)
			assert.Equal(t, tc.want, got.Status, "%s: %s", tc.reason, got)
			assert.Equal(t, tc.why, got.Reason, tc.reason)
		})
	}
}

func TestCheckerPanicIsUnknown(t *testing.T) {
	boom := health.ForKinds(health.CheckerFunc(func(*unstructured.Unstructured) health.Result { panic("boom") }),
		object.ID{Group: "example.com", Kind: "Widget"}.GroupKind())
	e := newEngine(t, health.WithCheckers(boom))
	got := e.Check(obj(map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}}))
	assert.Equal(t, health.Unknown, got.Status)
	assert.Equal(t, "CheckPanicked", got.Reason)
}

func TestHostCheckerWins(t *testing.T) {
	always := health.ForKinds(health.CheckerFunc(func(*unstructured.Unstructured) health.Result {
		return health.Result{Status: health.Degraded, Reason: "HostSaysNo", Message: "host rule"}
	}), object.ID{Group: "apps", Kind: "Deployment"}.GroupKind())
	e := newEngine(t, health.WithCheckers(always))
	dep := obj(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d"}})
	assert.Equal(t, "HostSaysNo", e.Check(dep).Reason)
	cm := obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}})
	assert.Equal(t, health.Healthy, e.Check(cm).Status, "other kinds keep the built-in rules")
}
