package sops

import (
	"context"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
)

// DefaultMaxSize bounds the documents a Decryptor reads unless
// [WithMaxSize] says otherwise.
const DefaultMaxSize = 4 << 20

// Decryptor decrypts SOPS documents with the keys handed to
// [NewDecryptor], and only those: it never reads environment variables,
// home directories, files or a gpg agent. A Decryptor is immutable and
// safe for concurrent use.
type Decryptor struct {
	ageIDs     []age.Identity
	pgpKeys    openpgp.EntityList
	keyService KeyService
	skipMAC    bool
	maxSize    int64
	errs       []error
}

// Option configures a [Decryptor].
type Option func(*Decryptor)

// WithAgeKeys adds age identities: age-keygen output (any number of
// AGE-SECRET-KEY-1 and post-quantum AGE-SECRET-KEY-PQ-1 lines, "#"
// comments, blank lines), or an unencrypted OpenSSH ed25519 or RSA
// private key, for documents encrypted to its ssh- public key. A
// malformed or truncated key makes NewDecryptor fail.
func WithAgeKeys(data []byte) Option {
	return func(d *Decryptor) {
		ids, err := parseAgeIdentities(data)
		if err != nil {
			d.errs = append(d.errs, fmt.Errorf("%w: age keys: %w", ErrInvalidKey, err))
			return
		}
		d.ageIDs = append(d.ageIDs, ids...)
	}
}

// WithPGPKeys adds armored OpenPGP private keys (one or more blocks,
// without passphrases). A malformed or passphrase-protected key makes
// NewDecryptor fail.
func WithPGPKeys(armored []byte) Option {
	return func(d *Decryptor) {
		keys, err := parsePGPKeys(armored)
		if err != nil {
			d.errs = append(d.errs, fmt.Errorf("%w: OpenPGP keys: %w", ErrInvalidKey, err))
			return
		}
		d.pgpKeys = append(d.pgpKeys, keys...)
	}
}

// WithKeyService sets the service that decrypts data keys held by master
// keys other than age and OpenPGP (AWS KMS, GCP KMS, Azure Key Vault,
// HashiCorp Vault transit, HuaweiCloud KMS). Without one, such keys are
// skipped.
func WithKeyService(s KeyService) Option {
	return func(d *Decryptor) { d.keyService = s }
}

// WithoutMACVerification turns off the MAC check. This is dangerous:
// anyone who can write the file can then change, reorder or drop its
// values, plaintext and ciphertext alike, and the Decryptor returns the
// result as if it were the author's. Use it only to recover a file whose
// MAC is known to be lost, never on a reconcile path.
func WithoutMACVerification() Option {
	return func(d *Decryptor) { d.skipMAC = true }
}

// WithMaxSize bounds the size of a document the Decryptor reads
// (DefaultMaxSize unless set; n <= 0 keeps the default).
func WithMaxSize(n int64) Option {
	return func(d *Decryptor) {
		if n > 0 {
			d.maxSize = n
		}
	}
}

// NewDecryptor returns a Decryptor holding the given keys. It fails, with
// ErrInvalidKey and no key material in the message, when a key is
// malformed, truncated or protected by a passphrase.
func NewDecryptor(opts ...Option) (*Decryptor, error) {
	d := &Decryptor{maxSize: DefaultMaxSize}
	for _, o := range opts {
		o(d)
	}
	if err := joinErrs(d.errs...); err != nil {
		return nil, fmt.Errorf("new sops decryptor: %w", errors.Join(d.errs...))
	}
	d.errs = nil
	return d, nil
}

// Decrypt decrypts data, a SOPS document of format f, and returns the
// plaintext document as `sops -d` writes it, without the sops metadata.
// It verifies the document's MAC unless the Decryptor was made with
// WithoutMACVerification. name names the document in errors, which are
// *Error values and never contain a secret.
func (d *Decryptor) Decrypt(ctx context.Context, name string, data []byte, f Format) ([]byte, error) {
	return d.decrypt(ctx, name, data, f, nil)
}

// decrypt is Decrypt, calling record with each value it decrypts.
func (d *Decryptor) decrypt(ctx context.Context, name string, data []byte, f Format, record func(string)) ([]byte, error) {
	docs, err := d.decryptTrees(ctx, data, f, record)
	if err != nil {
		return nil, &Error{Op: "decrypt", Name: name, Err: err}
	}
	out, err := emitPlain(docs, f)
	if err != nil {
		return nil, &Error{Op: "decrypt", Name: name, Err: err}
	}
	return out, nil
}

func (d *Decryptor) decryptTrees(ctx context.Context, data []byte, f Format, record func(string)) ([]branch, error) {
	if err := f.valid(); err != nil {
		return nil, err
	}
	if int64(len(data)) > d.maxSize {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, len(data), d.maxSize)
	}
	docs, mdTree, err := loadEncrypted(data, f)
	if err != nil {
		return nil, err
	}
	md, err := parseMetadata(mdTree)
	if err != nil {
		return nil, err
	}
	key, err := d.dataKey(ctx, md)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	mac, err := decryptDocs(docs, md, key, record)
	if err != nil {
		return nil, err
	}
	if !d.skipMAC {
		if err := verifyMAC(md, key, mac); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// decryptDocs decrypts every value that the rules say is ciphertext, in
// place, and returns the MAC computed over the plaintext.
func decryptDocs(docs []branch, md *metadata, key []byte, record func(string)) (string, error) {
	h := sha512.New()
	r := &md.rules
	if r.macOnlyEncrypted {
		h.Write(macOnlyEncryptedInit)
	}
	fn := func(v any, path []string, comments [][]string) (any, error) {
		c, isComment := v.(comment)
		enc := r.encrypted(path, comments, isComment)
		out := v
		if enc {
			aad := strings.Join(path, ":") + ":"
			switch {
			case isComment:
				p, err := decryptValue(c.value, key, aad)
				switch {
				case err == nil:
					// As sops: a decrypted comment is no longer inline.
					out = p
				case strings.Contains(c.value, encPrefix):
					// Stricter than sops, which keeps it: ciphertext that
					// does not authenticate is tampering.
					return nil, fmt.Errorf("comment at %s: %w", pathString(path), errAuth)
				}
				// A plaintext comment stays as it is, as sops keeps
				// comments written before it encrypted them.
			default:
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("value at %s should be encrypted but is a %T", pathString(path), v)
				}
				p, err := decryptValue(s, key, aad)
				if err != nil {
					return nil, fmt.Errorf("value at %s: %w", pathString(path), err)
				}
				if _, ok := p.(comment); ok {
					return nil, fmt.Errorf("value at %s: %w", pathString(path), errAuth)
				}
				out = p
				if record != nil {
					if b, err := macBytes(p); err == nil {
						record(string(b))
					}
				}
			}
		}
		if !r.macOnlyEncrypted || enc {
			if !isComment {
				b, err := macBytes(out)
				if err != nil {
					return nil, fmt.Errorf("value at %s: %w", pathString(path), err)
				}
				h.Write(b)
			}
		}
		return out, nil
	}
	for i, b := range docs {
		nb, err := walkBranch(b, nil, nil, 0, fn)
		if err != nil {
			return "", err
		}
		docs[i] = nb
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

func verifyMAC(md *metadata, key []byte, computed string) error {
	if md.mac == "" {
		return fmt.Errorf("%w: the document has no MAC", ErrMACMismatch)
	}
	stored, err := decryptValue(md.mac, key, md.lastModified.Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("%w: the MAC does not decrypt with this document's data key and lastmodified", ErrMACMismatch)
	}
	s, ok := stored.(string)
	if !ok || subtle.ConstantTimeCompare([]byte(s), []byte(computed)) != 1 {
		return fmt.Errorf("%w: the document's values changed after encryption", ErrMACMismatch)
	}
	return nil
}
