package cli

import (
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// testRegistry serves a real distribution-protocol registry with images
// pushed under the given tags of shop/web, and returns its host.
func testRegistry(t *testing.T, tags ...string) (host string, digests map[string]string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(discardWriter{}, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	digests = map[string]string{}
	for _, tag := range tags {
		img, err := random.Image(128, 1)
		require.NoError(t, err)
		ref, err := name.NewTag(host+"/shop/web:"+tag, name.Insecure)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img))
		d, err := img.Digest()
		require.NoError(t, err)
		digests[tag] = d.String()
	}
	return host, digests
}

func TestImageLatest(t *testing.T) {
	host, digests := testRegistry(t, "1.4.0", "1.4.2", "1.5.0", "2.0.0-rc.1", "main-20261201", "main-20261130", "sha256-abc.sig")
	repo := host + "/shop/web"

	r := converge(t, "image", "latest", repo, "--semver", "^1.0", "--insecure")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "1.5.0\n", r.stdout)

	r = converge(t, "image", "latest", repo, "--semver", ">=1.0.0-0", "--insecure", "--digest")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "2.0.0-rc.1@"+digests["2.0.0-rc.1"]+"\n", r.stdout, "a range with a pre-release admits pre-releases")

	r = converge(t, "image", "latest", repo, "--alphabetical", "asc", "--filter", `^main-(?P<ts>\d+)$`, "--extract", "$ts", "--insecure")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "main-20261201\n", r.stdout)

	r = converge(t, "image", "latest", repo, "--semver", "^3", "--insecure")
	assert.Equal(t, ExitFailed, r.code)
	assert.Equal(t, "converge image latest: no tag of "+repo+" matches the policy (6 tags read)\n", r.stderr, "the signature tag is excluded")

	// Credentials from a Docker config file reach the registry; none is
	// ever printed.
	config := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(config, []byte(`{"auths":{"`+host+`":{"username":"ci","password":"s3cret-registry-pass"}}}`), 0o600))
	r = converge(t, "image", "latest", repo, "--semver", "1.4.x", "--insecure", "--docker-config", config)
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "1.4.2\n", r.stdout)

	// A registry that is not there fails, plainly.
	r = converge(t, "image", "latest", "127.0.0.1:1/shop/web", "--semver", "^1", "--insecure")
	assert.Equal(t, ExitFailed, r.code)
	assert.Contains(t, r.stderr, "converge image latest: list tags of 127.0.0.1:1/shop/web: ")
}

func TestImageLatestBadUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no policy":         {"image", "latest", "ghcr.io/org/app"},
		"two policies":      {"image", "latest", "ghcr.io/org/app", "--semver", "^1", "--numerical", "asc"},
		"bad range":         {"image", "latest", "ghcr.io/org/app", "--semver", "not a range"},
		"bad order":         {"image", "latest", "ghcr.io/org/app", "--numerical", "up"},
		"extract alone":     {"image", "latest", "ghcr.io/org/app", "--alphabetical", "asc", "--extract", "$ts"},
		"bad repository":    {"image", "latest", "UPPER/Case:tag\n", "--semver", "^1"},
		"no repository":     {"image", "latest", "--semver", "^1"},
		"missing config":    {"image", "latest", "ghcr.io/org/app", "--semver", "^1", "--docker-config", "/nonexistent"},
		"bad filter regexp": {"image", "latest", "ghcr.io/org/app", "--alphabetical", "asc", "--filter", "("},
	} {
		t.Run(name, func(t *testing.T) {
			r := converge(t, args...)
			assert.Equal(t, ExitUsage, r.code, r.stderr)
			assert.True(t, strings.HasPrefix(r.stderr, "converge image latest: "), r.stderr)
		})
	}
}
