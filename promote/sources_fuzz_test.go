package promote

import (
	"strings"
	"testing"
)

// FuzzHelmIndex parses arbitrary bytes as a repository's index.yaml, the
// body a remote server controls: no input may panic, and what parses
// gives only plain version strings.
func FuzzHelmIndex(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nentries:\n  web:\n  - version: 1.0.0\n    digest: abc\n",
		"apiVersion: v1\nentries: {}\n",
		"<html></html>",
		"a: &a [*a, *a, *a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
		"apiVersion: v1\nentries:\n  web:\n  - version: \"1\\n2\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := parseHelmIndex(data)
		if err != nil {
			return
		}
		for _, versions := range idx.Entries {
			for _, v := range versions {
				if validChartVersion(v.Version) && strings.ContainsAny(v.Version, "\n\"' :{}") {
					t.Fatalf("version %q passed as plain", v.Version)
				}
			}
		}
	})
}
