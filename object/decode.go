package object

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Limits that [DefaultDecodeOptions] sets. They admit every real manifest
// we know of (the largest CRD bundles are a few MiB and a few dozen levels
// deep) and stop hostile input early.
const (
	DefaultMaxBytes      = 64 << 20
	DefaultMaxDocuments  = 100_000
	DefaultMaxDepth      = 256
	DefaultMaxAliasNodes = 100_000
)

// Sentinel errors a caller can branch on with errors.Is. Decode returns them
// wrapped in a [*DecodeError] that says where.
var (
	ErrTooLarge         = errors.New("stream exceeds the byte limit")
	ErrTooManyDocuments = errors.New("stream exceeds the document limit")
	ErrTooDeep          = errors.New("value nested deeper than the depth limit")
	ErrAliasExpansion   = errors.New("YAML aliases expand beyond the limit")
	ErrDuplicateKey     = errors.New("duplicate key")
	ErrSyntax           = errors.New("syntax error")
	ErrInvalidObject    = errors.New("not a Kubernetes object")
)

// DecodeOptions are the per-call settings of [Decode]. A zero limit means
// its default; there is no way to turn a limit off.
type DecodeOptions struct {
	// Source names the stream in errors, usually a file path.
	Source string
	// MaxBytes bounds the whole stream.
	MaxBytes int64
	// MaxDocuments bounds the documents in the stream plus the items of
	// every List in it.
	MaxDocuments int
	// MaxDepth bounds how deeply maps and lists nest.
	MaxDepth int
	// MaxAliasNodes bounds the values that YAML aliases produce across the
	// stream, which is what makes a "billion laughs" document fail fast.
	MaxAliasNodes int
}

// DefaultDecodeOptions returns the default limits.
func DefaultDecodeOptions() DecodeOptions {
	return DecodeOptions{
		MaxBytes:      DefaultMaxBytes,
		MaxDocuments:  DefaultMaxDocuments,
		MaxDepth:      DefaultMaxDepth,
		MaxAliasNodes: DefaultMaxAliasNodes,
	}
}

func (o DecodeOptions) withDefaults() DecodeOptions {
	d := DefaultDecodeOptions()
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxDocuments <= 0 {
		o.MaxDocuments = d.MaxDocuments
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = d.MaxDepth
	}
	if o.MaxAliasNodes <= 0 {
		o.MaxAliasNodes = d.MaxAliasNodes
	}
	return o
}

// DecodeError says where in a stream decoding failed. Its message never
// contains a value from the stream, only keys, positions and limits.
type DecodeError struct {
	Source   string
	Document int // 1-based; 0 when the error is about the whole stream
	Line     int // 1-based within the stream; 0 when unknown
	Err      error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(orUnknown(e.Source))
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d", e.Document)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads a stream of YAML documents separated by "---", or of JSON
// values, and returns the Kubernetes objects in it, in order. Empty
// documents are skipped and List kinds (v1 List, ConfigMapList, ...) are
// replaced by their items. It fails, without returning any object, on the
// first document that is not valid, is not an object with apiVersion and
// kind, or exceeds a limit in opts.
//
// Values keep JSON's types, as in [unstructured.Unstructured]: strings,
// int64, float64, bool, nil, maps and slices. YAML timestamps and binary
// values stay strings, non-string map keys become strings, and merge keys
// ("<<") are expanded; NaN, infinities and tags other than YAML's own are
// errors.
func Decode(r io.Reader, opts DecodeOptions) ([]*unstructured.Unstructured, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, &DecodeError{Source: opts.Source, Err: fmt.Errorf("read: %w", err)}
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, &DecodeError{Source: opts.Source, Err: fmt.Errorf("%w of %d bytes", ErrTooLarge, opts.MaxBytes)}
	}
	d := &decoder{opts: opts}
	if looksLikeJSON(data) {
		if objs, err, ok := d.decodeJSONStream(data); ok {
			return objs, err
		}
		d = &decoder{opts: opts} // not a JSON stream after all: read it as YAML
	}
	return d.decodeYAMLStream(data)
}

// DecodeBytes is [Decode] over a byte slice.
func DecodeBytes(data []byte, opts DecodeOptions) ([]*unstructured.Unstructured, error) {
	return Decode(bytes.NewReader(data), opts)
}

func looksLikeJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
}

type decoder struct {
	opts       DecodeOptions
	doc        int // current document, 1-based
	lineOffset int // lines before the current JSON document
	objects    int // documents and List items seen
	aliasNodes int // values produced through aliases
	expanding  map[*yaml.Node]bool
	out        []*unstructured.Unstructured
}

func (d *decoder) errorf(line int, format string, args ...any) error {
	if line > 0 {
		line += d.lineOffset
	}
	return &DecodeError{Source: d.opts.Source, Document: d.doc, Line: line, Err: fmt.Errorf(format, args...)}
}

// parserPanic is a panic inside the YAML parser, turned into an error by
// [safely].
type parserPanic struct{ value any }

func (p *parserPanic) Error() string { return fmt.Sprintf("parser failed: %v", p.value) }

// safely runs fn, a call into the YAML parser, and turns a panic in it into
// a *parserPanic: the parser is third-party code fed hostile input, and a
// panic there must become an error, not a crashed controller. Only calls
// into the parser go through it, so that a panic in converge's own code
// still surfaces, in the fuzz targets above all.
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &parserPanic{value: p}
		}
	}()
	return fn()
}

// syntaxError wraps a parser error. The parser's messages carry positions
// and token kinds, not values.
func (d *decoder) syntaxError(err error) error {
	var pp *parserPanic
	if errors.As(err, &pp) {
		return d.errorf(0, "%w: %w", ErrSyntax, err)
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "exceeded max depth") {
		return d.errorf(0, "%w: %s", ErrTooDeep, msg)
	}
	return d.errorf(0, "%w: %s", ErrSyntax, msg)
}

func (d *decoder) decodeYAMLStream(data []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := safely(func() error { return dec.Decode(&doc) })
		if err == io.EOF {
			return d.out, nil
		}
		d.doc++
		if err != nil {
			return nil, d.syntaxError(err)
		}
		if err := d.document(&doc); err != nil {
			return nil, err
		}
	}
}

// decodeJSONStream splits a stream of concatenated JSON values and decodes
// each through the YAML path, which checks limits and duplicate keys the
// same way. ok is false when data is not a JSON stream.
func (d *decoder) decodeJSONStream(data []byte) (objs []*unstructured.Unstructured, err error, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return d.out, nil, true
		} else if err != nil {
			return nil, nil, false
		}
		d.doc++
		start := dec.InputOffset() - int64(len(raw))
		d.lineOffset = bytes.Count(data[:start], []byte("\n"))
		var doc yaml.Node
		if err := safely(func() error { return yaml.Unmarshal(raw, &doc) }); err != nil {
			return nil, d.syntaxError(err), true
		}
		if err := d.document(&doc); err != nil {
			return nil, err, true
		}
	}
}

func (d *decoder) document(doc *yaml.Node) error {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty document
	}
	v, err := d.value(doc.Content[0], 1)
	if err != nil {
		return err
	}
	if v == nil {
		return nil // a document holding only null or comments
	}
	m, ok := v.(map[string]any)
	if !ok {
		return d.errorf(doc.Content[0].Line, "%w: the document is a %s, not a mapping", ErrInvalidObject, kindName(v))
	}
	return d.object(m, doc.Content[0].Line, true)
}

// object validates one decoded document or List item and appends it, or
// its items when it is a List.
func (d *decoder) object(m map[string]any, line int, topLevel bool) error {
	d.objects++
	if d.objects > d.opts.MaxDocuments {
		return d.errorf(line, "%w of %d", ErrTooManyDocuments, d.opts.MaxDocuments)
	}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if apiVersion == "" || kind == "" {
		return d.errorf(line, "%w: apiVersion and kind must be non-empty strings", ErrInvalidObject)
	}
	if items, isList := m["items"]; isList && strings.HasSuffix(kind, "List") {
		if !topLevel {
			return d.errorf(line, "%w: a %s inside a List: Lists do not nest", ErrInvalidObject, kind)
		}
		list, ok := items.([]any)
		if !ok && items != nil {
			return d.errorf(line, "%w: %s items must be a list", ErrInvalidObject, kind)
		}
		for i, item := range list {
			im, ok := item.(map[string]any)
			if !ok {
				return d.errorf(line, "%w: %s item %d is a %s, not a mapping", ErrInvalidObject, kind, i, kindName(item))
			}
			if err := d.object(im, line, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkMetadata(m["metadata"]); err != nil {
		return d.errorf(line, "%w: %s: %w", ErrInvalidObject, kind, err)
	}
	d.out = append(d.out, &unstructured.Unstructured{Object: m})
	return nil
}

// checkMetadata rejects metadata whose well-known fields have the wrong
// type, which the accessors of unstructured.Unstructured would otherwise
// silently read as empty.
func checkMetadata(v any) error {
	if v == nil {
		return nil
	}
	md, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("metadata must be a mapping")
	}
	for _, f := range []string{"name", "generateName", "namespace"} {
		if x, ok := md[f]; ok && x != nil {
			if _, ok := x.(string); !ok {
				return fmt.Errorf("metadata.%s must be a string", f)
			}
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		x, ok := md[f]
		if !ok || x == nil {
			continue
		}
		kv, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("metadata.%s must be a mapping", f)
		}
		for k, val := range kv {
			if _, ok := val.(string); !ok {
				return fmt.Errorf("metadata.%s[%q] must be a string", f, k)
			}
		}
	}
	return nil
}

func kindName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	case nil:
		return "null"
	}
	return "scalar"
}

// value converts a YAML node to a JSON-typed value, enforcing the depth
// and alias limits and rejecting duplicate keys.
func (d *decoder) value(n *yaml.Node, depth int) (any, error) {
	if depth > d.opts.MaxDepth {
		return nil, d.errorf(n.Line, "%w of %d", ErrTooDeep, d.opts.MaxDepth)
	}
	if d.expanding != nil {
		// Inside an alias every value counts against the alias budget.
		d.aliasNodes++
		if d.aliasNodes > d.opts.MaxAliasNodes {
			return nil, d.errorf(n.Line, "%w of %d values", ErrAliasExpansion, d.opts.MaxAliasNodes)
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return d.scalar(n)
	case yaml.SequenceNode:
		if err := d.checkTag(n, "!!seq"); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return d.mapping(n, depth)
	case yaml.AliasNode:
		return d.alias(n, depth)
	case yaml.DocumentNode:
		return nil, d.errorf(n.Line, "%w: unexpected nested document", ErrSyntax)
	}
	return nil, d.errorf(n.Line, "%w: unknown node kind %d", ErrSyntax, n.Kind)
}

func (d *decoder) alias(n *yaml.Node, depth int) (any, error) {
	target := n.Alias
	if target == nil {
		return nil, d.errorf(n.Line, "%w: alias *%s has no anchor", ErrSyntax, n.Value)
	}
	if d.expanding == nil {
		d.expanding = make(map[*yaml.Node]bool)
		defer func() { d.expanding = nil }()
	}
	if d.expanding[target] {
		return nil, d.errorf(n.Line, "%w: alias *%s refers to itself", ErrAliasExpansion, n.Value)
	}
	d.expanding[target] = true
	defer delete(d.expanding, target)
	return d.value(target, depth)
}

func (d *decoder) checkTag(n *yaml.Node, want string) error {
	if tag := n.ShortTag(); tag != want {
		return d.errorf(n.Line, "%w: unsupported tag %s", ErrSyntax, tag)
	}
	return nil
}

func (d *decoder) mapping(n *yaml.Node, depth int) (any, error) {
	if err := d.checkTag(n, "!!map"); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(n.Content)/2)
	keyLines := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		key, err := d.key(kn)
		if err != nil {
			return nil, err
		}
		if first, dup := keyLines[key]; dup {
			return nil, d.errorf(kn.Line, "%w %q (first at line %d)", ErrDuplicateKey, key, first+d.lineOffset)
		}
		keyLines[key] = kn.Line
		v, err := d.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	// Merge keys fill in what the mapping does not set itself; of several
	// merged mappings, the first wins (YAML's merge key semantics).
	for _, m := range merges {
		if err := d.merge(out, m, depth); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *decoder) merge(out map[string]any, n *yaml.Node, depth int) error {
	sources := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		sources = n.Content
	}
	for _, src := range sources {
		v, err := d.value(src, depth+1)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return d.errorf(src.Line, "%w: merge key value must be a mapping, not a %s", ErrSyntax, kindName(v))
		}
		for k, val := range m {
			if _, set := out[k]; !set {
				out[k] = val
			}
		}
	}
	return nil
}

// key returns a mapping key as a string. Non-string scalar keys become
// their text, as sigs.k8s.io/yaml does (80: becomes "80").
func (d *decoder) key(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", d.errorf(n.Line, "%w: a mapping key must be a scalar", ErrSyntax)
	}
	v, err := d.scalar(n)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return "", d.errorf(n.Line, "%w: unsupported key type", ErrSyntax)
}

func (d *decoder) scalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp", "!!binary":
		// Kubernetes keeps timestamps as RFC 3339 strings and binary data
		// as base64 text, which is what the node holds.
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := safely(func() error { return n.Decode(&b) }); err != nil {
			return nil, d.errorf(n.Line, "%w: invalid boolean", ErrSyntax)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := safely(func() error { return n.Decode(&i) }); err == nil {
			return i, nil
		}
		var u uint64
		if err := safely(func() error { return n.Decode(&u) }); err == nil {
			return float64(u), nil // beyond int64: JSON decoders read a float too
		}
		return nil, d.errorf(n.Line, "%w: integer out of range", ErrSyntax)
	case "!!float":
		var f float64
		if err := safely(func() error { return n.Decode(&f) }); err != nil {
			return nil, d.errorf(n.Line, "%w: invalid number", ErrSyntax)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.errorf(n.Line, "%w: NaN and infinity cannot be represented in JSON", ErrSyntax)
		}
		return f, nil
	default:
		return nil, d.errorf(n.Line, "%w: unsupported tag %s", ErrSyntax, tag)
	}
}
