package reconcile_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/reconcile"
)

func TestSourceIdentity(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://github.com/myorg/gitops-deploy.git", "github.com/myorg/gitops-deploy"},
		{"https://GitHub.com/myorg/gitops-deploy/", "github.com/myorg/gitops-deploy"},
		{"https://user:token@github.com/myorg/gitops-deploy.git", "github.com/myorg/gitops-deploy"},
		{"ssh://git@github.com/myorg/gitops-deploy.git", "github.com/myorg/gitops-deploy"},
		{"git@github.com:myorg/gitops-deploy.git", "github.com/myorg/gitops-deploy"},
		{"https://git.example.com:8443/deploy", "git.example.com:8443/deploy"},
		{"https://git.example.com:443/deploy", "git.example.com/deploy"},
		{"file:///srv/git/deploy.git", "file:///srv/git/deploy.git"},
		{"/srv/repos/deploy", "file:///srv/repos/deploy"},
		{"", ""},
	} {
		if got := reconcile.SourceIdentity(tc.in); got != tc.want {
			t.Errorf("SourceIdentity(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A URL holding credentials must never give an identity that holds them:
// the identity is written on every applied object.
func FuzzSourceIdentityHoldsNoCredentials(f *testing.F) {
	f.Add("https", "git.example.com", "org/repo.git", "user", "hunter2")
	f.Add("ssh", "host:22", "r", "git", "s3cr3t-pass")
	f.Add("http", "[::1]:80", "x?y", "u", "pa:ss@word")
	f.Fuzz(func(t *testing.T, scheme, host, path, user, password string) {
		if len(password) < 6 || strings.Contains(scheme+host+path+user, password) {
			return // a password that also appears elsewhere is not a secret of the userinfo
		}
		raw := scheme + "://" + url.UserPassword(user, password).String() + "@" + host + "/" + path
		if id := reconcile.SourceIdentity(raw); strings.Contains(id, password) || strings.Contains(id, url.QueryEscape(password)) {
			t.Fatalf("identity %q of %q holds the password", id, raw)
		}
	})
}

func TestDefaultNameIsALabelAndDiffersByRepository(t *testing.T) {
	long := strings.Repeat("very-long-directory-name/", 6)
	names := map[string]bool{}
	for _, repo := range []string{"https://github.com/a/apps", "https://github.com/b/apps", "/local/apps"} {
		for _, path := range []string{"guestbook", "clusters/dev", ".", long, "Ünïcode dir"} {
			n := reconcile.DefaultName(repo, path)
			u := reconcile.Unit{Name: n, Source: reconcile.Source{URL: "https://x/y"}}
			if err := u.Validate(); err != nil {
				t.Fatalf("DefaultName(%q, %q) = %q: %v", repo, path, n, err)
			}
			if names[n] {
				t.Fatalf("two sources or paths give one name %q", n)
			}
			names[n] = true
		}
	}
	if reconcile.DefaultName("https://github.com/a/apps.git", "x") != reconcile.DefaultName("git@github.com:a/apps", "x") {
		t.Fatal("two spellings of one repository give two names")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	ok := reconcile.Unit{Name: "app", Namespace: "team", Source: reconcile.Source{URL: "https://git.example.com/deploy"}}
	for name, tc := range map[string]struct {
		edit func(*reconcile.Unit)
		want string
	}{
		"no name":          {func(u *reconcile.Unit) { u.Name = "" }, "no name"},
		"bad name":         {func(u *reconcile.Unit) { u.Name = "Not_A_Label" }, "DNS label"},
		"no source":        {func(u *reconcile.Unit) { u.Source = reconcile.Source{} }, "no URL"},
		"two sources":      {func(u *reconcile.Unit) { u.Source.Dir = "/tmp" }, "both"},
		"escaping path":    {func(u *reconcile.Unit) { u.Path = "../other" }, "inside it"},
		"absolute path":    {func(u *reconcile.Unit) { u.Path = "/etc" }, "inside it"},
		"render kind":      {func(u *reconcile.Unit) { u.Render.Kind = "Jsonnet" }, "Jsonnet"},
		"substitute kind":  {func(u *reconcile.Unit) { u.Substitute.From = []reconcile.SubstituteFrom{{Kind: "Pod", Name: "x"}} }, "Pod"},
		"self dependency":  {func(u *reconcile.Unit) { u.DependsOn = []reconcile.Ref{{Name: "app"}} }, "itself"},
		"negative retry":   {func(u *reconcile.Unit) { u.Retry.Limit = -1 }, "retry"},
		"bad ignore rule":  {func(u *reconcile.Unit) { u.Ignore = []diff.IgnoreRule{{Paths: []string{"spec[[["}}} }, "ignore"},
		"negative timeout": {func(u *reconcile.Unit) { u.Timeout = -1 }, "negative"},
	} {
		u := ok
		tc.edit(&u)
		err := u.Validate()
		if !errors.Is(err, reconcile.ErrInvalidUnit) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrInvalidUnit naming %q", name, err, tc.want)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  reconcile.RenderKind
	}{
		{map[string]string{"app/kustomization.yaml": "resources: []"}, reconcile.RenderKustomize},
		{map[string]string{"app/Kustomization": "resources: []"}, reconcile.RenderKustomize},
		{map[string]string{"app/Chart.yaml": "name: x"}, reconcile.RenderHelm},
		{map[string]string{"app/deploy.yaml": "kind: x"}, reconcile.RenderPlain},
		{map[string]string{"app/README.md": "x"}, reconcile.RenderPlain},
	} {
		fsys := mapFS(tc.files)
		if got := reconcile.Detect(fsys, "app"); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.files, got, tc.want)
		}
	}
}

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

func TestParseRemoteBase(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want reconcile.RemoteBase
	}{
		{"https://github.com/org/repo//deploy/base?ref=v1", reconcile.RemoteBase{Repo: "https://github.com/org/repo", Dir: "deploy/base", Ref: "v1"}},
		{"github.com/org/repo/deploy/base?ref=main", reconcile.RemoteBase{Repo: "https://github.com/org/repo", Dir: "deploy/base", Ref: "main"}},
		{"git@github.com:org/repo.git//base", reconcile.RemoteBase{Repo: "ssh://git@github.com/org/repo.git", Dir: "base"}},
		{"ssh://git@git.example.com/team/repo.git/base?version=abc", reconcile.RemoteBase{Repo: "ssh://git@git.example.com/team/repo.git", Dir: "base", Ref: "abc"}},
		{"git::https://git.example.com/a/b.git", reconcile.RemoteBase{Repo: "https://git.example.com/a/b.git", Dir: "."}},
		{"https://gitlab.com/group/repo//?ref=x&timeout=90", reconcile.RemoteBase{Repo: "https://gitlab.com/group/repo", Dir: ".", Ref: "x"}},
	} {
		got, err := reconcile.ParseRemoteBase(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRemoteBase(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"https://git.example.com/a/b/c",            // where does the repository end?
		"https://github.com/org/repo//../../etc",   // leaves the repository
		"file:///etc//x",                           // not a network repository
		"https://user:hunter2@git.example.com/a/b", // no "//" and a password
	} {
		_, err := reconcile.ParseRemoteBase(bad)
		if !errors.Is(err, reconcile.ErrRemoteBase) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseRemoteBase(%q): %v", bad, err)
		}
	}
}

func FuzzParseRemoteBase(f *testing.F) {
	for _, s := range []string{"https://github.com/org/repo//deploy/base?ref=v1", "git@github.com:org/repo.git//base",
		"github.com/o/r/x", "https://h/a.git/../../x", "git::ssh://u:p@h/r.git//d?ref=%zz", "https://github.com/o/r//a/../../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		rb, err := reconcile.ParseRemoteBase(ref)
		if err != nil {
			if !errors.Is(err, reconcile.ErrRemoteBase) && !strings.Contains(err.Error(), "not") {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if rb.Dir == "" || strings.HasPrefix(rb.Dir, "/") || rb.Dir == ".." || strings.HasPrefix(rb.Dir, "../") || strings.Contains(rb.Dir, "/../") {
			t.Fatalf("%q: directory %q leaves the repository", ref, rb.Dir)
		}
		if !strings.HasPrefix(rb.Repo, "https://") && !strings.HasPrefix(rb.Repo, "http://") && !strings.HasPrefix(rb.Repo, "ssh://") {
			t.Fatalf("%q: repository %q", ref, rb.Repo)
		}
	})
}
