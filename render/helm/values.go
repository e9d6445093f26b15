package helm

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/render"
)

// values reads the values files of the settings through fsys (confined)
// and merges them, then the inline values, the way `helm template -f a
// -f b` merges values files: maps merge key by key, anything else
// replaces.
func (r *Renderer) values(fsys fs.FS, b *budget) (map[string]any, error) {
	out := map[string]any{}
	for i, name := range r.settings.ValuesFiles {
		clean := path.Clean(name)
		if path.IsAbs(name) || strings.HasPrefix(name, `\`) || !fs.ValidPath(clean) {
			return nil, &render.Error{Path: name, Err: fmt.Errorf("values file %d: %w (paths are relative to the source root)", i, render.ErrOutsideRoot)}
		}
		data, err := b.readFile(fsys, clean)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, &render.Error{Path: clean, Err: fmt.Errorf("%w: values file: %s", render.ErrSyntax, yamlPosition(err))}
		}
		out = mergeMaps(out, m)
	}
	if len(r.settings.Values) > 0 {
		// A JSON round trip copies the host's map and gives values the
		// types values files have (float64 numbers, []any, map[string]any).
		data, err := json.Marshal(r.settings.Values)
		if err != nil {
			return nil, &render.Error{Err: fmt.Errorf("%w: inline values are not JSON-encodable", render.ErrSyntax)}
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, &render.Error{Err: fmt.Errorf("%w: inline values", render.ErrSyntax)}
		}
		out = mergeMaps(out, m)
	}
	return out, nil
}

// mergeMaps is Helm's (pkg/cli/values): b over a, maps merged recursively.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]any); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// yamlPosition describes a YAML error by its line only: the YAML
// libraries quote values in some messages ("cannot unmarshal !!str `...`").
func yamlPosition(err error) string {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		return "invalid YAML at line " + m[1]
	}
	return "invalid YAML, or not a mapping"
}

var quotedRE = regexp.MustCompile("`[^`]*`|\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'")

// redact removes quoted text from a message of Helm's: its loaders and
// YAML libraries quote file content and values in some messages.
func redact(msg string) string {
	msg = quotedRE.ReplaceAllString(msg, "(redacted)")
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + " ...(truncated)"
	}
	return msg
}

// maxMessage bounds messages taken from Helm.
const maxMessage = 1000
