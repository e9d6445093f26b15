package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package's kinds.
var GroupVersion = schema.GroupVersion{Group: "converge.dev", Version: "v1alpha1"}

// AddToScheme adds this package's kinds to a scheme. It changes only the
// scheme it is given.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Application{}, &ApplicationList{}, &Project{}, &ProjectList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
