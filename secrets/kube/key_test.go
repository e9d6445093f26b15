package kube

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestParseKey(t *testing.T) {
	cases := map[string]struct {
		reason   string
		key, def string
		ns, name string
		err      bool
	}{
		"bare name":        {reason: "a name alone is in the default namespace", key: "db", def: "shared", ns: "shared", name: "db"},
		"qualified":        {reason: "namespace/name overrides the default", key: "team-a/db", def: "shared", ns: "team-a", name: "db"},
		"dotted name":      {reason: "Secret names are DNS subdomains", key: "team-a/db.creds", def: "x", ns: "team-a", name: "db.creds"},
		"empty":            {reason: "no name", key: "", def: "x", err: true},
		"empty name":       {reason: "namespace/ without a name", key: "team-a/", def: "x", err: true},
		"empty namespace":  {reason: "/name is not the default namespace", key: "/db", def: "x", err: true},
		"two slashes":      {reason: "keys have at most one /", key: "a/b/c", def: "x", err: true},
		"traversal":        {reason: "path segments are not names", key: "../kube-system", def: "x", err: true},
		"dotted namespace": {reason: "namespaces are DNS labels", key: "a.b/db", def: "x", err: true},
		"upper case":       {reason: "names are lower case", key: "team-a/DB", def: "x", err: true},
		"no default":       {reason: "an empty default namespace is not a namespace", key: "db", def: "", err: true},
		"query":            {reason: "no URL characters", key: "db?watch=1", def: "x", err: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns, n, err := parseKey(tc.key, tc.def)
			if tc.err {
				require.Error(t, err, tc.reason)
				assert.ErrorIs(t, err, ErrInvalidKey, tc.reason)
				return
			}
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.ns, ns, tc.reason)
			assert.Equal(t, tc.name, n, tc.reason)
		})
	}
}

// FuzzParseKey: a key either fails with ErrInvalidKey or yields a valid
// namespace and Secret name that rebuild the key, so nothing but a name
// reaches a request path.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"db", "ns/db", "", "/", "//", "ns/", "/db", "a/b/c", "../kube-system",
		"ns/..", "ns/.", "kube-system/db", "ns/db%2F..", "ns/db?x=1", "ns/db#x", "NS/db", "ns/db\x00",
		"ns/" + strings.Repeat("a", 300), strings.Repeat("a", 64) + "/db", "ns/a..b", "ns/-a", "ns/a.-b"} {
		f.Add(s, "default")
	}
	f.Fuzz(func(t *testing.T, key, def string) {
		ns, name, err := parseKey(key, def)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("parseKey(%q) error %v does not wrap ErrInvalidKey", key, err)
			}
			return
		}
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			t.Fatalf("parseKey(%q) namespace %q invalid: %v", key, ns, errs)
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Fatalf("parseKey(%q) name %q invalid: %v", key, name, errs)
		}
		if key != name && key != ns+"/"+name {
			t.Fatalf("parseKey(%q) = %q, %q: does not rebuild the key", key, ns, name)
		}
		if strings.ContainsAny(ns+name, "/?#%") || name == "." || name == ".." {
			t.Fatalf("parseKey(%q) = %q, %q: a path character survived", key, ns, name)
		}
	})
}
