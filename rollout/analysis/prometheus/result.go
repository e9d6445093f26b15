package prometheus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/converge-dev/converge/rollout/analysis"
)

// Metadata keys of a [analysis.Result], as Rollouts names them.
const (
	// MetadataQuery holds the query as it was sent.
	MetadataQuery = "ResolvedPrometheusQuery"
	// MetadataWarnings holds the server's warnings, quoted and joined
	// with ", ".
	MetadataWarnings = "warnings"
)

// ErrUnsupportedResult is returned for a result type other than a scalar,
// a vector or a matrix. Prometheus' client already refuses a string
// result while decoding it (`unexpected value type "string"`).
var ErrUnsupportedResult = errors.New("Prometheus metric type not supported") //nolint:staticcheck // Rollouts' text.

// shape turns a query's value into a Result exactly as Rollouts'
// processResponse does: a scalar is a float64; a vector is a []float64 of
// its samples in order; a matrix is a []float64 of every sample of every
// series, flattened in order; Text is Prometheus' formatting of the
// values ("[0.97,0.98]", "NaN", "+Inf"). An empty vector is an empty,
// non-nil slice, Text "[]": the conditions decide what it means. NaN and
// ±Inf pass through. The Result has no Phase: it is never a verdict.
func shape(v model.Value) (analysis.Result, error) {
	switch value := v.(type) {
	case *model.Scalar:
		if value == nil {
			return analysis.Result{}, ErrUnsupportedResult
		}
		return analysis.Result{Value: float64(value.Value), Text: value.Value.String()}, nil
	case model.Vector:
		values := make([]model.SampleValue, 0, len(value))
		for _, s := range value {
			if s != nil {
				values = append(values, s.Value)
			}
		}
		return sliceResult(values), nil
	case model.Matrix:
		var values []model.SampleValue
		for _, stream := range value {
			if stream != nil {
				for _, s := range stream.Values {
					values = append(values, s.Value)
				}
			}
		}
		return sliceResult(values), nil
	default:
		return analysis.Result{}, fmt.Errorf("%w: %T", ErrUnsupportedResult, v)
	}
}

func sliceResult(values []model.SampleValue) analysis.Result {
	floats := make([]float64, 0, len(values))
	texts := make([]string, 0, len(values))
	for _, s := range values {
		floats = append(floats, float64(s))
		texts = append(texts, s.String())
	}
	return analysis.Result{Value: floats, Text: "[" + strings.Join(texts, ",") + "]"}
}

// warningsText formats warnings as Rollouts records them: `"a", "b"`.
func warningsText(warnings []string) string {
	quoted := make([]string, len(warnings))
	for i, w := range warnings {
		quoted[i] = `"` + w + `"`
	}
	return strings.Join(quoted, ", ")
}
