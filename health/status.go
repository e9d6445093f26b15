package health

import (
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Status is the health of one object, named as Argo CD names it.
type Status string

// The statuses, from best to worst in the order [Worst] uses (Argo CD's).
const (
	// Healthy: the object is what its spec asks for.
	Healthy Status = "Healthy"
	// Suspended: the object is paused or suspended on purpose (a paused
	// Deployment, a suspended CronJob or Job).
	Suspended Status = "Suspended"
	// Progressing: the object is not healthy yet but may become so.
	Progressing Status = "Progressing"
	// Missing: the object does not exist.
	Missing Status = "Missing"
	// Degraded: the object failed and will not become healthy without a
	// change (a failed Job, a Deployment past its progress deadline).
	Degraded Status = "Degraded"
	// Unknown: the object's health cannot be told (no status at all, a
	// malformed status, a rule that failed).
	Unknown Status = "Unknown"
)

// String returns the status's name.
func (s Status) String() string { return string(s) }

// rank orders statuses from best (0) to worst, as Argo CD does.
func (s Status) rank() int {
	switch s {
	case Healthy:
		return 0
	case Suspended:
		return 1
	case Progressing:
		return 2
	case Missing:
		return 3
	case Degraded:
		return 4
	default: // Unknown and anything unrecognised
		return 5
	}
}

// Worse reports whether s is worse than other in the order of [Worst].
func (s Status) Worse(other Status) bool { return s.rank() > other.rank() }

// Valid reports whether s is one of the six statuses.
func (s Status) Valid() bool {
	switch s {
	case Healthy, Suspended, Progressing, Missing, Degraded, Unknown:
		return true
	}
	return false
}

// Kstatus returns the kstatus status that means the same as s:
//
//	Healthy     → Current
//	Progressing → InProgress
//	Degraded    → Failed
//	Missing     → NotFound
//	Unknown     → Unknown
//	Suspended   → InProgress (kstatus has no "paused on purpose")
func (s Status) Kstatus() kstatus.Status {
	switch s {
	case Healthy:
		return kstatus.CurrentStatus
	case Progressing, Suspended:
		return kstatus.InProgressStatus
	case Degraded:
		return kstatus.FailedStatus
	case Missing:
		return kstatus.NotFoundStatus
	default:
		return kstatus.UnknownStatus
	}
}

// FromKstatus returns the status that means the same as the kstatus status
// s: Current → Healthy, InProgress → Progressing, Failed → Degraded,
// Terminating → Progressing (as Argo CD reports objects being deleted),
// NotFound → Missing, and Unknown or anything else → Unknown.
func FromKstatus(s kstatus.Status) Status {
	switch s {
	case kstatus.CurrentStatus:
		return Healthy
	case kstatus.InProgressStatus, kstatus.TerminatingStatus:
		return Progressing
	case kstatus.FailedStatus:
		return Degraded
	case kstatus.NotFoundStatus:
		return Missing
	default:
		return Unknown
	}
}

// Result is the health of one object.
type Result struct {
	Status Status
	// Reason is a short CamelCase word machines can branch on, such as
	// "ProgressDeadlineExceeded", "NoStatus" or "RuleError".
	Reason string
	// Message is a sentence for people.
	Message string
}

// String returns "Status: Reason: Message", leaving out empty parts.
func (r Result) String() string {
	s := string(r.Status)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}
