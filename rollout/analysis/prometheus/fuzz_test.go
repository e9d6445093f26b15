package prometheus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// canned answers every request with one body, in memory.
type canned struct {
	status int
	body   []byte
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: -1, Request: r}, nil
}

const fuzzLimit = 4096

// FuzzDecodeResponse feeds arbitrary answers through the whole decoding
// path (the client's JSON decoding, the size limit, Rollouts' shaping).
// Properties: no panic; a success is only ever a float64 or a []float64
// whose Text is Prometheus' formatting of it, from valid JSON within the
// limit, with no Phase; an answer over the limit fails with
// ErrResponseTooLarge; every error is an *Error naming the metric and
// never shows the header's token.
func FuzzDecodeResponse(f *testing.F) {
	for _, seed := range []string{
		success("vector", `[{"metric":{"a":"1"},"value":[1,"0.97"]},{"metric":{},"value":[1,"0.98"]}]`),
		success("vector", `[]`),
		success("scalar", `[1,"NaN"]`),
		success("scalar", `[1,"+Inf"]`),
		success("matrix", `[{"metric":{},"values":[[1,"1"],[2,"-Inf"]]}]`),
		success("string", `[1,"hello"]`),
		success("vector", `[{"metric":{},"histogram":[1,{"count":"1","sum":"1","buckets":[[0,"0","1","1"]]}]}]`),
		success("vector", `[null]`),
		success("matrix", `[null,{"values":null}]`),
		`{"status":"error","errorType":"bad_data","error":"Bearer ` + marker + `"}`,
		`{"status":"success","warnings":["w"],"data":{"resultType":"scalar","result":[1,"1"]}}`,
		"<html><body>Sign in</body></html>",
		success("vector", `[{"metric":{},"value":[1,"0.9`),
		strings.Repeat(" ", fuzzLimit) + success("scalar", `[1,"1"]`),
		"",
	} {
		f.Add(200, []byte(seed))
	}
	f.Add(400, []byte(`{"status":"error","errorType":"bad_data","error":"x"}`))
	f.Add(422, []byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
	f.Add(503, []byte("<html>down</html>"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		p := prometheus.New(
			prometheus.WithHTTPClient(&http.Client{Transport: canned{status: status, body: body}}),
			prometheus.WithMaxResponseBytes(fuzzLimit))
		res, err := p.Measure(context.Background(), analysis.Query{Metric: "fuzz", Spec: map[string]any{
			"address": "http://prometheus.test", "query": "up",
			"headers": []any{map[string]any{"key": "Authorization", "value": "Bearer " + marker}},
		}})
		if len(body) > fuzzLimit && !errors.Is(err, prometheus.ErrResponseTooLarge) {
			t.Fatalf("%d-byte answer over the %d limit: err %v", len(body), fuzzLimit, err)
		}
		if err != nil {
			var pe *prometheus.Error
			if !errors.As(err, &pe) || pe.Metric != "fuzz" {
				t.Fatalf("error is not an *Error naming the metric: %v", err)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error shows the token: %v", err)
			}
			if res.Value != nil || res.Text != "" || res.Phase != "" {
				t.Fatalf("a failure with a result: %+v", res)
			}
			return
		}
		if !json.Valid(body) || status/100 != 2 {
			t.Fatalf("success from status %d, body %q", status, body)
		}
		if res.Phase != "" {
			t.Fatalf("a provider gave a verdict: %s", res.Phase)
		}
		switch v := res.Value.(type) {
		case float64:
			if res.Text != strconv.FormatFloat(v, 'f', -1, 64) {
				t.Fatalf("scalar %v, text %q", v, res.Text)
			}
		case []float64:
			texts := make([]string, len(v))
			for i, x := range v {
				texts[i] = strconv.FormatFloat(x, 'f', -1, 64)
			}
			if want := "[" + strings.Join(texts, ",") + "]"; res.Text != want {
				t.Fatalf("vector %v, text %q, want %q", v, res.Text, want)
			}
		default:
			t.Fatalf("value of type %T", res.Value)
		}
	})
}
