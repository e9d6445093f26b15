package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Status is a run's state, as an AnalysisRun's status holds it.
type Status struct {
	// Phase is the run's: Pending before its first Step, then Running
	// until it is completed.
	Phase Phase `json:"phase"`
	// Message says why a completed run has its phase.
	Message string `json:"message,omitempty"`
	// StartedAt is the time of the first Step; CompletedAt the time the
	// run completed.
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	// Metrics are in the order of the merged templates.
	Metrics []MetricStatus `json:"metrics"`
}

// MetricStatus is one metric's result: its phase, counters and kept
// measurements (the last [DefaultMeasurementHistoryLimit], or as its
// measurementRetention says), as Rollouts' MetricResult.
type MetricStatus struct {
	// Name is the metric's.
	Name string `json:"name"`
	// Phase is Pending until the first measurement, then Running until
	// the metric is completed.
	Phase Phase `json:"phase"`
	// Message is the last measurement's, or why the metric completed.
	Message string `json:"message,omitempty"`
	// DryRun is set when the metric's phase does not decide the run's.
	DryRun bool `json:"dryRun,omitempty"`
	// Count is the measurements that were not Error.
	Count int32 `json:"count,omitempty"`
	// Successful, Failed, Inconclusive and Error count measurements by
	// phase.
	Successful   int32 `json:"successful,omitempty"`
	Failed       int32 `json:"failed,omitempty"`
	Inconclusive int32 `json:"inconclusive,omitempty"`
	Error        int32 `json:"error,omitempty"`
	// ConsecutiveError and ConsecutiveSuccess count the last
	// measurements of that phase in a row.
	ConsecutiveError   int32 `json:"consecutiveError,omitempty"`
	ConsecutiveSuccess int32 `json:"consecutiveSuccess,omitempty"`
	// Measurements are the kept measurements, oldest first.
	Measurements []Measurement `json:"measurements,omitempty"`
}

// Measurement is one finished measurement. Its Message and Value never
// hold a secret arg's value (each is masked as "*****") and are bounded.
type Measurement struct {
	// Phase is the measurement's verdict.
	Phase Phase `json:"phase"`
	// Message is the error of an Error measurement, or why one is
	// Inconclusive where Rollouts would say Successful (a value that is
	// not finite).
	Message string `json:"message,omitempty"`
	// Value is the result as text ([Result].Text, or its JSON).
	Value string `json:"value,omitempty"`
	// StartedAt and FinishedAt are the Step's now.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Metadata is the provider's (at most 32 entries).
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (s Status) clone() Status {
	out := s
	out.Metrics = make([]MetricStatus, len(s.Metrics))
	for i, m := range s.Metrics {
		m.Measurements = append([]Measurement(nil), m.Measurements...)
		for j := range m.Measurements {
			if md := m.Measurements[j].Metadata; md != nil {
				c := make(map[string]string, len(md))
				for k, v := range md {
					c[k] = v
				}
				m.Measurements[j].Metadata = c
			}
		}
		out.Metrics[i] = m
	}
	return out
}

const stateVersion = 1

type runState struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"`
	Terminated  bool   `json:"terminated,omitempty"`
	Status      Status `json:"status"`
}

// MarshalJSON writes the run's state: its status, every finished
// measurement kept, and a fingerprint of the resolved metrics (args
// included, secret values not). It holds no secret value.
func (r *Run) MarshalJSON() ([]byte, error) {
	return json.Marshal(runState{Version: stateVersion, Fingerprint: r.fingerprint, Terminated: r.terminated, Status: r.status})
}

// Resume restores state written by [Run.MarshalJSON] into a run made by
// [NewRun] from the same templates and args, before its first Step, so
// that a restarted host goes on from the last finished measurement and
// takes none of them again. State from other templates or args, or that
// is malformed, is an error wrapping [ErrState]; the run is then left as
// it was.
func (r *Run) Resume(data []byte) error {
	if r.stepped || r.terminated {
		return fmt.Errorf("resume: the run has already started: %w", ErrState)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st runState
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("resume: %w: %v", ErrState, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("resume: version %d, want %d: %w", st.Version, stateVersion, ErrState)
	}
	if st.Fingerprint != r.fingerprint {
		return fmt.Errorf("resume: the state is of other templates or args: %w", ErrState)
	}
	if err := r.checkState(&st.Status); err != nil {
		return fmt.Errorf("resume: %w: %v", ErrState, err)
	}
	r.status, r.terminated = st.Status.clone(), st.Terminated
	return nil
}

func validPhase(p Phase) bool {
	for _, q := range phaseOrder {
		if p == q {
			return true
		}
	}
	return false
}

func (r *Run) checkState(s *Status) error {
	if !validPhase(s.Phase) {
		return fmt.Errorf("phase %q", truncate(string(s.Phase), 32))
	}
	if len(s.Metrics) != len(r.metrics) {
		return fmt.Errorf("%d metrics, want %d", len(s.Metrics), len(r.metrics))
	}
	if s.StartedAt == nil && s.Phase != PhasePending {
		return fmt.Errorf("no startedAt")
	}
	for i := range s.Metrics {
		m := &s.Metrics[i]
		if m.Name != r.metrics[i].Name || m.DryRun != r.metrics[i].dryRun {
			return fmt.Errorf("metrics[%d] is %q, want %q", i, m.Name, r.metrics[i].Name)
		}
		if !validPhase(m.Phase) {
			return fmt.Errorf("metrics[%d].phase %q", i, truncate(string(m.Phase), 32))
		}
		for _, n := range []int32{m.Count, m.Successful, m.Failed, m.Inconclusive, m.Error, m.ConsecutiveError, m.ConsecutiveSuccess} {
			if n < 0 {
				return fmt.Errorf("metrics[%d]: negative counter", i)
			}
		}
		if m.Count != m.Successful+m.Failed+m.Inconclusive || m.Count < 0 {
			return fmt.Errorf("metrics[%d]: count %d is not the sum of its phases", i, m.Count)
		}
		if len(m.Measurements) > r.metrics[i].retention {
			return fmt.Errorf("metrics[%d]: %d measurements, more than kept", i, len(m.Measurements))
		}
		if len(m.Measurements) == 0 && (m.Count > 0 || m.Error > 0) {
			return fmt.Errorf("metrics[%d]: counters without measurements", i)
		}
		for j, ms := range m.Measurements {
			if !ms.Phase.Completed() {
				return fmt.Errorf("metrics[%d].measurements[%d]: phase %q", i, j, truncate(string(ms.Phase), 32))
			}
		}
	}
	return nil
}
