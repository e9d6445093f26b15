package kustomize

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/render"
)

// refusedFields are kustomization fields that run code, reach the network
// or change kustomize's process-wide OpenAPI schema.
var refusedFields = map[string]string{
	"openapi":                     "a custom OpenAPI schema (kustomize keeps it process-wide)",
	"helmCharts":                  "Helm chart inflation",
	"helmGlobals":                 "Helm chart inflation",
	"helmChartInflationGenerator": "Helm chart inflation",
}

// rootFields hold kustomization roots: local directories or files, or
// remote bases that kustomize would fetch.
var rootFields = []string{"resources", "bases", "components", "crds", "configurations",
	"generators", "transformers", "validators"}

// checkKustomization refuses a kustomization that declares what converge
// does not allow: remote bases and files, Helm inflation, a custom OpenAPI
// schema. It reports field names and never values, which may be secret.
// Exec and container functions and legacy plugins are refused by
// kustomize itself, because converge runs it with plugins disabled.
func checkKustomization(data []byte) error {
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		// kustomize reports syntax errors itself, with positions.
		return nil
	}
	for field, what := range refusedFields {
		if _, ok := k[field]; ok {
			return fmt.Errorf("%w: %s: %s", render.ErrNotAllowed, field, what)
		}
	}
	for _, field := range rootFields {
		for i, s := range strings1(k[field]) {
			if isRemote(s) {
				return fmt.Errorf("%w: %s[%d]: remote reference (no network access while rendering)", render.ErrNotAllowed, field, i)
			}
		}
	}
	for _, field := range []string{"patches", "patchesJson6902", "replacements"} {
		for i, p := range maps(k[field]) {
			if s, ok := p["path"].(string); ok && isURL(s) {
				return fmt.Errorf("%w: %s[%d].path: remote file (no network access while rendering)", render.ErrNotAllowed, field, i)
			}
		}
	}
	for i, s := range strings1(k["patchesStrategicMerge"]) {
		if isURL(s) {
			return fmt.Errorf("%w: patchesStrategicMerge[%d]: remote file (no network access while rendering)", render.ErrNotAllowed, i)
		}
	}
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		for i, g := range maps(k[field]) {
			refs := append(strings1(g["files"]), strings1(g["envs"])...)
			if s, ok := g["env"].(string); ok {
				refs = append(refs, s)
			}
			for _, s := range refs {
				if _, file, ok := strings.Cut(s, "="); ok {
					s = file
				}
				if isURL(s) {
					return fmt.Errorf("%w: %s[%d]: remote file (no network access while rendering)", render.ErrNotAllowed, field, i)
				}
			}
		}
	}
	return nil
}

func strings1(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func maps(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// isURL reports whether kustomize would fetch s over HTTP, by the rule of
// its file loader.
func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// scpUser is a user in an scp-style git address ("git@host:org/repo").
var scpUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize would treat s, an entry of resources
// and the like, as a remote base, by the rules of its git URL parser: an
// optional "git::" prefix, then an ssh, https, http or file URL, an
// scp-style user@host address, or a github.com path. Anything else is a
// local path to kustomize, and so to converge's confined file system.
func isRemote(s string) bool {
	s = strings.TrimSpace(s)
	if isURL(s) {
		return true
	}
	if len(s) >= 5 && strings.EqualFold(s[:5], "git::") {
		s = s[5:]
	}
	s, _, _ = strings.Cut(s, "?")
	lower := strings.ToLower(s)
	for _, prefix := range []string{"ssh://", "https://", "http://", "file://", "github.com/", "github.com:"} {
		if strings.HasPrefix(lower, prefix) {
			return true
		}
	}
	return scpUser.MatchString(s)
}
