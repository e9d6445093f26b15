package examples

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/kustomize"
	"github.com/converge-dev/converge/render/kustomize/kustomizetest"
)

var environments = []string{"dev", "staging", "prod"}

// renderEnv renders clusters/<env> of gitops-deploy with converge.
func renderEnv(t *testing.T, env string) *object.Set {
	t.Helper()
	set, err := kustomize.New().Render(context.Background(), os.DirFS("gitops-deploy"), "clusters/"+env, render.DefaultOptions())
	require.NoError(t, err)
	return set
}

func TestGitopsDeployRendersByteIdenticalToKustomizeCLI(t *testing.T) {
	cli, err := kustomizetest.CLI()
	require.NoError(t, err)
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			ctx := context.Background()
			want, err := kustomizetest.Build(ctx, cli, filepath.Join("gitops-deploy", "clusters", env))
			require.NoError(t, err)
			got, err := kustomize.New().Build(ctx, os.DirFS("gitops-deploy"), "clusters/"+env, render.DefaultOptions())
			require.NoError(t, err)
			require.NotEmpty(t, want)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func TestGitopsDeployPinsAnImmutableImageTagPerEnvironment(t *testing.T) {
	semver := regexp.MustCompile(`^ghcr\.io/converge-dev/shop-(web|api):[0-9]+\.[0-9]+\.[0-9]+$`)
	tags := map[string]map[string]string{} // env -> deployment -> image
	for _, env := range environments {
		tags[env] = map[string]string{}
		for _, obj := range renderEnv(t, env).Objects() {
			if obj.GetKind() != "Deployment" {
				continue
			}
			containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			require.NoError(t, err)
			for _, c := range containers {
				image, _ := c.(map[string]any)["image"].(string)
				assert.Regexp(t, semver, image, "%s: %s must pin a release tag, never latest", env, object.IDOf(obj))
				tags[env][obj.GetName()] = image
			}
		}
		assert.Len(t, tags[env], 2, "%s renders both apps", env)
	}
	for _, app := range []string{"web", "api"} {
		assert.NotEqual(t, tags["dev"][app], tags["staging"][app], "dev runs ahead of staging: %s", app)
		assert.NotEqual(t, tags["staging"][app], tags["prod"][app], "staging runs ahead of prod: %s", app)
	}
}

func TestGitopsDeployScalesProdWithReplicasAndHPA(t *testing.T) {
	for _, env := range environments {
		set := renderEnv(t, env)
		hpas := 0
		for id, obj := range set.All() {
			switch id.Kind {
			case "HorizontalPodAutoscaler":
				hpas++
			case "Deployment":
				replicas, _, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
				require.NoError(t, err)
				want := map[string]int64{"dev": 1, "staging": 2, "prod": 3}[env]
				assert.Equal(t, want, replicas, "%s: %s", env, id)
			}
		}
		if env == "prod" {
			assert.Equal(t, 2, hpas, "prod autoscales both apps")
		} else {
			assert.Zero(t, hpas, "%s does not autoscale", env)
		}
	}
}

func TestGitopsDeployClustersIncludeInfrastructureFirst(t *testing.T) {
	for _, env := range environments {
		set := renderEnv(t, env)
		var kinds bytes.Buffer
		for id := range set.All() {
			kinds.WriteString(id.Kind + " ")
		}
		for _, kind := range []string{"Namespace", "CustomResourceDefinition", "ServiceLevelObjective", "ClusterRole", "Role", "RoleBinding", "ServiceAccount", "ConfigMap", "Service", "Deployment"} {
			assert.Contains(t, kinds.String(), kind+" ", "%s renders a %s", env, kind)
		}
	}
}
