package render

import (
	"github.com/converge-dev/converge/object"
)

// Options are the per-call settings of a [Renderer]. Start from
// [DefaultOptions]. The overrides (Namespace to Components) are what a
// GitOps host layers over the user's files, with Kustomize's meaning; a
// renderer that cannot honour one fails with [ErrUnsupported] rather than
// ignoring it.
type Options struct {
	// Ignore lists patterns of files and directories to skip, relative to
	// the rendered directory, in .gitignore syntax: "*.md", "docs/",
	// "/secrets/*.yaml", "**/testdata", "!keep.yaml" to re-include. It applies to
	// the manifests a renderer discovers itself (a plain tree, a directory
	// without a kustomization file), never to files a kustomization names.
	Ignore []string
	// Decode bounds each manifest file: its size, documents, nesting and
	// alias expansion. Kustomize applies the byte limit to every file it
	// reads.
	Decode object.DecodeOptions

	// Namespace, when set, is the namespace of every namespaced object
	// (kustomization "namespace:").
	Namespace string
	// NamePrefix and NameSuffix are added to every object's name, with
	// references updated (kustomization "namePrefix:", "nameSuffix:").
	NamePrefix string
	NameSuffix string
	// CommonLabels are added to every object's metadata; selectors and
	// pod templates are left alone, so immutable selectors do not change.
	CommonLabels map[string]string
	// CommonAnnotations are added to every object's metadata.
	CommonAnnotations map[string]string
	// Images replace container images, with "kustomize edit set image"
	// semantics.
	Images []Image
	// Patches are strategic-merge or JSON 6902 patches, inline, applied to
	// the objects their target selects (kustomization "patches:").
	Patches []Patch
	// Components are directories of Kustomize components, relative to the
	// rendered directory (kustomization "components:").
	Components []string
}

// DefaultOptions returns options with no overrides and the object
// package's default decoding limits.
func DefaultOptions() Options {
	return Options{Decode: object.DefaultDecodeOptions()}
}

// HasOverrides reports whether any Kustomization-level override is set.
func (o Options) HasOverrides() bool {
	return o.Namespace != "" || o.NamePrefix != "" || o.NameSuffix != "" ||
		len(o.CommonLabels) > 0 || len(o.CommonAnnotations) > 0 ||
		len(o.Images) > 0 || len(o.Patches) > 0 || len(o.Components) > 0
}

// Image is one image override, as "kustomize edit set image" takes it:
// Name is the image to match (without tag or digest); NewName, NewTag and
// Digest replace the parts that are set. Digest wins over NewTag.
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Patch is an inline patch and the objects it applies to. With no Target,
// a strategic-merge patch applies to the object it names.
type Patch struct {
	Patch  string    `json:"patch"`
	Target *Selector `json:"target,omitempty"`
}

// Selector picks objects for a [Patch]. Empty fields match anything; Name
// and Namespace are regular expressions, as in Kustomize.
type Selector struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}
