package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// analysisConditionEvaluations is how many results analysis-conditions
// evaluates.
const analysisConditionEvaluations = 10_000

// analysisConditionsComparison times condition evaluation: converge's
// Conditions.Evaluate against Argo Rollouts' own evaluate.EvaluateResult
// on the same 10,000 vector results (a success rate, `result[0] >= 0.95`,
// and a latency with the isNaN and default helpers). Rollouts' module
// needs k8s.io/kubernetes and its replace directives, so this module does
// not import it: the oracle module's conditionbench command times both in
// one process, checks that every phase is the same, and prints the
// figures as JSON.
var analysisConditionsComparison = comparison{name: "analysis-conditions", run: runAnalysisConditions}

// conditionReport is conditionbench's output.
type conditionReport struct {
	Evaluations int            `json:"evaluations"`
	Rounds      int            `json:"rounds"`
	ConvergeNS  int64          `json:"converge_ns"`
	PeerNS      int64          `json:"peer_ns"`
	Peer        string         `json:"peer"`
	PeerVersion string         `json:"peer_version"`
	Phases      map[string]int `json:"phases"`
	Agree       int            `json:"agree"`
}

func runAnalysisConditions(ctx context.Context, _ *harness) ([]result, error) {
	dir, err := oracleDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/conditionbench", "-n", strconv.Itoa(analysisConditionEvaluations))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("conditionbench in %s: %w", dir, err)
	}
	var r conditionReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("conditionbench: %w: %q", err, out)
	}
	if r.Evaluations != analysisConditionEvaluations || r.Agree != r.Evaluations || r.ConvergeNS <= 0 || r.PeerNS <= 0 {
		return nil, fmt.Errorf("conditionbench: %d of %d phases the same, times %dns and %dns", r.Agree, r.Evaluations, r.ConvergeNS, r.PeerNS)
	}
	per := func(ns int64) string { return fmt.Sprintf("%.2f", float64(ns)/1e3/float64(r.Evaluations)) }
	return []result{{
		Name: fmt.Sprintf("analysis-conditions-%d", r.Evaluations), Converge: time.Duration(r.ConvergeNS),
		PeerName: r.Peer, Peer: time.Duration(r.PeerNS), Requests: 0, Writes: -1,
		Extra: []string{
			fmt.Sprintf("evaluations=%d", r.Evaluations),
			"converge_us_per_evaluation=" + per(r.ConvergeNS),
			"peer_us_per_evaluation=" + per(r.PeerNS),
			fmt.Sprintf("successful=%d failed=%d inconclusive=%d error=%d", r.Phases["Successful"], r.Phases["Failed"], r.Phases["Inconclusive"], r.Phases["Error"]),
			"peer_version=" + r.PeerVersion,
			fmt.Sprintf("best_of=%d", r.Rounds),
		},
	}}, nil
}

// oracleDir finds the oracle module: from bench/ (make bench runs it
// there), or next to this source file.
func oracleDir() (string, error) {
	rel := filepath.Join("rollout", "analysis", "internal", "oracle")
	candidates := []string{filepath.Join("..", rel)}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", rel))
	}
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("the oracle module (rollout/analysis/internal/oracle) is not found from bench/")
}
