package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxLinkHops bounds symlink chains, as the kernel's ELOOP does.
const maxLinkHops = 40

// Confine returns fsys with every symbolic link checked before it is
// followed: a link, or a chain of links, that resolves outside the root
// of fsys gives an [ErrOutsideRoot] error naming the path, not the target.
// It needs fsys to implement fs.ReadLinkFS (os.DirFS and os.Root.FS do);
// other file systems are returned as they are, since without links they
// cannot leave their root. The renderers in this module confine what they
// are given, so os.DirFS is safe to pass to them.
func Confine(fsys fs.FS) fs.FS {
	if _, ok := fsys.(confined); ok {
		return fsys
	}
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return fsys
	}
	return confined{rl}
}

type confined struct{ fsys fs.ReadLinkFS }

// Open opens name after checking that no link on its way leaves the root.
func (c confined) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	resolved, err := c.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return c.fsys.Open(resolved)
}

// resolve follows the links in name, component by component, and returns
// the path they lead to inside the root.
func (c confined) resolve(name string) (string, error) {
	if name == "." {
		return name, nil
	}
	parts := strings.Split(name, "/")
	done := "."
	hops := 0
	for len(parts) > 0 {
		next := path.Join(done, parts[0])
		parts = parts[1:]
		info, err := c.fsys.Lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return path.Join(append([]string{next}, parts...)...), nil
			}
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("%w: too many levels of symbolic links", ErrOutsideRoot)
		}
		target, err := c.fsys.ReadLink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) || strings.HasPrefix(target, "\\") {
			return "", fmt.Errorf("%w: symbolic link to an absolute path", ErrOutsideRoot)
		}
		joined := path.Join(done, target)
		if !fs.ValidPath(joined) {
			return "", fmt.Errorf("%w: symbolic link", ErrOutsideRoot)
		}
		// Resolve the target's own components (they may be links too).
		parts = append(strings.Split(joined, "/"), parts...)
		done = "."
	}
	return done, nil
}

// Stat implements fs.StatFS through the same checks.
func (c confined) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	resolved, err := c.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fs.Stat(c.fsys, resolved)
}

// ReadDir implements fs.ReadDirFS through the same checks.
func (c confined) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	resolved, err := c.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return fs.ReadDir(c.fsys, resolved)
}
