package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/converge-dev/converge/apply"
	"github.com/converge-dev/converge/diff"
	"github.com/converge-dev/converge/health"
	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/source/git"
)

// Unit is one application in one environment: where its desired state
// lives, how it is rendered, and where and how it is applied. It is plain
// data, what an Argo CD Application or a Flux Kustomization says, so that
// hosts can build it from their own resources (see the argocd and flux
// subpackages) and compare two of them.
//
// The zero value of each setting is the safe one: no prune, no namespace
// created, manual sync off (automated), no self-heal trigger.
type Unit struct {
	// Name and Namespace identify the unit. They are its apply.Owner: a
	// label on every object it applies, and the name of its inventory
	// ("converge-<Name>" in Namespace, "default" when empty).
	Name      string
	Namespace string
	// Generation is the host's version of this definition, such as the
	// metadata.generation of the resource it came from; Status echoes it
	// as ObservedGeneration.
	Generation int64

	// Source is where the desired state is fetched from.
	Source Source
	// Path is the directory of the source to render, slash-separated and
	// relative to its root ("" or "." for the root).
	Path string
	// Render says how Path becomes objects.
	Render Render
	// Substitute replaces ${VAR} in the rendered objects (Flux's
	// postBuild).
	Substitute Substitute

	// Destination is the cluster and namespace the objects go to.
	Destination Destination
	// Sync is how and when the unit is applied.
	Sync Sync
	// Ignore lists differences that are not drift (Argo CD's
	// ignoreDifferences). Fields they cover that another manager owns
	// are not sent either (Argo CD's RespectIgnoreDifferences).
	Ignore []diff.IgnoreRule
	// Health says what the pass waits for.
	Health Health

	// DependsOn names units that must be Ready before this one is
	// applied (Flux's dependsOn). A dependency without a namespace is in
	// this unit's namespace.
	DependsOn []Ref
	// Suspend stops the Loop from reconciling the unit; Reconcile called
	// directly reports it suspended and does nothing.
	Suspend bool

	// Restrictions limit what the unit may fetch and apply, as an Argo CD
	// AppProject does; nil allows everything.
	Restrictions *Restrictions
	// Decryption asks for the rendered objects to be decrypted (Flux's
	// spec.decryption). A Reconciler without a decryption Step for the
	// provider fails the pass rather than applying ciphertext.
	Decryption *Decryption

	// Interval is the time between passes in a Loop (Flux's interval,
	// Argo CD's reconciliation period); the Loop's default when zero.
	Interval time.Duration
	// Retry says when a failed pass is retried.
	Retry Retry
	// Timeout bounds one pass: fetch, render, apply and the health wait
	// (Flux's timeout); the Reconciler's default when zero.
	Timeout time.Duration
}

// Source is where a unit's desired state is. Exactly one of URL and Dir
// is set.
type Source struct {
	// URL is a Git repository (https, http, ssh, scp-like or, when the
	// Reconciler allows it, file).
	URL string
	// Ref is the revision of URL: a branch, tag, semver range, reference
	// name or commit. An empty Ref means the default branch "main".
	Ref git.Reference
	// Dir is a local directory, read as it is on disk.
	Dir string
	// Credentials authenticate to URL; they never appear in Status,
	// errors or logs. Without them, SecretRef names a Secret to read them
	// from.
	Credentials *Credentials
	// SecretRef names a Secret (in the unit's namespace) that holds the
	// credentials, in Flux's GitRepository format (username/password,
	// bearerToken, identity/known_hosts, ca.crt), read through the default
	// fetcher's FetcherOptions.Secrets (the Reconciler's own cluster) when
	// Credentials is nil.
	SecretRef string
	// Ignore lists extra .gitignore-style patterns of files to leave out
	// of the snapshot (Flux's spec.ignore).
	Ignore []string
	// Submodules fetches Git submodules (Flux's recurseSubmodules).
	Submodules bool
	// Verify checks commit or tag signatures (Flux's spec.verify); the
	// keys are armored OpenPGP or authorized_keys SSH public keys.
	Verify *Verify
	// RefuseRewrites fails a fetch when the branch moved to a commit that
	// does not descend from the last one, instead of following it (a
	// force-push, as teams roll back with, is followed by default).
	RefuseRewrites bool
}

// Credentials for a Git server. Only the fields of one method are set.
type Credentials struct {
	Username, Password string
	BearerToken        string
	// SSHKey is a private key in PEM or OpenSSH form, for ssh URLs, with
	// its optional passphrase and the server's known_hosts lines.
	SSHKey, SSHPassphrase, KnownHosts []byte
	// CABundle is PEM certificates trusted for https.
	CABundle []byte
}

// Verify is a signature policy.
type Verify struct {
	Mode git.VerifyMode
	Keys []string
}

// RenderKind chooses a renderer.
type RenderKind string

const (
	// RenderAuto picks by what Path holds: a kustomization file means
	// Kustomize, a Chart.yaml Helm, anything else plain manifests.
	RenderAuto RenderKind = ""
	// RenderKustomize builds Path as a kustomization.
	RenderKustomize RenderKind = "Kustomize"
	// RenderHelm renders Path as a Helm chart.
	RenderHelm RenderKind = "Helm"
	// RenderPlain reads the manifests under Path.
	RenderPlain RenderKind = "Plain"
)

// Render is how a unit's Path becomes objects.
type Render struct {
	// Kind forces a renderer; by default it is chosen by what Path holds.
	Kind RenderKind
	// Options are the overrides every renderer honours or refuses
	// (namespace, images, patches, ...). Kustomize's images use
	// `kustomize edit set image` semantics (Argo CD's kustomize.images).
	Options render.Options
	// Helm configures a chart render.
	Helm Helm
	// Recurse reads plain manifests in subdirectories too (Argo CD's
	// directory.recurse); without it only Path's own files are read.
	Recurse bool
	// ResolveReferences resolves argocd-vault-plugin placeholders and vals
	// references in the rendered objects through the Reconciler's stores
	// (WithReferences); a unit that asks and finds no stores fails.
	// Argo CD Applications that use the argocd-vault-plugin plugins load
	// with it set.
	ResolveReferences bool
}

// Helm is a chart render.
type Helm struct {
	// ReleaseName is the release name; the unit's Name when empty.
	ReleaseName string
	// ValuesFiles are paths of values files relative to the chart
	// directory (Argo CD's valueFiles), merged in order.
	ValuesFiles []string
	// Values are merged over the files (Argo CD's values and
	// valuesObject, Flux's values).
	Values map[string]any
	// Parameters are set last, as `helm template --set` (or --set-string
	// with ForceString) does (Argo CD's helm.parameters).
	Parameters []HelmParameter
	// SkipCRDs leaves the chart's crds/ out.
	SkipCRDs bool
	// KubeVersion and APIVersions are the cluster's capabilities;
	// rendering never asks the cluster.
	KubeVersion string
	APIVersions []string
}

// HelmParameter is one --set value.
type HelmParameter struct {
	Name, Value string
	ForceString bool
}

// Substitute is Flux's post-build variable substitution.
type Substitute struct {
	// Vars are the variables given inline (postBuild.substitute).
	Vars map[string]string
	// From names ConfigMaps and Secrets, in the unit's namespace, whose
	// data are variables too (postBuild.substituteFrom); later entries
	// win, and Vars win over all of them.
	From []SubstituteFrom
	// Strict fails on a variable without a value or default.
	Strict bool
}

// SubstituteFrom is one ConfigMap or Secret of variables.
type SubstituteFrom struct {
	// Kind is "ConfigMap" or "Secret".
	Kind string
	Name string
	// Optional makes a missing object no error.
	Optional bool
}

// Destination is where the objects go.
type Destination struct {
	// Cluster names the cluster: "" or "in-cluster" for the Reconciler's
	// own, an API server URL or a name otherwise, resolved through the
	// Reconciler's WithClusters. Argo CD's destination.server
	// "https://kubernetes.default.svc" is the Reconciler's own cluster.
	Cluster string
	// Namespace is given to namespaced objects that name none (Argo CD's
	// destination.namespace), and with Sync.CreateNamespace created when
	// absent.
	Namespace string
	// TargetNamespace sets the namespace of every namespaced object,
	// overriding what the manifests say (Flux's targetNamespace).
	TargetNamespace string
	// ServiceAccount applies as that service account of the unit's
	// namespace (Flux's serviceAccountName), so its RBAC limits the unit.
	ServiceAccount string
}

// Sync is how a unit is applied.
type Sync struct {
	// Manual plans on every pass and applies only when asked (Argo CD
	// without syncPolicy.automated): the Status says OutOfSync, and
	// Reconciler.Sync applies.
	Manual bool
	// Prune deletes what left the source.
	Prune bool
	// AllowEmpty lets an empty render prune everything (Argo CD's
	// allowEmpty). Without it an empty render fails the pass.
	AllowEmpty bool
	// SelfHeal makes a Loop reconcile the unit as soon as the watch cache
	// sees one of its objects changed, instead of at the next interval.
	SelfHeal bool
	// CreateNamespace creates Destination.Namespace when absent.
	CreateNamespace bool
	// PropagationPolicy is used for prune (Argo CD's
	// PrunePropagationPolicy); background by default.
	PropagationPolicy metav1.DeletionPropagation
	// Recreate allows delete and recreate on an immutable-field change
	// (Flux's force, Argo CD's Replace/Force).
	Recreate bool
	// Conflicts chooses between taking fields over (Git wins) and
	// reporting them.
	Conflicts apply.Conflicts
	// Sharing says whether an object another unit applied may be shared.
	Sharing apply.Sharing
}

// Health says what a pass waits for.
type Health struct {
	// Wait waits until every applied object is healthy (Flux's wait).
	Wait bool
	// Checks are objects to wait for, applied by this unit or not
	// (Flux's healthChecks). A check without a namespace is looked up in
	// Destination.Namespace when its kind is namespaced.
	Checks []object.ID
	// Skip names objects and kinds the wait reports but does not wait for.
	Skip health.Skip
}

// Restrictions are an AppProject's limits. Patterns are globs as Argo CD
// writes them ("*", "team-*", "https://github.com/myorg/*").
type Restrictions struct {
	// Project names where the restrictions come from, for messages.
	Project string
	// SourceRepos are the repositories the unit may fetch; empty allows
	// none, ["*"] all.
	SourceRepos []string
	// Destinations are the cluster and namespace pairs it may apply to.
	Destinations []DestinationPattern
	// ClusterResources allows cluster-scoped kinds (empty: none);
	// ClusterResourcesDenied denies some of them.
	ClusterResources, ClusterResourcesDenied []GroupKindPattern
	// NamespacedResources allows namespaced kinds (empty: all);
	// NamespacedResourcesDenied denies some.
	NamespacedResources, NamespacedResourcesDenied []GroupKindPattern
}

// DestinationPattern is an allowed destination: a cluster (server URL or
// name) and a namespace, either a glob.
type DestinationPattern struct {
	Cluster   string
	Namespace string
}

// GroupKindPattern matches kinds: Group and Kind are globs ("*" for any).
// An empty Group is the core group only, as in an AppProject: a
// whitelisted core Service does not let a knative Service through.
type GroupKindPattern struct {
	Group, Kind string
}

// Decryption names how rendered objects are decrypted.
type Decryption struct {
	// Provider is "sops".
	Provider string
	// SecretRef names the Secret of the unit's namespace that holds the
	// keys.
	SecretRef string
}

// Ref names a unit.
type Ref struct {
	Name      string
	Namespace string
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// Retry says when a failed pass is tried again. The n-th retry waits
// Backoff·Factorⁿ⁻¹, at most MaxBackoff (Argo CD's retry.backoff); with
// Factor 1 every retry waits Backoff (Flux's retryInterval). Limit > 0
// stops retrying after that many failures until the source changes or
// the unit is triggered (Argo CD's retry.limit); 0 retries forever.
type Retry struct {
	Limit      int
	Backoff    time.Duration
	Factor     float64
	MaxBackoff time.Duration
}

// Ref returns the unit's reference.
func (u *Unit) Ref() Ref { return Ref{Name: u.Name, Namespace: u.Namespace} }

// Owner returns the apply.Owner the unit applies as, its Source being the
// identity of the unit's source (see SourceIdentity).
func (u *Unit) Owner() apply.Owner {
	src := u.Source.URL
	if src == "" {
		src = u.Source.Dir
	}
	return apply.Owner{Name: u.Name, Namespace: u.Namespace, Source: SourceIdentity(src)}
}

// unitKey identifies a definition, for telling whether it changed.
func unitKey(u *Unit) (string, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ErrInvalidUnit is wrapped by every error of Validate.
var ErrInvalidUnit = errors.New("invalid unit")

// Validate checks what can be checked without I/O, naming the field.
func (u *Unit) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidUnit, u.Ref(), fmt.Sprintf(format, args...))
	}
	if u.Name == "" {
		return fmt.Errorf("%w: no name", ErrInvalidUnit)
	}
	if errs := validation.IsDNS1123Label(u.Name); len(errs) > 0 || len(u.Name) > 54 {
		return bad("name must be a DNS label of at most 54 characters (lower-case letters, digits, '-')")
	}
	if u.Namespace != "" {
		if errs := validation.IsDNS1123Label(u.Namespace); len(errs) > 0 {
			return bad("namespace %q: %s", u.Namespace, strings.Join(errs, "; "))
		}
	}
	switch {
	case u.Source.URL == "" && u.Source.Dir == "":
		return bad("source: no URL and no directory")
	case u.Source.URL != "" && u.Source.Dir != "":
		return bad("source: both a URL and a directory")
	}
	if p := u.Path; strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") {
		return bad("path %q must be relative to the source root, inside it", p)
	}
	switch u.Render.Kind {
	case RenderAuto, RenderKustomize, RenderHelm, RenderPlain:
	default:
		return bad("render kind %q is not Kustomize, Helm or Plain", u.Render.Kind)
	}
	for i, f := range u.Substitute.From {
		if f.Kind != "ConfigMap" && f.Kind != "Secret" {
			return bad("substitute from %d: kind %q is not ConfigMap or Secret", i, f.Kind)
		}
		if f.Name == "" {
			return bad("substitute from %d: no name", i)
		}
	}
	for _, d := range u.DependsOn {
		if d.Name == "" {
			return bad("dependsOn: an entry has no name")
		}
		if d.Name == u.Name && (d.Namespace == "" || d.Namespace == u.Namespace) {
			return bad("dependsOn: the unit depends on itself")
		}
	}
	if r := u.Retry; r.Limit < 0 || r.Backoff < 0 || r.MaxBackoff < 0 || r.Factor < 0 {
		return bad("retry: negative values")
	}
	if u.Interval < 0 || u.Timeout < 0 {
		return bad("negative interval or timeout")
	}
	if err := diff.ValidateIgnoreRules(u.Ignore); err != nil {
		return bad("ignore: %v", err)
	}
	return nil
}
