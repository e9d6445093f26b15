package helm_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/helm"
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
