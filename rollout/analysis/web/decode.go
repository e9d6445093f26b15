package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/converge-dev/converge/rollout/analysis"
)

// ErrNoValue is returned when the jsonPath selects nothing.
var ErrNoValue = errors.New("result of web metric produced no value")

// decode turns an answer's body into a Result as Rollouts' parseResponse
// does: the body is decoded as JSON (numbers are float64), the jsonPath's
// first match is the Value and its JSON encoding the Text. A body that is
// not JSON is the Value as a string; Rollouts marks that measurement
// Successful without its conditions, which would let an HTML error page
// pass: here the Result has no Phase and the conditions decide.
func decode(body []byte, path string) (analysis.Result, error) {
	var data any
	if err := json.Unmarshal(body, &data); err != nil {
		return analysis.Result{Value: string(body), Text: string(body)}, nil
	}
	if path == "" {
		path = "{$}"
	}
	results, err := find(path, data)
	if err != nil {
		return analysis.Result{}, err
	}
	for _, rs := range results {
		for _, r := range rs {
			val := r.Interface()
			text, err := json.Marshal(val)
			if err != nil {
				return analysis.Result{}, fmt.Errorf("encode the selected value: %w", err)
			}
			return analysis.Result{Value: val, Text: string(text)}, nil
		}
	}
	return analysis.Result{}, ErrNoValue
}

// find runs the jsonPath. Its errors can quote the body ("map[...] is not
// array or slice and cannot be filtered"), so only the ones known to
// quote the path alone are kept; a panic in the parser is an error.
func find(path string, data any) (results [][]reflect.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			results, err = nil, fmt.Errorf("jsonPath %s: the parser failed", path)
		}
	}()
	j := jsonpath.New("metrics")
	if err := j.Parse(path); err != nil {
		return nil, fmt.Errorf("jsonPath %s: %w", path, err)
	}
	results, err = j.FindResults(data)
	if err != nil {
		return nil, fmt.Errorf("Could not find JSONPath in body: %s", safeReason(err)) //nolint:staticcheck // Rollouts' text.
	}
	return results, nil
}

var safeReasons = []*regexp.Regexp{
	regexp.MustCompile(`^[\w.\-]* is not found$`),
	regexp.MustCompile(`^array index out of bounds: index -?\d+, length \d+$`),
	regexp.MustCompile(`^[\w\[\]{}]+ is not array or slice$`), // a type name
	regexp.MustCompile(`^starting index -?\d+ is greater than ending index -?\d+$`),
}

func safeReason(err error) string {
	msg := err.Error()
	for _, re := range safeReasons {
		if re.MatchString(msg) && !strings.ContainsAny(msg, "\"'") {
			return msg
		}
	}
	return "the path does not match the answer's shape"
}
