package helm

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/converge-dev/converge/render"
)

// ErrSchema: the values do not meet a chart's values.schema.json.
var ErrSchema = errors.New("values do not meet the chart's schema")

// validateSchemas checks vals against the values.schema.json of the chart
// and of each subchart given values, as Helm does, except that a "$ref"
// to a file or a URL is refused instead of read from the disk or the
// network ("urn:" references are permissive, as in Helm). Errors name
// the schema keyword and the location in the values, never a value.
func validateSchemas(c *chart.Chart, vals chartutil.Values, dir string) error {
	var problems []string
	if err := collectSchemaErrors(c, vals, c.Name(), &problems); err != nil {
		return &render.Error{Path: dir, Err: err}
	}
	if len(problems) == 0 {
		return nil
	}
	return &render.Error{Path: dir, Err: fmt.Errorf("%w:\n%s", ErrSchema, strings.Join(problems, "\n"))}
}

// collectSchemaErrors appends the violations of c's schemas to problems.
// It returns the errors that are not violations: a refused reference.
func collectSchemaErrors(c *chart.Chart, vals map[string]any, name string, problems *[]string) error {
	if c.Schema != nil {
		if err := validateSchema(c.Schema, vals); err != nil {
			var ve *jsonschema.ValidationError
			if errors.Is(err, render.ErrNotAllowed) {
				return fmt.Errorf("%w: %s: values.schema.json refers to another document (no disk or network access while rendering)", render.ErrNotAllowed, name)
			}
			if errors.As(err, &ve) {
				for _, leaf := range leaves(ve) {
					kw := "schema"
					if leaf.ErrorKind != nil {
						kw = strings.Join(leaf.ErrorKind.KeywordPath(), "/")
					}
					*problems = append(*problems, fmt.Sprintf("- %s: at /%s: fails %q", name, strings.Join(leaf.InstanceLocation, "/"), kw))
				}
			} else {
				*problems = append(*problems, fmt.Sprintf("- %s: values.schema.json: %s", name, redact(err.Error())))
			}
		}
	}
	for _, sub := range c.Dependencies() {
		raw, ok := vals[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		m, ok := raw.(map[string]any)
		if !ok {
			*problems = append(*problems, fmt.Sprintf("- %s: values are not a mapping", path.Join(name, sub.Name())))
			continue
		}
		if err := collectSchemaErrors(sub, m, path.Join(name, sub.Name()), problems); err != nil {
			return err
		}
	}
	return nil
}

func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func validateSchema(schemaJSON []byte, vals map[string]any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the schema validator failed")
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return fmt.Errorf("%w: values.schema.json is not JSON", render.ErrSyntax)
	}
	c := jsonschema.NewCompiler()
	refuse := &noRemote{}
	c.UseLoader(refuse)
	const url = "file:///values.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return err
	}
	s, err := c.Compile(url)
	if refuse.refused {
		return render.ErrNotAllowed // the validator's error quotes the reference
	}
	if err != nil {
		return err
	}
	// Validate wants JSON's types; values from YAML already have them.
	return s.Validate(map[string]any(vals))
}

// noRemote refuses every reference to another document but "urn:" ones,
// which Helm treats as permissive.
type noRemote struct{ refused bool }

func (l *noRemote) Load(url string) (any, error) {
	if strings.HasPrefix(url, "urn:") {
		return map[string]any{}, nil
	}
	l.refused = true
	return nil, render.ErrNotAllowed
}
