package sops

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Version is the sops version converge writes into the metadata of the
// documents it encrypts; converge's format is byte-compatible with it.
const Version = "3.13.2"

// KeyGroup is one group of master keys: any one of them decrypts the
// group's share of the data key.
type KeyGroup struct {
	// AgeRecipients are age public keys (age1…, or age1pq1… hybrid), or
	// OpenSSH public keys ("ssh-ed25519 AAAA…", "ssh-rsa AAAA…") as age
	// and sops take them.
	AgeRecipients []string
	// PGPPublicKeys are armored OpenPGP public keys, one key per element.
	PGPPublicKeys [][]byte
	// PGPFingerprints name OpenPGP keys, as .sops.yaml does; Encrypt
	// resolves them against the keys given with WithPGPPublicKeys.
	PGPFingerprints []string
}

func (g KeyGroup) empty() bool {
	return len(g.AgeRecipients) == 0 && len(g.PGPPublicKeys) == 0 && len(g.PGPFingerprints) == 0
}

// Rule says how to encrypt a document: to whom, and which values.
//
// The master keys are either the Rule's own KeyGroup fields (one group) or
// KeyGroups with ShamirThreshold (the number of groups needed; 0 means
// all). At most one selector may be set; with none, every value is
// encrypted except those under keys ending in "_unencrypted".
type Rule struct {
	KeyGroup
	KeyGroups       []KeyGroup
	ShamirThreshold int

	UnencryptedSuffix       string
	EncryptedSuffix         string
	UnencryptedRegex        string
	EncryptedRegex          string
	UnencryptedCommentRegex string
	EncryptedCommentRegex   string
	// MACOnlyEncrypted computes the MAC over encrypted values only, so
	// plaintext values may be edited without re-encrypting.
	MACOnlyEncrypted bool
}

// EncryptOption configures one call of [Encrypt].
type EncryptOption func(*encryptOptions)

type encryptOptions struct {
	pgpKeyring openpgp.EntityList
	now        func() time.Time
	errs       []error
}

// WithPGPPublicKeys gives the armored OpenPGP public keys that a Rule's
// PGPFingerprints name.
func WithPGPPublicKeys(armored []byte) EncryptOption {
	return func(o *encryptOptions) {
		l, err := readPGPPublic(armored)
		if err != nil {
			o.errs = append(o.errs, err)
			return
		}
		o.pgpKeyring = append(o.pgpKeyring, l...)
	}
}

// WithClock sets the clock that stamps lastmodified (time.Now by default).
func WithClock(now func() time.Time) EncryptOption {
	return func(o *encryptOptions) { o.now = now }
}

func readPGPPublic(armored []byte) (openpgp.EntityList, error) {
	l, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil || len(l) == 0 {
		return nil, fmt.Errorf("%w: malformed armored OpenPGP public key", ErrInvalidKey)
	}
	return l, nil
}

// Encrypt encrypts plain, a document of format f, as `sops -e` does under
// rule: a fresh data key, each selected value sealed with AES-256-GCM,
// the data key encrypted to every master key (split with Shamir across
// key groups), and a MAC. name names the document in errors.
func Encrypt(ctx context.Context, name string, plain []byte, f Format, rule Rule, opts ...EncryptOption) ([]byte, error) {
	out, err := encrypt(ctx, plain, f, rule, opts)
	if err != nil {
		return nil, &Error{Op: "encrypt", Name: name, Err: err}
	}
	return out, nil
}

func encrypt(ctx context.Context, plain []byte, f Format, rule Rule, opts []EncryptOption) ([]byte, error) {
	o := encryptOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if err := joinErrs(o.errs...); err != nil {
		return nil, errors.Join(o.errs...)
	}
	if err := f.valid(); err != nil {
		return nil, err
	}
	if int64(len(plain)) > DefaultMaxSize*4 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(plain))
	}
	docs, err := loadPlain(plain, f)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("the document is empty")
	}
	if hasReservedKey(docs[0], f) {
		return nil, errors.New("the document already has sops metadata (or a top-level key sops reserves)")
	}
	md := &metadata{
		version:                 Version,
		unencryptedSuffix:       rule.UnencryptedSuffix,
		encryptedSuffix:         rule.EncryptedSuffix,
		unencryptedRegex:        rule.UnencryptedRegex,
		encryptedRegex:          rule.EncryptedRegex,
		unencryptedCommentRegex: rule.UnencryptedCommentRegex,
		encryptedCommentRegex:   rule.EncryptedCommentRegex,
		macOnlyEncrypted:        rule.MACOnlyEncrypted,
	}
	if f == FormatBinary {
		// One value, always encrypted: sops ignores the selectors.
		md.unencryptedSuffix, md.encryptedSuffix, md.unencryptedRegex, md.encryptedRegex = "", "", "", ""
		md.unencryptedCommentRegex, md.encryptedCommentRegex, md.macOnlyEncrypted = "", "", false
	}
	if md.rules, err = makeRules(md.unencryptedSuffix, md.encryptedSuffix, md.unencryptedRegex, md.encryptedRegex,
		md.unencryptedCommentRegex, md.encryptedCommentRegex, md.macOnlyEncrypted, false); err != nil {
		return nil, err
	}
	if f != FormatBinary && md.rules == (rules{macOnlyEncrypted: md.macOnlyEncrypted}) {
		md.unencryptedSuffix = defaultUnencryptedSuffix
		md.rules.unencryptedSuffix = defaultUnencryptedSuffix
	}

	groups := rule.KeyGroups
	if !rule.KeyGroup.empty() {
		if len(groups) > 0 {
			return nil, errors.New("rule sets both its own keys and KeyGroups")
		}
		groups = []KeyGroup{rule.KeyGroup}
	}
	if len(groups) == 0 {
		return nil, errors.New("rule has no master keys")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("random data key: %w", err)
	}
	defer clear(key)
	parts := [][]byte{key}
	if len(groups) > 1 {
		md.threshold = rule.ShamirThreshold
		if md.threshold == 0 {
			md.threshold = len(groups)
		}
		if parts, err = shamirSplit(key, len(groups), md.threshold); err != nil {
			return nil, err
		}
	}
	now := o.now().UTC().Truncate(time.Second)
	for gi, g := range groups {
		if g.empty() {
			return nil, fmt.Errorf("key group %d is empty", gi+1)
		}
		mks, err := encryptPart(parts[gi], g, o.pgpKeyring, now)
		if err != nil {
			if len(groups) > 1 {
				return nil, fmt.Errorf("key group %d: %w", gi+1, err)
			}
			return nil, err
		}
		md.groups = append(md.groups, mks)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mac, err := encryptDocs(docs, md, key)
	if err != nil {
		return nil, err
	}
	md.lastModified = now
	if md.mac, err = encryptValue(mac, key, now.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return emitEncrypted(docs, md.branch(), f)
}

func hasReservedKey(b branch, f Format) bool {
	for _, it := range b {
		if k, ok := it.key.(string); ok {
			if k == metadataKey || f == FormatDotenv && strings.HasPrefix(k, metadataKey+"_") {
				return true
			}
		}
	}
	return false
}

// encryptDocs encrypts the selected values in place and returns the MAC
// of the plaintext.
func encryptDocs(docs []branch, md *metadata, key []byte) (string, error) {
	h := sha512.New()
	r := &md.rules
	if r.macOnlyEncrypted {
		h.Write(macOnlyEncryptedInit)
	}
	fn := func(v any, path []string, comments [][]string) (any, error) {
		c, isComment := v.(comment)
		enc := r.encrypted(path, comments, isComment)
		if (!r.macOnlyEncrypted || enc) && !isComment {
			b, err := macBytes(v)
			if err != nil {
				return nil, fmt.Errorf("value at %s: %w", pathString(path), err)
			}
			h.Write(b)
		}
		if !enc {
			return v, nil
		}
		s, err := encryptValue(v, key, strings.Join(path, ":")+":")
		if err != nil {
			return nil, fmt.Errorf("value at %s: %w", pathString(path), err)
		}
		if isComment {
			if r.unencryptedCommentRegex != nil && r.unencryptedCommentRegex.MatchString(s) {
				return nil, errors.New("an encrypted comment matches unencrypted_comment_regex; choose a regex that cannot match ciphertext")
			}
			return comment{value: s, inline: c.inline}, nil
		}
		return s, nil
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

func encryptPart(part []byte, g KeyGroup, keyring openpgp.EntityList, now time.Time) ([]masterKey, error) {
	var out []masterKey
	for _, rcp := range g.AgeRecipients {
		rcp = strings.TrimSpace(rcp)
		var r age.Recipient
		var err error
		switch {
		case strings.HasPrefix(rcp, "age1pq1"):
			r, err = age.ParseHybridRecipient(rcp)
		case strings.HasPrefix(rcp, "age1") && strings.Count(rcp, "1") > 1:
			return nil, fmt.Errorf("%w: age plugin recipient %q is not supported", ErrInvalidKey, truncate(rcp, 100))
		case strings.HasPrefix(rcp, "age1"):
			r, err = age.ParseX25519Recipient(rcp)
		case strings.HasPrefix(rcp, "ssh-ed25519 ") || strings.HasPrefix(rcp, "ssh-rsa "):
			r, err = agessh.ParseRecipient(rcp)
		default:
			return nil, fmt.Errorf("%w: %q is not a supported age recipient", ErrInvalidKey, truncate(rcp, 100))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: malformed age recipient %q", ErrInvalidKey, truncate(rcp, 100))
		}
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		w, err := age.Encrypt(aw, r)
		if err != nil {
			return nil, fmt.Errorf("age encrypt to %s: %w", rcp, err)
		}
		if _, err := w.Write(part); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if err := aw.Close(); err != nil {
			return nil, err
		}
		out = append(out, masterKey{typ: KeyTypeAge, enc: buf.String(), fields: map[string]string{"recipient": rcp}})
	}
	var entities []*openpgp.Entity
	for _, pub := range g.PGPPublicKeys {
		l, err := readPGPPublic(pub)
		if err != nil {
			return nil, err
		}
		entities = append(entities, l[0])
	}
	for _, fp := range g.PGPFingerprints {
		want := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(fp), " ", ""))
		var found *openpgp.Entity
		for _, e := range keyring {
			full := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
			if full == want || len(want) >= 16 && strings.HasSuffix(full, want) {
				found = e
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("%w: no public key for OpenPGP fingerprint %s (give it with WithPGPPublicKeys)", ErrInvalidKey, truncate(want, 40))
		}
		entities = append(entities, found)
	}
	for _, e := range entities {
		var buf bytes.Buffer
		aw, err := pgparmor.Encode(&buf, "PGP MESSAGE", nil)
		if err != nil {
			return nil, err
		}
		w, err := openpgp.Encrypt(aw, []*openpgp.Entity{e}, nil, &openpgp.FileHints{IsBinary: true}, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: OpenPGP key %X cannot encrypt", ErrInvalidKey, e.PrimaryKey.Fingerprint)
		}
		if _, err := w.Write(part); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if err := aw.Close(); err != nil {
			return nil, err
		}
		out = append(out, masterKey{typ: KeyTypePGP, enc: buf.String(), fields: map[string]string{
			"fp": fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), "created_at": now.Format(time.RFC3339),
		}})
	}
	return out, nil
}
