package check

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/converge-dev/converge/secrets/sops"
)

// PlaintextSecrets is the rule "secret-plaintext": a Secret manifest
// with data or stringData that is not SOPS-encrypted, and kustomize
// secretGenerator literals. SealedSecrets and ExternalSecrets are other
// kinds and pass. Findings name the keys, never the values.
func PlaintextSecrets() Rule { return NewRule(plaintextSecretsMeta, plaintextSecrets) }

var plaintextSecretsMeta = Meta{
	ID:       "secret-plaintext",
	Title:    "Secret manifest with plaintext data in Git",
	Severity: SeverityCritical,
	Section:  SectionSecrets,
	Fix:      "Encrypt the Secret with SOPS, seal it with kubeseal (SealedSecret), or reference an external store (ExternalSecret); then rotate the value: it stays in the Git history",
}

func plaintextSecrets(ctx context.Context, t *Target) ([]Finding, error) {
	files, err := t.Files(ctx)
	var out []Finding
	for _, f := range files {
		out = append(out, plaintextSecretFindings(f)...)
	}
	return out, err
}

// plaintextSecretFindings returns the secret-plaintext findings of one
// file: the snapshot's files here, the history's blobs in history.go.
func plaintextSecretFindings(f *File) []Finding {
	if len(f.Docs) == 0 || sops.IsEncrypted(f.Data, sops.FormatYAML) {
		return nil
	}
	var out []Finding
	for _, d := range f.Docs {
		if lookup(d.Root, "sops") != nil {
			continue
		}
		switch {
		case d.Kind == "Secret" && d.APIVersion == "v1":
			out = append(out, secretFindings(d)...)
		case d.Kind == "Kustomization" && strings.HasPrefix(d.APIVersion, "kustomize.config.k8s.io/"):
			out = append(out, generatorFindings(d)...)
		}
	}
	return out
}

func secretFindings(d *Document) []Finding {
	var keys []string
	line, col := 0, 0
	for _, field := range []string{"data", "stringData"} {
		m := lookup(d.Root, field)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" || field == "stringData" && placeholder(v.Value) ||
				strings.HasPrefix(v.Value, "ENC[") {
				continue
			}
			if line == 0 {
				line, col = k.Line, k.Column
			}
			keys = append(keys, k.Value)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return []Finding{at(plaintextSecretsMeta, d, line, col, "%s holds %s in plaintext (%s): it is not SOPS-encrypted, sealed or external",
		objectString(d.ID()), plural(len(keys), "key"), listKeys(keys))}
}

func generatorFindings(d *Document) []Finding {
	gens := lookup(d.Root, "secretGenerator")
	if gens == nil || gens.Kind != yaml.SequenceNode {
		return nil
	}
	var out []Finding
	for _, g := range gens.Content {
		lits := lookup(g, "literals")
		if lits == nil || lits.Kind != yaml.SequenceNode {
			continue
		}
		var keys []string
		var first *yaml.Node
		for _, l := range lits.Content {
			k, v, ok := strings.Cut(l.Value, "=")
			if l.Kind != yaml.ScalarNode || !ok || placeholder(v) {
				continue
			}
			if first == nil {
				first = l
			}
			keys = append(keys, k)
		}
		if first != nil {
			out = append(out, at(plaintextSecretsMeta, d, first.Line, first.Column,
				"secretGenerator %q holds %s as plaintext literals (%s)", scalar(g, "name"), plural(len(keys), "key"), listKeys(keys)))
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func listKeys(keys []string) string {
	if len(keys) > 5 {
		return strings.Join(keys[:5], ", ") + fmt.Sprintf(" and %d more", len(keys)-5)
	}
	return strings.Join(keys, ", ")
}

// Credentials is the rule "credential-in-config": values that look like
// credentials outside Secrets: in ConfigMaps, Helm values files, .env
// files, container env values, and (by their look alone: AWS keys,
// private keys, JWTs, service tokens) anywhere in YAML or in any text
// file. Findings point at the line and never hold the value.
func Credentials() Rule { return NewRule(credentialsMeta, credentials) }

var credentialsMeta = Meta{
	ID:       "credential-in-config",
	Title:    "Credential-looking value outside a Secret",
	Severity: SeverityHigh,
	Section:  SectionSecrets,
	Fix:      "Move the value into an encrypted or external Secret and reference it (secretKeyRef, existingSecret); rotate it",
}

func credentials(ctx context.Context, t *Target) ([]Finding, error) {
	files, err := t.Files(ctx)
	var out []Finding
	for _, f := range files {
		switch {
		case isDotenv(f.Path):
			if !sops.IsEncrypted(f.Data, sops.FormatDotenv) {
				out = append(out, dotenvFindings(f)...)
			}
		case len(f.Docs) > 0:
			if sops.IsEncrypted(f.Data, sops.FormatYAML) {
				continue
			}
			values := isHelmValues(f.Path)
			for _, d := range f.Docs {
				out = append(out, docCredentials(d, values)...)
			}
		case !isYAML(f.Path):
			out = append(out, textCredentials(f)...)
		}
	}
	return out, err
}

func isDotenv(p string) bool {
	b := path.Base(p)
	return b == ".env" || strings.HasSuffix(b, ".env") || strings.HasPrefix(b, ".env.")
}

func isHelmValues(p string) bool {
	b := strings.TrimSuffix(strings.TrimSuffix(path.Base(p), ".yaml"), ".yml")
	return b == "values" || strings.HasPrefix(b, "values-") || strings.HasPrefix(b, "values.") || strings.HasSuffix(b, "-values")
}

func docCredentials(d *Document, helmValues bool) []Finding {
	if lookup(d.Root, "sops") != nil {
		return nil
	}
	switch d.Kind {
	case "Secret", "SealedSecret", "ExternalSecret":
		return nil // secret-plaintext's, or encrypted, or references
	}
	var out []Finding
	where := "the Helm values"
	if d.Kind != "" {
		where = objectString(d.ID())
	}
	report := func(key, val *yaml.Node, line, col int, name, why string) {
		out = append(out, at(credentialsMeta, d, line, col, "%s: %s holds %s in plaintext", where, quoteKey(name), why))
	}
	check := func(key, val *yaml.Node, name string) {
		if val.Kind != yaml.ScalarNode {
			return
		}
		if what := credentialValue(val.Value); what != "" {
			line, col := valueLine(val, what)
			report(key, val, line, col, name, what)
			return
		}
		if credentialKey(name) && !placeholder(val.Value) {
			report(key, val, val.Line, val.Column, name, "what its name says is a credential")
			return
		}
		if d.Kind == "ConfigMap" && strings.Contains(val.Value, "\n") {
			for i, l := range strings.Split(val.Value, "\n") {
				if m := embeddedPair.FindStringSubmatch(l); m != nil && credentialKey(m[1]) && !placeholder(m[2]) {
					report(key, val, blockLine(val)+i, 0, name+"/"+m[1], "what its name says is a credential")
				}
			}
		}
	}
	walkPairs(d.Root, 0, func(m, key, val *yaml.Node) {
		switch {
		case d.Kind == "ConfigMap" && m == lookup(d.Root, "data"),
			d.Kind == "" && helmValues:
			check(key, val, key.Value)
		case key.Value == "value" && credentialKey(scalar(m, "name")):
			check(key, val, scalar(m, "name")) // a container's env
		case val.Kind == yaml.ScalarNode:
			if what := credentialValue(val.Value); what != "" {
				line, col := valueLine(val, what)
				report(key, val, line, col, key.Value, what)
			}
		}
	})
	return out
}

var embeddedPair = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z0-9_.-]+)\s*[=:]\s*(.*?)\s*$`)

func quoteKey(k string) string { return fmt.Sprintf("%q", k) }

// blockLine is the line a scalar's text starts on.
func blockLine(v *yaml.Node) int {
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return v.Line + 1
	}
	return v.Line
}

// valueLine returns the line of a scalar where what it looks like
// starts.
func valueLine(v *yaml.Node, what string) (int, int) {
	if !strings.Contains(v.Value, "\n") {
		return v.Line, v.Column
	}
	for i, l := range strings.Split(v.Value, "\n") {
		if credentialValue(l) == what {
			return blockLine(v) + i, 0
		}
	}
	return v.Line, v.Column
}

// walkPairs calls fn with every key and value of every mapping under n,
// not following aliases.
func walkPairs(n *yaml.Node, depth int, fn func(m, key, val *yaml.Node)) {
	if n == nil || depth > 100 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			fn(n, n.Content[i], n.Content[i+1])
			walkPairs(n.Content[i+1], depth+1, fn)
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			walkPairs(c, depth+1, fn)
		}
	}
}

func dotenvFindings(f *File) []Finding {
	var out []Finding
	d := &Document{File: f.Path}
	for i, l := range strings.Split(string(f.Data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		col := strings.Index(l, "=") + 2
		if what := credentialValue(v); what != "" {
			out = append(out, at(credentialsMeta, d, i+1, col, "%s holds %s in plaintext", quoteKey(k), what))
		} else if credentialKey(k) && !placeholder(v) {
			out = append(out, at(credentialsMeta, d, i+1, col, "%s holds what its name says is a credential in plaintext", quoteKey(k)))
		}
	}
	return out
}

// textCredentials finds what looks like a credential by itself in a
// file that is neither YAML nor .env (a committed key file).
func textCredentials(f *File) []Finding {
	var out []Finding
	d := &Document{File: f.Path}
	for i, l := range strings.Split(string(f.Data), "\n") {
		if what := credentialValue(l); what != "" {
			out = append(out, at(credentialsMeta, d, i+1, 0, "the file holds %s in plaintext", what))
		}
	}
	return out
}
