package sops

import (
	"errors"
	"fmt"
	"strings"
)

// Format is a document format, as sops names its stores.
type Format string

// The formats sops reads and writes.
const (
	FormatYAML   Format = "yaml"
	FormatJSON   Format = "json"
	FormatDotenv Format = "dotenv"
	FormatINI    Format = "ini"
	FormatBinary Format = "binary"
)

// String returns the format's name.
func (f Format) String() string { return string(f) }

// FormatForPath picks the format from a path's extension as sops does:
// .yaml and .yml are YAML, .json JSON, .env dotenv, .ini INI, anything
// else binary.
func FormatForPath(path string) Format {
	switch {
	case strings.HasSuffix(path, ".yaml"), strings.HasSuffix(path, ".yml"):
		return FormatYAML
	case strings.HasSuffix(path, ".json"):
		return FormatJSON
	case strings.HasSuffix(path, ".env"):
		return FormatDotenv
	case strings.HasSuffix(path, ".ini"):
		return FormatINI
	}
	return FormatBinary
}

func (f Format) valid() error {
	switch f {
	case FormatYAML, FormatJSON, FormatDotenv, FormatINI, FormatBinary:
		return nil
	}
	return fmt.Errorf("unknown format %q", truncate(string(f), 20))
}

// loadPlain reads a plaintext document into trees.
func loadPlain(data []byte, f Format) ([]branch, error) {
	switch f {
	case FormatYAML:
		return loadYAML(data)
	case FormatJSON:
		return loadJSON(data)
	case FormatDotenv:
		return loadDotenv(data)
	case FormatINI:
		return loadINI(data)
	case FormatBinary:
		return loadBinaryPlain(data), nil
	}
	return nil, f.valid()
}

// emitPlain writes trees as a plaintext document of format f.
func emitPlain(docs []branch, f Format) ([]byte, error) {
	switch f {
	case FormatYAML:
		return emitYAML(docs)
	case FormatJSON:
		return emitJSON(docs)
	case FormatDotenv:
		return emitDotenv(docs)
	case FormatINI:
		return emitINI(docs)
	case FormatBinary:
		return emitBinaryPlain(docs)
	}
	return nil, f.valid()
}

// loadEncrypted reads an encrypted document: its trees without the
// metadata, and the metadata tree (unflattened).
func loadEncrypted(data []byte, f Format) ([]branch, branch, error) {
	var docs []branch
	var err error
	switch f {
	case FormatBinary, FormatJSON:
		docs, err = loadJSON(data) // encrypted binary files are JSON
	case FormatYAML, FormatDotenv, FormatINI:
		docs, err = loadPlain(data, f)
	default:
		err = f.valid()
	}
	if err != nil {
		return nil, nil, err
	}
	md, err := extractMetadata(docs, f)
	if err != nil {
		return nil, nil, err
	}
	return docs, md, nil
}

// ErrNotEncrypted: the document has no sops metadata.
var ErrNotEncrypted = errors.New("sops metadata not found")

func extractMetadata(docs []branch, f Format) (branch, error) {
	if f == FormatDotenv {
		if len(docs) == 0 {
			return nil, ErrNotEncrypted
		}
		var md, rest branch
		for _, it := range docs[0] {
			if k, ok := it.key.(string); ok && strings.HasPrefix(k, metadataKey+"_") {
				md = append(md, item{key: k[len(metadataKey)+1:], value: it.value})
				continue
			}
			rest = append(rest, it)
		}
		if md == nil {
			return nil, ErrNotEncrypted
		}
		docs[0] = rest
		return unflatten(md)
	}
	var md branch
	found := false
	for di, b := range docs {
		rest := b[:0:0]
		for _, it := range b {
			if it.key != metadataKey {
				rest = append(rest, it)
				continue
			}
			if di == 0 {
				if found {
					return nil, errors.New("sops metadata appears twice")
				}
				found = true
				m, ok := it.value.(branch)
				if !ok {
					return nil, errors.New("sops metadata is not a mapping")
				}
				md = m
			}
		}
		docs[di] = rest
	}
	if !found {
		return nil, ErrNotEncrypted
	}
	if f == FormatINI {
		for i, it := range md {
			if s, ok := it.value.(string); ok {
				md[i].value = strings.ReplaceAll(s, `\n`, "\n")
			}
		}
		return unflatten(md)
	}
	return md, nil
}

// emitEncrypted writes trees with the metadata in format f.
func emitEncrypted(docs []branch, md branch, f Format) ([]byte, error) {
	out := make([]branch, 0, len(docs))
	var extra branch
	switch f {
	case FormatDotenv:
		extra = flatten(md, metadataKey+"_")
	case FormatINI:
		fl := flatten(md, "")
		for i, it := range fl {
			if s, ok := it.value.(string); ok {
				fl[i].value = strings.ReplaceAll(s, "\n", `\n`)
			}
		}
		extra = branch{{key: metadataKey, value: fl}}
	default:
		extra = branch{{key: metadataKey, value: md}}
	}
	for _, b := range docs {
		nb := make(branch, 0, len(b)+len(extra))
		for _, it := range b {
			if k, ok := it.key.(string); ok {
				if (f == FormatDotenv && strings.HasPrefix(k, metadataKey+"_")) || (f != FormatDotenv && k == metadataKey) {
					return nil, fmt.Errorf("the document has a key %q, which sops reserves for its metadata", k)
				}
			}
			nb = append(nb, it)
		}
		out = append(out, append(nb, extra...))
	}
	if f == FormatBinary {
		f = FormatJSON
	}
	return emitPlain(out, f)
}

// IsEncrypted reports whether data, read as format f, carries sops
// metadata (a top-level "sops" key, or "sops_" keys in dotenv). It does
// not check that the document decrypts.
func IsEncrypted(data []byte, f Format) bool { return isEncrypted(data, f, DefaultMaxSize) }

// isEncrypted is IsEncrypted under the Decryptor's size bound.
func (d *Decryptor) isEncrypted(data []byte, f Format) bool { return isEncrypted(data, f, d.maxSize) }

func isEncrypted(data []byte, f Format, maxSize int64) bool {
	if f.valid() != nil || int64(len(data)) > maxSize {
		return false
	}
	// Cheap test first: no metadata key, no metadata.
	if !strings.Contains(string(data), metadataKey) {
		return false
	}
	_, _, err := loadEncrypted(data, f)
	return err == nil || !errors.Is(err, ErrNotEncrypted) && hasMetadataKey(data, f)
}

// hasMetadataKey reports whether the document has a metadata key, even
// a malformed one.
func hasMetadataKey(data []byte, f Format) bool {
	var docs []branch
	var err error
	if f == FormatBinary {
		docs, err = loadJSON(data)
	} else {
		docs, err = loadPlain(data, f)
	}
	if err != nil || len(docs) == 0 {
		return false
	}
	for _, it := range docs[0] {
		k, ok := it.key.(string)
		if ok && (k == metadataKey || f == FormatDotenv && strings.HasPrefix(k, metadataKey+"_")) {
			return true
		}
	}
	return false
}
