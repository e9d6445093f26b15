package sops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"
)

// FS returns a read-only view of fsys in which every file that is a SOPS
// document (in the format its extension names, see FormatForPath) reads
// as its decrypted plaintext, and every other file and directory reads as
// it is. A SOPS file that fails to decrypt fails Open, ReadFile and Stat
// with an error naming the file: the view never serves its ciphertext.
// Stat and ReadDir report the decrypted size. The view reads only through
// fsys, so it keeps fsys's confinement; it implements fs.ReadFileFS,
// fs.StatFS and fs.ReadDirFS. Files larger than the Decryptor's size
// bound pass through unread.
func (d *Decryptor) FS(fsys fs.FS) fs.FS {
	return &decryptFS{d: d, fsys: fsys}
}

type decryptFS struct {
	d    *Decryptor
	fsys fs.FS
}

var (
	_ fs.ReadFileFS = (*decryptFS)(nil)
	_ fs.StatFS     = (*decryptFS)(nil)
	_ fs.ReadDirFS  = (*decryptFS)(nil)
)

// content reads a regular file and decrypts it when it is a SOPS document.
// big reports a file over the size bound, which passes through.
func (f *decryptFS) content(name string, file fs.File) (data []byte, decrypted, big bool, err error) {
	data, err = io.ReadAll(io.LimitReader(file, f.d.maxSize+1))
	if err != nil {
		return nil, false, false, err
	}
	if int64(len(data)) > f.d.maxSize {
		return nil, false, true, nil
	}
	format := FormatForPath(name)
	if !bytes.Contains(data, []byte(metadataKey)) || !IsEncrypted(data, format) {
		return data, false, false, nil
	}
	plain, err := f.d.Decrypt(context.Background(), name, data, format)
	if err != nil {
		return nil, false, false, err
	}
	return plain, true, false, nil
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
