package sops

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigRule(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
creation_rules:
  - path_regex: ^clusters/prod/.*\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: >-
      ` + ageRecipient1 + `,
      ` + ageRecipient2 + `
  - path_regex: \.env$
    pgp: ` + pgpFingerprint + `
  - path_regex: groups/
    shamir_threshold: 2
    key_groups:
      - age: [` + ageRecipient1 + `]
      - age: [` + ageRecipient2 + `]
        pgp: [` + pgpFingerprint + `]
`))
	require.NoError(t, err)
	cases := map[string]struct {
		path string
		want Rule
		err  error
	}{
		"comma-separated age recipients": {
			path: "clusters/prod/db.yaml",
			want: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1, ageRecipient2}}, EncryptedRegex: "^(data|stringData)$"},
		},
		"pgp fingerprint": {
			path: "apps/db.env",
			want: Rule{KeyGroup: KeyGroup{PGPFingerprints: []string{pgpFingerprint}}},
		},
		"key groups": {
			path: "groups/a.yaml",
			want: Rule{ShamirThreshold: 2, KeyGroups: []KeyGroup{{AgeRecipients: []string{ageRecipient1}}, {AgeRecipients: []string{ageRecipient2}, PGPFingerprints: []string{pgpFingerprint}}}},
		},
		"no rule matches": {path: "clusters/dev/db.yaml", err: ErrNoRule},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := cfg.Rule(tc.path)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Contains(t, err.Error(), tc.path)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, r)
		})
	}
}

func TestParseConfigRefuses(t *testing.T) {
	cases := map[string]string{
		"bad path_regex":      "creation_rules:\n  - path_regex: '('\n    age: x\n",
		"two selectors":       "creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: b\n    age: x\n",
		"kms":                 "creation_rules:\n  - kms: arn:aws:kms:eu-west-1:1:key/k\n",
		"merge":               "creation_rules:\n  - key_groups:\n      - merge: [{age: [x]}]\n",
		"not yaml":            "creation_rules: [\n",
		"age of wrong type":   "creation_rules:\n  - age: {a: b}\n",
		"threshold too large": "creation_rules:\n  - shamir_threshold: 300\n    age: x\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(doc))
			require.Error(t, err)
			assert.Nil(t, cfg)
		})
	}
	cfg, err := ParseConfig([]byte("creation_rules:\n  - path_regex: x\n"))
	require.NoError(t, err)
	_, err = cfg.Rule("x.yaml")
	assert.ErrorIs(t, err, ErrNoRule, "a rule without keys is no rule")
}

func TestShamirRoundTrip(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	shares, err := shamirSplit(secret, 5, 3)
	require.NoError(t, err)
	for _, pick := range [][]int{{0, 1, 2}, {4, 2, 0}, {1, 3, 4}, {0, 1, 2, 3, 4}} {
		var sub [][]byte
		for _, i := range pick {
			sub = append(sub, shares[i])
		}
		got, err := shamirCombine(sub)
		require.NoError(t, err)
		assert.Equal(t, secret, got)
	}
	got, err := shamirCombine(shares[:2])
	require.NoError(t, err)
	assert.NotEqual(t, secret, got, "two shares of a 3-threshold split say nothing")
	_, err = shamirCombine([][]byte{shares[0], shares[0]})
	assert.Error(t, err)
	_, err = shamirSplit(secret, 2, 3)
	assert.Error(t, err)
}

func TestEncryptRefuses(t *testing.T) {
	age := Rule{KeyGroup: KeyGroup{AgeRecipients: []string{ageRecipient1}}}
	cases := map[string]struct {
		plain string
		rule  Rule
	}{
		"already encrypted":      {plain: string(readFile(t, "testdata/enc/flux-secret.enc.yaml")), rule: age},
		"no keys":                {plain: "a: b\n", rule: Rule{}},
		"bad recipient":          {plain: "a: b\n", rule: Rule{KeyGroup: KeyGroup{AgeRecipients: []string{"age1nothing"}}}},
		"unknown fingerprint":    {plain: "a: b\n", rule: Rule{KeyGroup: KeyGroup{PGPFingerprints: []string{"ABCDEF0123456789"}}}},
		"two selectors":          {plain: "a: b\n", rule: Rule{KeyGroup: age.KeyGroup, EncryptedRegex: "a", UnencryptedRegex: "b"}},
		"threshold above groups": {plain: "a: b\n", rule: Rule{ShamirThreshold: 3, KeyGroups: []KeyGroup{age.KeyGroup, age.KeyGroup}}},
		"not yaml":               {plain: "a: [\n", rule: age},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Encrypt(context.Background(), "a.yaml", []byte(tc.plain), FormatYAML, tc.rule)
			require.Error(t, err)
			assert.Nil(t, out)
			assert.Contains(t, err.Error(), "encrypt a.yaml: ")
		})
	}
}

// TestConcurrentDecrypt: one Decryptor serves many goroutines (run with
// -race).
func TestConcurrentDecrypt(t *testing.T) {
	d := newTestDecryptor(t)
	doc := readFile(t, "testdata/enc/secret.enc.yaml")
	want, err := d.Decrypt(context.Background(), "s.yaml", doc, FormatYAML)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := d.Decrypt(context.Background(), "s.yaml", doc, FormatYAML)
			assert.NoError(t, err)
			assert.Equal(t, want, got)
		}()
	}
	wg.Wait()
}

func TestFormatForPath(t *testing.T) {
	for path, want := range map[string]Format{
		"a.yaml": FormatYAML, "a.yml": FormatYAML, "a.json": FormatJSON, "a.env": FormatDotenv,
		"a.ini": FormatINI, "a.txt": FormatBinary, "Makefile": FormatBinary, "a.enc.yaml": FormatYAML,
	} {
		assert.Equal(t, want, FormatForPath(path), path)
	}
	assert.Equal(t, "dotenv", FormatDotenv.String())
}
