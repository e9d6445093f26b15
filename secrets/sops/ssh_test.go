package sops

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// sshKey returns a fresh OpenSSH ed25519 private key (PEM) and its
// authorized_keys line.
func sshKey(t *testing.T) (private []byte, public string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

// An OpenSSH key works as age takes it, both ways with the sops CLI
// (SOPS_AGE_SSH_PRIVATE_KEY_FILE).
func TestSSHKeysInteropWithCLI(t *testing.T) {
	private, public := sshKey(t)
	plain := readFile(t, filepath.Join("testdata", "plain", "secret.yaml"))
	e := newCLIEnv(t)
	e.env = append(e.env, "SOPS_AGE_SSH_PRIVATE_KEY_FILE="+filepath.Join(e.dir, e.write("id_ed25519", private)))

	d, err := NewDecryptor(WithAgeKeys(private))
	require.NoError(t, err)

	enc, err := e.run(nil, "-e", "--age", public, e.write("in.yaml", plain))
	require.NoError(t, err)
	want, err := e.run(nil, "-d", e.write("cli.enc.yaml", enc))
	require.NoError(t, err)
	got, err := d.Decrypt(context.Background(), "cli.enc.yaml", enc, FormatYAML)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	ours, err := Encrypt(context.Background(), "ours.yaml", plain, FormatYAML, Rule{KeyGroup: KeyGroup{AgeRecipients: []string{public}}})
	require.NoError(t, err)
	back, err := e.run(nil, "-d", e.write("ours.enc.yaml", ours))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(back))
}

func TestSSHKeyRefusals(t *testing.T) {
	private, _ := sshKey(t)
	_, err := NewDecryptor(WithAgeKeys(private[:len(private)/2]))
	require.ErrorIs(t, err, ErrInvalidKey)
	assert.NotContains(t, err.Error(), string(private[40:60]))

	_, err = Encrypt(context.Background(), "x.yaml", []byte("a: b\n"), FormatYAML, Rule{KeyGroup: KeyGroup{AgeRecipients: []string{"ssh-ed25519 AAAAnotakey"}}})
	require.ErrorIs(t, err, ErrInvalidKey)
}
