package sealed

import (
	"fmt"
)

// The annotations Sealed Secrets reads on a SealedSecret (and kubeseal on
// the Secret it seals) to widen the scope. Only the value "true" counts.
const (
	// AnnotationNamespaceWide marks a namespace-wide SealedSecret.
	AnnotationNamespaceWide = "sealedsecrets.bitnami.com/namespace-wide"
	// AnnotationClusterWide marks a cluster-wide SealedSecret; it wins
	// over AnnotationNamespaceWide.
	AnnotationClusterWide = "sealedsecrets.bitnami.com/cluster-wide"
	// AnnotationSkipSetOwnerReferences, "true" on spec.template, tells the
	// controller not to make the SealedSecret the Secret's owner.
	AnnotationSkipSetOwnerReferences = "sealedsecrets.bitnami.com/skip-set-owner-references"
)

// Scope says where a sealed value may be unsealed. It is bound into the
// ciphertext as the RSA-OAEP label, so a value sealed under one scope
// does not decrypt under another name or namespace.
type Scope string

const (
	// ScopeStrict pins a value to one namespace and name (label
	// "namespace/name"). It is kubeseal's default.
	ScopeStrict Scope = "strict"
	// ScopeNamespaceWide pins a value to one namespace, under any name
	// (label "namespace").
	ScopeNamespaceWide Scope = "namespace-wide"
	// ScopeClusterWide lets a value unseal under any namespace and name
	// (empty label).
	ScopeClusterWide Scope = "cluster-wide"
)

// String returns the scope as kubeseal's --scope flag spells it; the zero
// Scope prints as "".
func (s Scope) String() string { return string(s) }

// ParseScope reads a kubeseal --scope value. An empty string is
// ScopeStrict, as it is for kubeseal.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "", ScopeStrict:
		return ScopeStrict, nil
	case ScopeNamespaceWide, ScopeClusterWide:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q: must be one of strict, namespace-wide, cluster-wide", s)
}

// ScopeOf returns the scope the annotations declare, as the controller
// reads a SealedSecret's metadata.annotations (and kubeseal a Secret's):
// cluster-wide if AnnotationClusterWide is "true", else namespace-wide if
// AnnotationNamespaceWide is "true", else strict.
func ScopeOf(annotations map[string]string) Scope {
	switch {
	case annotations[AnnotationClusterWide] == "true":
		return ScopeClusterWide
	case annotations[AnnotationNamespaceWide] == "true":
		return ScopeNamespaceWide
	}
	return ScopeStrict
}

// label returns the RSA-OAEP label of scope for namespace and name.
func (s Scope) label(namespace, name string) []byte {
	switch s {
	case ScopeClusterWide:
		return nil
	case ScopeNamespaceWide:
		return []byte(namespace)
	}
	return []byte(namespace + "/" + name)
}

func (s Scope) valid() bool {
	return s == ScopeStrict || s == ScopeNamespaceWide || s == ScopeClusterWide
}

// setScopeAnnotations makes anno declare scope, as kubeseal does: it
// deletes both scope annotations and sets the one scope needs. It returns
// anno, allocated if nil.
func setScopeAnnotations(anno map[string]string, scope Scope) map[string]string {
	if anno == nil {
		anno = map[string]string{}
	}
	delete(anno, AnnotationNamespaceWide)
	delete(anno, AnnotationClusterWide)
	switch scope {
	case ScopeNamespaceWide:
		anno[AnnotationNamespaceWide] = "true"
	case ScopeClusterWide:
		anno[AnnotationClusterWide] = "true"
	}
	return anno
}
