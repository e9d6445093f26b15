package sops

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/ini.v1"
)

// Dotenv: KEY=value lines and "#" comments; "\n" in values is escaped.

func loadDotenv(data []byte) ([]branch, error) {
	var b branch
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			b = append(b, item{key: comment{value: string(line[1:])}})
			continue
		}
		pos := bytes.IndexByte(line, '=')
		if pos < 0 {
			return nil, fmt.Errorf("line %d: not KEY=value", i+1)
		}
		b = append(b, item{key: string(line[:pos]), value: strings.ReplaceAll(string(line[pos+1:]), `\n`, "\n")})
	}
	return []branch{b}, nil
}

func emitDotenv(docs []branch) ([]byte, error) {
	var buf bytes.Buffer
	if len(docs) == 0 {
		return nil, nil
	}
	for _, it := range docs[0] {
		if isComplex(it.value) {
			return nil, fmt.Errorf("key %q: dotenv values cannot be mappings or lists", keyName(it.key))
		}
		if c, ok := it.key.(comment); ok {
			buf.WriteString("#" + c.value + "\n")
			continue
		}
		v, ok := it.value.(string)
		if ok {
			v = strings.ReplaceAll(v, "\n", `\n`)
		} else {
			v = valueString(it.value)
		}
		buf.WriteString(keyName(it.key) + "=" + v + "\n")
	}
	return buf.Bytes(), nil
}

func keyName(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return fmt.Sprintf("%v", k)
}

// INI: sections of keys, with section and key comments.

func stripCommentChar(c string) string {
	if strings.HasPrefix(c, ";") {
		return strings.TrimLeft(c, "; ")
	}
	if strings.HasPrefix(c, "#") {
		return strings.TrimLeft(c, "# ")
	}
	return c
}

func loadINI(data []byte) (docs []branch, err error) {
	defer recoverAs(&err, "INI parser")
	f, err := ini.LoadSources(ini.LoadOptions{AllowNonUniqueSections: true}, data)
	if err != nil {
		return nil, errors.New("invalid INI")
	}
	var b branch
	for _, s := range f.Sections() {
		var items branch
		if s.Comment != "" {
			items = append(items, item{key: comment{value: stripCommentChar(s.Comment)}})
		}
		for _, k := range s.Keys() {
			items = append(items, item{key: k.Name(), value: k.Value()})
			if k.Comment != "" {
				items = append(items, item{key: comment{value: stripCommentChar(k.Comment)}})
			}
		}
		b = append(b, item{key: s.Name(), value: items})
	}
	return []branch{b}, nil
}

func emitINI(docs []branch) (out []byte, err error) {
	defer recoverAs(&err, "INI encoder")
	f := ini.Empty(ini.LoadOptions{AllowNonUniqueSections: true})
	f.DeleteSection(ini.DefaultSection)
	for _, b := range docs {
		for _, it := range b {
			if _, ok := it.key.(comment); ok {
				continue
			}
			name := keyName(it.key)
			s, err := f.NewSection(name)
			if err != nil {
				return nil, fmt.Errorf("section %q does not encode", name)
			}
			items, ok := it.value.(branch)
			if !ok && it.value != nil {
				return nil, fmt.Errorf("section %q: INI sections hold keys, not a value", name)
			}
			first := 0
			if len(items) > 0 {
				if c, ok := items[0].key.(comment); ok {
					s.Comment = c.value
					first = 1
				}
			}
			var last *ini.Key
			for _, kv := range items[first:] {
				if c, ok := kv.key.(comment); ok {
					if last != nil {
						last.Comment = c.value
					}
					continue
				}
				if isComplex(kv.value) {
					return nil, fmt.Errorf("key %q in section %q: INI values cannot be mappings or lists", keyName(kv.key), name)
				}
				last, err = s.NewKey(keyName(kv.key), valueString(kv.value))
				if err != nil {
					return nil, fmt.Errorf("key %q in section %q does not encode", keyName(kv.key), name)
				}
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, errors.New("document does not encode as INI")
	}
	return buf.Bytes(), nil
}

// Binary: the whole file is one string under "data", stored as JSON.

func loadBinaryPlain(data []byte) []branch {
	return []branch{{{key: "data", value: string(data)}}}
}

func emitBinaryPlain(docs []branch) ([]byte, error) {
	if len(docs) != 1 {
		return nil, errors.New("binary document: expected one tree")
	}
	for _, it := range docs[0] {
		if it.key == "data" {
			if s, ok := it.value.(string); ok {
				return []byte(s), nil
			}
			return nil, errors.New("binary document: data is not a string")
		}
	}
	return nil, errors.New("binary document: no data key")
}
