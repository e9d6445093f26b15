package operator

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source/git"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// Unit maps an Application to the SDK's reconcile.Unit: the same name and
// namespace (so the inventory is "converge-<name>" in the Application's
// namespace and every applied object carries its owner labels), the
// generation as the unit's, and the spec field by field.
// defaultInterval is the interval of an Application that sets none. It
// does no I/O; an error wraps reconcile.ErrInvalidUnit and names the
// field.
func Unit(app *v1alpha1.Application, defaultInterval time.Duration) (reconcile.Unit, error) {
	spec := &app.Spec
	u := reconcile.Unit{
		Name:       app.Name,
		Namespace:  app.Namespace,
		Generation: app.Generation,
		Source:     reconcile.Source{URL: spec.Source.RepoURL},
		Path:       cleanPath(spec.Source.Path),
		Destination: reconcile.Destination{
			Namespace: cmpOr(spec.Destination.Namespace, app.Namespace),
		},
		Sync: reconcile.Sync{
			Manual:   !spec.SyncPolicy.IsAutomated(),
			Prune:    spec.SyncPolicy.Prune,
			SelfHeal: spec.SyncPolicy.SelfHeal,
		},
		// Plain manifests are read from the path's subdirectories too, as
		// the converge CLI reads them.
		Render:   reconcile.Render{Recurse: true},
		Suspend:  spec.Suspend,
		Interval: defaultInterval,
	}
	if spec.Interval != nil && spec.Interval.Duration > 0 {
		u.Interval = spec.Interval.Duration
	}
	if spec.Timeout != nil {
		u.Timeout = spec.Timeout.Duration
	}
	for _, d := range spec.DependsOn {
		u.DependsOn = append(u.DependsOn, reconcile.Ref{Name: d, Namespace: app.Namespace})
	}
	ref, err := Reference(spec.Source.TargetRevision)
	if err != nil {
		return u, fmt.Errorf("%w %s/%s: spec.source.targetRevision: %v", reconcile.ErrInvalidUnit, app.Namespace, app.Name, err)
	}
	u.Source.Ref = ref
	if err := u.Validate(); err != nil {
		return u, err
	}
	return u, nil
}

// Reference reads a targetRevision as Argo CD does: nothing or HEAD is
// branch "main", a semver constraint that is not a plain version is a
// range over the tags, 40 hex digits a commit, refs/... a reference name,
// a version ("v1.2.3") a tag and any other name a branch.
func Reference(rev string) (git.Reference, error) {
	if rev == "" || rev == "HEAD" {
		return git.Reference{Branch: "main"}, nil
	}
	if _, err := semver.NewVersion(rev); err != nil {
		if _, err := semver.NewConstraint(rev); err == nil {
			return git.Reference{SemVer: rev}, nil
		}
	}
	cands, err := git.RemoteReferences(rev)
	if err != nil {
		return git.Reference{}, err
	}
	ref := cands[0]
	if len(cands) > 1 {
		// A branch or a tag of that name: a version is a tag, anything
		// else a branch.
		if _, err := semver.StrictNewVersion(strings.TrimPrefix(rev, "v")); err == nil {
			ref = git.Reference{Tag: rev}
		}
	}
	return ref, ref.Validate()
}

func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
