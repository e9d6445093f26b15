package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Phase is a rollout's, as Argo Rollouts reports it.
type Phase string

// The phases.
const (
	PhaseProgressing Phase = "Progressing"
	PhasePaused      Phase = "Paused"
	PhaseHealthy     Phase = "Healthy"
	PhaseDegraded    Phase = "Degraded"
)

// State is where a rollout stands. The engine keeps it in a ConfigMap
// beside the workloads (StateName), written with them, so that a
// restarted host resumes at the same step: it never sets a weight or
// runs an analysis again that it finished.
type State struct {
	// Seq counts the engine's changes to the state; of two copies the
	// higher is the newer.
	Seq int64 `json:"seq"`
	// Revision is the newest revision's hash; Stable the revision that
	// takes the traffic the canary does not (the active one, blue-green).
	Revision string   `json:"revision"`
	Stable   Revision `json:"stable"`
	// RevisionSince is when Revision was first seen.
	RevisionSince time.Time `json:"revisionSince"`
	// Step is the index of the current canary step, len(steps) once
	// they are all done; StepSince when it started.
	Step      int       `json:"step"`
	StepSince time.Time `json:"stepSince"`
	// Weight is the canary's traffic weight the routes were given.
	Weight int32 `json:"weight"`
	// WeightVerified is true once the live routes carried Weight.
	WeightVerified bool `json:"weightVerified,omitempty"`
	// CanaryScale is the last setCanaryScale step's, if any.
	CanaryScale *SetCanaryScale `json:"canaryScale,omitempty"`
	// HeaderRoutes are the header routes set.
	HeaderRoutes []HeaderRoute `json:"headerRoutes,omitempty"`
	// Paused stops the rollout's progress (a pause step without a
	// duration, an Inconclusive analysis, a request); PauseReason says
	// which.
	Paused      bool   `json:"paused,omitempty"`
	PauseReason string `json:"pauseReason,omitempty"`
	// Aborted sends all traffic back to stable until the revision
	// changes or the rollout is retried.
	Aborted   bool      `json:"aborted,omitempty"`
	AbortedAt time.Time `json:"abortedAt,omitzero"`
	Message   string    `json:"message,omitempty"`
	// Analysis is the analysis of the current step (or blue-green's pre-
	// or post-promotion analysis); Background the canary's background
	// analysis.
	Analysis   *AnalysisState `json:"analysis,omitempty"`
	Background *AnalysisState `json:"background,omitempty"`
	// AvailableSince is when the new revision was first fully available
	// (blue-green's autoPromotionSeconds count from it).
	AvailableSince time.Time `json:"availableSince,omitzero"`
	// Previous is the blue-green revision the active Service left, kept
	// until the post-promotion analysis passes.
	Previous *Revision `json:"previous,omitempty"`
	// Promote is a blue-green promotion asked for; PromoteFull skips
	// the pre-promotion analysis and the wait for auto-promotion too.
	Promote     bool `json:"promote,omitempty"`
	PromoteFull bool `json:"promoteFull,omitempty"`
	// ScaleDown lists old revisions kept up until their time.
	ScaleDown []ScaleDown `json:"scaleDown,omitempty"`
	// Handled holds the last command token handled, per command.
	Handled map[string]string `json:"handled,omitempty"`
}

// AnalysisState is a running or finished analysis.
type AnalysisState struct {
	// For names what the analysis is for: "step 2", "background",
	// "prePromotion" or "postPromotion".
	For string `json:"for"`
	// Run is the analysis.Run, serialized.
	Run json.RawMessage `json:"run"`
	// Next is when the run is due to be stepped again.
	Next time.Time `json:"next,omitzero"`
	// Phase is the run's.
	Phase string `json:"phase"`
}

// ScaleDown is an old revision that keeps running until At.
type ScaleDown struct {
	Revision Revision  `json:"revision"`
	Replicas int32     `json:"replicas"`
	At       time.Time `json:"at"`
}

// The commands a user gives a rollout (`converge rollout promote` …):
// each is an annotation on the state ConfigMap whose value is a token;
// the engine carries a command out once per token.
const (
	CommandPromote     = "promote"
	CommandPromoteFull = "promote-full"
	CommandAbort       = "abort"
	CommandRetry       = "retry"
	CommandPause       = "pause"
	CommandResume      = "resume"
)

// Commands lists the commands in the order the engine handles them.
var Commands = []string{CommandAbort, CommandRetry, CommandPause, CommandResume, CommandPromoteFull, CommandPromote}

// CommandAnnotation is the annotation of command c.
func CommandAnnotation(c string) string { return "rollout.converge.dev/" + c }

// The state ConfigMap's data keys.
const (
	stateKey   = "state.json"
	rolloutKey = "rollout.json"
)

var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

// StateName is the name of the ConfigMap that holds rollout name's
// state.
func StateName(name string) string {
	const prefix, max = "converge-rollout-", 253
	if len(prefix)+len(name) > max {
		name = name[:max-len(prefix)]
	}
	return prefix + strings.TrimSuffix(name, ".")
}

// stateObject returns the ConfigMap that holds st.
func stateObject(r *Rollout, st *State) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	spec, err := json.Marshal(r.Spec.Strategy)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":        StateName(r.Name),
			"namespace":   r.Namespace,
			"annotations": map[string]any{AnnotationRollout: r.String()},
		},
		"data": map[string]any{stateKey: string(data), rolloutKey: string(spec)},
	}}, nil
}

// LiveState is what the cluster holds of a rollout: its state and the
// commands given to it.
type LiveState struct {
	// State is nil when the rollout has none yet.
	State *State
	// Strategy is the rollout's strategy, as last written.
	Strategy *Strategy
	// Commands maps each command given to its token.
	Commands map[string]string
}

// ReadState reads the state of rollout namespace/name.
func ReadState(ctx context.Context, live Reader, namespace, name string) (*LiveState, error) {
	obj, found, err := live.Lookup(ctx, configMapGVK, namespace, StateName(name))
	if err != nil {
		return nil, fmt.Errorf("rollout %s/%s: reading its state: %w", namespace, name, err)
	}
	out := &LiveState{Commands: map[string]string{}}
	if !found {
		return out, nil
	}
	for _, c := range Commands {
		if v, ok := obj.GetAnnotations()[CommandAnnotation(c)]; ok {
			out.Commands[c] = v
		}
	}
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	if s := data[stateKey]; s != "" {
		out.State = &State{}
		if err := json.Unmarshal([]byte(s), out.State); err != nil {
			return nil, fmt.Errorf("rollout %s/%s: ConfigMap %s: %s: %w", namespace, name, StateName(name), stateKey, err)
		}
	}
	if s := data[rolloutKey]; s != "" {
		out.Strategy = &Strategy{}
		if err := json.Unmarshal([]byte(s), out.Strategy); err != nil {
			return nil, fmt.Errorf("rollout %s/%s: ConfigMap %s: %s: %w", namespace, name, StateName(name), rolloutKey, err)
		}
	}
	return out, nil
}

// trust checks a state read from the cluster before the engine acts on
// it. The state names pod templates the engine will run, and whoever can
// write ConfigMaps in the namespace can write it: a revision is trusted
// only when its template matches its hash and the Deployment the engine
// applied for it still exists. An old revision awaiting its scale-down
// that fails the check is dropped (it was going away); a stable or
// previous one is an error, since running anything else would be a guess.
func (e *Engine) trust(ctx context.Context, r *Rollout, st *State, live Reader) error {
	if st.Stable.Hash == "" {
		if st.Revision != "" || st.Previous != nil || len(st.ScaleDown) > 0 {
			return errors.New("the state names revisions but no stable one: delete the ConfigMap to start over from the Rollout's revision")
		}
		return nil
	}
	check := func(what string, rev Revision) error {
		got, err := RevisionOf(rev.Template)
		if err != nil || rev.Template == nil || got.Hash != rev.Hash {
			return fmt.Errorf("the %s revision %q does not match its template", what, rev.Hash)
		}
		ws, err := e.opts.Workload.Status(ctx, live, r, rev)
		if err != nil {
			return err
		}
		if !ws.Found {
			return fmt.Errorf("the %s revision %s has no workload: delete the ConfigMap to start over from the Rollout's revision", what, rev.Hash)
		}
		return nil
	}
	if err := check("stable", st.Stable); err != nil {
		return err
	}
	if st.Previous != nil {
		if err := check("previous", *st.Previous); err != nil {
			return err
		}
	}
	st.ScaleDown = slices.DeleteFunc(st.ScaleDown, func(sd ScaleDown) bool { return check("old", sd.Revision) != nil })
	last := len(r.steps())
	if r.Spec.Strategy.BlueGreen != nil {
		last = blueGreenPromoting
	}
	if st.Step < 0 || st.Step > last {
		st.Step = 0
	}
	st.Weight = min(max(st.Weight, 0), 100)
	return nil
}
