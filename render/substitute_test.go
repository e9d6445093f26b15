package render_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": "", "name_2": "x"}
	tests := map[string]struct {
		in, want string
		strict   bool
		is       error
		errs     string
	}{
		"plain text":              {in: "no vars $ here $A", want: "no vars $ here $A"},
		"braced":                  {in: "a=${A} b=${name_2}", want: "a=1 b=x"},
		"unset is empty":          {in: "[${NOPE}]", want: "[]"},
		"unset strict":            {in: "x\n${NOPE}", strict: true, is: render.ErrUnsetVariable, errs: "line 2: NOPE"},
		"empty strict is set":     {in: "[${EMPTY}]", strict: true, want: "[]"},
		"default assign":          {in: "${NOPE:=d}", strict: true, want: "d"},
		"default dash":            {in: "${NOPE:-d e}", strict: true, want: "d e"},
		"default when empty":      {in: "${EMPTY:-d}", want: "d"},
		"default unused":          {in: "${A:-d}", want: "1"},
		"empty default":           {in: "[${NOPE:-}]", strict: true, want: "[]"},
		"escaped":                 {in: "$${A} ${A}", want: "${A} 1"},
		"trailing dollar":         {in: "cost $", want: "cost $"},
		"unterminated":            {in: "a: ${A", is: render.ErrSyntax, errs: "unterminated"},
		"unterminated at end":     {in: "a: ${", is: render.ErrSyntax, errs: "line 1"},
		"unterminated over lines": {in: "a: ${A\nb: }", is: render.ErrSyntax, errs: "unterminated"},
		"invalid name":            {in: "${1A}", is: render.ErrSyntax, errs: "invalid variable name"},
		"empty name":              {in: "${}", is: render.ErrSyntax},
		"unsupported operator":    {in: "${A:+x}", is: render.ErrSyntax, errs: "unsupported operator"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := render.Expand(tc.in, vars, tc.strict)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
				assert.Contains(t, err.Error(), tc.errs)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func objFrom(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	objs, err := object.DecodeBytes([]byte(y), object.DefaultDecodeOptions())
	require.NoError(t, err)
	require.Len(t, objs, 1)
	return objs[0]
}

func TestSubstitute(t *testing.T) {
	set := object.NewSet()
	require.NoError(t, set.Add(objFrom(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-${ENV}
  namespace: shop
spec:
  replicas: ${REPLICAS:=1}
  template:
    spec:
      containers:
      - name: web
        image: web:${TAG}
`), "web.yaml"))
	require.NoError(t, set.Add(objFrom(t, `apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  namespace: shop
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  run.sh: echo ${HOME}
`), "script.yaml"))
	vars := map[string]string{"ENV": "prod", "REPLICAS": "3", "TAG": "v2"}
	out, err := render.Substitute(vars, render.DefaultSubstituteOptions()).Process(context.Background(), set)
	require.NoError(t, err)

	dep, ok := out.Get(object.ID{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web-prod"})
	require.True(t, ok, "%v", out.IDs())
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	assert.Equal(t, int64(3), replicas, "a substituted number is a number")
	assert.Equal(t, "web.yaml", out.Source(object.IDOf(dep)))

	script, ok := out.Get(object.ID{Kind: "ConfigMap", Namespace: "shop", Name: "script"})
	require.True(t, ok)
	data, _, _ := unstructured.NestedString(script.Object, "data", "run.sh")
	assert.Equal(t, "echo ${HOME}", data, "opted-out objects are untouched")

	t.Run("strict names object and variable, not values", func(t *testing.T) {
		opts := render.DefaultSubstituteOptions()
		opts.Strict = true
		_, err := render.Substitute(map[string]string{"ENV": "secret-value"}, opts).Process(context.Background(), set.DeepCopy())
		require.ErrorIs(t, err, render.ErrUnsetVariable)
		assert.Contains(t, err.Error(), "web.yaml")
		assert.Contains(t, err.Error(), "Deployment.apps/shop/web-${ENV}")
		assert.Contains(t, err.Error(), "TAG")
		assert.NotContains(t, err.Error(), "secret-value")
	})

	t.Run("converge annotation opts out", func(t *testing.T) {
		s := object.NewSet()
		o := objFrom(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    converge.dev/substitute: disabled\ndata:\n  a: ${NOPE}\n")
		require.NoError(t, s.Add(o, "x.yaml"))
		opts := render.DefaultSubstituteOptions()
		opts.Strict = true
		out, err := render.Substitute(nil, opts).Process(context.Background(), s)
		require.NoError(t, err)
		assert.Equal(t, 1, out.Len())
	})

	t.Run("a value that breaks the object is an error", func(t *testing.T) {
		s := object.NewSet()
		require.NoError(t, s.Add(objFrom(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: ${V}\n"), "x.yaml"))
		_, err := render.Substitute(map[string]string{"V": "a\n---\nkind: x"}, render.DefaultSubstituteOptions()).Process(context.Background(), s)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "x.yaml")
	})
}

// FuzzExpand: Expand never panics, text without "$" comes back unchanged,
// and an error never quotes a value.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "${", "$${A}", "${A:=${B}}", "${A:-", "a: ${A}\n", "${\n}", "$$$", "${A:?x}", "${ä}"} {
		f.Add(s, false)
	}
	vars := map[string]string{"A": "VALUE-A", "B": "VALUE-B"}
	f.Fuzz(func(t *testing.T, s string, strict bool) {
		got, err := render.Expand(s, vars, strict)
		if err != nil {
			if strings.Contains(err.Error(), "VALUE-") {
				t.Fatalf("error quotes a value: %v", err)
			}
			return
		}
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("text without variables changed: %q -> %q", s, got)
		}
	})
}
