package git_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source/git"
)

func sshKey(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(block), sshPub
}

func TestSSHTransport(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "deploy")
	head := repo.Commit(t, "one", map[string]string{"a.txt": "over ssh"})
	clientKey, clientPub := sshKey(t)
	_, strangerPub := sshKey(t)
	strangerKey, _ := sshKey(t)
	sshd := srv.NewSSHServer(t, clientPub)
	url := sshd.URL("git", "deploy")
	addr := knownhosts.Normalize(sshd.Addr)
	hashed := knownhosts.HashHostname(addr) + " " + string(ssh.MarshalAuthorizedKey(sshd.HostKey))
	wrongHost := knownhosts.Line([]string{addr}, strangerPub)
	otherHost := knownhosts.Line([]string{"example.com"}, sshd.HostKey)

	tests := map[string]struct {
		key        []byte
		knownHosts string
		ok         bool
	}{
		"known host":           {clientKey, sshd.KnownHosts, true},
		"hashed known host":    {clientKey, hashed, true},
		"changed host key":     {clientKey, wrongHost, false},
		"host not listed":      {clientKey, otherHost, false},
		"client key not known": {strangerKey, sshd.KnownHosts, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := newSource(t, url, git.Reference{Branch: "main"}, git.WithSSHKey("git", tc.key, nil, []byte(tc.knownHosts)))
			snap, err := src.Fetch(ctx(t))
			if !tc.ok {
				require.Error(t, err)
				assert.Nil(t, snap)
				assert.NotContains(t, err.Error(), "PRIVATE KEY")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "main@sha1:"+head, snap.Revision)
			assert.Equal(t, "over ssh", read(t, snap, "a.txt"))
			again, err := src.Fetch(ctx(t))
			require.NoError(t, err)
			assert.Same(t, snap, again)
		})
	}

	for name, opts := range map[string][]git.Option{
		"no key":         nil,
		"no known hosts": {git.WithSSHKey("git", clientKey, nil, nil)},
		"bad key":        {git.WithSSHKey("git", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n"), nil, []byte(sshd.KnownHosts))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := git.New(url, git.Reference{}, opts...)
			require.Error(t, err)
			assert.False(t, strings.Contains(err.Error(), "nope"), "key material is not echoed")
		})
	}
}
