package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/web"
)

const marker = "tok-9d1b5a7c3e2f4d60"

func serve(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func measure(t *testing.T, spec map[string]any) (analysis.Result, error) {
	t.Helper()
	return web.New().Measure(context.Background(), analysis.Query{Metric: "error-rate", Kind: web.Kind, Spec: spec})
}

func TestDecodeJSONPath(t *testing.T) {
	body := `{"data":{"ok":0.97,"name":"canary","up":true,"list":[1,2,3],"none":null}}`
	cases := map[string]struct {
		path  string
		value any
		text  string
	}{
		"number is float64": {"{$.data.ok}", 0.97, "0.97"},
		"string":            {"{$.data.name}", "canary", `"canary"`},
		"bool":              {"{$.data.up}", true, "true"},
		"array":             {"{$.data.list}", []any{1.0, 2.0, 3.0}, "[1,2,3]"},
		"first of many":     {"{$.data.list[*]}", 1.0, "1"},
		"null":              {"{$.data.none}", nil, "null"},
		"default is whole":  {"", map[string]any{"data": map[string]any{"ok": 0.97, "name": "canary", "up": true, "list": []any{1.0, 2.0, 3.0}, "none": nil}}, ""},
	}
	s := serve(t, http.StatusOK, body)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := measure(t, map[string]any{"url": s.URL, "jsonPath": tc.path})
			require.NoError(t, err)
			assert.Equal(t, tc.value, res.Value)
			if tc.text != "" {
				assert.Equal(t, tc.text, res.Text)
			}
			assert.Empty(t, res.Phase)
		})
	}
}

func TestDecodeNotJSONIsText(t *testing.T) {
	s := serve(t, http.StatusOK, "<html>maintenance</html>")
	res, err := measure(t, map[string]any{"url": s.URL, "jsonPath": "{$.ok}"})
	require.NoError(t, err)
	assert.Equal(t, "<html>maintenance</html>", res.Value)
	assert.Empty(t, res.Phase, "not Successful outright, as Rollouts would have it: the conditions decide")
}

func TestDecodeRequest(t *testing.T) {
	var got struct{ method, auth, ctype, body string }
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.auth, got.ctype, got.body = r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)
		_, _ = io.WriteString(w, `{"v":1}`)
	}))
	defer s.Close()
	headers := []any{map[string]any{"key": "Authorization", "value": "Bearer " + marker}}
	_, err := measure(t, map[string]any{"url": s.URL, "method": "POST", "jsonBody": map[string]any{"q": "x"}, "headers": headers})
	require.NoError(t, err)
	assert.Equal(t, "POST", got.method)
	assert.Equal(t, "Bearer "+marker, got.auth)
	assert.Equal(t, "application/json", got.ctype)
	assert.JSONEq(t, `{"q":"x"}`, got.body)

	_, err = measure(t, map[string]any{"url": s.URL, "method": "PUT", "body": "raw"})
	require.NoError(t, err)
	assert.Equal(t, "PUT", got.method)
	assert.Equal(t, "raw", got.body)
}

func TestDecodeFaults(t *testing.T) {
	ok := serve(t, http.StatusOK, `{"data":{"ok":1}}`)
	cases := map[string]struct {
		spec map[string]any
		want string
		is   error
	}{
		"no url":           {map[string]any{"jsonPath": "{$}"}, "url is not an http", nil},
		"unknown field":    {map[string]any{"url": ok.URL, "jsonpath": "{$}"}, `unknown field "jsonpath"`, nil},
		"body with GET":    {map[string]any{"url": ok.URL, "body": "x"}, "only be used with POST or PUT", nil},
		"both bodies":      {map[string]any{"url": ok.URL, "method": "POST", "body": "x", "jsonBody": map[string]any{}}, "either Body or JSONBody", nil},
		"bad method":       {map[string]any{"url": ok.URL, "method": "DELETE"}, `method "DELETE"`, nil},
		"path not found":   {map[string]any{"url": ok.URL, "jsonPath": "{$.data.missing}"}, "missing is not found", nil},
		"bad path":         {map[string]any{"url": ok.URL, "jsonPath": "{$.data["}, "jsonPath", nil},
		"selects nothing":  {map[string]any{"url": ok.URL, "jsonPath": "{$.data[?(@.x==1)]}"}, "", nil},
		"503":              {map[string]any{"url": serve(t, 503, "down "+marker).URL}, "received non 2xx response code: 503", nil},
		"down":             {map[string]any{"url": "http://127.0.0.1:1/x"}, "connection refused", nil},
		"sigv4":            {map[string]any{"url": ok.URL, "authentication": map[string]any{"sigv4": map[string]any{"region": "x"}}}, "sigv4", nil},
		"oauth2 no secret": {map[string]any{"url": ok.URL, "authentication": map[string]any{"oauth2": map[string]any{"tokenUrl": ok.URL, "clientId": "c"}}}, "OAuth2", nil},
		"too large":        {map[string]any{"url": serve(t, 200, `"`+strings.Repeat("x", 2<<20)+`"`).URL}, "size limit", web.ErrResponseTooLarge},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := measure(t, tc.spec)
			require.Error(t, err)
			assert.Equal(t, analysis.Result{}, res)
			assert.Contains(t, err.Error(), `web metric "error-rate"`)
			assert.Contains(t, err.Error(), tc.want)
			var we *web.Error
			require.ErrorAs(t, err, &we)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestDecodeTimeout(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer s.Close()
	_, err := measure(t, map[string]any{"url": s.URL, "timeoutSeconds": 1})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "1s timeout")
}

// TestDecodeSecretsNeverInErrors is the marker test: the bearer token
// and the body never appear in an error, even when the server echoes
// them or the URL carries them.
func TestDecodeSecretsNeverInErrors(t *testing.T) {
	const bodySecret = "body-secret-5e8a2c"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"items":{"a":"`+r.Header.Get("Authorization")+` `+bodySecret+`"}}`)
	}))
	defer echo.Close()
	headers := []any{map[string]any{"key": "Authorization", "value": "Bearer " + marker}}
	for name, spec := range map[string]map[string]any{
		"filter on a map quotes it": {"url": echo.URL, "jsonPath": "{$.items[?(@.x==1)]}"},
		"index on a map":            {"url": echo.URL, "jsonPath": "{$.items[0]}"},
		"not found":                 {"url": echo.URL, "jsonPath": "{$.nothing}"},
		"user info and query":       {"url": "http://u:" + marker + "@127.0.0.1:1/?token=" + marker},
	} {
		t.Run(name, func(t *testing.T) {
			spec["headers"] = headers
			_, err := measure(t, spec)
			require.Error(t, err)
			for e := err; e != nil; e = errors.Unwrap(e) {
				assert.NotContains(t, e.Error(), marker)
				assert.NotContains(t, e.Error(), bodySecret)
			}
		})
	}
}

// canned answers every request with one body, in memory.
type canned []byte

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(c)), ContentLength: -1, Request: r}, nil
}

const fuzzLimit = 4096

// FuzzDecodeResponse feeds arbitrary answers and jsonPaths through the
// whole decoding path. Properties: no panic; a JSON answer's Text is the
// JSON encoding of its Value; a non-JSON answer is its own text; an
// answer over the limit fails with ErrResponseTooLarge; never a Phase;
// an error is an *Error that shows neither the token nor the body.
func FuzzDecodeResponse(f *testing.F) {
	for _, seed := range []struct{ body, path string }{
		{`{"data":{"ok":0.97}}`, "{$.data.ok}"},
		{`{"data":[1,2,{"x":"y"}]}`, "{$.data[2].x}"},
		{`{"data":{"a":"b"}}`, "{$.data[?(@.x==1)]}"},
		{`[1,2,3]`, "{$[1:2]}"},
		{`[1,2,3]`, "{$[-1:]}"},
		{`{"a":{"b":{"c":[true,null]}}}`, "{..c[*]}"},
		{`{"a":1}`, "{range .*}{@}{end}"},
		{`<html>no</html>`, "{$}"},
		{`1e400`, "{$}"},
		{`"` + strings.Repeat("x", fuzzLimit) + `"`, "{$}"},
		{`{"a":1}`, "{$.a"},
		{``, ""},
	} {
		f.Add([]byte(seed.body), seed.path)
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		p := web.New(web.WithHTTPClient(&http.Client{Transport: canned(body)}), web.WithMaxResponseBytes(fuzzLimit))
		res, err := p.Measure(context.Background(), analysis.Query{Metric: "fuzz", Spec: map[string]any{
			"url": "http://web.test/metric", "jsonPath": path,
			"headers": []any{map[string]any{"key": "Authorization", "value": "Bearer " + marker}},
		}})
		if len(body) > fuzzLimit {
			if !errors.Is(err, web.ErrResponseTooLarge) {
				t.Fatalf("%d-byte answer over the %d limit: err %v", len(body), fuzzLimit, err)
			}
			return
		}
		if err != nil {
			var we *web.Error
			if !errors.As(err, &we) || we.Metric != "fuzz" {
				t.Fatalf("error is not an *Error naming the metric: %v", err)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error shows the token: %v", err)
			}
			if len(body) >= 12 && !strings.Contains(path, string(body)) && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error shows the body: %v", err)
			}
			return
		}
		if res.Phase != "" {
			t.Fatalf("a provider gave a verdict: %s", res.Phase)
		}
		var data any
		if json.Unmarshal(body, &data) != nil {
			if res.Value != string(body) {
				t.Fatalf("non-JSON answer %q gave %#v", body, res.Value)
			}
			return
		}
		text, merr := json.Marshal(res.Value)
		if merr != nil || string(text) != res.Text {
			t.Fatalf("value %#v, text %q, marshal %q %v", res.Value, res.Text, text, merr)
		}
	})
}
