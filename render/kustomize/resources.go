package kustomize

import (
	"bytes"
	"errors"
	"path"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
)

// errEmptyKustomization is converge's wording of kustomize's "kustomization.yaml
// is empty", which names that file whatever the empty one is called and
// says nothing of what to do.
var errEmptyKustomization = errors.New(`the kustomization declares nothing, which kustomize refuses: list its resources ("resources: []" renders nothing), or delete the file to render the directory's manifests`)

// checkNotEmpty refuses, as kustomize would, a kustomization that
// declares nothing beyond its apiVersion and kind, by kustomize's own
// test, so that the refusal names the file. Content kustomize cannot read
// is left to kustomize.
func checkNotEmpty(data []byte) error {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil
	}
	k.FixKustomization()
	if k.CheckEmpty() != nil {
		return errEmptyKustomization
	}
	return nil
}

// noteResources records the files the kustomization at abs lists as
// resources, so that ReadFile can check them when kustomize loads them,
// which it does after reading the kustomization and before building it.
// Directories and remote bases end up recorded too; they are never read
// as files, so the extra entries cost nothing.
func (c *confinedFS) noteResources(abs string, data []byte) {
	var k struct {
		Resources []any `json:"resources"`
	}
	if yaml.Unmarshal(data, &k) != nil {
		return // kustomize reports the syntax error itself
	}
	dir := path.Dir(abs)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range k.Resources {
		if s, ok := r.(string); ok && s != "" && !isRemote(s) {
			c.resources[cleanAbs(path.Join(dir, s))] = true
		}
	}
}

func (c *confinedFS) isResource(abs string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resources[abs]
}

// checkGenerateName refuses a resource file holding an object with a
// generateName and no name, which converge does not support (see
// [object.GenerateNameError]). kustomize refuses it too, but with "missing
// metadata.name in object ...: file is not directory", after printing the
// object's annotations. Files it cannot decode are left to kustomize.
func checkGenerateName(data []byte, maxAlias int) error {
	if !bytes.Contains(data, []byte("generateName")) {
		return nil
	}
	objs, err := object.DecodeBytes(data, object.DecodeOptions{MaxBytes: int64(len(data)) + 1, MaxAliasNodes: maxAlias})
	if err != nil {
		return nil
	}
	for _, o := range objs {
		if gen := o.GetGenerateName(); gen != "" && o.GetName() == "" {
			return &object.GenerateNameError{Kind: o.GetKind(), GenerateName: gen}
		}
	}
	return nil
}
