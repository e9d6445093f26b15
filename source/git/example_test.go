package git_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/converge-dev/converge/source/git"
)

func Example() {
	// A repository made with the git CLI, read through a file URL (which a
	// host must allow; https and ssh are the usual schemes).
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			panic(string(out))
		}
	}
	run("init", "--quiet", "--initial-branch=main")
	_ = os.MkdirAll(filepath.Join(dir, "apps"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "apps", "api.yaml"), []byte("kind: Deployment\n"), 0o644)
	run("add", ".")
	run("commit", "--quiet", "-m", "first")

	src, err := git.New("file://"+dir, git.Reference{Branch: "main"}, git.WithFileURLs())
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, err := src.Fetch(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := fs.ReadFile(snap.FS, "apps/api.yaml")
	fmt.Println(strings.HasPrefix(snap.Revision, "main@sha1:"), len(snap.Commit.Hash), snap.Commit.Message)
	fmt.Print(string(data))
	// Output:
	// true 40 first
	//
	// kind: Deployment
}

// A Source with credentials and an on-disk cache, as the package overview
// shows it. (Compiled, not run: it needs the network.)
func ExampleNew() {
	ctx := context.Background()
	token := os.Getenv("GIT_TOKEN") // from the host's secret store
	src, err := git.New("https://example.com/deploy.git", git.Reference{Branch: "main"},
		git.WithBearerToken(token), git.WithCacheDir("/var/cache/converge"))
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, err := src.Fetch(ctx) // snap.Revision == "main@sha1:<40 hex>"
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(snap.Revision)
}

func ExampleParseURL() {
	for _, raw := range []string{
		"git@github.com:org/deploy.git",
		"https://token:hunter2@example.com/deploy.git",
		"ssh://-oProxyCommand=touch/x",
		"ext::sh -c evil",
	} {
		u, err := git.ParseURL(raw, false)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(u)
	}
	// Output:
	// ssh://git@github.com/org/deploy.git
	// invalid repository URL "https://example.com/deploy.git": credentials in the URL; pass them as options
	// invalid repository URL "ssh://-oProxyCommand=touch/x": contains a command-line option
	// invalid repository URL "<redacted>": contains white space or a control character
}

func ExampleResolveRevision() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			panic(string(out))
		}
	}
	run("init", "--quiet", "--initial-branch=main")
	for _, msg := range []string{"first", "second"} {
		_ = os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("kind: ConfigMap # "+msg+"\n"), 0o644)
		run("add", ".")
		run("commit", "--quiet", "-m", msg)
	}

	ref, err := git.ResolveRevision(context.Background(), dir, "HEAD~1")
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := git.New("file://"+dir, ref, git.WithFileURLs())
	if err != nil {
		fmt.Println(err)
		return
	}
	snap, err := src.Fetch(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.Branch, len(ref.Commit), snap.Commit.Message)

	_, err = git.ResolveRevision(context.Background(), dir, "main@{1}")
	fmt.Println(errors.Is(err, git.ErrUnsupportedRevision))
	// Output:
	// main 40 first
	//
	// true
}

func ExampleRemoteReferences() {
	for _, rev := range []string{"v1.4.2", "~1.4", "refs/pull/7/head", "HEAD~1"} {
		refs, err := git.RemoteReferences(rev)
		if err != nil {
			fmt.Println(rev, "needs a local clone:", errors.Is(err, git.ErrUnsupportedRevision))
			continue
		}
		var tries []string
		for _, r := range refs {
			switch {
			case r.Branch != "":
				tries = append(tries, "branch "+r.Branch)
			case r.Tag != "":
				tries = append(tries, "tag "+r.Tag)
			case r.SemVer != "":
				tries = append(tries, "semver "+r.SemVer)
			case r.Name != "":
				tries = append(tries, "name "+r.Name)
			}
		}
		fmt.Println(rev, "tries", strings.Join(tries, ", then "))
	}
	// Output:
	// v1.4.2 tries branch v1.4.2, then tag v1.4.2
	// ~1.4 tries semver ~1.4
	// refs/pull/7/head tries name refs/pull/7/head
	// HEAD~1 needs a local clone: true
}
