package manifest

import (
	"fmt"
	"regexp"
	"strconv"
)

var simpleKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// JoinPath appends key to a field path: "spec.source" for a key that is
// an identifier, `metadata.annotations["a/b"]` (quoted, and cut by Short)
// for any other.
func JoinPath(parent, key string) string {
	if !simpleKey.MatchString(key) {
		return parent + "[" + strconv.Quote(Short(key)) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// maxShort is the longest value Short keeps whole, in bytes.
const maxShort = 64

// Short cuts a value for a message: a value of more than 64 bytes is cut
// at a UTF-8 character boundary at or before the 64th byte and ends with
// "…".
func Short(s string) string {
	if len(s) <= maxShort {
		return s
	}
	cut := maxShort
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// TypeName names the type of a decoded value for a message: "a mapping",
// "a list", "a string", "a boolean", "a number" or "null".
func TypeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
