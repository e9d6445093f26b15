package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/converge-dev/converge/internal/gittest"
	"github.com/converge-dev/converge/secrets/sops"
)

// A repository with a SOPS-encrypted Secret and a secret generator over a
// SOPS-encrypted .env file reconciles with --age-key-file as under Flux's
// decryption; without the key nothing is applied; no output shows a value.
func TestAgeKeyFileDecryptsAndNoOutputShowsTheValue(t *testing.T) {
	ns := env.Namespace(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "age.agekey")
	require.NoError(t, os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600))
	rule := sops.Rule{KeyGroup: sops.KeyGroup{AgeRecipients: []string{id.Recipient().String()}}, EncryptedRegex: "^(data|stringData)$"}
	files := func(v string) map[string]string {
		secret, err := sops.Encrypt(context.Background(), "db.enc.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: MARKER-cli-"+v+"\n"), sops.FormatYAML, rule)
		require.NoError(t, err)
		dotenv, err := sops.Encrypt(context.Background(), "app.env", []byte("TOKEN=MARKER-env-"+v+"\n"), sops.FormatDotenv, sops.Rule{KeyGroup: rule.KeyGroup})
		require.NoError(t, err)
		return map[string]string{
			"clusters/dev/kustomization.yaml": "resources: [db.enc.yaml]\nsecretGenerator:\n- name: app\n  envs: [app.env]\ngeneratorOptions: {disableNameSuffixHash: true}\n",
			"clusters/dev/db.enc.yaml":        string(secret),
			"clusters/dev/app.env":            string(dotenv),
		}
	}
	repo := gittest.NewServer(t).NewRepo(t, "sops")
	first := repo.Commit(t, "v1", files("1"))
	base := []string{"--repo", repo.URL, "--path", "clusters/dev", "--namespace", ns, "--kubeconfig", env.Kubeconfig}

	without := converge(t, append([]string{"apply"}, base...)...)
	assert.Equal(t, ExitFailed, without.code)
	assert.Contains(t, without.stderr, "SOPS-encrypted")
	require.Error(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "db"}, &corev1.Secret{}), "ciphertext is never applied")

	keys := append([]string{"--age-key-file", keyFile}, base...)
	outputs := []result{without}
	outputs = append(outputs, converge(t, append([]string{"apply"}, keys...)...))
	require.Equal(t, ExitOK, outputs[len(outputs)-1].code)
	var db, app corev1.Secret
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "db"}, &db))
	assert.Equal(t, "MARKER-cli-1", string(db.Data["password"]))
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, &app))
	assert.Equal(t, "MARKER-env-1", string(app.Data["TOKEN"]))

	repo.Commit(t, "v2", files("2"))
	plan := converge(t, append([]string{"plan"}, keys...)...)
	outputs = append(outputs, plan, converge(t, append([]string{"plan", "-o", "json"}, keys...)...),
		converge(t, "diff", "--repo", repo.URL, "--base", first, "--head", "main", "--age-key-file", keyFile),
		converge(t, "diff", "--repo", repo.URL, "--base", first, "--head", "main", "--age-key-file", keyFile, "-o", "json"),
		converge(t, append([]string{"apply"}, keys...)...))
	assert.Contains(t, plan.stdout, "~ update   Secret/"+ns+"/db")
	assert.Contains(t, plan.stdout, "~ update   Secret/"+ns+"/app")

	wrongID, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	wrongFile := filepath.Join(t.TempDir(), "wrong.agekey")
	require.NoError(t, os.WriteFile(wrongFile, []byte(wrongID.String()), 0o600))
	wrong := converge(t, append([]string{"apply", "--age-key-file", wrongFile}, base...)...)
	assert.Equal(t, ExitFailed, wrong.code)
	outputs = append(outputs, wrong)

	bad := converge(t, append([]string{"plan", "--age-key-file", keyFile + ".missing"}, base...)...)
	assert.Equal(t, ExitUsage, bad.code)
	require.NoError(t, os.WriteFile(wrongFile, []byte("AGE-SECRET-KEY-1NOTAKEY"), 0o600))
	bad = converge(t, append([]string{"plan", "--age-key-file", wrongFile}, base...)...)
	assert.Equal(t, ExitUsage, bad.code)
	assert.NotContains(t, bad.stderr, "NOTAKEY")

	for i, r := range outputs {
		for _, v := range []string{"MARKER-cli-", "MARKER-env-"} {
			assert.NotContains(t, r.stdout+r.stderr, v, "run %d shows a secret value", i)
		}
	}
}

// runStdin runs the command with stdin.
func runStdin(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// seal and unseal round-trip a Secret through a certificate and its key,
// without a cluster.
func TestSealAndUnseal(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sealed-secret"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	keyFile := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))

	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\n  namespace: backend\nstringData:\n  password: MARKER-seal\n"
	sealedOut := runStdin(t, []byte(secret), "seal", "--cert", cert)
	require.Equal(t, ExitOK, sealedOut.code, sealedOut.stderr)
	assert.Contains(t, sealedOut.stdout, "kind: SealedSecret")
	assert.NotContains(t, sealedOut.stdout, "MARKER-seal")

	unsealed := runStdin(t, []byte(sealedOut.stdout), "unseal", "--key", keyFile)
	require.Equal(t, ExitOK, unsealed.code, unsealed.stderr)
	assert.Contains(t, unsealed.stdout, "name: db-credentials")
	assert.Contains(t, unsealed.stdout, "password: TUFSS0VSLXNlYWw=") // base64 of MARKER-seal

	// Strict scope: the same ciphertext under another name does not unseal.
	renamed := strings.Replace(sealedOut.stdout, "name: db-credentials", "name: other", -1)
	refused := runStdin(t, []byte(renamed), "unseal", "--key", keyFile)
	assert.Equal(t, ExitFailed, refused.code)
	assert.Contains(t, refused.stderr, "backend/other")

	cw := runStdin(t, []byte(secret), "seal", "--cert", cert, "--scope", "cluster-wide")
	require.Equal(t, ExitOK, cw.code, cw.stderr)
	assert.Contains(t, cw.stdout, "sealedsecrets.bitnami.com/cluster-wide")

	for name, tc := range map[string]struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		"no cert":     {secret, []string{"seal"}, ExitUsage, "--cert is required"},
		"bad scope":   {secret, []string{"seal", "--cert", cert, "--scope", "galaxy"}, ExitUsage, "--scope"},
		"not a cert":  {secret, []string{"seal", "--cert", keyFile + "x"}, ExitUsage, "--cert"},
		"empty stdin": {"", []string{"seal", "--cert", cert}, ExitUsage, "stdin holds no object"},
		"no key":      {sealedOut.stdout, []string{"unseal"}, ExitUsage, "--key is required"},
		"wrong input": {secret, []string{"unseal", "--key", keyFile}, ExitFailed, "stdin"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runStdin(t, []byte(tc.stdin), tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stdout+r.stderr, "MARKER-seal")
		})
	}
}
