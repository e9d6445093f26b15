package crdtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/converge-dev/converge/internal/crdtest"
	"github.com/converge-dev/converge/internal/testenv"
)

var plane = testenv.NewLazy(testenv.Options{Mode: testenv.Bare})

func TestMain(m *testing.M) { plane.Main(m) }

// served maps each CRD to the versions it serves.
func served(t *testing.T, crds []*unstructured.Unstructured) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, crd := range crds {
		versions, _, err := unstructured.NestedSlice(crd.Object, "spec", "versions")
		require.NoError(t, err)
		for _, v := range versions {
			m := v.(map[string]any)
			if m["served"] == true {
				out[crd.GetName()] = append(out[crd.GetName()], m["name"].(string))
			}
		}
	}
	return out
}

func TestLoadReadsThePinnedSources(t *testing.T) {
	crds, err := crdtest.Load(crdtest.GatewayAPI, crdtest.Istio, crdtest.SMI)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"httproutes.gateway.networking.k8s.io":      {"v1", "v1beta1"},
		"gateways.gateway.networking.k8s.io":        {"v1", "v1beta1"},
		"gatewayclasses.gateway.networking.k8s.io":  {"v1", "v1beta1"},
		"referencegrants.gateway.networking.k8s.io": {"v1", "v1beta1"},
		"virtualservices.networking.istio.io":       {"v1", "v1alpha3", "v1beta1"},
		"destinationrules.networking.istio.io":      {"v1", "v1alpha3", "v1beta1"},
		"trafficsplits.split.smi-spec.io":           {"v1alpha1"},
	}, served(t, crds))
	gw, err := crdtest.ModuleDir("sigs.k8s.io/gateway-api", "v1.6.3")
	require.NoError(t, err)
	assert.Contains(t, gw, "gateway-api@v1.6.3")
}

func TestLoadRefusesWhatIsNotThere(t *testing.T) {
	for name, tc := range map[string]struct {
		set   crdtest.CRDSet
		words string
	}{
		"a CRD the files lack":      {crdtest.CRDSet{Name: "x", Module: "istio.io/api", Version: "v1.32.0", Files: []string{"kubernetes/customresourcedefinitions.gen.yaml"}, CRDs: []string{"rollouts.argoproj.io"}}, "no CRD rollouts.argoproj.io"},
		"a file the module lacks":   {crdtest.CRDSet{Module: "istio.io/api", Version: "v1.32.0", Files: []string{"crds/*.yaml"}}, "istio.io/api@v1.32.0: no file matches crds/*.yaml"},
		"a version that is not one": {crdtest.CRDSet{Module: "istio.io/api", Version: "latest-ish", Files: []string{"*.yaml"}}, "go mod download istio.io/api@latest-ish"},
		"nothing":                   {crdtest.CRDSet{Name: "empty"}, "empty: neither a module"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := crdtest.Load(tc.set)
			assert.ErrorContains(t, err, tc.words)
		})
	}
}

func TestInstallEstablishesTheCRDs(t *testing.T) {
	env := plane.Env(t)
	crdtest.Install(t, env.Config, crdtest.GatewayAPI, crdtest.Istio, crdtest.SMI)
	crdtest.Install(t, env.Config, crdtest.Istio) // again: harmless

	client, err := dynamic.NewForConfig(env.Config)
	require.NoError(t, err)
	ns := env.Namespace(t)
	ctx := context.Background()
	// Each kind is served, and validated: a VirtualService whose weight
	// is a string is refused.
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		obj  string
		fail bool
	}{
		{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
			`{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"a"},"spec":{"http":[{"route":[{"destination":{"host":"a"},"weight":100}]}]}}`, false},
		{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
			`{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"b"},"spec":{"http":[{"route":[{"destination":{"host":"a"},"weight":"100"}]}]}}`, true},
		{schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
			`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"a"},"spec":{"rules":[{"backendRefs":[{"name":"a","port":80}]}]}}`, false},
		{schema.GroupVersionResource{Group: "split.smi-spec.io", Version: "v1alpha1", Resource: "trafficsplits"},
			`{"apiVersion":"split.smi-spec.io/v1alpha1","kind":"TrafficSplit","metadata":{"name":"a"},"spec":{"service":"a","backends":[{"service":"b","weight":"500m"},{"service":"c","weight":5}]}}`, false},
		{schema.GroupVersionResource{Group: "split.smi-spec.io", Version: "v1alpha1", Resource: "trafficsplits"},
			`{"apiVersion":"split.smi-spec.io/v1alpha1","kind":"TrafficSplit","metadata":{"name":"b"},"spec":{"service":"a","backends":[{"service":"b","weight":"lots"}]}}`, true},
	} {
		obj := &unstructured.Unstructured{}
		require.NoError(t, obj.UnmarshalJSON([]byte(tc.obj)))
		_, err := client.Resource(tc.gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
		if tc.fail {
			assert.Error(t, err, "%s %s", tc.gvr.Resource, obj.GetName())
		} else {
			assert.NoError(t, err, "%s %s", tc.gvr.Resource, obj.GetName())
		}
	}
}
