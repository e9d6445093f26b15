package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/object"
)

// ErrRestricted: the unit's Restrictions refuse its source, its
// destination, or a kind or namespace of its render. Every such refusal
// wraps it, so that a host can tell a project violation from a failure.
var ErrRestricted = errors.New("not permitted by the unit's restrictions")

// restrictedError is a refusal of an object by the restrictions: its text
// names the object, and it wraps ErrRestricted.
type restrictedError struct{ msg string }

func (e *restrictedError) Error() string { return e.msg }
func (e *restrictedError) Unwrap() error { return ErrRestricted }

func restricted(format string, args ...any) error {
	return &restrictedError{msg: fmt.Sprintf(format, args...)}
}

// Decrypter is implemented by Steps that decrypt rendered objects: a unit
// with Decryption runs only when a Step says it decrypts its provider.
type Decrypter interface {
	Decrypts(provider string) bool
}

// checkDecryption fails a unit that asks for decryption no step provides:
// applying ciphertext would be worse than not applying.
func (r *Reconciler) checkDecryption(u *Unit) error {
	if u.Decryption == nil {
		return nil
	}
	if u.Decryption.Provider == "sops" && r.sops != nil {
		return nil
	}
	for _, s := range r.steps {
		if d, ok := s.(Decrypter); ok && d.Decrypts(u.Decryption.Provider) {
			return nil
		}
	}
	return fmt.Errorf("decryption with provider %q: the Reconciler has no step that decrypts it (WithSOPS, or a step added with WithSteps)", u.Decryption.Provider)
}

// checkSource refuses a source the restrictions do not list.
func checkSource(u *Unit) error {
	rs := u.Restrictions
	if rs == nil {
		return nil
	}
	repo := u.Source.URL
	if repo == "" {
		repo = u.Source.Dir
	}
	for _, p := range rs.SourceRepos {
		if glob(p, repo) || glob(p, strings.TrimSuffix(repo, ".git")) || SourceIdentity(p) == SourceIdentity(repo) {
			return nil
		}
	}
	return fmt.Errorf("%w of project %q: source %s is not among its source repositories", ErrRestricted, rs.Project, redactURL(repo))
}

// checkDestination refuses a destination the restrictions do not list.
func checkDestination(u *Unit) error {
	rs := u.Restrictions
	if rs == nil {
		return nil
	}
	ns := cmpOr(u.Destination.TargetNamespace, u.Destination.Namespace)
	for _, d := range rs.Destinations {
		if clusterMatches(d.Cluster, u.Destination.Cluster) && glob(cmpOr(d.Namespace, "*"), ns) {
			return nil
		}
	}
	return fmt.Errorf("%w of project %q: destination %s/%s is not among its destinations", ErrRestricted, rs.Project, cmpOr(u.Destination.Cluster, "in-cluster"), ns)
}

func clusterMatches(pattern, cluster string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	if inCluster[pattern] && inCluster[cluster] {
		return true
	}
	return glob(pattern, cluster)
}

// restrictionPolicy is the apply.Policy of the unit's restrictions: every
// object's kind and namespace is checked before anything is written.
func restrictionPolicy(rs *Restrictions, cluster string) apply.Policy {
	return apply.PolicyFunc(func(_ context.Context, objs []*unstructured.Unstructured) error {
		for _, o := range objs {
			id := object.IDOf(o)
			gk := id.GroupKind()
			if o.GetNamespace() == "" {
				if !kindMatches(rs.ClusterResources, gk.Group, gk.Kind) || kindMatches(rs.ClusterResourcesDenied, gk.Group, gk.Kind) {
					return restricted("%s: cluster-scoped kind %s is not permitted in project %q", id, gk, rs.Project)
				}
				continue
			}
			if len(rs.NamespacedResources) > 0 && !kindMatches(rs.NamespacedResources, gk.Group, gk.Kind) ||
				kindMatches(rs.NamespacedResourcesDenied, gk.Group, gk.Kind) {
				return restricted("%s: kind %s is not permitted in project %q", id, gk, rs.Project)
			}
			allowed := false
			for _, d := range rs.Destinations {
				if clusterMatches(d.Cluster, cluster) && glob(cmpOr(d.Namespace, "*"), o.GetNamespace()) {
					allowed = true
					break
				}
			}
			if !allowed {
				return restricted("%s: namespace %s is not a destination of project %q", id, o.GetNamespace(), rs.Project)
			}
		}
		return nil
	})
}

func kindMatches(patterns []GroupKindPattern, group, kind string) bool {
	for _, p := range patterns {
		if glob(p.Group, group) && glob(cmpOr(p.Kind, "*"), kind) {
			return true
		}
	}
	return false
}

// glob matches Argo CD's patterns: '*' matches any run of characters,
// '/' included (a repository pattern "https://github.com/myorg/*" covers
// every repository of the organisation), '?' any one character.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p, i = p+1, i+1
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// redactURL drops credentials from a URL for a message.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if at := strings.LastIndex(u[i+3:], "@"); at >= 0 {
			if slash := strings.Index(u[i+3:], "/"); slash < 0 || at < slash {
				return u[:i+3] + "***@" + u[i+3+at+1:]
			}
		}
	}
	return u
}
