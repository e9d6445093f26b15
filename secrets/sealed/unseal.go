package sealed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Sentinel errors a caller can branch on with errors.Is. Unseal returns
// them wrapped in an [*Error].
var (
	// ErrNoKeyDecrypts: no key opens the value. Either it was sealed with
	// another key, or the ciphertext was changed, or the SealedSecret was
	// renamed or moved out of the scope it was sealed for: the scope is
	// bound into the ciphertext, so these cannot be told apart.
	ErrNoKeyDecrypts = errors.New("no key could decrypt it (sealed with another key, altered, or renamed or moved out of its scope)")
	// ErrNotSealedSecret: the object is not a bitnami.com/v1alpha1
	// SealedSecret.
	ErrNotSealedSecret = errors.New("not a bitnami.com/v1alpha1 SealedSecret")
	// ErrInvalid: the SealedSecret is malformed (a value that is not a
	// base64 string, a spec of the wrong shape, a template that does not
	// parse).
	ErrInvalid = errors.New("invalid SealedSecret")
)

// Error is a failure to unseal one SealedSecret, or one of its values.
// Its text names the SealedSecret and the data key, never a value.
type Error struct {
	// SealedSecret is "namespace/name".
	SealedSecret string
	// Key is the data key at fault; empty when the whole object is.
	Key string
	// Err says what went wrong.
	Err error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("unseal SealedSecret %s: %v", e.SealedSecret, e.Err)
	}
	return fmt.Sprintf("unseal SealedSecret %s: data key %q: %v", e.SealedSecret, e.Key, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// sealedSpec is the part of a SealedSecret's spec Unseal reads.
type sealedSpec struct {
	Template struct {
		Metadata  metav1.ObjectMeta `json:"metadata"`
		Type      corev1.SecretType `json:"type"`
		Immutable *bool             `json:"immutable"`
		Data      map[string]string `json:"data"`
	} `json:"template"`
	Data          []byte         `json:"data"`
	EncryptedData map[string]any `json:"encryptedData"`
}

// Unseal decrypts sealed into the Secret the controller would create:
// spec.template's metadata, type and immutable, every
// spec.encryptedData value decrypted, the keys of spec.template.data
// executed as Go text/template over the decrypted values, and the
// SealedSecret's own namespace and name. The legacy spec.data field (one
// sealed Secret JSON) is read as the controller does by default.
//
// The scope comes from the SealedSecret's metadata.annotations, as the
// controller reads it; spec.template's annotations only decorate the
// Secret. Since the scope's namespace and name are bound into every
// value, a strict SealedSecret renamed or moved, or one whose annotations
// were widened, fails with ErrNoKeyDecrypts.
//
// Each key is tried, newest first. Unlike the controller, Unseal sets the
// owner reference to the SealedSecret only when sealed has a UID (it came
// from a cluster), since one without cannot be applied; and
// spec.template.data has Go's template builtins but not the controller's
// sprig functions (a template calling one fails, naming the key).
//
// Errors are [*Error] values (joined when several keys fail), sorted by
// key. sealed is not modified; the Secret is the caller's.
func (k *Keys) Unseal(sealed *unstructured.Unstructured) (*corev1.Secret, error) {
	if sealed == nil {
		return nil, &Error{SealedSecret: "/", Err: ErrNotSealedSecret}
	}
	ns, name := sealed.GetNamespace(), sealed.GetName()
	ref := ns + "/" + name
	fail := func(key string, err error) error { return &Error{SealedSecret: ref, Key: key, Err: err} }
	if sealed.GetAPIVersion() != APIVersion || sealed.GetKind() != Kind {
		return nil, fail("", fmt.Errorf("%w (apiVersion %q, kind %q)", ErrNotSealedSecret, sealed.GetAPIVersion(), sealed.GetKind()))
	}
	if k == nil || len(k.keys) == 0 {
		return nil, fail("", fmt.Errorf("%w: no keys", ErrNoKeyDecrypts))
	}
	var spec sealedSpec
	if raw, ok := sealed.Object["spec"]; ok {
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, fail("", fmt.Errorf("%w: spec cannot be encoded", ErrInvalid))
		}
		if err := json.Unmarshal(b, &spec); err != nil {
			return nil, fail("", fmt.Errorf("%w: spec: %v", ErrInvalid, jsonShape(err)))
		}
	}
	label := ScopeOf(sealed.GetAnnotations()).label(ns, name)

	var secret corev1.Secret
	if spec.Data != nil {
		if len(spec.EncryptedData) > 0 {
			return nil, fail("", fmt.Errorf("%w: both encryptedData and the deprecated data field are set", ErrInvalid))
		}
		plaintext, err := k.decrypt(spec.Data, label)
		if err != nil {
			return nil, fail("", fmt.Errorf("deprecated data field: %w", err))
		}
		if err := json.Unmarshal(plaintext, &secret); err != nil {
			return nil, fail("", fmt.Errorf("%w: the deprecated data field does not hold a Secret", ErrInvalid))
		}
	} else {
		spec.Template.Metadata.DeepCopyInto(&secret.ObjectMeta)
		secret.Type = spec.Template.Type
		secret.Immutable = spec.Template.Immutable
		secret.Data = map[string][]byte{}
		values := map[string]string{}
		var errs []error
		for _, key := range slices.Sorted(maps.Keys(spec.EncryptedData)) {
			s, ok := spec.EncryptedData[key].(string)
			if !ok {
				errs = append(errs, fail(key, fmt.Errorf("%w: the value is not a string", ErrInvalid)))
				continue
			}
			ct, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				errs = append(errs, fail(key, fmt.Errorf("%w: the value is not valid base64", ErrInvalid)))
				continue
			}
			plaintext, err := k.decrypt(ct, label)
			if err != nil {
				errs = append(errs, fail(key, err))
				continue
			}
			secret.Data[key] = plaintext
			values[key] = string(plaintext)
		}
		for _, key := range slices.Sorted(maps.Keys(spec.Template.Data)) {
			t, err := template.New(key).Parse(spec.Template.Data[key])
			if err != nil {
				errs = append(errs, fail(key, fmt.Errorf("%w: spec.template.data does not parse as a Go template", ErrInvalid)))
				continue
			}
			var out bytes.Buffer
			if err := t.Execute(&out, values); err != nil {
				// The message of a failed execution can quote values.
				errs = append(errs, fail(key, fmt.Errorf("%w: spec.template.data failed to execute", ErrInvalid)))
				continue
			}
			secret.Data[key] = out.Bytes()
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}

	secret.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
	secret.Namespace, secret.Name = ns, name
	secret.OwnerReferences = nil
	if uid := sealed.GetUID(); uid != "" && spec.Template.Metadata.Annotations[AnnotationSkipSetOwnerReferences] != "true" {
		controller := true
		secret.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: APIVersion,
			Kind:       Kind,
			Name:       name,
			UID:        uid,
			Controller: &controller,
		}}
	}
	return &secret, nil
}

// jsonShape keeps what a JSON decoding error says about shape (the field
// and the types), never input text.
func jsonShape(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: got a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return errors.New("malformed")
}
