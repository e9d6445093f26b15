package sops

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/source/dir"
)

// The decrypting layer reads only through the snapshot, and the snapshot
// refuses an encrypted file linked from outside its root: it is never
// decrypted.
func TestFSKeepsTheSnapshotsConfinement(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "db.enc.env"), readFile(t, "testdata/enc/db.enc.env"), 0o600))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "app", "inside.enc.env"), readFile(t, "testdata/enc/db.enc.env"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "db.enc.env"), filepath.Join(root, "app", "escape.enc.env")))

	_, err := dir.New(root).Fetch(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "app/escape.enc.env")
	assert.Contains(t, err.Error(), "outside the root")

	require.NoError(t, os.Remove(filepath.Join(root, "app", "escape.enc.env")))
	snap, err := dir.New(root).Fetch(context.Background())
	require.NoError(t, err)
	fsys := newTestDecryptor(t).FS(snap.FS)
	inside, err := fs.ReadFile(fsys, "app/inside.enc.env")
	require.NoError(t, err)
	assert.False(t, IsEncrypted(inside, FormatDotenv))
	assert.Contains(t, string(inside), "=")
	_, err = fs.ReadFile(fsys, "../"+filepath.Base(outside)+"/db.enc.env")
	require.Error(t, err, "no path leaves the snapshot")
}
