package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/converge-dev/converge/secrets"
)

const fuzzToken = "hvs.FUZZTOKEN"

// FuzzDecodeResponse feeds hostile answers to the three decoders (read,
// list, login). It checks that they never panic, that every error wraps a
// sentinel the package documents (or names a status that has none), stays
// bounded, and never carries the token or a secret value, and that a
// successful read returns each string property's exact text.
func FuzzDecodeResponse(f *testing.F) {
	seeds := []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"data":{"data":{"k":"v","n":1},"metadata":{"version":1,"deletion_time":"","destroyed":false}}}`},
		{200, "application/json", `{"data":{"data":{"big":123456789012345678901234567890e999999,"neg":-0.0e-400}}}`},
		{200, "application/json", `{"data":{"data":{"deep":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}}}`},
		{200, "application/json", `{"data":{"data":{"k":"SECRET-1"},"metadata":{"version":"x"}}}`},
		{200, "application/json", `{"data":{"data":7}}`},
		{200, "application/json", `{"data":{"data":{"k":"\ud800SECRET"}}}`},
		{200, "application/json", `{"data":{"data":{"k":"a","k":"SECRET-dup"}}}`},
		{404, "application/json", `{"data":{"data":null,"metadata":{"deletion_time":"2020-01-01T00:00:00Z","version":2}}}`},
		{404, "application/json", `{"data":{"data":null,"metadata":{"destroyed":true,"version":3}}}`},
		{403, "application/json", `{"errors":["permission denied for hvs.FUZZTOKEN"]}`},
		{500, "application/json", `{"errors":["` + strings.Repeat("\x01e", 400) + `"]}`},
		{200, "text/html", `<html>SECRET</html>`},
		{200, "application/json", `{"data":{"keys":["a","b/","../x"]}}`},
		{200, "application/json", `{"auth":{"client_token":"hvs.x","lease_duration":99999999999999999,"renewable":true}}`},
		{200, "application/json", `{"auth":{"client_token":98765432,"lease_duration":-1}}`},
		{200, "application/json", `{"data":{"data":{"pin":98765432},"metadata":{"version":"98765432"}}}`},
		{200, "application/json", `{"data":{"keys":[98765432]}}`},
		{200, "application/json", `{"auth":{"client_token":"t","lease_duration":98765432999999999999999}}`},
		{200, "application/json", `{"data":{"data":{"k":"SECRET"}},"errors":"SECRET"}`},
		{200, "", `{"data":{"data":{"k":`},
		{302, "bad/;;", ``},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		a := answer{status: status, contentType: contentType, body: body}
		hide := []string{fuzzToken}
		plantedValue := valuesCarry(body, "SECRET") && !namesCarry(body, "SECRET")
		plantedNumber := valuesCarry(body, numberMarker) && !namesCarry(body, numberMarker)

		m, err := decodeRead(a, hide)
		if err == nil {
			if status/100 != 2 {
				t.Fatalf("read of a %d answer succeeded", status)
			}
			checkStrings(t, body, m)
		} else {
			checkError(t, status, err, plantedValue, plantedNumber)
		}
		if _, err := decodeList(a, hide); err != nil {
			checkError(t, status, err, plantedValue, plantedNumber)
		}
		if lease, err := decodeLogin(a, hide); err != nil {
			checkError(t, status, err, plantedValue, plantedNumber)
		} else if lease.Token == "" || lease.TTL < 0 {
			t.Fatalf("login succeeded with lease %+v", lease)
		}
	})
}

// numberMarker marks a secret held in a JSON number (a PIN, a numeric
// token), which encoding/json's own type errors would quote.
const numberMarker = "98765432"

func checkError(t *testing.T, status int, err error, plantedValue, plantedNumber bool) {
	t.Helper()
	text := err.Error()
	if strings.Contains(text, fuzzToken) {
		t.Fatalf("error carries the token: %s", text)
	}
	if plantedValue && strings.Contains(text, "SECRET") {
		t.Fatalf("error carries a secret value: %s", text)
	}
	if plantedNumber && strings.Contains(text, numberMarker) {
		t.Fatalf("error carries a secret number: %s", text)
	}
	if len(text) > 600 {
		t.Fatalf("error of %d bytes", len(text))
	}
	for _, s := range []error{ErrBadResponse, ErrForbidden, ErrUnavailable, ErrDeleted, ErrDestroyed, secrets.ErrNotFound} {
		if errors.Is(err, s) {
			return
		}
	}
	// A status with no sentinel (400, a redirect) is named first.
	if status/100 == 2 || !strings.HasPrefix(text, strconv.Itoa(status)+" ") {
		t.Fatalf("error wraps no sentinel: %s", text)
	}
}

// checkStrings compares each JSON string property with an independent
// decoding of the same body.
func checkStrings(t *testing.T, body []byte, m map[string][]byte) {
	t.Helper()
	var env struct {
		Data struct {
			Data map[string]any `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return // a number beyond float64 fails here but is fine as raw text
	}
	if len(env.Data.Data) != len(m) {
		t.Fatalf("decoded %d properties, encoding/json finds %d", len(m), len(env.Data.Data))
	}
	for k, v := range env.Data.Data {
		got, ok := m[k]
		if !ok {
			t.Fatalf("property %q missing", k)
		}
		switch v := v.(type) {
		case string:
			if string(got) != v {
				t.Fatalf("property %q: %q, want %q", k, got, v)
			}
		case nil:
			if len(got) != 0 {
				t.Fatalf("null property %q: %q", k, got)
			}
		default:
			if !json.Valid(got) {
				t.Fatalf("property %q is not JSON text: %q", k, got)
			}
		}
	}
}

// valuesCarry reports whether a JSON string value anywhere in body
// contains marker; namesCarry whether an object key or an "errors" entry
// (text Vault's answer may legitimately show) does. A body that is not
// JSON counts as carrying it in values and not in names.
func valuesCarry(body []byte, marker string) bool {
	v, err := decodeAny(body)
	if err != nil {
		return strings.Contains(string(body), marker)
	}
	return walk(v, func(s string, isName bool) bool { return !isName && strings.Contains(s, marker) })
}

func namesCarry(body []byte, marker string) bool {
	v, err := decodeAny(body)
	if err != nil {
		return false
	}
	if m, ok := v.(map[string]any); ok {
		if errs, ok := m["errors"].([]any); ok {
			for _, e := range errs {
				if s, ok := e.(string); ok && strings.Contains(s, marker) {
					return true
				}
			}
		}
	}
	return walk(v, func(s string, isName bool) bool { return isName && strings.Contains(s, marker) })
}

// decodeAny decodes body keeping numbers' text.
func decodeAny(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// walk calls hit on every string and number in v, object keys and
// "version" values (metadata an error may name) as names.
func walk(v any, hit func(s string, isName bool) bool) bool {
	switch v := v.(type) {
	case string:
		return hit(v, false)
	case json.Number:
		return hit(string(v), false)
	case []any:
		for _, e := range v {
			if walk(e, hit) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if hit(k, true) {
				return true
			}
			if k == "version" {
				if n, ok := e.(json.Number); ok && hit(string(n), true) {
					return true
				}
				if s, ok := e.(string); ok && hit(s, true) {
					return true
				}
				continue
			}
			if walk(e, hit) {
				return true
			}
		}
	}
	return false
}
