package manifest

import "github.com/converge-dev/converge/render"

// PatchTarget reads a kustomize patch target, as Argo CD's
// spec.source.kustomize.patches and Flux's spec.patches write it (group,
// version, kind, name, namespace, labelSelector, annotationSelector). It
// returns nil when t is absent.
func PatchTarget(t *Node) *render.Selector {
	if t.m == nil {
		return nil
	}
	return &render.Selector{
		Group: t.Str("group"), Version: t.Str("version"), Kind: t.Str("kind"),
		Name: t.Str("name"), Namespace: t.Str("namespace"),
		LabelSelector: t.Str("labelSelector"), AnnotationSelector: t.Str("annotationSelector"),
	}
}
