package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApplicationSpec is the desired state of an Application. Its fields take
// the names Argo CD and Flux give them (repoURL, targetRevision,
// syncPolicy, ignoreDifferences from Argo CD; ref, healthChecks, wait,
// dependsOn, suspend, interval, timeout from Flux), so that a manifest of
// either reads the same here.
type ApplicationSpec struct {
	// Source is where the desired state is.
	// +required
	Source Source `json:"source"`

	// Render says how the source's path becomes objects; by what the path
	// holds when unset.
	// +optional
	Render Render `json:"render,omitempty"`

	// Destination is where the objects go.
	// +optional
	Destination Destination `json:"destination,omitempty"`

	// Project names a Project of the Application's namespace whose limits
	// bind it: the repositories, destinations and kinds it may use, and
	// the service account its writes are made as. Unset, the Application
	// is bound by no Project.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Project string `json:"project,omitempty"`

	// SyncPolicy says how the objects are applied. By default they are
	// applied automatically and nothing is pruned.
	// +optional
	// +kubebuilder:default={automated: true}
	SyncPolicy SyncPolicy `json:"syncPolicy,omitempty"`

	// SyncOptions fine-tune the apply (converge's typed form of Argo CD's
	// syncOptions).
	// +optional
	SyncOptions SyncOptions `json:"syncOptions,omitempty"`

	// Retry says when a failed pass is tried again; by default after the
	// operator's retry interval, doubling up to the Application's
	// interval, forever.
	// +optional
	Retry *Retry `json:"retry,omitempty"`

	// IgnoreDifferences lists fields that are not drift: they are not
	// compared, and where another manager owns them they are not sent.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	IgnoreDifferences []IgnoreDifference `json:"ignoreDifferences,omitempty"`

	// HealthChecks are objects, applied by this Application or not, that
	// must be healthy before it is Ready; a pass waits for them up to its
	// timeout (Flux's healthChecks).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`

	// Wait makes a pass wait, up to its timeout, until every object it
	// applied is healthy before the Application is Ready (Flux's wait).
	// Without it Ready says the objects were applied, and the Healthy
	// condition and status.health say how they are doing.
	// +optional
	Wait bool `json:"wait,omitempty"`

	// DependsOn names Applications of the same namespace that must be
	// Ready and healthy before this one is applied. Until they are, this
	// one is Ready=False with reason DependencyNotReady, and nothing of it
	// is applied.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=54
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	DependsOn []string `json:"dependsOn,omitempty"`

	// Suspend stops the reconciliation of the Application: nothing is
	// fetched or applied, and what was applied stays as it is.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Interval is the time between passes ("5m", "30s"); the operator's
	// default when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout bounds one pass: fetch, render, apply and the health wait;
	// 5 minutes when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Notifications are told when a pass fails, when the health
	// degrades and when the Application recovers: once per transition,
	// not on every pass.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Notifications []NotificationTarget `json:"notifications,omitempty"`
}

// NotificationTarget is one endpoint an Application's transitions are
// posted to.
type NotificationTarget struct {
	// Type is webhook (converge's JSON event, signed with HMAC-SHA256 in
	// X-Converge-Signature when the Secret has a "secret" key) or slack
	// (a Slack-compatible incoming webhook).
	// +kubebuilder:validation:Enum=webhook;slack
	Type string `json:"type"`
	// SecretRef names a Secret of the Application's namespace whose
	// "address" key is the endpoint's URL, as a Flux Provider's is: such
	// URLs are credentials (a Slack webhook's is).
	SecretRef SecretReference `json:"secretRef"`
}

// SecretReference names a Secret of the referring object's namespace.
type SecretReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Source is a path of a Git repository at a revision, named either by
// targetRevision (Argo CD's one string) or by ref (Flux's fields).
//
// +kubebuilder:validation:XValidation:rule="!(has(self.targetRevision) && has(self.ref))",message="set targetRevision or ref, not both"
type Source struct {
	// RepoURL is the repository: https, http, ssh or scp-like
	// ("git@github.com:myorg/deploy.git").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	RepoURL string `json:"repoURL"`

	// TargetRevision is a branch, a tag, a semver range over the tags
	// (">=1.4.0 <2.0.0"), a full reference name (refs/...) or a 40-digit
	// commit, as Argo CD reads it; "main" when unset or HEAD.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	TargetRevision string `json:"targetRevision,omitempty"`

	// Ref names the revision field by field, as Flux's GitRepository
	// does; branch "main" when neither it nor targetRevision is set.
	// +optional
	Ref *GitRef `json:"ref,omitempty"`

	// Path is the directory of the repository to render, relative to its
	// root; the root when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(s, s == '..')",message="path must be relative to the repository root, inside it"
	Path string `json:"path,omitempty"`
}

// GitRef is a Git revision: one of branch, tag, semver and name, or a
// commit, alone or with a branch or a name whose history holds it.
//
// +kubebuilder:validation:XValidation:rule="has(self.branch) || has(self.tag) || has(self.semver) || has(self.name) || has(self.commit)",message="ref names no revision: set branch, tag, semver, name or commit"
// +kubebuilder:validation:XValidation:rule="[has(self.branch), has(self.tag), has(self.semver), has(self.name)].filter(x, x).size() <= 1 && !(has(self.commit) && (has(self.tag) || has(self.semver)))",message="set one of branch, tag, semver, name and commit (commit may go with branch or name)"
type GitRef struct {
	// Branch is a branch name ("main", "release/1.x").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Branch string `json:"branch,omitempty"`
	// Tag is a tag name ("v1.4.2").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Tag string `json:"tag,omitempty"`
	// SemVer is a version range over the tags (">=1.4.0 <2.0.0").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SemVer string `json:"semver,omitempty"`
	// Name is a full reference name ("refs/pull/42/head").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
	// Commit is a full commit hash.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{40}$`
	Commit string `json:"commit,omitempty"`
}

// RenderKind chooses a renderer.
// +kubebuilder:validation:Enum=Auto;Kustomize;Helm;Plain
type RenderKind string

// Render kinds.
const (
	// RenderAuto picks by what the path holds: a kustomization file means
	// Kustomize, a Chart.yaml Helm, anything else plain manifests.
	RenderAuto RenderKind = "Auto"
	// RenderKustomize builds the path as a kustomization.
	RenderKustomize RenderKind = "Kustomize"
	// RenderHelm renders the path as a Helm chart.
	RenderHelm RenderKind = "Helm"
	// RenderPlain reads the manifests under the path, subdirectories
	// included.
	RenderPlain RenderKind = "Plain"
)

// Render is how the source's path becomes objects.
type Render struct {
	// Kind forces a renderer: Kustomize, Helm or Plain. Auto, the
	// default, picks by what the path holds.
	// +optional
	Kind RenderKind `json:"kind,omitempty"`
}

// Destination is where an Application's objects go.
type Destination struct {
	// Namespace is given to namespaced objects that name none; the
	// Application's namespace when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// Cluster names the destination cluster: unset, "in-cluster" or
	// "https://kubernetes.default.svc" (Argo CD's names for it) for the
	// operator's own, otherwise the name or API server URL of a cluster a
	// Secret of the operator's namespace registers (a converge.dev/cluster
	// Secret with a kubeconfig, or an Argo CD cluster Secret). A cluster
	// no Secret registers makes the Application Stalled, saying so.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Cluster string `json:"cluster,omitempty"`
}

// SyncPolicy says how an Application is applied.
type SyncPolicy struct {
	// Automated applies every change of the source. When false the
	// Application is only planned: Ready=False with reason OutOfSync
	// while the cluster differs from the source.
	// +optional
	// +kubebuilder:default=true
	Automated *bool `json:"automated,omitempty"`

	// Prune deletes the objects that left the source. It is off by
	// default: a deletion is asked for, never assumed.
	// +optional
	Prune bool `json:"prune,omitempty"`

	// SelfHeal asks for what was changed in the cluster by hand to be put
	// back. This version puts it back at the next pass (every pass
	// corrects drift in the fields converge owns, whatever SelfHeal
	// says); the field is carried to the SDK's unit.
	// +optional
	SelfHeal bool `json:"selfHeal,omitempty"`

	// AllowEmpty lets a pruning Application whose render is empty prune
	// everything it applied. Without it an empty render fails the pass
	// and nothing is pruned.
	// +optional
	AllowEmpty bool `json:"allowEmpty,omitempty"`
}

// IsAutomated reports whether the Application is applied automatically
// (the default).
func (s SyncPolicy) IsAutomated() bool { return s.Automated == nil || *s.Automated }

// SyncOptions fine-tune the apply.
type SyncOptions struct {
	// CreateNamespace creates destination.namespace when it is absent
	// (Argo CD's CreateNamespace=true). A namespace created so is not
	// pruned.
	// +optional
	CreateNamespace bool `json:"createNamespace,omitempty"`

	// PrunePropagationPolicy is how pruned objects' dependents are
	// deleted: background (the default), foreground or orphan.
	// +optional
	// +kubebuilder:validation:Enum=background;foreground;orphan
	PrunePropagationPolicy string `json:"prunePropagationPolicy,omitempty"`

	// Recreate deletes and recreates an object whose change the API
	// server refuses as immutable (Argo CD's Force=true, Flux's force).
	// Off by default: the pass fails, naming the object.
	// +optional
	Recreate bool `json:"recreate,omitempty"`

	// Conflicts is what happens to fields another field manager owns:
	// Force takes them over (Git wins, the default), Report fails the
	// object naming the managers and writes nothing to it.
	// +optional
	// +kubebuilder:validation:Enum=Force;Report
	Conflicts string `json:"conflicts,omitempty"`

	// AllowShared lets this Application apply an object another
	// Application applied too, as a co-owner; a prune then never deletes
	// it while the other holds it. By default such an object fails,
	// naming the other owner.
	// +optional
	AllowShared bool `json:"allowShared,omitempty"`
}

// Retry says when a failed pass is tried again, in Argo CD's shape: the
// n-th retry waits backoff.duration·backoff.factorⁿ⁻¹, at most
// backoff.maxDuration.
type Retry struct {
	// Limit is how many failed passes in a row are retried on the
	// backoff; then the Application is Stalled (reason
	// RetriesExhausted) and tried only at its interval, where a new
	// revision can mend it. 0, the default, retries forever.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Limit int32 `json:"limit,omitempty"`

	// Backoff is the wait between retries.
	// +optional
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is the wait between retries.
type Backoff struct {
	// Duration is the first wait ("5s"); the operator's retry interval
	// when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	Duration *metav1.Duration `json:"duration,omitempty"`

	// Factor multiplies the wait after each failure; 2 when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Factor *int32 `json:"factor,omitempty"`

	// MaxDuration bounds the wait; the Application's interval when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`
}

// IgnoreDifference names fields of some objects that are not drift. The
// group, kind, namespace and name select the objects (an empty one
// matches all; namespace and name are globs); at least one of
// jsonPointers, paths and managedFieldsManagers says which fields.
//
// +kubebuilder:validation:XValidation:rule="has(self.jsonPointers) || has(self.paths) || has(self.managedFieldsManagers)",message="set jsonPointers, paths or managedFieldsManagers"
type IgnoreDifference struct {
	// Group is the objects' API group; every group when unset (Argo CD
	// reads an empty group as the core group only).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
	// Kind is the objects' kind.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`
	// Namespace is a glob over the objects' namespaces.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Namespace string `json:"namespace,omitempty"`
	// Name is a glob over the objects' names.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// JSONPointers are RFC 6901 pointers ("/spec/replicas").
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	JSONPointers []string `json:"jsonPointers,omitempty"`
	// Paths are converge's path expressions: ".spec.replicas",
	// ".spec.template.spec.containers[name=api].image",
	// `.metadata.annotations["example.com/checksum"]`.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	Paths []string `json:"paths,omitempty"`
	// ManagedFieldsManagers are field managers whose fields are not drift
	// (an HPA's "kube-controller-manager").
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	ManagedFieldsManagers []string `json:"managedFieldsManagers,omitempty"`
}

// HealthCheck names an object to wait for, as Flux's healthChecks do.
type HealthCheck struct {
	// APIVersion is the object's group and version ("apps/v1").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	APIVersion string `json:"apiVersion"`
	// Kind is the object's kind.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`
	// Name is the object's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace is the object's namespace; destination.namespace when
	// unset and the kind is namespaced.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}
