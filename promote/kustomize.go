package promote

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Preserve, as a NewName, NewTag or Digest of an [Image], keeps the value
// the kustomization already has, as "*" does for `kustomize edit set
// image`.
const Preserve = "*"

// Image is one entry of a kustomization's images: list.
type Image struct {
	// Name is the image name the entry matches in the resources.
	Name string
	// NewName, NewTag and Digest are the replacements; empty means none.
	NewName, NewTag, Digest string
}

var (
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{1,256}$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]{0,254}$`)
)

// ParseImage reads an argument of `kustomize edit set image`:
// name=newName, name=newName:newTag, name=newName@digest,
// name=newName:newTag@digest, name:newTag, name:newTag@digest or
// name@digest, where "*" as newName, newTag or digest is [Preserve].
func ParseImage(arg string) (Image, error) {
	key, value, hasKey := strings.Cut(arg, "=")
	if !hasKey {
		value = key
	}
	name, tag, digest := splitImage(value)
	if !hasKey && name == value {
		return Image{}, fmt.Errorf("image %q: want name=newName[:newTag][@digest], name:newTag[@digest] or name@digest", clip(arg))
	}
	img := Image{NewTag: tag, Digest: digest}
	if hasKey {
		img.Name, img.NewName = key, name
	} else {
		img.Name = name
	}
	return img, img.validate()
}

// String returns the image as a `kustomize edit set image` argument.
func (img Image) String() string {
	s := img.Name
	if img.NewName != "" {
		s += "=" + img.NewName
	}
	if img.NewTag != "" {
		s += ":" + img.NewTag
	}
	if img.Digest != "" {
		s += "@" + img.Digest
	}
	return s
}

// splitImage is kustomize's image.Split (api/internal/image).
func splitImage(imageName string) (name, tag, digest string) {
	searchName := imageName
	slashIndex := strings.Index(imageName, "/")
	if slashIndex > 0 {
		searchName = imageName[slashIndex:]
	} else {
		slashIndex = 0
	}
	id := strings.Index(searchName, "@")
	ic := strings.Index(searchName, ":")
	switch {
	case ic < 0 && id < 0:
		return imageName, "", ""
	case id >= 0 && (id < ic || ic < 0):
		id += slashIndex
		return imageName[:id], "", strings.TrimPrefix(imageName[id:], "@")
	case id >= 0 && ic >= 0:
		id += slashIndex
		ic += slashIndex
		return imageName[:ic], strings.TrimPrefix(imageName[ic:id], ":"), strings.TrimPrefix(imageName[id:], "@")
	}
	ic += slashIndex
	return imageName[:ic], strings.TrimPrefix(imageName[ic:], ":"), ""
}

// validate refuses what is not an image name, tag or digest: control
// characters, whitespace, quotes and YAML syntax cannot reach a file.
func (img Image) validate() error {
	if !nameRE.MatchString(img.Name) {
		return fmt.Errorf("image name %q is not valid", clip(img.Name))
	}
	if img.NewName != "" && img.NewName != Preserve && !nameRE.MatchString(img.NewName) {
		return fmt.Errorf("image %s: new name %q is not valid", img.Name, clip(img.NewName))
	}
	if img.NewTag != "" && img.NewTag != Preserve && !tagRE.MatchString(img.NewTag) {
		return fmt.Errorf("image %s: tag %q is not valid", img.Name, clip(img.NewTag))
	}
	if img.Digest != "" && img.Digest != Preserve && !digestRE.MatchString(img.Digest) {
		return fmt.Errorf("image %s: digest %q is not valid", img.Name, clip(img.Digest))
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// SetImage is the Edit `kustomize edit set image` makes: for each image,
// the kustomization's entry of that name gets exactly the image's newName,
// newTag and digest (so a tag clears a digest and the reverse, and a
// missing newName clears one: the argument replaces the entry, "*" keeps
// a value), and an image with no entry gets a new one at the end of
// images:. Unlike kustomize, which rewrites the whole file sorted by its
// own order, the rest of the file is left as it was: entries keep their
// order, comments and quoting; new keys go at the end of their entry.
type SetImage struct {
	// File is the kustomization file, slash-separated in the tree
	// ("overlays/prod/kustomization.yaml"). A directory means the
	// kustomization.yaml, kustomization.yml or Kustomization in it.
	File   string
	Images []Image
}

var _ Edit = SetImage{}

// kustomizationNames are the names kustomize looks for, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Apply implements Edit.
func (e SetImage) Apply(ctx context.Context, fsys fs.FS) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	file := path.Clean(e.File)
	if st, err := fs.Stat(fsys, file); err == nil && st.IsDir() {
		found := ""
		for _, n := range kustomizationNames {
			if _, err := fs.Stat(fsys, path.Join(file, n)); err == nil {
				found = path.Join(file, n)
				break
			}
		}
		if found == "" {
			return Result{}, fmt.Errorf("%s: no kustomization file: %w", file, ErrNotFound)
		}
		file = found
	}
	for _, img := range e.Images {
		if err := img.validate(); err != nil {
			return Result{}, fmt.Errorf("%s: %w", file, err)
		}
	}
	src, err := readFile(fsys, file)
	if err != nil {
		return Result{}, err
	}
	out, err := setImages(file, src, e.Images)
	if err != nil {
		return Result{}, err
	}
	if string(out) == string(src) {
		return Result{}, nil
	}
	return Result{Files: []FileChange{{Path: file, Old: src, New: out}}}, nil
}

// setImages edits the kustomization src.
func setImages(file string, src []byte, images []Image) ([]byte, error) {
	f, err := parseYAMLFile(file, src)
	if err != nil {
		return nil, err
	}
	if len(f.docs) != 1 || len(f.docs[0].Content) != 1 || f.docs[0].Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a kustomization (want one YAML mapping)", file)
	}
	root := f.docs[0].Content[0]
	var list *yaml.Node
	if i := mapValue(root, "images"); i >= 0 {
		list = root.Content[i+1]
		switch {
		case list.Kind == yaml.SequenceNode:
		case list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null":
			*list = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			f.inPlace = false
		default:
			return nil, fmt.Errorf("%s: images: want a list, found a %s", file, kindName(list.Kind))
		}
	}
	for _, img := range images {
		found := false
		if list != nil {
			for _, entry := range list.Content {
				if entry.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("%s: images: an entry is a %s, not a mapping", file, kindName(entry.Kind))
				}
				if i := mapValue(entry, "name"); i < 0 || entry.Content[i+1].Value != img.Name {
					continue
				}
				found = true
				if err := f.setEntry(entry, img); err != nil {
					return nil, fmt.Errorf("%s: images: %s: %w", file, img.Name, err)
				}
			}
		}
		if !found {
			if err := f.addEntry(root, &list, img); err != nil {
				return nil, fmt.Errorf("%s: images: %s: %w", file, img.Name, err)
			}
		}
	}
	return f.bytes()
}

// setEntry gives an existing entry img's values, "*" keeping the entry's.
func (f *yamlFile) setEntry(entry *yaml.Node, img Image) error {
	want := map[string]string{"newName": img.NewName, "newTag": img.NewTag, "digest": img.Digest, "tagSuffix": ""}
	for _, k := range []string{"newName", "newTag", "digest"} {
		if want[k] == Preserve {
			want[k] = ""
			if i := mapValue(entry, k); i >= 0 {
				want[k] = entry.Content[i+1].Value
			}
		}
	}
	for _, k := range []string{"newName", "newTag", "digest", "tagSuffix"} {
		i := mapValue(entry, k)
		switch {
		case i >= 0 && want[k] == "":
			f.removeKey(entry, i)
		case i >= 0:
			if err := f.setScalar(entry.Content[i+1], want[k]); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		case want[k] != "":
			if err := f.addKey(entry, k, want[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addEntry appends a new entry for img to images:, adding the list if the
// kustomization has none.
func (f *yamlFile) addEntry(root *yaml.Node, list **yaml.Node, img Image) error {
	fields := [][2]string{{"name", img.Name}}
	for _, kv := range [][2]string{{"newName", img.NewName}, {"newTag", img.NewTag}, {"digest", img.Digest}} {
		if kv[1] != "" && kv[1] != Preserve {
			fields = append(fields, kv)
		}
	}
	entry := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	var lines []string
	for _, kv := range fields {
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"}
		nv, text, err := render(v, kv[1])
		if err != nil {
			return err
		}
		entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[0]}, nv)
		lines = append(lines, kv[0]+": "+text)
	}
	f.changed = true
	if *list == nil {
		*list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{entry}}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "images"}, *list)
		col := 1
		if len(root.Content) > 2 {
			col = root.Content[0].Column
		}
		if root.Style&yaml.FlowStyle != 0 || col != 1 {
			f.inPlace = false
			return nil
		}
		at, pre := f.lineEnd(len(f.lines))
		f.splices = append(f.splices, splice{at, at, pre + "images:\n- " + strings.Join(lines, "\n  ") + "\n"})
		(*list).Line, (*list).Column = len(f.lines), 1
		placed(entry, len(f.lines), 3)
		return nil
	}
	l := *list
	l.Content = append(l.Content, entry)
	if len(l.Content) < 2 || l.Style&yaml.FlowStyle != 0 {
		f.inPlace = false
		return nil
	}
	last := lastLine(l.Content[len(l.Content)-2])
	keyCol := l.Column + 2 // "- name", unless a block entry says otherwise
	for _, e := range l.Content[:len(l.Content)-1] {
		if e.Style&yaml.FlowStyle == 0 && len(e.Content) > 0 {
			keyCol = e.Content[0].Column
			break
		}
	}
	if last == 0 || l.Column < 1 || keyCol <= l.Column {
		f.inPlace = false
		return nil
	}
	dash := strings.Repeat(" ", l.Column-1)
	keyIndent := strings.Repeat(" ", keyCol-1)
	at, pre := f.lineEnd(last)
	text := pre
	for i, line := range lines {
		if i == 0 {
			text += dash + "-" + strings.Repeat(" ", keyCol-l.Column-1) + line + "\n"
		} else {
			text += keyIndent + line + "\n"
		}
	}
	f.splices = append(f.splices, splice{at, at, text})
	placed(entry, last, keyCol)
	return nil
}

// placed records where a new entry's text went, for a later insertion
// after it.
func placed(entry *yaml.Node, line, col int) {
	entry.Line, entry.Column = line, col
	for _, n := range entry.Content {
		n.Line, n.Column = line, col
	}
}
