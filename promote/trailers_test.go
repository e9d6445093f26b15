package promote_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

var digest = "sha256:" + strings.Repeat("0123456789abcdef", 4)

var fullProvenance = promote.Provenance{
	From:     "dev",
	To:       "staging",
	Revision: "main@sha1:3f2c9a1e0b7d",
	Images: []promote.ImageRef{
		{Name: "ghcr.io/org/web", Tag: "1.5.0", Digest: digest},
		{Name: "localhost:5000/org/worker", Tag: "2.1.0"},
		{Name: "registry.example/cron", Digest: digest},
	},
	Gates: []promote.GateResult{
		{Name: "health", Passed: true, Detail: "dev runs main@sha1:3f2c9a1e0b7d, Synced and Healthy"},
		{Name: "analysis.error-rate", Passed: true},
		{Name: "window", Passed: false, Detail: "outside: the change window; retry at 09:00"},
	},
}

func TestProvenanceTrailers(t *testing.T) {
	assert.Equal(t, `Promoted-From: dev
Promoted-To: staging
Promoted-Revision: main@sha1:3f2c9a1e0b7d
Promoted-Image: ghcr.io/org/web:1.5.0@`+digest+`
Promoted-Image: localhost:5000/org/worker:2.1.0
Promoted-Image: registry.example/cron@`+digest+`
Promoted-Gate: health passed: dev runs main@sha1:3f2c9a1e0b7d, Synced and Healthy
Promoted-Gate: analysis.error-rate passed
Promoted-Gate: window failed: outside: the change window; retry at 09:00
`, fullProvenance.Trailers())

	got, err := promote.ParseProvenance("promote web\n\nbody\n\n" + fullProvenance.Trailers())
	require.NoError(t, err)
	assert.Equal(t, fullProvenance, got)

	assert.Empty(t, promote.Provenance{}.Trailers())
	assert.True(t, promote.Provenance{}.IsZero())
	assert.Empty(t, promote.Provenance{From: "dev\nx"}.Trailers(), "an invalid provenance writes nothing")
	only, err := promote.ParseProvenance("rollback\n\nPromoted-To: prod\n")
	require.NoError(t, err)
	assert.Equal(t, promote.Provenance{To: "prod"}, only)
}

// gitTrailers is what `git interpret-trailers --parse` reads from message.
func gitTrailers(t *testing.T, message string) string {
	t.Helper()
	cmd := exec.Command("git", "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(message)
	cmd.Env = []string{"HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}
	out, err := cmd.Output()
	require.NoError(t, err)
	return string(out)
}

// ParseProvenance reads what git reads: for each message, the promotion
// trailers git finds are exactly the ones ParseProvenance returns.
func TestParseProvenanceAgreesWithGit(t *testing.T) {
	messages := map[string]string{
		"ours":                   "promote web\n\n" + fullProvenance.Trailers(),
		"joined to signoff":      "promote web\n\nbody\n\nSigned-off-by: Ada <ada@example.com>\n" + fullProvenance.Trailers(),
		"folded value":           "promote\n\nPromoted-From: dev\n  east\nPromoted-To: prod\n",
		"key in any case":        "promote\n\npromoted-from:dev  \nPROMOTED-TO: prod\n",
		"space before colon":     "promote\n\nPromoted-From : dev\n",
		"comment line":           "promote\n\n# a comment\nPromoted-From: dev\n",
		"subject only":           "Promoted-From: dev\n",
		"not the last paragraph": "promote\n\nPromoted-From: dev\n\nthe end\n",
		"mixed paragraph":        "promote\n\nPromoted-From: dev\nthis line is prose\nand so is this one\n",
		"others only":            "promote\n\nSigned-off-by: Ada <ada@example.com>\n",
		"trailing blank lines":   "promote\n\nPromoted-To: prod\n\n\n",
	}
	for name, msg := range messages {
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, l := range strings.Split(strings.TrimSpace(gitTrailers(t, msg)), "\n") {
				key, value, _ := strings.Cut(l, ": ")
				if strings.HasPrefix(strings.ToLower(key), "promoted-") {
					want = append(want, strings.ToLower(key)+": "+value)
				}
			}
			p, err := promote.ParseProvenance(msg)
			if len(want) == 0 {
				require.ErrorIs(t, err, promote.ErrNoProvenance)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(p.Trailers()), "\n") {
				key, value, _ := strings.Cut(l, ": ")
				got = append(got, strings.ToLower(key)+": "+value)
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestParseProvenanceRefuses(t *testing.T) {
	cases := map[string]string{
		"two froms":              "promote\n\nPromoted-From: dev\nPromoted-From: prod\n",
		"two revisions":          "promote\n\nPromoted-Revision: a\npromoted-revision: b\n",
		"revision with a space":  "promote\n\nPromoted-Revision: a b\n",
		"empty value":            "promote\n\nPromoted-From:\n",
		"image without tag":      "promote\n\nPromoted-Image: ghcr.io/org/web\n",
		"image with a quote":     "promote\n\nPromoted-Image: ghcr.io/org/web:1.0\"\n",
		"image with bad digest":  "promote\n\nPromoted-Image: web@sha256:\n",
		"tag with a slash":       "promote\n\nPromoted-Image: a/b:c/d\n",
		"gate without verdict":   "promote\n\nPromoted-Gate: health\n",
		"gate with odd verdict":  "promote\n\nPromoted-Gate: health ok\n",
		"gate with empty detail": "promote\n\nPromoted-Gate: health passed: \n",
		"gate name with colon":   "promote\n\nPromoted-Gate: he:alth passed\n",
		"control character":      "promote\n\nPromoted-From: dev\x1b[2J\n",
		"carriage return":        "promote\n\nPromoted-From: dev\r\n",
		"bidi override":          "promote\n\nPromoted-From: dev\u202e\n",
		"invalid UTF-8":          "promote\n\nPromoted-From: dev\xff\n",
		"value over 1 KiB":       "promote\n\nPromoted-From: " + strings.Repeat("d", 1025) + "\n",
		"message over 1 MiB":     "promote\n\n" + strings.Repeat("x", 1<<20) + "\n\nPromoted-From: dev\n",
		"too many images":        "promote\n\n" + strings.Repeat("Promoted-Image: web:1\n", 257),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := promote.ParseProvenance(msg)
			require.ErrorIs(t, err, promote.ErrInvalidProvenance)
			assert.NotContains(t, err.Error(), "\x1b")
		})
	}
}

func TestProvenanceValidate(t *testing.T) {
	cases := map[string]promote.Provenance{
		"newline in from":         {From: "dev\nPromoted-To: prod"},
		"leading space":           {To: " prod"},
		"tab in revision":         {Revision: "a\tb"},
		"image without name":      {Images: []promote.ImageRef{{Tag: "1"}}},
		"image with neither":      {Images: []promote.ImageRef{{Name: "web"}}},
		"image with bad tag":      {Images: []promote.ImageRef{{Name: "web", Tag: "1.0\n"}}},
		"image name with a colon": {Images: []promote.ImageRef{{Name: "web:latest", Tag: "1"}}},
		"gate with space in name": {Gates: []promote.GateResult{{Name: "my gate", Passed: true}}},
		"gate without name":       {Gates: []promote.GateResult{{Passed: true}}},
		"gate detail with NUL":    {Gates: []promote.GateResult{{Name: "health", Detail: "a\x00b"}}},
		"gate detail multi-line":  {Gates: []promote.GateResult{{Name: "health", Detail: "a\nPromoted-From: prod"}}},
		"too many gates":          {Gates: make([]promote.GateResult, 257)},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, p.Validate(), promote.ErrInvalidProvenance)
		})
	}
	assert.NoError(t, fullProvenance.Validate())
}

func TestPlanProvenance(t *testing.T) {
	dev, staging := promote.Environment{Name: "dev", Dir: "apps/web/dev"}, promote.Environment{Name: "staging", Dir: "apps/web/staging"}
	web := promote.ImageRef{Name: "ghcr.io/org/web", Tag: "1.5.0"}
	worker := promote.ImageRef{Name: "ghcr.io/org/worker", Tag: "2.1.0"}
	health := promote.GateResult{Name: "health", Passed: true, Detail: "Synced and Healthy"}
	p := promote.PlanProvenance("abc123", nil,
		&promote.Plan{From: dev, To: staging, Images: []promote.ImageRef{web}, Gates: []promote.GateResult{health}},
		&promote.Plan{From: dev, To: staging, Images: []promote.ImageRef{web, worker}})
	assert.Equal(t, promote.Provenance{From: "dev", To: "staging", Revision: "abc123",
		Images: []promote.ImageRef{web, worker}, Gates: []promote.GateResult{health}}, p)
}

// What Publish writes, git reads: a message that ends in trailers of its
// own keeps them, with the provenance joined to them.
func TestPublishJoinsTheMessagesTrailers(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, _ := seedRepo(t, srv)
	prov := promote.Provenance{From: "dev", To: "staging", Images: []promote.ImageRef{{Name: "ghcr.io/org/web", Tag: "1.5.0"}}}
	_, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{
		Branch: "main", Provenance: prov, Edit: setTag("1.5.0"),
		Message: "promote web 1.5.0\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n\n\n",
	})
	require.NoError(t, err)
	assert.Equal(t, "promote web 1.5.0\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n"+prov.Trailers(),
		gitOut(t, repo.Bare, "log", "-1", "--format=%B", "main")+"\n")
	assert.Equal(t, "Signed-off-by: Ada Lovelace <ada@example.com>\n"+prov.Trailers(),
		gitOut(t, repo.Bare, "log", "-1", "--format=%(trailers:only,unfold)", "main")+"\n")
	got, err := promote.ParseProvenance(gitOut(t, repo.Bare, "log", "-1", "--format=%B", "main"))
	require.NoError(t, err)
	assert.Equal(t, prov, got)
}
