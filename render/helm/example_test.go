package helm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/helm"
	"github.com/converge-dev/converge/source/dir"
)

func Example() {
	fsys := fstest.MapFS{
		"charts/web/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: web\nversion: 1.0.0\n")},
		"charts/web/values.yaml": {Data: []byte("replicas: 1\n")},
		"charts/web/templates/deploy.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
`)},
		"charts/web/templates/migrate.yaml": {Data: []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  namespace: {{ .Release.Namespace }}
  annotations:
    helm.sh/hook: pre-upgrade
`)},
		"envs/prod.yaml": {Data: []byte("replicas: 3\n")},
	}
	s := helm.DefaultSettings()
	s.ReleaseName, s.Namespace = "shop", "shop"
	s.ValuesFiles = []string{"envs/prod.yaml"}
	s.Capabilities.KubeVersion = "v1.37.2"
	set, err := helm.New(s).Render(context.Background(), fsys, "charts/web", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	for id, obj := range set.All() {
		if hook := obj.GetAnnotations()[object.AnnotationHook]; hook != "" {
			fmt.Println(id, "hook:", hook)
			continue
		}
		fmt.Println(id)
	}
	dep, _ := set.Get(object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop-web"})
	fmt.Println("replicas:", dep.Object["spec"].(map[string]any)["replicas"])
	// Output:
	// Deployment.apps/shop/shop-web
	// Job.batch/shop/shop-migrate hook: PreSync
	// replicas: 3
}

// One release of a chart in a source snapshot, with a values file, inline
// values and the cluster's capabilities, as the package overview sets
// them.
func ExampleNew() {
	root, _ := os.MkdirTemp("", "deploy")
	defer os.RemoveAll(root)
	for name, content := range map[string]string{
		"charts/shop/Chart.yaml":  "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
		"charts/shop/values.yaml": "replicaCount: 1\nimage: shop:1.0.0\n",
		"charts/shop/templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
      - name: shop
        image: {{ .Values.image }}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
{{- end }}
`,
		"apps/shop/values-prod.yaml": "image: shop:1.4.2\n",
	} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
		_ = os.WriteFile(filepath.Join(root, name), []byte(content), 0o644)
	}
	ctx := context.Background()
	snap, err := dir.New(root).Fetch(ctx)
	if err != nil {
		panic(err)
	}
	discovered := []string{"monitoring.coreos.com/v1"} // the API versions the cluster serves

	s := helm.DefaultSettings()
	s.ReleaseName, s.Namespace = "shop", "shop"
	s.ValuesFiles = []string{"apps/shop/values-prod.yaml"} // relative to the fs root
	s.Values = map[string]any{"replicaCount": 3}
	s.Capabilities = helm.Capabilities{KubeVersion: "v1.37.2", APIVersions: discovered}
	set, err := helm.New(s).Render(ctx, snap.FS, "charts/shop", render.DefaultOptions())
	if err != nil {
		panic(err)
	}
	for id := range set.All() {
		fmt.Println(id)
	}
	dep, _ := set.Get(object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"})
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	fmt.Println("replicas:", replicas, "image:", containers[0].(map[string]any)["image"])
	// Output:
	// Deployment.apps/shop/shop
	// ServiceMonitor.monitoring.coreos.com/shop/shop
	// replicas: 3 image: shop:1.4.2
}
