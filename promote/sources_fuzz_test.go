package promote

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

// FuzzHelmIndex parses arbitrary bytes as a repository's index.yaml, the
// body a remote server controls. No input may panic; a refusal is an
// ErrBadResponse; and what a chart's entries give is only plain,
// distinct versions, each a digest or none, no more than the entries.
func FuzzHelmIndex(f *testing.F) {
	real, err := os.ReadFile("testdata/helm/index.yaml") // `helm repo index` wrote it
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(real),
		string(real[:len(real)/2]),
		"apiVersion: v1\nentries:\n  web:\n  - version: 1.0.0\n    digest: abc\n    created: 2024-01-01T00:00:00Z\n",
		"apiVersion: v1\nentries: {}\n",
		"apiVersion: v1\n",
		"<!doctype html><html><body>Sign in</body></html>",
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
		"apiVersion: v1\nentries:\n  web:\n  - version: \"1.0.0\\nimage: evil\"\n  - version: 1.3\n  - null\n  - version: [1]\n  - version: \"'\"\n",
		"apiVersion: v1\nentries:\n  web: &w\n  - version: 1.0.0\n  api: *w\n",
		"apiVersion: v1\nentries:\n  web:\n  - version: 1.0.0\n  - version: 1.0.0\n  - version: v1.0.0+x\n",
		strings.Repeat("[", 20000),
		"apiVersion: v1\nentries:\n  web:\n  - version: \"" + strings.Repeat("9", 10240) + "\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := parseHelmIndex(data)
		if err != nil {
			var be *boundError
			if !errors.As(err, &be) || be.kind != ErrBadResponse {
				t.Fatalf("a refused index is not ErrBadResponse: %v", err)
			}
			return
		}
		for chart, entries := range idx.Entries {
			l, err := idx.versions(chart, nil, DefaultMaxTags)
			if err != nil {
				t.Fatalf("chart %q: %v", chart, err)
			}
			if len(l.Versions)+l.Skipped > len(entries) {
				t.Fatalf("chart %q: %d versions and %d skipped from %d entries", chart, len(l.Versions), l.Skipped, len(entries))
			}
			seen := map[string]bool{}
			for _, v := range l.Versions {
				if !plainText(v.Version, ".+-") || len(v.Version) > 128 || seen[v.Version] {
					t.Fatalf("chart %q: version %q passed", chart, v.Version)
				}
				seen[v.Version] = true
				if v.Digest != "" && (!strings.HasPrefix(v.Digest, "sha256:") || len(v.Digest) != 71 || !plainText(v.Digest[7:], "")) {
					t.Fatalf("chart %q: digest %q passed", chart, v.Digest)
				}
			}
		}
	})
}

// FuzzGitListing decodes arbitrary bytes as a Git server's reference
// listing, as go-git does for GitTags, and takes the tags out of it. No
// input may panic, and what comes out is only plain tag names, sorted
// and distinct, each with a 40-digit hash, no more than the listing's
// tags.
func FuzzGitListing(f *testing.F) {
	const c1, c2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	for _, seed := range []string{
		pkt("# service=git-upload-pack\n") + "0000" + pkt(c1+" refs/heads/main\x00multi_ack\n") +
			pkt(c2+" refs/tags/v1.0.0\n") + pkt(c1+" refs/tags/v1.0.0^{}\n") + pkt(c1+" refs/tags/v1.1.0\n") + "0000",
		pkt(c2+" refs/tags/v1\nx:y\x00a\n") + pkt(c2+" refs/tags/{a:b}\n") + pkt(c2+" refs/tags/"+strings.Repeat("v", 10<<10)+"\n") + "0000",
		pkt(c2+" refs/tags/x^{}\x00\n") + "0000",
		"0000",
		"<html>",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ar := packp.NewAdvRefs()
		if ar.Decode(bytes.NewReader(data)) != nil {
			return
		}
		n := 0
		for ref := range ar.References {
			if strings.HasPrefix(ref, "refs/tags/") {
				n++
			}
		}
		l, err := selectGitTags(ar.References, ar.Peeled, nil, DefaultMaxTags)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Tags)+l.Skipped != n {
			t.Fatalf("%d tags and %d skipped of %d", len(l.Tags), l.Skipped, n)
		}
		if !slices.IsSortedFunc(l.Tags, func(a, b GitTag) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("tags are not sorted")
		}
		for i, tag := range l.Tags {
			if !plainText(tag.Name, "._+/-") || len(tag.Name) > 255 || strings.Contains(tag.Name, "..") || i > 0 && l.Tags[i-1].Name == tag.Name {
				t.Fatalf("tag %q passed", tag.Name)
			}
			if len(tag.Commit) != 40 || !plainText(tag.Commit, "") {
				t.Fatalf("tag %q: commit %q", tag.Name, tag.Commit)
			}
		}
	})
}

// pkt is one pkt-line of the Git protocol.
func pkt(payload string) string { return fmt.Sprintf("%04x", len(payload)+4) + payload }

// plainText reports whether s is ASCII letters and digits and the bytes
// of extra only, checked byte by byte (not by the patterns under test).
func plainText(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return s != ""
}
