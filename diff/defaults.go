package diff

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// defaulter fills in the values the API server's defaulting sets, walking
// an object along its OpenAPI schema.
//
// Why the comparison needs it: the server merges an apply, then defaults
// the result, then stores it. The local merge runs the same merge without
// the defaulting. For most fields that makes no difference, because a
// default converge did not send is owned by nobody and the merge keeps
// live's value. It does make one inside an atomic value (a struct, list
// or map that the schema says is replaced whole, such as a fieldRef, a
// webhook's rules or a StatefulSet's volumeClaimTemplates): there the
// merge replaces live's value, defaults included, with desired's, and
// without defaulting every such default looks removed, on every plan.
//
// For built-in kinds the defaults come from a table that mirrors the
// server's defaulting functions (k8s.io/kubernetes/pkg/apis/*/v1), limited
// to the types that can sit inside an atomic value of a stable kind; their
// OpenAPI schema does not publish those defaults. For other kinds (custom
// resources) the schema's own `default` values are exactly what the server
// applies. Defaults are filled in on both sides of a comparison; on live,
// which the server has defaulted already, that changes nothing.
type defaulter struct {
	schema  *smdschema.Schema
	root    smdschema.TypeRef
	builtin bool
}

// newDefaulter returns the defaulter for gvk, or nil when tc's schema is
// deduced from values (no schema, no defaults) or does not know gvk.
func newDefaulter(tc managedfields.TypeConverter, gvk schema.GroupVersionKind, deduced bool) *defaulter {
	if deduced {
		return nil
	}
	stub := &unstructured.Unstructured{}
	stub.SetGroupVersionKind(gvk)
	tv, err := tc.ObjectToTyped(stub)
	if err != nil || tv.Schema() == nil {
		return nil
	}
	root := tv.TypeRef()
	if root.NamedType == nil {
		return nil
	}
	return &defaulter{schema: tv.Schema(), root: root, builtin: isBuiltinType(*root.NamedType)}
}

// isBuiltinType reports whether an OpenAPI definition name is one of the
// API server's own types (whose schema carries Go zero values as
// "defaults", which the server does not apply as such).
func isBuiltinType(name string) bool {
	for _, p := range []string{"io.k8s.api.", "io.k8s.apimachinery.", "io.k8s.kube-aggregator.", "io.k8s.apiextensions-apiserver."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// maxDefaultDepth bounds the walk: schemas are recursive (JSONSchemaProps)
// and objects come from users.
const maxDefaultDepth = 64

// apply fills in defaults in obj, in place. A nil defaulter does nothing.
func (d *defaulter) apply(obj map[string]any) {
	if d == nil {
		return
	}
	d.walk(d.root, obj, 0)
}

const quantityType = "io.k8s.apimachinery.pkg.api.resource.Quantity"

func (d *defaulter) walk(tr smdschema.TypeRef, v any, depth int) {
	if depth > maxDefaultDepth {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if d.builtin && tr.NamedType != nil {
			if f := builtinDefaults[*tr.NamedType]; f != nil {
				f(v)
			}
		}
		atom, ok := d.schema.Resolve(tr)
		if !ok || atom.Map == nil {
			return
		}
		for i := range atom.Map.Fields {
			f := &atom.Map.Fields[i]
			child, present := v[f.Name]
			if !present && !d.builtin && f.Default != nil {
				child = copyJSON(f.Default)
				v[f.Name], present = child, true
			}
			if present {
				d.walk(f.Type, child, depth+1)
			}
		}
		elem := atom.Map.ElementType
		if elem.NamedType == nil && elem.Inlined == (smdschema.Atom{}) {
			return
		}
		if d.builtin && elem.NamedType != nil && *elem.NamedType == quantityType {
			roundUpQuantities(v)
			return
		}
		for k, child := range v {
			if _, known := atom.Map.FindField(k); !known {
				d.walk(elem, child, depth+1)
			}
		}
	case []any:
		atom, ok := d.schema.Resolve(tr)
		if !ok || atom.List == nil {
			return
		}
		for _, child := range v {
			d.walk(atom.List.ElementType, child, depth+1)
		}
	}
}

// roundUpQuantities rounds the values of a resource list up to millis, as
// the server's SetDefaults_ResourceList does ("0.1m" is stored as "1m").
func roundUpQuantities(m map[string]any) {
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			continue
		}
		if !q.RoundUp(-3) {
			m[k] = q.String()
		}
	}
}

// copyJSON deep-copies a default value from a schema, so that objects never
// share (and edit) the schema's own maps and lists, and gives numbers the
// types of decoded JSON (a schema parsed from YAML holds ints).
func copyJSON(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case uint64:
		return float64(v)
	case float32:
		return float64(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = copyJSON(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = copyJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyJSON(x)
		}
		return out
	}
	return v
}

// builtinDefaults mirrors the API server's defaulting functions for the
// types that can sit inside an atomic value of a stable built-in kind,
// keyed by OpenAPI definition name. Each function edits one value of that
// type in place and, like the server's, only fills in what is unset.
// Defaults outside atomic values need no entry: the merge keeps them.
var builtinDefaults = map[string]func(m map[string]any){
	// env[].valueFrom.fieldRef and downwardAPI items: SetDefaults_ObjectFieldSelector.
	"io.k8s.api.core.v1.ObjectFieldSelector": func(m map[string]any) { defaultString(m, "apiVersion", "v1") },
	// env[].valueFrom.fileKeyRef: +default=false.
	"io.k8s.api.core.v1.FileKeySelector": func(m map[string]any) { defaultValue(m, "optional", false) },
	// projected volume sources: SetDefaults_ServiceAccountTokenProjection.
	"io.k8s.api.core.v1.ServiceAccountTokenProjection": func(m map[string]any) {
		defaultValue(m, "expirationSeconds", int64(3600))
	},
	// volumeClaimTemplates: SetDefaults_PersistentVolumeClaim and
	// SetDefaults_PersistentVolumeClaimSpec.
	"io.k8s.api.core.v1.PersistentVolumeClaim": func(m map[string]any) {
		status, _ := m["status"].(map[string]any)
		if status == nil {
			status = map[string]any{}
			m["status"] = status
		}
		defaultString(status, "phase", "Pending")
	},
	"io.k8s.api.core.v1.PersistentVolumeClaimSpec": func(m map[string]any) { defaultString(m, "volumeMode", "Filesystem") },
	// The apps/v1 conversion of a StatefulSet sets the type of each claim
	// template, whatever was sent.
	"io.k8s.api.apps.v1.StatefulSetSpec": func(m map[string]any) {
		tpls, _ := m["volumeClaimTemplates"].([]any)
		for _, t := range tpls {
			if t, ok := t.(map[string]any); ok {
				t["apiVersion"], t["kind"] = "v1", "PersistentVolumeClaim"
			}
		}
	},
	// Endpoints subsets: SetDefaults_Endpoints.
	"io.k8s.api.core.v1.EndpointPort": func(m map[string]any) { defaultString(m, "protocol", "TCP") },
	// LimitRange limits: SetDefaults_LimitRangeItem.
	"io.k8s.api.core.v1.LimitRangeItem": defaultLimitRangeItem,
	// Webhook and policy rules: SetDefaults_Rule (Rule is inlined).
	"io.k8s.api.admissionregistration.v1.RuleWithOperations":      defaultRuleScope,
	"io.k8s.api.admissionregistration.v1.NamedRuleWithOperations": defaultRuleScope,
	// Job podFailurePolicy rules: SetDefaults_PodFailurePolicyOnPodConditionsPattern.
	"io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern": func(m map[string]any) { defaultString(m, "status", "True") },
	// EndpointSlice ports: SetDefaults_EndpointPort.
	"io.k8s.api.discovery.v1.EndpointPort": func(m map[string]any) {
		defaultValue(m, "name", "")
		defaultString(m, "protocol", "TCP")
	},
	// NetworkPolicy ingress and egress ports: SetDefaults_NetworkPolicyPort.
	"io.k8s.api.networking.v1.NetworkPolicyPort": func(m map[string]any) { defaultString(m, "protocol", "TCP") },
	// RoleBinding and ClusterRoleBinding subjects: SetDefaults_Subject.
	"io.k8s.api.rbac.v1.Subject": func(m map[string]any) {
		if k, _ := m["kind"].(string); k == "User" || k == "Group" {
			defaultString(m, "apiGroup", "rbac.authorization.k8s.io")
		}
	},
	// ResourceClaim device requests: SetDefaults_ExactDeviceRequest and
	// SetDefaults_DeviceSubRequest. (DeviceTaint's timeAdded defaults to
	// the time of the write, which no comparison can predict.)
	"io.k8s.api.resource.v1.ExactDeviceRequest": defaultDeviceRequest,
	"io.k8s.api.resource.v1.DeviceSubRequest":   defaultDeviceRequest,
}

// defaultString sets m[key] when it is missing, null or "".
func defaultString(m map[string]any, key, value string) {
	if s, ok := m[key].(string); !ok || s == "" {
		m[key] = value
	}
}

// defaultValue sets m[key] when it is missing or null.
func defaultValue(m map[string]any, key string, value any) {
	if m[key] == nil {
		m[key] = value
	}
}

func defaultRuleScope(m map[string]any) { defaultString(m, "scope", "*") }

func defaultDeviceRequest(m map[string]any) {
	defaultString(m, "allocationMode", "ExactCount")
	if m["allocationMode"] == "ExactCount" {
		if n, _ := m["count"].(int64); n == 0 {
			m["count"] = int64(1)
		}
	}
}

// defaultLimitRangeItem: for containers, the default limit falls back to
// the max, and the default request to the default limit, then to the min.
func defaultLimitRangeItem(m map[string]any) {
	if m["type"] != "Container" {
		return
	}
	fill := func(field string, from ...string) {
		dst, _ := m[field].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
		}
		for _, f := range from {
			src, _ := m[f].(map[string]any)
			for k, v := range src {
				if _, ok := dst[k]; !ok {
					dst[k] = v
				}
			}
		}
		if len(dst) > 0 {
			m[field] = dst
		}
	}
	fill("default", "max")
	fill("defaultRequest", "default", "min")
}
