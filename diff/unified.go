package diff

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
)

// UnifiedOptions are the settings of [Unified].
type UnifiedOptions struct {
	// From and To head the two sides, as in "--- live/Deployment.apps/shop/api".
	From, To string
	// Context is the number of unchanged lines around each change; 3
	// when zero.
	Context int
}

// errRenderSecret replaces the details of a failure to render a Secret:
// they could quote a value.
var errRenderSecret = errors.New("the Secret cannot be rendered as YAML (details withheld: they may contain secret values)")

// Unified renders two versions of one object as YAML and returns their
// unified diff, kubectl diff style; either may be nil (a creation or a
// deletion), and "" means they render the same. Secrets, and the fields
// object.AnnotationSensitive names, are masked with [MaskSecrets] first: hosts that show two objects (a plan, a preview of
// two revisions without a cluster) call this rather than render their own,
// so no secret value reaches their output. The inputs are not modified.
func Unified(before, after *unstructured.Unstructured, opts UnifiedOptions) (string, error) {
	secret := IsSecret(before) || IsSecret(after) || len(sensitivePointers(before, after)) > 0
	if secret {
		before, after = MaskSecrets(before, after)
	}
	a, err := toYAML(before)
	if err == nil {
		var b string
		if b, err = toYAML(after); err == nil {
			if a == b {
				return "", nil
			}
			return unifiedText(a, b, opts)
		}
	}
	id := object.IDOf(after)
	if after == nil {
		id = object.IDOf(before)
	}
	if secret {
		err = errRenderSecret
	}
	return "", fmt.Errorf("render %s: %w", id, err)
}

func unifiedText(a, b string, opts UnifiedOptions) (string, error) {
	if opts.Context == 0 {
		opts.Context = 3
	}
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		// difflib.SplitLines adds an empty last line to text that ends in
		// a newline, as YAML does: a create's diff then had one line too
		// many.
		out := strings.SplitAfter(s, "\n")
		if out[len(out)-1] == "" {
			return out[:len(out)-1]
		}
		out[len(out)-1] += "\n"
		return out
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(a),
		B:        lines(b),
		FromFile: opts.From,
		ToFile:   opts.To,
		Context:  opts.Context,
	})
}

func toYAML(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	out, err := yaml.Marshal(obj.Object)
	return string(out), err
}
