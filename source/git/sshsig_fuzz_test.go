package git

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzVerifySSH feeds untrusted signature text to the SSH signature
// parser: it must never panic, and never accept a signature over a
// message it was not made for.
func FuzzVerifySSH(f *testing.F) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	signer, _ := ssh.NewSignerFromKey(priv)
	sig, _ := signer.Sign(rand.Reader, []byte("x"))
	blob := append([]byte("SSHSIG"), ssh.Marshal(sshSignature{
		Version: 1, PublicKey: sshPub.Marshal(), Namespace: "git", HashAlgorithm: "sha512", Signature: ssh.Marshal(sig),
	})...)
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "SSH SIGNATURE", Bytes: blob})), []byte("message"))
	f.Add("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", []byte(""))
	f.Add("", []byte("m"))
	f.Fuzz(func(t *testing.T, armored string, message []byte) {
		if verifySSH(armored, message, []ssh.PublicKey{sshPub}) == nil {
			t.Fatalf("accepted a signature the test key never made over %q", message)
		}
	})
}
