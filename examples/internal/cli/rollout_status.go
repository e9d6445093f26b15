package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/converge-dev/converge/rollout"
	"github.com/converge-dev/converge/rollout/analysis"
)

var deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// rolloutTable is kubectl argo rollouts' "%-17s%v" layout.
const rolloutTable = "%-17s%v"

// printRollout prints a rollout's status as kubectl argo rollouts get
// rollout does, then its steps and its running analyses.
func printRollout(ctx context.Context, out *output, live rollout.Reader, namespace, name string, ls *rollout.LiveState) error {
	st := ls.State
	var canary *rollout.Canary
	var blueGreen *rollout.BlueGreen
	if ls.Strategy != nil {
		canary, blueGreen = ls.Strategy.Canary, ls.Strategy.BlueGreen
	}
	revs, err := liveRevisions(ctx, live, namespace, name, st, blueGreen != nil)
	if err != nil {
		return err
	}
	phase, message := rolloutPhase(st, canary, blueGreen, revs, time.Now())
	row := func(label string, v any) { out.printf(rolloutTable, label, v) }
	row("Name:", name)
	row("Namespace:", namespace)
	row("Status:", phaseIcon(phase)+" "+string(phase))
	if message != "" {
		row("Message:", message)
	}
	switch {
	case canary != nil:
		row("Strategy:", "Canary")
		if len(canary.Steps) > 0 {
			row("  Step:", fmt.Sprintf("%d/%d", min(st.Step, len(canary.Steps)), len(canary.Steps)))
		}
		set, actual := weights(st, canary)
		row("  SetWeight:", set)
		row("  ActualWeight:", actual)
	case blueGreen != nil:
		row("Strategy:", "BlueGreen")
	}
	label := "Images:"
	for _, img := range images(revs) {
		row(label, img)
		label = ""
	}
	out.printf("Replicas:")
	for _, r := range revs {
		detail := fmt.Sprintf("desired %d, available %d (%s)", r.desired, r.available, r.deployment)
		if !r.found {
			detail = fmt.Sprintf("no Deployment %s", r.deployment)
		}
		if !r.until.IsZero() {
			detail += ", scaled down at " + r.until.Local().Format("15:04:05")
		}
		row("  "+capitalize(r.role)+":", detail)
	}
	if canary != nil && len(canary.Steps) > 0 {
		out.printf("")
		out.printf("Steps:")
		width := len(fmt.Sprint(len(canary.Steps) - 1))
		for i, step := range canary.Steps {
			out.printf("  %s %*d  %s", stepMark(st, phase, i), width, i, stepText(step))
		}
	}
	for _, a := range []*rollout.AnalysisState{st.Analysis, st.Background} {
		if a != nil {
			out.printf("")
			printAnalysis(out, a)
		}
	}
	return nil
}

// liveRevision is one revision's Deployment, as the cluster has it.
type liveRevision struct {
	role               string // stable, canary, active, preview, previous, old
	hash, deployment   string
	found              bool
	desired, available int64
	images             []string
	until              time.Time // a scale-down's time
}

// liveRevisions reads the Deployments of the state's revisions: stable
// (active), the new one (canary, preview) while it rolls out, the
// previous active one of a blue-green switch and those kept up until
// their scale-down.
func liveRevisions(ctx context.Context, live rollout.Reader, namespace, name string, st *rollout.State, blueGreen bool) ([]liveRevision, error) {
	stableRole, newRole := "stable", "canary"
	if blueGreen {
		stableRole, newRole = "active", "preview"
	}
	type want struct {
		role string
		rev  rollout.Revision
		at   time.Time
	}
	wants := []want{{role: stableRole, rev: st.Stable}}
	if st.Revision != st.Stable.Hash {
		wants = append(wants, want{role: newRole, rev: rollout.Revision{Hash: st.Revision}})
	}
	if st.Previous != nil {
		wants = append(wants, want{role: "previous", rev: *st.Previous})
	}
	for _, sd := range st.ScaleDown {
		wants = append(wants, want{role: "old", rev: sd.Revision, at: sd.At})
	}
	r := &rollout.Rollout{Name: name, Namespace: namespace}
	out := make([]liveRevision, 0, len(wants))
	for _, w := range wants {
		lr := liveRevision{role: w.role, hash: w.rev.Hash, deployment: rollout.Deployments{}.Name(r, w.rev), until: w.at}
		obj, found, err := live.Lookup(ctx, deploymentGVK, namespace, lr.deployment)
		if err != nil {
			return nil, fmt.Errorf("rollout %s/%s: Deployment %s: %s", namespace, name, lr.deployment, oneLine(err.Error()))
		}
		template := w.rev.Template
		if found {
			lr.found = true
			lr.desired, _, _ = unstructured.NestedInt64(obj.Object, "spec", "replicas")
			lr.available, _, _ = unstructured.NestedInt64(obj.Object, "status", "availableReplicas")
			if template == nil {
				template, _, _ = unstructured.NestedMap(obj.Object, "spec", "template")
			}
		}
		lr.images = containerImages(template)
		out = append(out, lr)
	}
	return out, nil
}

// containerImages lists a pod template's container images.
func containerImages(template map[string]any) []string {
	containers, _, _ := unstructured.NestedSlice(template, "spec", "containers")
	var images []string
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok {
			if img, ok := m["image"].(string); ok && img != "" {
				images = append(images, img)
			}
		}
	}
	return images
}

// images lists each image with the roles of the revisions that run it,
// as "nginx:1.27 (stable)".
func images(revs []liveRevision) []string {
	var order []string
	roles := map[string][]string{}
	for _, r := range revs {
		for _, img := range r.images {
			if _, ok := roles[img]; !ok {
				order = append(order, img)
			}
			if !slices.Contains(roles[img], r.role) {
				roles[img] = append(roles[img], r.role)
			}
		}
	}
	out := make([]string, 0, len(order))
	for _, img := range order {
		out = append(out, fmt.Sprintf("%s (%s)", img, strings.Join(roles[img], ", ")))
	}
	return out
}

// rolloutPhase derives the phase from the state, as the engine reports
// it: Degraded when aborted, Paused when paused or at a pause step (or a
// blue-green wait for promote), Healthy when the stable revision is the
// newest and runs every pod, else Progressing.
func rolloutPhase(st *rollout.State, canary *rollout.Canary, blueGreen *rollout.BlueGreen, revs []liveRevision, now time.Time) (rollout.Phase, string) {
	switch {
	case st.Aborted:
		return rollout.PhaseDegraded, "RolloutAborted: " + st.Message
	case st.Paused:
		return rollout.PhasePaused, st.PauseReason
	case !progressing(st):
		if s := revs[0]; s.found && s.available < s.desired {
			return rollout.PhaseProgressing, fmt.Sprintf("waiting for revision %s to be available (%d of %d pods are)", s.hash, s.available, s.desired)
		}
		return rollout.PhaseHealthy, ""
	case canary != nil && st.Step < len(canary.Steps) && canary.Steps[st.Step].Pause != nil:
		d := pauseDuration(canary.Steps[st.Step].Pause)
		if d == 0 {
			return rollout.PhasePaused, "CanaryPauseStep: waiting for promote"
		}
		if left := st.StepSince.Add(d).Sub(now).Round(time.Second); left > 0 {
			return rollout.PhasePaused, fmt.Sprintf("CanaryPauseStep: %s left", shortDuration(left))
		}
		return rollout.PhasePaused, "CanaryPauseStep: over, the next pass goes on"
	case blueGreen != nil && st.Previous == nil && !st.AvailableSince.IsZero() && !st.Promote &&
		blueGreen.AutoPromotionEnabled != nil && !*blueGreen.AutoPromotionEnabled &&
		(blueGreen.PrePromotionAnalysis == nil || st.Analysis != nil && st.Analysis.Phase == string(analysis.PhaseSuccessful)):
		return rollout.PhasePaused, "BlueGreenPause: waiting for promote"
	}
	return rollout.PhaseProgressing, ""
}

// weights are the SetWeight and ActualWeight lines: the weight of the
// current or last setWeight step and the weight the routes were given;
// 100 and 100 once the newest revision is the stable one, as Rollouts
// says, and 0 for an aborted rollout.
func weights(st *rollout.State, c *rollout.Canary) (set, actual int32) {
	switch {
	case !progressing(st):
		return 100, 100
	case st.Aborted:
		return 0, st.Weight
	case st.Step >= len(c.Steps):
		return 100, st.Weight
	}
	for i := st.Step; i >= 0; i-- {
		if w := c.Steps[i].SetWeight; w != nil {
			return *w, st.Weight
		}
	}
	return 0, st.Weight
}

// stepMark is step i's mark: ✔ done, ▶ current (॥ paused, ✖ aborted), ○
// pending.
func stepMark(st *rollout.State, phase rollout.Phase, i int) string {
	switch {
	case i < st.Step || !progressing(st):
		return "✔"
	case i > st.Step:
		return "○"
	case phase == rollout.PhaseDegraded:
		return "✖"
	case phase == rollout.PhasePaused:
		return "॥"
	}
	return "▶"
}

// stepText is a step as the Rollout writes it, in a few words.
func stepText(s rollout.CanaryStep) string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight: %d", *s.SetWeight)
	case s.Pause != nil:
		if d := pauseDuration(s.Pause); d > 0 {
			return "pause: " + shortDuration(d)
		}
		return "pause: until promoted"
	case s.Analysis != nil:
		names := make([]string, 0, len(s.Analysis.Templates))
		for _, t := range s.Analysis.Templates {
			names = append(names, t.TemplateName)
		}
		return "analysis: " + strings.Join(names, ", ")
	case s.SetCanaryScale != nil:
		sc := s.SetCanaryScale
		switch {
		case sc.Replicas != nil:
			return fmt.Sprintf("setCanaryScale: replicas %d", *sc.Replicas)
		case sc.Weight != nil:
			return fmt.Sprintf("setCanaryScale: weight %d", *sc.Weight)
		}
		return "setCanaryScale: matchTrafficWeight"
	case s.SetHeaderRoute != nil:
		return "setHeaderRoute: " + s.SetHeaderRoute.Name
	}
	return "?"
}

// pauseDuration is a pause step's duration, 0 for one that waits for
// promote: seconds, or a number with one unit (s, m, h), as Rollouts
// reads it.
func pauseDuration(p *rollout.Pause) time.Duration {
	if p.Duration == nil {
		return 0
	}
	if p.Duration.Type == intstr.Int {
		return time.Duration(p.Duration.IntVal) * time.Second
	}
	s := p.Duration.StrVal
	if strings.TrimLeft(s, "0123456789") == "" {
		s += "s"
	}
	d, _ := time.ParseDuration(s)
	return d
}

// shortDuration is d without its zero units: 2m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// printAnalysis prints an analysis and its metrics, from the run's
// serialized state.
func printAnalysis(out *output, a *rollout.AnalysisState) {
	var run struct {
		Status analysis.Status `json:"status"`
	}
	phase := analysis.Phase(a.Phase)
	head := fmt.Sprintf("%s, %s %s", a.For, phaseIcon(rollout.Phase(phase)), phase)
	if err := json.Unmarshal(a.Run, &run); err != nil || len(a.Run) == 0 {
		out.printf(rolloutTable, "Analysis:", head)
		return
	}
	if run.Status.Message != "" {
		head += ": " + oneLine(run.Status.Message)
	}
	out.printf(rolloutTable, "Analysis:", head)
	for _, m := range run.Status.Metrics {
		var counts []string
		for _, c := range []struct {
			icon string
			n    int32
		}{{"✔", m.Successful}, {"✖", m.Failed}, {"?", m.Inconclusive}, {"⚠", m.Error}} {
			if c.n > 0 {
				counts = append(counts, fmt.Sprintf("%s %d", c.icon, c.n))
			}
		}
		line := fmt.Sprintf("  %-14s %s %s", m.Name+":", phaseIcon(rollout.Phase(m.Phase)), m.Phase)
		if len(counts) > 0 {
			line += " (" + strings.Join(counts, ", ") + ")"
		} else {
			line += " (no measurement yet)"
		}
		if m.DryRun {
			line += ", dry run"
		}
		if m.Message != "" {
			line += ": " + oneLine(m.Message)
		}
		out.printf("%s", line)
	}
}

// phaseIcon is kubectl argo rollouts' icon of a rollout's or an
// analysis's phase.
func phaseIcon(p rollout.Phase) string {
	switch string(p) {
	case string(rollout.PhaseHealthy), string(analysis.PhaseSuccessful):
		return "✔"
	case string(rollout.PhaseProgressing), string(analysis.PhaseRunning):
		return "◌"
	case string(rollout.PhasePaused):
		return "॥"
	case string(rollout.PhaseDegraded), string(analysis.PhaseFailed):
		return "✖"
	case string(analysis.PhaseError):
		return "⚠"
	case string(analysis.PhasePending):
		return "◷"
	}
	return "?"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
