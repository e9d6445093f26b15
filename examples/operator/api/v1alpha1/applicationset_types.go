package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ApplicationSet generates Applications from a template and generators,
// as Argo CD's ApplicationSet does: a list, the directories or files of
// a Git repository, the registered clusters, or a matrix of two of them.
// The Applications it generates are owned by it (owner references), and
// are created, updated and, when spec.syncPolicy.applicationsSync allows,
// deleted as the generators' output changes.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cappset,categories=converge
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Applications",type="integer",JSONPath=".status.applicationCount"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
type ApplicationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ApplicationSetSpec   `json:"spec"`
	Status ApplicationSetStatus `json:"status,omitempty"`
}

// ApplicationSetSpec is the desired state of an ApplicationSet.
type ApplicationSetSpec struct {
	// GoTemplate renders the template's strings as Go templates over
	// parameters that keep their shape ("{{.path.basename}}"); off, they
	// take Argo CD's default "{{path.basename}}" placeholders.
	// +optional
	GoTemplate bool `json:"goTemplate,omitempty"`

	// GoTemplateOptions are text/template options, as Argo CD's:
	// "missingkey=error" fails on a parameter that is not there.
	// +optional
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Enum="missingkey=default";"missingkey=invalid";"missingkey=zero";"missingkey=error"
	GoTemplateOptions []string `json:"goTemplateOptions,omitempty"`

	// Generators produce the parameter sets; each set gives one
	// Application.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Generators []ApplicationSetGenerator `json:"generators"`

	// Template is the Application each parameter set renders.
	// +required
	Template ApplicationSetTemplate `json:"template"`

	// SyncPolicy says what the controller may do to the Applications it
	// generated.
	// +optional
	SyncPolicy ApplicationSetSyncPolicy `json:"syncPolicy,omitempty"`
}

// ApplicationsSyncPolicy is Argo CD's applicationsSync: which of create,
// update and delete the controller does to generated Applications.
//
// +kubebuilder:validation:Enum=create-only;create-update;create-delete;sync
type ApplicationsSyncPolicy string

// The policies of Argo CD's applicationsSync.
const (
	// PolicyCreateOnly creates missing Applications and leaves existing
	// and stale ones alone.
	PolicyCreateOnly ApplicationsSyncPolicy = "create-only"
	// PolicyCreateUpdate creates and updates, and never deletes: the
	// default, since deleting an Application prunes what it applied.
	PolicyCreateUpdate ApplicationsSyncPolicy = "create-update"
	// PolicyCreateDelete creates and deletes stale ones, and does not
	// update existing ones.
	PolicyCreateDelete ApplicationsSyncPolicy = "create-delete"
	// PolicySync creates, updates and deletes.
	PolicySync ApplicationsSyncPolicy = "sync"
)

// ApplicationSetSyncPolicy says what the controller may do to generated
// Applications.
type ApplicationSetSyncPolicy struct {
	// ApplicationsSync is create-only, create-update (the default),
	// create-delete or sync. Only create-delete and sync delete an
	// Application whose parameter set is gone.
	// +optional
	// +kubebuilder:default=create-update
	ApplicationsSync ApplicationsSyncPolicy `json:"applicationsSync,omitempty"`
}

// ApplicationSetGenerator is one generator: set exactly one field.
//
// +kubebuilder:validation:XValidation:rule="[has(self.list), has(self.git), has(self.clusters), has(self.matrix)].filter(x, x).size() == 1",message="set exactly one of list, git, clusters and matrix"
type ApplicationSetGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty"`
	// +optional
	Git *GitGenerator `json:"git,omitempty"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty"`
	// +optional
	Matrix *MatrixGenerator `json:"matrix,omitempty"`
}

// ApplicationSetBaseGenerator is a generator inside a matrix: set
// exactly one field (a matrix does not nest).
//
// +kubebuilder:validation:XValidation:rule="[has(self.list), has(self.git), has(self.clusters)].filter(x, x).size() == 1",message="set exactly one of list, git and clusters"
type ApplicationSetBaseGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty"`
	// +optional
	Git *GitGenerator `json:"git,omitempty"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty"`
}

// ListGenerator gives one parameter set per element: each key a
// parameter, and each key of an element's "values" map a
// "values.<key>" one (values of any shape in Go template mode).
type ListGenerator struct {
	// +required
	// +kubebuilder:validation:MaxItems=1000
	Elements []apiextensionsv1.JSON `json:"elements"`
}

// GitGenerator reads a Git repository at a revision: set directories
// (one parameter set per matching directory) or files (one per matching
// YAML or JSON file, or per element of one that holds a list).
//
// +kubebuilder:validation:XValidation:rule="has(self.directories) != has(self.files)",message="set directories or files, not both"
type GitGenerator struct {
	// RepoURL is the repository.
	// +required
	// +kubebuilder:validation:MinLength=1
	RepoURL string `json:"repoURL"`
	// Revision is a branch, tag or commit; "main" when unset.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Directories are path.Match globs of directories ("apps/*").
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Directories []GitPathItem `json:"directories,omitempty"`
	// Files are globs of files, "**" for any number of directories
	// ("clusters/**/config.json").
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Files []GitPathItem `json:"files,omitempty"`
	// PathParamPrefix puts the path parameters under "<prefix>.path".
	// +optional
	PathParamPrefix string `json:"pathParamPrefix,omitempty"`
	// Values are rendered with each set's parameters and added as
	// "values.<key>".
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// GitPathItem is a glob; exclude removes what it matches, whatever the
// order.
type GitPathItem struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`
	// +optional
	Exclude bool `json:"exclude,omitempty"`
}

// ClusterGenerator gives one parameter set per registered cluster whose
// labels match the selector: the operator's own ("in-cluster") when no
// selector is set, and every cluster the operator's registry holds (the
// converge.dev/cluster and Argo CD cluster Secrets of the operator's
// cluster namespace, never the ApplicationSet's), labelled as its Secret
// is. Parameters: name, nameNormalized, server, metadata.labels.<key>,
// metadata.annotations.<key>, values.<key>.
type ClusterGenerator struct {
	// +optional
	Selector metav1.LabelSelector `json:"selector,omitempty"`
	// +optional
	Values map[string]string `json:"values,omitempty"`
}

// MatrixGenerator is the cartesian product of two generators; the second
// may use the first's parameters.
type MatrixGenerator struct {
	// +required
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=2
	Generators []ApplicationSetBaseGenerator `json:"generators"`
}

// ApplicationSetTemplate is the Application every parameter set renders.
// Any string of it, map keys included, may hold placeholders.
type ApplicationSetTemplate struct {
	// +required
	Metadata ApplicationSetTemplateMeta `json:"metadata"`
	// Spec is an Application's spec. It is checked as one when each
	// Application is written, after rendering, so that a field with a
	// pattern (a namespace) may hold a placeholder here.
	// +required
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec runtime.RawExtension `json:"spec"`
}

// ApplicationSetTemplateMeta is the metadata of a generated Application.
type ApplicationSetTemplateMeta struct {
	// Name of each Application; it must render to a different name per
	// parameter set.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ApplicationSetStatus is what the controller last did.
type ApplicationSetStatus struct {
	// ObservedGeneration is the generation the last pass ran for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready is True when every generated Application was
	// written, False with the reason when generating or writing failed.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Applications are the names of the Applications the last pass
	// generated, in order.
	// +optional
	Applications []string `json:"applications,omitempty"`
	// ApplicationCount is len(applications).
	// +optional
	ApplicationCount int `json:"applicationCount,omitempty"`
}

// ApplicationSetList is a list of ApplicationSets.
//
// +kubebuilder:object:root=true
type ApplicationSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ApplicationSet `json:"items"`
}

// AddApplicationSetToScheme adds ApplicationSet and ApplicationSetList to
// a scheme; [AddToScheme] adds the other kinds. It changes only the
// scheme it is given.
func AddApplicationSetToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ApplicationSet{}, &ApplicationSetList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
