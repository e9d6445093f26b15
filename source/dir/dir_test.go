package dir_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/source"
	"github.com/converge-dev/converge/source/dir"
	"github.com/converge-dev/converge/source/sourcetest"
)

func write(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if c == "" {
			require.NoError(t, os.Remove(full))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
	}
}

func TestConformance(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
		root := t.TempDir()
		return sourcetest.Harness{
			Source: dir.New(root),
			Write:  func(t testing.TB, files map[string]string) { write(t, root, files) },
		}
	})
}

func TestFetch(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, map[string]string{"secret.txt": "s3cret"})

	tests := map[string]struct {
		reason  string
		files   map[string]string
		links   map[string]string // path → target
		opts    []dir.Option
		want    map[string]string // readable files
		absent  []string
		wantErr error
	}{
		"ignore rules": {
			reason: "options and .sourceignore both leave paths out, .git is skipped",
			files: map[string]string{
				".sourceignore": "# comment\n*.md\n!KEEP.md\n", "KEEP.md": "k", "notes.md": "n",
				"apps/a.yaml": "a", "tmp/x.yaml": "x", ".git/config": "[core]", ".GIT/HEAD": "ref",
			},
			opts:   []dir.Option{dir.WithIgnore("tmp/")},
			want:   map[string]string{"KEEP.md": "k", "apps/a.yaml": "a", ".sourceignore": "#" + " comment\n*.md\n!KEEP.md\n"},
			absent: []string{"notes.md", "tmp/x.yaml", ".git/config", ".GIT/HEAD"},
		},
		"include": {
			reason: "only included paths are kept",
			files:  map[string]string{"apps/api/a.yaml": "a", "apps/web/w.yaml": "w", "infra/i.yaml": "i"},
			opts:   []dir.Option{dir.WithInclude("apps/api", "infra/i.yaml")},
			want:   map[string]string{"apps/api/a.yaml": "a", "infra/i.yaml": "i"},
			absent: []string{"apps/web/w.yaml"},
		},
		"symlink inside": {
			reason: "links whose target stays inside are followed",
			files:  map[string]string{"base/a.yaml": "a"},
			links:  map[string]string{"link.yaml": "base/a.yaml", "overlay/base": "../base"},
			want:   map[string]string{"link.yaml": "a", "overlay/base/a.yaml": "a", "base/a.yaml": "a"},
		},
		"symlink outside": {
			reason:  "a link out of the root refuses the snapshot",
			files:   map[string]string{"a.yaml": "a"},
			links:   map[string]string{"evil": outside},
			wantErr: source.ErrUnsafePath,
		},
		"symlink outside relative": {
			reason:  "a relative link that climbs out refuses the snapshot",
			files:   map[string]string{"a/b.yaml": "b"},
			links:   map[string]string{"a/evil": "../../" + filepath.Base(outside) + "/secret.txt"},
			wantErr: source.ErrUnsafePath,
		},
		"nested ignore file is a link": {
			reason: "an ignore file that is a symbolic link is not read, in a subdirectory as at the root",
			files:  map[string]string{"apps/rules": "*\n", "apps/a.yaml": "a", "rules": "*\n", "b.yaml": "b"},
			links:  map[string]string{"apps/.sourceignore": "rules", ".sourceignore": "rules"},
			want:   map[string]string{"apps/a.yaml": "a", "b.yaml": "b"},
		},
		"nested ignore file is a directory": {
			reason: "a directory named like the ignore file is content",
			files:  map[string]string{"apps/.sourceignore/x.yaml": "x", "apps/a.yaml": "a"},
			want:   map[string]string{"apps/.sourceignore/x.yaml": "x", "apps/a.yaml": "a"},
		},
		"oversized nested ignore file": {
			reason:  "an ignore file over the bound fails the snapshot",
			files:   map[string]string{"apps/.sourceignore": strings.Repeat("# padding\n", source.MaxIgnoreFileBytes/10+1)},
			wantErr: source.ErrLimit,
		},
		"ignored directory's ignore file is not read": {
			reason: "a directory left out is not walked, so its ignore file does not count",
			files:  map[string]string{".sourceignore": "vendor/\n", "vendor/.sourceignore": strings.Repeat("# padding\n", source.MaxIgnoreFileBytes/10+1), "a": "a"},
			want:   map[string]string{"a": "a"},
			absent: []string{"vendor", "vendor/.sourceignore"},
		},
		"file limit": {
			files:   map[string]string{"a": "1", "b": "2", "c": "3"},
			opts:    []dir.Option{dir.WithLimits(source.Limits{Files: 2})},
			wantErr: source.ErrLimit,
		},
		"size limit": {
			files:   map[string]string{"big": "0123456789"},
			opts:    []dir.Option{dir.WithLimits(source.Limits{FileBytes: 9})},
			wantErr: source.ErrLimit,
		},
		"total limit": {
			files:   map[string]string{"a": "01234", "b": "56789"},
			opts:    []dir.Option{dir.WithLimits(source.Limits{Bytes: 9})},
			wantErr: source.ErrLimit,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tc.files)
			for p, target := range tc.links {
				full := filepath.Join(root, filepath.FromSlash(p))
				require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
				require.NoError(t, os.Symlink(target, full))
			}
			snap, err := dir.New(root, tc.opts...).Fetch(context.Background())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr, tc.reason)
				assert.Nil(t, snap)
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err, tc.reason)
			for p, c := range tc.want {
				got, err := fs.ReadFile(snap.FS, p)
				if assert.NoError(t, err, p) {
					assert.Equal(t, c, string(got), p)
				}
			}
			for _, p := range tc.absent {
				_, err := fs.Stat(snap.FS, p)
				assert.ErrorIs(t, err, fs.ErrNotExist, p)
			}
		})
	}
}

func TestMissingDirectory(t *testing.T) {
	_, err := dir.New(filepath.Join(t.TempDir(), "nope")).Fetch(context.Background())
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
