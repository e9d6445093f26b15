package promote

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// ErrInvalidCredentials: the credentials given cannot be used (two forms
// at once, a Docker config that does not parse). The error never carries
// a secret value.
var ErrInvalidCredentials = errors.New("invalid registry credentials")

// Credentials authenticate an [ImageRepository] to its registry, given as
// values (read from a Secret by the host, never from the process's
// environment or ~/.docker). The zero value is anonymous. Set at most one
// form:
//
//   - Username and Password: HTTP basic, as `docker login` (and a
//     registry's token endpoint, when it challenges with Bearer).
//   - Token: a registry bearer token, sent as "Authorization: Bearer".
//   - DockerConfigJSON: a Docker config JSON document, the
//     .dockerconfigjson key of a kubernetes.io/dockerconfigjson Secret
//     ({"auths": {"ghcr.io": {"auth": "..."}}}). The entry for the
//     repository's registry is used; see [Credentials.DockerConfigJSON].
//
// Credentials never appear in an error's text.
type Credentials struct {
	Username string
	Password string
	Token    string
	// DockerConfigJSON is matched by registry host, without regard to
	// case: a key may carry a scheme ("https://ghcr.io") and a path
	// ("ghcr.io/org"), which then scopes the entry to repositories under
	// that path; the longest matching path wins. docker.io,
	// index.docker.io, registry-1.docker.io and
	// "https://index.docker.io/v1/" all name Docker Hub. An entry gives
	// "username" and "password", or "auth" (base64 of user:password, which
	// wins), or "registrytoken" (a bearer token) or "identitytoken" (an
	// OAuth2 refresh token). A registry with no entry is read anonymously,
	// as the kubelet does; wildcard keys (*.gcr.io) match nothing.
	DockerConfigJSON []byte
}

// IsAnonymous reports whether c carries no credential.
func (c Credentials) IsAnonymous() bool {
	return c.Username == "" && c.Password == "" && c.Token == "" && len(c.DockerConfigJSON) == 0
}

// validate checks that at most one form is set.
func (c Credentials) validate() error {
	n := 0
	if c.Username != "" || c.Password != "" {
		n++
		if c.Username == "" || c.Password == "" {
			return fmt.Errorf("%w: basic credentials need both a username and a password", ErrInvalidCredentials)
		}
	}
	if c.Token != "" {
		n++
	}
	if len(c.DockerConfigJSON) > 0 {
		n++
		if _, err := parseDockerConfig(c.DockerConfigJSON); err != nil {
			return err
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: set one of username/password, token or a Docker config, not several", ErrInvalidCredentials)
	}
	return nil
}

// authenticator returns the authenticator for a repository on registry.
func (c Credentials) authenticator(registry, repository string) (authn.Authenticator, error) {
	switch {
	case c.Username != "":
		return &authn.Basic{Username: c.Username, Password: c.Password}, nil
	case c.Token != "":
		return &authn.Bearer{Token: c.Token}, nil
	case len(c.DockerConfigJSON) > 0:
		cfg, err := parseDockerConfig(c.DockerConfigJSON)
		if err != nil {
			return nil, err
		}
		if a, ok := cfg.lookup(registry, repository); ok {
			return authn.FromConfig(a.config()), nil
		}
	}
	return authn.Anonymous, nil
}

// secrets returns the values an error text must not show: every secret
// of at least minSecret bytes, and their encodings.
func (c Credentials) secrets() []string {
	var out []string
	add := func(s ...string) {
		for _, v := range s {
			if len(v) >= minSecret {
				out = append(out, v)
			}
		}
	}
	add(c.Password, c.Token)
	if c.Username != "" && c.Password != "" {
		add(base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password)))
	}
	if len(c.DockerConfigJSON) > 0 {
		if cfg, err := parseDockerConfig(c.DockerConfigJSON); err == nil {
			for _, e := range cfg.entries {
				add(e.auth.Password, e.auth.RegistryToken, e.auth.IdentityToken, e.rawAuth)
			}
		}
	}
	return out
}

// minSecret is the shortest secret that errors redact: a shorter one
// would mangle every word it occurs in and protects little.
const minSecret = 4

// dockerAuth is one entry of a Docker config's auths.
type dockerAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

func (a dockerAuth) config() authn.AuthConfig {
	return authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
}

type dockerEntry struct {
	key, host, path string
	auth            dockerAuth
	rawAuth         string
}

// dockerConfig is a parsed Docker config JSON document.
type dockerConfig struct{ entries []dockerEntry }

// parseDockerConfig reads a Docker config JSON document's auths. Its
// errors name keys, never values.
func parseDockerConfig(data []byte) (dockerConfig, error) {
	var doc struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return dockerConfig{}, fmt.Errorf("%w: docker config JSON does not parse: %s", ErrInvalidCredentials, jsonErrorText(err))
	}
	if doc.Auths == nil {
		return dockerConfig{}, fmt.Errorf("%w: docker config JSON has no \"auths\" object", ErrInvalidCredentials)
	}
	var cfg dockerConfig
	for key, raw := range doc.Auths {
		var a dockerAuth
		if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return dockerConfig{}, fmt.Errorf("%w: docker config auths[%q]: %s", ErrInvalidCredentials, clip(key), jsonErrorText(err))
		}
		e := dockerEntry{key: key, auth: a, rawAuth: a.Auth}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
			if err != nil {
				return dockerConfig{}, fmt.Errorf("%w: docker config auths[%q].auth is not base64", ErrInvalidCredentials, clip(key))
			}
			user, pass, ok := strings.Cut(string(dec), ":")
			if !ok {
				return dockerConfig{}, fmt.Errorf("%w: docker config auths[%q].auth is not base64 of user:password", ErrInvalidCredentials, clip(key))
			}
			e.auth.Username, e.auth.Password = user, pass
		}
		e.host, e.path = splitDockerKey(key)
		if e.host == "" {
			continue
		}
		cfg.entries = append(cfg.entries, e)
	}
	// Map order is random: sort so that equal candidates resolve the same
	// way every time.
	sort.Slice(cfg.entries, func(i, j int) bool { return cfg.entries[i].key < cfg.entries[j].key })
	return cfg, nil
}

// jsonErrorText describes a JSON error without quoting the document: a
// syntax error's text names a character, a type error its field.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q: a JSON %s where a %s belongs", clip(typ.Field), typ.Value, typ.Type)
	}
	return "not a JSON object"
}

// splitDockerKey reads a Docker config key ("https://ghcr.io/org/",
// "localhost:5000", "docker.io") into a lower-case host and a path.
func splitDockerKey(key string) (host, path string) {
	k := strings.TrimSpace(key)
	lower := strings.ToLower(k)
	for _, scheme := range []string{"https://", "http://"} {
		if strings.HasPrefix(lower, scheme) {
			k = k[len(scheme):]
			break
		}
	}
	host, path, _ = strings.Cut(k, "/")
	host = canonicalHost(host)
	path = strings.Trim(path, "/")
	if host == canonicalHost("docker.io") && (path == "v1" || path == "v2") {
		path = "" // "https://index.docker.io/v1/" is Docker Hub's key, not a path
	}
	return host, path
}

// canonicalHost lower-cases host and names Docker Hub as
// go-containerregistry does.
func canonicalHost(host string) string {
	host = strings.ToLower(host)
	switch host {
	case "docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return host
}

// lookup returns the entry for a repository (its path on the registry,
// "org/app") on registry, the one with the longest matching path.
func (c dockerConfig) lookup(registry, repository string) (dockerAuth, bool) {
	registry = canonicalHost(registry)
	best := -1
	for i, e := range c.entries {
		if e.host != registry {
			continue
		}
		if e.path != "" && repository != e.path && !strings.HasPrefix(repository, e.path+"/") {
			continue
		}
		if best < 0 || len(e.path) > len(c.entries[best].path) {
			best = i
		}
	}
	if best < 0 {
		return dockerAuth{}, false
	}
	return c.entries[best].auth, true
}
