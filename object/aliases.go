package object

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// maxAliasNesting bounds how deeply CheckAliases follows nodes and the
// aliases inside them. The YAML parser refuses deeper nesting itself; this
// only keeps the walk's recursion bounded whatever the parser lets through.
const maxAliasNesting = 10_000

// CheckAliases reports whether the YAML aliases in data, a stream of
// documents, produce more than opts.MaxAliasNodes values in all (its
// default when zero), without building any of them. It is for YAML handed
// to a parser that expands aliases without a bound, such as kustomize's;
// [Decode] applies the same limit itself.
//
// Only values that aliases produce count: a value written out in the
// stream counts nothing however large the stream, and an anchor no alias
// refers to counts nothing. An alias counts every value of what it refers
// to, the aliases inside that included, so a "billion laughs" document
// fails after a walk proportional to its size, not to its expansion. A
// stream without a "*" has no alias and is not parsed.
//
// It fails with a [*DecodeError] naming opts.Source, the document and the
// line where the limit was crossed, wrapping [ErrAliasExpansion] (also for
// an alias inside what it refers to) or [ErrTooDeep]. A stream it cannot
// parse is not its concern: it stops at the first syntax error and returns
// nil, leaving the report, with positions, to the parser that reads the
// stream next.
func CheckAliases(data []byte, opts DecodeOptions) error {
	opts = opts.withDefaults()
	if bytes.IndexByte(data, '*') < 0 {
		return nil // every alias starts with "*"
	}
	c := &aliasCounter{opts: opts, limit: opts.MaxAliasNodes}
	return c.stream(data)
}

// aliasCounter sums what aliases produce across a stream.
type aliasCounter struct {
	opts     DecodeOptions
	limit    int
	doc      int
	total    int
	size     map[*yaml.Node]int  // values a node stands for once expanded
	visiting map[*yaml.Node]bool // nodes being expanded, to find cycles
}

func (c *aliasCounter) stream(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := safely(func() error { return dec.Decode(&doc) }); err != nil {
			return nil // io.EOF, or a syntax error the next parser reports
		}
		c.doc++
		// The memo is per document: a node's expansion does not depend on
		// where it is reached from, which is what keeps the walk linear.
		c.size = map[*yaml.Node]int{}
		c.visiting = map[*yaml.Node]bool{}
		n, err := c.aliased(&doc, 0)
		if err != nil {
			return err
		}
		if c.total = capAdd(c.total, n, c.limit); c.total > c.limit {
			return c.overLimit(doc.Line)
		}
	}
}

// aliased returns the number of values the aliases at and below n produce,
// n being a node as written in the stream.
func (c *aliasCounter) aliased(n *yaml.Node, depth int) (int, error) {
	if depth > maxAliasNesting {
		return 0, c.fail(n.Line, fmt.Errorf("%w of %d", ErrTooDeep, maxAliasNesting))
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 0, nil // an unknown anchor: the parser refuses it
		}
		return c.expanded(n.Alias, depth+1)
	}
	count := 0
	for _, child := range n.Content {
		v, err := c.aliased(child, depth+1)
		if err != nil {
			return 0, err
		}
		if count = capAdd(count, v, c.limit); count > c.limit {
			return 0, c.overLimit(child.Line)
		}
	}
	return count, nil
}

// expanded returns the number of values n stands for once every alias in
// it is replaced by what it refers to: n itself and everything below it.
func (c *aliasCounter) expanded(n *yaml.Node, depth int) (int, error) {
	if v, ok := c.size[n]; ok {
		return v, nil
	}
	if depth > maxAliasNesting {
		return 0, c.fail(n.Line, fmt.Errorf("%w of %d", ErrTooDeep, maxAliasNesting))
	}
	if c.visiting[n] {
		return 0, c.fail(n.Line, fmt.Errorf("%w: an alias refers to a value that contains it", ErrAliasExpansion))
	}
	c.visiting[n] = true
	defer delete(c.visiting, n)
	count := 1
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 0, nil
		}
		v, err := c.expanded(n.Alias, depth+1)
		if err != nil {
			return 0, err
		}
		count = v
	}
	for _, child := range n.Content {
		v, err := c.expanded(child, depth+1)
		if err != nil {
			return 0, err
		}
		if count = capAdd(count, v, c.limit); count > c.limit {
			return 0, c.overLimit(child.Line)
		}
	}
	c.size[n] = count
	return count, nil
}

func (c *aliasCounter) overLimit(line int) error {
	return c.fail(line, fmt.Errorf("%w of %d values", ErrAliasExpansion, c.limit))
}

func (c *aliasCounter) fail(line int, err error) error {
	return &DecodeError{Source: c.opts.Source, Document: c.doc, Line: line, Err: err}
}

// capAdd adds two counts without overflowing: a sum above limit is
// limit+1, which is all the callers need to know.
func capAdd(a, b, limit int) int {
	if a > limit || b > limit || a+b > limit {
		return limit + 1
	}
	return a + b
}
