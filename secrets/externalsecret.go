package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The External Secrets Operator group, whose ExternalSecret, SecretStore
// and ClusterSecretStore kinds ExternalSecrets reads.
const ExternalSecretsGroup = "external-secrets.io"

// ErrUnsupported: a field of an ExternalSecret that converge cannot
// honour. It is refused by name, never dropped.
var ErrUnsupported = errors.New("not supported")

// ExternalSecret is an ExternalSecret as the External Secrets Operator
// reads it (external-secrets.io/v1beta1 and v1): where values come from
// and the Secret they make.
type ExternalSecret struct {
	Name, Namespace string
	Spec            ExternalSecretSpec
}

// ExternalSecretSpec is the spec of an ExternalSecret.
type ExternalSecretSpec struct {
	// RefreshInterval is how long values read are reused ("1h"); "0"
	// reads them once.
	RefreshInterval string     `json:"refreshInterval,omitempty"`
	RefreshPolicy   string     `json:"refreshPolicy,omitempty"`
	SecretStoreRef  StoreRef   `json:"secretStoreRef"`
	Target          Target     `json:"target,omitempty"`
	Data            []Data     `json:"data,omitempty"`
	DataFrom        []DataFrom `json:"dataFrom,omitempty"`
}

// StoreRef names a SecretStore (in the ExternalSecret's namespace) or a
// ClusterSecretStore.
type StoreRef struct {
	Name string `json:"name"`
	// Kind is "SecretStore" (the default) or "ClusterSecretStore".
	Kind string `json:"kind,omitempty"`
}

// Target describes the Secret an ExternalSecret makes.
type Target struct {
	// Name of the Secret; the ExternalSecret's name by default.
	Name string `json:"name,omitempty"`
	// CreationPolicy is "Owner" (the default: the Secret is the unit's,
	// pruned with it) or "Orphan" (never pruned). "Merge" and "None" are
	// refused.
	CreationPolicy string `json:"creationPolicy,omitempty"`
	// DeletionPolicy is "Retain" (the default: a value missing from the
	// store fails the render, so the last Secret stays) or "Delete" (when
	// the store has none of the entries any more, the Secret is left out,
	// so it is pruned).
	DeletionPolicy string    `json:"deletionPolicy,omitempty"`
	Template       *Template `json:"template,omitempty"`
	Immutable      bool      `json:"immutable,omitempty"`
}

// Template shapes the Secret: its type, metadata and data templates in
// Go template syntax over the values read ("{{ .password }}").
type Template struct {
	Type          string            `json:"type,omitempty"`
	EngineVersion string            `json:"engineVersion,omitempty"`
	MergePolicy   string            `json:"mergePolicy,omitempty"`
	Metadata      TemplateMetadata  `json:"metadata,omitempty"`
	Data          map[string]string `json:"data,omitempty"`
	TemplateFrom  []any             `json:"templateFrom,omitempty"`
}

// TemplateMetadata are the Secret's labels and annotations.
type TemplateMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Data reads one value into one key of the Secret.
type Data struct {
	SecretKey string    `json:"secretKey"`
	RemoteRef RemoteRef `json:"remoteRef"`
	SourceRef any       `json:"sourceRef,omitempty"`
}

// RemoteRef names a value in the store.
type RemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
	// Version is passed to the store as "KEY?version=V".
	Version string `json:"version,omitempty"`
	// DecodingStrategy is "None" (the default), "Base64", "Base64URL" or
	// "Auto".
	DecodingStrategy   string `json:"decodingStrategy,omitempty"`
	ConversionStrategy string `json:"conversionStrategy,omitempty"`
	MetadataPolicy     string `json:"metadataPolicy,omitempty"`
}

// DataFrom reads many values at once: every property of one entry
// (Extract) or the entries whose key matches (Find).
type DataFrom struct {
	Extract   *RemoteRef `json:"extract,omitempty"`
	Find      *Find      `json:"find,omitempty"`
	Rewrite   []any      `json:"rewrite,omitempty"`
	SourceRef any        `json:"sourceRef,omitempty"`
}

// Find selects entries under Path whose key matches Name.RegExp.
type Find struct {
	Path               string    `json:"path,omitempty"`
	Name               *FindName `json:"name,omitempty"`
	Tags               any       `json:"tags,omitempty"`
	DecodingStrategy   string    `json:"decodingStrategy,omitempty"`
	ConversionStrategy string    `json:"conversionStrategy,omitempty"`
}

// FindName matches keys by regular expression.
type FindName struct {
	RegExp string `json:"regexp"`
}

// IsExternalSecret says whether obj is an ExternalSecret.
func IsExternalSecret(obj *unstructured.Unstructured) bool {
	gv := obj.GroupVersionKind()
	return gv.Group == ExternalSecretsGroup && gv.Kind == "ExternalSecret"
}

// ParseExternalSecret reads obj. A field converge does not know, or knows
// and cannot honour, is an error naming it.
func ParseExternalSecret(obj *unstructured.Unstructured) (*ExternalSecret, error) {
	if !IsExternalSecret(obj) {
		return nil, fmt.Errorf("%s %s is not an ExternalSecret", obj.GetAPIVersion(), obj.GetKind())
	}
	switch v := obj.GroupVersionKind().Version; v {
	case "v1beta1", "v1":
	default:
		return nil, fmt.Errorf("ExternalSecret %s: version %s: %w (v1beta1 and v1 are)", obj.GetName(), v, ErrUnsupported)
	}
	raw, err := json.Marshal(obj.Object["spec"])
	if err != nil {
		return nil, fmt.Errorf("ExternalSecret %s: spec: %w", obj.GetName(), err)
	}
	var spec ExternalSecretSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("ExternalSecret %s: spec: %w", obj.GetName(), fieldError(err))
	}
	es := &ExternalSecret{Name: obj.GetName(), Namespace: obj.GetNamespace(), Spec: spec}
	if err := es.validate(); err != nil {
		return nil, fmt.Errorf("ExternalSecret %s: %w", es.Name, err)
	}
	return es, nil
}

// fieldError turns encoding/json's unknown-field error into one that
// names the field alone (its text quotes no value).
func fieldError(err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(msg, "json: unknown field "))
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("field %s: want %s", typeErr.Field, typeErr.Type)
	}
	return errors.New("not a valid ExternalSecret spec")
}

func (es *ExternalSecret) validate() error {
	s := es.Spec
	unsupported := func(field string) error { return fmt.Errorf("%s: %w", field, ErrUnsupported) }
	if s.SecretStoreRef.Name == "" {
		return errors.New("spec.secretStoreRef.name is required")
	}
	switch s.SecretStoreRef.Kind {
	case "", "SecretStore", "ClusterSecretStore":
	default:
		return fmt.Errorf("spec.secretStoreRef.kind %q: want SecretStore or ClusterSecretStore", s.SecretStoreRef.Kind)
	}
	if _, err := es.refreshInterval(); err != nil {
		return err
	}
	switch s.RefreshPolicy {
	case "", "Periodic", "CreatedOnce":
	default:
		return unsupported("spec.refreshPolicy " + s.RefreshPolicy)
	}
	switch s.Target.CreationPolicy {
	case "", "Owner", "Orphan":
	default:
		return unsupported("spec.target.creationPolicy " + s.Target.CreationPolicy + " (converge renders whole Secrets: Owner and Orphan are supported)")
	}
	switch s.Target.DeletionPolicy {
	case "", "Retain", "Delete":
	default:
		return unsupported("spec.target.deletionPolicy " + s.Target.DeletionPolicy)
	}
	if t := s.Target.Template; t != nil {
		switch t.EngineVersion {
		case "", "v2":
		default:
			return unsupported("spec.target.template.engineVersion " + t.EngineVersion)
		}
		switch t.MergePolicy {
		case "", "Replace", "Merge":
		default:
			return unsupported("spec.target.template.mergePolicy " + t.MergePolicy)
		}
		if len(t.TemplateFrom) > 0 {
			return unsupported("spec.target.template.templateFrom")
		}
		if _, err := parseTemplates(t.Data); err != nil {
			return err
		}
	}
	if len(s.Data) == 0 && len(s.DataFrom) == 0 {
		return errors.New("spec.data or spec.dataFrom is required")
	}
	for i, d := range s.Data {
		field := fmt.Sprintf("spec.data[%d]", i)
		if d.SecretKey == "" {
			return errors.New(field + ".secretKey is required")
		}
		if d.SourceRef != nil {
			return unsupported(field + ".sourceRef")
		}
		if err := d.RemoteRef.validate(field + ".remoteRef"); err != nil {
			return err
		}
	}
	for i, d := range s.DataFrom {
		field := fmt.Sprintf("spec.dataFrom[%d]", i)
		switch {
		case d.SourceRef != nil:
			return unsupported(field + ".sourceRef")
		case len(d.Rewrite) > 0:
			return unsupported(field + ".rewrite")
		case (d.Extract == nil) == (d.Find == nil):
			return errors.New(field + ": name one of extract and find")
		case d.Extract != nil:
			if err := d.Extract.validate(field + ".extract"); err != nil {
				return err
			}
		default:
			if d.Find.Tags != nil {
				return unsupported(field + ".find.tags")
			}
			if d.Find.Name == nil {
				return errors.New(field + ".find.name is required")
			}
			if _, err := regexp.Compile(d.Find.Name.RegExp); err != nil {
				return fmt.Errorf("%s.find.name.regexp: %w", field, err)
			}
			if err := checkStrategies(field+".find", d.Find.DecodingStrategy, d.Find.ConversionStrategy); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r RemoteRef) validate(field string) error {
	if r.Key == "" {
		return errors.New(field + ".key is required")
	}
	switch r.MetadataPolicy {
	case "", "None":
	default:
		return fmt.Errorf("%s.metadataPolicy %s: %w", field, r.MetadataPolicy, ErrUnsupported)
	}
	return checkStrategies(field, r.DecodingStrategy, r.ConversionStrategy)
}

func checkStrategies(field, decoding, conversion string) error {
	if !slices.Contains([]string{"", "None", "Base64", "Base64URL", "Auto"}, decoding) {
		return fmt.Errorf("%s.decodingStrategy %q: want None, Base64, Base64URL or Auto", field, decoding)
	}
	if conversion != "" && conversion != "Default" {
		return fmt.Errorf("%s.conversionStrategy %s: %w", field, conversion, ErrUnsupported)
	}
	return nil
}

// refreshInterval is how long values are reused; 0 means for as long as
// the processor lives (ESO reads them once).
func (es *ExternalSecret) refreshInterval() (time.Duration, error) {
	s := es.Spec.RefreshInterval
	if s == "" {
		return time.Hour, nil // ESO's default
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("spec.refreshInterval %q is not a duration", s)
	}
	return d, nil
}

// StoreKind returns the store's kind with the default filled in.
func (r StoreRef) StoreKind() string {
	if r.Kind == "" {
		return "SecretStore"
	}
	return r.Kind
}

func (r StoreRef) String() string { return r.StoreKind() + "/" + r.Name }
