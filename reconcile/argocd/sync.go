package argocd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/converge-dev/converge/reconcile"
)

// Argo CD's retry defaults, when retry is set without them.
const (
	defaultRetryDuration    = 5 * time.Second
	defaultRetryFactor      = 2
	defaultRetryMaxDuration = 3 * time.Minute
)

// syncPolicy reads spec.syncPolicy.
func (l *loader) syncPolicy(d *doc, sp *node, u *reconcile.Unit) {
	if !sp.present("automated") {
		u.Sync.Manual = true
		sp.accept("automated")
	} else {
		a := sp.obj("automated")
		enabled := true
		if a.present("enabled") {
			enabled = a.boolean("enabled")
		}
		u.Sync.Manual = !enabled
		u.Sync.Prune = a.boolean("prune")
		u.Sync.SelfHeal = a.boolean("selfHeal")
		u.Sync.AllowEmpty = a.boolean("allowEmpty")
	}
	syncOptions(d, sp, u)
	retry(d, sp.obj("retry"), u)
	sp.refuse("managedNamespaceMetadata", "converge creates the namespace without labels or annotations: declare the Namespace in the source instead")
}

// syncOptions reads the "Key=value" list of spec.syncPolicy.syncOptions.
func syncOptions(d *doc, sp *node, u *reconcile.Unit) {
	seen := map[string]string{}
	for i, opt := range sp.strs("syncOptions") {
		p := fmt.Sprintf("%s[%d]", sp.at("syncOptions"), i)
		key, value, ok := strings.Cut(opt, "=")
		if !ok {
			d.fail(p, ErrInvalid, "%q is not Key=value", short(opt))
			continue
		}
		if prev, dup := seen[key]; dup && prev != value {
			d.fail(p, ErrInvalid, "%s=%s contradicts %s=%s earlier in the list", short(key), short(value), short(key), short(prev))
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
			d.fail(p, ErrInvalid, "%s=%q: the value is true or false", key, short(value))
			return false
		}
		switch key {
		case "CreateNamespace":
			u.Sync.CreateNamespace = flag()
			if u.Sync.CreateNamespace && u.Destination.Namespace == "" {
				d.warn(p, "there is no destination namespace to create")
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
				d.fail(p, ErrInvalid, "%q is not foreground, background or orphan", short(value))
			}
		case "PruneLast":
			flag()
			d.warn(p, "converge always prunes last: after every wave is applied, Namespaces and CRDs after the rest")
		case "ServerSideApply":
			if flag() {
				d.warn(p, "converge always applies server-side")
			} else {
				d.warn(p, "converge applies server-side, not client-side")
			}
		case "ApplyOutOfSyncOnly":
			flag()
			d.warn(p, "converge writes only the objects whose desired state changed or drifted")
		case "RespectIgnoreDifferences":
			flag()
			d.warn(p, "converge always does: fields that ignoreDifferences covers and another manager owns are not sent")
		case "SkipDryRunOnMissingResource":
			flag()
			d.warn(p, "converge applies custom resources after their CRDs in one sync and needs no dry run first")
		case "Replace":
			if flag() {
				d.warn(p, "converge applies server-side and never replaces objects; server-side apply has no last-applied annotation size limit, which Replace=true works around, and fields other managers own are kept")
			}
		case "Force":
			u.Sync.Recreate = flag()
		case "FailOnSharedResource":
			if !flag() {
				d.warn(p, "converge refuses objects another unit applied (apply.RefuseShared), where Argo CD would warn and take them over")
			}
		case "Validate":
			if !flag() {
				d.warn(p, "converge always lets the API server validate objects: unknown fields are refused")
			}
		case "Prune", "Delete":
			d.fail(p, ErrUnsupported, "%s is a sync option of objects, not of Applications: put it in the argocd.argoproj.io/sync-options annotation of the objects", key)
		default:
			d.fail(p, ErrUnsupported, "unknown sync option %q", short(key))
		}
	}
}

// retry reads spec.syncPolicy.retry.
func retry(d *doc, r *node, u *reconcile.Unit) {
	if r.m == nil {
		return // the Loop's retry policy
	}
	rt := reconcile.Retry{Backoff: defaultRetryDuration, Factor: defaultRetryFactor, MaxBackoff: defaultRetryMaxDuration}
	limit, _ := r.integer("limit")
	switch {
	case limit < 0:
		rt.Limit = 0 // forever
	case limit == 0:
		d.warn(r.at("limit"), "0 means no retry to Argo CD; converge cannot turn retries off (Retry.Limit 0 retries forever) and retries once")
		rt.Limit = 1
	case limit > 1<<31-1:
		d.fail(r.at("limit"), ErrInvalid, "too large")
	default:
		rt.Limit = int(limit)
	}
	b := r.obj("backoff")
	if v := b.str("duration"); v != "" {
		rt.Backoff = duration(d, b.at("duration"), v)
	}
	if v := b.str("maxDuration"); v != "" {
		rt.MaxBackoff = duration(d, b.at("maxDuration"), v)
	}
	if b.present("factor") {
		f, ok := b.integer("factor")
		if ok && (f < 1 || f > 1000) {
			d.fail(b.at("factor"), ErrInvalid, "%d is not between 1 and 1000", f)
		}
		rt.Factor = float64(f)
	}
	if r.present("refresh") {
		r.boolean("refresh")
		d.warn(r.at("refresh"), "converge always starts retrying again when the source has a new revision")
	}
	u.Retry = rt
}

// duration parses an Argo CD duration: a Go duration ("5s", "3m") or a
// number of seconds ("30").
func duration(d *doc, p, v string) time.Duration {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Second)*365 {
			d.fail(p, ErrInvalid, "%q is out of range", short(v))
			return 0
		}
		return time.Duration(n) * time.Second
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		d.fail(p, ErrInvalid, "%q is not a duration such as \"5s\", \"3m\" or a number of seconds", short(v))
		return 0
	}
	return t
}
