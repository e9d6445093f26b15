package promote

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDockerConfig: for any document, parseDockerConfig never panics, and
// lookup never returns a credential for a registry (and repository) no key
// of the document names; what it returns is that key's entry.
func FuzzDockerConfig(f *testing.F) {
	auth := base64.StdEncoding.EncodeToString([]byte("user:pa:ss"))
	for _, seed := range []struct{ doc, host, repo string }{
		{`{"auths":{"ghcr.io":{"auth":"` + auth + `"}}}`, "ghcr.io", "org/app"},
		{`{"auths":{"https://ghcr.io/org/":{"username":"u","password":"p"}}}`, "ghcr.io", "org/app"},
		{`{"auths":{"https://ghcr.io/org":{"username":"u","password":"p"}}}`, "ghcr.io", "organisation/app"},
		{`{"auths":{"ghcr.io.evil.com":{"username":"u","password":"p"}}}`, "ghcr.io", "org/app"},
		{`{"auths":{"evil.com/ghcr.io":{"username":"u","password":"p"}}}`, "ghcr.io", "org/app"},
		{`{"auths":{"user@ghcr.io":{"username":"u","password":"p"}}}`, "ghcr.io", "org/app"},
		{`{"auths":{"GHCR.IO":{"registrytoken":"t"}},"auths":{"x":{}}}`, "ghcr.io", "a"},
		{`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"}}}`, "index.docker.io", "library/nginx"},
		{`{"auths":{"docker.io":{"identitytoken":"it"}}}`, "registry-1.docker.io", "x/y"},
		{`{"auths":{"*.gcr.io":{"username":"u","password":"p"}}}`, "eu.gcr.io", "p/app"},
		{`{"auths":{"":{"username":"u","password":"p"},"http://":{},"/":{}}}`, "", ""},
		{`{"auths":{"localhost:5000":null,"localhost:5001":{"auth":"bm9jb2xvbg=="}}}`, "localhost:5000", "app"},
		{`{"auths":{"a":{"auth":"!!!"}}}`, "a", "b"},
		{`{"auths":[]}`, "a", "b"},
		{`{"auths":null}`, "a", "b"},
		{`{"auths":{"a":{"username":1}}}`, "a", "b"},
		{`{"ghcr.io":{"auth":"` + auth + `"}}`, "ghcr.io", "org/app"},
		{"\x00\xff{", "a", "b"},
	} {
		f.Add([]byte(seed.doc), seed.host, seed.repo)
	}
	f.Fuzz(func(t *testing.T, doc []byte, host, repo string) {
		cfg, err := parseDockerConfig(doc)
		if err != nil {
			if len(cfg.entries) != 0 {
				t.Fatalf("an error with entries: %v", err)
			}
			return
		}
		var raw struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		if err := json.Unmarshal(doc, &raw); err != nil {
			t.Fatalf("parsed a document encoding/json refuses: %v", err)
		}
		queries := [][2]string{{host, repo}}
		for k := range raw.Auths {
			h, p, _ := strings.Cut(k, "/")
			queries = append(queries, [2]string{h, p}, [2]string{h, repo}, [2]string{k, repo})
		}
		for _, q := range queries {
			got, ok := cfg.lookup(q[0], q[1])
			if !ok {
				if got != (dockerAuth{}) {
					t.Fatalf("lookup(%q, %q) not found but returned %+v", q[0], q[1], got)
				}
				continue
			}
			found := false
			for k, v := range raw.Auths {
				if !keyCovers(k, q[0], q[1]) {
					continue
				}
				var a dockerAuth
				if json.Unmarshal(v, &a) != nil {
					continue
				}
				if a.Auth != "" {
					dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
					if err != nil {
						continue
					}
					a.Username, a.Password, _ = strings.Cut(string(dec), ":")
				}
				if a == got {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("lookup(%q, %q) returned a credential no key of the document gives it: %+v", q[0], q[1], got)
			}
		}
	})
}

// keyCovers is the rule the fuzz target holds lookup to, written apart
// from it: a key names a registry host (after an optional scheme, case
// aside, Docker Hub's names alike) and optionally a path that must be
// the repository or one of its parents.
func keyCovers(key, host, repo string) bool {
	s := strings.TrimSpace(key)
	if l := strings.ToLower(s); strings.HasPrefix(l, "https://") {
		s = s[len("https://"):]
	} else if strings.HasPrefix(l, "http://") {
		s = s[len("http://"):]
	}
	h, p, _ := strings.Cut(s, "/")
	h, host = strings.ToLower(h), strings.ToLower(host)
	hub := map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}
	if h == "" || (h != host && !(hub[h] && hub[host])) {
		return false
	}
	p = strings.Trim(p, "/")
	if hub[h] && (p == "v1" || p == "v2") {
		p = ""
	}
	return p == "" || repo == p || strings.HasPrefix(repo, p+"/")
}
