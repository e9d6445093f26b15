package git_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
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

// TestSSHServerMisbehaves: over SSH as over HTTP, an endless reference
// listing hits the fetch byte limit with a clear error, and a server that
// stalls or never stops sending is cut off by the timeout.
func TestSSHServerMisbehaves(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "bad")
	repo.Commit(t, "one", map[string]string{"a.txt": "a"})
	clientKey, clientPub := sshKey(t)
	sshd := srv.NewSSHServer(t, clientPub)
	auth := git.WithSSHKey("git", clientKey, nil, []byte(sshd.KnownHosts))

	tests := map[string]struct {
		mode    gittest.SSHMode
		opts    []git.Option
		wantErr error
	}{
		"endless listing":          {mode: gittest.SSHEndlessListing, opts: []git.Option{git.WithMaxFetchBytes(1 << 20)}, wantErr: git.ErrTransferLimit},
		"endless listing, timeout": {mode: gittest.SSHEndlessListing, opts: []git.Option{git.WithMaxFetchBytes(0), git.WithTimeout(2 * time.Second)}, wantErr: context.DeadlineExceeded},
		"stalled listing":          {mode: gittest.SSHStall, opts: []git.Option{git.WithTimeout(2 * time.Second)}, wantErr: context.DeadlineExceeded},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sshd.SetMode(tc.mode)
			defer sshd.SetMode(gittest.SSHServe)
			start := time.Now()
			snap, err := newSource(t, sshd.URL("git", "bad"), git.Reference{}, append(tc.opts, auth)...).Fetch(ctx(t))
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, snap)
			assert.Contains(t, err.Error(), "list references")
			assert.Less(t, time.Since(start), 30*time.Second, "the bound holds")
		})
	}

	t.Run("well-behaved again", func(t *testing.T) {
		snap, err := newSource(t, sshd.URL("git", "bad"), git.Reference{}, auth, git.WithMaxFetchBytes(1<<20)).Fetch(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, "a", read(t, snap, "a.txt"))
	})

	t.Run("pack over the limit", func(t *testing.T) {
		big := srv.NewRepo(t, "big")
		var sb strings.Builder
		for i := range 20000 {
			fmt.Fprintf(&sb, "%d-%x\n", i, i*7919)
		}
		big.Commit(t, "big", map[string]string{"big.txt": sb.String()})
		_, err := newSource(t, sshd.URL("git", "big"), git.Reference{}, auth, git.WithMaxFetchBytes(32<<10)).Fetch(ctx(t))
		require.ErrorIs(t, err, git.ErrTransferLimit)
	})

	t.Run("missing repository", func(t *testing.T) {
		start := time.Now()
		_, err := newSource(t, sshd.URL("git", "nope"), git.Reference{}, auth).Fetch(ctx(t))
		require.ErrorIs(t, err, transport.ErrRepositoryNotFound)
		assert.NotContains(t, err.Error(), "PRIVATE KEY")
		assert.Less(t, time.Since(start), 10*time.Second)
	})
}
