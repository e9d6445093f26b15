package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

// trustedKeys splits the host's keys into an OpenPGP key ring per key and
// SSH public keys (authorized_keys lines).
type trustedKeys struct {
	pgp []string
	ssh []ssh.PublicKey
}

func parseKeys(keys []string) (trustedKeys, error) {
	var out trustedKeys
	for _, k := range keys {
		if strings.Contains(k, "BEGIN PGP PUBLIC KEY BLOCK") {
			out.pgp = append(out.pgp, k)
			continue
		}
		rest := []byte(k)
		found := false
		for len(bytes.TrimSpace(rest)) > 0 {
			pub, _, _, r, err := ssh.ParseAuthorizedKey(rest)
			if err != nil {
				return out, errors.New("a verification key is neither an armored OpenPGP key nor an SSH public key")
			}
			out.ssh = append(out.ssh, pub)
			found = true
			rest = r
		}
		if !found {
			return out, errors.New("an empty verification key")
		}
	}
	return out, nil
}

// sshSignature is the blob of an SSH signature (PROTOCOL.sshsig) after its
// "SSHSIG" magic.
type sshSignature struct {
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Signature     []byte
}

// verifySSH checks an armored SSH signature over message, made in the
// "git" namespace by one of keys.
func verifySSH(armored string, message []byte, keys []ssh.PublicKey) error {
	block, _ := pem.Decode([]byte(strings.TrimSpace(armored)))
	if block == nil || block.Type != "SSH SIGNATURE" {
		return errors.New("malformed SSH signature")
	}
	blob, ok := bytes.CutPrefix(block.Bytes, []byte("SSHSIG"))
	if !ok {
		return errors.New("malformed SSH signature")
	}
	var sig sshSignature
	if err := ssh.Unmarshal(blob, &sig); err != nil || sig.Version != 1 {
		return errors.New("malformed SSH signature")
	}
	if sig.Namespace != "git" {
		return errors.New("SSH signature is not in the git namespace")
	}
	pub, err := ssh.ParsePublicKey(sig.PublicKey)
	if err != nil {
		return errors.New("malformed SSH signature key")
	}
	trusted := false
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), pub.Marshal()) {
			trusted = true
			break
		}
	}
	if !trusted {
		return errors.New("no trusted key made the signature")
	}
	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return errors.New("unsupported SSH signature hash")
	}
	h.Write(message)
	signed := append([]byte("SSHSIG"), ssh.Marshal(struct {
		Namespace, Reserved, HashAlgorithm string
		Hash                               []byte
	}{sig.Namespace, sig.Reserved, sig.HashAlgorithm, h.Sum(nil)})...)
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return errors.New("malformed SSH signature")
	}
	if err := pub.Verify(signed, &s); err != nil {
		return errors.New("SSH signature does not match")
	}
	return nil
}
