package vault

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ref is a parsed key: a path under the mount and an optional version.
type ref struct {
	path    string // "app/db", never empty, no leading or trailing "/"
	version int64  // 0: the latest
}

// parseKey reads a key in one of the forms the package documents:
// "app/db", "<mount>/data/app/db", each with an optional "?version=N".
func parseKey(key, mount string) (ref, error) {
	path, query, hasQuery := strings.Cut(key, "?")
	var r ref
	if hasQuery {
		v, err := url.ParseQuery(query)
		if err != nil || len(v) != 1 || len(v["version"]) != 1 {
			return r, fmt.Errorf("%w: the only query a key takes is ?version=N", ErrInvalidKey)
		}
		n, err := strconv.ParseInt(v["version"][0], 10, 64)
		if err != nil || n < 1 {
			return r, fmt.Errorf("%w: version must be a whole number from 1", ErrInvalidKey)
		}
		r.version = n
	}
	path = strings.TrimPrefix(path, "/")
	if rest, ok := strings.CutPrefix(path, mount+"/data/"); ok {
		path = rest
	} else {
		path = strings.TrimPrefix(path, mount+"/") // vals' ref+vault://secret/db, KV v1's secret/db
	}
	p, err := cleanPath(path)
	if err != nil {
		return r, err
	}
	if p == "" || strings.HasSuffix(path, "/") {
		return r, fmt.Errorf("%w: a key names a secret, not a folder", ErrInvalidKey)
	}
	r.path = p
	return r, nil
}

// parsePrefix reads a List prefix: a folder under the mount ("", "app",
// "app/"), also written "<mount>/metadata/app" or "<mount>/data/app".
func parsePrefix(prefix, mount string) (string, error) {
	p := strings.TrimPrefix(prefix, "/")
	if p == mount+"/metadata" || p == mount+"/data" {
		return "", nil
	}
	for _, form := range []string{mount + "/metadata/", mount + "/data/"} {
		if rest, ok := strings.CutPrefix(p, form); ok {
			p = rest
			break
		}
	}
	return cleanPath(strings.TrimSuffix(p, "/"))
}

// cleanPath checks each segment of a path under the mount: no empty, "."
// or ".." segment (Vault cleans paths, so "a/../../sys" would leave the
// mount), nothing that is not printable, and no "?" or "#".
func cleanPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if len(p) > 4096 {
		return "", fmt.Errorf("%w: longer than 4096 bytes", ErrInvalidKey)
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return "", fmt.Errorf("%w: empty path segment", ErrInvalidKey)
		case ".", "..":
			return "", fmt.Errorf("%w: %q path segment", ErrInvalidKey, seg)
		}
		for _, c := range seg {
			if c < 0x20 || c == 0x7f || c == '?' || c == '#' {
				return "", fmt.Errorf("%w: character %q in path", ErrInvalidKey, c)
			}
		}
	}
	return p, nil
}

// escapePath escapes each segment of a clean path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
