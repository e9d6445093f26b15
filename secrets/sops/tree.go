package sops

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The document model every format loads into and emits from: an ordered
// mapping (branch) of items whose keys are strings or comments, and whose
// values are scalars (string, int, float64, bool, []byte, time.Time, nil),
// comments (inside lists), branches and lists ([]any). It is the same
// shape sops walks, so the order of encryption and of the MAC match.

// comment is a comment line, without its leading "#"; inline comments
// follow a value on its line.
type comment struct {
	value  string
	inline bool
}

type item struct {
	key   any // string, or comment; other scalars from YAML keys are errors when walked
	value any
}

type branch []item

// rules decide which values are ciphertext, from the document's metadata.
type rules struct {
	unencryptedSuffix       string
	encryptedSuffix         string
	unencryptedRegex        *regexp.Regexp
	encryptedRegex          *regexp.Regexp
	unencryptedCommentRegex *regexp.Regexp
	encryptedCommentRegex   *regexp.Regexp
	macOnlyEncrypted        bool
}

// macOnlyEncryptedInit starts the MAC of documents with mac_only_encrypted,
// so that such a MAC never equals one over all values.
var macOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

// encrypted reports whether the value at path (under the comments seen on
// the way, innermost last) is ciphertext.
func (r *rules) encrypted(path []string, comments [][]string, isComment bool) bool {
	enc := true
	if r.unencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, r.unencryptedSuffix) {
				enc = false
				break
			}
		}
	}
	if r.encryptedSuffix != "" {
		enc = false
		for _, p := range path {
			if strings.HasSuffix(p, r.encryptedSuffix) {
				enc = true
				break
			}
		}
	}
	if r.unencryptedRegex != nil {
		for _, p := range path {
			if r.unencryptedRegex.MatchString(p) {
				enc = false
				break
			}
		}
	}
	if r.encryptedRegex != nil {
		enc = false
		for _, p := range path {
			if r.encryptedRegex.MatchString(p) {
				enc = true
				break
			}
		}
	}
	if r.unencryptedCommentRegex != nil {
	outer:
		for _, cs := range comments {
			for _, c := range cs {
				if r.unencryptedCommentRegex.MatchString(c) {
					enc = false
					break outer
				}
			}
		}
	}
	if r.encryptedCommentRegex != nil {
		enc = false
		last := len(comments) - 1
		lastLen := 0
		if last >= 0 {
			lastLen = len(comments[last])
		}
	outer2:
		for i, cs := range comments {
			for j, c := range cs {
				// A comment does not select itself.
				if isComment && i == last && j == lastLen-1 {
					continue
				}
				if r.encryptedCommentRegex.MatchString(c) {
					enc = true
					break outer2
				}
			}
		}
	}
	return enc
}

// leafFunc sees each leaf (scalar or comment) with its path and returns
// its replacement.
type leafFunc func(v any, path []string, comments [][]string) (any, error)

// maxWalkDepth bounds nesting; the loaders enforce it as well.
const maxWalkDepth = 256

var errTooDeep = errors.New("document nested too deeply")

func walkValue(v any, path []string, comments [][]string, depth int, fn leafFunc) (any, error) {
	if depth > maxWalkDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case string, int, bool, float64, time.Time, comment:
		return fn(v, path, comments)
	case []byte:
		return fn(string(v), path, comments)
	case branch:
		return walkBranch(v, path, comments, depth+1, fn)
	case []any:
		return walkList(v, path, comments, depth+1, fn)
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("value of unsupported type %T at %s", v, pathString(path))
	}
}

func walkList(in []any, path []string, comments [][]string, depth int, fn leafFunc) ([]any, error) {
	comments = append(comments, nil)
	top := len(comments) - 1
	for i, v := range in {
		c, isComment := v.(comment)
		if isComment {
			comments[top] = append(comments[top], c.value)
		}
		nv, err := walkValue(v, path, comments, depth, fn)
		if err != nil {
			return nil, err
		}
		in[i] = nv
		if !isComment {
			comments[top] = nil
		}
	}
	return in, nil
}

func walkBranch(in branch, path []string, comments [][]string, depth int, fn leafFunc) (branch, error) {
	comments = append(comments, nil)
	top := len(comments) - 1
	for i, it := range in {
		if c, ok := it.key.(comment); ok {
			comments[top] = append(comments[top], c.value)
			nv, err := walkValue(c, path, comments, depth, fn)
			if err != nil {
				return nil, err
			}
			switch nv := nv.(type) {
			case comment:
				in[i].key = nv
			case string:
				in[i].key = comment{value: nv, inline: c.inline}
			default:
				return nil, fmt.Errorf("comment at %s decrypted to a %T", pathString(path), nv)
			}
			continue
		}
		c, valueIsComment := it.value.(comment)
		if valueIsComment {
			comments[top] = append(comments[top], c.value)
		}
		key, ok := it.key.(string)
		if !ok {
			return nil, fmt.Errorf("key of type %T under %s: only string keys are supported", it.key, pathString(path))
		}
		nv, err := walkValue(it.value, append(path[:len(path):len(path)], key), comments, depth, fn)
		if err != nil {
			return nil, err
		}
		in[i].value = nv
		if !valueIsComment {
			comments[top] = nil
		}
	}
	return in, nil
}

// pathString names a value's place in errors, keys only.
func pathString(path []string) string {
	if len(path) == 0 {
		return "the top level"
	}
	return strconv.Quote(strings.Join(path, "."))
}

// macBytes is what a scalar contributes to the MAC.
func macBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int:
		return []byte(strconv.Itoa(v)), nil
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		if v {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	case []byte:
		return v, nil
	case time.Time:
		return v.MarshalText()
	case comment:
		return []byte(v.value), nil
	default:
		return nil, fmt.Errorf("cannot hash a value of type %T", v)
	}
}

// valueString formats a scalar for the flat formats (dotenv, INI).
func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		s := strconv.FormatFloat(v, 'G', -1, 64)
		if !strings.ContainsRune(s, '.') && !strings.ContainsRune(s, 'E') {
			s = strconv.FormatFloat(v, 'f', 1, 64)
		}
		return s
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}

func isComplex(v any) bool {
	switch v.(type) {
	case []any, branch:
		return true
	}
	return false
}
