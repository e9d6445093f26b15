package git

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// VerifyMode says which signatures a Fetch requires.
type VerifyMode string

// Verification modes.
const (
	// VerifyHead requires the fetched commit to be signed.
	VerifyHead VerifyMode = "HEAD"
	// VerifyTag requires the annotated tag the reference names to be signed.
	VerifyTag VerifyMode = "Tag"
	// VerifyTagAndHead requires both.
	VerifyTagAndHead VerifyMode = "TagAndHEAD"
)

// String returns the mode's name.
func (m VerifyMode) String() string { return string(m) }

// ErrUnverified reports a commit or tag without a valid signature by one
// of the trusted keys.
var ErrUnverified = errors.New("signature not verified")

// VerificationError reports what failed verification.
type VerificationError struct {
	Object string // "commit <hash>" or "tag <name>"
	Reason string
}

func (e *VerificationError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Object, ErrUnverified, e.Reason)
}

// Unwrap returns [ErrUnverified].
func (e *VerificationError) Unwrap() error { return ErrUnverified }

// WithVerification requires signatures on the fetched commit, tag or both,
// made by one of keys: armored OpenPGP public keys (for signatures made by
// git with gpg) or SSH public keys in authorized_keys format (for
// signatures made by git with ssh-keygen -Y sign, namespace "git"). A
// commit or tag signed any other way fails verification.
func WithVerification(mode VerifyMode, keys ...string) Option {
	return func(o *options) { o.verify, o.keyText = mode, keys }
}

func (s *Source) verify(t target, commit plumbing.Hash) error {
	mode := s.opts.verify
	if mode == "" {
		return nil
	}
	if mode == VerifyTag || mode == VerifyTagAndHead {
		obj, err := s.sto.EncodedObject(plumbing.AnyObject, t.remote)
		if err != nil || obj.Type() != plumbing.TagObject {
			return &VerificationError{Object: "tag " + t.label, Reason: "not an annotated tag"}
		}
		tag, err := object.DecodeTag(s.sto, obj)
		if err != nil {
			return &VerificationError{Object: "tag " + t.label, Reason: "does not decode"}
		}
		if err := s.check(tag.PGPSignature, func(k string) error { _, err := tag.Verify(k); return err }, tag.EncodeWithoutSignature); err != nil {
			return &VerificationError{Object: "tag " + t.label, Reason: err.Error()}
		}
	}
	if mode == VerifyHead || mode == VerifyTagAndHead {
		c, err := object.GetCommit(s.sto, commit)
		if err != nil {
			return err
		}
		if err := s.check(c.PGPSignature, func(k string) error { _, err := c.Verify(k); return err }, c.EncodeWithoutSignature); err != nil {
			return &VerificationError{Object: "commit " + commit.String(), Reason: err.Error()}
		}
	}
	return nil
}

func (s *Source) check(signature string, verifyPGP func(key string) error, encode func(plumbing.EncodedObject) error) error {
	switch {
	case signature == "":
		return errors.New("not signed")
	case strings.Contains(signature, "BEGIN SSH SIGNATURE"):
		obj := &plumbing.MemoryObject{}
		if err := encode(obj); err != nil {
			return err
		}
		r, err := obj.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		message, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return verifySSH(signature, message, s.opts.keys.ssh)
	case strings.Contains(signature, "BEGIN PGP SIGNATURE"):
		for _, k := range s.opts.keys.pgp {
			if verifyPGP(k) == nil {
				return nil
			}
		}
		return errors.New("no trusted key made the signature")
	}
	return errors.New("neither an OpenPGP nor an SSH signature")
}
