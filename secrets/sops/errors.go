package sops

import (
	"errors"
	"strings"
)

// Sentinel errors a caller can branch on with errors.Is. Decrypt and
// Encrypt return them wrapped in an [*Error] that names the document.
var (
	// ErrMACMismatch: the document's MAC is missing, does not decrypt, or
	// does not match its values: it was changed after encryption.
	ErrMACMismatch = errors.New("MAC mismatch")
	// ErrTooLarge: the document exceeds the size bound.
	ErrTooLarge = errors.New("document exceeds the size limit")
	// ErrNoKey: no key handed to the Decryptor recovers the data key.
	ErrNoKey = errors.New("no key decrypts the data key")
	// ErrInvalidKey: a key handed to NewDecryptor or to a Rule is malformed.
	ErrInvalidKey = errors.New("invalid key")
	// ErrNoRule: no creation rule of a .sops.yaml matches the path.
	ErrNoRule = errors.New("no matching creation rule")
	// ErrCiphertextLeft: an object still holds ciphertext or sops metadata
	// after decryption.
	ErrCiphertextLeft = errors.New("ciphertext left after decryption")
)

// Error is a failure to decrypt or encrypt one document. Name is the
// document's name as the caller gave it (a path, an object's kind and
// name). Its message never holds a secret value or key material.
type Error struct {
	Op   string // "decrypt" or "encrypt"
	Name string
	Err  error
}

func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "document"
	}
	return e.Op + " " + name + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KeyError says why the data key could not be recovered: for each master
// key, why it did not decrypt. It wraps ErrNoKey.
type KeyError struct {
	Err error
}

func (e *KeyError) Error() string {
	if e.Err == nil {
		return ErrNoKey.Error()
	}
	return ErrNoKey.Error() + " (" + e.Err.Error() + ")"
}

// Unwrap returns ErrNoKey and the cause.
func (e *KeyError) Unwrap() []error { return []error{ErrNoKey, e.Err} }

// joinErrs joins errors on one line.
func joinErrs(errs ...error) error {
	var parts []string
	for _, e := range errs {
		if e != nil {
			parts = append(parts, e.Error())
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return errors.New(strings.Join(parts, "; "))
}
