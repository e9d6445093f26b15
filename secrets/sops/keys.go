package sops

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
)

// MasterKey is one master key of a document's key group, as a
// [KeyService] sees it: its type (KeyTypeKMS, KeyTypeGCPKMS,
// KeyTypeAzureKV, KeyTypeVault, KeyTypeHCKMS) and the fields sops stores
// for it (kms: arn, role, aws_profile, created_at; gcp_kms: resource_id;
// azure_kv: vault_url, name, version; hc_vault: vault_address,
// engine_path, key_name; hckms: key_id). Context is the KMS encryption
// context, nil for other types.
type MasterKey struct {
	Type    string
	Fields  map[string]string
	Context map[string]string
}

// KeyService decrypts data keys with master keys converge does not hold
// itself, such as cloud KMS keys. DecryptDataKey returns the plaintext data
// key (or Shamir share) that encrypted holds, as sops's key services do.
// It returns an error for a key it cannot use; the Decryptor then tries
// the group's next key. Implementations must be safe for concurrent use
// and must not put key material in errors.
type KeyService interface {
	DecryptDataKey(ctx context.Context, key MasterKey, encrypted []byte) ([]byte, error)
}

// KeyServiceFunc adapts a function to a [KeyService].
type KeyServiceFunc func(ctx context.Context, key MasterKey, encrypted []byte) ([]byte, error)

// DecryptDataKey calls f.
func (f KeyServiceFunc) DecryptDataKey(ctx context.Context, key MasterKey, encrypted []byte) ([]byte, error) {
	return f(ctx, key, encrypted)
}

var _ KeyService = KeyServiceFunc(nil)

// parseAgeIdentities reads age-keygen output (several identities, "#"
// comments, blank lines) or an unencrypted OpenSSH ed25519 or RSA private
// key. Errors never quote the input.
func parseAgeIdentities(data []byte) ([]age.Identity, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		// An OpenSSH private key, as age -i and SOPS_AGE_SSH_PRIVATE_KEY_FILE
		// take it; a passphrase-protected one needs the passphrase, which a
		// value-only API has no way to ask for.
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, errors.New("not an unencrypted OpenSSH ed25519 or RSA private key")
		}
		return []age.Identity{id}, nil
	}
	var ids []age.Identity
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		var id age.Identity
		var err error
		switch {
		case strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(s)
		case strings.HasPrefix(s, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(s)
		case strings.HasPrefix(s, "AGE-PLUGIN-"):
			return nil, fmt.Errorf("line %d: age plugin identities are not supported", line)
		default:
			return nil, fmt.Errorf("line %d: not an age identity", line)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: malformed age identity", line)
		}
		ids = append(ids, id)
	}
	if sc.Err() != nil {
		return nil, errors.New("age identities do not read")
	}
	if len(ids) == 0 {
		return nil, errors.New("no age identity found")
	}
	return ids, nil
}

// parsePGPKeys reads armored OpenPGP private keys (one or more blocks).
func parsePGPKeys(data []byte) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	rest := data
	for {
		i := bytes.Index(rest, []byte("-----BEGIN PGP"))
		if i < 0 {
			break
		}
		rest = rest[i:]
		end := bytes.Index(rest, []byte("-----END PGP"))
		if end < 0 {
			return nil, errors.New("truncated armored OpenPGP block")
		}
		stop := bytes.IndexByte(rest[end:], '\n')
		blockEnd := len(rest)
		if stop >= 0 {
			blockEnd = end + stop + 1
		}
		list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(rest[:blockEnd]))
		if err != nil {
			return nil, errors.New("malformed armored OpenPGP key")
		}
		all = append(all, list...)
		rest = rest[blockEnd:]
	}
	if len(all) == 0 {
		return nil, errors.New("no armored OpenPGP key found")
	}
	private := 0
	for _, e := range all {
		if e.PrivateKey == nil {
			continue
		}
		private++
		if e.PrivateKey.Encrypted {
			return nil, fmt.Errorf("OpenPGP key %X is passphrase-protected, which is not supported", e.PrimaryKey.Fingerprint)
		}
		for _, sk := range e.Subkeys {
			if sk.PrivateKey != nil && sk.PrivateKey.Encrypted {
				return nil, fmt.Errorf("OpenPGP key %X has a passphrase-protected subkey, which is not supported", e.PrimaryKey.Fingerprint)
			}
		}
	}
	if private == 0 {
		return nil, errors.New("the OpenPGP keys are public keys; decryption needs private keys")
	}
	return all, nil
}

// maxDataKey bounds what a master key may decrypt to (a 32-byte data key
// or a 33-byte share).
const maxDataKey = 1024

func (d *Decryptor) decryptWithKey(ctx context.Context, k masterKey) ([]byte, error) {
	switch k.typ {
	case KeyTypeAge:
		if len(d.ageIDs) == 0 {
			return nil, errors.New("no age identity given")
		}
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(k.enc)), d.ageIDs...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, errors.New("no age identity matches")
			}
			return nil, errors.New("age ciphertext does not decrypt")
		}
		b, err := io.ReadAll(io.LimitReader(r, maxDataKey+1))
		if err != nil || len(b) > maxDataKey {
			return nil, errors.New("age ciphertext does not decrypt")
		}
		return b, nil
	case KeyTypePGP:
		if len(d.pgpKeys) == 0 {
			return nil, errors.New("no OpenPGP key given")
		}
		block, err := pgparmor.Decode(strings.NewReader(k.enc))
		if err != nil {
			return nil, errors.New("OpenPGP message is not armored")
		}
		md, err := openpgp.ReadMessage(block.Body, d.pgpKeys, nil, nil)
		if err != nil {
			return nil, errors.New("no OpenPGP key decrypts the data key")
		}
		if !md.IsEncrypted {
			return nil, errors.New("the OpenPGP data key is not encrypted")
		}
		b, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, maxDataKey+1))
		if err != nil || len(b) > maxDataKey {
			return nil, errors.New("OpenPGP message does not decrypt")
		}
		return b, nil
	default:
		if d.keyService == nil {
			return nil, fmt.Errorf("%s keys need a KeyService", k.typ)
		}
		mk := MasterKey{Type: k.typ, Fields: make(map[string]string, len(k.fields))}
		for f, v := range k.fields {
			mk.Fields[f] = v
		}
		if k.context != nil {
			mk.Context = make(map[string]string, len(k.context))
			for f, v := range k.context {
				mk.Context[f] = v
			}
		}
		b, err := d.keyService.DecryptDataKey(ctx, mk, []byte(k.enc))
		if err != nil {
			return nil, fmt.Errorf("key service: %w", err)
		}
		if len(b) == 0 || len(b) > maxDataKey {
			return nil, errors.New("key service returned no usable data key")
		}
		return b, nil
	}
}

// keyName names a master key in errors: its recipient, fingerprint or
// resource, never its ciphertext.
func (k masterKey) name() string {
	for _, f := range []string{"recipient", "fp", "arn", "resource_id", "key_id", "key_name", "name"} {
		if v := k.fields[f]; v != "" {
			return k.typ + " " + truncate(v, 100)
		}
	}
	return k.typ
}

// dataKey recovers the document's data key from its key groups: one group
// holds the key; several hold Shamir shares, threshold of which are needed.
func (d *Decryptor) dataKey(ctx context.Context, md *metadata) ([]byte, error) {
	var shares [][]byte
	var groupErrs []error
	need := md.threshold
	for gi, g := range md.groups {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part, err := d.decryptGroup(ctx, g)
		if err != nil {
			if len(md.groups) > 1 {
				err = fmt.Errorf("key group %d: %w", gi+1, err)
			}
			groupErrs = append(groupErrs, err)
			continue
		}
		shares = append(shares, part)
		if len(md.groups) > 1 && need > 0 && len(shares) >= need {
			break
		}
	}
	var key []byte
	if len(md.groups) == 1 {
		if len(shares) != 1 {
			return nil, &KeyError{Err: joinErrs(groupErrs...)}
		}
		key = shares[0]
	} else {
		if len(shares) < max(need, 2) {
			return nil, &KeyError{Err: fmt.Errorf("%d of %d key groups decrypted, %d needed: %w", len(shares), len(md.groups), max(need, 2), joinErrs(groupErrs...))}
		}
		var err error
		if key, err = shamirCombine(shares); err != nil {
			return nil, &KeyError{Err: fmt.Errorf("combine Shamir shares: %w", err)}
		}
	}
	if len(key) != 32 {
		return nil, &KeyError{Err: fmt.Errorf("data key is %d bytes, not 32", len(key))}
	}
	return key, nil
}

func (d *Decryptor) decryptGroup(ctx context.Context, g []masterKey) ([]byte, error) {
	// age first, then pgp, then the rest in their order.
	order := make([]masterKey, 0, len(g))
	for _, t := range []string{KeyTypeAge, KeyTypePGP} {
		for _, k := range g {
			if k.typ == t {
				order = append(order, k)
			}
		}
	}
	for _, k := range g {
		if k.typ != KeyTypeAge && k.typ != KeyTypePGP {
			order = append(order, k)
		}
	}
	var errs []error
	for _, k := range order {
		b, err := d.decryptWithKey(ctx, k)
		if err == nil {
			return b, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", k.name(), err))
	}
	if len(errs) == 0 {
		return nil, errors.New("empty key group")
	}
	return nil, joinErrs(errs...)
}
