package operator

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/source/git"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// Unit maps an Application to the SDK's reconcile.Unit: the same name and
// namespace (so the inventory is "converge-<name>" in the Application's
// namespace and every applied object carries its owner labels), the
// generation as the unit's, and the spec field by field.
// defaultInterval is the interval of an Application that sets none;
// defaultRetry the first wait after a failure of one that sets no
// retry.backoff.duration. It does no I/O; an error wraps
// reconcile.ErrInvalidUnit and names the field.
func Unit(app *v1alpha1.Application, defaultInterval, defaultRetry time.Duration) (reconcile.Unit, error) {
	spec := &app.Spec
	invalid := func(field string, err error) error {
		return fmt.Errorf("%w %s/%s: spec.%s: %v", reconcile.ErrInvalidUnit, app.Namespace, app.Name, field, err)
	}
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
			Manual:          !spec.SyncPolicy.IsAutomated(),
			Prune:           spec.SyncPolicy.Prune,
			SelfHeal:        spec.SyncPolicy.SelfHeal,
			AllowEmpty:      spec.SyncPolicy.AllowEmpty,
			CreateNamespace: spec.SyncOptions.CreateNamespace,
			Recreate:        spec.SyncOptions.Recreate,
		},
		// Plain manifests are read from the path's subdirectories too, as
		// the converge CLI reads them.
		Render:   reconcile.Render{Recurse: true},
		Health:   reconcile.Health{Wait: spec.Wait},
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

	ref, field, err := revision(&spec.Source)
	if err != nil {
		return u, invalid(field, err)
	}
	u.Source.Ref = ref
	if u.Render.Kind, err = renderKind(spec.Render.Kind); err != nil {
		return u, invalid("render.kind", err)
	}
	if c := spec.Destination.Cluster; !inCluster(c) {
		// Resolved by the operator's cluster registry (clusters.go) when
		// the pass runs: a cluster registered later needs no new spec.
		u.Destination.Cluster = c
	}
	if err := syncOptions(&u.Sync, &spec.SyncOptions); err != nil {
		return u, invalid("syncOptions", err)
	}
	u.Retry = retry(spec.Retry, defaultRetry, u.Interval)
	for _, d := range spec.IgnoreDifferences {
		u.Ignore = append(u.Ignore, diff.IgnoreRule{
			Group: d.Group, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name,
			JSONPointers: d.JSONPointers, Paths: d.Paths, Managers: d.ManagedFieldsManagers,
			Reason: "spec.ignoreDifferences",
		})
	}
	for i, hc := range spec.HealthChecks {
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil || gv.Version == "" {
			return u, invalid(fmt.Sprintf("healthChecks[%d].apiVersion", i), fmt.Errorf("%q is not group/version or version", truncate(hc.APIVersion, 64)))
		}
		u.Health.Checks = append(u.Health.Checks, object.ID{Group: gv.Group, Kind: hc.Kind, Namespace: hc.Namespace, Name: hc.Name})
	}
	if err := u.Validate(); err != nil {
		return u, err
	}
	return u, nil
}

// revision reads the source's revision from targetRevision or ref, and
// names the field it came from.
func revision(src *v1alpha1.Source) (git.Reference, string, error) {
	if src.Ref == nil {
		ref, err := Reference(src.TargetRevision)
		return ref, "source.targetRevision", err
	}
	if src.TargetRevision != "" {
		return git.Reference{}, "source", errors.New("set targetRevision or ref, not both")
	}
	r := src.Ref
	ref := git.Reference{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Name: r.Name, Commit: r.Commit}
	if ref == (git.Reference{}) {
		return ref, "source.ref", errors.New("names no revision: set branch, tag, semver, name or commit")
	}
	return ref, "source.ref", ref.Validate()
}

// renderKind maps the API's render kind to the SDK's.
func renderKind(k v1alpha1.RenderKind) (reconcile.RenderKind, error) {
	switch k {
	case "", v1alpha1.RenderAuto:
		return reconcile.RenderAuto, nil
	case v1alpha1.RenderKustomize:
		return reconcile.RenderKustomize, nil
	case v1alpha1.RenderHelm:
		return reconcile.RenderHelm, nil
	case v1alpha1.RenderPlain:
		return reconcile.RenderPlain, nil
	}
	return "", fmt.Errorf("%q is not Auto, Kustomize, Helm or Plain", truncate(string(k), 64))
}

// inCluster reports whether a destination names the operator's own
// cluster: unset, or as Argo CD names it. The unit then names none, as
// before other clusters were served.
func inCluster(name string) bool {
	switch name {
	case "", "in-cluster", "https://kubernetes.default.svc":
		return true
	}
	return false
}

// syncOptions copies what the typed sync options add to the SDK's sync
// settings.
func syncOptions(s *reconcile.Sync, o *v1alpha1.SyncOptions) error {
	switch o.PrunePropagationPolicy {
	case "":
	case "background":
		s.PropagationPolicy = metav1.DeletePropagationBackground
	case "foreground":
		s.PropagationPolicy = metav1.DeletePropagationForeground
	case "orphan":
		s.PropagationPolicy = metav1.DeletePropagationOrphan
	default:
		return fmt.Errorf("prunePropagationPolicy %q is not background, foreground or orphan", truncate(o.PrunePropagationPolicy, 64))
	}
	switch o.Conflicts {
	case "", "Force":
		s.Conflicts = apply.ForceConflicts
	case "Report":
		s.Conflicts = apply.ReportConflicts
	default:
		return fmt.Errorf("conflicts %q is not Force or Report", truncate(o.Conflicts, 64))
	}
	if o.AllowShared {
		s.Sharing = apply.AllowShared
	}
	return nil
}

// retry is the retry policy of an Application: spec.retry over the
// operator's default (defaultRetry doubling up to the interval, forever).
func retry(r *v1alpha1.Retry, defaultRetry, interval time.Duration) reconcile.Retry {
	out := reconcile.Retry{Backoff: defaultRetry, Factor: 2, MaxBackoff: interval}
	if r == nil {
		return out
	}
	out.Limit = int(r.Limit)
	if b := r.Backoff; b != nil {
		if b.Duration != nil && b.Duration.Duration > 0 {
			out.Backoff = b.Duration.Duration
		}
		if b.Factor != nil && *b.Factor >= 1 {
			out.Factor = float64(*b.Factor)
		}
		if b.MaxDuration != nil && b.MaxDuration.Duration > 0 {
			out.MaxBackoff = b.MaxDuration.Duration
		}
	}
	return out
}

// RetryAfter is the wait before retrying after the n-th failed pass in a
// row: r.Backoff·r.Factorⁿ⁻¹, at most r.MaxBackoff, and never more than a
// day (a factor of 1000 overflows quickly).
func RetryAfter(r reconcile.Retry, n int) time.Duration {
	const ceiling = 24 * time.Hour
	d := r.Backoff
	if d <= 0 {
		d = time.Second
	}
	limit := ceiling
	if r.MaxBackoff > 0 {
		limit = min(r.MaxBackoff, ceiling)
	}
	if r.Factor > 1 {
		// The loop ends once the wait reaches the limit, or after n
		// rounds; a factor of 1 never grows it.
		for i := 1; i < n && d < limit; i++ {
			d = time.Duration(float64(d) * r.Factor)
		}
	}
	return min(d, limit)
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
