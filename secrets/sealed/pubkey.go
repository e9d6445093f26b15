package sealed

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// ErrNoPublicKey: the PEM input holds no certificate or public key.
var ErrNoPublicKey = errors.New("no CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY PEM block")

// ParsePublicKey returns the RSA public key of the first certificate or
// public key in pemData: a CERTIFICATE block (what the controller's
// /v1/cert.pem serves and kubeseal --cert reads), a PUBLIC KEY (PKIX) or
// an RSA PUBLIC KEY (PKCS #1) block. Other blocks before it are skipped.
// Like kubeseal, it refuses a certificate that has expired, and any key
// that is not RSA.
func ParsePublicKey(pemData []byte) (*rsa.PublicKey, error) {
	rest := pemData
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("parse sealing certificate: %w", ErrNoPublicKey)
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse sealing certificate: %w", err)
			}
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("parse sealing certificate: the key is %T, not RSA", cert.PublicKey)
			}
			if time.Now().After(cert.NotAfter) {
				return nil, fmt.Errorf("parse sealing certificate: it expired on %s", cert.NotAfter.Format(time.DateOnly))
			}
			return pub, nil
		case "PUBLIC KEY":
			key, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse sealing public key: %w", err)
			}
			pub, ok := key.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("parse sealing public key: the key is %T, not RSA", key)
			}
			return pub, nil
		case "RSA PUBLIC KEY":
			pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse sealing public key: %w", err)
			}
			return pub, nil
		}
	}
}
