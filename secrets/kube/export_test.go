package kube

// WithPageSize sets List's page size, so a test can make List page.
func WithPageSize(n int64) Option { return func(p *Provider) { p.pageSize = n } }
