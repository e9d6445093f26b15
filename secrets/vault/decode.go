package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/converge-dev/converge/secrets"
)

// answer is one HTTP answer from Vault, its body already read within the
// size bound.
type answer struct {
	status      int
	contentType string
	body        []byte
}

// secretData is the decoded "data" of a KV v2 read.
type secretData struct {
	Data     map[string]json.RawMessage `json:"data"`
	Metadata *versionMetadata           `json:"metadata"`
}

type versionMetadata struct {
	Version      int64  `json:"version"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

// envelope is the part of every Vault answer the Provider reads.
type envelope struct {
	Data   json.RawMessage `json:"data"`
	Auth   *authBlock      `json:"auth"`
	Errors []string        `json:"errors"`
}

type authBlock struct {
	ClientToken   string `json:"client_token"`
	LeaseDuration int64  `json:"lease_duration"`
	Renewable     bool   `json:"renewable"`
}

// parse decodes a JSON answer. An answer that is not a JSON object is
// ErrBadResponse, named by its content type and size but never quoted: a
// proxy's page may hold anything.
func (a answer) parse() (envelope, error) {
	var env envelope
	body := bytes.TrimSpace(a.body)
	if len(body) == 0 || body[0] != '{' {
		return env, a.notJSON()
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return env, a.notJSON()
		}
		// JSON, but not Vault's shape. encoding/json's own text may quote
		// a number (a token, a value), so name only the field.
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return env, fmt.Errorf("%w: %d answer has a %s of the wrong JSON type", ErrBadResponse, a.status, typ.Field)
		}
		return env, fmt.Errorf("%w: %d answer is JSON of another shape", ErrBadResponse, a.status)
	}
	return env, nil
}

func (a answer) notJSON() error {
	ct := "no content type"
	if a.contentType != "" {
		if mt, _, err := mime.ParseMediaType(a.contentType); err == nil {
			ct = mt
		} else {
			ct = "a bad content type"
		}
	}
	return fmt.Errorf("%w: %d answer of %s (%d bytes) is not JSON", ErrBadResponse, a.status, ct, len(a.body))
}

// failure is the error of a non-2xx answer: its status, Vault's own
// message (bounded, with hide redacted) and the sentinel to branch on.
func (a answer) failure(hide []string) error {
	env, err := a.parse()
	msg := ""
	if err == nil {
		msg = message(env.Errors, hide)
	}
	var kind error
	switch {
	case a.status == http.StatusForbidden || a.status == http.StatusUnauthorized:
		kind = ErrForbidden
	case a.status == http.StatusNotFound:
		kind = secrets.ErrNotFound
	case a.status == http.StatusTooManyRequests || a.status >= 500:
		kind = ErrUnavailable
	}
	text := fmt.Sprintf("%d %s", a.status, http.StatusText(a.status))
	if msg != "" {
		text += ": " + msg
	}
	switch {
	case kind != nil:
		if !strings.Contains(strings.ToLower(msg), kind.Error()) {
			text += ": " + kind.Error()
		}
		return &statusError{text: text, kind: kind}
	case err != nil:
		// Not Vault's JSON and a status with no sentinel of its own.
		return fmt.Errorf("%s: %w", text, err)
	default:
		return errors.New(text)
	}
}

// statusError is the text of a refused request, which already says what
// its sentinel says.
type statusError struct {
	text string
	kind error
}

func (e *statusError) Error() string { return e.text }
func (e *statusError) Unwrap() error { return e.kind }

// decodeRead decodes the answer of a KV v2 read
// (GET /v1/<mount>/data/<path>) into the secret's properties. String
// values become their bytes, null an empty value, and any other JSON value
// its JSON text. A deleted or destroyed version is ErrDeleted or
// ErrDestroyed, wrapping secrets.ErrNotFound; hide lists strings no error
// may carry (the token).
func decodeRead(a answer, hide []string) (map[string][]byte, error) {
	if a.status == http.StatusNotFound {
		// Vault answers 404 for a deleted or destroyed version too, with
		// the version's metadata in the body.
		if env, err := a.parse(); err == nil {
			if sd, err := secretDataOf(env); err == nil && sd != nil {
				if err := versionGone(sd.Metadata); err != nil {
					return nil, err
				}
			}
		}
		return nil, a.failure(hide)
	}
	if a.status/100 != 2 {
		return nil, a.failure(hide)
	}
	env, err := a.parse()
	if err != nil {
		return nil, err
	}
	sd, err := secretDataOf(env)
	if err != nil {
		return nil, err
	}
	if sd == nil {
		return nil, fmt.Errorf("%w: %d answer has no data (is the mount KV version 2?)", ErrBadResponse, a.status)
	}
	if err := versionGone(sd.Metadata); err != nil {
		return nil, err
	}
	if sd.Data == nil {
		return nil, fmt.Errorf("%w: %d answer has no data.data (is the mount KV version 2?)", ErrBadResponse, a.status)
	}
	out := make(map[string][]byte, len(sd.Data))
	for k, raw := range sd.Data {
		v, err := value(raw)
		if err != nil {
			// Never quote raw: it is the secret.
			return nil, fmt.Errorf("%w: property %q is not a JSON value", ErrBadResponse, k)
		}
		out[k] = v
	}
	return out, nil
}

func secretDataOf(env envelope) (*secretData, error) {
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return nil, nil
	}
	var sd secretData
	if err := json.Unmarshal(env.Data, &sd); err != nil {
		return nil, fmt.Errorf("%w: data is not a KV version 2 secret", ErrBadResponse)
	}
	return &sd, nil
}

func versionGone(md *versionMetadata) error {
	switch {
	case md == nil:
		return nil
	case md.Destroyed:
		return fmt.Errorf("version %d is %w: %w", md.Version, ErrDestroyed, secrets.ErrNotFound)
	case md.DeletionTime != "":
		// Vault sets deletion_time in the future for a version that
		// expires (delete_version_after); it is deleted once that passes.
		if t, err := time.Parse(time.RFC3339Nano, md.DeletionTime); err == nil && t.After(time.Now()) {
			return nil
		}
		return fmt.Errorf("version %d is %w: %w", md.Version, ErrDeleted, secrets.ErrNotFound)
	}
	return nil
}

// value is a property's bytes: a JSON string's text, nothing for null,
// else the JSON text itself (compacted).
func value(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return nil, errors.New("empty")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case bytes.Equal(raw, []byte("null")):
		return []byte{}, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeList decodes the answer of a KV v2 list
// (GET /v1/<mount>/metadata/<path>?list=true): the names in the folder,
// sub-folders ending in "/". A 404 is an empty folder.
func decodeList(a answer, hide []string) ([]string, error) {
	if a.status == http.StatusNotFound {
		return nil, nil
	}
	if a.status/100 != 2 {
		return nil, a.failure(hide)
	}
	env, err := a.parse()
	if err != nil {
		return nil, err
	}
	var data struct {
		Keys []string `json:"keys"`
	}
	if len(env.Data) == 0 || json.Unmarshal(env.Data, &data) != nil {
		return nil, fmt.Errorf("%w: %d answer has no data.keys list", ErrBadResponse, a.status)
	}
	return data.Keys, nil
}

// decodeLogin decodes the answer of a login (POST /v1/auth/<mount>/login).
func decodeLogin(a answer, hide []string) (Lease, error) {
	if a.status/100 != 2 {
		return Lease{}, a.failure(hide)
	}
	env, err := a.parse()
	if err != nil {
		return Lease{}, err
	}
	if env.Auth == nil || env.Auth.ClientToken == "" {
		return Lease{}, fmt.Errorf("%w: %d answer has no auth.client_token", ErrBadResponse, a.status)
	}
	if env.Auth.LeaseDuration < 0 {
		return Lease{}, fmt.Errorf("%w: negative lease_duration", ErrBadResponse)
	}
	ttl := time.Duration(env.Auth.LeaseDuration) * time.Second
	if env.Auth.LeaseDuration > int64(maxTTL/time.Second) {
		ttl = maxTTL
	}
	return Lease{Token: env.Auth.ClientToken, TTL: ttl, Renewable: env.Auth.Renewable}, nil
}

// maxTTL caps a lease so that time arithmetic cannot overflow.
const maxTTL = 100 * 365 * 24 * time.Hour
