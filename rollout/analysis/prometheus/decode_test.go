package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/converge-dev/converge/rollout/analysis"
	"github.com/converge-dev/converge/rollout/analysis/prometheus"
)

// marker is a bearer token no error may show.
const marker = "tok-3f9c1e0b7d2a4c58"

func query(addr, q string, extra map[string]any) analysis.Query {
	spec := map[string]any{"address": addr, "query": q}
	for k, v := range extra {
		spec[k] = v
	}
	return analysis.Query{Metric: "success-rate", Kind: prometheus.Kind, Spec: spec}
}

// answer serves body with status for every request.
func answer(t *testing.T, status int, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func success(resultType, result string) string {
	return `{"status":"success","data":{"resultType":"` + resultType + `","result":` + result + `}}`
}

func TestDecodeShapes(t *testing.T) {
	cases := map[string]struct {
		reason string
		body   string
		value  any
		text   string
	}{
		"vector": {
			reason: "a vector is []float64 and Rollouts' [a,b] text",
			body:   success("vector", `[{"metric":{"a":"1"},"value":[1,"0.97"]},{"metric":{"a":"2"},"value":[1,"0.98"]}]`),
			value:  []float64{0.97, 0.98}, text: "[0.97,0.98]",
		},
		"empty vector": {
			reason: "an empty vector is an empty slice: conditions decide",
			body:   success("vector", `[]`),
			value:  []float64{}, text: "[]",
		},
		"scalar": {
			reason: "a scalar is a float64",
			body:   success("scalar", `[1,"0.97"]`),
			value:  0.97, text: "0.97",
		},
		"matrix": {
			reason: "a matrix is flattened, every sample of every series, as Rollouts does",
			body:   success("matrix", `[{"metric":{},"values":[[1,"1"],[2,"2"]]},{"metric":{"b":"x"},"values":[[1,"3"]]}]`),
			value:  []float64{1, 2, 3}, text: "[1,2,3]",
		},
		"large and small": {
			reason: "formatting is strconv 'f' -1 as model.SampleValue.String",
			body:   success("vector", `[{"metric":{},"value":[1,"1e21"]},{"metric":{},"value":[1,"0.000001"]}]`),
			value:  []float64{1e21, 0.000001}, text: "[1000000000000000000000,0.000001]",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := answer(t, http.StatusOK, tc.body)
			res, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
			require.NoError(t, err, tc.reason)
			assert.Equal(t, tc.value, res.Value, tc.reason)
			assert.Equal(t, tc.text, res.Text, tc.reason)
			assert.Empty(t, res.Phase, "a provider never gives a verdict")
			assert.Equal(t, "up", res.Metadata[prometheus.MetadataQuery])
		})
	}
}

func TestDecodeNaNAndInfPassThrough(t *testing.T) {
	s := answer(t, http.StatusOK, success("vector", `[{"metric":{},"value":[1,"NaN"]},{"metric":{},"value":[1,"+Inf"]},{"metric":{},"value":[1,"-Inf"]}]`))
	res, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
	require.NoError(t, err)
	assert.Equal(t, "[NaN,+Inf,-Inf]", res.Text)
	v := res.Value.([]float64)
	require.Len(t, v, 3)
	assert.True(t, v[0] != v[0], "NaN")
	assert.Greater(t, v[1], 1e308)
	assert.Less(t, v[2], -1e308)

	s = answer(t, http.StatusOK, success("scalar", `[1,"+Inf"]`))
	res, err = prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
	require.NoError(t, err)
	assert.Equal(t, "+Inf", res.Text)
}

func TestDecodeWarningsInMetadata(t *testing.T) {
	s := answer(t, http.StatusOK, `{"status":"success","warnings":["a","b"],"data":{"resultType":"scalar","result":[1,"1"]}}`)
	res, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
	require.NoError(t, err)
	assert.Equal(t, `"a", "b"`, res.Metadata[prometheus.MetadataWarnings])
}

func TestDecodeFaults(t *testing.T) {
	cases := map[string]struct {
		status int
		body   string
		want   string
	}{
		"string result":      {http.StatusOK, success("string", `[1,"hello"]`), `unexpected value type "string"`},
		"html page":          {http.StatusOK, "<html><body>Login</body></html>", "bad_response"},
		"html bad gateway":   {http.StatusBadGateway, "<html>502 Bad Gateway</html>", "server error: 502"},
		"truncated json":     {http.StatusOK, success("vector", `[{"metric":{},"value":[1,"0.9`)[:70], "bad_response"},
		"prometheus error":   {http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`, "parse error"},
		"empty body":         {http.StatusOK, "", "bad_response"},
		"no result type":     {http.StatusOK, `{"status":"success","data":{}}`, "unexpected value type"},
		"value not numeric":  {http.StatusOK, success("scalar", `[1,"abc"]`), ""},
		"422 without status": {http.StatusUnprocessableEntity, `{"data":{"resultType":"scalar","result":[0,"1"]}}`, "not a Prometheus API answer"},
		"200 without status": {http.StatusOK, `{"data":{"resultType":"scalar","result":[0,"1"]}}`, "not a Prometheus API answer"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := answer(t, tc.status, tc.body)
			res, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
			require.Error(t, err)
			assert.Equal(t, analysis.Result{}, res)
			var pe *prometheus.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "success-rate", pe.Metric)
			assert.Equal(t, s.URL, pe.Address)
			assert.Contains(t, err.Error(), `prometheus metric "success-rate" at `+s.URL)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	cases := map[string]struct {
		spec map[string]any
		want string
		is   error
	}{
		"unknown field":    {map[string]any{"address": "http://x", "query": "up", "querry": "up"}, `unknown field "querry"`, nil},
		"sigv4":            {map[string]any{"address": "http://x", "query": "up", "authentication": map[string]any{"sigv4": map[string]any{"region": "eu-west-1"}}}, "sigv4", prometheus.ErrSigV4Unsupported},
		"negative timeout": {map[string]any{"address": "http://x", "query": "up", "timeout": -1}, "timeout must be a positive", nil},
		"zero timeout":     {map[string]any{"address": "http://x", "query": "up", "timeout": 0}, "timeout must be a positive", nil},
		"no address":       {map[string]any{"query": "up"}, "prometheus address is not configured", nil},
		"bad address":      {map[string]any{"address": "prometheus:9090", "query": "up"}, "not in URL format", nil},
		"no query":         {map[string]any{"address": "http://x"}, "query is empty", nil},
		"oauth2 no secret": {map[string]any{"address": "http://x", "query": "up", "authentication": map[string]any{"oauth2": map[string]any{"tokenUrl": "http://t", "clientId": "c"}}}, "needs clientId and clientSecret", nil},
		"bad range start":  {map[string]any{"address": "http://127.0.0.1:1", "query": "up", "rangeQuery": map[string]any{"start": "yesterday(", "end": "now()", "step": "1m"}}, "rangeQuery.start", nil},
		"bad range step":   {map[string]any{"address": "http://127.0.0.1:1", "query": "up", "rangeQuery": map[string]any{"start": "now()", "end": "now()", "step": "often"}}, "rangeQuery.step", nil},
		"range end first":  {map[string]any{"address": "http://127.0.0.1:1", "query": "up", "rangeQuery": map[string]any{"start": "now()", "end": `now() - duration("1h")`, "step": "1m"}}, "before rangeQuery.start", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := prometheus.New().Measure(context.Background(), analysis.Query{Metric: "m", Spec: tc.spec})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), `prometheus metric "m"`)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestDecodeDefaultAddressAndHeaders(t *testing.T) {
	var got atomic.Value
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Scope-OrgID") + "|" + r.URL.Path)
		_, _ = io.WriteString(w, success("scalar", `[1,"1"]`))
	}))
	defer s.Close()
	p := prometheus.New(prometheus.WithAddress(s.URL + "/prom/"))
	_, err := p.Measure(context.Background(), analysis.Query{Metric: "m", Spec: map[string]any{
		"query": "up",
		"headers": []any{
			map[string]any{"key": "Authorization", "value": "Bearer " + marker},
			map[string]any{"key": "X-Scope-OrgID", "value": "team-a"},
		},
	}})
	require.NoError(t, err)
	assert.Equal(t, "Bearer "+marker+"|team-a|/prom/api/v1/query", got.Load())
}

func TestDecodeOAuth2(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if user != "client" || pass != marker {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at-1","token_type":"bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, success("scalar", `[1,"1"]`))
	}))
	defer s.Close()
	auth := func(secret string) map[string]any {
		return map[string]any{"oauth2": map[string]any{"tokenUrl": tokens.URL, "clientId": "client", "clientSecret": secret}}
	}
	res, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", map[string]any{"authentication": auth(marker)}))
	require.NoError(t, err)
	assert.Equal(t, 1.0, res.Value)
	_, err = prometheus.New().Measure(context.Background(), query(s.URL, "up", map[string]any{"authentication": auth(marker + "-wrong")}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), marker)
}

func TestDecodeTimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	start := time.Now()
	_, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", map[string]any{"timeout": 1}))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "no answer within the 1s timeout")
	assert.Less(t, time.Since(start), 5*time.Second)

	_, err = prometheus.New(prometheus.WithTimeout(200*time.Millisecond)).Measure(context.Background(), query(s.URL, "up", nil))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// millionSamples streams a vector of n samples without a Content-Length,
// counting in written the samples it could send.
func millionSamples(n int, written *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		for i := range n {
			if i > 0 {
				_, _ = io.WriteString(w, ",")
			}
			if _, err := fmt.Fprintf(w, `{"metric":{"pod":"p%d"},"value":[1,"0.99"]}`, i); err != nil {
				return // the client stopped reading
			}
			written.Add(1)
		}
		_, _ = io.WriteString(w, "]}}")
	}
}

func TestDecodeMillionSamplesBounded(t *testing.T) {
	const n = 1_000_000
	var written atomic.Int64
	s := httptest.NewServer(millionSamples(n, &written))
	defer s.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
	// The body is ~45 MB; the default limit is 16 MiB. Reading stops at
	// the limit: the server could not send most of the answer, and far
	// less than decoding it would take was allocated (client and server,
	// with -race).
	s.Close()
	assert.Less(t, written.Load(), int64(n/2))
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(160<<20)) // decoding it all would take several times more

	// A smaller limit, and a small answer within it.
	small := httptest.NewServer(millionSamples(10, &written))
	defer small.Close()
	res, err := prometheus.New(prometheus.WithMaxResponseBytes(1<<10)).Measure(context.Background(), query(small.URL, "up", nil))
	require.NoError(t, err)
	assert.Len(t, res.Value, 10)
	_, err = prometheus.New(prometheus.WithMaxResponseBytes(100)).Measure(context.Background(), query(small.URL, "up", nil))
	assert.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
}

func TestDecodeDeclaredOversizeRefusedUnread(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000000")
		_, _ = io.WriteString(w, "{")
	}))
	defer s.Close()
	_, err := prometheus.New().Measure(context.Background(), query(s.URL, "up", nil))
	assert.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
}

// TestDecodeTokenNeverInErrors is the marker test: whatever fails, and
// even when the server echoes the request's headers, no error shows the
// bearer token.
func TestDecodeTokenNeverInErrors(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch r.URL.Query().Get("mode") {
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"invalid token `+strings.TrimPrefix(auth, "Bearer ")+` in `+auth+`"}`)
		}
	}))
	defer echo.Close()
	html := answer(t, http.StatusOK, "<html>Bearer "+marker+"</html>")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		<-r.Context().Done()
	}))
	defer slow.Close()
	headers := []any{map[string]any{"key": "Authorization", "value": "Bearer " + marker}}
	for name, addr := range map[string]string{
		"echoed in an API error": echo.URL,
		"echoed in HTML":         html.URL,
		"slow":                   slow.URL,
		"down":                   "http://127.0.0.1:1",
		"user info":              "http://user:" + marker + "@127.0.0.1:1",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := prometheus.New().Measure(context.Background(), query(addr, "up", map[string]any{"headers": headers, "timeout": 1}))
			require.Error(t, err)
			assert.NotContains(t, err.Error(), marker)
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				assert.NotContains(t, e.Error(), marker, "an unwrapped cause shows it")
			}
		})
	}
}

func TestDecodeCanceledContext(t *testing.T) {
	s := answer(t, http.StatusOK, success("scalar", `[1,"1"]`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := prometheus.New().Measure(ctx, query(s.URL, "up", nil))
	assert.ErrorIs(t, err, context.Canceled)
}

func listen(t *testing.T, s *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + l.Addr().String()
}
