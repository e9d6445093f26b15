package argocd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
)

// Argo CD's retry defaults, when retry is set without them.
const (
	defaultRetryDuration    = 5 * time.Second
	defaultRetryFactor      = 2
	defaultRetryMaxDuration = 3 * time.Minute
)

// syncPolicy reads spec.syncPolicy.
func (l *loader) syncPolicy(d *manifest.Doc, sp *manifest.Node, u *reconcile.Unit) {
	if !sp.Present("automated") {
		u.Sync.Manual = true
		sp.Accept("automated")
	} else {
		a := sp.Obj("automated")
		enabled := true
		if a.Present("enabled") {
			enabled = a.Bool("enabled")
		}
		u.Sync.Manual = !enabled
		u.Sync.Prune = a.Bool("prune")
		u.Sync.SelfHeal = a.Bool("selfHeal")
		u.Sync.AllowEmpty = a.Bool("allowEmpty")
	}
	syncOptions(d, sp, u)
	retry(d, sp.Obj("retry"), u)
	sp.Refuse("managedNamespaceMetadata", "converge creates the namespace without labels or annotations: declare the Namespace in the source instead")
}

// syncOptions reads the "Key=value" list of spec.syncPolicy.syncOptions.
func syncOptions(d *manifest.Doc, sp *manifest.Node, u *reconcile.Unit) {
	seen := map[string]string{}
	for i, opt := range sp.Strs("syncOptions") {
		p := fmt.Sprintf("%s[%d]", sp.At("syncOptions"), i)
		key, value, ok := strings.Cut(opt, "=")
		if !ok {
			d.Fail(p, ErrInvalid, "%q is not Key=value", manifest.Short(opt))
			continue
		}
		if prev, dup := seen[key]; dup && prev != value {
			d.Fail(p, ErrInvalid, "%s=%s contradicts %s=%s earlier in the list", manifest.Short(key), manifest.Short(value), manifest.Short(key), manifest.Short(prev))
			continue
		}
		seen[key] = value
		flag := func() bool {
			switch value {
			case "true":
				return true
			case "false":
				return false
			}
			d.Fail(p, ErrInvalid, "%s=%q: the value is true or false", key, manifest.Short(value))
			return false
		}
		switch key {
		case "CreateNamespace":
			u.Sync.CreateNamespace = flag()
			if u.Sync.CreateNamespace && u.Destination.Namespace == "" {
				d.Warn(p, "there is no destination namespace to create")
			}
		case "PrunePropagationPolicy":
			switch value {
			case "foreground":
				u.Sync.PropagationPolicy = metav1.DeletePropagationForeground
			case "background":
				u.Sync.PropagationPolicy = metav1.DeletePropagationBackground
			case "orphan":
				u.Sync.PropagationPolicy = metav1.DeletePropagationOrphan
			default:
				d.Fail(p, ErrInvalid, "%q is not foreground, background or orphan", manifest.Short(value))
			}
		case "PruneLast":
			flag()
			d.Warn(p, "converge always prunes last: after every wave is applied, Namespaces and CRDs after the rest")
		case "ServerSideApply":
			if flag() {
				d.Warn(p, "converge always applies server-side")
			} else {
				d.Warn(p, "converge applies server-side, not client-side")
			}
		case "ApplyOutOfSyncOnly":
			flag()
			d.Warn(p, "converge writes only the objects whose desired state changed or drifted")
		case "RespectIgnoreDifferences":
			flag()
			d.Warn(p, "converge always does: fields that ignoreDifferences covers and another manager owns are not sent")
		case "SkipDryRunOnMissingResource":
			flag()
			d.Warn(p, "converge applies custom resources after their CRDs in one sync and needs no dry run first")
		case "Replace":
			if flag() {
				d.Warn(p, "converge applies server-side and never replaces objects; server-side apply has no last-applied annotation size limit, which Replace=true works around, and fields other managers own are kept")
			}
		case "Force":
			u.Sync.Recreate = flag()
		case "FailOnSharedResource":
			if !flag() {
				d.Warn(p, "converge refuses objects another unit applied (apply.RefuseShared), where Argo CD would warn and take them over")
			}
		case "Validate":
			if !flag() {
				d.Warn(p, "converge always lets the API server validate objects: unknown fields are refused")
			}
		case "Prune", "Delete":
			d.Fail(p, ErrUnsupported, "%s is a sync option of objects, not of Applications: put it in the argocd.argoproj.io/sync-options annotation of the objects", key)
		default:
			d.Fail(p, ErrUnsupported, "unknown sync option %q", manifest.Short(key))
		}
	}
}

// retry reads spec.syncPolicy.retry.
func retry(d *manifest.Doc, r *manifest.Node, u *reconcile.Unit) {
	if r.Map() == nil {
		return // the Loop's retry policy
	}
	rt := reconcile.Retry{Backoff: defaultRetryDuration, Factor: defaultRetryFactor, MaxBackoff: defaultRetryMaxDuration}
	limit, _ := r.Int("limit")
	switch {
	case limit < 0:
		rt.Limit = 0 // forever
	case limit == 0:
		d.Warn(r.At("limit"), "0 means no retry to Argo CD; converge cannot turn retries off (Retry.Limit 0 retries forever) and retries once")
		rt.Limit = 1
	case limit > 1<<31-1:
		d.Fail(r.At("limit"), ErrInvalid, "too large")
	default:
		rt.Limit = int(limit)
	}
	b := r.Obj("backoff")
	if v := b.Str("duration"); v != "" {
		rt.Backoff = duration(d, b.At("duration"), v)
	}
	if v := b.Str("maxDuration"); v != "" {
		rt.MaxBackoff = duration(d, b.At("maxDuration"), v)
	}
	if b.Present("factor") {
		f, ok := b.Int("factor")
		if ok && (f < 1 || f > 1000) {
			d.Fail(b.At("factor"), ErrInvalid, "%d is not between 1 and 1000", f)
		}
		rt.Factor = float64(f)
	}
	if r.Present("refresh") {
		r.Bool("refresh")
		d.Warn(r.At("refresh"), "converge always starts retrying again when the source has a new revision")
	}
	u.Retry = rt
}

// duration parses an Argo CD duration: a Go duration ("5s", "3m") or a
// number of seconds ("30").
func duration(d *manifest.Doc, p, v string) time.Duration {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Second)*365 {
			d.Fail(p, ErrInvalid, "%q is out of range", manifest.Short(v))
			return 0
		}
		return time.Duration(n) * time.Second
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		d.Fail(p, ErrInvalid, "%q is not a duration such as \"5s\", \"3m\" or a number of seconds", manifest.Short(v))
		return 0
	}
	return t
}
