package helm

import (
	"context"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/converge-dev/converge/render"
)

// TemplateError is a chart's template failing to parse or execute. Its
// message names the template and the position only; Detail holds Helm's
// own message, which may quote values (a "fail" or "required" message, an
// argument in "error calling ...") and so is kept out of Error() for
// logs. A host may show Detail to the chart's owner deliberately.
type TemplateError struct {
	// Location is "chart/templates/file.yaml:line[:column]", when Helm
	// gives one.
	Location string
	// Reason is a short, value-free description.
	Reason string
	// Detail is Helm's full message. It is not part of Error().
	Detail string
}

func (e *TemplateError) Error() string {
	if e.Location == "" {
		return "template: " + e.Reason
	}
	return fmt.Sprintf("template %s: %s", e.Location, e.Reason)
}

// ErrOutputTooLarge: the templates rendered more bytes than the limit.
var ErrOutputTooLarge = fmt.Errorf("%w: rendered output exceeds the limit", render.ErrTooLarge)

// runEngine renders the templates of c with Helm's engine in client-only
// mode: "lookup" returns an empty map, "getHostByName" an empty string,
// and nothing is read but the loaded chart.
//
// Helm's engine takes no context and cannot be interrupted, so it runs on
// its own goroutine: runEngine returns when ctx is done or timeout passes,
// and the abandoned goroutine finishes (or fails) in the background, its
// result dropped. The output is bounded after the run: templates that
// render more than maxOut bytes in all are an error. Memory used while a
// template runs is not bounded by converge (Helm's own limit on nested
// "include" stops unbounded recursion).
func runEngine(ctx context.Context, c *chart.Chart, vals chartutil.Values, timeout time.Duration, maxOut int64) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		files map[string]string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("helm engine panicked: %v\n%s", p, firstLines(debug.Stack(), 12))}
			}
		}()
		var e engine.Engine // no client: lookup is empty; EnableDNS false: no DNS
		files, err := e.Render(c, vals)
		done <- result{files, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("template engine abandoned: %w", ctx.Err())
	case res := <-done:
		if res.err != nil {
			return nil, templateError(res.err)
		}
		var total int64
		for _, s := range res.files {
			total += int64(len(s))
		}
		if total > maxOut {
			return nil, fmt.Errorf("%w of %d bytes", ErrOutputTooLarge, maxOut)
		}
		return res.files, nil
	}
}

var (
	// Helm's cleaned messages: "parse error at (file:line): ...",
	// "execution error at (file:line:col): ...".
	cleanedRE = regexp.MustCompile(`^(parse|execution) error (?:at|in) \(([^()]*)\)`)
	// text/template's: "template: file:line:col: executing ...".
	execRE = regexp.MustCompile(`template: ([^\s:]+:\d+(?::\d+)?): `)
)

// templateError turns one of the engine's errors into a *TemplateError.
func templateError(err error) error {
	msg := err.Error()
	te := &TemplateError{Detail: msg}
	switch m := cleanedRE.FindStringSubmatch(msg); {
	case m != nil && m[1] == "parse":
		te.Location, te.Reason = m[2], "parse error"
	case m != nil:
		te.Location, te.Reason = m[2], "the chart's fail or required stopped the render"
	default:
		if m := execRE.FindStringSubmatch(msg); m != nil {
			te.Location = m[1]
		}
		te.Reason = "execution failed"
	}
	switch {
	case strings.Contains(msg, "nested reference name"):
		te.Reason = "include nested too deeply (recursion)"
	case strings.Contains(msg, "rendering template failed"):
		te.Reason = "the engine panicked"
	case strings.Contains(msg, "maximum template depth"):
		te.Reason = "templates call each other too deeply (recursion)"
	}
	return te
}
