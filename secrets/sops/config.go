package sops

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxConfigSize bounds a .sops.yaml.
const maxConfigSize = 1 << 20

// Config is a parsed .sops.yaml: its creation rules, in order.
type Config struct {
	rules []configRule
}

type configRule struct {
	pathRegex *regexp.Regexp
	rule      Rule
}

type rawConfig struct {
	CreationRules []rawRule `yaml:"creation_rules"`
}

type rawGroup struct {
	Merge   []rawGroup `yaml:"merge"`
	Age     []string   `yaml:"age"`
	PGP     []string   `yaml:"pgp"`
	KMS     []any      `yaml:"kms"`
	GCPKMS  []any      `yaml:"gcp_kms"`
	HCKMS   []any      `yaml:"hckms"`
	AzureKV []any      `yaml:"azure_keyvault"`
	Vault   []string   `yaml:"hc_vault"`
}

type rawRule struct {
	PathRegex               string     `yaml:"path_regex"`
	Age                     any        `yaml:"age"`
	PGP                     any        `yaml:"pgp"`
	KMS                     any        `yaml:"kms"`
	GCPKMS                  any        `yaml:"gcp_kms"`
	HCKMS                   []string   `yaml:"hckms"`
	AzureKV                 any        `yaml:"azure_keyvault"`
	Vault                   any        `yaml:"hc_vault_transit_uri"`
	KeyGroups               []rawGroup `yaml:"key_groups"`
	ShamirThreshold         int        `yaml:"shamir_threshold"`
	UnencryptedSuffix       string     `yaml:"unencrypted_suffix"`
	EncryptedSuffix         string     `yaml:"encrypted_suffix"`
	UnencryptedRegex        string     `yaml:"unencrypted_regex"`
	EncryptedRegex          string     `yaml:"encrypted_regex"`
	UnencryptedCommentRegex string     `yaml:"unencrypted_comment_regex"`
	EncryptedCommentRegex   string     `yaml:"encrypted_comment_regex"`
	MACOnlyEncrypted        bool       `yaml:"mac_only_encrypted"`
}

// keyList reads a key field that is a comma-separated string or a list.
func keyList(v any, field string) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		var out []string
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, k)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: expected a string in the list", field)
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: expected a string or a list of strings", field)
}

func nonEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	}
	return true
}

// ParseConfig reads a .sops.yaml. Only creation_rules matter to converge;
// other sections are ignored. Master keys other than age and OpenPGP
// (kms, gcp_kms, azure_keyvault, hc_vault, hckms) are refused by
// [Config.Rule], as converge encrypts to age and OpenPGP keys only.
func ParseConfig(data []byte) (cfg *Config, err error) {
	defer recoverAs(&err, "YAML parser")
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("parse .sops.yaml: %w", ErrTooLarge)
	}
	var raw rawConfig
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse .sops.yaml: %w", yamlError(err))
	}
	cfg = &Config{}
	for i, r := range raw.CreationRules {
		cr, err := convertRule(r)
		if err != nil {
			return nil, fmt.Errorf("parse .sops.yaml: creation_rules[%d]: %w", i, err)
		}
		cfg.rules = append(cfg.rules, cr)
	}
	return cfg, nil
}

func convertRule(r rawRule) (configRule, error) {
	var cr configRule
	if r.PathRegex != "" {
		re, err := regexp.Compile(r.PathRegex)
		if err != nil {
			return cr, errors.New("path_regex does not compile")
		}
		cr.pathRegex = re
	}
	rule := Rule{
		ShamirThreshold:         r.ShamirThreshold,
		UnencryptedSuffix:       r.UnencryptedSuffix,
		EncryptedSuffix:         r.EncryptedSuffix,
		UnencryptedRegex:        r.UnencryptedRegex,
		EncryptedRegex:          r.EncryptedRegex,
		UnencryptedCommentRegex: r.UnencryptedCommentRegex,
		EncryptedCommentRegex:   r.EncryptedCommentRegex,
		MACOnlyEncrypted:        r.MACOnlyEncrypted,
	}
	if _, err := makeRules(rule.UnencryptedSuffix, rule.EncryptedSuffix, rule.UnencryptedRegex, rule.EncryptedRegex,
		rule.UnencryptedCommentRegex, rule.EncryptedCommentRegex, false, false); err != nil {
		return cr, err
	}
	if r.ShamirThreshold < 0 || r.ShamirThreshold > 255 {
		return cr, errors.New("shamir_threshold must be between 0 and 255")
	}
	if len(r.KeyGroups) > 0 {
		for gi, g := range r.KeyGroups {
			if len(g.Merge) > 0 {
				return cr, fmt.Errorf("key_groups[%d]: merge is not supported", gi)
			}
			if len(g.KMS)+len(g.GCPKMS)+len(g.HCKMS)+len(g.AzureKV)+len(g.Vault) > 0 {
				return cr, fmt.Errorf("key_groups[%d]: only age and pgp keys are supported for encryption", gi)
			}
			rule.KeyGroups = append(rule.KeyGroups, KeyGroup{AgeRecipients: g.Age, PGPFingerprints: g.PGP})
		}
	} else {
		if nonEmpty(r.KMS) || nonEmpty(r.GCPKMS) || len(r.HCKMS) > 0 || nonEmpty(r.AzureKV) || nonEmpty(r.Vault) {
			return cr, errors.New("only age and pgp keys are supported for encryption")
		}
		var err error
		if rule.AgeRecipients, err = keyList(r.Age, "age"); err != nil {
			return cr, err
		}
		if rule.PGPFingerprints, err = keyList(r.PGP, "pgp"); err != nil {
			return cr, err
		}
	}
	cr.rule = rule
	return cr, nil
}

// Rule returns the first creation rule whose path_regex matches path (a
// rule without path_regex matches every path), as sops picks it. path is
// relative to the directory of the .sops.yaml, with forward slashes. It
// fails with ErrNoRule when none matches, and when the matching rule has no
// master keys. OpenPGP keys come back as fingerprints: pass their public
// keys to Encrypt with WithPGPPublicKeys.
func (c *Config) Rule(path string) (Rule, error) {
	for _, r := range c.rules {
		if r.pathRegex == nil || r.pathRegex.MatchString(path) {
			if r.rule.KeyGroup.empty() && len(r.rule.KeyGroups) == 0 {
				return Rule{}, fmt.Errorf("sops creation rule for %s: %w (the rule lists no keys)", path, ErrNoRule)
			}
			return cloneRule(r.rule), nil
		}
	}
	return Rule{}, fmt.Errorf("sops creation rule for %s: %w", path, ErrNoRule)
}

func cloneRule(r Rule) Rule {
	cp := func(g KeyGroup) KeyGroup {
		return KeyGroup{
			AgeRecipients:   append([]string(nil), g.AgeRecipients...),
			PGPPublicKeys:   append([][]byte(nil), g.PGPPublicKeys...),
			PGPFingerprints: append([]string(nil), g.PGPFingerprints...),
		}
	}
	r.KeyGroup = cp(r.KeyGroup)
	gs := make([]KeyGroup, 0, len(r.KeyGroups))
	for _, g := range r.KeyGroups {
		gs = append(gs, cp(g))
	}
	if len(gs) > 0 {
		r.KeyGroups = gs
	} else {
		r.KeyGroups = nil
	}
	return r
}
