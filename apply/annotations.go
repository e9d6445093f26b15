package apply

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
)

// mode is how an object is applied.
type mode int

const (
	modeApply        mode = iota // server-side apply whenever it drifts
	modeIfNotPresent             // create when absent, never update
	modeIgnore                   // never touched
)

// deletePolicy says when a hook object is deleted.
type deletePolicy int

const (
	beforeHookCreation deletePolicy = 1 << iota
	hookSucceeded
	hookFailed
)

// settings are what an object's annotations ask of the applier.
type settings struct {
	wave     int
	mode     mode
	recreate bool
	// hooks is empty for an ordinary object. skip marks objects that are
	// hooks of phases converge does not run (Argo's Skip, Helm's
	// pre-delete or test hooks): they are not applied at all.
	hooks        []Phase
	skip         bool
	deletePolicy deletePolicy
	keep         bool // never pruned
	// onRequest marks the Namespace Options.CreateNamespace creates.
	onRequest bool
}

// settingsOf reads an object's annotations. converge's keys win over Argo
// CD's and Flux's spellings; a value none of them defines is an error, so
// that a typo does not silently change what is applied.
func settingsOf(obj *unstructured.Unstructured) (settings, error) {
	var s settings
	a := obj.GetAnnotations()

	wave, key := first(a, object.AnnotationSyncWave, object.ArgoSyncWave)
	if wave != "" {
		n, err := strconv.Atoi(strings.TrimSpace(wave))
		if err != nil {
			return s, fmt.Errorf("annotation %s: %q is not an integer", key, wave)
		}
		s.wave = n
	}

	syncOptions := argoSyncOptions(a[object.ArgoSyncOptions])
	if syncOptions["Prune"] == "false" {
		s.keep = true
	}
	if syncOptions["Force"] == "true" {
		s.recreate = true
	}
	if v, key := first(a, object.AnnotationPrune, object.FluxPrune); v != "" {
		if v != "disabled" {
			return s, fmt.Errorf("annotation %s: %q is not \"disabled\"", key, v)
		}
		s.keep = true
	}
	if v, key := first(a, object.AnnotationRecreate, object.FluxForce); v != "" {
		switch v {
		case "enabled":
			s.recreate = true
		case "disabled":
			s.recreate = false
		default:
			return s, fmt.Errorf("annotation %s: %q is not \"enabled\" or \"disabled\"", key, v)
		}
	}
	if v, key := first(a, object.AnnotationApply, object.FluxSSA); v != "" {
		switch strings.ToLower(v) {
		case "ifnotpresent":
			s.mode = modeIfNotPresent
		case "ignore":
			s.mode = modeIgnore
		case "merge", "override", "apply":
			// Flux's Merge and Override are both a server-side apply
			// here; converge's field manager already leaves others'
			// fields alone.
			s.mode = modeApply
		default:
			return s, fmt.Errorf("annotation %s: %q is not IfNotPresent, Ignore or Apply", key, v)
		}
	}

	if err := s.readHooks(a); err != nil {
		return s, err
	}
	return s, nil
}

func (s *settings) readHooks(a map[string]string) error {
	if v := a[object.AnnotationHook]; v != "" {
		return s.argoHooks(object.AnnotationHook, v, a[object.AnnotationHookDeletePolicy], object.AnnotationHookDeletePolicy)
	}
	if v := a[object.ArgoHook]; v != "" {
		return s.argoHooks(object.ArgoHook, v, a[object.ArgoHookDeletePolicy], object.ArgoHookDeletePolicy)
	}
	if v := a[object.HelmHook]; v != "" {
		return s.helmHooks(v, a[object.HelmHookDeletePolicy], a[object.HelmHookWeight])
	}
	return nil
}

func (s *settings) argoHooks(key, value, policy, policyKey string) error {
	for _, h := range splitList(value) {
		switch h {
		case "PreSync":
			s.hooks = append(s.hooks, PhasePreSync)
		case "Sync":
			s.hooks = append(s.hooks, PhaseSync)
		case "PostSync":
			s.hooks = append(s.hooks, PhasePostSync)
		case "SyncFail":
			s.hooks = append(s.hooks, PhaseSyncFail)
		case "Skip":
			s.skip = true
		default:
			return fmt.Errorf("annotation %s: unknown hook %q", key, h)
		}
	}
	for _, p := range splitList(policy) {
		switch p {
		case "BeforeHookCreation":
			s.deletePolicy |= beforeHookCreation
		case "HookSucceeded":
			s.deletePolicy |= hookSucceeded
		case "HookFailed":
			s.deletePolicy |= hookFailed
		default:
			return fmt.Errorf("annotation %s: unknown delete policy %q", policyKey, p)
		}
	}
	s.defaultDeletePolicy()
	return nil
}

// helmHooks maps Helm's hooks onto converge's phases: every apply is both
// an install and an upgrade. Delete, rollback and test hooks never run.
func (s *settings) helmHooks(value, policy, weight string) error {
	seen := map[Phase]bool{}
	other := false
	for _, h := range splitList(value) {
		switch h {
		case "pre-install", "pre-upgrade":
			seen[PhasePreSync] = true
		case "post-install", "post-upgrade":
			seen[PhasePostSync] = true
		case "pre-delete", "post-delete", "pre-rollback", "post-rollback", "test", "test-success", "test-failure":
			other = true
		default:
			return fmt.Errorf("annotation %s: unknown hook %q", object.HelmHook, h)
		}
	}
	for _, p := range []Phase{PhasePreSync, PhasePostSync} {
		if seen[p] {
			s.hooks = append(s.hooks, p)
		}
	}
	if len(s.hooks) == 0 && other {
		s.skip = true
	}
	for _, p := range splitList(policy) {
		switch p {
		case "before-hook-creation":
			s.deletePolicy |= beforeHookCreation
		case "hook-succeeded":
			s.deletePolicy |= hookSucceeded
		case "hook-failed":
			s.deletePolicy |= hookFailed
		default:
			return fmt.Errorf("annotation %s: unknown delete policy %q", object.HelmHookDeletePolicy, p)
		}
	}
	if weight != "" {
		n, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil {
			return fmt.Errorf("annotation %s: %q is not an integer", object.HelmHookWeight, weight)
		}
		s.wave = n
	}
	s.defaultDeletePolicy()
	return nil
}

// defaultDeletePolicy is Argo CD's and Helm's: a hook with no policy is
// deleted before it is created again.
func (s *settings) defaultDeletePolicy() {
	if len(s.hooks) > 0 && s.deletePolicy == 0 {
		s.deletePolicy = beforeHookCreation
	}
}

// keptLive reports whether a live object's annotations ask to be kept when
// it leaves the set.
func keptLive(obj *unstructured.Unstructured) bool {
	a := obj.GetAnnotations()
	if v, _ := first(a, object.AnnotationPrune, object.FluxPrune); v == "disabled" {
		return true
	}
	return argoSyncOptions(a[object.ArgoSyncOptions])["Prune"] == "false"
}

// first returns the first non-empty value among keys, and its key.
func first(a map[string]string, keys ...string) (value, key string) {
	for _, k := range keys {
		if v := a[k]; v != "" {
			return v, k
		}
	}
	return "", ""
}

// argoSyncOptions parses "Prune=false,Force=true" into a map.
func argoSyncOptions(v string) map[string]string {
	out := map[string]string{}
	for _, kv := range splitList(v) {
		k, val, _ := strings.Cut(kv, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return out
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
