package git_test

import (
	"strings"
	"testing"

	"github.com/converge-dev/converge/source/git"
)

// FuzzParseURL checks what ParseURL accepts, and that a password or a
// query token put into any URL never reaches the error text.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/org/repo.git", "git@example.com:org/repo.git", "ssh://-oProxyCommand=sh/x",
		"--upload-pack=touch /tmp/x", "-oProxyCommand=sh", "ext::sh -c x", "file:///srv/repo",
		"http://[::1]:80/r", "ssh://git@example.com:22/-r", "a@-b:c", "/local/path", "./rel",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	const secret = "Zq9xK7pW"
	f.Fuzz(func(t *testing.T, raw string, allowFile bool) {
		checkAccepted(t, raw, allowFile)
		if strings.Contains(raw, "Zq9") {
			return
		}
		for _, withSecret := range []string{
			strings.Replace(raw, "://", "://user:"+secret+"@", 1),
			raw + "?token=" + secret,
			raw + "#" + secret,
		} {
			if withSecret == raw || strings.Count(withSecret, secret) != 1 {
				continue
			}
			_, err := git.ParseURL(withSecret, allowFile)
			if err == nil {
				t.Fatalf("accepted %q with credentials", withSecret)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error repeats the secret: %v", err)
			}
			if strings.Contains(git.Redact(withSecret), secret) {
				t.Fatalf("Redact(%q) keeps the secret", withSecret)
			}
		}
	})
}

func checkAccepted(t *testing.T, raw string, allowFile bool) {
	u, err := git.ParseURL(raw, allowFile)
	if err != nil {
		return
	}
	s := u.String()
	switch u.Scheme {
	case "https", "http", "ssh":
		if strings.HasPrefix(u.Hostname(), "-") || u.Hostname() == "" {
			t.Fatalf("accepted host %q in %q", u.Hostname(), raw)
		}
	case "file":
		if !allowFile {
			t.Fatalf("accepted file URL %q", raw)
		}
	default:
		t.Fatalf("accepted scheme %q", u.Scheme)
	}
	if _, set := u.User.Password(); set {
		t.Fatalf("accepted a password in %q", raw)
	}
	if strings.HasPrefix(s, "-") || strings.Contains(s, "--upload-pack") || strings.ContainsAny(s, " \n\t") {
		t.Fatalf("accepted option-like %q", s)
	}
	if u.User != nil && strings.HasPrefix(u.User.Username(), "-") {
		t.Fatalf("accepted user %q", u.User.Username())
	}
}

func FuzzCheckRefName(f *testing.F) {
	for _, s := range []string{"refs/heads/main", "refs/heads/a..b", "refs/heads/a.lock", "@", "refs/heads/a@{1}", "refs//x", "refs/heads/.x", "refs/heads/x."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if git.CheckRefName(name) != nil {
			return
		}
		if strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.Contains(name, "//") ||
			strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") || strings.HasPrefix(name, "/") ||
			strings.ContainsAny(name, " ~^:?*[\\\x00\x7f") || strings.Contains(name, "/.") || strings.HasPrefix(name, ".") {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range strings.Split(name, "/") {
			if strings.HasSuffix(c, ".lock") {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}

// FuzzResolveSubmoduleURL checks that a .gitmodules URL, relative or not,
// is accepted only when ParseURL would accept the result, and that a
// relative one never leaves the base's host or climbs above its root.
func FuzzResolveSubmoduleURL(f *testing.F) {
	for _, s := range []string{
		"../lib.git", "./lib.git", "../../../../x", "../-x", "./a/../../b", "--upload-pack=x",
		"-oProxyCommand=sh", "ext::sh -c x", "file:///etc", "https://other/x.git", "../x?y", "./",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	base, err := git.ParseURL("https://example.com/org/repo.git", false)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, allowFile bool) {
		u, err := git.ResolveSubmoduleURL(base, raw, allowFile)
		if err != nil {
			return
		}
		checkAccepted(t, u.String(), allowFile)
		if strings.HasPrefix(raw, "./") || strings.HasPrefix(raw, "../") {
			if u.Host != base.Host || u.Scheme != base.Scheme {
				t.Fatalf("relative %q left the host: %s", raw, u)
			}
			for _, seg := range strings.Split(u.Path, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("relative %q kept a dot component: %s", raw, u)
				}
			}
		}
	})
}
