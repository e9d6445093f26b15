package promote_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/promote"
)

func TestImageRepositoryTagsCredentials(t *testing.T) {
	open := startServer(t, serverOpts{})
	locked := startServer(t, serverOpts{auth: true})
	cases := map[string]struct {
		reason string
		srv    *server
		creds  promote.Credentials
	}{
		"anonymous": {reason: "an open registry needs no credentials", srv: open},
		"basic": {reason: "user and password answer a Basic challenge", srv: locked,
			creds: promote.Credentials{Username: testUser, Password: testPassword}},
		"bearer token": {reason: "a registry token is sent as Bearer", srv: locked,
			creds: promote.Credentials{Token: testToken}},
		"docker config auth": {reason: "the auth field of the registry's entry", srv: locked,
			creds: promote.Credentials{DockerConfigJSON: dockerConfig(locked.Host, testUser, testPassword)}},
		"docker config with scheme and path": {reason: "a key with a scheme and a path prefix of the repository", srv: locked,
			creds: promote.Credentials{DockerConfigJSON: fmt.Appendf(nil,
				`{"auths":{"https://%s/team":{"username":%q,"password":%q},"%s/other":{"auth":"bm9ib2R5Om5vbmU="}}}`,
				locked.Host, testUser, testPassword, locked.Host)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			repo, err := promote.NewImageRepository(tc.srv.Host+"/team/app", promote.WithInsecure(),
				promote.WithCredentials(tc.creds), promote.WithPageSize(50))
			require.NoError(t, err, tc.reason)
			before := tc.srv.pages.Load()
			tags, err := repo.Tags(context.Background())
			require.NoError(t, err, tc.reason)
			assert.Equal(t, visibleTags(), tags, tc.reason)
			assert.Equal(t, int64(302/50+1), tc.srv.pages.Load()-before, "302 tags in pages of 50, following the Link header")
		})
	}
}

func TestImageRepositoryDefaultPageSize(t *testing.T) {
	srv := startServer(t, serverOpts{})
	repo, err := promote.NewImageRepository(srv.Host+"/big/many", promote.WithInsecure())
	require.NoError(t, err)
	tags, err := repo.Tags(context.Background())
	require.NoError(t, err)
	require.Len(t, tags, 1100)
	assert.Equal(t, "t0000", tags[0])
	assert.Equal(t, "t1099", tags[1099])
	assert.Equal(t, int64(2), srv.pages.Load(), "1100 tags are two pages of 1000")
}

func TestImageRepositoryRefusedCredentials(t *testing.T) {
	locked := startServer(t, serverOpts{auth: true})
	wrongPassword := "wr0ng-" + testPassword
	cases := map[string]struct {
		reason string
		creds  promote.Credentials
		secret []string
	}{
		"none":           {reason: "a locked registry refuses anonymous reads"},
		"wrong password": {reason: "a wrong password is refused", creds: promote.Credentials{Username: testUser, Password: wrongPassword}, secret: []string{wrongPassword}},
		"wrong token":    {reason: "a wrong token is refused", creds: promote.Credentials{Token: "tok-wrong-" + testToken}, secret: []string{"tok-wrong-" + testToken}},
		"docker config wrong password": {reason: "the Docker config's entry is used, and refused",
			creds:  promote.Credentials{DockerConfigJSON: dockerConfig(locked.Host, testUser, wrongPassword)},
			secret: []string{wrongPassword, base64.StdEncoding.EncodeToString([]byte(testUser + ":" + wrongPassword))}},
		"docker config for another host": {reason: "an entry for another registry is not sent: anonymous",
			creds:  promote.Credentials{DockerConfigJSON: dockerConfig("ghcr.io", testUser, testPassword)},
			secret: []string{testPassword}},
		"docker config for another path": {reason: "an entry scoped to another path is not sent",
			creds:  promote.Credentials{DockerConfigJSON: dockerConfig(locked.Host+"/other", testUser, testPassword)},
			secret: []string{testPassword}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			repo, err := promote.NewImageRepository(locked.Host+"/team/app", promote.WithInsecure(), promote.WithCredentials(tc.creds))
			require.NoError(t, err)
			_, err = repo.Tags(context.Background())
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, promote.ErrUnauthorized, tc.reason)
			var re *promote.RegistryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "list tags of", re.Op)
			assert.Contains(t, err.Error(), locked.Host+"/team/app")
			for _, s := range append(tc.secret, testPassword, testToken) {
				assert.NotContains(t, err.Error(), s, "the error shows a secret")
			}
			_, err = repo.Digest(context.Background(), "1.0.0")
			assert.ErrorIs(t, err, promote.ErrUnauthorized, tc.reason)
			for _, s := range tc.secret {
				assert.NotContains(t, err.Error(), s, "the error shows a secret")
			}
		})
	}
}

// TestRegistryErrorRedacts: a secret an underlying error echoes is
// replaced, whatever the cause.
func TestRegistryErrorRedacts(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"you sent %s"}]}`, r.Header.Get("Authorization"))
	}))
	t.Cleanup(echo.Close)
	host := strings.TrimPrefix(echo.URL, "http://")
	for name, creds := range map[string]promote.Credentials{
		"token":         {Token: testToken},
		"docker config": {DockerConfigJSON: dockerConfig(host, testUser, testPassword)},
	} {
		t.Run(name, func(t *testing.T) {
			repo, err := promote.NewImageRepository(host+"/team/app", promote.WithInsecure(), promote.WithCredentials(creds))
			require.NoError(t, err)
			_, err = repo.Tags(context.Background())
			require.ErrorIs(t, err, promote.ErrUnauthorized)
			assert.Contains(t, err.Error(), "you sent")
			assert.Contains(t, err.Error(), "***", "the echoed secret is replaced")
			assert.NotContains(t, err.Error(), testToken)
			assert.NotContains(t, err.Error(), testPassword)
			assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword)))
		})
	}
}

func TestImageRepositoryNotFound(t *testing.T) {
	srv := startServer(t, serverOpts{})
	repo, err := promote.NewImageRepository(srv.Host+"/team/missing", promote.WithInsecure())
	require.NoError(t, err)
	_, err = repo.Tags(context.Background())
	assert.ErrorIs(t, err, promote.ErrImageNotFound)

	repo, err = promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure())
	require.NoError(t, err)
	_, err = repo.Digest(context.Background(), "9.9.9")
	assert.ErrorIs(t, err, promote.ErrImageNotFound)
	assert.Contains(t, err.Error(), `"9.9.9"`)
}

func TestImageRepositoryTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	repo, err := promote.NewImageRepository(strings.TrimPrefix(hang.URL, "http://")+"/team/app",
		promote.WithInsecure(), promote.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	start := time.Now()
	_, err = repo.Tags(context.Background())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "the timeout bounds the listing")

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = repo.Digest(ctx, "1.0.0")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline holds too")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestImageRepositoryBadResponses(t *testing.T) {
	cases := map[string]struct {
		reason string
		serve  http.HandlerFunc
		max    int
		kind   error
	}{
		"html": {reason: "a web page is not a tag list", kind: promote.ErrBadResponse,
			serve: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<!doctype html><html><body>Welcome to our portal</body></html>")
			}},
		"endless pagination": {reason: "a registry that paginates forever is cut at the bound", kind: promote.ErrTooManyTags, max: 5000,
			serve: pages(func(page int) ([]string, string) {
				return []string{fmt.Sprintf("p%d-a", page), fmt.Sprintf("p%d-b", page)}, fmt.Sprintf("/v2/team/app/tags/list?page=%d", page+1)
			})},
		"looping pagination": {reason: "a Link back to a page already read", kind: promote.ErrBadResponse,
			serve: pages(func(page int) ([]string, string) {
				return []string{"a"}, fmt.Sprintf("/v2/team/app/tags/list?page=%d", page%2)
			})},
		"empty pages": {reason: "empty pages that link on make no progress", kind: promote.ErrBadResponse,
			serve: pages(func(page int) ([]string, string) {
				return []string{}, fmt.Sprintf("/v2/team/app/tags/list?page=%d", page+1)
			})},
		"huge body": {reason: "one page is bounded in bytes", kind: promote.ErrBadResponse,
			serve: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"name":"team/app","tags":["`)
				chunk := strings.Repeat("a", 1<<20)
				for range 40 {
					if _, err := fmt.Fprint(w, chunk); err != nil {
						return
					}
				}
				fmt.Fprint(w, `"]}`)
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tc.serve)
			t.Cleanup(srv.Close)
			opts := []promote.RepositoryOption{promote.WithInsecure()}
			if tc.max > 0 {
				opts = append(opts, promote.WithMaxTags(tc.max))
			}
			repo, err := promote.NewImageRepository(strings.TrimPrefix(srv.URL, "http://")+"/team/app", opts...)
			require.NoError(t, err)
			_, err = repo.Tags(context.Background())
			require.Error(t, err, tc.reason)
			assert.ErrorIs(t, err, tc.kind, tc.reason)
		})
	}
}

// pages serves /v2/ and a paginated tag list whose page p is next(p).
func pages(next func(page int) ([]string, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		page := 0
		fmt.Sscanf(r.URL.Query().Get("page"), "%d", &page)
		tags, link := next(page)
		if link != "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, link))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "team/app", "tags": tags})
	}
}

func TestImageRepositoryMaxTags(t *testing.T) {
	srv := startServer(t, serverOpts{})
	repo, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure(), promote.WithMaxTags(120), promote.WithPageSize(50))
	require.NoError(t, err)
	_, err = repo.Tags(context.Background())
	require.ErrorIs(t, err, promote.ErrTooManyTags)
	assert.Contains(t, err.Error(), "more than 120 tags")
	assert.Equal(t, int64(3), srv.pages.Load(), "the listing stops at the page past the bound")
}

func TestImageRepositoryDropsInvalidTags(t *testing.T) {
	bad := []string{"ok-1.0.0", "with\nnewline", `quo"te`, "key: value", strings.Repeat("x", 10<<10), "-dash", ".dot", "ok_2"}
	srv := httptest.NewServer(pages(func(int) ([]string, string) { return bad, "" }))
	t.Cleanup(srv.Close)
	repo, err := promote.NewImageRepository(strings.TrimPrefix(srv.URL, "http://")+"/team/app", promote.WithInsecure())
	require.NoError(t, err)
	tags, err := repo.Tags(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"ok-1.0.0", "ok_2"}, tags)
	_, err = repo.Digest(context.Background(), "with\nnewline")
	assert.ErrorContains(t, err, "is not a tag")
}

func TestImageRepositoryExclusions(t *testing.T) {
	srv := startServer(t, serverOpts{})
	cases := map[string]struct {
		reason string
		opts   []promote.RepositoryOption
		want   func(tags []string)
	}{
		"default": {reason: "Flux's default drops cosign signatures",
			want: func(tags []string) {
				assert.NotContains(t, tags, "sha256-0123abcd.sig")
				assert.Contains(t, tags, "latest")
			}},
		"replaced": {reason: "a list of its own replaces the default", opts: []promote.RepositoryOption{promote.WithExclusions(`^latest$`, `-rc\.`)},
			want: func(tags []string) {
				assert.Contains(t, tags, "sha256-0123abcd.sig")
				assert.NotContains(t, tags, "latest")
				assert.NotContains(t, tags, "2.0.0-rc.1")
			}},
		"none": {reason: "an empty list excludes nothing", opts: []promote.RepositoryOption{promote.WithExclusions()},
			want: func(tags []string) { assert.Len(t, tags, len(appTags())) }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			repo, err := promote.NewImageRepository(srv.Host+"/team/app", append(tc.opts, promote.WithInsecure())...)
			require.NoError(t, err)
			tags, err := repo.Tags(context.Background())
			require.NoError(t, err, tc.reason)
			tc.want(tags)
		})
	}
}

func TestImageRepositoryTLS(t *testing.T) {
	srv := startServer(t, serverOpts{tls: true, auth: true})
	creds := promote.WithCredentials(promote.Credentials{Username: testUser, Password: testPassword})

	repo, err := promote.NewImageRepository(srv.Host+"/team/app", creds, promote.WithTransport(srv.Client().Transport))
	require.NoError(t, err)
	tags, err := repo.Tags(context.Background())
	require.NoError(t, err, "TLS to a loopback registry without WithInsecure")
	assert.Equal(t, visibleTags(), tags)
	digest, err := repo.Digest(context.Background(), "1.3.4")
	require.NoError(t, err)
	assert.Equal(t, getBackend(t).digests["1.3.4"], digest)

	untrusted, err := promote.NewImageRepository(srv.Host+"/team/app", creds)
	require.NoError(t, err)
	_, err = untrusted.Tags(context.Background())
	require.Error(t, err, "a certificate no CA vouches for is refused")
	assert.ErrorContains(t, err, "certificate")
	assert.NotContains(t, err.Error(), testPassword)
}

func TestImageRepositoryPlainHTTPOnlyOnRequest(t *testing.T) {
	srv := startServer(t, serverOpts{})
	repo, err := promote.NewImageRepository(srv.Host + "/team/app")
	require.NoError(t, err)
	_, err = repo.Tags(context.Background())
	require.Error(t, err, "a loopback registry is not read over plain HTTP unasked")
	assert.ErrorContains(t, err, "WithInsecure")
	_, err = repo.Digest(context.Background(), "1.0.0")
	require.Error(t, err)
}

func TestNewImageRepositoryRefuses(t *testing.T) {
	cases := map[string]struct {
		image string
		opts  []promote.RepositoryOption
		want  string
	}{
		"scheme":       {image: "https://ghcr.io/org/app", want: "remove the URL scheme"},
		"tag":          {image: "ghcr.io/org/app:1.0.0", want: "without a tag or digest"},
		"digest":       {image: "ghcr.io/org/app@sha256:" + strings.Repeat("a", 64), want: "without a tag or digest"},
		"bad name":     {image: "ghcr.io/Org/App", want: "repository can only contain"},
		"bad regex":    {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithExclusions("(")}, want: `exclusion pattern "("`},
		"max tags":     {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithMaxTags(0)}, want: "max tags must be positive"},
		"timeout":      {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithTimeout(0)}, want: "timeout must be positive"},
		"two forms":    {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{Username: "u", Password: "secret-pw", Token: "secret-tok"})}, want: "not several"},
		"half basic":   {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{Password: "secret-pw"})}, want: "both a username and a password"},
		"bad config":   {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{DockerConfigJSON: []byte(`{"auths":{"ghcr.io":{"auth":"secret-pw!"}}}`)})}, want: "not base64"},
		"config shape": {image: "ghcr.io/org/app", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{DockerConfigJSON: []byte(`{"ghcr.io":{"auth":"c2VjcmV0LXB3"}}`)})}, want: `no "auths"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := promote.NewImageRepository(tc.image, tc.opts...)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), "secret-")
			if strings.HasPrefix(name, "bad config") || name == "two forms" || name == "half basic" || name == "config shape" {
				assert.True(t, errors.Is(err, promote.ErrInvalidCredentials))
			}
		})
	}
}

// TestRegistryToPolicy is the end-to-end: the tags pushed to a registry,
// listed, picked by a semver policy, and the pick's digest is the image
// pushed under it.
func TestRegistryToPolicy(t *testing.T) {
	srv := startServer(t, serverOpts{auth: true})
	repo, err := promote.NewImageRepository(srv.Host+"/team/app", promote.WithInsecure(), promote.WithPageSize(40),
		promote.WithCredentials(promote.Credentials{DockerConfigJSON: dockerConfig("http://"+srv.Host, testUser, testPassword)}))
	require.NoError(t, err)
	tags, err := repo.Tags(context.Background())
	require.NoError(t, err)

	cases := map[string]struct {
		policy promote.Policy
		want   string
	}{
		"newest 1.x":           {policy: promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0 <2.0.0"}, want: "1.29.9"},
		"a patch line":         {policy: promote.Policy{Kind: promote.SemVer, Range: "~1.7.0"}, want: "1.7.9"},
		"pre-releases allowed": {policy: promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0-0"}, want: "2.0.0-rc.1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tag, err := tc.policy.Latest(tags)
			require.NoError(t, err)
			assert.Equal(t, tc.want, tag)
			digest, err := repo.Digest(context.Background(), tag)
			require.NoError(t, err)
			assert.Equal(t, getBackend(t).digests[tag], digest, "the digest of the image pushed as %s", tag)
		})
	}
}
