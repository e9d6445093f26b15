package health

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Overrides fix the health of whole kinds, whatever their objects say. They
// are how a host says "exists is enough" ({kind: Healthy}) for a kind that
// never reports on itself (prometheus-operator's ServiceMonitor, PodMonitor
// and PrometheusRule have a status subresource no controller fills), or
// pins a kind it does not want judged:
//
//	health.New(health.WithOverrides(health.Overrides{
//		{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy,
//	}))
//
// An object of an overridden kind that exists gets the status, with reason
// "Override"; while it is being deleted it is Progressing (reason
// "Terminating"), as under every other rule, so that a wait for it does
// not end while it goes away. A status that is not one of the six, or is
// Missing (which no existing object can be), is refused by [New] and is
// Unknown with reason "InvalidOverride" when Overrides is used as a
// checker directly.
//
// Overrides is a [KindChecker]; [WithOverrides] puts it after the host's
// checkers and before every rule. It is safe for concurrent use as long as
// nobody modifies the map.
type Overrides map[schema.GroupKind]Status

var _ KindChecker = Overrides(nil)

// ErrInvalidOverride is matched by every error about an override that
// cannot be used: a status that is not one of the six, Missing, or a
// specification [ParseOverrides] cannot read.
var ErrInvalidOverride = errors.New("invalid health override")

// WithOverrides adds overrides; for a kind given twice, the last wins.
// They take precedence over every rule, built-in or CEL, but not over the
// host's checkers ([WithCheckers]).
func WithOverrides(o Overrides) Option {
	return func(cfg *config) {
		if cfg.overrides == nil {
			cfg.overrides = Overrides{}
		}
		for gk, s := range o {
			cfg.overrides[gk] = s
		}
	}
}

// ParseOverrides reads overrides written "Kind.group=Status", the form
// object IDs name kinds in, for flags and configuration files:
//
//	ServiceMonitor.monitoring.coreos.com=Healthy
//
// The status is one of the six names, in any case. An error matches
// [ErrInvalidOverride] and names the specification.
func ParseOverrides(specs ...string) (Overrides, error) {
	out := make(Overrides, len(specs))
	for _, spec := range specs {
		kind, status, ok := strings.Cut(strings.TrimSpace(spec), "=")
		gk := schema.ParseGroupKind(strings.TrimSpace(kind))
		if !ok || gk.Kind == "" || strings.Contains(kind, "/") {
			return nil, fmt.Errorf("health override %q: want Kind.group=Status: %w", spec, ErrInvalidOverride)
		}
		s, err := parseStatus(strings.TrimSpace(status))
		if err != nil {
			return nil, fmt.Errorf("health override %q: %w", spec, err)
		}
		out[gk] = s
	}
	return out, nil
}

// validate returns an error for the first invalid override, in no
// particular order.
func (o Overrides) validate() error {
	for gk, s := range o {
		if err := checkOverrideStatus(s); err != nil {
			return fmt.Errorf("health override %s: %w", gk, err)
		}
	}
	return nil
}

// Supports reports whether o has an override for gk.
func (o Overrides) Supports(gk schema.GroupKind) bool {
	_, ok := o[gk]
	return ok
}

// Check returns the status o fixes for obj's kind; with none it returns
// Unknown with reason "Unsupported".
func (o Overrides) Check(obj *unstructured.Unstructured) Result {
	if obj == nil || obj.Object == nil {
		return Result{Status: Missing, Reason: "NotFound", Message: "object does not exist"}
	}
	gk := groupKind(obj.Object)
	s, ok := o[gk]
	if !ok {
		return Result{Status: Unknown, Reason: "Unsupported", Message: "no override for " + gk.String()}
	}
	if err := checkOverrideStatus(s); err != nil {
		return Result{Status: Unknown, Reason: "InvalidOverride", Message: fmt.Sprintf("health override %s: %v", gk, err)}
	}
	if ts, err := str(obj.Object, "metadata", "deletionTimestamp"); err != nil {
		return invalid(err)
	} else if ts != "" {
		return Result{Status: Progressing, Reason: "Terminating", Message: "object is being deleted"}
	}
	msg := "the host sets every " + gk.String() + " to " + string(s)
	if s == Healthy {
		msg = "the host counts every " + gk.String() + " that exists as healthy"
	}
	return Result{Status: s, Reason: "Override", Message: msg}
}

func checkOverrideStatus(s Status) error {
	switch {
	case s == Missing:
		return fmt.Errorf("status Missing cannot be fixed for objects that exist: %w", ErrInvalidOverride)
	case !s.Valid():
		return fmt.Errorf("status %q is not one of Healthy, Suspended, Progressing, Degraded, Unknown: %w", string(s), ErrInvalidOverride)
	}
	return nil
}

// parseStatus reads a status name in any case.
func parseStatus(s string) (Status, error) {
	for _, st := range []Status{Healthy, Suspended, Progressing, Missing, Degraded, Unknown} {
		if strings.EqualFold(s, string(st)) {
			return st, checkOverrideStatus(st)
		}
	}
	return "", checkOverrideStatus(Status(s))
}
