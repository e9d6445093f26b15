package promote_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
)

var basicCreds = promote.Credentials{Username: testUser, Password: testPassword}

// assertNoSecret checks that an error's text shows none of the test
// credentials, plain or as the basic auth header carries them.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range []string{testPassword, testToken, base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))} {
		assert.NotContains(t, err.Error(), s)
	}
}

// TestGitTagsListsARealServer lists the tags of a repository on git
// http-backend: annotated tags peeled to their commits, lightweight ones
// as they are, names a YAML file cannot take as they are skipped and
// counted, the default exclusion applied, and a policy picks from them.
func TestGitTagsListsARealServer(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithBasicAuth(testUser, testPassword))
	repo := srv.NewRepo(t, "app")
	first := repo.Commit(t, "one", map[string]string{"a": "1"})
	repo.Tag(t, "v1.0.0", "release 1.0.0")
	second := repo.Commit(t, "two", map[string]string{"a": "2"})
	repo.Tag(t, "v1.1.0", "")
	repo.Tag(t, "v2.0.0-rc.1", "release candidate")
	repo.Tag(t, "release/1.1", "")
	repo.Tag(t, "v1.1.0.sig", "")     // excluded by DefaultExclusions: not counted
	repo.Tag(t, `v1.2.0"quote`, "")   // Git allows these three; YAML would not
	repo.Tag(t, "v1.3.0{a}", "")      // take them as they are
	repo.Tag(t, "v1.4.0#comment", "") //

	src, err := promote.NewGitTags(repo.URL, promote.WithInsecure(), promote.WithCredentials(basicCreds))
	require.NoError(t, err)
	assert.Equal(t, repo.URL, src.Name())
	l, err := src.List(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []promote.GitTag{
		{Name: "release/1.1", Commit: second},
		{Name: "v1.0.0", Commit: first, Annotated: true},
		{Name: "v1.1.0", Commit: second},
		{Name: "v2.0.0-rc.1", Commit: second, Annotated: true},
	}, l.Tags, "sorted, annotated tags peeled to their commits")
	assert.Equal(t, 3, l.Skipped, "the quote, the braces and the '#'")
	tagObject, err := gittest.Git(repo.Work, "rev-parse", "v1.0.0")
	require.NoError(t, err)
	require.NotEqual(t, strings.TrimSpace(tagObject), first, "v1.0.0 is a tag object, not the commit")

	tags, err := src.Tags(context.Background())
	require.NoError(t, err)
	assert.Equal(t, l.Names(), tags)
	latest, err := promote.Policy{Kind: promote.SemVer, Range: "^1"}.Latest(tags)
	require.NoError(t, err)
	assert.Equal(t, "v1.1.0", latest)
	tag, ok := l.Lookup(latest)
	require.True(t, ok)
	assert.Equal(t, second, tag.Commit)
	_, ok = l.Lookup("v9")
	assert.False(t, ok)

	mine, err := promote.NewGitTags(repo.URL, promote.WithInsecure(), promote.WithCredentials(basicCreds),
		promote.WithExclusions(`^release/`, `-rc`))
	require.NoError(t, err)
	tags, err = mine.Tags(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"v1.0.0", "v1.1.0", "v1.1.0.sig"}, tags, "WithExclusions replaces the default")
}

// TestGitTagsBearerToken: a Token goes as "Authorization: Bearer", which
// the middleware turns into the server's basic credentials.
func TestGitTagsBearerToken(t *testing.T) {
	srv := gittest.NewServer(t, gittest.WithBasicAuth(testUser, testPassword), gittest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer "+testToken {
				r.SetBasicAuth(testUser, testPassword)
			}
			next.ServeHTTP(w, r)
		})
	}))
	repo := srv.NewRepo(t, "app")
	repo.Commit(t, "one", map[string]string{"a": "1"})
	repo.Tag(t, "1.0.0", "")
	src, err := promote.NewGitTags(repo.URL, promote.WithInsecure(), promote.WithCredentials(promote.Credentials{Token: testToken}))
	require.NoError(t, err)
	tags, err := src.Tags(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"1.0.0"}, tags)
}

func TestGitTagsEmptyRepository(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "empty")
	src, err := promote.NewGitTags(repo.URL, promote.WithInsecure())
	require.NoError(t, err)
	l, err := src.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, l.Tags)
	assert.NotNil(t, l.Tags)
}

// TestGitTagsErrors: refusals, a missing repository, the bounds and
// servers that answer with something else are each a *RegistryError of
// its kind, and none shows a credential, even echoed by the server.
func TestGitTagsErrors(t *testing.T) {
	echo := func(status int) gittest.ServerOption {
		return gittest.WithMiddleware(func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "you sent "+r.Header.Get("Authorization"), status)
			})
		})
	}
	var written atomic.Int64
	endless := gittest.WithMiddleware(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			e := pktline.NewEncoder(w)
			_ = e.EncodeString("# service=git-upload-pack\n")
			_ = e.Flush()
			for i := 0; ; i++ {
				line := fmt.Sprintf("%040x refs/tags/t%d\n", i+1, i)
				if i == 0 {
					line = fmt.Sprintf("%040x refs/tags/t0\x00multi_ack\n", i+1)
				}
				if e.EncodeString(line) != nil {
					return
				}
				written.Add(int64(len(line) + 4))
			}
		})
	})
	for name, c := range map[string]struct {
		reason string
		server []gittest.ServerOption
		repo   string
		opts   []promote.RepositoryOption
		want   error
		text   string
	}{
		"wrong password": {
			reason: "401 from the server's basic auth",
			server: []gittest.ServerOption{gittest.WithBasicAuth(testUser, "another-password")},
			want:   promote.ErrUnauthorized, text: "unauthorized: authentication required",
		},
		"anonymous": {
			reason: "no credentials for a server that wants them",
			server: []gittest.ServerOption{gittest.WithBasicAuth(testUser, testPassword)},
			opts:   []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{})},
			want:   promote.ErrUnauthorized,
		},
		"401 echoing the header": {
			reason: "the body of a 401 is not shown", server: []gittest.ServerOption{echo(http.StatusUnauthorized)},
			want: promote.ErrUnauthorized,
		},
		"403": {
			reason: "forbidden is unauthorized too", server: []gittest.ServerOption{echo(http.StatusForbidden)},
			want: promote.ErrUnauthorized, text: "authorization failed",
		},
		"500 echoing the header": {
			reason: "a server error says its status", server: []gittest.ServerOption{echo(http.StatusInternalServerError)},
			text: "the server answered 500 Internal Server Error",
		},
		"no such repository": {
			reason: "404 from http-backend", repo: "nope",
			want: promote.ErrImageNotFound, text: "repository not found",
		},
		"too many tags": {
			reason: "the bound counts every tag listed",
			opts:   []promote.RepositoryOption{promote.WithMaxTags(2)},
			want:   promote.ErrTooManyTags, text: "3 tags, more than 2",
		},
		"html": {
			reason: "a login page is not a listing",
			server: []gittest.ServerOption{gittest.WithMiddleware(func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_, _ = w.Write([]byte("<!doctype html><html><body>Sign in</body></html>"))
				})
			})},
			want: promote.ErrBadResponse, text: "not a Git reference listing",
		},
		"endless listing": {
			reason: "the listing is bounded in bytes",
			server: []gittest.ServerOption{endless},
			want:   promote.ErrBadResponse, text: "larger than",
		},
		"stall": {
			reason: "the timeout bounds a server that never answers",
			server: []gittest.ServerOption{gittest.WithMiddleware(func(http.Handler) http.Handler {
				return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			})},
			opts: []promote.RepositoryOption{promote.WithTimeout(200 * time.Millisecond)},
			want: context.DeadlineExceeded,
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := gittest.NewServer(t, c.server...)
			repo := srv.NewRepo(t, "app")
			repo.Commit(t, "one", map[string]string{"a": "1"})
			for _, tag := range []string{"1.0.0", "1.1.0", "1.2.0"} {
				repo.Tag(t, tag, "")
			}
			url := repo.URL
			if c.repo != "" {
				url = strings.Replace(url, "/app.git", "/"+c.repo+".git", 1)
			}
			opts := append([]promote.RepositoryOption{promote.WithInsecure(), promote.WithCredentials(basicCreds)}, c.opts...)
			src, err := promote.NewGitTags(url, opts...)
			require.NoError(t, err)
			start := time.Now()
			_, err = src.List(context.Background())
			t.Log(err)
			assertNoSecret(t, err)
			var re *promote.RegistryError
			require.ErrorAs(t, err, &re, c.reason)
			assert.Equal(t, url, re.Image)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want, c.reason)
			}
			assert.ErrorContains(t, err, c.text, c.reason)
			assert.Less(t, time.Since(start), 20*time.Second)
		})
	}
	assert.Less(t, written.Load(), int64(40<<20), "the endless listing was read to its bound and no further")
}

// advertisement is the reference listing a Git server sends over smart
// HTTP: refs maps names to hashes, peeled the annotated tags to their
// targets.
func advertisement(t testing.TB, refs, peeled map[string]string) []byte {
	t.Helper()
	ar := packp.NewAdvRefs()
	ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
	for name, h := range refs {
		ar.References[name] = plumbing.NewHash(h)
	}
	for name, h := range peeled {
		ar.Peeled[name] = plumbing.NewHash(h)
	}
	var b bytes.Buffer
	require.NoError(t, ar.Encode(&b))
	return b.Bytes()
}

// serveListing answers every request with a listing, as a Git server's
// info/refs would.
func serveListing(t testing.TB, listing []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_, _ = w.Write(listing)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/app.git"
}

// TestGitTagsHostileNames: a server may list what Git itself would
// refuse; such names are skipped and counted, never a crash.
func TestGitTagsHostileNames(t *testing.T) {
	const c1, c2, obj = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"
	refs := map[string]string{"refs/heads/main": c2, "refs/tags/v1.0.0": obj, "refs/tags/v1.1.0": c2}
	for _, name := range []string{
		"v1.2.0\nimage:evil", "v1.3.0\"", "v1.4.0'", "{a:b}", "v1.5.0:x", "[1,2]", "&anchor", "*alias",
		"../../etc", "-rf", "v1.7.0\x00", strings.Repeat("v", 10<<10),
	} {
		refs["refs/tags/"+name] = c1
	}
	url := serveListing(t, advertisement(t, refs, map[string]string{"refs/tags/v1.0.0": c1}))
	src, err := promote.NewGitTags(url, promote.WithInsecure())
	require.NoError(t, err)
	l, err := src.List(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []promote.GitTag{{Name: "v1.0.0", Commit: c1, Annotated: true}, {Name: "v1.1.0", Commit: c2}}, l.Tags)
	assert.Equal(t, 12, l.Skipped)

	// go-git refuses the whole listing when a name holds a space: a clear
	// error, not a crash.
	refs["refs/tags/v1.6.0 with spaces"] = c1
	src, err = promote.NewGitTags(serveListing(t, advertisement(t, refs, nil)), promote.WithInsecure())
	require.NoError(t, err)
	_, err = src.List(context.Background())
	assert.ErrorIs(t, err, promote.ErrBadResponse)
	assert.ErrorContains(t, err, "more than one space found")
}

func TestNewGitTagsRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		url  string
		opts []promote.RepositoryOption
		text string
	}{
		"empty":                {url: "", text: "empty"},
		"ssh":                  {url: "ssh://git@example.com/app.git", text: "SSH remotes are not supported"},
		"scp-like":             {url: "git@example.com:org/app.git", text: "SSH remotes are not supported"},
		"file":                 {url: "file:///srv/app.git", text: "scheme file is not allowed"},
		"ftp":                  {url: "ftp://example.com/app.git", text: `scheme "ftp" is not allowed`},
		"password in the URL":  {url: "https://ci:" + testPassword + "@example.com/app.git", text: "credentials in the URL"},
		"plain HTTP":           {url: "http://example.com/app.git", text: "plain HTTP needs WithInsecure"},
		"docker config":        {url: "https://example.com/app.git", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{DockerConfigJSON: dockerConfig("example.com", testUser, testPassword)})}, text: "a Docker config is for registries"},
		"user without secret":  {url: "https://example.com/app.git", opts: []promote.RepositoryOption{promote.WithCredentials(promote.Credentials{Username: testUser})}, text: "need both a username and a password"},
		"bad exclusion":        {url: "https://example.com/app.git", opts: []promote.RepositoryOption{promote.WithExclusions("(")}, text: "exclusion pattern"},
		"no tags allowed":      {url: "https://example.com/app.git", opts: []promote.RepositoryOption{promote.WithMaxTags(0)}, text: "max tags must be positive"},
		"no time allowed":      {url: "https://example.com/app.git", opts: []promote.RepositoryOption{promote.WithTimeout(0)}, text: "timeout must be positive"},
		"option in the URL":    {url: "https://example.com/--upload-pack=touch", text: "command-line option"},
		"newline in the URL":   {url: "https://example.com/app.git\n", text: "white space"},
		"query in the URL":     {url: "https://example.com/app.git?token=" + testToken, text: "query or fragment"},
		"no repository path":   {url: "https://example.com/", text: "no repository path"},
		"password not a token": {url: "https://" + testToken + "@example.com/app.git", text: "user name in an http URL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := promote.NewGitTags(c.url, c.opts...)
			assertNoSecret(t, err)
			assert.ErrorContains(t, err, c.text)
		})
	}
}
