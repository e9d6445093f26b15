package check

import (
	"fmt"
	"strings"
)

// Severity ranks a finding. The zero Severity is unset: a finding
// without one takes its rule's.
type Severity int

// The severities, lowest first.
const (
	SeverityInfo Severity = iota + 1
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"", "info", "low", "medium", "high", "critical"}

// String returns the severity's lower-case name ("high"), or "unset".
func (s Severity) String() string {
	if s <= 0 || int(s) >= len(severityNames) {
		return "unset"
	}
	return severityNames[s]
}

// ParseSeverity parses a severity's name, in any case, as a --fail-on
// flag gives it: info, low, medium, high or critical.
func ParseSeverity(s string) (Severity, error) {
	for i, name := range severityNames {
		if i > 0 && strings.EqualFold(strings.TrimSpace(s), name) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("check: unknown severity %q (want info, low, medium, high or critical)", s)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// weight is what a finding of s takes off its section's score.
func (s Severity) weight() int {
	switch s {
	case SeverityLow:
		return 5
	case SeverityMedium:
		return 10
	case SeverityHigh:
		return 25
	case SeverityCritical:
		return 50
	}
	return 0
}
