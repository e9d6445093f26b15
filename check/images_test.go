package check

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestImageTags(t *testing.T) {
	deploy := func(image string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: " + image + "\n"
	}
	cases := map[string]struct {
		reason string
		files  map[string]string
		want   []string
	}{
		"Latest":   {"the tag latest moves", map[string]string{"d.yaml": deploy("nginx:latest")}, []string{"image-latest d.yaml:9:18"}},
		"NoTag":    {"no tag is latest", map[string]string{"d.yaml": deploy("ghcr.io/acme/web")}, []string{"image-latest d.yaml:9:18"}},
		"Port":     {"a registry port is no tag", map[string]string{"d.yaml": deploy("registry:5000/web")}, []string{"image-latest d.yaml:9:18"}},
		"Tagged":   {"a semver tag passes", map[string]string{"d.yaml": deploy("registry:5000/web:1.2.3")}, []string{}},
		"Digest":   {"a digest pins whatever the tag", map[string]string{"d.yaml": deploy("nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}, []string{}},
		"Template": {"a templated image is not known before rendering", map[string]string{"d.yaml": deploy("'{{ .Values.image }}'")}, []string{}},
		"PinnedByKustomize": {
			reason: "a base without a tag that a kustomization pins passes",
			files: map[string]string{
				"base/d.yaml":                      deploy("ghcr.io/acme/web"),
				"overlays/prod/kustomization.yaml": "images:\n  - name: ghcr.io/acme/web\n    newTag: 1.4.1\n",
			},
			want: []string{},
		},
		"KustomizeLatest": {
			reason: "an images: entry with newTag latest",
			files:  map[string]string{"overlays/dev/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n  - name: web\n    newTag: latest\n"},
			want:   []string{"image-latest overlays/dev/kustomization.yaml:5:13"},
		},
		"CronJobInit": {
			reason: "CronJobs and initContainers are workloads too",
			files:  map[string]string{"c.yaml": "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers:\n            - {name: init, image: busybox}\n          containers:\n            - {name: c, image: 'busybox:1.36'}\n"},
			want:   []string{"image-latest c.yaml:10:35"},
		},
		"NotAWorkload": {
			reason: "an image field outside a pod spec is not a container",
			files:  map[string]string{"x.yaml": "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: x}\nspec:\n  containers:\n    - image: nginx\n"},
			want:   []string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, findings(t, tc.files, ImageTags()), tc.reason)
		})
	}
}
