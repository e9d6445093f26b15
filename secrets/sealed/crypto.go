package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// sessionKeyBytes is the AES-256 key each value is sealed with.
const sessionKeyBytes = 32

// errTooShort: the ciphertext cannot hold what its length prefix says.
var errTooShort = errors.New("ciphertext too short")

// hybridEncrypt seals plaintext as Sealed Secrets does: a fresh AES-256
// key wrapped by RSA-OAEP (SHA-256, label), then
//
//	uint16 big-endian len(rsa) || rsa ciphertext || AES-GCM(plaintext)
//
// with an all-zero nonce, safe because the key seals one value only.
func hybridEncrypt(rnd io.Reader, pub *rsa.PublicKey, plaintext, label []byte) ([]byte, error) {
	sessionKey := make([]byte, sessionKeyBytes)
	if _, err := io.ReadFull(rnd, sessionKey); err != nil {
		return nil, fmt.Errorf("read random session key: %w", err)
	}
	gcm, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rnd, pub, sessionKey, label)
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	if len(wrapped) > 0xffff {
		return nil, errors.New("wrap session key: RSA key too large")
	}
	out := make([]byte, 2, 2+len(wrapped)+len(plaintext)+gcm.Overhead())
	binary.BigEndian.PutUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	return gcm.Seal(out, make([]byte, gcm.NonceSize()), plaintext, nil), nil
}

// hybridDecrypt opens what hybridEncrypt sealed with priv's public key and
// the same label. Its errors never contain any of ciphertext.
func hybridDecrypt(priv *rsa.PrivateKey, ciphertext, label []byte) ([]byte, error) {
	if len(ciphertext) < 2 {
		return nil, errTooShort
	}
	n := int(binary.BigEndian.Uint16(ciphertext))
	if len(ciphertext) < 2+n {
		return nil, errTooShort
	}
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ciphertext[2:2+n], label)
	if err != nil {
		return nil, errors.New("RSA-OAEP decryption failed")
	}
	gcm, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	plaintext, err := gcm.Open(nil, make([]byte, gcm.NonceSize()), ciphertext[2+n:], nil)
	if err != nil {
		return nil, errors.New("AES-GCM authentication failed")
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != sessionKeyBytes {
		return nil, fmt.Errorf("session key is %d bytes, want %d", len(key), sessionKeyBytes)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Fingerprint returns the fingerprint the controller and kubeseal give
// pub: the SHA-256 of its SSH wire encoding, as ssh-keygen -l prints it
// ("SHA256:" and unpadded base64).
func Fingerprint(pub *rsa.PublicKey) string {
	if pub == nil || pub.N == nil {
		return ""
	}
	// string "ssh-rsa" || mpint e || mpint n (RFC 4253 section 6.6).
	var wire []byte
	putString := func(b []byte) {
		wire = binary.BigEndian.AppendUint32(wire, uint32(len(b)))
		wire = append(wire, b...)
	}
	putMPInt := func(x *big.Int) {
		b := x.Bytes()
		if len(b) > 0 && b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		putString(b)
	}
	putString([]byte("ssh-rsa"))
	putMPInt(big.NewInt(int64(pub.E)))
	putMPInt(pub.N)
	sum := sha256.Sum256(wire)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}
