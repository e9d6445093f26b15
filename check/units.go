package check

import (
	"context"
	"fmt"
	"time"

	"github.com/converge-dev/converge/object"
)

// Unit is what the unit rules read of one of a host's reconcile units
// (a reconcile.Unit, or whatever the host builds them from), so that
// its own settings are checked the way Argo CD Applications and Flux
// Kustomizations are. check does not import reconcile: the host fills
// this in from its units.
type Unit struct {
	// Name and Namespace identify the unit in findings.
	Name, Namespace string
	// File and Line, when the unit comes from a file, are where.
	File string
	Line int
	// Manual is true when the unit applies only when asked.
	Manual bool
	// Prune and SelfHeal are the unit's sync settings.
	Prune, SelfHeal bool
	// Health is true when a pass waits for health (or names health
	// checks) before it reports Ready.
	Health bool
	// Interval is how often the unit is reconciled; 0 for never on its
	// own.
	Interval time.Duration
	// Notified is true when failures of the unit reach a notification
	// target (the host's reconcile.Notifier).
	Notified bool
	// Restricted is true when the unit's writes are limited: a project's
	// restrictions, or a service account to impersonate.
	Restricted bool
}

var (
	unitManualMeta = Meta{
		ID: "unit-sync-manual", Title: "converge unit without automated sync",
		Severity: SeverityHigh, Section: SectionSync,
		Fix: "Run the unit in a reconcile.Loop (Sync.Manual false) with an interval",
	}
	unitSelfHealMeta = Meta{
		ID: "unit-self-heal-off", Title: "converge unit with self-heal off",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Set Sync.SelfHeal so manual changes are reverted",
	}
	unitPruneMeta = Meta{
		ID: "unit-prune-off", Title: "converge unit with prune off",
		Severity: SeverityMedium, Section: SectionSync,
		Fix: "Set Sync.Prune so objects removed from Git are removed from the cluster",
	}
	unitHealthMeta = Meta{
		ID: "unit-no-health-checks", Title: "converge unit that does not wait for health",
		Severity: SeverityMedium, Section: SectionHealth,
		Fix: "Set Health.Wait (or list Health.Checks)",
	}
	unitIntervalMeta = Meta{
		ID: "unit-interval-too-long", Title: "converge unit reconciled less often than the limit",
		Severity: SeverityLow, Section: SectionInterval,
		Fix: "Set Interval to 1-5 minutes and trigger the loop from a webhook for instant syncs",
	}
	unitNotifyMeta = Meta{
		ID: "unit-no-notifications", Title: "converge unit whose failures notify no one",
		Severity: SeverityMedium, Section: SectionNotifications,
		Fix: "Give the Loop a reconcile.Notifier (reconcile/notify) for the unit",
	}
	unitRestrictMeta = Meta{
		ID: "unit-unrestricted", Title: "converge unit with no tenancy limit",
		Severity: SeverityLow, Section: SectionRBAC,
		Fix: "Set Restrictions (allowed repositories, destinations and kinds) or Destination.ServiceAccount",
	}
)

// UnitRules returns the rules over a host's units: unit-sync-manual,
// unit-self-heal-off, unit-prune-off, unit-no-health-checks,
// unit-interval-too-long (over maxInterval; 5 minutes when 0),
// unit-no-notifications and unit-unrestricted.
func UnitRules(units []Unit, maxInterval time.Duration) []Rule {
	if maxInterval <= 0 {
		maxInterval = 5 * time.Minute
	}
	rule := func(m Meta, bad func(u Unit) (string, bool)) Rule {
		return NewRule(m, func(context.Context, *Target) ([]Finding, error) {
			var out []Finding
			for _, u := range units {
				if msg, ok := bad(u); ok {
					id := object.ID{Kind: "Unit", Namespace: u.Namespace, Name: u.Name}
					out = append(out, Finding{Rule: m.ID, Severity: m.Severity, Message: fmt.Sprintf("unit %s %s", unitName(u), msg),
						Location: Location{File: u.File, Line: u.Line, Object: &id}})
				}
			}
			return out, nil
		})
	}
	return []Rule{
		rule(unitManualMeta, func(u Unit) (string, bool) { return "syncs only by hand", u.Manual }),
		rule(unitSelfHealMeta, func(u Unit) (string, bool) {
			return "does not self-heal: manual changes in the cluster stay", !u.Manual && !u.SelfHeal
		}),
		rule(unitPruneMeta, func(u Unit) (string, bool) {
			return "does not prune: objects removed from Git stay in the cluster", !u.Prune
		}),
		rule(unitHealthMeta, func(u Unit) (string, bool) {
			return "does not wait for health: it is Ready before its workloads are", !u.Health
		}),
		rule(unitIntervalMeta, func(u Unit) (string, bool) {
			if u.Manual {
				return "", false
			}
			if u.Interval <= 0 {
				return "has no interval: drift is found only when something triggers it", true
			}
			return fmt.Sprintf("reconciles every %s, over the %s limit: drift persists that long", u.Interval, maxInterval), u.Interval > maxInterval
		}),
		rule(unitNotifyMeta, func(u Unit) (string, bool) {
			return "has no notification target: a failed sync goes unnoticed", !u.Notified
		}),
		rule(unitRestrictMeta, func(u Unit) (string, bool) {
			return "has no restrictions and no service account: it may write any kind in any namespace", !u.Restricted
		}),
	}
}

func unitName(u Unit) string {
	if u.Namespace == "" {
		return u.Name
	}
	return u.Namespace + "/" + u.Name
}
