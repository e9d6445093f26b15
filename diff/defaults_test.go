package diff

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/converge-dev/converge/object"
)

// builtinConverter is a type converter for the built-in kinds from the
// schema client-go embeds: the same definitions the API server publishes,
// for tests that need no server.
func builtinConverter(tb testing.TB) managedfields.TypeConverter {
	tb.Helper()
	return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)
}

func decodeYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	objs, err := object.DecodeBytes([]byte(doc), object.DecodeOptions{})
	require.NoError(t, err)
	require.Len(t, objs, 1)
	return objs[0]
}

// TestServerDefaultsInAtomicValues normalizes objects as the server would
// store them, checking the defaults it fills in inside values the merge
// replaces whole, and the storage forms of empty lists.
func TestServerDefaultsInAtomicValues(t *testing.T) {
	scheme, err := newScheme()
	require.NoError(t, err)
	n := normalizer{scheme: scheme}
	tc := builtinConverter(t)
	cases := map[string]struct {
		doc  string
		path []string
		want any
	}{
		"fieldRef apiVersion": {
			doc:  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a, env: [{name: X, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}]}}}\n",
			path: []string{"spec", "template", "spec", "containers", "0", "env", "0", "valueFrom", "fieldRef", "apiVersion"}, want: "v1",
		},
		"downwardAPI volume items": {
			doc:  "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {template: {spec: {volumes: [{name: p, downwardAPI: {items: [{path: l, fieldRef: {fieldPath: metadata.labels}}]}}]}}}\n",
			path: []string{"spec", "template", "spec", "volumes", "0", "downwardAPI", "items", "0", "fieldRef", "apiVersion"}, want: "v1",
		},
		"projected service account token": {
			doc:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: token}}]}}]}\n",
			path: []string{"spec", "volumes", "0", "projected", "sources", "0", "serviceAccountToken", "expirationSeconds"}, want: int64(3600),
		},
		"webhook rule scope": {
			doc:  "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: w}\nwebhooks: [{name: a.b.c, rules: [{apiGroups: [''], apiVersions: [v1], resources: [pods], operations: [CREATE]}]}]\n",
			path: []string{"webhooks", "0", "rules", "0", "scope"}, want: "*",
		},
		"an explicit scope stays": {
			doc:  "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: w}\nwebhooks: [{name: a.b.c, rules: [{scope: Namespaced}]}]\n",
			path: []string{"webhooks", "0", "rules", "0", "scope"}, want: "Namespaced",
		},
		"claim template type": {
			doc:  "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {volumeClaimTemplates: [{metadata: {name: d}, spec: {accessModes: [ReadWriteOnce]}}]}\n",
			path: []string{"spec", "volumeClaimTemplates", "0", "kind"}, want: "PersistentVolumeClaim",
		},
		"claim template phase": {
			doc:  "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {volumeClaimTemplates: [{metadata: {name: d}}]}\n",
			path: []string{"spec", "volumeClaimTemplates", "0", "status", "phase"}, want: "Pending",
		},
		"claim template volume mode": {
			doc:  "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec: {volumeClaimTemplates: [{metadata: {name: d}, spec: {}}]}\n",
			path: []string{"spec", "volumeClaimTemplates", "0", "spec", "volumeMode"}, want: "Filesystem",
		},
		"group subject apiGroup": {
			doc:  "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}\nsubjects: [{kind: Group, name: g}]\n",
			path: []string{"subjects", "0", "apiGroup"}, want: "rbac.authorization.k8s.io",
		},
		"service account subject stays without apiGroup": {
			doc:  "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects: [{kind: ServiceAccount, name: s, namespace: n}]\n",
			path: []string{"subjects", "0", "apiGroup"}, want: nil,
		},
		"network policy port protocol": {
			doc:  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {podSelector: {}, ingress: [{ports: [{port: 3000}]}], egress: [{ports: [{port: 53, protocol: UDP}]}]}\n",
			path: []string{"spec", "ingress", "0", "ports", "0", "protocol"}, want: "TCP",
		},
		"network policy explicit protocol": {
			doc:  "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\nspec: {podSelector: {}, egress: [{ports: [{port: 53, protocol: UDP}]}]}\n",
			path: []string{"spec", "egress", "0", "ports", "0", "protocol"}, want: "UDP",
		},
		"pod failure policy condition status": {
			doc:  "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]}, template: {spec: {containers: [{name: a}]}}}\n",
			path: []string{"spec", "podFailurePolicy", "rules", "0", "onPodConditions", "0", "status"}, want: "True",
		},
		"limit range default from max": {
			doc:  "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l}\nspec: {limits: [{type: Container, max: {cpu: '2'}, min: {memory: 1Mi}}]}\n",
			path: []string{"spec", "limits", "0", "defaultRequest"}, want: map[string]any{"cpu": "2", "memory": "1Mi"},
		},
		"limit range for pods has no defaults": {
			doc:  "apiVersion: v1\nkind: LimitRange\nmetadata: {name: l}\nspec: {limits: [{type: Pod, max: {cpu: '2'}}]}\n",
			path: []string{"spec", "limits", "0", "default"}, want: nil,
		},
		"endpoint slice port": {
			doc:  "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints: []\nports: [{port: 80}]\n",
			path: []string{"ports", "0", "protocol"}, want: "TCP",
		},
		"resource lists round up to millis": {
			doc:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, resources: {limits: {cpu: 0.0001}}}]}\n",
			path: []string{"spec", "containers", "0", "resources", "limits", "cpu"}, want: "1m",
		},
		"an empty list is stored as null": {
			doc:  "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\nrules: []\n",
			path: []string{"rules"}, want: nil,
		},
	}
	for name, tc2 := range cases {
		t.Run(name, func(t *testing.T) {
			obj := decodeYAML(t, tc2.doc)
			d := newDefaulter(tc, obj.GroupVersionKind(), false)
			require.NotNil(t, d)
			out, exact := n.normalize(obj, d)
			require.True(t, exact)
			assert.Equal(t, tc2.want, at(out.Object, tc2.path...))
			again, _ := n.normalize(out, d)
			assert.Equal(t, out.Object, again.Object, "normalizing is idempotent")
		})
	}
}

// at returns the value at path in v: map keys, or list indexes in
// decimal.
func at(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// TestBuiltinDefaultsNameRealTypes guards the table against names the
// API server does not publish, which would silently never match.
func TestBuiltinDefaultsNameRealTypes(t *testing.T) {
	stub := &unstructured.Unstructured{}
	stub.SetAPIVersion("apps/v1")
	stub.SetKind("Deployment")
	tv, err := builtinConverter(t).ObjectToTyped(stub)
	require.NoError(t, err)
	for name := range builtinDefaults {
		_, ok := tv.Schema().FindNamedType(name)
		assert.True(t, ok, "%s is not a type of the built-in schema", name)
	}
}

const widgetSchema = `types:
- name: com.example.v1.Widget
  map:
    fields:
    - name: apiVersion
      type: {scalar: string}
    - name: kind
      type: {scalar: string}
    - name: spec
      type: {namedType: com.example.v1.WidgetSpec}
- name: com.example.v1.WidgetSpec
  map:
    fields:
    - name: replicas
      type: {scalar: numeric}
      default: 1
    - name: ports
      type:
        list:
          elementType: {namedType: com.example.v1.Port}
          elementRelationship: atomic
- name: com.example.v1.Port
  map:
    fields:
    - name: port
      type: {scalar: numeric}
    - name: protocol
      type: {scalar: string}
      default: TCP
`

// TestCustomResourceDefaultsFromSchema: for custom resources the schema's
// own defaults are what the server applies, inside atomic lists too.
func TestCustomResourceDefaultsFromSchema(t *testing.T) {
	parser, err := typed.NewParser(typed.YAMLObject(widgetSchema))
	require.NoError(t, err)
	name := "com.example.v1.Widget"
	d := &defaulter{schema: &parser.Schema, root: smdschema.TypeRef{NamedType: &name}}
	obj := decodeYAML(t, "apiVersion: example.com/v1\nkind: Widget\nspec: {ports: [{port: 80}, {port: 53, protocol: UDP}]}\n")
	d.apply(obj.Object)
	assert.Equal(t, map[string]any{
		"replicas": int64(1),
		"ports":    []any{map[string]any{"port": int64(80), "protocol": "TCP"}, map[string]any{"port": int64(53), "protocol": "UDP"}},
	}, obj.Object["spec"])
	absent := decodeYAML(t, "apiVersion: example.com/v1\nkind: Widget\n")
	d.apply(absent.Object)
	assert.NotContains(t, absent.Object, "spec", "defaults fill in fields of objects that exist, never the objects")
}
