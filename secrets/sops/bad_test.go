package sops

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// markers are plaintexts planted in the fixtures; no error may hold them.
var markers = []string{"hunter2", "MARKER", "AGE-SECRET-KEY-1M844", "admin"}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, m := range markers {
		assert.NotContains(t, err.Error(), m, "error text leaks a secret")
	}
}

var macLine = regexp.MustCompile(`(?m)^    mac: ENC\[.*\]$`)

func TestDecryptRefusesTamperedDocuments(t *testing.T) {
	flux := string(readFile(t, "testdata/enc/flux-secret.enc.yaml"))
	other := string(readFile(t, "testdata/enc/secret.enc.yaml"))
	otherMAC := macLine.FindAllString(other, 1)[0]
	pw := regexp.MustCompile(`password: (ENC\[[^\]]*\])`).FindStringSubmatch(flux)[1]
	user := regexp.MustCompile(`user: (ENC\[[^\]]*\])`).FindStringSubmatch(flux)[1]

	cases := map[string]struct {
		reason string
		doc    string
		opts   []Option
		want   error // errors.Is target; nil: any error
	}{
		"mac removed": {
			reason: "a document without its MAC could have been edited at will",
			doc:    macLine.ReplaceAllString(flux, ""), want: ErrMACMismatch,
		},
		"mac emptied": {
			doc: macLine.ReplaceAllString(flux, `    mac: ""`), want: ErrMACMismatch,
		},
		"mac faked with another data key": {
			reason: "a MAC sealed with another file's data key does not open",
			doc:    macLine.ReplaceAllString(flux, otherMAC), want: ErrMACMismatch,
		},
		"ciphertext byte flipped": {
			doc: strings.Replace(flux, pw, flipBase64(pw), 1),
		},
		"ciphertext moved to another key": {
			reason: "values are bound to their path",
			doc:    strings.Replace(strings.Replace(flux, pw, "SWAP", 1), user, pw, 1),
		},
		"plaintext field edited": {
			reason: "fields left in plaintext by encrypted_regex are still under the MAC",
			doc:    strings.Replace(flux, "namespace: shop", "namespace: prod", 1), want: ErrMACMismatch,
		},
		"lastmodified changed": {
			reason: "lastmodified is the additional data of the MAC",
			doc:    regexp.MustCompile(`lastmodified: "[^"]*"`).ReplaceAllString(flux, `lastmodified: "2020-01-01T00:00:00Z"`), want: ErrMACMismatch,
		},
		"key added after encryption": {
			doc:  strings.Replace(flux, "type: Opaque", "type: Opaque\nimmutable: true", 1),
			want: ErrMACMismatch,
		},
		"encrypted key added after encryption": {
			doc: strings.Replace(flux, "    user: ", "    extra: "+pw+"\n    user: ", 1),
		},
		"plaintext where ciphertext belongs": {
			doc: strings.Replace(flux, pw, "hunter2-MARKER-planted", 1),
		},
		"wrong age key": {
			doc: flux, opts: []Option{WithAgeKeys(ageKey(t, 2))}, want: ErrNoKey,
		},
		"no keys at all": {
			doc: flux, opts: []Option{}, want: ErrNoKey,
		},
		"data key ciphertext corrupted": {
			doc: strings.Replace(flux, "-----BEGIN AGE ENCRYPTED FILE-----\n            YWdl", "-----BEGIN AGE ENCRYPTED FILE-----\n            YWdm", 1), want: ErrNoKey,
		},
		"over the size bound": {
			doc: flux, opts: []Option{WithAgeKeys(ageKey(t, 1)), WithMaxSize(512)}, want: ErrTooLarge,
		},
		"not encrypted": {
			doc: string(readFile(t, "testdata/plain/secret.yaml")), want: ErrNotEncrypted,
		},
		"metadata not a mapping": {
			doc: "a: b\nsops: hunter2\n",
		},
		"two selectors": {
			doc: strings.Replace(flux, "    encrypted_regex:", "    unencrypted_suffix: _x\n    encrypted_regex:", 1),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := tc.opts
			if opts == nil {
				opts = []Option{WithAgeKeys(ageKey(t, 1))}
			}
			d, err := NewDecryptor(opts...)
			require.NoError(t, err)
			out, err := d.Decrypt(context.Background(), "secrets/db.enc.yaml", []byte(tc.doc), FormatYAML)
			require.Error(t, err, tc.reason)
			assert.Nil(t, out)
			t.Log(err)
			assert.True(t, strings.HasPrefix(err.Error(), "decrypt secrets/db.enc.yaml: "), err.Error())
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			assertNoSecret(t, err)
		})
	}
}

func flipBase64(enc string) string {
	i := strings.Index(enc, "data:") + len("data:")
	b := []byte(enc)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestMACOnlyEncryptedAllowsPlaintextEdits(t *testing.T) {
	doc := string(readFile(t, "testdata/enc/flux-maconly.enc.yaml"))
	d := newTestDecryptor(t)
	out, err := d.Decrypt(context.Background(), "s.yaml", []byte(strings.Replace(doc, "namespace: shop", "namespace: prod", 1)), FormatYAML)
	require.NoError(t, err, "mac_only_encrypted leaves plaintext fields outside the MAC, as sops does")
	assert.Contains(t, string(out), "namespace: prod")
	// Encrypted values are still under the MAC.
	_, err = d.Decrypt(context.Background(), "s.yaml", []byte(strings.Replace(doc, "    user: ", "    user2: ", 1)), FormatYAML)
	require.Error(t, err)
}

func TestWithoutMACVerification(t *testing.T) {
	doc := macLine.ReplaceAllString(string(readFile(t, "testdata/enc/flux-secret.enc.yaml")), "")
	d := newTestDecryptor(t, WithoutMACVerification())
	out, err := d.Decrypt(context.Background(), "s.yaml", []byte(doc), FormatYAML)
	require.NoError(t, err)
	assert.Contains(t, string(out), "hunter2-MARKER-flux")
}

func TestNewDecryptorRefusesBadKeys(t *testing.T) {
	good := string(ageKey(t, 1))
	secret := regexp.MustCompile(`AGE-SECRET-KEY-1\S+`).FindString(good)
	cases := map[string]struct {
		opt Option
	}{
		"truncated age key":   {opt: WithAgeKeys([]byte(secret[:len(secret)-6]))},
		"corrupt age key":     {opt: WithAgeKeys([]byte(strings.Replace(secret, "M844", "M845", 1)))},
		"not an age key":      {opt: WithAgeKeys([]byte("hunter2-MARKER\n"))},
		"empty age keys":      {opt: WithAgeKeys([]byte("# only a comment\n"))},
		"plugin identity":     {opt: WithAgeKeys([]byte("AGE-PLUGIN-YUBIKEY-1QQQ\n"))},
		"pgp garbage":         {opt: WithPGPKeys([]byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nhunter2MARKER\n-----END PGP PRIVATE KEY BLOCK-----\n"))},
		"pgp truncated":       {opt: WithPGPKeys(readFile(t, "testdata/keys/pgp-private.asc")[:300])},
		"pgp public key only": {opt: WithPGPKeys(readFile(t, "testdata/keys/pgp-public.asc"))},
		"no pgp block":        {opt: WithPGPKeys([]byte("hunter2"))},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := NewDecryptor(tc.opt)
			require.Error(t, err)
			assert.Nil(t, d)
			t.Log(err)
			assert.ErrorIs(t, err, ErrInvalidKey)
			assert.NotContains(t, err.Error(), secret[16:30])
			assertNoSecret(t, err)
		})
	}
}

func TestSeveralKeysAndComments(t *testing.T) {
	keys := append(append([]byte("# first\n\n"), ageKey(t, 2)...), ageKey(t, 1)...)
	d, err := NewDecryptor(WithAgeKeys(keys))
	require.NoError(t, err)
	_, err = d.Decrypt(context.Background(), "s.yaml", readFile(t, "testdata/enc/flux-secret.enc.yaml"), FormatYAML)
	require.NoError(t, err)
}

func TestKeyService(t *testing.T) {
	plain := []byte("a: b\n")
	enc, err := Encrypt(context.Background(), "a.yaml", plain, FormatYAML, Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}})
	require.NoError(t, err)
	// Rewrite the age entry as a KMS key that the service "decrypts" by
	// asking age: the service sees the arn and the ciphertext.
	doc := strings.Replace(string(enc), "    age:\n", "    kms:\n        - arn: arn:aws:kms:eu-west-1:1:key/k\n          created_at: \"2026-01-01T00:00:00Z\"\n          aws_profile: \"\"\n          enc: |\n", 1)
	doc = regexp.MustCompile(`(?s)(enc: \|\n)        - enc: \|\n`).ReplaceAllString(doc, "$1")
	doc = regexp.MustCompile(`(?m)^          recipient: .*\n`).ReplaceAllString(doc, "")
	doc = strings.ReplaceAll(doc, "\n            ", "\n              ")
	ageDec := newTestDecryptor(t)
	var seen MasterKey
	svc := KeyServiceFunc(func(ctx context.Context, key MasterKey, encrypted []byte) ([]byte, error) {
		seen = key
		return ageDec.decryptWithKey(ctx, masterKey{typ: KeyTypeAge, enc: string(encrypted)})
	})
	d, err := NewDecryptor(WithKeyService(svc))
	require.NoError(t, err)
	out, err := d.Decrypt(context.Background(), "a.yaml", []byte(doc), FormatYAML)
	require.NoError(t, err, doc)
	assert.Equal(t, "a: b\n", string(out))
	assert.Equal(t, KeyTypeKMS, seen.Type)
	assert.Equal(t, "arn:aws:kms:eu-west-1:1:key/k", seen.Fields["arn"])

	// Without a service, the KMS key is skipped and named.
	d2, err := NewDecryptor()
	require.NoError(t, err)
	_, err = d2.Decrypt(context.Background(), "a.yaml", []byte(doc), FormatYAML)
	require.ErrorIs(t, err, ErrNoKey)
	assert.Contains(t, err.Error(), "kms arn:aws:kms:eu-west-1:1:key/k")
}
