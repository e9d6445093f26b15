package sops

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encryptedDoc(t *testing.T, name, value string) string {
	t.Helper()
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\nstringData:\n  v: " + value + "\n"
	enc, err := Encrypt(context.Background(), name, []byte(plain), FormatYAML,
		Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}, EncryptedRegex: "^stringData$"})
	require.NoError(t, err)
	return string(enc)
}

// The FS layer never serves ciphertext: a SOPS file decrypts or fails.
func TestFSNeverServesCiphertext(t *testing.T) {
	a, b := encryptedDoc(t, "a", "MARKER-a-secret"), encryptedDoc(t, "b", "MARKER-b-secret")
	plainDoc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n"
	d := newTestDecryptor(t, WithMaxSize(int64(len(a)+len(b)+len(plainDoc)+100)))
	fsys := d.FS(fstest.MapFS{
		"concatenated.yaml": {Data: []byte(a + "---\n" + b)},
		"plain-first.yaml":  {Data: []byte(plainDoc + "---\n" + a)},
		"too-big.yaml":      {Data: []byte(a + "---\n" + b + "---\n" + plainDoc + "#" + strings.Repeat("x", 200) + "\n")},
		"no-metadata.yaml":  {Data: []byte("stringData:\n  v: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n")},
		"big-plain.yaml":    {Data: []byte(strings.Repeat("# nothing secret\n", 1000))},
	})

	for name, want := range map[string][]string{
		"concatenated.yaml": {"MARKER-a-secret", "MARKER-b-secret"},
		"plain-first.yaml":  {"name: c", "MARKER-a-secret"},
	} {
		got, err := fs.ReadFile(fsys, name)
		require.NoError(t, err, name)
		for _, w := range want {
			assert.Contains(t, string(got), w, name)
		}
		assert.NotContains(t, string(got), encPrefix, name)
	}
	for name, want := range map[string]error{"too-big.yaml": ErrTooLarge, "no-metadata.yaml": ErrCiphertextLeft} {
		_, err := fs.ReadFile(fsys, name)
		require.ErrorIs(t, err, want, name)
		assert.Contains(t, err.Error(), name)
		_, err = fsys.Open(name)
		require.Error(t, err, name)
	}
	big, err := fs.ReadFile(fsys, "big-plain.yaml")
	require.NoError(t, err, "a large file without ciphertext passes through")
	assert.Len(t, big, 17000)
}
