package check

import "context"

// InvalidYAML is the rule "yaml-invalid": a .yaml or .yml file that does
// not parse (Helm chart templates are not read as YAML). The GitOps
// agent cannot apply it, and the other rules cannot check it.
func InvalidYAML() Rule { return NewRule(invalidYAMLMeta, invalidYAML) }

var invalidYAMLMeta = Meta{
	ID:       "yaml-invalid",
	Title:    "YAML file that does not parse",
	Severity: SeverityMedium,
	Section:  SectionManifests,
	Fix:      "Fix the YAML syntax; run the renderer (kustomize build) in CI",
}

func invalidYAML(ctx context.Context, t *Target) ([]Finding, error) {
	files, err := t.Files(ctx)
	var out []Finding
	for _, f := range files {
		if f.YAMLError != nil {
			out = append(out, at(invalidYAMLMeta, &Document{File: f.Path}, f.YAMLErrorLine, 0, "the file is not valid YAML: %v", f.YAMLError))
		}
	}
	return out, err
}
