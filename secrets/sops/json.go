package sops

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// JSON: a top-level object, read token by token so key order survives,
// written back as sops writes it (tab indent, json.Marshal for scalars).

var errJSONTop = errors.New("SOPS JSON documents must be an object at the top level")

func loadJSON(data []byte) ([]branch, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, jsonError(err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errJSONTop
	}
	b, err := jsonObject(dec, 0)
	if err != nil {
		return nil, err
	}
	return []branch{b}, nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errors.New("invalid JSON: syntax error")
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return errors.New("invalid JSON")
}

func jsonNumber(t any) (any, error) {
	n, ok := t.(json.Number)
	if !ok {
		return t, nil
	}
	if i, err := n.Int64(); err == nil {
		return int(i), nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, errors.New("invalid JSON: number out of range")
	}
	return f, nil
}

func jsonValue(dec *json.Decoder, t any, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, errYAMLExpansion
	}
	if d, ok := t.(json.Delim); ok {
		switch d {
		case '{':
			return jsonObject(dec, depth+1)
		case '[':
			return jsonArray(dec, depth+1)
		}
		return nil, errors.New("invalid JSON")
	}
	return jsonNumber(t)
}

func jsonArray(dec *json.Decoder, depth int) ([]any, error) {
	var out []any
	for {
		t, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		if d, ok := t.(json.Delim); ok && d == ']' {
			return out, nil
		}
		v, err := jsonValue(dec, t, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func jsonObject(dec *json.Decoder, depth int) (branch, error) {
	var out branch
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, jsonError(err)
		}
		if d, ok := t.(json.Delim); ok && d == '}' {
			return out, nil
		}
		k, ok := t.(string)
		if !ok {
			return nil, errors.New("invalid JSON: expected an object key")
		}
		t, err = dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		v, err := jsonValue(dec, t, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, item{key: k, value: v})
	}
}

func jsonEncode(v any, sb *strings.Builder) error {
	switch v := v.(type) {
	case branch:
		sb.WriteByte('{')
		first := true
		for _, it := range v {
			k, ok := it.key.(string)
			if !ok {
				continue // comments
			}
			if !first {
				sb.WriteByte(',')
			}
			first = false
			kb, _ := json.Marshal(k)
			sb.Write(kb)
			sb.WriteString(": ")
			if err := jsonEncode(it.value, sb); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	case []any:
		sb.WriteByte('[')
		first := true
		for _, e := range v {
			if _, ok := e.(comment); ok {
				continue
			}
			if !first {
				sb.WriteByte(',')
			}
			first = false
			if err := jsonEncode(e, sb); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return errors.New("value does not encode as JSON")
		}
		sb.Write(b)
	}
	return nil
}

func emitJSON(docs []branch) ([]byte, error) {
	if len(docs) != 1 {
		return nil, errors.New("a JSON document has exactly one object")
	}
	var sb strings.Builder
	if err := jsonEncode(docs[0], &sb); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(sb.String()), "", "\t"); err != nil {
		return nil, errors.New("document does not encode as JSON")
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
