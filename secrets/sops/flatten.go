package sops

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The flat formats keep the metadata as one level of keys: a__map_b for
// a mapping, a__list_0 for a list.
const (
	mapSep  = "__map_"
	listSep = "__list_"
)

func flatten(b branch, prefix string) branch {
	var out branch
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case branch:
			for _, it := range v {
				if k, ok := it.key.(string); ok {
					walk(it.value, key+mapSep+k)
				}
			}
		case []any:
			for i, e := range v {
				walk(e, key+listSep+strconv.Itoa(i))
			}
		default:
			out = append(out, item{key: key, value: v})
		}
	}
	for _, it := range b {
		if k, ok := it.key.(string); ok {
			walk(it.value, prefix+k)
		}
	}
	return out
}

// flatNode builds the tree back from flattened keys.
type flatNode struct {
	value   any
	set     bool
	subkeys map[string]*flatNode
	indices map[int]*flatNode
}

func unflatten(b branch) (branch, error) {
	root := &flatNode{}
	for _, it := range b {
		k, ok := it.key.(string)
		if !ok {
			continue
		}
		n := root
		for _, tok := range tokenize(k) {
			var next *flatNode
			if tok.list {
				if n.indices == nil {
					n.indices = map[int]*flatNode{}
				}
				if next = n.indices[tok.index]; next == nil {
					next = &flatNode{}
					n.indices[tok.index] = next
				}
			} else {
				if n.subkeys == nil {
					n.subkeys = map[string]*flatNode{}
				}
				if next = n.subkeys[tok.key]; next == nil {
					next = &flatNode{}
					n.subkeys[tok.key] = next
				}
			}
			n = next
		}
		if n.set {
			return nil, fmt.Errorf("sops metadata key %q appears twice", truncate(k, 80))
		}
		n.value, n.set = it.value, true
	}
	v, err := root.tree(0)
	if err != nil {
		return nil, err
	}
	out, _ := v.(branch)
	return out, nil
}

type flatToken struct {
	key   string
	index int
	list  bool
}

func tokenize(path string) []flatToken {
	var toks []flatToken
	start, list := 0, false
	finish := func(end int) {
		s := path[start:end]
		if list {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 1<<16 {
				n = -1
			}
			toks = append(toks, flatToken{index: n, list: true})
		} else {
			toks = append(toks, flatToken{key: s})
		}
	}
	for i := 0; i < len(path); {
		switch {
		case strings.HasPrefix(path[i:], mapSep):
			finish(i)
			i += len(mapSep)
			start, list = i, false
		case strings.HasPrefix(path[i:], listSep):
			finish(i)
			i += len(listSep)
			start, list = i, true
		default:
			i++
		}
	}
	finish(len(path))
	return toks
}

func (n *flatNode) tree(depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("sops metadata nested too deeply")
	}
	kinds := 0
	for _, b := range []bool{n.set, len(n.subkeys) > 0, len(n.indices) > 0} {
		if b {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, errors.New("sops metadata mixes values, mappings and lists under one key")
	case n.set:
		return n.value, nil
	case len(n.subkeys) > 0:
		keys := make([]string, 0, len(n.subkeys))
		for k := range n.subkeys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(branch, 0, len(keys))
		for _, k := range keys {
			v, err := n.subkeys[k].tree(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, item{key: k, value: v})
		}
		return out, nil
	case len(n.indices) > 0:
		out := make([]any, len(n.indices))
		for i, c := range n.indices {
			if i < 0 || i >= len(out) {
				return nil, errors.New("sops metadata has an incomplete list")
			}
			v, err := c.tree(depth + 1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return branch{}, nil
}
