package sops

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metadataKey is the top-level key of the sops metadata; flat formats
// (dotenv) prefix its flattened keys with "sops_".
const metadataKey = "sops"

// Key types as the metadata names them.
const (
	KeyTypeAge     = "age"
	KeyTypePGP     = "pgp"
	KeyTypeKMS     = "kms"
	KeyTypeGCPKMS  = "gcp_kms"
	KeyTypeAzureKV = "azure_kv"
	KeyTypeVault   = "hc_vault"
	KeyTypeHCKMS   = "hckms"
)

// keyTypes lists the master key types in the order sops reads them into a
// group; decryption tries age, then pgp, then the others in this order.
var keyTypes = []string{KeyTypeKMS, KeyTypeGCPKMS, KeyTypeHCKMS, KeyTypeAzureKV, KeyTypeVault, KeyTypePGP, KeyTypeAge}

// keyFields are the fields each master key type stores besides enc.
var keyFields = map[string][]string{
	KeyTypeAge:     {"recipient"},
	KeyTypePGP:     {"created_at", "fp"},
	KeyTypeKMS:     {"arn", "aws_profile", "created_at", "role"},
	KeyTypeGCPKMS:  {"created_at", "resource_id"},
	KeyTypeAzureKV: {"created_at", "name", "vault_url", "version"},
	KeyTypeVault:   {"created_at", "engine_path", "key_name", "vault_address"},
	KeyTypeHCKMS:   {"created_at", "key_id"},
}

// masterKey is one entry of a key group.
type masterKey struct {
	typ     string
	fields  map[string]string
	context map[string]string // kms only
	enc     string
}

// metadata is the parsed sops section.
type metadata struct {
	lastModified time.Time
	mac          string
	version      string
	threshold    int
	groups       [][]masterKey
	rules        rules
	// the selector sources, as written
	unencryptedSuffix, encryptedSuffix             string
	unencryptedRegex, encryptedRegex               string
	unencryptedCommentRegex, encryptedCommentRegex string
	macOnlyEncrypted                               bool
}

// toGo turns a metadata tree into maps, lists and scalars, dropping comments.
func toGo(v any, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("metadata nested too deeply")
	}
	switch v := v.(type) {
	case branch:
		m := make(map[string]any, len(v))
		for _, it := range v {
			if _, ok := it.key.(comment); ok {
				continue
			}
			k, ok := it.key.(string)
			if !ok {
				return nil, errors.New("metadata has a non-string key")
			}
			g, err := toGo(it.value, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = g
		}
		return m, nil
	case []any:
		l := make([]any, 0, len(v))
		for _, e := range v {
			if _, ok := e.(comment); ok {
				continue
			}
			g, err := toGo(e, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, g)
		}
		return l, nil
	default:
		return v, nil
	}
}

// Weak conversions, as sops decodes its metadata (mapstructure's weakly
// typed input).
func weakString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case time.Time:
		return v.Format(time.RFC3339), nil
	}
	return "", fmt.Errorf("expected a string, found a %s", typeName(v))
}

func weakInt(v any) (int, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		return v, nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<31 {
			return 0, errors.New("expected an integer")
		}
		return int(v), nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case string:
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 0, 32)
		if err != nil {
			return 0, errors.New("expected an integer")
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("expected an integer, found a %s", typeName(v))
}

func weakBool(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case int:
		return v != 0, nil
	case float64:
		return v != 0, nil
	case string:
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, errors.New("expected a boolean")
		}
		return b, nil
	}
	return false, fmt.Errorf("expected a boolean, found a %s", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// parseMetadata reads the sops section (already unflattened).
func parseMetadata(tree branch) (*metadata, error) {
	g, err := toGo(tree, 0)
	if err != nil {
		return nil, err
	}
	m := g.(map[string]any)
	md := &metadata{}
	str := func(name string) (string, error) {
		s, err := weakString(m[name])
		if err != nil {
			return "", fmt.Errorf("sops metadata %s: %w", name, err)
		}
		return s, nil
	}
	lm, err := str("lastmodified")
	if err != nil {
		return nil, err
	}
	if md.lastModified, err = time.Parse(time.RFC3339, lm); err != nil {
		return nil, errors.New("sops metadata lastmodified: not an RFC 3339 time")
	}
	if md.mac, err = str("mac"); err != nil {
		return nil, err
	}
	if md.version, err = str("version"); err != nil {
		return nil, err
	}
	if md.threshold, err = weakInt(m["shamir_threshold"]); err != nil {
		return nil, fmt.Errorf("sops metadata shamir_threshold: %w", err)
	}
	if md.macOnlyEncrypted, err = weakBool(m["mac_only_encrypted"]); err != nil {
		return nil, fmt.Errorf("sops metadata mac_only_encrypted: %w", err)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"unencrypted_suffix", &md.unencryptedSuffix},
		{"encrypted_suffix", &md.encryptedSuffix},
		{"unencrypted_regex", &md.unencryptedRegex},
		{"encrypted_regex", &md.encryptedRegex},
		{"unencrypted_comment_regex", &md.unencryptedCommentRegex},
		{"encrypted_comment_regex", &md.encryptedCommentRegex},
	} {
		if *f.dst, err = str(f.name); err != nil {
			return nil, err
		}
	}
	if md.rules, err = makeRules(md.unencryptedSuffix, md.encryptedSuffix, md.unencryptedRegex, md.encryptedRegex,
		md.unencryptedCommentRegex, md.encryptedCommentRegex, md.macOnlyEncrypted, true); err != nil {
		return nil, fmt.Errorf("sops metadata: %w", err)
	}
	// One group at the top level, or key_groups.
	top, err := parseGroup(m)
	if err != nil {
		return nil, err
	}
	if len(top) > 0 {
		md.groups = [][]masterKey{top}
	} else if kg, ok := m["key_groups"].([]any); ok && len(kg) > 0 {
		for i, g := range kg {
			gm, ok := g.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("sops metadata key_groups[%d]: not a mapping", i)
			}
			grp, err := parseGroup(gm)
			if err != nil {
				return nil, fmt.Errorf("sops metadata key_groups[%d]: %w", i, err)
			}
			md.groups = append(md.groups, grp)
		}
	} else if m["key_groups"] != nil {
		if _, ok := m["key_groups"].([]any); !ok {
			return nil, errors.New("sops metadata key_groups: not a list")
		}
	}
	if len(md.groups) == 0 {
		return nil, errors.New("sops metadata lists no master keys")
	}
	if len(md.groups) > 255 {
		return nil, errors.New("sops metadata has more than 255 key groups")
	}
	return md, nil
}

func parseGroup(m map[string]any) ([]masterKey, error) {
	var out []masterKey
	for _, typ := range keyTypes {
		v, ok := m[typ]
		if !ok || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("sops metadata %s: not a list", typ)
		}
		for i, e := range list {
			em, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("sops metadata %s[%d]: not a mapping", typ, i)
			}
			k := masterKey{typ: typ, fields: map[string]string{}}
			var err error
			if k.enc, err = weakString(em["enc"]); err != nil {
				return nil, fmt.Errorf("sops metadata %s[%d].enc: %w", typ, i, err)
			}
			for _, f := range keyFields[typ] {
				s, err := weakString(em[f])
				if err != nil {
					return nil, fmt.Errorf("sops metadata %s[%d].%s: %w", typ, i, f, err)
				}
				if f == "created_at" && s != "" {
					if _, err := time.Parse(time.RFC3339, s); err != nil {
						return nil, fmt.Errorf("sops metadata %s[%d].created_at: not an RFC 3339 time", typ, i)
					}
				}
				k.fields[f] = s
			}
			if typ == KeyTypeKMS {
				if c, ok := em["context"].(map[string]any); ok {
					k.context = map[string]string{}
					for ck, cv := range c {
						s, err := weakString(cv)
						if err != nil {
							return nil, fmt.Errorf("sops metadata kms[%d].context: %w", i, err)
						}
						k.context[ck] = s
					}
				}
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// makeRules compiles the selectors; at most one may be set. When none is
// and defaultSuffix is true, values whose key ends in "_unencrypted" stay
// plaintext, as sops assumes.
func makeRules(unencSuffix, encSuffix, unencRE, encRE, unencCommentRE, encCommentRE string, macOnly, defaultSuffix bool) (rules, error) {
	n := 0
	for _, s := range []string{unencSuffix, encSuffix, unencRE, encRE, unencCommentRE, encCommentRE} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return rules{}, errors.New("more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex")
	}
	if n == 0 && defaultSuffix {
		unencSuffix = defaultUnencryptedSuffix
	}
	r := rules{unencryptedSuffix: unencSuffix, encryptedSuffix: encSuffix, macOnlyEncrypted: macOnly}
	for _, f := range []struct {
		name, src string
		dst       **regexp.Regexp
	}{
		{"unencrypted_regex", unencRE, &r.unencryptedRegex},
		{"encrypted_regex", encRE, &r.encryptedRegex},
		{"unencrypted_comment_regex", unencCommentRE, &r.unencryptedCommentRegex},
		{"encrypted_comment_regex", encCommentRE, &r.encryptedCommentRegex},
	} {
		if f.src == "" {
			continue
		}
		if len(f.src) > 4096 {
			return rules{}, fmt.Errorf("%s is longer than 4096 bytes", f.name)
		}
		re, err := regexp.Compile(f.src)
		if err != nil {
			return rules{}, fmt.Errorf("%s does not compile", f.name)
		}
		*f.dst = re
	}
	return r, nil
}

const defaultUnencryptedSuffix = "_unencrypted"

// metadataBranch renders md as sops writes it: keys sorted at every
// level, empty values left out as sops leaves them out.
func (md *metadata) branch() branch {
	var top branch
	add := func(k string, v any) { top = append(top, item{key: k, value: v}) }
	if len(md.groups) == 1 {
		for typ, keys := range groupByType(md.groups[0]) {
			add(typ, keys)
		}
	} else {
		var groups []any
		for _, g := range md.groups {
			byType := groupByType(g)
			var gb branch
			for typ, keys := range byType {
				gb = append(gb, item{key: typ, value: keys})
			}
			// sops always writes age and hc_vault in a group, empty or not.
			for _, t := range []string{KeyTypeAge, KeyTypeVault} {
				if _, ok := byType[t]; !ok {
					gb = append(gb, item{key: t, value: []any{}})
				}
			}
			sortBranch(gb)
			groups = append(groups, gb)
		}
		add("key_groups", groups)
	}
	add("lastmodified", md.lastModified.Format(time.RFC3339))
	add("mac", md.mac)
	add("version", md.version)
	if md.threshold != 0 {
		add("shamir_threshold", md.threshold)
	}
	if md.macOnlyEncrypted {
		add("mac_only_encrypted", true)
	}
	for _, f := range []struct{ k, v string }{
		{"unencrypted_suffix", md.unencryptedSuffix},
		{"encrypted_suffix", md.encryptedSuffix},
		{"unencrypted_regex", md.unencryptedRegex},
		{"encrypted_regex", md.encryptedRegex},
		{"unencrypted_comment_regex", md.unencryptedCommentRegex},
		{"encrypted_comment_regex", md.encryptedCommentRegex},
	} {
		if f.v != "" {
			add(f.k, f.v)
		}
	}
	sortBranch(top)
	return top
}

func groupByType(g []masterKey) map[string][]any {
	out := map[string][]any{}
	for _, k := range g {
		e := branch{{key: "enc", value: k.enc}}
		for _, f := range keyFields[k.typ] {
			e = append(e, item{key: f, value: k.fields[f]})
		}
		sortBranch(e)
		out[k.typ] = append(out[k.typ], e)
	}
	return out
}

func sortBranch(b branch) {
	slices.SortFunc(b, func(x, y item) int { return strings.Compare(x.key.(string), y.key.(string)) })
}
