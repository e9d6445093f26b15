package plain_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/converge-dev/converge/render"
	"github.com/converge-dev/converge/render/plain"
)

// FuzzRender decodes arbitrary file content as a manifest tree: it must
// return objects or an error, never panic, and an error must name the file.
func FuzzRender(f *testing.F) {
	f.Add([]byte(cm("a")))
	f.Add([]byte(cm("a") + "---\n" + cm("a")))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{}]}"))
	f.Add([]byte("[[[[[[[[[[[[[[[[[["))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, name: y}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"m/f.yaml": {Data: data}}
		set, err := plain.New().Render(context.Background(), fsys, "m", render.DefaultOptions())
		if err != nil {
			if set != nil {
				t.Fatal("a set with an error")
			}
			if got := err.Error(); !strings.Contains(got, "m/f.yaml") {
				t.Fatalf("error does not name the file: %s", got)
			}
		}
	})
}
