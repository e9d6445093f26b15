// Package health says whether Kubernetes objects are healthy: one object in,
// one [Result] out, with no I/O. It rolls the results of a set up into one
// worst status and waits, on a caller's watch-backed view of the cluster, for
// a set of objects to become healthy.
//
// # Checking
//
// [New] builds an [Engine] that knows every built-in Kubernetes kind
// (through kstatus's rules, which converge implements natively and checks
// against kstatus with a differential test, plus converge's stricter ones),
// a built-in set of CEL rules for popular custom resources (Flux, Argo
// Rollouts, cert-manager, Sealed Secrets, External Secrets, Crossplane,
// CloudNativePG), and whatever [Checker] values and CEL [Rule] values the
// host passes in:
//
//	engine, err := health.New(health.WithRules(health.Rule{
//		Group: "example.com", Kind: "Widget",
//		Healthy:  `self.status.phase == "Ready"`,
//		Degraded: `self.status.phase == "Failed"`,
//	}))
//	res := engine.Check(obj) // res.Status, res.Reason, res.Message
//
// CEL expressions see the object as self and its status.conditions keyed
// by type as conditions; they are compiled by [New] (a rule that does not
// compile is a load-time [*RuleError]) and run under a cost limit.
//
// The default is safe: a custom resource that says nothing about itself (no
// status, no conditions, no observedGeneration) is [Unknown], never
// [Healthy] by accident, and malformed status (a field of the wrong type,
// conditions that are not a list, a CEL rule that fails) is [Unknown] with a
// reason. Hosts choose whether Unknown blocks a wait ([WaitOptions.Accept]).
//
// # Custom resources nobody wrote a rule for
//
// Such an object is decided from its live CRD when the host gives the
// engine a way to read CRDs ([WithCRDs]; the cluster package's View is
// one): a kind whose CRD has no status subresource is Healthy once it
// exists, since nothing can report on it; one with a status subresource
// stays Unknown until a controller writes the status, unless the host opts
// in to [WithEmptyStatusHealthy]. Kinds whose status no controller ever
// fills (prometheus-operator's ServiceMonitor) get a per-kind override
// ([WithOverrides], [ParseOverrides]), or are left out of waits
// ([WaitOptions.Skip]):
//
//	engine, err := health.New(
//		health.WithCRDs(cache.View()),
//		health.WithOverrides(health.Overrides{{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}: health.Healthy}),
//	)
//
// # Statuses
//
// [Status] uses Argo CD's names and maps both ways to kstatus's
// ([Status.Kstatus], [FromKstatus]). [Worst] rolls results up.
//
// # Waiting
//
// [Wait] takes a [View], the small contract this package needs from a live
// cache of objects (the cluster package satisfies it), and re-checks an
// object only when the view says it changed: no polling, no per-object GET.
// Each [Progress] report names the first few objects still waited for and
// their current results ([Progress.String]); skipped objects are reported
// in [Report.Skipped] and never block.
package health
