// Package v1alpha1 holds the reference operator's API, group converge.dev
// version v1alpha1: the Application, one unit of desired state in a Git
// repository, applied to a namespace of the operator's cluster, and the
// Project, the limits of the Applications that name it.
//
//	app := &v1alpha1.Application{
//		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "platform"},
//		Spec: v1alpha1.ApplicationSpec{
//			Source:      v1alpha1.Source{RepoURL: "https://github.com/myorg/gitops-deploy.git", TargetRevision: "main", Path: "apps/shop"},
//			Destination: v1alpha1.Destination{Namespace: "shop"},
//			SyncPolicy:  v1alpha1.SyncPolicy{Prune: true},
//		},
//	}
//
// The DeepCopy methods (zz_generated.deepcopy.go) and the CRD manifests
// (../../config/crd/converge.dev_*.yaml) are generated from the
// types and their markers by controller-gen: run hack/operator/generate.sh
// after changing them; a test fails while they are stale.
//
// +kubebuilder:object:generate=true
// +groupName=converge.dev
package v1alpha1
