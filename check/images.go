package check

import (
	"context"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ImageTags is the rule "image-latest": containers, initContainers and
// ephemeralContainers of every workload kind whose image has the tag
// latest or no tag (unless a kustomization's images: entry pins that
// image), and kustomize images: entries with newTag: latest.
func ImageTags() Rule { return NewRule(imageTagsMeta, imageTags) }

var imageTagsMeta = Meta{
	ID:       "image-latest",
	Title:    "Image by the latest tag or by no tag",
	Severity: SeverityHigh,
	Section:  SectionImages,
	Fix:      "Pin an immutable tag (semver, Git SHA, build ID) or a digest, in the manifest or in the kustomization's images:",
}

// podSpecPaths are where each workload kind keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"Rollout":               {"spec", "template", "spec"},
	"PodTemplate":           {"template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

func imageTags(ctx context.Context, t *Target) ([]Finding, error) {
	docs, err := t.Documents(ctx)
	pinned := map[string]bool{} // image names a kustomization pins
	for _, d := range docs {
		if !isKustomization(d) {
			continue
		}
		for _, img := range seq(lookup(d.Root, "images")) {
			if scalar(img, "newTag") != "" && scalar(img, "newTag") != "latest" || scalar(img, "digest") != "" {
				pinned[scalar(img, "name")] = true
				if n := scalar(img, "newName"); n != "" {
					pinned[n] = true
				}
			}
		}
	}
	var out []Finding
	for _, d := range docs {
		if isKustomization(d) {
			for _, img := range seq(lookup(d.Root, "images")) {
				if v := lookup(img, "newTag"); v != nil && v.Value == "latest" {
					out = append(out, at(imageTagsMeta, d, v.Line, v.Column, "kustomization sets image %s to the tag latest", scalar(img, "name")))
				}
			}
			continue
		}
		p, ok := podSpecPaths[d.Kind]
		if !ok {
			continue
		}
		spec := lookupPath(d.Root, p...)
		for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
			for _, c := range seq(lookup(spec, field)) {
				v := lookup(c, "image")
				if v == nil || v.Kind != yaml.ScalarNode || strings.Contains(v.Value, "{{") || strings.Contains(v.Value, "${") {
					continue
				}
				name, tag, digest := splitImage(v.Value)
				switch {
				case digest:
				case tag == "latest":
					out = append(out, at(imageTagsMeta, d, v.Line, v.Column, "%s container %q runs image %s by the tag latest", objectString(d.ID()), scalar(c, "name"), name))
				case tag == "" && !pinned[name]:
					out = append(out, at(imageTagsMeta, d, v.Line, v.Column, "%s container %q runs image %s with no tag (latest)", objectString(d.ID()), scalar(c, "name"), name))
				}
			}
		}
	}
	return out, err
}

func isKustomization(d *Document) bool {
	return strings.HasPrefix(d.File, "kustomization.y") || strings.Contains(d.File, "/kustomization.y") ||
		d.Kind == "Kustomization" && strings.HasPrefix(d.APIVersion, "kustomize.config.k8s.io/")
}

// splitImage splits "host:5000/repo/name:tag@sha256:..." into its name
// and tag, and says whether it has a digest.
func splitImage(ref string) (name, tag string, digest bool) {
	name = ref
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], true
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// seq returns a sequence node's items, or nil.
func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
