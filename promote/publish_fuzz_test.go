package promote

import (
	"errors"
	"os/exec"
	"path"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"
)

// FuzzParseProvenance: no message makes the parser panic, and whatever it
// reads is a valid provenance that reads back the same once written:
// what a rollback reads is what a promotion wrote.
func FuzzParseProvenance(f *testing.F) {
	seeds := []string{
		"promote\n\nPromoted-From: dev\nPromoted-To: prod\n",
		"promote\n\nPromoted-From: dev\nPromoted-From: prod\n",
		"promote\n\nPromoted-From: dev\n  folded\n",
		"promote\n\npromoted-image: ghcr.io/org/web:1.0@sha256:" + strings.Repeat("a", 64) + "\n",
		"promote\n\nPromoted-Image: localhost:5000/web:1@sha256:abc\n",
		"promote\n\nPromoted-Gate: health passed: a: b\n",
		"promote\n\nPromoted-Gate: health failed\n",
		"promote\n\nPromoted-Gate: health passed: \n",
		"promote\n\nPromoted-From: dev\r\n",
		"promote\n\nPromoted-From: d\u202eev\n",
		"promote\n\n# c\nPromoted-To: x\n",
		"Promoted-From: dev",
		"\n\n\n",
		"promote\n\n\tPromoted-From: dev\n",
		"promote\n\nSigned-off-by: a\nPromoted-Revision: main@sha1:abc\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, message string) {
		p, err := ParseProvenance(message)
		if err != nil {
			if !errors.Is(err, ErrNoProvenance) && !errors.Is(err, ErrInvalidProvenance) {
				t.Fatalf("an error of neither kind: %v", err)
			}
			return
		}
		if p.IsZero() {
			t.Fatalf("a zero provenance without ErrNoProvenance from %q", message)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed %#v does not validate: %v", p, err)
		}
		again, err := ParseProvenance("subject\n\n" + p.Trailers())
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("%#v reads back as %#v, %v", p, again, err)
		}
	})
}

// FuzzComposeMessage: for any message Publish accepts and any provenance
// that validates, the committed message reads back exactly that
// provenance (nothing in the message forges or hides a trailer), and
// holds no control character but newline and tab.
func FuzzComposeMessage(f *testing.F) {
	f.Add("promote web 1.5.0\n\nbody", "dev", "prod", "abc123", "ghcr.io/org/web", "1.5.0", "", "health", "Synced and Healthy", true)
	f.Add("promote\n\nSigned-off-by: a <a@b>", "dev", "", "", "", "", "", "", "", false)
	f.Add("promote\n\nPromoted-From: prod", "dev", "", "", "", "", "", "", "", false)
	f.Add("promote\n\nPromoted-From : prod", "dev", "", "", "", "", "", "", "", false)
	f.Add("promote\n\nFoo: x\n Promoted-From: prod", "dev", "", "", "", "", "", "", "", false)
	f.Add("promote\r\n\r\nPromoted-From: prod", "dev", "", "", "", "", "", "", "", false)
	f.Add("promote\n\n# x", "", "", "", "web", "", "sha256:"+strings.Repeat("b", 64), "a", "", false)
	f.Add("x\n\nA: b\n\n", "", "", "", "", "", "", "gate", "d: e", true)
	f.Fuzz(func(t *testing.T, msg, from, to, rev, img, tag, digest, gate, detail string, passed bool) {
		p := Provenance{From: from, To: to, Revision: rev}
		if img != "" {
			p.Images = []ImageRef{{Name: img, Tag: tag, Digest: digest}}
		}
		if gate != "" {
			p.Gates = []GateResult{{Name: gate, Passed: passed, Detail: detail}}
		}
		out, err := composeMessage(msg, p)
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrInvalidProvenance) {
				t.Fatalf("an error of neither kind: %v", err)
			}
			return
		}
		for _, r := range out {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || isBidi(r)) {
				t.Fatalf("composed message holds %U: %q", r, out)
			}
		}
		if !utf8.ValidString(out) || !strings.HasSuffix(out, "\n") {
			t.Fatalf("composed message %q is not valid UTF-8 ending in a newline", out)
		}
		got, err := ParseProvenance(out)
		if p.IsZero() {
			if !errors.Is(err, ErrNoProvenance) {
				t.Fatalf("%q carries provenance %#v, %v, though none was given", out, got, err)
			}
			return
		}
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("%q reads back as %#v, %v; want %#v", out, got, err, p)
		}
	})
}

// branchSeeds are names for the branch fuzzer and for the check against
// git check-ref-format.
var branchSeeds = []string{
	"main", "release/1.x", "converge/promote/staging/web", "feature_a+b", "v1.2.3", "a-b", "UPPER",
	"-f", "main;rm", "../x", "a/../b", "ma\x01in", "main\n", "main\x7f", "my branch", "main.lock",
	"a/.hidden", ".main", "main.", "a//b", "/main", "main/", "main@{1}", "@", "HEAD", "ma~in",
	"ma^in", "ma:in", "ma?in", "ma*in", "ma[in", `ma\in`, "$(id)", "`id`", "a|b", "a&b", "a>b",
	"mаin", "main\u202e", "a..b", "a.lock/b", "a.b/c-d", "main-", "_x", "+x", "a.lock1", "x/y/z_1.2+3", strings.Repeat("a", 256), "", "refs/heads/main",
}

// FuzzValidBranch: a branch name validBranch accepts is one git accepts
// (go-git's reading of check-ref-format), stays under refs/heads/ when
// joined to it, and cannot be read as an option or a shell word.
func FuzzValidBranch(f *testing.F) {
	for _, s := range branchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := validBranch(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidBranch) {
				t.Fatalf("%q: an error without ErrInvalidBranch: %v", name, err)
			}
			return
		}
		ref := "refs/heads/" + name
		switch {
		case plumbing.ReferenceName(ref).Validate() != nil:
			t.Fatalf("%q is accepted but git refuses it", name)
		case path.Clean(ref) != ref:
			t.Fatalf("%q is accepted but is not a clean path under refs/heads/", name)
		case strings.HasPrefix(name, "-"):
			t.Fatalf("%q is accepted but reads as an option", name)
		case strings.ContainsFunc(name, func(r rune) bool {
			return r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(";|&$`<>()'\"*?[]~^:\\{}!#", r)
		}):
			t.Fatalf("%q is accepted but holds a character a shell or git reads specially", name)
		}
	})
}

// Every seed validBranch accepts, `git check-ref-format --branch`
// accepts too (the reverse does not hold: git allows "main;rm").
func TestValidBranchAgreesWithGit(t *testing.T) {
	for _, name := range branchSeeds {
		if validBranch(name) != nil {
			continue
		}
		cmd := exec.Command("git", "check-ref-format", "--branch", name)
		cmd.Env = []string{"HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%q: accepted, but git check-ref-format refuses it: %s", name, out)
		}
	}
	for _, name := range []string{"main", "release/1.x", "converge/promote/staging/web", "feature_a+b", "v1.2.3"} {
		if err := validBranch(name); err != nil {
			t.Errorf("%q: refused: %v", name, err)
		}
	}
}
