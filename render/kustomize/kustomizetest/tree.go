package kustomizetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TreeOptions shape a generated tree.
type TreeOptions struct {
	// Apps is the number of applications, each with a base and the
	// overlays dev, staging and prod.
	Apps int
}

// DefaultTreeOptions returns the benchmark's shape: 50 apps × 3 overlays,
// about 700 objects.
func DefaultTreeOptions() TreeOptions { return TreeOptions{Apps: 50} }

// Overlays is the overlays of every app.
var overlays = []string{"dev", "staging", "prod"}

// OverlayPaths returns the overlay directories of a tree written with
// opts, slash-separated and relative to its root, in a stable order.
func OverlayPaths(opts TreeOptions) []string {
	var out []string
	for i := range opts.Apps {
		for _, o := range overlays {
			out = append(out, fmt.Sprintf("apps/%s/overlays/%s", AppName(i), o))
		}
	}
	return out
}

// AppName is the name of app i.
func AppName(i int) string { return fmt.Sprintf("app-%02d", i) }

// Files returns the generated tree as file paths (slash-separated) and
// contents: per app a base (Deployment, Service, ServiceAccount, a
// ConfigMap generated from a file) and overlays that set the namespace,
// the image and, by patch, the replicas; prod adds an HPA and a PDB.
func Files(opts TreeOptions) map[string]string {
	files := map[string]string{}
	for i := range opts.Apps {
		app := AppName(i)
		base := "apps/" + app + "/base/"
		files[base+"kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
- pairs:
    app.kubernetes.io/name: ` + app + `
  includeSelectors: true
resources:
- deployment.yaml
- service.yaml
- serviceaccount.yaml
configMapGenerator:
- name: ` + app + `-config
  files:
  - config.properties
`
		files[base+"deployment.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + app + `
spec:
  replicas: 1
  template:
    spec:
      serviceAccountName: ` + app + `
      containers:
      - name: app
        image: registry.example/` + app + `:v1
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: ` + app + `-config
        resources:
          requests:
            cpu: 10m
            memory: 32Mi
`
		files[base+"service.yaml"] = `apiVersion: v1
kind: Service
metadata:
  name: ` + app + `
spec:
  ports:
  - port: 80
    targetPort: 8080
`
		files[base+"serviceaccount.yaml"] = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ` + app + `
`
		files[base+"config.properties"] = fmt.Sprintf("app=%s\nlog.level=info\nindex=%d\n", app, i)
		for n, o := range overlays {
			dir := "apps/" + app + "/overlays/" + o + "/"
			res := "- ../../base\n"
			if o == "prod" {
				res += "- hpa.yaml\n- pdb.yaml\n"
				files[dir+"hpa.yaml"] = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ` + app + `
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: ` + app + `
  minReplicas: 3
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 80
`
				files[dir+"pdb.yaml"] = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ` + app + `
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ` + app + `
`
			}
			files[dir+"kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ` + app + `-` + o + `
resources:
` + res + `images:
- name: registry.example/` + app + `
  newTag: v1.` + fmt.Sprint(n) + `
configMapGenerator:
- name: ` + app + `-config
  behavior: merge
  literals:
  - ENVIRONMENT=` + o + `
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ` + app + `
    spec:
      replicas: ` + fmt.Sprint(n+1) + `
`
		}
	}
	return files
}

// WriteTree writes [Files] under dir.
func WriteTree(dir string, opts TreeOptions) error {
	for name, content := range Files(opts) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Touch changes one file of one app the way a small commit would: app i's
// base config gets a new line. It returns the file's path.
func Touch(dir string, i int, line string) (string, error) {
	name := "apps/" + AppName(i) + "/base/config.properties"
	p := filepath.Join(dir, filepath.FromSlash(name))
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(string(data), "\n") {
		data = append(data, '\n')
	}
	return name, os.WriteFile(p, append(data, line+"\n"...), 0o644)
}
