package sops

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// interopCases are the plaintexts and sops settings both directions run.
var interopCases = map[string]struct {
	plain  string // file under testdata/plain
	ext    string // the name the CLI sees, for its format
	config string // .sops.yaml, "" for --age flags
	rule   Rule   // the same for converge's Encrypt
	pgp    bool
}{
	"yaml":   {plain: "secret.yaml", ext: "secret.yaml", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}},
	"json":   {plain: "app.json", ext: "app.json", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}},
	"dotenv": {plain: "app.env", ext: "app.env", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}},
	"ini":    {plain: "app.ini", ext: "app.ini", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}},
	"binary": {plain: "blob.bin", ext: "blob.bin", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}},
	"flux encrypted_regex": {
		plain: "secret.yaml", ext: "secret.yaml",
		config: "creation_rules:\n  - path_regex: .*\n    encrypted_regex: ^(data|stringData)$\n    age: " + ageRecipient1 + "\n",
		rule:   Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}, EncryptedRegex: "^(data|stringData)$"},
	},
	"mac_only_encrypted": {
		plain: "secret.yaml", ext: "secret.yaml",
		config: "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n    age: [" + ageRecipient1 + "]\n",
		rule:   Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}, EncryptedRegex: "^(data|stringData)$", MACOnlyEncrypted: true},
	},
	"encrypted_comment_regex": {
		plain: "secret.yaml", ext: "secret.yaml",
		config: "creation_rules:\n  - encrypted_comment_regex: the shop\n    age: " + ageRecipient1 + "\n",
		rule:   Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}, EncryptedCommentRegex: "the shop"},
	},
	"unencrypted_suffix and dotenv regex": {
		plain: "app.env", ext: "app.env",
		config: "creation_rules:\n  - unencrypted_regex: ^API\n    age: " + ageRecipient1 + "\n",
		rule:   Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}, UnencryptedRegex: "^API"},
	},
	"key groups with shamir_threshold": {
		plain: "secret.yaml", ext: "secret.yaml",
		config: "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [" + ageRecipient1 + "]\n      - age: [" + ageRecipient2 + "]\n      - age: [" + ageRecipient3 + "]\n",
		rule: Rule{ShamirThreshold: 2, KeyGroups: []KeyGroup{
			{AgeRecipients: []string{ageRecipient1}}, {AgeRecipients: []string{ageRecipient2}}, {AgeRecipients: []string{ageRecipient3}},
		}},
	},
	"pgp": {
		plain: "app.json", ext: "app.json", pgp: true,
		config: "creation_rules:\n  - pgp: " + pgpFingerprint + "\n",
		rule:   Rule{KeyGroup: KeyGroup{PGPFingerprints: []string{pgpFingerprint}}},
	},
	"pgp and age in key groups": {
		plain: "app.ini", ext: "app.ini", pgp: true,
		config: "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - pgp: [" + pgpFingerprint + "]\n      - age: [" + ageRecipient2 + "]\n",
		rule: Rule{ShamirThreshold: 2, KeyGroups: []KeyGroup{
			{PGPFingerprints: []string{pgpFingerprint}}, {AgeRecipients: []string{ageRecipient2}},
		}},
	},
}

// TestCLIEncryptsConvergeDecrypts: files `sops -e` writes decrypt with
// converge to exactly what `sops -d` prints.
func TestCLIEncryptsConvergeDecrypts(t *testing.T) {
	for name, tc := range interopCases {
		t.Run(name, func(t *testing.T) {
			e := newCLIEnv(t, 1, 2)
			opts := []Option{WithAgeKeys(ageKey(t, 2))}
			if tc.pgp {
				require.True(t, e.withGPG(), "gpg is needed for the PGP interop cases")
				opts = []Option{WithPGPKeys(readFile(t, "testdata/keys/pgp-private.asc")), WithAgeKeys(ageKey(t, 2))}
			}
			src := e.write(tc.ext, readFile(t, filepath.Join("testdata", "plain", tc.plain)))
			args := []string{"-e", src}
			if tc.config != "" {
				e.write(".sops.yaml", []byte(tc.config))
			} else {
				args = []string{"-e", "--age", ageRecipient1, src}
			}
			enc, err := e.run(nil, args...)
			require.NoError(t, err)
			want, err := e.run(nil, "-d", e.write("enc."+tc.ext, enc))
			require.NoError(t, err)

			switch {
			case tc.pgp:
			case tc.rule.KeyGroups != nil:
				// Any two of the three groups: not the pair the CLI used.
				opts = []Option{WithAgeKeys(ageKey(t, 2)), WithAgeKeys(ageKey(t, 3))}
			default:
				opts = []Option{WithAgeKeys(ageKey(t, 1))}
			}
			d, err := NewDecryptor(opts...)
			require.NoError(t, err)
			format := FormatForPath(tc.ext)
			require.True(t, IsEncrypted(enc, format))
			got, err := d.Decrypt(context.Background(), tc.ext, enc, format)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestConvergeEncryptsCLIDecrypts: converge's files decrypt with
// `sops -d` to the original plaintext, as the CLI's own do.
func TestConvergeEncryptsCLIDecrypts(t *testing.T) {
	for name, tc := range interopCases {
		t.Run(name, func(t *testing.T) {
			e := newCLIEnv(t, 1, 2)
			var opts []EncryptOption
			if tc.pgp {
				require.True(t, e.withGPG(), "gpg is needed for the PGP interop cases")
				opts = append(opts, WithPGPPublicKeys(readFile(t, "testdata/keys/pgp-public.asc")))
			}
			plain := readFile(t, filepath.Join("testdata", "plain", tc.plain))
			format := FormatForPath(tc.ext)
			enc, err := Encrypt(context.Background(), tc.ext, plain, format, tc.rule, opts...)
			require.NoError(t, err)
			assert.Contains(t, string(enc), "3.13.2")
			if tc.rule.EncryptedCommentRegex == "" {
				assert.NotContains(t, string(enc), "MARKER-", "values must be ciphertext")
			}

			// What the CLI prints for the plaintext, as it would decrypt its own file.
			viaCLI, err := e.run(nil, "-d", e.write("enc."+tc.ext, enc))
			require.NoError(t, err)
			if format == FormatBinary {
				assert.Equal(t, string(plain), string(viaCLI))
			} else {
				// sops normalises on load (indent, quoting); compare with
				// its own round trip of the plaintext.
				args := []string{"-e", "--age", ageRecipient1}
				if tc.config != "" {
					e.write(".sops.yaml", []byte(tc.config))
					args = []string{"-e"}
				}
				own, err := e.run(nil, append(args, e.write("own."+tc.ext, plain))...)
				require.NoError(t, err)
				ownPlain, err := e.run(nil, "-d", e.write("own.enc."+tc.ext, own))
				require.NoError(t, err)
				assert.Equal(t, string(ownPlain), string(viaCLI))
			}
			// And converge decrypts its own file to the same bytes.
			d, err := NewDecryptor(WithAgeKeys(ageKey(t, 1)), WithAgeKeys(ageKey(t, 2)), WithPGPKeys(readFile(t, "testdata/keys/pgp-private.asc")))
			require.NoError(t, err)
			got, err := d.Decrypt(context.Background(), tc.ext, enc, format)
			require.NoError(t, err)
			assert.Equal(t, string(viaCLI), string(got))
			if tc.rule.EncryptedRegex != "" {
				assert.Contains(t, string(enc), "kind: Secret", "encrypted_regex leaves other fields in plaintext")
			}
			if strings.Contains(name, "comment") {
				assert.Contains(t, string(enc), "namespace: ENC[", "the value after the comment is encrypted")
			}
		})
	}
}
