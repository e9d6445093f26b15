package promote_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"

	"github.com/converge-dev/converge/promote"
)

func ExampleHelmChart_Versions() {
	// A chart repository serving its index.yaml, as `helm repo index`
	// writes it (trimmed), with an entry no chart version looks like.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `apiVersion: v1
entries:
  web:
  - version: 1.3.0-rc.1
  - version: 1.2.0+build.5
    digest: 7d3bd4f8c0b3e2a1f5d6c7b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9a8b7c
  - version: 1.1.0
  - version: "1.0.0\nimage: evil"
`)
	}))
	defer srv.Close()

	ctx := context.Background()
	chart, err := promote.NewHelmChart(srv.URL, "web", promote.WithInsecure())
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := chart.Versions(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.Names(), "skipped:", l.Skipped)

	version, _ := promote.Policy{Kind: promote.SemVer, Range: "^1.0.0"}.Latest(l.Names())
	digest, _ := chart.Digest(ctx, version)
	fmt.Println(version, digest)
	// Output:
	// [1.3.0-rc.1 1.2.0+build.5 1.1.0] skipped: 1
	// 1.2.0+build.5 sha256:7d3bd4f8c0b3e2a1f5d6c7b8a9e0f1d2c3b4a5968778695a4b3c2d1e0f9a8b7c
}

func ExampleGitTags_List() {
	// A Git server's reference listing (what `git ls-remote` reads): the
	// annotated tag v1.0.0 is a tag object that peels to a commit.
	const commit1, commit2, tagObject = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222", "3333333333333333333333333333333333333333"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ar := packp.NewAdvRefs()
		ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
		ar.References["refs/heads/main"] = plumbing.NewHash(commit2)
		ar.References["refs/tags/v1.0.0"] = plumbing.NewHash(tagObject)
		ar.Peeled["refs/tags/v1.0.0"] = plumbing.NewHash(commit1)
		ar.References["refs/tags/v1.1.0"] = plumbing.NewHash(commit2)
		ar.References["refs/tags/v2.0.0-rc.1"] = plumbing.NewHash(commit2)
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_ = ar.Encode(w)
	}))
	defer srv.Close()

	tags, err := promote.NewGitTags(srv.URL+"/app.git", promote.WithInsecure(),
		promote.WithCredentials(promote.Credentials{Username: "ci", Password: "token"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := tags.List(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	latest, _ := promote.Policy{Kind: promote.SemVer, Range: "^1"}.Latest(l.Names())
	tag, _ := l.Lookup(latest)
	fmt.Println(l.Names())
	fmt.Println(tag.Name, tag.Commit[:7], tag.Annotated)
	first, _ := l.Lookup("v1.0.0")
	fmt.Println(first.Name, first.Commit[:7], first.Annotated)
	// Output:
	// [v1.0.0 v1.1.0 v2.0.0-rc.1]
	// v1.1.0 2222222 false
	// v1.0.0 1111111 true
}
