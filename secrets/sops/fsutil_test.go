package sops

import "io/fs"

func readAll(fsys fs.FS, name string) ([]byte, error)        { return fs.ReadFile(fsys, name) }
func statOf(fsys fs.FS, name string) (fs.FileInfo, error)    { return fs.Stat(fsys, name) }
func readDir(fsys fs.FS, name string) ([]fs.DirEntry, error) { return fs.ReadDir(fsys, name) }
