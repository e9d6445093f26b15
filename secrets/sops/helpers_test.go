package sops

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/internal/peers"
)

// Test-only keys, generated for this package's fixtures.
const (
	ageRecipient1  = "age1ec9gwg3h88gjq57ma59jhj8kdx7fmy2hezkp9symtup59mh4tpaqw55wpu"
	ageRecipient2  = "age1vha2zu767nrw3d2q9dzuexk6q42ln0ls035q9mr2z25fhkk08dwsnelpv5"
	ageRecipient3  = "age1jfjxuwkc35wvvxae2g9cnryxmn2fjp66yddjs9ruggtavf4rgegqsyy6fx"
	pgpFingerprint = "B311B91B16A1FD4C9866D11BA602B827644A5447"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func ageKey(t testing.TB, n int) []byte {
	return readFile(t, filepath.Join("testdata", "keys", "age"+string(rune('0'+n))+".txt"))
}

func newTestDecryptor(t testing.TB, opts ...Option) *Decryptor {
	t.Helper()
	all := append([]Option{WithAgeKeys(ageKey(t, 1))}, opts...)
	d, err := NewDecryptor(all...)
	require.NoError(t, err)
	return d
}

var (
	sopsOnce sync.Once
	sopsPath string
	sopsErr  error
)

// sopsCLI is the real sops v3.13.2, built on first use.
func sopsCLI(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("interop with the sops CLI is not run with -short")
	}
	sopsOnce.Do(func() { sopsPath, sopsErr = peers.CLI("sops") })
	require.NoError(t, sopsErr)
	return sopsPath
}

// cliEnv runs the sops CLI with only the keys the test gives it.
type cliEnv struct {
	t     testing.TB
	bin   string
	dir   string
	env   []string
	gnupg string
}

func newCLIEnv(t testing.TB, ageKeys ...int) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t, bin: sopsCLI(t), dir: t.TempDir()}
	var keys []byte
	for _, n := range ageKeys {
		keys = append(keys, ageKey(t, n)...)
	}
	keyFile := filepath.Join(e.dir, "keys.txt")
	require.NoError(t, os.WriteFile(keyFile, keys, 0o600))
	home := filepath.Join(e.dir, "home")
	require.NoError(t, os.MkdirAll(home, 0o700))
	e.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SOPS_AGE_KEY_FILE=" + keyFile, "SOPS_DISABLE_VERSION_CHECK=1"}
	return e
}

// withGPG gives the CLI a GnuPG home holding the test-only OpenPGP key.
func (e *cliEnv) withGPG() bool {
	e.t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		return false
	}
	// gpg-agent's socket path must stay short: not under t.TempDir().
	home, err := os.MkdirTemp("/tmp", "cvg-gpg")
	require.NoError(e.t, err)
	require.NoError(e.t, os.Chmod(home, 0o700))
	e.t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = []string{"GNUPGHOME=" + home, "PATH=" + os.Getenv("PATH")}
		_ = kill.Run()
		os.RemoveAll(home)
	})
	imp := exec.Command("gpg", "--batch", "--import", filepath.Join("testdata", "keys", "pgp-private.asc"))
	imp.Env = []string{"GNUPGHOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, err := imp.CombinedOutput()
	require.NoError(e.t, err, string(out))
	trust := exec.Command("gpg", "--batch", "--import-ownertrust")
	trust.Env = imp.Env
	trust.Stdin = strings.NewReader(pgpFingerprint + ":6:\n")
	out, err = trust.CombinedOutput()
	require.NoError(e.t, err, string(out))
	e.env = append(e.env, "GNUPGHOME="+home)
	e.gnupg = home
	return true
}

func (e *cliEnv) run(stdin []byte, args ...string) ([]byte, error) {
	e.t.Helper()
	cmd := exec.CommandContext(context.Background(), e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = e.env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &cliError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type cliError struct {
	err    error
	stderr string
}

func (c *cliError) Error() string { return c.err.Error() + ": " + c.stderr }

// write puts a file in the CLI's working directory.
func (e *cliEnv) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	require.NoError(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(e.t, os.WriteFile(p, data, 0o600))
	return name
}
