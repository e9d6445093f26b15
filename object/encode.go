package object

import (
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Encode writes objs to w as a YAML stream, documents separated by "---",
// keys sorted, in the layout kubectl and kustomize print. [Decode] reads it
// back to the same objects (up to JSON's number semantics: a float64 with an
// integral value comes back as an int64).
func Encode(w io.Writer, objs ...*unstructured.Unstructured) error {
	for i, obj := range objs {
		out, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("encode %s: %w", IDOf(obj), err)
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}
