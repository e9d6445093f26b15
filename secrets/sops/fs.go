package sops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// FS returns a read-only view of fsys in which every file that is a SOPS
// document (in the format its extension names, see FormatForPath) reads
// as its decrypted plaintext, and every other file and directory reads as
// it is. A SOPS file that fails to decrypt fails Open, ReadFile and Stat
// with an error naming the file: the view never serves its ciphertext.
// Stat and ReadDir report the decrypted size. The view reads only through
// fsys, so it keeps fsys's confinement; it implements fs.ReadFileFS,
// fs.StatFS and fs.ReadDirFS. A file holding SOPS ciphertext that cannot
// be decrypted (too large for the Decryptor's bound, metadata that does
// not parse, a wrong key) fails; other files larger than the bound pass
// through unread. A YAML stream of documents encrypted one by one
// decrypts document by document, as Flux decrypts resources.
func (d *Decryptor) FS(fsys fs.FS) fs.FS {
	return d.FSContext(context.Background(), fsys)
}

// FSContext is FS whose decryptions run under ctx: a KeyService call (a
// cloud KMS) made while a renderer reads a file is cancelled with it.
func (d *Decryptor) FSContext(ctx context.Context, fsys fs.FS) fs.FS {
	return &decryptFS{d: d, fsys: fsys, ctx: ctx}
}

type decryptFS struct {
	d    *Decryptor
	fsys fs.FS
	ctx  context.Context

	mu         sync.Mutex
	plaintexts []string // every value decrypted, for Plaintexts
}

func (f *decryptFS) record(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.plaintexts) < maxPlaintexts {
		f.plaintexts = append(f.plaintexts, v)
	}
}

// maxPlaintexts bounds what a view remembers for Plaintexts.
const maxPlaintexts = 100_000

// Plaintexts returns the values a view made by [Decryptor.FS] has
// decrypted so far, so that a host can mark where they end up in rendered
// objects (secrets.MarkSensitive) and keep them out of diffs; nil for any
// other fs.FS. The values are secret: never print them.
func Plaintexts(fsys fs.FS) []string {
	f, ok := fsys.(*decryptFS)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.plaintexts)
}

var (
	_ fs.ReadFileFS = (*decryptFS)(nil)
	_ fs.StatFS     = (*decryptFS)(nil)
	_ fs.ReadDirFS  = (*decryptFS)(nil)
)

// content reads a regular file and decrypts it when it is a SOPS document.
// big reports a file over the size bound that holds no ciphertext, which
// passes through. A file that holds SOPS ciphertext either decrypts or
// fails: too large, unreadable metadata or a wrong key are errors, never
// ciphertext served as content.
func (f *decryptFS) content(name string, file fs.File) (data []byte, decrypted, big bool, err error) {
	data, err = io.ReadAll(io.LimitReader(file, f.d.maxSize+1))
	if err != nil {
		return nil, false, false, err
	}
	cipher := bytes.Contains(data, []byte(encPrefix))
	if int64(len(data)) > f.d.maxSize {
		if cipher {
			return nil, false, false, fmt.Errorf("%w: the file holds SOPS ciphertext and is larger than %d bytes", ErrTooLarge, f.d.maxSize)
		}
		return nil, false, true, nil
	}
	format := FormatForPath(name)
	if !bytes.Contains(data, []byte(metadataKey)) {
		if cipher {
			return nil, false, false, fmt.Errorf("%w: the file holds SOPS ciphertext but no sops metadata", ErrCiphertextLeft)
		}
		return data, false, false, nil
	}
	if !f.d.isEncrypted(data, format) {
		if format == FormatYAML && cipher {
			// Documents encrypted one by one and put in one file, as
			// Flux decrypts them resource by resource.
			if plain, err := f.decryptDocuments(name, data); err == nil {
				return plain, true, false, nil
			} else if !errors.Is(err, ErrNotEncrypted) {
				return nil, false, false, err
			}
		}
		if cipher {
			return nil, false, false, fmt.Errorf("%w: the file holds SOPS ciphertext but no sops metadata converge can read", ErrCiphertextLeft)
		}
		return data, false, false, nil
	}
	plain, err := f.d.decrypt(f.ctx, name, data, format, f.record)
	if err != nil && format == FormatYAML {
		if docs, derr := f.decryptDocuments(name, data); derr == nil {
			return docs, true, false, nil
		}
	}
	if err != nil {
		return nil, false, false, err
	}
	return plain, true, false, nil
}

// decryptDocuments decrypts a YAML stream document by document: each
// document with sops metadata on its own, the others as they are. It is
// ErrNotEncrypted when the stream has a single document.
func (f *decryptFS) decryptDocuments(name string, data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs [][]byte
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errors.New("not a YAML stream")
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			return nil, errors.New("not a YAML stream")
		}
		docs = append(docs, b)
	}
	if len(docs) < 2 {
		return nil, ErrNotEncrypted
	}
	var out bytes.Buffer
	for i, doc := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		if !bytes.Contains(doc, []byte(metadataKey)) || !f.d.isEncrypted(doc, FormatYAML) {
			if bytes.Contains(doc, []byte(encPrefix)) {
				return nil, &Error{Op: "decrypt", Name: name, Err: fmt.Errorf("document %d: %w: SOPS ciphertext but no sops metadata", i+1, ErrCiphertextLeft)}
			}
			out.Write(doc)
			continue
		}
		plain, err := f.d.decrypt(f.ctx, fmt.Sprintf("%s (document %d)", name, i+1), doc, FormatYAML, f.record)
		if err != nil {
			return nil, err
		}
		out.Write(plain)
	}
	return out.Bytes(), nil
}

// Open opens name; a SOPS file opens as its plaintext.
func (f *decryptFS) Open(name string) (fs.File, error) {
	file, err := f.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	if st.IsDir() {
		return &dirFile{File: file, fsys: f, dir: name}, nil
	}
	if !st.Mode().IsRegular() {
		return file, nil
	}
	data, dec, big, err := f.content(name, file)
	file.Close()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if big {
		return f.fsys.Open(name)
	}
	info := st
	if dec {
		info = sizedInfo{FileInfo: st, size: int64(len(data))}
	}
	return &memFile{Reader: bytes.NewReader(data), info: info}, nil
}

// ReadFile reads name; a SOPS file reads as its plaintext.
func (f *decryptFS) ReadFile(name string) ([]byte, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return io.ReadAll(file)
}

// Stat describes name; a SOPS file has the size of its plaintext.
func (f *decryptFS) Stat(name string) (fs.FileInfo, error) {
	st, err := fs.Stat(f.fsys, name)
	if err != nil || !st.Mode().IsRegular() {
		return st, err
	}
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return file.Stat()
}

// ReadDir lists name; entries of SOPS files report their plaintext size.
func (f *decryptFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(f.fsys, name)
	return f.wrapEntries(name, entries), err
}

func (f *decryptFS) wrapEntries(dir string, entries []fs.DirEntry) []fs.DirEntry {
	out := make([]fs.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = dirEntry{DirEntry: e, fsys: f, path: path.Join(dir, e.Name())}
	}
	return out
}

type dirEntry struct {
	fs.DirEntry
	fsys *decryptFS
	path string
}

func (e dirEntry) Info() (fs.FileInfo, error) {
	if !e.Type().IsRegular() {
		return e.DirEntry.Info()
	}
	return e.fsys.Stat(e.path)
}

type dirFile struct {
	fs.File
	fsys *decryptFS
	dir  string
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rd, ok := d.File.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: d.dir, Err: errors.New("not implemented")}
	}
	entries, err := rd.ReadDir(n)
	return d.fsys.wrapEntries(d.dir, entries), err
}

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Close() error               { return nil }

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64        { return s.size }
func (s sizedInfo) ModTime() time.Time { return s.FileInfo.ModTime() }
