package promote

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/converge-dev/converge/object"
)

// ImagePolicyGroup is the API group of Flux's ImagePolicy.
const ImagePolicyGroup = "image.toolkit.fluxcd.io"

// imagePolicyVersions are the ImagePolicy versions ParseImagePolicy reads;
// their spec is the same.
var imagePolicyVersions = []string{"v1", "v1beta2"}

// ImagePolicy is what converge reads from a Flux ImagePolicy manifest.
type ImagePolicy struct {
	// Name and Namespace are the policy's metadata, the "ns:name" that
	// setter markers refer to.
	Name, Namespace string
	// ImageRepository is spec.imageRepositoryRef (its namespace is empty
	// when the manifest leaves it to default to the policy's).
	ImageRepository ObjectRef
	// Policy is spec.policy and spec.filterTags.
	Policy Policy
	// DigestReflectionPolicy is spec.digestReflectionPolicy: "Never" (the
	// default when empty), "IfNotPresent" or "Always".
	DigestReflectionPolicy string
	// Interval is spec.interval, zero when absent.
	Interval time.Duration
	// Suspend is spec.suspend.
	Suspend bool
}

// ObjectRef names an object, its namespace optional.
type ObjectRef struct{ Name, Namespace string }

// Setter returns the "namespace:name" a Flux setter marker names the
// policy by.
func (p *ImagePolicy) Setter() string { return p.Namespace + ":" + p.Name }

// ParseImagePolicy reads one Flux ImagePolicy manifest
// (image.toolkit.fluxcd.io/v1 or v1beta2). A field of spec converge does
// not know is refused by name, as is a spec naming more than one of
// semver, alphabetical and numerical (Flux would silently use the first of
// them); status is ignored. The returned policy has been validated.
func ParseImagePolicy(data []byte) (*ImagePolicy, error) {
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	if err != nil {
		return nil, fmt.Errorf("ImagePolicy: %w", err)
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("ImagePolicy: want one object, found %d", len(objs))
	}
	u := objs[0]
	gvk := u.GroupVersionKind()
	if gvk.GroupKind() != (schema.GroupKind{Group: ImagePolicyGroup, Kind: "ImagePolicy"}) || !slices.Contains(imagePolicyVersions, gvk.Version) {
		return nil, fmt.Errorf("ImagePolicy: %s is not an %s ImagePolicy (%s)", gvk, ImagePolicyGroup, strings.Join(imagePolicyVersions, ", "))
	}
	what := "ImagePolicy/" + u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		what = "ImagePolicy/" + ns + "/" + u.GetName()
	}
	out := &ImagePolicy{Name: u.GetName(), Namespace: u.GetNamespace()}
	if err := only(u.Object, "", "apiVersion", "kind", "metadata", "spec", "status"); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	spec, err := mapAt(u.Object, "spec")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := out.readSpec(spec); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := out.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (out *ImagePolicy) readSpec(spec map[string]any) error {
	if err := only(spec, "spec.", "imageRepositoryRef", "policy", "filterTags", "digestReflectionPolicy", "interval", "suspend"); err != nil {
		return err
	}
	ref, err := mapAt(spec, "imageRepositoryRef")
	if err != nil {
		return fmt.Errorf("spec.%w", err)
	}
	if err := only(ref, "spec.imageRepositoryRef.", "name", "namespace"); err != nil {
		return err
	}
	if out.ImageRepository.Name, err = stringAt(ref, "spec.imageRepositoryRef.", "name", true); err != nil {
		return err
	}
	if out.ImageRepository.Namespace, err = stringAt(ref, "spec.imageRepositoryRef.", "namespace", false); err != nil {
		return err
	}
	choice, err := mapAt(spec, "policy")
	if err != nil {
		return fmt.Errorf("spec.%w", err)
	}
	if err := only(choice, "spec.policy.", "semver", "alphabetical", "numerical"); err != nil {
		return err
	}
	var kinds []string
	for _, k := range []Kind{SemVer, Alphabetical, Numerical} {
		if _, ok := choice[string(k)]; ok {
			kinds = append(kinds, string(k))
		}
	}
	switch len(kinds) {
	case 0:
		return fmt.Errorf("spec.policy: one of semver, alphabetical or numerical is required")
	case 1:
	default:
		return fmt.Errorf("spec.policy: more than one of %s", strings.Join(kinds, ", "))
	}
	k := Kind(kinds[0])
	body, err := mapAt(choice, string(k))
	if err != nil {
		return fmt.Errorf("spec.policy.%w", err)
	}
	prefix := "spec.policy." + string(k) + "."
	out.Policy.Kind = k
	if k == SemVer {
		if err := only(body, prefix, "range"); err != nil {
			return err
		}
		if out.Policy.Range, err = stringAt(body, prefix, "range", true); err != nil {
			return err
		}
	} else {
		if err := only(body, prefix, "order"); err != nil {
			return err
		}
		order, err := stringAt(body, prefix, "order", false)
		if err != nil {
			return err
		}
		out.Policy.Order = Order(order)
	}
	if _, ok := spec["filterTags"]; ok {
		ft, err := mapAt(spec, "filterTags")
		if err != nil {
			return fmt.Errorf("spec.%w", err)
		}
		if err := only(ft, "spec.filterTags.", "pattern", "extract"); err != nil {
			return err
		}
		out.Policy.Filter = &TagFilter{}
		if out.Policy.Filter.Pattern, err = stringAt(ft, "spec.filterTags.", "pattern", false); err != nil {
			return err
		}
		if out.Policy.Filter.Extract, err = stringAt(ft, "spec.filterTags.", "extract", false); err != nil {
			return err
		}
	}
	if out.DigestReflectionPolicy, err = stringAt(spec, "spec.", "digestReflectionPolicy", false); err != nil {
		return err
	}
	switch out.DigestReflectionPolicy {
	case "", "Never", "IfNotPresent", "Always":
	default:
		return fmt.Errorf("spec.digestReflectionPolicy: %q is not one of Always, IfNotPresent, Never", out.DigestReflectionPolicy)
	}
	iv, err := stringAt(spec, "spec.", "interval", false)
	if err != nil {
		return err
	}
	if iv != "" {
		if out.Interval, err = time.ParseDuration(iv); err != nil {
			return fmt.Errorf("spec.interval: %w", err)
		}
	}
	if out.Interval != 0 && out.DigestReflectionPolicy != "Always" {
		return fmt.Errorf("spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'")
	}
	if out.Interval == 0 && out.DigestReflectionPolicy == "Always" {
		return fmt.Errorf("spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'")
	}
	if v, ok := spec["suspend"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return fmt.Errorf("spec.suspend: want a boolean, found %T", v)
		}
		out.Suspend = b
	}
	return nil
}

// only refuses, by name, a key of m not in known.
func only(m map[string]any, prefix string, known ...string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, prefix+k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("unknown field %s (converge cannot honour it)", strings.Join(unknown, ", "))
	}
	return nil
}

func mapAt(m map[string]any, key string) (map[string]any, error) {
	v, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("%s is required", key)
	}
	if v == nil {
		return map[string]any{}, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, found %T", key, v)
	}
	return mm, nil
}

func stringAt(m map[string]any, prefix, key string, required bool) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			return "", fmt.Errorf("%s%s is required", prefix, key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s%s: want a string, found %T", prefix, key, v)
	}
	if required && s == "" {
		return "", fmt.Errorf("%s%s is required", prefix, key)
	}
	return s, nil
}
