package diff

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// normalizedGroups are the built-in API group versions whose Go types the
// default normalizer round-trips objects through: the stable versions of
// the groups whose kinds hosts keep in Git. Importing them one by one,
// rather than client-go's whole scheme, keeps the alpha and beta versions
// of every group (and client-go's codecs) out of every host's build.
// Beta and alpha kinds, and API groups that only hold requests (reviews,
// token requests) or objects nobody writes by hand (Leases, Events), are
// compared like custom resources: exactly on what the schema says, without
// the Go types' canonical forms. A host that applies them can pass a
// fuller scheme with WithScheme.
var normalizedGroups = []func(*runtime.Scheme) error{
	admissionregistrationv1.AddToScheme,
	appsv1.AddToScheme,
	autoscalingv1.AddToScheme,
	autoscalingv2.AddToScheme,
	batchv1.AddToScheme,
	corev1.AddToScheme,
	discoveryv1.AddToScheme,
	flowcontrolv1.AddToScheme,
	networkingv1.AddToScheme,
	nodev1.AddToScheme,
	policyv1.AddToScheme,
	rbacv1.AddToScheme,
	resourcev1.AddToScheme,
	schedulingv1.AddToScheme,
	storagev1.AddToScheme,
}

// NewScheme returns the scheme a Differ builds when it is given none: the
// API groups above. A host with many Differs (one per unit) builds one and
// passes it to each with WithScheme; nothing changes it after it is built.
func NewScheme() (*runtime.Scheme, error) { return newScheme() }

// newScheme returns a scheme of normalizedGroups. It is not a package
// variable: a scheme is mutable, and a shared one would be global state.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range normalizedGroups {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
