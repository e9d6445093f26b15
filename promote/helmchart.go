package promote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// HelmChartOptions configure a [HelmChart] source. A zero field takes
// its default.
type HelmChartOptions struct {
	// Username and Password authenticate to an HTTP repository (basic);
	// for an OCI one, Credentials (a Docker config JSON document works).
	Username, Password string
	Credentials        Credentials
	// Insecure allows plain HTTP to an OCI registry; an HTTP repository's
	// scheme is its URL's.
	Insecure bool
	// MaxIndexSize bounds an HTTP repository's index.yaml (32 MiB).
	MaxIndexSize int64
	// MaxVersions bounds the versions read ([DefaultMaxTags]).
	MaxVersions int
	// Timeout bounds one listing ([DefaultTimeout]).
	Timeout time.Duration
	// Client is the HTTP client for an HTTP repository
	// (http.DefaultClient's transport by default).
	Client *http.Client
}

// DefaultMaxIndexSize bounds a Helm repository index: the largest public
// ones (Bitnami's, before it was split) were about 20 MiB.
const DefaultMaxIndexSize = 32 << 20

// HelmChart lists the versions of one chart, as Kargo's chart
// subscriptions read them: from an HTTP repository's index.yaml, or the
// tags of an OCI repository (oci://registry/path/chart), where Helm writes
// a version's "+" as "_". It implements [TagSource]: a [Policy] picks the
// version to promote. It is safe for concurrent use.
type HelmChart struct {
	repoURL, chart string
	opts           HelmChartOptions
	oci            *ImageRepository
}

// NewHelmChart returns the version source of chart in the repository at
// repoURL: https://… (or http://…) for a repository with an index.yaml,
// oci://host/path for an OCI registry holding host/path/chart.
func NewHelmChart(repoURL, chart string, opts HelmChartOptions) (*HelmChart, error) {
	if !validChartName(chart) {
		return nil, fmt.Errorf("helm chart %q: not a chart name", clip(chart))
	}
	if opts.MaxIndexSize <= 0 {
		opts.MaxIndexSize = DefaultMaxIndexSize
	}
	if opts.MaxVersions <= 0 {
		opts.MaxVersions = DefaultMaxTags
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	h := &HelmChart{repoURL: strings.TrimSuffix(repoURL, "/"), chart: chart, opts: opts}
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("helm repository %q: not a URL", clip(redactURL(repoURL)))
	}
	if u.User != nil {
		return nil, fmt.Errorf("helm repository %s: give credentials as options, not in the URL", redactURL(repoURL))
	}
	switch u.Scheme {
	case "http", "https":
	case "oci":
		ropts := []RepositoryOption{WithCredentials(opts.Credentials), WithMaxTags(opts.MaxVersions), WithTimeout(opts.Timeout), WithExclusions()}
		if opts.Insecure {
			ropts = append(ropts, WithInsecure())
		}
		if h.oci, err = NewImageRepository(strings.TrimPrefix(h.repoURL, "oci://")+"/"+chart, ropts...); err != nil {
			return nil, fmt.Errorf("helm chart %s: %w", chart, err)
		}
	default:
		return nil, fmt.Errorf("helm repository %s: the scheme %q is not one of https, http and oci", redactURL(repoURL), clip(u.Scheme))
	}
	return h, nil
}

var _ TagSource = (*HelmChart)(nil)

// Tags returns the chart's versions, in the index's order (or the
// registry's, with "_" turned back into "+"). An entry whose version is
// not a plain version string (a newline, a quote, YAML, 128 bytes or
// more) is left out.
func (h *HelmChart) Tags(ctx context.Context) ([]string, error) {
	if h.oci != nil {
		tags, err := h.oci.Tags(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(tags))
		for _, t := range tags {
			out = append(out, strings.ReplaceAll(t, "_", "+"))
		}
		return out, nil
	}
	idx, err := h.index(ctx)
	if err != nil {
		return nil, err
	}
	versions, ok := idx.Entries[h.chart]
	if !ok {
		return nil, fmt.Errorf("helm repository %s: %w: no chart %q in its index (%d charts)", redactURL(h.repoURL), ErrImageNotFound, h.chart, len(idx.Entries))
	}
	if len(versions) > h.opts.MaxVersions {
		return nil, fmt.Errorf("helm repository %s: %w: chart %s has %d versions, over the bound of %d", redactURL(h.repoURL), ErrTooManyTags, h.chart, len(versions), h.opts.MaxVersions)
	}
	out := make([]string, 0, len(versions))
	for _, v := range versions {
		if validChartVersion(v.Version) && !slices.Contains(out, v.Version) {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

// Digest returns the digest a version's entry records (an HTTP
// repository's index), or the manifest digest of its OCI tag.
func (h *HelmChart) Digest(ctx context.Context, version string) (string, error) {
	if h.oci != nil {
		return h.oci.Digest(ctx, strings.ReplaceAll(version, "+", "_"))
	}
	idx, err := h.index(ctx)
	if err != nil {
		return "", err
	}
	for _, v := range idx.Entries[h.chart] {
		if v.Version == version {
			if v.Digest == "" {
				return "", fmt.Errorf("helm chart %s %s: the index records no digest", h.chart, clip(version))
			}
			return "sha256:" + strings.TrimPrefix(v.Digest, "sha256:"), nil
		}
	}
	return "", fmt.Errorf("helm chart %s %s: %w", h.chart, clip(version), ErrNotFound)
}

// helmIndex is the part of a repository's index.yaml a promotion reads.
type helmIndex struct {
	APIVersion string `json:"apiVersion"`
	Entries    map[string][]struct {
		Version string `json:"version"`
		Digest  string `json:"digest"`
	} `json:"entries"`
}

func (h *HelmChart) index(ctx context.Context) (*helmIndex, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	where := redactURL(h.repoURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.repoURL+"/index.yaml", nil)
	if err != nil {
		return nil, fmt.Errorf("helm repository %s: %w", where, err)
	}
	if h.opts.Username != "" || h.opts.Password != "" {
		req.SetBasicAuth(h.opts.Username, h.opts.Password)
	}
	client := h.opts.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("helm repository %s: %w", where, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("helm repository %s: %w: %s", where, ErrUnauthorized, resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("helm repository %s: %w: no index.yaml (%s)", where, ErrImageNotFound, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("helm repository %s: %w: %s", where, ErrBadResponse, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.opts.MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("helm repository %s: read index.yaml: %w", where, err)
	}
	if int64(len(data)) > h.opts.MaxIndexSize {
		return nil, fmt.Errorf("helm repository %s: %w: index.yaml is over the %d-byte bound", where, ErrBadResponse, h.opts.MaxIndexSize)
	}
	idx, err := parseHelmIndex(data)
	if err != nil {
		return nil, fmt.Errorf("helm repository %s: %w", where, err)
	}
	return idx, nil
}

// parseHelmIndex reads an index.yaml, refusing what is not one (an HTML
// page, a truncated file) with ErrBadResponse. The YAML library bounds
// alias expansion; the caller bounds the size.
func parseHelmIndex(data []byte) (*helmIndex, error) {
	var idx helmIndex
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%w: index.yaml does not parse: %s", ErrBadResponse, clip(err.Error()))
	}
	if idx.APIVersion != "v1" || idx.Entries == nil {
		return nil, fmt.Errorf("%w: not a Helm repository index (apiVersion %q)", ErrBadResponse, clip(idx.APIVersion))
	}
	return &idx, nil
}

func validChartName(n string) bool {
	if n == "" || len(n) > 250 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.HasPrefix(n, ".")
}

func validChartVersion(v string) bool {
	if v == "" || len(v) >= 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-+_", c)) {
			return false
		}
	}
	return true
}
