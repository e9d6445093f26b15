package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
)

// canaryFiles are a repository's path app: two Services and a Rollout whose canary splits
// traffic by the ratio of replicas (no trafficRouting: no CRDs needed),
// at image tag.
func canaryFiles(tag string) map[string]string {
	return map[string]string{
		"app/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: canary\n",
		"app/services.yaml": `apiVersion: v1
kind: Service
metadata:
  name: backend-stable
  namespace: canary
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: backend-canary
  namespace: canary
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
`,
		"app/rollout.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: backend
  namespace: canary
spec:
  replicas: 2
  selector:
    matchLabels: {app: backend}
  template:
    metadata:
      labels: {app: backend}
    spec:
      containers:
      - name: backend
        image: ghcr.io/myorg/backend:` + tag + `
  strategy:
    canary:
      canaryService: backend-canary
      stableService: backend-stable
      steps:
      - setWeight: 50
      - pause: {}
`,
	}
}

// TestRolloutCanaryThroughTheCLI runs a canary with converge apply on
// the living plane and drives it with converge rollout: the first
// revision is Healthy at once, a new image stops at the pause, promote
// lets the next passes finish it.
func TestRolloutCanaryThroughTheCLI(t *testing.T) {
	ctx := context.Background()
	repo := gittest.NewServer(t).NewRepo(t, "rollouts")
	repo.Commit(t, "backend v1", canaryFiles("v1.0.0"))
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "canary"}}) })
	cluster := []string{"--kubeconfig", env.Kubeconfig}
	apply := func(t *testing.T) {
		t.Helper()
		r := converge(t, append([]string{"apply", "--repo", repo.URL, "--path", "app"}, cluster...)...)
		require.Equal(t, ExitOK, r.code, r.stderr)
	}
	cmd := func(t *testing.T, args ...string) result {
		t.Helper()
		return converge(t, append(append([]string{"rollout"}, args...), cluster...)...)
	}
	state := func(t *testing.T) rollout.State {
		t.Helper()
		r := cmd(t, "status", "backend", "-n", "canary", "-o", "json")
		require.Equal(t, ExitOK, r.code, r.stderr)
		var st rollout.State
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
		return st
	}
	// until applies until done says the state got there.
	until := func(t *testing.T, what string, done func(rollout.State) bool) rollout.State {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			apply(t)
			st := state(t)
			if done(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rollout did not get %s within 60s: %+v", what, st)
			}
			time.Sleep(time.Second)
		}
	}
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

	var v1 string
	ok := t.Run("the first revision is stable at once and Healthy", func(t *testing.T) {
		apply(t)
		st := state(t)
		v1 = st.Stable.Hash
		require.NotEmpty(t, v1)
		assert.Equal(t, v1, st.Revision)
		r := cmd(t, "status", "backend", "-n", "canary")
		require.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, lines(
			"Name:            backend",
			"Namespace:       canary",
			"Status:          ✔ Healthy",
			"Strategy:        Canary",
			"  Step:          2/2",
			"  SetWeight:     100",
			"  ActualWeight:  100",
			"Images:          ghcr.io/myorg/backend:v1.0.0 (stable)",
			"Replicas:",
			"  Stable:        desired 2, available 2 (backend-"+v1+")",
			"",
			"Steps:",
			"  ✔ 0  setWeight: 50",
			"  ✔ 1  pause: until promoted",
		), r.stdout)
		assert.Empty(t, r.stderr)
	})
	require.True(t, ok)

	ok = t.Run("abort on a rollout that is not progressing says so and gives no command", func(t *testing.T) {
		r := cmd(t, "abort", "backend", "-n", "canary")
		require.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, "rollout canary/backend is not progressing: nothing to abort\n", r.stdout)
		var cm corev1.ConfigMap
		require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "canary", Name: "converge-rollout-backend"}, &cm))
		assert.NotContains(t, cm.Annotations, rollout.CommandAnnotation(rollout.CommandAbort))
	})
	require.True(t, ok)

	var v2 string
	ok = t.Run("a new image runs the canary to its pause", func(t *testing.T) {
		repo.Commit(t, "backend v2", canaryFiles("v2.0.0"))
		st := until(t, "to the pause", func(st rollout.State) bool { return st.Revision != v1 && st.Step == 1 })
		v2 = st.Revision
		assert.Equal(t, v1, st.Stable.Hash)
		assert.Equal(t, int32(50), st.Weight)
		r := cmd(t, "status", "backend", "-n", "canary")
		require.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, lines(
			"Name:            backend",
			"Namespace:       canary",
			"Status:          ॥ Paused",
			"Message:         CanaryPauseStep: waiting for promote",
			"Strategy:        Canary",
			"  Step:          1/2",
			"  SetWeight:     50",
			"  ActualWeight:  50",
			"Images:          ghcr.io/myorg/backend:v1.0.0 (stable)",
			"                 ghcr.io/myorg/backend:v2.0.0 (canary)",
			"Replicas:",
			"  Stable:        desired 1, available 1 (backend-"+v1+")",
			"  Canary:        desired 1, available 1 (backend-"+v2+")",
			"",
			"Steps:",
			"  ✔ 0  setWeight: 50",
			"  ॥ 1  pause: until promoted",
		), r.stdout)
	})
	require.True(t, ok)

	ok = t.Run("promote sets its annotation, which the engine's apply keeps", func(t *testing.T) {
		r := cmd(t, "promote", "backend", "-n", "canary")
		require.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, "rollout canary/backend: promote requested; the next pass of converge apply or sync carries it out\n", r.stdout)
		var cm corev1.ConfigMap
		require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "canary", Name: "converge-rollout-backend"}, &cm))
		token := cm.Annotations[rollout.CommandAnnotation(rollout.CommandPromote)]
		_, err := time.Parse(time.RFC3339Nano, token)
		require.NoError(t, err, "the token is a UTC timestamp: %q", token)
		managers := map[string]bool{}
		for _, m := range cm.ManagedFields {
			managers[m.Manager] = true
		}
		assert.True(t, managers["converge-rollout-cli"], "%v", managers)

		st := until(t, "promoted", func(st rollout.State) bool { return st.Stable.Hash == v2 && st.Revision == v2 })
		assert.Equal(t, token, st.Handled[rollout.CommandPromote], "the engine carried out that token")
		require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: "canary", Name: "converge-rollout-backend"}, &cm))
		assert.Equal(t, token, cm.Annotations[rollout.CommandAnnotation(rollout.CommandPromote)], "the engine's apply of its ConfigMap left the annotation")
	})
	require.True(t, ok)

	t.Run("the promoted revision is stable and Healthy, the old one gone", func(t *testing.T) {
		// The pass that promoted waited for the new stable revision; one
		// more pass prunes nothing and keeps it Healthy.
		deadline := time.Now().Add(60 * time.Second)
		var r result
		for {
			r = cmd(t, "status", "backend", "-n", "canary")
			require.Equal(t, ExitOK, r.code, r.stderr)
			if strings.Contains(r.stdout, "✔ Healthy") || time.Now().After(deadline) {
				break
			}
			apply(t)
		}
		assert.Equal(t, lines(
			"Name:            backend",
			"Namespace:       canary",
			"Status:          ✔ Healthy",
			"Strategy:        Canary",
			"  Step:          2/2",
			"  SetWeight:     100",
			"  ActualWeight:  100",
			"Images:          ghcr.io/myorg/backend:v2.0.0 (stable)",
			"Replicas:",
			"  Stable:        desired 2, available 2 (backend-"+v2+")",
			"",
			"Steps:",
			"  ✔ 0  setWeight: 50",
			"  ✔ 1  pause: until promoted",
		), r.stdout)
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: "canary", Name: "backend-" + v1}, &appsv1.Deployment{})
		assert.True(t, apierrors.IsNotFound(err), "the old stable Deployment is pruned: %v", err)

		r = cmd(t, "promote", "backend", "-n", "canary", "--full")
		require.Equal(t, ExitOK, r.code, r.stderr)
		assert.Equal(t, "rollout canary/backend is not progressing: nothing to promote\n", r.stdout)
	})
}

// TestRolloutCommandErrors: a missing name or subcommand is bad usage
// (exit 2), an unknown rollout a failure (exit 1), each one line.
func TestRolloutCommandErrors(t *testing.T) {
	cluster := []string{"--kubeconfig", env.Kubeconfig}
	for name, c := range map[string]struct {
		args []string
		code int
		line string
	}{
		"missing name": {[]string{"rollout", "status"}, ExitUsage,
			"converge rollout status: missing NAME: converge rollout status NAME (see converge rollout status --help)"},
		"missing name of a command": {[]string{"rollout", "promote", "--full"}, ExitUsage,
			"converge rollout promote: missing NAME: converge rollout promote NAME (see converge rollout promote --help)"},
		"two names": {[]string{"rollout", "abort", "a", "b"}, ExitUsage,
			"converge rollout abort: one rollout at a time: 2 names given (see converge rollout abort --help)"},
		"unknown rollout": {[]string{"rollout", "status", "backend", "-n", "nowhere"}, ExitFailed,
			"converge rollout status: rollout nowhere/backend not found: no converge-rollout-backend ConfigMap; has a pass run it?"},
		"unknown rollout, promote": {[]string{"rollout", "promote", "ghost"}, ExitFailed,
			"converge rollout promote: rollout default/ghost not found: no converge-rollout-ghost ConfigMap; has a pass run it?"},
		"unknown subcommand": {[]string{"rollout", "undo", "backend"}, ExitUsage,
			`converge rollout: unknown subcommand "undo": status, promote, abort, retry, pause or resume (see converge rollout --help)`},
		"no subcommand": {[]string{"rollout"}, ExitUsage,
			"converge rollout: missing subcommand: status, promote, abort, retry, pause or resume (see converge rollout --help)"},
		"bad output": {[]string{"rollout", "status", "backend", "-o", "yaml"}, ExitUsage,
			`converge rollout status: --output "yaml": the only format is json (see converge rollout status --help)`},
		"bad analysis arg": {[]string{"plan", "--repo", ".", "--path", "app", "--analysis-arg", "novalue"}, ExitUsage,
			`converge plan: --analysis-arg "novalue": want name=value (see converge plan --help)`},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, append(c.args, cluster...)...)
			assert.Equal(t, c.code, r.code)
			requireOneLine(t, r, "converge ")
			assert.Equal(t, c.line+"\n", r.stderr)
		})
	}
}

// The status lines of what the canary test does not reach: each kind of
// step, the weights and marks of an aborted rollout, and an analysis
// read back from a run's serialized state.
func TestRolloutStatusText(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	for name, c := range map[string]struct {
		step rollout.CanaryStep
		want string
	}{
		"weight":          {rollout.CanaryStep{SetWeight: i32(25)}, "setWeight: 25"},
		"pause as text":   {rollout.CanaryStep{Pause: &rollout.Pause{Duration: ptrTo(intstr.FromString("2m"))}}, "pause: 2m"},
		"pause seconds":   {rollout.CanaryStep{Pause: &rollout.Pause{Duration: ptrTo(intstr.FromInt32(90))}}, "pause: 1m30s"},
		"pause as digits": {rollout.CanaryStep{Pause: &rollout.Pause{Duration: ptrTo(intstr.FromString("3600"))}}, "pause: 1h"},
		"pause forever":   {rollout.CanaryStep{Pause: &rollout.Pause{}}, "pause: until promoted"},
		"analysis": {rollout.CanaryStep{Analysis: &rollout.StepAnalysis{Templates: []rollout.TemplateRef{
			{TemplateName: "success-rate"}, {TemplateName: "latency", ClusterScope: true}}}}, "analysis: success-rate, latency"},
		"canary scale":  {rollout.CanaryStep{SetCanaryScale: &rollout.SetCanaryScale{Replicas: i32(3)}}, "setCanaryScale: replicas 3"},
		"canary weight": {rollout.CanaryStep{SetCanaryScale: &rollout.SetCanaryScale{Weight: i32(10)}}, "setCanaryScale: weight 10"},
		"match weight":  {rollout.CanaryStep{SetCanaryScale: &rollout.SetCanaryScale{MatchTrafficWeight: true}}, "setCanaryScale: matchTrafficWeight"},
		"header route":  {rollout.CanaryStep{SetHeaderRoute: &rollout.SetHeaderRoute{Name: "beta-testers"}}, "setHeaderRoute: beta-testers"},
	} {
		assert.Equal(t, c.want, stepText(c.step), name)
	}

	canary := &rollout.Canary{Steps: []rollout.CanaryStep{{SetWeight: i32(20)}, {Pause: &rollout.Pause{}}, {SetWeight: i32(60)}, {Pause: &rollout.Pause{Duration: ptrTo(intstr.FromInt32(600))}}}}
	stable := liveRevision{role: "stable", found: true, desired: 4, available: 4}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		st          rollout.State
		phase       rollout.Phase
		message     string
		set, actual int32
		marks       string
	}{
		"aborted at the second weight": {
			st:    rollout.State{Revision: "b", Stable: rollout.Revision{Hash: "a"}, Step: 2, Aborted: true, Message: "step 2 analysis Failed: too many errors"},
			phase: rollout.PhaseDegraded, message: "RolloutAborted: step 2 analysis Failed: too many errors", set: 0, actual: 0, marks: "✔✔✖○",
		},
		"setting the second weight": {
			st:    rollout.State{Revision: "b", Stable: rollout.Revision{Hash: "a"}, Step: 2, Weight: 20},
			phase: rollout.PhaseProgressing, set: 60, actual: 20, marks: "✔✔▶○",
		},
		"paused by request": {
			st:    rollout.State{Revision: "b", Stable: rollout.Revision{Hash: "a"}, Step: 2, Weight: 20, Paused: true, PauseReason: "paused by request"},
			phase: rollout.PhasePaused, message: "paused by request", set: 60, actual: 20, marks: "✔✔॥○",
		},
		"in a timed pause": {
			st:    rollout.State{Revision: "b", Stable: rollout.Revision{Hash: "a"}, Step: 3, Weight: 60, StepSince: now.Add(-5*time.Minute - 30*time.Second)},
			phase: rollout.PhasePaused, message: "CanaryPauseStep: 4m30s left", set: 60, actual: 60, marks: "✔✔✔॥",
		},
		"promoting after the last step": {
			st:    rollout.State{Revision: "b", Stable: rollout.Revision{Hash: "a"}, Step: 4, Weight: 60},
			phase: rollout.PhaseProgressing, set: 100, actual: 60, marks: "✔✔✔✔",
		},
	} {
		phase, message := rolloutPhase(&c.st, canary, nil, []liveRevision{stable}, now)
		assert.Equal(t, c.phase, phase, name)
		assert.Equal(t, c.message, message, name)
		set, actual := weights(&c.st, canary)
		assert.Equal(t, [2]int32{c.set, c.actual}, [2]int32{set, actual}, name)
		var marks string
		for i := range canary.Steps {
			marks += stepMark(&c.st, phase, i)
		}
		assert.Equal(t, c.marks, marks, name)
	}

	templates, err := analysis.LoadTemplates([]byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  metrics:
  - name: success-rate
    interval: 30s
    count: 3
    successCondition: result >= 0.95
    failureLimit: 1
    provider:
      web: {url: "http://metrics.shop/rate"}
  - name: latency
    count: 1
    successCondition: result < 0.5
    provider:
      web: {url: "http://metrics.shop/latency"}
`))
	require.NoError(t, err)
	values := map[string]any{"success-rate": 0.5, "latency": 0.1}
	web := analysis.ProviderFunc(func(_ context.Context, q analysis.Query) (analysis.Result, error) {
		return analysis.Result{Value: values[q.Metric], Text: fmt.Sprint(values[q.Metric])}, nil
	})
	run, err := analysis.NewRun(templates, nil, map[string]analysis.Provider{"web": web})
	require.NoError(t, err)
	_, err = run.Step(context.Background(), now)
	require.NoError(t, err)
	data, err := run.MarshalJSON()
	require.NoError(t, err)
	var buf strings.Builder
	printAnalysis(newOutput(&buf, &buf), &rollout.AnalysisState{For: "step 2", Run: data, Phase: string(run.Phase())})
	assert.Equal(t, strings.Join([]string{
		"Analysis:        step 2, ◌ Running",
		"  success-rate:  ◌ Running (✖ 1)",
		"  latency:       ✔ Successful (✔ 1)",
	}, "\n")+"\n", buf.String())
}

func ptrTo[T any](v T) *T { return &v }
