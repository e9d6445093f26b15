package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// SetterToken is what marks a field for Flux's image automation, in a line
// comment such as
//
//	image: ghcr.io/acme/web:1.0.0 # {"$imagepolicy": "flux-system:web"}
const SetterToken = "$imagepolicy"

// ImageRef is the image a policy picked, Flux's ImagePolicy
// status.latestRef.
type ImageRef struct {
	Name, Tag string
	// Digest is optional.
	Digest string
}

// String returns name:tag, with @digest when there is one.
func (r ImageRef) String() string {
	s := r.Name + ":" + r.Tag
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

func (r ImageRef) validate() error {
	if !nameRE.MatchString(r.Name) {
		return fmt.Errorf("image name %q is not valid", clip(r.Name))
	}
	if !tagRE.MatchString(r.Tag) {
		return fmt.Errorf("image %s: tag %q is not valid", r.Name, clip(r.Tag))
	}
	if r.Digest != "" && !digestRE.MatchString(r.Digest) {
		return fmt.Errorf("image %s: digest %q is not valid", r.Name, clip(r.Digest))
	}
	return nil
}

// SetPolicies is the Edit of Flux's image-automation-controller update
// package (UpdateWithSetters): every scalar whose line (or head) comment
// is a setter marker gets the value of the policy it names:
//
//	{"$imagepolicy": "ns:name"}         the whole image, name:tag[@digest]
//	{"$imagepolicy": "ns:name:tag"}     the tag
//	{"$imagepolicy": "ns:name:name"}    the image name
//	{"$imagepolicy": "ns:name:digest"}  the digest (empty without one)
//
// As in Flux, it reads the files under Path named *.yaml, *.yml or
// Kustomization that contain the quoted token "$imagepolicy", passes over
// files that do not parse, looks at values (not keys) only, and quotes a
// new value that would otherwise read as a number or boolean. A marker
// naming a policy not in Policies is left alone, as Flux leaves it, and
// reported in Result.Skipped.
type SetPolicies struct {
	// Path is the file or directory (slash-separated, "." for the whole
	// tree) to update.
	Path string
	// Policies maps a policy's "namespace:name" to the image it picked.
	Policies map[string]ImageRef
}

var _ Edit = SetPolicies{}

// Apply implements Edit.
func (e SetPolicies) Apply(ctx context.Context, fsys fs.FS) (Result, error) {
	for name, ref := range e.Policies {
		if err := ref.validate(); err != nil {
			return Result{}, fmt.Errorf("policy %s: %w", name, err)
		}
	}
	root := path.Clean(e.Path)
	if !fs.ValidPath(root) {
		return Result{}, fmt.Errorf("%s: not a valid slash-separated path inside the tree", e.Path)
	}
	var res Result
	token := []byte(`"` + SetterToken + `"`)
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" && path.Base(p) != "Kustomization" {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if !bytes.Contains(src, token) {
			return nil
		}
		f, err := parseYAMLFile(p, src)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: does not parse: %v", p, err))
			return nil
		}
		unknown := map[string]bool{}
		for _, doc := range f.docs {
			if err := f.visitSetters(doc, e.Policies, unknown); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		names := make([]string, 0, len(unknown))
		for n := range unknown {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: setter %q names no known policy", p, n))
		}
		out, err := f.bytes()
		if err != nil {
			return err
		}
		if !bytes.Equal(out, src) {
			res.Files = append(res.Files, FileChange{Path: p, Old: src, New: out})
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// visitSetters walks n as Flux's setter filter does: mapping values and
// sequence elements, down to scalars.
func (f *yamlFile) visitSetters(n *yaml.Node, policies map[string]ImageRef, unknown map[string]bool) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := f.visitSetters(c, policies, unknown); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := f.visitSetters(n.Content[i], policies, unknown); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		setter, ok := setterOf(n)
		if !ok {
			return nil
		}
		value, known := setterValue(setter, policies)
		if !known {
			unknown[setter] = true
			return nil
		}
		return f.setScalar(n, value)
	}
	return nil
}

// setterOf reads a setter marker from a node's line or head comment, as
// kyaml's fieldmeta does: the comment without its leading "#"s must be a
// JSON object of strings with a non-empty "$imagepolicy".
func setterOf(n *yaml.Node) (string, bool) {
	for _, c := range []string{n.LineComment, n.HeadComment} {
		if c == "" {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(strings.TrimLeft(c, "#")), &m); err != nil {
			return "", false // as fieldmeta: the first comment decides
		}
		if s := m[SetterToken]; s != "" {
			return s, true
		}
		return "", false
	}
	return "", false
}

func setterValue(setter string, policies map[string]ImageRef) (string, bool) {
	if ref, ok := policies[setter]; ok {
		return ref.String(), true
	}
	i := strings.LastIndex(setter, ":")
	if i < 0 {
		return "", false
	}
	ref, ok := policies[setter[:i]]
	if !ok {
		return "", false
	}
	switch setter[i+1:] {
	case "tag":
		return ref.Tag, true
	case "name":
		return ref.Name, true
	case "digest":
		return ref.Digest, true
	}
	return "", false
}
