// Package webhook is a [secrets.Provider] over any HTTP endpoint that
// answers JSON, as External Secrets' webhook provider is: the key goes into
// a URL template (and, for POST, a body template), and a result path picks
// the entry out of the answer.
//
//	p, err := webhook.New("https://secrets.example/v1/{{ .key }}",
//		webhook.WithHeader("Authorization", "Bearer "+token),
//		webhook.WithResultPath("$.data"))
//	password, err := p.Value(ctx, "db", "password")
//
// # Result paths
//
// [WithResultPath] takes a JSON Pointer (RFC 6901, "/data/db~1main") or a
// simple dotted path ("$.data", "data.secret", "$.items[0].value"); the
// fields of the object it selects are the entry's properties. A scalar
// result is a single value, which Value returns for an empty property.
//
// # Faults
//
// Every error names the method, the URL (without user information or
// query, "?REDACTED") and the key, and never a header value or a byte of
// the answer's body: a refused connection or a timeout passes the
// transport's error on, a non-2xx answer is a [*StatusError] with its code
// only, an HTML or non-JSON answer wraps [ErrNotJSON], a body over the
// bound [ErrTooLarge], and a result path the answer lacks wraps
// secrets.ErrNotFound. Redirects are not followed unless the host's
// [http.Client] does so.
//
// A Provider caches nothing: every Map and Value is one request.
package webhook
