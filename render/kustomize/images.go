package kustomize

import (
	"fmt"
	"path"

	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/render"
)

// setImages applies image overrides as `kustomize edit set image` does,
// which is what Argo CD runs for an Application's kustomize.images: the
// rendered directory's own kustomization is edited (in the virtual layer;
// the source is never written), an entry of the same name updated and
// others appended. An outer kustomization would apply them after the
// directory's own images, where an image it already renamed
// ("backend" → "ghcr.io/myorg/backend:v1.0.0") no longer matches.
func setImages(c *confinedFS, dir string, images []render.Image) error {
	var file string
	var data []byte
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		p := path.Join(rootDir, dir, name)
		if d, err := c.readFile(p); err == nil {
			file, data = p, d
			break
		}
	}
	if file == "" {
		return &render.Error{Path: dir, Err: fmt.Errorf("image overrides: no kustomization file")}
	}
	k := map[string]any{}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return &render.Error{Path: displayPath(file), Err: fmt.Errorf("image overrides: %w", err)}
	}
	list, _ := k["images"].([]any)
	for _, img := range images {
		if img.Name == "" {
			return &render.Error{Path: dir, Err: fmt.Errorf("image override without a name")}
		}
		entry := map[string]any{"name": img.Name}
		found := false
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["name"] == img.Name {
				entry, found = m, true
				break
			}
		}
		if img.NewName != "" {
			entry["newName"] = img.NewName
		}
		// As kustomize edit set image: a tag replaces a digest and the
		// other way round.
		if img.NewTag != "" {
			entry["newTag"] = img.NewTag
			delete(entry, "digest")
		}
		if img.Digest != "" {
			entry["digest"] = img.Digest
			delete(entry, "newTag")
		}
		if !found {
			list = append(list, entry)
		}
	}
	k["images"] = list
	out, err := yaml.Marshal(k)
	if err != nil {
		return &render.Error{Path: displayPath(file), Err: fmt.Errorf("image overrides: %w", err)}
	}
	c.addVirtual(file, out)
	return nil
}
