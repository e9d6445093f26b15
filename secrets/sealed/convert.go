package sealed

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// ErrNotSecret: the object is not a v1 Secret.
var ErrNotSecret = errors.New("not a v1 Secret")

// FromSecretObject converts a v1 Secret read as unstructured (from YAML,
// a rendered set) to a corev1.Secret. data values must be base64 strings
// and stringData values strings; an error names the Secret and the key,
// never the value.
func FromSecretObject(obj *unstructured.Unstructured) (*corev1.Secret, error) {
	if obj == nil {
		return nil, fmt.Errorf("Secret: %w", ErrNotSecret)
	}
	ref := obj.GetNamespace() + "/" + obj.GetName()
	if obj.GetAPIVersion() != "v1" || obj.GetKind() != "Secret" {
		return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), ref, ErrNotSecret)
	}
	rest := maps.Clone(obj.Object)
	delete(rest, "data")
	delete(rest, "stringData")
	var secret corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rest, &secret); err != nil {
		return nil, fmt.Errorf("Secret %s: %w", ref, jsonShape(err))
	}
	if raw, ok := obj.Object["data"]; ok && raw != nil {
		data, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Secret %s: data is not a map", ref)
		}
		secret.Data = make(map[string][]byte, len(data))
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if data[k] == nil {
				secret.Data[k] = nil
				continue
			}
			b, err := secretBytes(data, k)
			if err != nil {
				return nil, fmt.Errorf("Secret %s: %w", ref, err)
			}
			secret.Data[k] = b
		}
	}
	if raw, ok := obj.Object["stringData"]; ok && raw != nil {
		data, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Secret %s: stringData is not a map", ref)
		}
		secret.StringData = make(map[string]string, len(data))
		for _, k := range slices.Sorted(maps.Keys(data)) {
			s, ok := data[k].(string)
			if !ok {
				return nil, fmt.Errorf("Secret %s: stringData key %q is not a string", ref, k)
			}
			secret.StringData[k] = s
		}
	}
	return &secret, nil
}

// ToSecretObject converts secret to unstructured, as a rendered set holds
// objects: apiVersion v1, kind Secret, data base64-encoded, and no
// creationTimestamp: null.
func ToSecretObject(secret *corev1.Secret) (*unstructured.Unstructured, error) {
	if secret == nil {
		return nil, fmt.Errorf("Secret: %w", ErrNotSecret)
	}
	s := secret.DeepCopy()
	s.APIVersion, s.Kind = "v1", "Secret"
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return nil, fmt.Errorf("Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if meta, ok := m["metadata"].(map[string]any); ok {
		if v, ok := meta["creationTimestamp"]; ok && v == nil {
			delete(meta, "creationTimestamp")
		}
	}
	return &unstructured.Unstructured{Object: m}, nil
}
