package promote

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"golang.org/x/crypto/ssh"
)

// Signer signs a commit. Sign reads the commit as git encodes it without
// its signature and returns the armored signature git stores in the
// commit's gpgsig header: an OpenPGP detached signature ("-----BEGIN PGP
// SIGNATURE-----") or an SSH one ("-----BEGIN SSH SIGNATURE-----", in
// the "git" namespace). It is go-git's Signer; [NewOpenPGPSigner] and
// [NewSSHSigner] make signatures that `git verify-commit` and source/git's
// WithVerification accept, and a [SignerFunc] can sign with a key held
// elsewhere (an agent, a KMS). Implementations must be safe for
// concurrent use if the Publisher is.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// SignerFunc adapts a function to a [Signer].
type SignerFunc func(message io.Reader) ([]byte, error)

// Sign calls f.
func (f SignerFunc) Sign(message io.Reader) ([]byte, error) { return f(message) }

var (
	_ Signer     = SignerFunc(nil)
	_ git.Signer = Signer(nil)
)

// ErrInvalidSigningKey: a signing key does not parse, is locked and the
// passphrase does not open it, or cannot sign. The error never carries
// key material or the passphrase.
var ErrInvalidSigningKey = errors.New("invalid signing key")

// openPGPSigner signs with an unlocked OpenPGP entity.
type openPGPSigner struct{ entity *openpgp.Entity }

// NewOpenPGPSigner returns the Signer of an armored OpenPGP private key
// (what `gpg --armor --export-secret-keys` writes): the key ring's first
// entity with a private key, unlocked with passphrase when it is
// protected. Signatures are made by its signing key (a signing subkey when
// it has one), as gpg would, and git verifies them with gpg holding the
// public key.
func NewOpenPGPSigner(armoredKey, passphrase []byte) (Signer, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armoredKey))
	if err != nil {
		return nil, fmt.Errorf("%w: not an armored OpenPGP key", ErrInvalidSigningKey)
	}
	for _, e := range ring {
		if e.PrivateKey == nil {
			continue
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("%w: the passphrase does not unlock the OpenPGP key", ErrInvalidSigningKey)
		}
		if _, ok := e.SigningKey(time.Now()); !ok {
			return nil, fmt.Errorf("%w: the OpenPGP key has no valid signing key (expired or revoked?)", ErrInvalidSigningKey)
		}
		return openPGPSigner{entity: e}, nil
	}
	return nil, fmt.Errorf("%w: the OpenPGP key ring holds no private key", ErrInvalidSigningKey)
}

func (s openPGPSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, message, &packet.Config{}); err != nil {
		return nil, fmt.Errorf("OpenPGP signature: %w", err)
	}
	return b.Bytes(), nil
}

// sshNamespace is the namespace git signs commits in (PROTOCOL.sshsig).
const sshNamespace = "git"

// sshSigner makes SSH signatures (ssh-keygen -Y sign -n git).
type sshSigner struct{ key ssh.Signer }

// NewSSHSigner returns the Signer of an SSH private key in OpenSSH or PEM
// format (what ssh-keygen writes), unlocked with passphrase when it is
// protected. Its signatures are what `ssh-keygen -Y sign -n git` makes,
// with SHA-512, which git verifies with gpg.format=ssh and an allowed
// signers file. Ed25519, ECDSA and RSA keys (signing with rsa-sha2-512)
// are supported.
func NewSSHSigner(privateKey, passphrase []byte) (Signer, error) {
	key, err := ssh.ParsePrivateKey(privateKey)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		key, err = ssh.ParsePrivateKeyWithPassphrase(privateKey, passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the SSH private key does not parse or the passphrase does not unlock it", ErrInvalidSigningKey)
	}
	return SSHSignerFrom(key)
}

// SSHSignerFrom returns the Signer of an ssh.Signer, a key held by an
// agent say. An RSA key must be an ssh.AlgorithmSigner (OpenSSH refuses
// SHA-1 RSA signatures); certificates are refused.
func SSHSignerFrom(key ssh.Signer) (Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no SSH key", ErrInvalidSigningKey)
	}
	switch t := key.PublicKey().Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
	case ssh.KeyAlgoRSA:
		if _, ok := key.(ssh.AlgorithmSigner); !ok {
			return nil, fmt.Errorf("%w: an RSA key must be able to sign with rsa-sha2-512", ErrInvalidSigningKey)
		}
	default:
		return nil, fmt.Errorf("%w: SSH key type %s is not supported", ErrInvalidSigningKey, t)
	}
	return sshSigner{key: key}, nil
}

func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	h := sha512.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, err
	}
	// What is signed (PROTOCOL.sshsig): the magic, then the namespace,
	// a reserved string, the hash algorithm and the message's hash.
	signed := append([]byte("SSHSIG"), ssh.Marshal(struct {
		Namespace, Reserved, HashAlgorithm string
		Hash                               []byte
	}{sshNamespace, "", "sha512", h.Sum(nil)})...)
	var sig *ssh.Signature
	var err error
	if s.key.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = s.key.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, signed, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.key.Sign(rand.Reader, signed)
	}
	if err != nil {
		return nil, fmt.Errorf("SSH signature: %w", err)
	}
	blob := append([]byte("SSHSIG"), ssh.Marshal(struct {
		Version       uint32
		PublicKey     []byte
		Namespace     string
		Reserved      string
		HashAlgorithm string
		Signature     []byte
	}{1, s.key.PublicKey().Marshal(), sshNamespace, "", "sha512", ssh.Marshal(sig)})...)
	return armorSSH(blob), nil
}

// armorSSH armors a signature blob as ssh-keygen does: base64 in lines of
// 70 characters between BEGIN and END lines.
func armorSSH(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		b.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	b.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return b.Bytes()
}
