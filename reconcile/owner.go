package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):([^/].*)$`)

// SourceIdentity returns a credential-free identity of a repository URL
// or directory, equal for the spellings of one repository:
// "https://user:token@GitHub.com/org/repo.git/", "git@github.com:org/repo"
// and "ssh://git@github.com/org/repo" all give "github.com/org/repo". A
// local directory gives "file://" and its absolute path. It is what
// apply records as an object's source, so that two units that share an
// owner name by mistake refuse to prune each other's objects.
func SourceIdentity(repo string) string {
	if repo == "" {
		return ""
	}
	if m := scpLike.FindStringSubmatch(repo); m != nil && !strings.Contains(repo, "://") {
		return strings.ToLower(m[2]) + "/" + cleanRepoPath(m[3])
	}
	if !strings.Contains(repo, "://") {
		if strings.Contains(repo, "@") {
			return opaque(repo) // neither a URL nor a plain path: it may hold a password
		}
		if abs, err := filepath.Abs(repo); err == nil {
			repo = abs
		}
		return "file://" + filepath.ToSlash(filepath.Clean(repo))
	}
	u, err := url.Parse(repo)
	if err == nil && u.Scheme == "file" && u.User == nil {
		return "file://" + filepath.ToSlash(filepath.Clean(u.Path))
	}
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return opaque(repo)
	}
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !defaultPort(u.Scheme, p) {
		host += ":" + p
	}
	return host + "/" + cleanRepoPath(u.Path)
}

// opaque identifies text that does not parse as a repository URL by a
// hash, never by the text: it may hold a password.
func opaque(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return "unparsable-url-" + hex.EncodeToString(sum[:8])
}

func cleanRepoPath(p string) string {
	p = strings.Trim(p, "/")
	p = strings.TrimSuffix(p, ".git")
	return strings.TrimSuffix(p, "/")
}

func defaultPort(scheme, port string) bool {
	return (scheme == "https" && port == "443") || (scheme == "http" && port == "80") || (scheme == "ssh" && port == "22")
}

// DefaultName derives a unit name for a repository path when the host
// gives none, as the CLI does for ad-hoc runs: the path in lower-case
// letters, digits and '-', then a short hash of the repository's identity,
// so that "guestbook" in two repositories are two units:
// "clusters/dev" of github.com/org/deploy gives "clusters-dev-1a2b3c4d".
func DefaultName(repo, path string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(path) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "root"
	}
	sum := sha256.Sum256([]byte(SourceIdentity(repo)))
	suffix := "-" + hex.EncodeToString(sum[:4])
	if max := 54 - len(suffix); len(name) > max {
		name = strings.TrimRight(name[:max], "-")
	}
	return name + suffix
}
