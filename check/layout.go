package check

import (
	"context"
	"maps"
	"path"
	"slices"
	"strings"
)

// Layout is the rule "layout-environments": an info finding saying
// which layout the snapshot has. Branch-per-environment cannot be seen
// in one snapshot; this finds directory-per-environment: directories
// named for an environment (dev, staging, prod and their spellings)
// that hold a kustomization or sit under overlays/, environments/,
// envs/ or clusters/.
func Layout() Rule { return NewRule(layoutMeta, layout) }

var layoutMeta = Meta{
	ID:       "layout-environments",
	Title:    "Environment layout of the repository",
	Severity: SeverityInfo,
	Section:  SectionLayout,
	Fix:      "Keep one directory per environment (Kustomize overlays or Helm values), not one branch per environment",
}

var envNames = map[string]bool{
	"dev": true, "development": true, "test": true, "qa": true, "staging": true, "stage": true,
	"preprod": true, "uat": true, "prod": true, "production": true,
}

var envParents = map[string]bool{"overlays": true, "environments": true, "envs": true, "clusters": true}

func layout(ctx context.Context, t *Target) ([]Finding, error) {
	files, err := t.Files(ctx)
	groups := map[string][]string{} // parent → environment names
	for _, f := range files {
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			name, parent := path.Base(dir), path.Dir(dir)
			if !envNames[name] {
				continue
			}
			if envParents[path.Base(parent)] || path.Dir(f.Path) == dir && strings.HasPrefix(path.Base(f.Path), "kustomization.") {
				if !slices.Contains(groups[parent], name) {
					groups[parent] = append(groups[parent], name)
				}
			}
		}
	}
	d := &Document{}
	if len(groups) == 0 {
		return []Finding{at(layoutMeta, d, 0, 0, "no directory per environment found: with one environment, or one branch per environment, promotion is not visible in Git")}, err
	}
	var parts []string
	for _, parent := range slices.Sorted(maps.Keys(groups)) {
		envs := groups[parent]
		slices.Sort(envs)
		parts = append(parts, path.Join(parent, "{"+strings.Join(envs, ",")+"}"))
	}
	return []Finding{at(layoutMeta, d, 0, 0, "directory per environment: %s", strings.Join(parts, ", "))}, err
}
