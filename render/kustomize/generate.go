package kustomize

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/types"

	"github.com/converge-dev/converge/render"
)

// Generate returns the kustomization converge uses for directory dir of
// fsys when it has none, as Flux does: its resources are the YAML and JSON
// files below dir, recursively and in lexical order, except that a
// subdirectory holding a kustomization file is listed as a whole instead.
// Paths matching ignore (see [render.Options.Ignore]) are left out.
//
// A directory without manifests (a new environment holding only a README
// or a .gitkeep) gets "resources: []", which kustomize builds as nothing:
// it renders as an empty set, as in Flux, so that a pull request that
// fills it can be previewed. (Without that list kustomize would call the
// generated file empty and name a kustomization.yaml that does not exist.)
func Generate(fsys fs.FS, dir string, ignore []string) ([]byte, error) {
	ig, err := render.NewIgnore(ignore)
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	// Not types.Kustomization: its Resources are "omitempty", and an empty
	// list must stay in the file.
	k := struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}{
		APIVersion: types.KustomizationVersion,
		Kind:       types.KustomizationKind,
		Resources:  []string{},
	}
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		if dir == "." {
			rel = p
		}
		if ig.Match(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if hasKustomization(fsys, p) {
				k.Resources = append(k.Resources, rel)
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".yaml", ".yml", ".json":
			k.Resources = append(k.Resources, rel)
		}
		return nil
	})
	if err != nil {
		return nil, &render.Error{Path: dir, Err: err}
	}
	return json.Marshal(k)
}

func hasKustomization(fsys fs.FS, dir string) bool {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := fs.Stat(fsys, path.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// generateIfMissing adds a generated kustomization to the virtual layer
// when dir has none.
func generateIfMissing(c *confinedFS, dir string, ignore []string) error {
	info, err := fs.Stat(c.fsys, dir)
	if err != nil {
		return &render.Error{Path: dir, Err: err}
	}
	if !info.IsDir() {
		return &render.Error{Path: dir, Err: fs.ErrInvalid}
	}
	if hasKustomization(c.fsys, dir) {
		return nil
	}
	k, err := Generate(c.fsys, dir, ignore)
	if err != nil {
		return err
	}
	c.addVirtual(path.Join(rootDir, dir, "kustomization.yaml"), k)
	return nil
}
