package argocd

import (
	"fmt"
	"strings"

	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// globPatterns translates an Argo CD directory include or exclude glob
// into .gitignore patterns relative to the rendered directory (what
// render.Options.Ignore takes). Argo CD matches the glob against each
// file's path below the source path, '*' crossing '/'. The forms with an
// exact .gitignore equivalent are translated; the others are refused:
//
//	config.json              → /config.json     (that file)
//	*.yaml, *                → *.yaml, *        (any file whose path ends so)
//	env-usw2/*               → /env-usw2/**     (everything below env-usw2)
//	prod/*.yaml              → /prod/**/*.yaml  (below prod, ending so)
//	{config.json,env-usw2/*} → each alternative
func globPatterns(glob string) ([]string, error) {
	alts := []string{glob}
	if strings.HasPrefix(glob, "{") && strings.HasSuffix(glob, "}") && strings.Count(glob, "{") == 1 && strings.Count(glob, "}") == 1 {
		alts = strings.Split(glob[1:len(glob)-1], ",")
	}
	out := make([]string, 0, len(alts))
	for _, a := range alts {
		p, ok := globPattern(a)
		if !ok {
			return nil, fmt.Errorf("glob %q has no exact equivalent in converge's ignore patterns: write a file name, *suffix, dir/* or dir/*suffix, or a {...,...} list of them", manifest.Short(glob))
		}
		out = append(out, p)
	}
	return out, nil
}

func globPattern(a string) (string, bool) {
	if a == "" || strings.ContainsAny(a, `?[]{}\!#`) || strings.HasPrefix(a, "/") ||
		strings.HasSuffix(a, " ") || strings.Count(a, "*") > 1 || strings.Contains(a, "//") {
		return "", false
	}
	star := strings.IndexByte(a, '*')
	switch {
	case star < 0:
		return "/" + a, true
	case star == 0 && !strings.Contains(a, "/"):
		return a, true
	}
	prefix, suffix := a[:star], a[star+1:]
	if !strings.HasSuffix(prefix, "/") || strings.Contains(suffix, "/") {
		return "", false
	}
	if suffix == "" {
		return "/" + prefix + "**", true
	}
	return "/" + prefix + "**/*" + suffix, true
}
