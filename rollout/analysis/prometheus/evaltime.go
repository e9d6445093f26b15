package prometheus

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
)

// evalTime evaluates a rangeQuery bound as Rollouts' evaluate.EvalTime
// does: an expr-lang expression (now(), duration("5m"), with isNaN and
// isInf in scope) whose value must be a time.
func evalTime(expression string) (time.Time, error) {
	env := map[string]any{
		"isNaN": math.IsNaN,
		"isInf": func(f float64) bool { return math.IsInf(f, 0) },
	}
	program, err := expr.Compile(expression, expr.Env(env))
	if err != nil {
		return time.Time{}, unwrapFileErr(err)
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return time.Time{}, unwrapFileErr(err)
	}
	t, ok := out.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("expected time.Time, but got %T", out)
	}
	return t, nil
}

func unwrapFileErr(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Message)
	}
	return err
}
