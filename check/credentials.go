package check

import (
	"regexp"
	"strings"
	"unicode"
)

// What a credential looks like, by its value alone.
var (
	awsKeyID   = regexp.MustCompile(`\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b`)
	privateKey = regexp.MustCompile(`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`)
	jwt        = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	// Tokens of well-known services: GitHub, GitLab, Slack.
	serviceToken = regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,})`)
)

var valuePatterns = []struct {
	re   *regexp.Regexp
	what string
}{
	{awsKeyID, "an AWS access key ID"},
	{privateKey, "a private key"},
	{jwt, "a JWT"},
	{serviceToken, "an access token"},
}

// credentialValue says what a value looks like ("a private key"), or ""
// when it does not look like a credential by itself.
func credentialValue(v string) string {
	for _, p := range valuePatterns {
		if p.re.MatchString(v) {
			return p.what
		}
	}
	return ""
}

// redactText replaces everything in s that looks like a credential.
func redact(s string) string {
	for _, p := range valuePatterns {
		s = p.re.ReplaceAllString(s, "[redacted]")
	}
	return s
}

// sensitiveWords end a key name that holds a credential.
var sensitiveWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"token": true, "secret": true, "apikey": true, "credential": true, "credentials": true,
}

// keyWords split a key name into lower-case words: "DB_PASSWORD",
// "dbPassword" and "db.password" are all ["db" "password"].
func keyWords(key string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

// credentialKey reports whether a key's name says it holds a
// credential: its last word is password, token, secret and the like,
// or it ends in "api key", "access key", "private key" or "secret key".
// Names that hold a reference ("existingSecret", "secretName",
// "tokenFile") do not.
func credentialKey(key string) bool {
	w := keyWords(key)
	if len(w) == 0 {
		return false
	}
	last := w[len(w)-1]
	if sensitiveWords[last] {
		return !(len(w) > 1 && (w[0] == "existing" || w[len(w)-2] == "use" || w[len(w)-2] == "enable"))
	}
	if last == "key" && len(w) > 1 {
		switch w[len(w)-2] {
		case "api", "access", "private", "secret", "signing", "encryption", "master":
			return true
		}
	}
	return false
}

// placeholder reports whether a value is no credential, whatever its key
// says: empty, a boolean, a reference to something else (${VAR},
// {{ .Values.x }}, <fill-me>), or sops ciphertext.
func placeholder(v string) bool {
	t := strings.TrimSpace(v)
	switch strings.ToLower(t) {
	case "", "true", "false", "null", "~", "changeme", "change-me", "redacted", "xxx", "none":
		return true
	}
	return strings.HasPrefix(t, "${") || strings.HasPrefix(t, "$(") || strings.Contains(t, "{{") ||
		strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") || strings.HasPrefix(t, "ENC[") ||
		strings.HasPrefix(t, "vault:") || strings.HasPrefix(t, "ref+") || strings.HasPrefix(t, "/") ||
		strings.HasPrefix(t, "secretref:")
}
