package sealed

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The SealedSecret kind.
const (
	APIVersion = "bitnami.com/v1alpha1"
	Kind       = "SealedSecret"
)

// ErrNoNamespace: a strict or namespace-wide value needs a namespace to
// bind to, and none was given.
var ErrNoNamespace = errors.New("a namespace is required unless the scope is cluster-wide")

// ErrNoName: a strict value needs a name to bind to, and none was given.
var ErrNoName = errors.New("a name is required")

// lastApplied are the annotations kubectl and kubecfg fill with a copy of
// the whole object, secret values included; kubeseal strips them.
var lastApplied = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"kubecfg.ksonnet.io/last-applied-configuration",
}

// Seal seals secret with pub (the controller's certificate, see
// [ParsePublicKey] and [FetchCertificate]) into a SealedSecret, as
// kubeseal --format yaml --cert does: every data and stringData value
// encrypted on its own into spec.encryptedData, the Secret's metadata
// (less server-set fields, owner references and last-applied
// annotations), type and immutable into spec.template, and the scope
// annotation on the SealedSecret and its template. rnd is the source of
// randomness, crypto/rand.Reader outside tests; values are sealed in key
// order, so a deterministic rnd gives deterministic output.
//
// A zero scope takes the scope from secret's own annotations, as kubeseal
// does without --scope; any other scope is authoritative and rewrites
// them (kubeseal --scope strict, unlike this, keeps a cluster-wide
// annotation the Secret carries). Seal does not read a kubeconfig for a
// default namespace as kubeseal does: a Secret without a namespace fails
// with ErrNoNamespace unless the scope is cluster-wide; set the namespace
// first. An empty Secret seals to an empty encryptedData (kubeseal's
// --allow-empty-data). secret is not modified.
func Seal(rnd io.Reader, pub *rsa.PublicKey, secret *corev1.Secret, scope Scope) (*unstructured.Unstructured, error) {
	if secret == nil {
		return nil, errors.New("seal: nil Secret")
	}
	ref := secret.Namespace + "/" + secret.Name
	if pub == nil {
		return nil, fmt.Errorf("seal Secret %s: nil public key", ref)
	}
	s := secret.DeepCopy()
	if s.Name == "" {
		return nil, fmt.Errorf("seal Secret %s: %w", ref, ErrNoName)
	}
	switch {
	case scope == "":
		scope = ScopeOf(s.Annotations)
	case !scope.valid():
		return nil, fmt.Errorf("seal Secret %s: unknown scope %q", ref, scope)
	case scope == ScopeStrict:
		if s.Annotations != nil {
			s.Annotations = setScopeAnnotations(s.Annotations, scope)
		}
	default:
		s.Annotations = setScopeAnnotations(s.Annotations, scope)
	}
	if scope != ScopeClusterWide && s.Namespace == "" {
		return nil, fmt.Errorf("seal Secret %s under scope %s: %w", ref, scope, ErrNoNamespace)
	}

	// What kubeseal strips, and managedFields, which it keeps.
	s.SelfLink, s.UID, s.ResourceVersion, s.Generation = "", "", "", 0
	s.CreationTimestamp, s.DeletionTimestamp, s.DeletionGracePeriodSeconds = metav1.Time{}, nil, nil
	s.OwnerReferences, s.ManagedFields = nil, nil
	for _, a := range lastApplied {
		delete(s.Annotations, a)
	}

	label := scope.label(s.Namespace, s.Name)
	encrypted := map[string]any{}
	seal := func(k string, v []byte) error {
		ct, err := hybridEncrypt(rnd, pub, v, label)
		if err != nil {
			return fmt.Errorf("seal Secret %s: data key %q: %w", ref, k, err)
		}
		encrypted[k] = base64.StdEncoding.EncodeToString(ct)
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		if _, ok := s.StringData[k]; ok {
			continue // stringData wins, as the API server merges them
		}
		if err := seal(k, s.Data[k]); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.StringData)) {
		if err := seal(k, []byte(s.StringData[k])); err != nil {
			return nil, err
		}
	}

	tmeta, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&s.ObjectMeta)
	if err != nil {
		return nil, fmt.Errorf("seal Secret %s: template metadata: %w", ref, err)
	}
	tmeta["creationTimestamp"] = nil // as metav1.ObjectMeta encodes a zero time
	template := map[string]any{"metadata": tmeta}
	if s.Type != "" {
		template["type"] = string(s.Type)
	}
	if s.Immutable != nil {
		template["immutable"] = *s.Immutable
	}
	meta := map[string]any{"name": s.Name, "creationTimestamp": nil}
	if s.Namespace != "" {
		meta["namespace"] = s.Namespace
	}
	if anno := setScopeAnnotations(nil, scope); len(anno) > 0 {
		meta["annotations"] = map[string]any{}
		for k, v := range anno {
			meta["annotations"].(map[string]any)[k] = v
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion,
		"kind":       Kind,
		"metadata":   meta,
		"spec": map[string]any{
			"encryptedData": encrypted,
			"template":      template,
		},
	}}, nil
}

// EncryptValue seals one value as kubeseal --raw does, for a SealedSecret
// namespace/name under scope (a zero scope is strict), and returns it
// base64-encoded, ready for spec.encryptedData. A strict value needs both
// namespace and name, a namespace-wide one the namespace; a cluster-wide
// one binds to neither, so they are ignored.
func EncryptValue(rnd io.Reader, pub *rsa.PublicKey, scope Scope, namespace, name string, value []byte) (string, error) {
	ref := namespace + "/" + name
	if scope == "" {
		scope = ScopeStrict
	}
	if !scope.valid() {
		return "", fmt.Errorf("seal value for %s: unknown scope %q", ref, scope)
	}
	if pub == nil {
		return "", fmt.Errorf("seal value for %s: nil public key", ref)
	}
	if scope != ScopeClusterWide && namespace == "" {
		return "", fmt.Errorf("seal value for %s under scope %s: %w", ref, scope, ErrNoNamespace)
	}
	if scope == ScopeStrict && name == "" {
		return "", fmt.Errorf("seal value for %s under scope %s: %w", ref, scope, ErrNoName)
	}
	ct, err := hybridEncrypt(rnd, pub, value, scope.label(namespace, name))
	if err != nil {
		return "", fmt.Errorf("seal value for %s: %w", ref, err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}
