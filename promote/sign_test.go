package promote_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/promote"
	sourcegit "github.com/converge-dev/converge/source/git"
)

// run runs a command with extra environment and returns its combined
// output, failing the test when it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(env, name, args...)
	require.NoError(t, err, out)
	return out
}

func runErr(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// verifyCommit runs `git verify-commit` in the server's bare repository,
// with a configuration of its own and extra environment (GNUPGHOME).
func verifyCommit(repo *gittest.Repo, commit string, env []string, config ...string) (string, error) {
	args := []string{"-C", repo.Bare}
	for _, c := range config {
		args = append(args, "-c", c)
	}
	args = append(args, "verify-commit", "-v", commit)
	return runErr(append([]string{"HOME=" + os.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}, env...), "git", args...)
}

// publishSigned publishes one change signed by signer and returns the
// commit's hash.
func publishSigned(t *testing.T, repo *gittest.Repo, signer promote.Signer, tag string) string {
	t.Helper()
	p := newPublisher(t, repo.URL, promote.WithSigner(signer))
	pub, err := p.Publish(context.Background(), promote.Change{Branch: "main", Message: "promote web " + tag, Edit: setTag(tag)})
	require.NoError(t, err)
	require.Equal(t, promote.Pushed, pub.Action)
	return pub.Commit
}

// fetchVerified fetches main through source/git, verifying its head with
// key.
func fetchVerified(t *testing.T, repo *gittest.Repo, key string) (string, error) {
	t.Helper()
	src, err := sourcegit.New(repo.URL, sourcegit.Reference{Branch: "main"}, sourcegit.WithVerification(sourcegit.VerifyHead, key))
	require.NoError(t, err)
	snap, err := src.Fetch(context.Background())
	if err != nil {
		return "", err
	}
	return snap.Commit.Hash, nil
}

func sshKeygen(t *testing.T, dir, name, passphrase string, typeArgs ...string) (private []byte, public string) {
	t.Helper()
	path := filepath.Join(dir, name)
	run(t, nil, "ssh-keygen", append(append([]string{"-q"}, typeArgs...), "-N", passphrase, "-C", name, "-f", path)...)
	private, err := os.ReadFile(path)
	require.NoError(t, err)
	pub, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	return private, strings.TrimSpace(string(pub))
}

func TestSignSSHVerifiedByGitAndSource(t *testing.T) {
	dir := t.TempDir()
	_, otherPub := sshKeygen(t, dir, "other", "", "-t", "ed25519")
	cases := map[string]struct {
		args       []string
		passphrase string
	}{
		"ed25519":               {args: []string{"-t", "ed25519"}},
		"ed25519 with a phrase": {args: []string{"-t", "ed25519"}, passphrase: "correct horse battery"},
		"ecdsa p-256":           {args: []string{"-t", "ecdsa", "-b", "256"}},
		"rsa 2048":              {args: []string{"-t", "rsa", "-b", "2048"}},
		"rsa in PEM":            {args: []string{"-t", "rsa", "-b", "2048", "-m", "PEM"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			key, pub := sshKeygen(t, dir, strings.ReplaceAll(name, " ", "-"), tc.passphrase, tc.args...)
			signer, err := promote.NewSSHSigner(key, []byte(tc.passphrase))
			require.NoError(t, err)
			srv := gittest.NewServer(t)
			repo, _ := seedRepo(t, srv)
			commit := publishSigned(t, repo, signer, "1.5.0")

			allowed := filepath.Join(t.TempDir(), "allowed_signers")
			require.NoError(t, os.WriteFile(allowed, []byte(bot.Email+` namespaces="git" `+pub+"\n"), 0o644))
			out, err := verifyCommit(repo, commit, nil, "gpg.format=ssh", "gpg.ssh.allowedSignersFile="+allowed)
			require.NoError(t, err, "git verify-commit: %s", out)
			assert.Contains(t, out, `Good "git" signature for `+bot.Email)

			got, err := fetchVerified(t, repo, pub)
			require.NoError(t, err, "source/git verifies it")
			assert.Equal(t, commit, got)

			// Neither accepts another key: the checks can fail.
			require.NoError(t, os.WriteFile(allowed, []byte(bot.Email+` namespaces="git" `+otherPub+"\n"), 0o644))
			_, err = verifyCommit(repo, commit, nil, "gpg.format=ssh", "gpg.ssh.allowedSignersFile="+allowed)
			assert.Error(t, err)
			_, err = fetchVerified(t, repo, otherPub)
			assert.ErrorIs(t, err, sourcegit.ErrUnverified)
		})
	}
}

// gpgHome is a GnuPG home of its own, its agent stopped when the test ends.
func gpgHome(t *testing.T) []string {
	t.Helper()
	// Short: the agent's socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "gpg")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(home, 0o700))
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		_, _ = runErr(env, "gpgconf", "--kill", "all")
		_ = os.RemoveAll(home)
	})
	return env
}

// gpgKey makes a key with gpg, as a person would, and returns its armored
// secret and public keys.
func gpgKey(t *testing.T, algo, passphrase string) (secret, public []byte) {
	t.Helper()
	env := gpgHome(t)
	batch := []string{"--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase}
	run(t, env, "gpg", append(batch, "--quick-gen-key", "Converge Bot <"+bot.Email+">", algo, "sign", "never")...)
	return []byte(run(t, env, "gpg", append(batch, "--armor", "--export-secret-keys", bot.Email)...)),
		[]byte(run(t, env, "gpg", "--batch", "--armor", "--export", bot.Email))
}

func TestSignOpenPGPVerifiedByGitAndSource(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is needed: %v", err)
	}
	_, otherPub := gpgKey(t, "ed25519", "")
	cases := map[string]struct{ algo, passphrase string }{
		"ed25519":               {algo: "ed25519"},
		"ed25519 with a phrase": {algo: "ed25519", passphrase: "correct horse battery"},
		"rsa 2048":              {algo: "rsa2048"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			secret, public := gpgKey(t, tc.algo, tc.passphrase)
			signer, err := promote.NewOpenPGPSigner(secret, []byte(tc.passphrase))
			require.NoError(t, err)
			srv := gittest.NewServer(t)
			repo, _ := seedRepo(t, srv)
			commit := publishSigned(t, repo, signer, "1.5.0")

			// A keyring that holds the public key only.
			verifier := gpgHome(t)
			cmd := exec.Command("gpg", "--batch", "--import")
			cmd.Env, cmd.Stdin = append(os.Environ(), verifier...), bytes.NewReader(public)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			out2, err := verifyCommit(repo, commit, verifier)
			require.NoError(t, err, "git verify-commit: %s", out2)
			assert.Contains(t, out2, `Good signature from "Converge Bot <`+bot.Email+`>"`)

			got, err := fetchVerified(t, repo, string(public))
			require.NoError(t, err, "source/git verifies it")
			assert.Equal(t, commit, got)
			_, err = fetchVerified(t, repo, string(otherPub))
			assert.ErrorIs(t, err, sourcegit.ErrUnverified)
			_, err = verifyCommit(repo, commit, gpgHome(t))
			assert.Error(t, err, "gpg without the key does not verify it")
		})
	}
}

func TestSignUnsignedCommitsDoNotVerify(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, _ := seedRepo(t, srv)
	pub, err := newPublisher(t, repo.URL).Publish(context.Background(), promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.5.0")})
	require.NoError(t, err)
	_, key := sshKeygen(t, t.TempDir(), "k", "", "-t", "ed25519")
	_, err = fetchVerified(t, repo, key)
	assert.ErrorIs(t, err, sourcegit.ErrUnverified)
	_, err = verifyCommit(repo, pub.Commit, gpgHome(t))
	assert.Error(t, err)
}

func TestSignersRefuseBadKeys(t *testing.T) {
	dir := t.TempDir()
	sshLocked, sshPub := sshKeygen(t, dir, "locked", "the-right-phrase", "-t", "ed25519")
	pgpLocked, pgpPub := gpgKey(t, "ed25519", "the-right-phrase")
	cases := map[string]func() (promote.Signer, error){
		"ssh garbage":        func() (promote.Signer, error) { return promote.NewSSHSigner([]byte("not a key"), nil) },
		"ssh public key":     func() (promote.Signer, error) { return promote.NewSSHSigner([]byte(sshPub), nil) },
		"ssh wrong phrase":   func() (promote.Signer, error) { return promote.NewSSHSigner(sshLocked, []byte("wrong-phrase-given")) },
		"ssh no phrase":      func() (promote.Signer, error) { return promote.NewSSHSigner(sshLocked, nil) },
		"ssh nil signer":     func() (promote.Signer, error) { return promote.SSHSignerFrom(nil) },
		"openpgp garbage":    func() (promote.Signer, error) { return promote.NewOpenPGPSigner([]byte("not a key"), nil) },
		"openpgp public key": func() (promote.Signer, error) { return promote.NewOpenPGPSigner(pgpPub, nil) },
		"openpgp wrong phrase": func() (promote.Signer, error) {
			return promote.NewOpenPGPSigner(pgpLocked, []byte("wrong-phrase-given"))
		},
		"openpgp no phrase":     func() (promote.Signer, error) { return promote.NewOpenPGPSigner(pgpLocked, nil) },
		"openpgp an SSH key":    func() (promote.Signer, error) { return promote.NewOpenPGPSigner(sshLocked, nil) },
		"ssh an OpenPGP key":    func() (promote.Signer, error) { return promote.NewSSHSigner(pgpLocked, nil) },
		"openpgp empty":         func() (promote.Signer, error) { return promote.NewOpenPGPSigner(nil, nil) },
		"ssh empty":             func() (promote.Signer, error) { return promote.NewSSHSigner(nil, nil) },
		"openpgp truncated key": func() (promote.Signer, error) { return promote.NewOpenPGPSigner(pgpLocked[:len(pgpLocked)/2], nil) },
	}
	for name, newSigner := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := newSigner()
			require.ErrorIs(t, err, promote.ErrInvalidSigningKey)
			assert.Nil(t, s)
			assert.NotContains(t, err.Error(), "phrase-given")
			assert.NotContains(t, err.Error(), "PRIVATE")
		})
	}
}

// A SignerFunc signs with a key held elsewhere; a failing one fails the
// publication before anything is pushed.
func TestSignerFunc(t *testing.T) {
	srv := gittest.NewServer(t)
	repo, head := seedRepo(t, srv)
	key, pub := sshKeygen(t, t.TempDir(), "k", "", "-t", "ed25519")
	inner, err := promote.NewSSHSigner(key, nil)
	require.NoError(t, err)
	calls := 0
	commit := publishSigned(t, repo, promote.SignerFunc(func(m io.Reader) ([]byte, error) { calls++; return inner.Sign(m) }), "1.5.0")
	assert.Equal(t, 1, calls)
	got, err := fetchVerified(t, repo, pub)
	require.NoError(t, err)
	assert.Equal(t, commit, got)

	failing := promote.SignerFunc(func(io.Reader) ([]byte, error) { return nil, assert.AnError })
	_, err = newPublisher(t, repo.URL, promote.WithSigner(failing)).Publish(context.Background(),
		promote.Change{Branch: "main", Message: "promote", Edit: setTag("1.6.0")})
	require.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, commit, gitOut(t, repo.Bare, "rev-parse", "main"))
	assert.NotEqual(t, head, commit)
}
