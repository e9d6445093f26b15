package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// fetch sends the request for key and decodes the answer. where names
// the request ("webhook GET https://host/path") for the caller's errors.
func (p *Provider) fetch(ctx context.Context, key string) (result, string, error) {
	if key == "" || key == "." || key == ".." {
		return result{}, "webhook", fmt.Errorf("webhook: key %q: %w", key, ErrInvalidKey)
	}
	u, err := p.requestURL(key)
	if err != nil {
		return result{}, "webhook", fmt.Errorf("webhook: key %q: %w", key, err)
	}
	where := "webhook " + p.method + " " + redact(u)
	fail := func(format string, args ...any) (result, string, error) {
		return result{}, where, fmt.Errorf("%s: key %q: "+format, append([]any{where, key}, args...)...)
	}

	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var body io.Reader
	if p.body != nil {
		b, err := p.requestBody(key)
		if err != nil {
			return fail("%w", err)
		}
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, u.String(), body)
	if err != nil {
		return fail("build the request: %w", errors.Unwrap(err)) // *url.Error quotes the URL
	}
	req.Header.Set("Accept", "application/json")
	if p.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range p.headers {
		v := h.value
		if h.fn != nil {
			if v, err = h.fn(ctx); err != nil {
				return fail("header %q: %w", h.name, err)
			}
			if err := checkHeader(h.name, v); err != nil {
				return fail("%w", err)
			}
		}
		req.Header.Set(h.name, v)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		return fail("%w", p.transportError(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused; never read it
		// into the error.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return fail("%w", &StatusError{StatusCode: resp.StatusCode, NotFound: slices.Contains(p.notFound, resp.StatusCode)})
	}
	if resp.ContentLength > p.maxBody {
		return fail("%w: Content-Length %d, at most %d", ErrTooLarge, resp.ContentLength, p.maxBody)
	}
	if isHTML(resp.Header.Get("Content-Type")) {
		return fail("%w: Content-Type %q (a login page or a proxy's error?)", ErrNotJSON, mediaType(resp.Header.Get("Content-Type")))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBody+1))
	if err != nil {
		return fail("read the answer: %w", p.transportError(ctx, err))
	}
	if int64(len(data)) > p.maxBody {
		return fail("%w: more than %d bytes", ErrTooLarge, p.maxBody)
	}
	r, err := decode(data, p.resultPath)
	if err != nil {
		return fail("%w", err)
	}
	return r, where, nil
}

// transportError describes a failed exchange without the *url.Error
// wrapper, whose text quotes the whole URL (query and credentials too).
func (p *Provider) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the deadline (timeout %s): %w", p.timeout, context.DeadlineExceeded)
	}
	if safeTransportError(err) {
		return err
	}
	// net/http quotes what the server sent in its parse errors
	// ("malformed HTTP response \"...\"", "malformed MIME header line: ...").
	return errors.New("the server's answer is not valid HTTP")
}

// safeTransportError reports whether err's text can hold no byte the
// server sent: network, DNS, TLS and certificate errors, a closed
// connection, a context's end.
func safeTransportError(err error) bool {
	var (
		netErr    net.Error
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &netErr), errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &certErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return err.Error() == "http: server gave HTTP response to HTTPS client"
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "unparsable"
	}
	return mt
}

func isHTML(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "text/html" || mt == "application/xhtml+xml"
}
