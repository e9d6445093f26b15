package git_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/source/git"
)

// gpgKey makes an Ed25519 signing key in a fresh GNUPGHOME and returns
// its fingerprint and armored public key.
func gpgKey(t *testing.T, home, name string) (string, string) {
	t.Helper()
	gpg := func(args ...string) string {
		cmd := exec.Command("gpg", append([]string{"--batch", "--homedir", home, "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("gpg %v: %v: %s", args, err, msg)
		}
		return string(out)
	}
	gpg("--quick-gen-key", name+" <"+name+"@example.com>", "ed25519", "sign", "never")
	var fpr string
	for _, l := range strings.Split(gpg("--with-colons", "--list-keys", name+"@example.com"), "\n") {
		if f := strings.Split(l, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	require.NotEmpty(t, fpr)
	return fpr, gpg("--armor", "--export", fpr)
}

func TestVerifyOpenPGP(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is needed: %v", err)
	}
	home, err := os.MkdirTemp("", "gpg") // short path: gpg-agent's socket name is limited
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		_ = os.RemoveAll(home)
	})
	require.NoError(t, os.Chmod(home, 0o700))
	t.Setenv("GNUPGHOME", home)
	trustedFpr, trusted := gpgKey(t, home, "trusted")
	otherFpr, other := gpgKey(t, home, "other")

	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "signed")
	cfg := func(k, v string) {
		_, err := gittest.Git(repo.Work, "config", k, v)
		require.NoError(t, err)
	}
	cfg("gpg.program", "gpg")
	cfg("commit.gpgsign", "true")
	cfg("tag.gpgsign", "true")
	cfg("user.signingkey", trustedFpr)
	signed := repo.Commit(t, "signed", map[string]string{"a.txt": "a"})
	repo.Tag(t, "v1.0.0", "signed tag")
	repo.Branch(t, "signed")

	cfg("user.signingkey", otherFpr)
	repo.Tag(t, "v1.0.1", "tag by another key")
	repo.Branch(t, "other")

	cfg("commit.gpgsign", "false")
	cfg("tag.gpgsign", "false")
	repo.Commit(t, "unsigned", map[string]string{"a.txt": "b"})
	repo.Tag(t, "v1.0.2", "unsigned tag")
	repo.Branch(t, "unsigned")
	repo.Tag(t, "v1.0.3", "")

	tests := map[string]struct {
		ref  git.Reference
		mode git.VerifyMode
		keys []string
		ok   bool
	}{
		"head signed":           {git.Reference{Branch: "signed"}, git.VerifyHead, []string{trusted}, true},
		"head signed, two keys": {git.Reference{Branch: "signed"}, git.VerifyHead, []string{other, trusted}, true},
		"head by another key":   {git.Reference{Branch: "signed"}, git.VerifyHead, []string{other}, false},
		"head unsigned":         {git.Reference{Branch: "unsigned"}, git.VerifyHead, []string{trusted}, false},
		"tag signed":            {git.Reference{Tag: "v1.0.0"}, git.VerifyTag, []string{trusted}, true},
		"tag and head signed":   {git.Reference{Tag: "v1.0.0"}, git.VerifyTagAndHead, []string{trusted}, true},
		"tag by another key":    {git.Reference{Tag: "v1.0.1"}, git.VerifyTag, []string{trusted}, false},
		"tag unsigned":          {git.Reference{Tag: "v1.0.2"}, git.VerifyTag, []string{trusted}, false},
		"lightweight tag":       {git.Reference{Tag: "v1.0.3"}, git.VerifyTag, []string{trusted}, false},
		"unsigned tag and head": {git.Reference{Tag: "v1.0.2"}, git.VerifyTagAndHead, []string{trusted}, false},
		"semver signed tag":     {git.Reference{SemVer: "<=1.0.0"}, git.VerifyTagAndHead, []string{trusted}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap, err := newSource(t, repo.URL, tc.ref, git.WithVerification(tc.mode, tc.keys...)).Fetch(ctx(t))
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, signed, snap.Commit.Hash)
				return
			}
			require.ErrorIs(t, err, git.ErrUnverified)
			assert.Nil(t, snap)
		})
	}
	_, err = git.New(repo.URL, git.Reference{}, git.WithVerification(git.VerifyHead))
	assert.Error(t, err, "verification without keys is refused")
	_, err = git.New(repo.URL, git.Reference{}, git.WithVerification("sometimes", trusted))
	assert.Error(t, err)
}

func TestVerifySSHSignatures(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen is needed: %v", err)
	}
	dir := t.TempDir()
	keygen := func(name string) (string, string) {
		path := dir + "/" + name
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput()
		require.NoError(t, err, string(out))
		pub, err := os.ReadFile(path + ".pub")
		require.NoError(t, err)
		return path, string(pub)
	}
	trustedPath, trusted := keygen("trusted")
	otherPath, other := keygen("other")
	_, err := git.New("https://example.com/r.git", git.Reference{}, git.WithVerification(git.VerifyHead, "not a key"))
	require.Error(t, err)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo(t, "sshsigned")
	cfg := func(k, v string) {
		_, err := gittest.Git(repo.Work, "config", k, v)
		require.NoError(t, err)
	}
	cfg("gpg.format", "ssh")
	cfg("commit.gpgsign", "true")
	cfg("tag.gpgsign", "true")
	cfg("user.signingkey", trustedPath)
	signed := repo.Commit(t, "signed with ssh", map[string]string{"a.txt": "a"})
	repo.Tag(t, "v1.0.0", "ssh-signed tag")
	repo.Branch(t, "signed")
	repo.Checkout(t, "main")
	cfg("user.signingkey", otherPath)
	repo.Tag(t, "v1.0.1", "tag by another key")
	cfg("commit.gpgsign", "false")
	repo.Commit(t, "unsigned", map[string]string{"a.txt": "b"})
	repo.Branch(t, "unsigned")

	tests := map[string]struct {
		ref  git.Reference
		mode git.VerifyMode
		keys []string
		ok   bool
	}{
		"head":               {git.Reference{Branch: "signed"}, git.VerifyHead, []string{trusted}, true},
		"head, keys in one":  {git.Reference{Branch: "signed"}, git.VerifyHead, []string{other + trusted}, true},
		"head, other key":    {git.Reference{Branch: "signed"}, git.VerifyHead, []string{other}, false},
		"head unsigned":      {git.Reference{Branch: "unsigned"}, git.VerifyHead, []string{trusted}, false},
		"tag and head":       {git.Reference{Tag: "v1.0.0"}, git.VerifyTagAndHead, []string{trusted}, true},
		"tag by another key": {git.Reference{Tag: "v1.0.1"}, git.VerifyTag, []string{trusted}, false},
		"tag by the other":   {git.Reference{Tag: "v1.0.1"}, git.VerifyTag, []string{other}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap, err := newSource(t, repo.URL, tc.ref, git.WithVerification(tc.mode, tc.keys...)).Fetch(ctx(t))
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, signed, snap.Commit.Hash)
				return
			}
			require.ErrorIs(t, err, git.ErrUnverified)
			assert.Nil(t, snap)
		})
	}
}
