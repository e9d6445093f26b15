package sealed

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/converge-dev/converge/object"
)

// KeyLabel is the label the controller puts on its sealing key Secrets,
// with the value "active"; kubectl get secret -l KeyLabel exports them.
const KeyLabel = "sealedsecrets.bitnami.com/sealed-secrets-key"

// ErrNoPrivateKey: an input to [ParsePrivateKeys] holds no private key.
var ErrNoPrivateKey = errors.New("no RSA private key")

// Keys is a set of sealing key pairs, as the controller keeps them after
// rotations: the newest seals ([Keys.Public]), every one unseals. A Keys
// is immutable and safe for concurrent use. The zero Keys holds no key
// and unseals nothing; build one with [ParsePrivateKeys] or [NewKeys].
type Keys struct {
	keys []*key // oldest first
}

type key struct {
	priv        *rsa.PrivateKey
	fingerprint string
	order       time.Time // the certificate's NotBefore, as the controller orders keys
}

// NewKeys returns a set of keys, the last one the newest.
func NewKeys(keys ...*rsa.PrivateKey) (*Keys, error) {
	k := &Keys{}
	for i, priv := range keys {
		if priv == nil {
			return nil, fmt.Errorf("key %d is nil", i+1)
		}
		if err := k.add(priv, time.Time{}); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
	}
	if len(k.keys) == 0 {
		return nil, ErrNoPrivateKey
	}
	return k, nil
}

// ParsePrivateKeys reads the sealing keys in data, each element one file:
//
//   - PEM: RSA PRIVATE KEY (PKCS #1) and PRIVATE KEY (PKCS #8) blocks,
//     with optional CERTIFICATE blocks that order them;
//   - YAML or JSON: a Secret, a stream of Secrets or a v1 List of them
//     with a tls.key (and tls.crt), as the controller writes its keys and
//     kubectl get secret -n NS -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml
//     exports them; what kubeseal --recovery-private-key reads.
//
// The newest key is the one whose certificate has the latest NotBefore,
// as the controller picks it; keys without a certificate are older than
// any with one, and among equals the one given later is newer. A key
// given twice counts once. Errors name the input (1-based) and the
// Secret, never key material.
func ParsePrivateKeys(data ...[]byte) (*Keys, error) {
	k := &Keys{}
	for i, d := range data {
		if err := k.parse(d); err != nil {
			return nil, fmt.Errorf("private keys input %d: %w", i+1, err)
		}
	}
	if len(k.keys) == 0 {
		return nil, ErrNoPrivateKey
	}
	return k, nil
}

func (k *Keys) parse(data []byte) error {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return k.parsePEM(data)
	}
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	if err != nil {
		return fmt.Errorf("neither PEM nor a YAML/JSON Secret: %w", err)
	}
	if len(objs) == 0 {
		return ErrNoPrivateKey
	}
	for _, obj := range objs {
		ref := obj.GetNamespace() + "/" + obj.GetName()
		if obj.GetAPIVersion() != "v1" || obj.GetKind() != "Secret" {
			return fmt.Errorf("%s %s is not a v1 Secret", obj.GetKind(), ref)
		}
		data, _ := obj.Object["data"].(map[string]any)
		tlsKey, err := secretBytes(data, corev1.TLSPrivateKeyKey)
		if err != nil {
			return fmt.Errorf("Secret %s: %w", ref, err)
		}
		tlsCrt, err := secretBytes(data, corev1.TLSCertKey)
		if err != nil && !errors.Is(err, errMissing) {
			return fmt.Errorf("Secret %s: %w", ref, err)
		}
		if err := k.parsePEM(slices.Concat(tlsKey, []byte("\n"), tlsCrt)); err != nil {
			return fmt.Errorf("Secret %s: %w", ref, err)
		}
	}
	return nil
}

var errMissing = errors.New("missing")

// secretBytes returns the base64-decoded value data[name].
func secretBytes(data map[string]any, name string) ([]byte, error) {
	v, ok := data[name]
	if !ok {
		return nil, fmt.Errorf("data key %q: %w", name, errMissing)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("data key %q is not a string", name)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("data key %q is not valid base64", name)
	}
	return b, nil
}

// parsePEM adds the private keys of data, ordered by the certificates in
// it that match them.
func (k *Keys) parsePEM(data []byte) error {
	var privs []*rsa.PrivateKey
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, ok := block.Headers["Proc-Type"]; ok {
			return fmt.Errorf("PEM block %d: encrypted PEM is not supported", n)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return fmt.Errorf("PEM block %d: not a PKCS #1 RSA private key", n)
			}
			privs = append(privs, priv)
		case "PRIVATE KEY":
			anyKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return fmt.Errorf("PEM block %d: not a PKCS #8 private key", n)
			}
			priv, ok := anyKey.(*rsa.PrivateKey)
			if !ok {
				return fmt.Errorf("PEM block %d: the key is %T, not RSA", n, anyKey)
			}
			privs = append(privs, priv)
		case "CERTIFICATE":
			if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
				certs = append(certs, cert)
			}
		}
	}
	if len(privs) == 0 {
		return ErrNoPrivateKey
	}
	for _, priv := range privs {
		var order time.Time
		for _, cert := range certs {
			if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&priv.PublicKey) {
				order = cert.NotBefore
				break
			}
		}
		if err := k.add(priv, order); err != nil {
			return err
		}
	}
	return nil
}

func (k *Keys) add(priv *rsa.PrivateKey, order time.Time) error {
	if err := priv.Validate(); err != nil {
		return fmt.Errorf("invalid RSA private key: %w", err)
	}
	priv.Precompute()
	fp := Fingerprint(&priv.PublicKey)
	k.keys = slices.DeleteFunc(k.keys, func(x *key) bool { return x.fingerprint == fp })
	nk := &key{priv: priv, fingerprint: fp, order: order}
	// Insert after every key that is not newer: ties go to the later one.
	i := len(k.keys)
	for i > 0 && k.keys[i-1].order.After(order) {
		i--
	}
	k.keys = slices.Insert(k.keys, i, nk)
	return nil
}

// Len returns the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// Public returns the newest key's public key, the one to seal with; nil
// for an empty Keys.
func (k *Keys) Public() *rsa.PublicKey {
	if len(k.keys) == 0 {
		return nil
	}
	return &k.keys[len(k.keys)-1].priv.PublicKey
}

// Fingerprints returns the keys' fingerprints ([Fingerprint]), newest
// first.
func (k *Keys) Fingerprints() []string {
	out := make([]string, 0, len(k.keys))
	for i := len(k.keys) - 1; i >= 0; i-- {
		out = append(out, k.keys[i].fingerprint)
	}
	return out
}

// decrypt tries every key, newest first.
func (k *Keys) decrypt(ciphertext, label []byte) ([]byte, error) {
	for i := len(k.keys) - 1; i >= 0; i-- {
		if plaintext, err := hybridDecrypt(k.keys[i].priv, ciphertext, label); err == nil {
			return plaintext, nil
		}
	}
	return nil, ErrNoKeyDecrypts
}
