package sops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// YAML: comments become comment items where sops puts them, so that
// encrypted comments round-trip and the output of Decrypt matches
// `sops -d` byte for byte (same YAML library, same node layout, indent 4).

const yamlIndent = 4

// Bounds on what YAML aliases and nesting may expand to.
const (
	maxYAMLNodes = 1_000_000
	maxYAMLDepth = 256
)

var errYAMLExpansion = errors.New("YAML aliases or nesting expand beyond the limit")

type yamlLoader struct {
	nodes int
}

func (l *yamlLoader) count(depth int) error {
	l.nodes++
	if l.nodes > maxYAMLNodes || depth > maxYAMLDepth {
		return errYAMLExpansion
	}
	return nil
}

func commentItems(text string, inline bool) []comment {
	var out []comment
	if text == "" {
		return nil
	}
	for _, line := range strings.Split(text, "\n") {
		if line != "" {
			out = append(out, comment{value: line[1:], inline: inline})
		}
	}
	return out
}

func appendListComments(l []any, text string, inline bool) []any {
	for _, c := range commentItems(text, inline) {
		l = append(l, c)
	}
	return l
}

func appendMapComments(b branch, text string, inline bool) branch {
	for _, c := range commentItems(text, inline) {
		b = append(b, item{key: c})
	}
	return b
}

func (l *yamlLoader) value(n *yaml.Node, handled bool, depth int) (any, error) {
	if err := l.count(depth); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.SequenceNode:
		var out []any
		if !handled {
			out = appendListComments(out, n.HeadComment, false)
			out = appendListComments(out, n.LineComment, false)
		}
		for _, e := range n.Content {
			out = appendListComments(out, e.HeadComment, false)
			out = appendListComments(out, e.LineComment, true)
			v, err := l.value(e, true, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			out = appendListComments(out, e.FootComment, false)
		}
		if !handled {
			out = appendListComments(out, n.FootComment, false)
		}
		return out, nil
	case yaml.MappingNode:
		return l.mapping(n, make(branch, 0), handled, depth+1)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, errors.New("scalar does not decode"))
		}
		return v, nil
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("alias without anchor")
		}
		return l.value(n.Alias, false, depth+1)
	}
	return nil, nil
}

func (l *yamlLoader) mapping(n *yaml.Node, b branch, handled bool, depth int) (branch, error) {
	if err := l.count(depth); err != nil {
		return nil, err
	}
	var err error
	if !handled {
		b = appendMapComments(b, n.HeadComment, false)
		b = appendMapComments(b, n.LineComment, false)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if b, err = l.mapping(c, b, false, depth+1); err != nil {
				return nil, err
			}
		}
	case yaml.SequenceNode:
		return nil, errors.New("YAML documents that are sequences are not supported")
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			b = appendMapComments(b, key.HeadComment, false)
			b = appendMapComments(b, key.LineComment, false)
			scalar := val.Kind == yaml.ScalarNode || val.Kind == yaml.AliasNode
			if scalar {
				b = appendMapComments(b, val.HeadComment, false)
				b = appendMapComments(b, val.LineComment, true)
			}
			var k any
			if err := key.Decode(&k); err != nil {
				return nil, fmt.Errorf("line %d: key does not decode", key.Line)
			}
			v, err := l.value(val, scalar, depth+1)
			if err != nil {
				return nil, err
			}
			b = append(b, item{key: k, value: v})
			if scalar {
				b = appendMapComments(b, val.FootComment, false)
			}
			b = appendMapComments(b, key.FootComment, false)
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return b, nil
		}
		return nil, errors.New("YAML documents that are values are not supported")
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("alias without anchor")
		}
		if b, err = l.mapping(n.Alias, b, false, depth+1); err != nil {
			return nil, err
		}
	}
	if !handled {
		b = appendMapComments(b, n.FootComment, false)
	}
	return b, nil
}

func loadYAML(data []byte) (docs []branch, err error) {
	defer recoverAs(&err, "YAML parser")
	if len(data) > 0 {
		// As sops does: the first document must be a mapping without
		// duplicate keys (this also applies the YAML library's own alias
		// limits to it).
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(make(map[string]any)); err != nil {
			return nil, yamlError(err)
		}
	}
	l := &yamlLoader{}
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := d.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, yamlError(err)
		}
		b, err := l.mapping(&n, make(branch, 0), false, 0)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// yamlError keeps the parser's position and drops the rest of its message,
// which may quote document text.
func yamlError(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		// "line N: cannot unmarshal …" quotes values; keep line numbers only.
		var lines []string
		for _, e := range te.Errors {
			if i := strings.Index(e, ":"); i > 0 && strings.HasPrefix(e, "line ") {
				lines = append(lines, e[:i])
			}
		}
		if len(lines) > 0 {
			return fmt.Errorf("invalid YAML (%s)", strings.Join(lines, ", "))
		}
		return errors.New("invalid YAML")
	}
	if strings.HasPrefix(msg, "yaml: line ") {
		if i := strings.Index(msg[len("yaml: "):], ":"); i > 0 {
			return fmt.Errorf("invalid YAML: %s", msg[len("yaml: "):len("yaml: ")+i])
		}
	}
	return errors.New("invalid YAML")
}

func headComments(n *yaml.Node, cs []string) []string {
	if len(cs) > 0 {
		c := "#" + strings.Join(cs, "\n#")
		if n.HeadComment != "" {
			n.HeadComment = c + "\n" + n.HeadComment
		} else {
			n.HeadComment = c
		}
	}
	return nil
}

func footComments(n *yaml.Node, cs []string) {
	if len(cs) > 0 {
		c := "#" + strings.Join(cs, "\n#")
		if n.FootComment != "" {
			n.FootComment += "\n" + c
		} else {
			n.FootComment = c
		}
	}
}

func lineComments(n *yaml.Node, cs []string) []string {
	if len(cs) > 0 {
		c := "#" + strings.Join(cs, "\n#")
		if n.LineComment != "" {
			n.LineComment += "\n" + c
		} else {
			n.LineComment = c
		}
	}
	return nil
}

func yamlNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case branch:
		m := &yaml.Node{Kind: yaml.MappingNode}
		return m, yamlMapping(v, m)
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode}
		return s, yamlSequence(v, s)
	default:
		n := &yaml.Node{}
		if err := n.Encode(v); err != nil {
			return nil, fmt.Errorf("value of type %T does not encode", v)
		}
		return n, nil
	}
}

func yamlSequence(in []any, seq *yaml.Node) error {
	var head, inline []string
	first := true
	for _, e := range in {
		if c, ok := e.(comment); ok {
			if c.inline {
				inline = append(inline, c.value)
			} else {
				head = append(head, c.value)
			}
			continue
		}
		if first {
			head = headComments(seq, head)
			first = false
		}
		n, err := yamlNode(e)
		if err != nil {
			return err
		}
		head = headComments(n, head)
		inline = lineComments(n, inline)
		seq.Content = append(seq.Content, n)
	}
	head = append(head, inline...)
	if len(head) > 0 {
		if first {
			headComments(seq, head)
		} else {
			footComments(seq.Content[len(seq.Content)-1], head)
		}
	}
	return nil
}

func yamlMapping(b branch, m *yaml.Node) error {
	var head, inline []string
	first := true
	for _, it := range b {
		if c, ok := it.key.(comment); ok {
			if c.inline {
				inline = append(inline, c.value)
			} else {
				head = append(head, c.value)
			}
			continue
		}
		if first {
			head = headComments(m, head)
			first = false
		}
		k := &yaml.Node{}
		if err := k.Encode(it.key); err != nil {
			return errors.New("key does not encode")
		}
		head = headComments(k, head)
		v, err := yamlNode(it.value)
		if err != nil {
			return err
		}
		inline = lineComments(v, inline)
		m.Content = append(m.Content, k, v)
	}
	head = append(head, inline...)
	if len(head) > 0 {
		if first {
			headComments(m, head)
		} else {
			footComments(m.Content[len(m.Content)-2], head)
		}
	}
	return nil
}

func emitYAML(docs []branch) (out []byte, err error) {
	defer recoverAs(&err, "YAML encoder")
	var buf bytes.Buffer
	e := yaml.NewEncoder(&buf)
	e.SetIndent(yamlIndent)
	for _, b := range docs {
		m := &yaml.Node{Kind: yaml.MappingNode}
		if err := yamlMapping(b, m); err != nil {
			return nil, err
		}
		doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}
		if err := e.Encode(doc); err != nil {
			return nil, errors.New("document does not encode as YAML")
		}
	}
	if err := e.Close(); err != nil {
		return nil, errors.New("document does not encode as YAML")
	}
	return buf.Bytes(), nil
}

// recoverAs turns a panic in a third-party parser into an error that
// carries no input text.
func recoverAs(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s failed on this input", what)
	}
}
