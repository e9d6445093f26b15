package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	sourcegit "github.com/converge-dev/converge/source/git"
)

// ChartVersion is one version of a Helm chart.
type ChartVersion struct {
	Version string
	// Digest is the package's digest ("sha256:<hex>") as an HTTP
	// repository's index records it; empty for an OCI chart (see
	// [HelmChart.Digest]) or an entry without a well-formed one.
	Digest string
	// Created is when the index says the package was made; zero for an
	// OCI chart or an entry without a well-formed time.
	Created time.Time
}

// ChartVersionList is one listing of a chart's versions.
type ChartVersionList struct {
	// Versions are in the index's order (`helm repo index` writes the
	// newest first) or the registry's, each once, the excluded ones left
	// out.
	Versions []ChartVersion
	// Skipped counts the entries left out because they are not a chart
	// version (see [HelmChart.Versions]); excluded ones are not counted.
	Skipped int
}

// Names returns the versions, in order, for a [Policy].
func (l ChartVersionList) Names() []string {
	out := make([]string, len(l.Versions))
	for i, v := range l.Versions {
		out[i] = v.Version
	}
	return out
}

// HelmChart lists the versions of one Helm chart, as Kargo's chart
// subscriptions and Flux's HelmChart read them: from an HTTP
// repository's index.yaml, or from the tags of an OCI repository, where
// Helm stores a version's "+" as "_". It implements [TagSource]; it is
// safe for concurrent use and keeps no state between calls.
type HelmChart struct {
	chart    string
	repo     string // the repository URL, for messages
	index    string // the index.yaml URL of an HTTP repository
	client   *http.Client
	creds    Credentials
	excluded exclusions
	maxTags  int
	timeout  time.Duration
	oci      *ImageRepository // for an OCI repository
}

// NewHelmChart returns the version source of chart in the repository at
// repoURL: https://host/path for an HTTP repository (http:// only
// WithInsecure), whose index is repoURL/index.yaml, or oci://host/path
// for an OCI one, whose chart is the repository host/path/chart. It
// takes an [ImageRepository]'s options, with the same meaning and
// defaults:
//
//   - WithCredentials: for an HTTP repository, Username and Password
//     are HTTP basic and Token is sent as "Authorization: Bearer" (a
//     Docker config is refused); for an OCI one, any form, as the
//     registry code reads it.
//   - WithExclusions ([DefaultExclusions]) matches versions, "+" and
//     all; WithMaxTags ([DefaultMaxTags]) bounds the chart's entries in
//     the index, or the registry's tags; WithTimeout ([DefaultTimeout]),
//     WithTransport and WithInsecure as for a registry. WithPageSize
//     applies to an OCI repository only.
//
// An index is read up to 32 MiB.
func NewHelmChart(repoURL, chart string, opts ...RepositoryOption) (*HelmChart, error) {
	display := sourcegit.Redact(repoURL)
	if !chartName.MatchString(chart) || strings.Contains(chart, "..") {
		return nil, fmt.Errorf("helm chart %q in %s: not a chart name", clip(chart), display)
	}
	fail := func(err error) (*HelmChart, error) {
		return nil, fmt.Errorf("helm chart %s in %s: %w", chart, display, err)
	}
	u, err := url.Parse(repoURL)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return fail(errors.New("the repository is not a URL"))
	case u.User != nil:
		return fail(errors.New("credentials in the URL; pass them WithCredentials"))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fail(errors.New("the repository URL has a query or fragment"))
	}
	cfg := repositoryConfig(opts)
	h := &HelmChart{chart: chart, repo: display, creds: cfg.creds, maxTags: cfg.maxTags, timeout: cfg.timeout}
	if h.excluded, err = cfg.validateShared(); err != nil {
		return fail(err)
	}
	switch u.Scheme {
	case "oci":
		// The registry code lists the tags, with its bounds and
		// credentials; exclusions are matched here, on versions.
		ref := strings.TrimSuffix(u.Host+u.Path, "/") + "/" + chart
		if h.oci, err = NewImageRepository(ref, append(slices.Clone(opts), WithExclusions())...); err != nil {
			return fail(err)
		}
		return h, nil
	case "http":
		if !cfg.insecure {
			return fail(errors.New("plain HTTP needs WithInsecure"))
		}
	case "https":
	default:
		return fail(fmt.Errorf("the scheme %q is not one of https, http and oci", clip(u.Scheme)))
	}
	if len(cfg.creds.DockerConfigJSON) > 0 {
		return fail(fmt.Errorf("%w: a Docker config is for OCI registries; give an HTTP repository a username and password or a token", ErrInvalidCredentials))
	}
	h.index = u.JoinPath("index.yaml").String()
	h.client = &http.Client{Transport: &guard{inner: cfg.transport, insecure: cfg.insecure}}
	return h, nil
}

var chartName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,249}$`)

// Tags returns the versions [HelmChart.Versions] lists.
func (h *HelmChart) Tags(ctx context.Context) ([]string, error) {
	l, err := h.Versions(ctx)
	if err != nil {
		return nil, err
	}
	return l.Names(), nil
}

// Versions lists the chart's versions, less the excluded ones and the
// entries that are not a chart version: a version must be a semantic
// version as Helm parses it (Masterminds' lenient parse), of at most
// 128 bytes of letters, digits and . + -. A newline, a quote, YAML
// syntax, a number where a string belongs or 10 KB are skipped and
// counted, never fatal. It fails with a [*RegistryError] wrapping
// ErrUnauthorized (401, 403), ErrImageNotFound (no index, or no such
// chart in it, or no such OCI repository), ErrTooManyTags,
// ErrBadResponse (an index that is HTML, truncated, over 32 MiB or not
// an index), or the context's error; another status than 200 is an
// error of no kind that names it.
func (h *HelmChart) Versions(ctx context.Context) (ChartVersionList, error) {
	if h.oci != nil {
		tags, err := h.oci.Tags(ctx)
		if err != nil {
			return ChartVersionList{}, err
		}
		l := ChartVersionList{Versions: make([]ChartVersion, 0, len(tags))}
		for _, t := range tags {
			v := strings.ReplaceAll(t, "_", "+") // semver has no "_": each was a "+"
			switch {
			case h.excluded.excludes(v):
			case !validChartVersion(v):
				l.Skipped++
			default:
				l.Versions = append(l.Versions, ChartVersion{Version: v})
			}
		}
		return l, nil
	}
	const op = "list versions of"
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	data, err := h.fetchIndex(ctx)
	if err != nil {
		return ChartVersionList{}, h.fail(op, err)
	}
	idx, err := parseHelmIndex(data)
	if err != nil {
		return ChartVersionList{}, h.fail(op, err)
	}
	l, err := idx.versions(h.chart, h.excluded, h.maxTags)
	if err != nil {
		return ChartVersionList{}, h.fail(op, err)
	}
	return l, nil
}

// Digest returns the digest to pin version by: for an OCI chart, the
// manifest digest of its tag (as [ImageRepository.Digest]); for an HTTP
// repository, the package digest its index records. It fails as
// Versions does, with ErrImageNotFound for a version the chart does not
// have.
func (h *HelmChart) Digest(ctx context.Context, version string) (string, error) {
	const op = "digest of"
	if !validChartVersion(version) {
		return "", h.fail(op, fmt.Errorf("%q is not a chart version", clip(version)))
	}
	if h.oci != nil {
		return h.oci.Digest(ctx, strings.ReplaceAll(version, "+", "_"))
	}
	l, err := h.Versions(ctx)
	if err != nil {
		return "", err
	}
	for _, v := range l.Versions {
		if v.Version != version {
			continue
		}
		if v.Digest == "" {
			return "", h.fail(op, fmt.Errorf("the index records no digest for version %s", version))
		}
		return v.Digest, nil
	}
	return "", h.fail(op, &boundError{kind: ErrImageNotFound, msg: fmt.Sprintf("the index has no version %s of the chart", version)})
}

// fetchIndex downloads the index, bounded by the guard's 32 MiB.
func (h *HelmChart) fetchIndex(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.index, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case h.creds.Username != "":
		req.SetBasicAuth(h.creds.Username, h.creds.Password)
	case h.creds.Token != "":
		req.Header.Set("Authorization", "Bearer "+h.creds.Token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// The body of an error is the server's text and is not shown.
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &boundError{kind: ErrUnauthorized, msg: "the server answered " + resp.Status}
	case resp.StatusCode == http.StatusNotFound:
		return nil, &boundError{kind: ErrImageNotFound, msg: "no index.yaml (" + resp.Status + ")"}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("the server answered %s", clip(resp.Status))
	case resp.ContentLength > maxResponseBytes:
		return nil, &boundError{kind: ErrBadResponse, msg: fmt.Sprintf("the index is %d bytes, over the bound of %d", resp.ContentLength, maxResponseBytes)}
	}
	return io.ReadAll(resp.Body)
}

// fail wraps err into a RegistryError of the kind it is.
func (h *HelmChart) fail(op string, err error) error {
	e := &RegistryError{Op: op + " chart " + h.chart + " in", Image: h.repo, Err: err, secrets: h.creds.secrets()}
	var be *boundError
	switch {
	case errors.As(err, &be):
		e.Kind = be.kind
	case errors.Is(err, io.ErrUnexpectedEOF): // a body shorter than its Content-Length
		e.Kind, e.Err = ErrBadResponse, fmt.Errorf("the index was cut short: %w", err)
	}
	return e
}

// helmIndex is the part of an index.yaml a promotion reads. The entries
// stay raw until the chart's are read, so that a malformed entry is
// skipped rather than failing the index (and other charts' entries are
// not decoded at all).
type helmIndex struct {
	APIVersion string                       `json:"apiVersion"`
	Entries    map[string][]json.RawMessage `json:"entries"`
}

// helmEntry is the part of an index entry a promotion reads.
type helmEntry struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Created string `json:"created"`
}

// parseHelmIndex reads an index.yaml, refusing what is not one (an HTML
// page, YAML that does not parse, no apiVersion) with ErrBadResponse.
// The caller bounds the size; the YAML library bounds alias expansion.
func parseHelmIndex(data []byte) (*helmIndex, error) {
	var idx helmIndex
	if err := yaml.Unmarshal(data, &idx); err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
			return nil, &boundError{kind: ErrBadResponse, msg: "the server sent HTML, not an index.yaml"}
		}
		// The library's text names its stages before the cause.
		msg := err.Error()
		for _, stage := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
			msg = strings.TrimPrefix(msg, stage)
		}
		return nil, &boundError{kind: ErrBadResponse, msg: "the index does not parse: " + clip(msg)}
	}
	if idx.APIVersion == "" {
		return nil, &boundError{kind: ErrBadResponse, msg: "not a Helm repository index: no apiVersion"}
	}
	return &idx, nil
}

var chartDigest = regexp.MustCompile(`^(sha256:)?[0-9a-f]{64}$`)

// versions reads chart's entries: at most maxTags, the excluded and the
// malformed ones left out.
func (idx *helmIndex) versions(chart string, ex exclusions, maxTags int) (ChartVersionList, error) {
	raw, ok := idx.Entries[chart]
	if !ok {
		return ChartVersionList{}, &boundError{kind: ErrImageNotFound, msg: fmt.Sprintf("the index has no chart %q (%s)", chart, chartNames(idx.Entries))}
	}
	if len(raw) > maxTags {
		return ChartVersionList{}, &boundError{kind: ErrTooManyTags, msg: fmt.Sprintf("%d versions, more than %d (WithMaxTags)", len(raw), maxTags)}
	}
	l := ChartVersionList{Versions: make([]ChartVersion, 0, len(raw))}
	seen := make(map[string]bool, len(raw))
	for _, r := range raw {
		var e helmEntry
		if err := json.Unmarshal(r, &e); err != nil {
			l.Skipped++ // a number, a list or an object where a string belongs
			continue
		}
		if ex.excludes(e.Version) {
			continue
		}
		if !validChartVersion(e.Version) {
			l.Skipped++
			continue
		}
		if seen[e.Version] {
			continue
		}
		seen[e.Version] = true
		v := ChartVersion{Version: e.Version}
		if chartDigest.MatchString(e.Digest) {
			v.Digest = "sha256:" + strings.TrimPrefix(e.Digest, "sha256:")
		}
		if t, err := time.Parse(time.RFC3339Nano, e.Created); err == nil {
			v.Created = t
		}
		l.Versions = append(l.Versions, v)
	}
	return l, nil
}

// chartNames describes an index's charts for a message: a few names, and
// how many there are.
func chartNames(entries map[string][]json.RawMessage) string {
	if len(entries) == 0 {
		return "it has none"
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "it has %d: ", len(names))
	for i, n := range names {
		if i == 5 {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", clip(n))
	}
	return b.String()
}

var chartVersion = regexp.MustCompile(`^[0-9A-Za-z.+-]{1,128}$`)

// validChartVersion is Helm's rule for a chart version (a semantic
// version, parsed leniently), within a plain character set and size.
func validChartVersion(v string) bool {
	if !chartVersion.MatchString(v) {
		return false
	}
	_, err := semver.NewVersion(v)
	return err == nil
}
