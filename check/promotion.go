package check

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// SectionPromotion is the checklist item of the promotion rules.
const SectionPromotion Section = "Environment promotion workflow defined (PR-based or automated)"

var (
	promotionPathMeta = Meta{
		ID: "layout-promotion-path", Title: "An environment that no promotion path reaches",
		Severity: SeverityMedium, Section: SectionPromotion,
		Fix: "Promote every change through the environments in order (dev → staging → prod); give each environment directory a place on a promotion path",
	}
	prodDriftMeta = Meta{
		ID: "layout-prod-drift", Title: "Production differs from the environment before it in more than images, replicas and resources",
		Severity: SeverityMedium, Section: SectionPromotion,
		Fix: "Make the environment before production run the same configuration; keep per-environment differences to image tags, replicas, resources and autoscaling",
	}
)

// DefaultPromotionPaths is the promotion path the promotion rules assume
// when the host gives none: dev → test → staging → prod, where an
// environment may skip test (or staging, when test is there), spelt any
// of the usual ways (development, qa, stage, uat, preprod, production).
var DefaultPromotionPaths = [][]string{{"dev", "test", "staging", "prod"}}

// envAliases spell the default path's environments the other usual ways.
var envAliases = map[string]string{
	"development": "dev", "qa": "test", "stage": "staging", "uat": "staging", "preprod": "staging", "production": "prod",
}

// environmentGroup is a directory whose subdirectories are environments:
// apps/api/overlays holding dev, staging and prod.
type environmentGroup struct {
	parent string
	envs   []string // directory names, sorted
}

// environmentGroups finds the directories of environments: every
// subdirectory of overlays/, environments/, envs/ or clusters/ when one
// of them has an environment's name, and environment-named directories
// that hold a kustomization elsewhere.
func environmentGroups(files []*File) []environmentGroup {
	groups := map[string][]string{}
	add := func(parent, name string) {
		if !slices.Contains(groups[parent], name) {
			groups[parent] = append(groups[parent], name)
		}
	}
	named := map[string]bool{} // parents with a known environment's name below
	for _, f := range files {
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			name, parent := path.Base(dir), path.Dir(dir)
			if envParents[path.Base(parent)] {
				add(parent, name)
				named[parent] = named[parent] || envNames[name]
			} else if envNames[name] && path.Dir(f.Path) == dir && strings.HasPrefix(path.Base(f.Path), "kustomization.") {
				add(parent, name)
				named[parent] = true
			}
		}
	}
	var out []environmentGroup
	for _, parent := range slices.Sorted(maps.Keys(groups)) {
		if !named[parent] {
			continue // overlays/ of something else: no environment names below
		}
		envs := groups[parent]
		slices.Sort(envs)
		out = append(out, environmentGroup{parent: parent, envs: envs})
	}
	return out
}

// canonical returns the environment's name on the default path.
func canonical(env string) string {
	if c, ok := envAliases[env]; ok {
		return c
	}
	return env
}

// indexOn returns env's index on path p, or -1.
func indexOn(p []string, env string) int {
	return slices.IndexFunc(p, func(step string) bool { return step == env || step == canonical(env) })
}

// placeOn returns the path env is on and its index there, or false.
func placeOn(paths [][]string, env string) ([]string, int, bool) {
	for _, p := range paths {
		if i := indexOn(p, env); i >= 0 {
			return p, i, true
		}
	}
	return nil, 0, false
}

// PromotionPath is the rule layout-promotion-path: in each directory of
// environments, an environment on no promotion path (overlays/hotfix
// beside dev, staging and prod), and a last environment of a path that
// nothing before it on that path precedes in the same directory (prod
// with neither staging nor dev: changes go to production untested).
// paths are the host's promotion paths; [DefaultPromotionPaths] when
// empty.
func PromotionPath(paths [][]string) Rule {
	if len(paths) == 0 {
		paths = DefaultPromotionPaths
	}
	return NewRule(promotionPathMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
		files, err := t.Files(ctx)
		var out []Finding
		for _, g := range environmentGroups(files) {
			for _, env := range g.envs {
				dir := path.Join(g.parent, env)
				p, i, ok := placeOn(paths, env)
				if !ok {
					out = append(out, Finding{Rule: promotionPathMeta.ID, Severity: promotionPathMeta.Severity, Location: Location{File: dir},
						Message: fmt.Sprintf("%s is on no promotion path (%s): what it runs was never promoted from another environment", env, pathsString(paths))})
					continue
				}
				if i == 0 || i < len(p)-1 {
					continue
				}
				if !slices.ContainsFunc(g.envs, func(e string) bool { j := indexOn(p, e); return j >= 0 && j < i }) {
					out = append(out, Finding{Rule: promotionPathMeta.ID, Severity: SeverityHigh, Location: Location{File: dir},
						Message: fmt.Sprintf("%s has no environment before it in %s (%s): changes go to it untested", env, g.parent, strings.Join(p, " → "))})
				}
			}
		}
		return out, err
	})
}

func pathsString(paths [][]string) string {
	var s []string
	for _, p := range paths {
		s = append(s, strings.Join(p, " → "))
	}
	return strings.Join(s, "; ")
}

// ProdDrift is the rule layout-prod-drift: in each directory of
// environments, the last environment of a promotion path (prod) is
// rendered with renderer beside the one before it (staging), and an
// object that differs in anything but container images, replicas,
// resources, the environment's name in values (labels, namespaces,
// hosts) and generated names' hashes is a finding: production runs a
// configuration that was never tested below. Objects that only one of
// them has are findings too, except autoscalers and disruption budgets.
// paths are as for [PromotionPath]. A directory that does not render is
// a note, not a finding: yaml-invalid and the render itself say why.
func ProdDrift(renderer render.Renderer, paths [][]string) Rule {
	if len(paths) == 0 {
		paths = DefaultPromotionPaths
	}
	return NewRule(prodDriftMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
		files, err := t.Files(ctx)
		if err != nil {
			return nil, err
		}
		var out []Finding
		var notes []string
		for _, g := range environmentGroups(files) {
			last, before, ok := lastPair(paths, g.envs)
			if !ok {
				continue
			}
			lastDir, beforeDir := path.Join(g.parent, last), path.Join(g.parent, before)
			if !renderable(t.FS, lastDir) || !renderable(t.FS, beforeDir) {
				continue
			}
			prod, perr := renderer.Render(ctx, t.FS, lastDir, render.DefaultOptions())
			lower, lerr := renderer.Render(ctx, t.FS, beforeDir, render.DefaultOptions())
			if perr != nil || lerr != nil {
				notes = append(notes, fmt.Sprintf("%s and %s not compared: they do not render", lastDir, beforeDir))
				continue
			}
			out = append(out, compareEnvironments(prod, lower, lastDir, beforeDir, []string{last, before, canonical(last), canonical(before)})...)
		}
		if len(notes) > 0 {
			return out, &IncompleteError{Notes: notes}
		}
		return out, nil
	})
}

// lastPair returns the last environment of a path present in envs and
// the nearest one before it on that path.
func lastPair(paths [][]string, envs []string) (last, before string, ok bool) {
	for _, p := range paths {
		var present []string // envs in path order
		for _, step := range p {
			for _, e := range envs {
				if e == step || canonical(e) == step {
					present = append(present, e)
				}
			}
		}
		if n := len(present); n >= 2 && canonical(present[n-1]) == p[len(p)-1] {
			return present[n-1], present[n-2], true
		}
	}
	return "", "", false
}

func renderable(fsys fs.FS, dir string) bool {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := fs.Stat(fsys, path.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// scalingKinds may be in one environment only: they manage replicas.
var scalingKinds = []string{"HorizontalPodAutoscaler", "VerticalPodAutoscaler", "PodDisruptionBudget", "ScaledObject"}

func compareEnvironments(prod, lower *object.Set, prodDir, lowerDir string, envWords []string) []Finding {
	key := func(id object.ID) string { return id.Group + "/" + id.Kind + "/" + trimHash(id.Name) }
	lowerByKey := map[string]*unstructured.Unstructured{}
	for id, obj := range lower.All() {
		lowerByKey[key(id)] = obj
	}
	var out []Finding
	finding := func(id object.ID, format string, args ...any) {
		id.Name = trimHash(id.Name)
		out = append(out, Finding{Rule: prodDriftMeta.ID, Severity: prodDriftMeta.Severity, Location: Location{File: prodDir, Object: &id},
			Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for id, obj := range prod.All() {
		k := key(id)
		seen[k] = true
		other, ok := lowerByKey[k]
		switch {
		case !ok && slices.Contains(scalingKinds, id.Kind):
		case !ok:
			finding(id, "%s %s is in %s but not in %s: production runs an object that was never tested below", id.Kind, trimHash(id.Name), prodDir, lowerDir)
		default:
			if fields := object.ChangedPaths(normalize(obj, envWords), normalize(other, envWords), 20); len(fields) > 0 {
				finding(id, "%s %s differs between %s and %s beyond images, replicas and resources: %s", id.Kind, trimHash(id.Name), prodDir, lowerDir, strings.Join(clip(fields, 6), ", "))
			}
		}
	}
	for id := range lower.All() {
		if k := key(id); !seen[k] && !slices.Contains(scalingKinds, id.Kind) {
			finding(id, "%s %s is in %s but not in %s: what was tested is not what production runs", id.Kind, trimHash(id.Name), lowerDir, prodDir)
		}
	}
	return out
}

// trimHash drops the content hash kustomize's generators append
// ("api-config-5g7h8k9m2t" → "api-config").
func trimHash(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i-1 != 10 {
		return name
	}
	for _, c := range name[i+1:] {
		if !strings.ContainsRune("bcdfghkmt2456789", c) {
			return name
		}
	}
	return name[:i]
}

// normalize returns a copy of obj without what environments may differ
// in: replicas, container images and resources, the hashes of generated
// objects' names, the environments' names in values, and the namespace.
func normalize(obj *unstructured.Unstructured, envWords []string) any {
	c := obj.DeepCopy().Object
	unstructured.RemoveNestedField(c, "spec", "replicas")
	for _, f := range []string{"namespace", "creationTimestamp"} {
		unstructured.RemoveNestedField(c, "metadata", f)
	}
	return scrub(c, envWords)
}

// scrub walks v: it drops containers' image and resources, cuts hashes
// off names, and replaces the environments' names in strings.
func scrub(v any, envWords []string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if k == "image" || k == "resources" {
				if _, isContainer := x["name"]; isContainer {
					continue
				}
			}
			out[k] = scrub(val, envWords)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = scrub(val, envWords)
		}
		return out
	case string:
		s := trimHash(x)
		for _, w := range envWords {
			s = strings.ReplaceAll(s, w, "$ENV")
		}
		return s
	}
	return v
}
