package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/converge-dev/converge/internal/peers"
	"github.com/converge-dev/converge/secrets/sops"
)

// sopsComparison decrypts 1,000 SOPS documents in process and with the sops
// CLI once per document (secrets-sops-1000).
var sopsComparison = comparison{name: "secrets-sops", run: runSops}

const sopsDocs = 1000

// A bench-only age key, generated for this file; it protects nothing.
const (
	sopsBenchKey       = "AGE-SECRET-KEY-1M9NUX8GDE36QJ8SKN96C6CGSCU9MKCDUMRQ7HJHADX4HQPHCJCVSNYNXSC\n"
	sopsBenchRecipient = "age1s2zqhla2yyfragurlw7jhzjleww4fees5f9ruw2gyepfz6pk0ssswf0fqv"
)

func runSops(ctx context.Context, _ *harness) ([]result, error) {
	cli, err := peers.CLI("sops")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "converge-bench-sops-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(keyFile, []byte(sopsBenchKey), 0o600); err != nil {
		return nil, err
	}

	// Small Secrets as Flux users keep them: only data/stringData encrypted.
	rule := sops.Rule{KeyGroup: sops.KeyGroup{AgeRecipients: []string{sopsBenchRecipient}}, EncryptedRegex: "^(data|stringData)$"}
	files := make([]string, sopsDocs)
	for i := range files {
		plain := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-%04d\n  namespace: team-%d\ntype: Opaque\nstringData:\n  username: user-%d\n  password: pw-%d-%x\n  url: postgres://db-%d:5432/app\n",
			i, i%10, i, i, i*7919, i%5)
		enc, err := sops.Encrypt(ctx, "secret.yaml", []byte(plain), sops.FormatYAML, rule)
		if err != nil {
			return nil, err
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("secret-%04d.enc.yaml", i))
		if err := os.WriteFile(files[i], enc, 0o600); err != nil {
			return nil, err
		}
	}

	start := time.Now()
	d, err := sops.NewDecryptor(sops.WithAgeKeys([]byte(sopsBenchKey)))
	if err != nil {
		return nil, err
	}
	ours := make([][]byte, sopsDocs)
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if ours[i], err = d.Decrypt(ctx, f, data, sops.FormatForPath(f)); err != nil {
			return nil, err
		}
	}
	convergeTime := time.Since(start)

	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SOPS_AGE_KEY_FILE=" + keyFile, "SOPS_DISABLE_VERSION_CHECK=1"}
	start = time.Now()
	for i, f := range files {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, cli, "-d", f)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("sops -d %s: %w: %s", filepath.Base(f), err, strings.TrimSpace(stderr.String()))
		}
		if !bytes.Equal(stdout.Bytes(), ours[i]) {
			return nil, fmt.Errorf("%s: sops -d and converge disagree", filepath.Base(f))
		}
	}
	peerTime := time.Since(start)

	return []result{{
		Name:     "secrets-sops-1000",
		Converge: convergeTime,
		PeerName: "sops-cli",
		Peer:     peerTime,
		Requests: 0,
		Writes:   -1,
		Extra:    []string{fmt.Sprintf("docs=%d", sopsDocs), "key=age", "encrypted_regex=^(data|stringData)$", "identical=true"},
	}}, nil
}
