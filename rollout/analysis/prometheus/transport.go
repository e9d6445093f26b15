package prometheus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// answerTransport reads every answer's body, bounded, before the
// client decodes it: one that declares more than max bytes is refused
// before it is read, and one that streams more fails with
// ErrResponseTooLarge after max bytes, so a million-sample answer is
// never held in memory. It also requires Prometheus' envelope, which the
// client does not: a 2xx answer must say "status":"success" and a 400 or
// 422 one "status":"error"; the client would take either without a
// status for a success.
type answerTransport struct {
	next http.RoundTripper
	max  int64
}

func (t answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > t.max {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrResponseTooLarge, resp.ContentLength, t.max)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.max+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(body)) > t.max {
		return nil, fmt.Errorf("%w: limit %d bytes", ErrResponseTooLarge, t.max)
	}
	want := ""
	switch {
	case resp.StatusCode == http.StatusNoContent:
	case resp.StatusCode/100 == 2:
		want = "success"
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity:
		want = "error"
	}
	if want != "" {
		var envelope struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(body, &envelope) == nil && envelope.Status != want {
			return nil, fmt.Errorf("status %d answer without \"status\":%q: not a Prometheus API answer", resp.StatusCode, want)
		}
		// A body that is not JSON is left to the client, which says so.
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// headerTransport sets a block's headers on every request, as Rollouts'
// httpHeadersRoundTripper does (Set: a header replaces one of its name).
type headerTransport struct {
	next    http.RoundTripper
	headers []Header
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for _, h := range t.headers {
		r.Header.Set(h.Key, h.Value)
	}
	return t.next.RoundTrip(r)
}
