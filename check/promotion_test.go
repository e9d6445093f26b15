package check

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/render/kustomize"
)

// overlay returns a kustomization of ../../base with the environment's
// label, image tag, replicas and extra patch lines.
func overlay(env, tag string, replicas int, extra string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../base]\n" +
		"labels:\n  - pairs: {environment: " + env + "}\n" +
		"images:\n  - {name: web, newTag: " + tag + "}\n" +
		"replicas:\n  - {name: web, count: " + strconv.Itoa(replicas) + "}\n" + extra
}

var base = map[string]string{
	"app/base/kustomization.yaml": "resources: [deployment.yaml]\nconfigMapGenerator:\n  - name: web-config\n    literals: [LOG_LEVEL=warn]\n",
	"app/base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n" +
		"    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n          image: web:1.0.0\n" +
		"          envFrom: [{configMapRef: {name: web-config}}]\n",
}

func withBase(files map[string]string) map[string]string {
	for k, v := range base {
		files[k] = v
	}
	return files
}

func TestPromotionPath(t *testing.T) {
	cases := map[string]struct {
		files map[string]string
		paths [][]string
		want  []string
	}{
		"DevStagingProd": {
			files: withBase(map[string]string{
				"app/overlays/dev/kustomization.yaml":     overlay("dev", "1.2.0", 1, ""),
				"app/overlays/staging/kustomization.yaml": overlay("staging", "1.1.0", 2, ""),
				"app/overlays/prod/kustomization.yaml":    overlay("prod", "1.1.0", 3, ""),
			}),
			want: []string{},
		},
		"Spellings": {
			files: map[string]string{
				"envs/development/kustomization.yaml": "resources: []\n",
				"envs/qa/kustomization.yaml":          "resources: []\n",
				"envs/production/kustomization.yaml":  "resources: []\n",
			},
			want: []string{},
		},
		"StraightToProd": {
			files: map[string]string{"app/overlays/prod/kustomization.yaml": "resources: []\n", "app/overlays/hotfix/kustomization.yaml": "resources: []\n"},
			want:  []string{"layout-promotion-path app/overlays/prod", "layout-promotion-path app/overlays/hotfix"},
		},
		"HostPaths": {
			files: map[string]string{
				"clusters/dev/kustomization.yaml":     "resources: []\n",
				"clusters/prod-eu/kustomization.yaml": "resources: []\n",
				"clusters/prod-us/kustomization.yaml": "resources: []\n",
			},
			paths: [][]string{{"dev", "prod-eu"}, {"dev", "prod-us"}},
			want:  []string{},
		},
		"NotEnvironments": {
			files: map[string]string{"charts/overlays/small/kustomization.yaml": "resources: []\n", "charts/overlays/large/kustomization.yaml": "resources: []\n"},
			want:  []string{},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			assert.ElementsMatch(t, c.want, findings(t, c.files, PromotionPath(c.paths)))
		})
	}
}

func TestProdDrift(t *testing.T) {
	r := kustomize.New()
	t.Run("OnlyImagesReplicasResourcesAndAutoscaling", func(t *testing.T) {
		files := withBase(map[string]string{
			"app/overlays/staging/kustomization.yaml": overlay("staging", "1.2.0", 2, ""),
			"app/overlays/prod/kustomization.yaml": overlay("prod", "1.1.0", 3, "resources: [hpa.yaml]\npatches:\n  - patch: |-\n"+
				"      - {op: add, path: /spec/template/spec/containers/0/resources, value: {limits: {cpu: '1'}}}\n    target: {kind: Deployment}\n"),
			"app/overlays/prod/hpa.yaml": "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web}\nspec: {maxReplicas: 5, scaleTargetRef: {kind: Deployment, name: web}}\n",
		})
		files["app/overlays/prod/kustomization.yaml"] = strings.Replace(files["app/overlays/prod/kustomization.yaml"], "resources: [../../base]\n", "", 1)
		files["app/overlays/prod/kustomization.yaml"] = strings.Replace(files["app/overlays/prod/kustomization.yaml"], "resources: [hpa.yaml]", "resources: [../../base, hpa.yaml]", 1)
		assert.Equal(t, []string{}, findings(t, files, ProdDrift(r, nil)))
	})
	t.Run("ConfigurationAndObjects", func(t *testing.T) {
		files := withBase(map[string]string{
			"app/overlays/dev/kustomization.yaml":     overlay("dev", "1.3.0", 1, "configMapGenerator:\n  - {name: web-config, behavior: merge, literals: [LOG_LEVEL=debug]}\n"),
			"app/overlays/staging/kustomization.yaml": overlay("staging", "1.2.0", 2, ""),
			"app/overlays/prod/kustomization.yaml": overlay("prod", "1.1.0", 3, "configMapGenerator:\n  - {name: web-config, behavior: merge, literals: [LOG_LEVEL=error, FEATURE_X=on]}\n"+
				"resources: [../../base, ingress.yaml]\n"),
			"app/overlays/prod/ingress.yaml": "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec: {rules: [{host: web.prod.example.com}]}\n",
		})
		files["app/overlays/prod/kustomization.yaml"] = strings.Replace(files["app/overlays/prod/kustomization.yaml"], "resources: [../../base]\n", "", 1)
		rep, err := Run(context.Background(), NewTarget(mapFS(files), "test", DefaultLimits()), []Rule{ProdDrift(r, nil)}, DefaultOptions())
		require.NoError(t, err)
		var got []string
		for _, f := range rep.Findings() {
			got = append(got, f.Location.String()+": "+f.Message)
		}
		assert.ElementsMatch(t, []string{
			"app/overlays/prod: ConfigMap web-config differs between app/overlays/prod and app/overlays/staging beyond images, replicas and resources: data.FEATURE_X, data.LOG_LEVEL",
			"app/overlays/prod: Ingress web is in app/overlays/prod but not in app/overlays/staging: production runs an object that was never tested below",
		}, got, "dev's LOG_LEVEL does not count: prod is compared with the environment just before it")
	})
	t.Run("Unrenderable", func(t *testing.T) {
		files := withBase(map[string]string{
			"app/overlays/staging/kustomization.yaml": "resources: [missing.yaml]\n",
			"app/overlays/prod/kustomization.yaml":    overlay("prod", "1.1.0", 3, ""),
		})
		rep, err := Run(context.Background(), NewTarget(mapFS(files), "test", DefaultLimits()), []Rule{ProdDrift(r, nil)}, DefaultOptions())
		require.NoError(t, err)
		assert.Empty(t, rep.Findings())
		assert.Equal(t, []string{"rule layout-prod-drift: app/overlays/prod and app/overlays/staging not compared: they do not render"}, rep.Notes)
	})
}

func TestTrimHash(t *testing.T) {
	assert.Equal(t, "web-config", trimHash("web-config-5g7h8k9m2t"))
	assert.Equal(t, "web-deployment", trimHash("web-deployment"), "a word of ten letters that is not a hash")
	assert.Equal(t, "web", trimHash("web"))
}
