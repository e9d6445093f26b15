package promote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/converge-dev/converge/object"
)

// errInPlace: a change cannot be spliced into the original bytes; the
// file is re-encoded instead.
var errInPlace = errors.New("cannot edit in place")

// yamlFile is one YAML stream being edited. Edits change the node tree and,
// where they can, schedule the same change as a splice of the original
// bytes, so that everything else stays byte for byte. bytes() checks that
// the spliced text means what the edited tree means and, if it does not
// (or a change could not be spliced), re-encodes the tree with kyaml,
// which keeps comments and key order but not every detail of layout.
type yamlFile struct {
	path    string
	src     []byte
	lines   []int // byte offset of each line's start
	docs    []*yaml.Node
	splices []splice
	inPlace bool // every change so far has a splice
	changed bool
}

type splice struct {
	start, end int
	text       string
}

func parseYAMLFile(path string, src []byte) (*yamlFile, error) {
	opts := object.DefaultDecodeOptions()
	opts.Source = path
	if int64(len(src)) > opts.MaxBytes {
		return nil, fmt.Errorf("%s: %w", path, object.ErrTooLarge)
	}
	if err := object.CheckAliases(src, opts); err != nil {
		return nil, err
	}
	f := &yamlFile{path: path, src: src, inPlace: true, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		f.docs = append(f.docs, &doc)
	}
	return f, nil
}

// offset returns the byte offset of a yaml.v3 position (1-based line, and
// column in characters), or -1.
func (f *yamlFile) offset(line, col int) int {
	if line < 1 || line > len(f.lines) || col < 1 {
		return -1
	}
	off := f.lines[line-1]
	for i := 1; i < col; i++ {
		if off >= len(f.src) || f.src[off] == '\n' {
			return -1
		}
		_, size := decodeRune(f.src[off:])
		off += size
	}
	return off
}

func decodeRune(b []byte) (rune, int) {
	r := []rune(string(b[:min(len(b), 4)]))
	if len(r) == 0 {
		return 0, 1
	}
	return r[0], len(string(r[0]))
}

// span returns where a single-line scalar's text is in src.
func (f *yamlFile) span(n *yaml.Node) (int, int, error) {
	if n.Kind != yaml.ScalarNode || n.Anchor != "" || n.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.FlowStyle) != 0 {
		return 0, 0, errInPlace
	}
	start := f.offset(n.Line, n.Column)
	if start < 0 || start >= len(f.src) {
		return 0, 0, errInPlace
	}
	src := f.src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if src[start] != '"' {
			return 0, 0, errInPlace
		}
		for i := start + 1; i < len(src); i++ {
			switch src[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1, nil
			case '\n', '\r':
				return 0, 0, errInPlace
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		if src[start] != '\'' {
			return 0, 0, errInPlace
		}
		for i := start + 1; i < len(src); i++ {
			switch src[i] {
			case '\'':
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, nil
			case '\n', '\r':
				return 0, 0, errInPlace
			}
		}
	default:
		if n.Value != "" && !strings.ContainsAny(n.Value, "\n\r") && bytes.HasPrefix(src[start:], []byte(n.Value)) {
			return start, start + len(n.Value), nil
		}
	}
	return 0, 0, errInPlace
}

// render returns the text of a scalar holding value, in the style of old:
// quoted as old was, and double-quoted where a plain string would read as
// something else (as Flux's setters do, YAML 1.1 included: "1.10", "yes").
func render(old *yaml.Node, value string) (*yaml.Node, string, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: value, Style: old.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)}
	wasString := old.ShortTag() == "!!str"
	if wasString {
		n.Tag = "!!str"
		if n.Style == 0 && yaml.IsYaml1_1NonString(n) {
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	if !wasString {
		// a number or boolean stays one if the new value reads as one
		probe := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
		if probe.ShortTag() == "!!str" {
			n.Tag = "!!str"
		}
	}
	out, err := yaml.Marshal(n)
	if err != nil {
		return nil, "", err
	}
	text := strings.TrimSuffix(string(out), "\n")
	if strings.ContainsAny(text, "\n\r") {
		return n, "", errInPlace
	}
	return n, text, nil
}

// setScalar sets n's value, keeping its comments.
func (f *yamlFile) setScalar(n *yaml.Node, value string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("not a scalar (a %s)", kindName(n.Kind))
	}
	if n.Value == value {
		return nil
	}
	nn, text, err := render(n, value)
	if err != nil && !errors.Is(err, errInPlace) {
		return err
	}
	if err == nil {
		if start, end, serr := f.span(n); serr == nil {
			f.splices = append(f.splices, splice{start, end, text})
		} else {
			f.inPlace = false
		}
	} else {
		f.inPlace = false
	}
	n.Value, n.Tag, n.Style = nn.Value, nn.Tag, nn.Style
	f.changed = true
	return nil
}

// lastLine is the last line a node's text is on, if it is all single-line
// scalars (else 0).
func lastLine(n *yaml.Node) int {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.ContainsAny(n.Value, "\n\r") {
			return 0
		}
		return n.Line
	case yaml.MappingNode, yaml.SequenceNode:
		if len(n.Content) == 0 {
			return 0
		}
		if n.Style&yaml.FlowStyle != 0 {
			// one line, brackets included (bytes() checks the result)
			for _, c := range n.Content {
				if lastLine(c) != n.Line {
					return 0
				}
			}
			return n.Line
		}
		return lastLine(n.Content[len(n.Content)-1])
	}
	return 0
}

// lineEnd returns the offset after line's line break, adding one at the
// end of the file if there is none; and the text to put before an
// insertion there.
func (f *yamlFile) lineEnd(line int) (int, string) {
	if line < len(f.lines) {
		return f.lines[line], ""
	}
	if len(f.src) > 0 && f.src[len(f.src)-1] != '\n' {
		return len(f.src), "\n"
	}
	return len(f.src), ""
}

// addKey appends key: value to the block mapping m.
func (f *yamlFile) addKey(m *yaml.Node, key, value string) error {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"}
	nv, text, err := render(v, value)
	if err != nil && !errors.Is(err, errInPlace) {
		return err
	}
	m.Content = append(m.Content, k, nv)
	f.changed = true
	if err != nil || m.Style&yaml.FlowStyle != 0 || len(m.Content) < 4 {
		f.inPlace = false
		return nil
	}
	last := lastLine(m.Content[len(m.Content)-3])
	col := m.Content[0].Column
	if last == 0 || col < 1 {
		f.inPlace = false
		return nil
	}
	at, pre := f.lineEnd(last)
	f.splices = append(f.splices, splice{at, at, pre + strings.Repeat(" ", col-1) + key + ": " + text + "\n"})
	// a later insertion into m goes after this one
	k.Line, k.Column, nv.Line, nv.Column = last, col, last, col
	return nil
}

// removeKey removes the i-th key (and its value) of the block mapping m.
func (f *yamlFile) removeKey(m *yaml.Node, i int) {
	k, v := m.Content[i], m.Content[i+1]
	m.Content = slices.Delete(m.Content, i, i+2)
	f.changed = true
	line := lastLine(v)
	start := f.offset(k.Line, k.Column)
	if m.Style&yaml.FlowStyle != 0 || line != k.Line || start < 0 {
		f.inPlace = false
		return
	}
	lineStart := f.lines[k.Line-1]
	end, _ := f.lineEnd(line)
	if len(bytes.TrimLeft(f.src[lineStart:start], " \t")) == 0 {
		f.splices = append(f.splices, splice{lineStart, end, ""})
		return
	}
	// the first key of a sequence item, after "- ": the next key moves up
	if i < len(m.Content) && m.Content[i].Column == k.Column && m.Content[i].Line == line+1 {
		if next := f.offset(m.Content[i].Line, m.Content[i].Column); next > start {
			f.splices = append(f.splices, splice{start, next, ""})
			return
		}
	}
	f.inPlace = false
}

// bytes returns the edited stream.
func (f *yamlFile) bytes() ([]byte, error) {
	if !f.changed {
		return f.src, nil
	}
	if f.inPlace {
		out, ok := f.spliced()
		if ok && f.means(out) {
			return out, nil
		}
	}
	return f.encode()
}

func (f *yamlFile) spliced() ([]byte, bool) {
	s := slices.Clone(f.splices)
	slices.SortStableFunc(s, func(a, b splice) int { return a.start - b.start })
	var out bytes.Buffer
	pos := 0
	for _, sp := range s {
		if sp.start < pos {
			return nil, false // overlapping splices
		}
		out.Write(f.src[pos:sp.start])
		out.WriteString(sp.text)
		pos = sp.end
	}
	out.Write(f.src[pos:])
	return out.Bytes(), true
}

// means reports whether out decodes to what the edited tree decodes to.
func (f *yamlFile) means(out []byte) bool {
	var want []any
	for _, d := range f.docs {
		var v any
		if err := d.Decode(&v); err != nil {
			return false
		}
		want = append(want, v)
	}
	var got []any
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		got = append(got, v)
	}
	return reflect.DeepEqual(want, got)
}

func (f *yamlFile) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for _, d := range f.docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("%s: encode: %w", f.path, err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: encode: %w", f.path, err)
	}
	return buf.Bytes(), nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.DocumentNode:
		return "document"
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

// mapValue returns the index of key's key node in the mapping m, or -1.
func mapValue(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}
