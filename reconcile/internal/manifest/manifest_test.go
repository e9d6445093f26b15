package manifest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/reconcile/internal/manifest"
	"github.com/converge-dev/converge/render"
)

const object = "Kind ns/x"

// texts returns the text of each error of d.
func texts(d *manifest.Doc) []string {
	var out []string
	for _, e := range d.Errors() {
		out = append(out, e.Error())
	}
	return out
}

func TestFieldError(t *testing.T) {
	tests := map[string]struct {
		reason string
		err    *manifest.FieldError
		want   string
	}{
		"field": {
			reason: "the object, the path, the reason",
			err:    &manifest.FieldError{Object: object, Path: "spec.a", Reason: "bad", Err: manifest.ErrInvalid},
			want:   "Kind ns/x: spec.a: bad",
		},
		"whole object": {
			reason: "no path: the object and the reason",
			err:    &manifest.FieldError{Object: object, Reason: "bad", Err: manifest.ErrMissing},
			want:   "Kind ns/x: bad",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error(), tt.reason)
			wrapped := fmt.Errorf("load: %w", tt.err)
			assert.ErrorIs(t, wrapped, tt.err.Err)
			var fe *manifest.FieldError
			require.ErrorAs(t, wrapped, &fe)
			assert.Same(t, tt.err, fe)
		})
	}
}

func TestWarningString(t *testing.T) {
	assert.Equal(t, "Kind ns/x: spec.a: ignored", manifest.Warning{Object: object, Path: "spec.a", Message: "ignored"}.String())
	assert.Equal(t, "Kind ns/x: skipped", manifest.Warning{Object: object, Message: "skipped"}.String())
}

// TestUnknownFields: Finish refuses every field no reader asked for, in
// path order, once.
func TestUnknownFields(t *testing.T) {
	d := manifest.NewDoc(object)
	n := d.Root(map[string]any{
		"kind": "Kind",
		"spec": map[string]any{"known": "x", "zeta": 1, "alpha": 2, "a/b": 3},
		"list": []any{map[string]any{"name": "a", "typo": true}},
		"z":    nil, // a null field is a field too
	}, "")
	n.Accept("kind", "missing")
	spec := n.Obj("spec")
	spec.Str("known")
	for _, item := range n.Objs("list") {
		item.Str("name")
	}
	d.Finish()
	d.Finish() // a second Finish reports nothing more
	want := []string{
		`Kind ns/x: list[0].typo: unknown field`,
		`Kind ns/x: spec.alpha: unknown field`,
		`Kind ns/x: spec.zeta: unknown field`,
		`Kind ns/x: spec["a/b"]: unknown field`,
		`Kind ns/x: z: unknown field`,
	}
	assert.Equal(t, want, texts(d))
	for _, e := range d.Errors() {
		assert.ErrorIs(t, e, manifest.ErrUnknownField)
	}
	assert.True(t, d.Failed())
}

func TestReaders(t *testing.T) {
	m := map[string]any{
		"s": "text", "i": int64(3), "f": 3.0, "frac": 1.5, "huge": float64(1 << 60), "b": true,
		"null": nil, "map": map[string]any{"k": "v"}, "list": []any{"a", int64(1), map[string]any{}},
		"labels": map[string]any{"a": "1", "b": int64(2)},
	}
	tests := map[string]struct {
		reason string
		read   func(n *manifest.Node) any
		want   any
		errs   []string
	}{
		"string":           {read: func(n *manifest.Node) any { return n.Str("s") }, want: "text"},
		"string, absent":   {read: func(n *manifest.Node) any { return n.Str("nope") }, want: ""},
		"string, null":     {reason: "null is absent", read: func(n *manifest.Node) any { return n.Str("null") }, want: ""},
		"string, a number": {read: func(n *manifest.Node) any { return n.Str("i") }, want: "", errs: []string{"Kind ns/x: i: must be a string, not a number"}},
		"integer":          {read: func(n *manifest.Node) any { i, _ := n.Int("i"); return i }, want: int64(3)},
		"integer as float": {reason: "JSON numbers are floats", read: func(n *manifest.Node) any { i, _ := n.Int("f"); return i }, want: int64(3)},
		"fraction":         {read: func(n *manifest.Node) any { _, ok := n.Int("frac"); return ok }, want: false, errs: []string{"Kind ns/x: frac: must be an integer, not a number"}},
		"beyond 2^53":      {reason: "a float that large has lost digits", read: func(n *manifest.Node) any { _, ok := n.Int("huge"); return ok }, want: false, errs: []string{"Kind ns/x: huge: must be an integer, not a number"}},
		"integer, string":  {reason: "only templates coerce", read: func(n *manifest.Node) any { _, ok := n.Int("s"); return ok }, want: false, errs: []string{"Kind ns/x: s: must be an integer, not a string"}},
		"boolean":          {read: func(n *manifest.Node) any { return n.Bool("b") }, want: true},
		"boolean, string":  {read: func(n *manifest.Node) any { return n.Bool("s") }, want: false, errs: []string{"Kind ns/x: s: must be a boolean, not a string"}},
		"mapping, a list":  {read: func(n *manifest.Node) any { return n.Obj("list").Map() == nil }, want: true, errs: []string{"Kind ns/x: list: must be a mapping, not a list"}},
		"mapping, absent":  {read: func(n *manifest.Node) any { c := n.Obj("nope"); return c.Map() == nil && c.Path() == "nope" }, want: true},
		"list, a mapping":  {read: func(n *manifest.Node) any { return n.List("map") == nil }, want: true, errs: []string{"Kind ns/x: map: must be a list, not a mapping"}},
		"strings":          {read: func(n *manifest.Node) any { return n.Strs("list") }, want: []string{"a"}, errs: []string{"Kind ns/x: list[1]: must be a string, not a number", "Kind ns/x: list[2]: must be a string, not a mapping"}},
		"mappings":         {read: func(n *manifest.Node) any { return len(n.Objs("list")) }, want: 1, errs: []string{"Kind ns/x: list[0]: must be a mapping, not a string", "Kind ns/x: list[1]: must be a mapping, not a number"}},
		"string map":       {read: func(n *manifest.Node) any { return n.StrMap("labels") }, want: map[string]string{"a": "1"}, errs: []string{"Kind ns/x: labels.b: must be a string, not a number"}},
		"get":              {read: func(n *manifest.Node) any { v, ok := n.Get("null"); return []any{v, ok} }, want: []any{nil, false}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := manifest.NewDoc(object)
			n := d.Root(m, "")
			assert.Equal(t, tt.want, tt.read(n), tt.reason)
			assert.Equal(t, tt.errs, texts(d), tt.reason)
			for _, e := range d.Errors() {
				assert.ErrorIs(t, e, manifest.ErrInvalid)
			}
		})
	}
}

// TestPresent: Present does not read; Accept reads without using.
func TestPresent(t *testing.T) {
	d := manifest.NewDoc(object)
	n := d.Root(map[string]any{"a": "x", "b": nil, "c": 1}, "spec")
	assert.True(t, n.Present("a"))
	assert.False(t, n.Present("b"), "null is absent")
	assert.False(t, n.Present("nope"))
	n.Accept("c")
	d.Finish()
	assert.Equal(t, []string{"Kind ns/x: spec.a: unknown field", "Kind ns/x: spec.b: unknown field"}, texts(d))
}

func TestRefuseInform(t *testing.T) {
	d := manifest.NewDoc(object)
	n := d.Root(map[string]any{"plugin": map[string]any{}, "info": "x", "off": nil}, "spec")
	n.Refuse("plugin", "%s are not supported", "plugins")
	n.Refuse("off", "a null is not set")
	n.Refuse("nope", "not set")
	n.Inform("info", "informational")
	n.Inform("off", "a null is not set")
	d.Finish()
	require.Len(t, d.Errors(), 1, "a null or absent field is not refused, and both are read")
	assert.Equal(t, "Kind ns/x: spec.plugin: plugins are not supported", d.Errors()[0].Error())
	assert.ErrorIs(t, d.Errors()[0], manifest.ErrUnsupported)
	assert.Equal(t, []manifest.Warning{{Object: object, Path: "spec.info", Message: "informational"}}, d.Warnings())
}

// TestFromTemplate: in a document expanded from a template, "true",
// "false" and digits are booleans and integers, with one warning a field.
func TestFromTemplate(t *testing.T) {
	m := map[string]any{"yes": "true", "no": "false", "maybe": "maybe", "n": "42", "x": "4x", "real": true}
	d := manifest.NewDoc(object, manifest.FromTemplate("Argo CD"))
	n := d.Root(m, "spec")
	assert.True(t, n.Bool("yes"))
	assert.True(t, n.Bool("yes"), "read twice, warned once")
	assert.False(t, n.Bool("no"))
	assert.False(t, n.Bool("maybe"))
	assert.True(t, n.Bool("real"))
	i, ok := n.Int("n")
	assert.True(t, ok)
	assert.Equal(t, int64(42), i)
	_, ok = n.Int("x")
	assert.False(t, ok)
	assert.Equal(t, []string{
		`Kind ns/x: spec.maybe: "maybe" is not a boolean (true or false)`,
		`Kind ns/x: spec.x: "4x" is not an integer`,
	}, texts(d))
	assert.Equal(t, []manifest.Warning{
		{Object: object, Path: "spec.yes", Message: `a parameter gives this boolean field a string; converge reads "true" and "false" as booleans (Argo CD's schema wants a boolean here)`},
		{Object: object, Path: "spec.no", Message: `a parameter gives this boolean field a string; converge reads "true" and "false" as booleans (Argo CD's schema wants a boolean here)`},
		{Object: object, Path: "spec.n", Message: `a parameter gives this integer field a string; converge reads it as a number (Argo CD's schema wants a number here)`},
	}, d.Warnings())

	assert.Equal(t, map[string]any{"yes": true, "no": false, "maybe": "maybe", "n": int64(42), "x": "4x", "real": true}, m,
		"the expansion holds the typed values it was read as")

	plain := manifest.NewDoc(object)
	plain.Root(map[string]any{"yes": "true"}, "spec").Bool("yes")
	assert.Equal(t, []string{"Kind ns/x: spec.yes: must be a boolean, not a string"}, texts(plain), "only a template coerces")
}

// TestDocWarnings: a warning is kept once, and at most 200 of a document
// are, then one that says more were left out.
func TestDocWarnings(t *testing.T) {
	d := manifest.NewDoc(object)
	d.Warn("a", "same")
	d.Warn("a", "same")
	d.Warn("b", "same")
	assert.Len(t, d.Warnings(), 2)
	for i := range 300 {
		d.Warn("p", "warning %d", i)
	}
	require.Len(t, d.Warnings(), 201)
	assert.Equal(t, manifest.Warning{Object: object, Message: "more warnings left out"}, d.Warnings()[200])
	assert.False(t, d.Failed(), "warnings do not fail a document")
}

func TestFindings(t *testing.T) {
	var f manifest.Findings
	require.NoError(t, f.Err(), "nothing found")
	for i := range 60 {
		d := manifest.NewDoc(fmt.Sprintf("Kind ns/x%d", i))
		d.Root(map[string]any{"typo": 1}, "")
		d.Warn("", "the same for all")
		f.End(d)
	}
	err := f.Err()
	require.Error(t, err)
	assert.ErrorIs(t, err, manifest.ErrUnknownField)
	var fe *manifest.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "Kind ns/x0: typo: unknown field", fe.Error(), "in the order found")
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 51, "50 errors, then how many more")
	assert.Equal(t, "Kind ns/x49: typo: unknown field", lines[49])
	assert.Equal(t, "and 10 more errors", lines[50])
	assert.Len(t, f.Warnings(), 60, "one a document: they name different objects")

	f.Warn(f.Warnings()[0])
	assert.Len(t, f.Warnings(), 60, "a warning is kept once")
	for i := range 2000 {
		f.Warn(manifest.Warning{Object: object, Message: fmt.Sprint(i)})
	}
	require.Len(t, f.Warnings(), 1001)
	assert.Equal(t, manifest.Warning{Object: object, Message: "more warnings left out"}, f.Warnings()[1000])

	var g manifest.Findings
	g.Fail(&manifest.FieldError{Object: object, Reason: "bad", Err: manifest.ErrInvalid})
	assert.EqualError(t, g.Err(), "Kind ns/x: bad")
}

func TestReadMeta(t *testing.T) {
	tests := map[string]struct {
		reason string
		meta   any
		unit   bool
		want   manifest.Meta
		errs   []string
	}{
		"defaults": {
			reason: "the namespace defaults; what the API server writes is accepted",
			meta:   map[string]any{"name": "api", "uid": "u", "resourceVersion": "1", "managedFields": []any{}, "labels": map[string]any{"a": "b"}},
			want:   manifest.Meta{Name: "api", Namespace: "default-ns"},
		},
		"everything": {
			meta: map[string]any{"name": "api", "namespace": "shop", "generation": int64(4), "finalizers": []any{"f"}, "annotations": map[string]any{"a": "b"}},
			want: manifest.Meta{Name: "api", Namespace: "shop", Generation: 4, Finalizers: []string{"f"}, Annotations: map[string]string{"a": "b"}},
		},
		"no name": {
			meta: map[string]any{"generateName": "api-"},
			want: manifest.Meta{Namespace: "default-ns"},
			errs: []string{
				"Kind ns/x: metadata.generateName: a generated name cannot identify a unit; set metadata.name",
				"Kind ns/x: metadata.name: required",
			},
		},
		"no metadata": {
			meta: nil,
			want: manifest.Meta{Namespace: "default-ns"},
			errs: []string{"Kind ns/x: metadata.name: required"},
		},
		"bad namespace": {
			meta: map[string]any{"name": "api", "namespace": "Shop"},
			want: manifest.Meta{Name: "api", Namespace: "Shop"},
			errs: []string{`Kind ns/x: metadata.namespace: "Shop" is not a namespace name`},
		},
		"object name": {
			reason: "only a unit's name must be a DNS label",
			meta:   map[string]any{"name": "My.Project"},
			want:   manifest.Meta{Name: "My.Project", Namespace: "default-ns"},
		},
		"unit name": {
			meta: map[string]any{"name": "My.Project"},
			unit: true,
			want: manifest.Meta{Name: "My.Project", Namespace: "default-ns"},
			errs: []string{`Kind ns/x: metadata.name: "My.Project": a unit's name is a DNS label of at most 54 characters (lower-case letters, digits, '-')`},
		},
		"long unit name": {
			meta: map[string]any{"name": strings.Repeat("a", 55)},
			unit: true,
			want: manifest.Meta{Name: strings.Repeat("a", 55), Namespace: "default-ns"},
			errs: []string{`Kind ns/x: metadata.name: "` + strings.Repeat("a", 55) + `": a unit's name is a DNS label of at most 54 characters (lower-case letters, digits, '-')`},
		},
		"unknown": {
			meta: map[string]any{"name": "api", "lables": map[string]any{}},
			want: manifest.Meta{Name: "api", Namespace: "default-ns"},
			errs: []string{"Kind ns/x: metadata.lables: unknown field"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := manifest.NewDoc(object)
			n := d.Root(map[string]any{"metadata": tt.meta}, "")
			read := manifest.ReadMeta
			if tt.unit {
				read = manifest.ReadUnitMeta
			}
			assert.Equal(t, tt.want, read(n, "default-ns"), tt.reason)
			d.Finish()
			assert.Equal(t, tt.errs, texts(d), tt.reason)
		})
	}
}

func TestObjectName(t *testing.T) {
	o := &unstructured.Unstructured{Object: map[string]any{"kind": "Application", "metadata": map[string]any{"name": "api"}}}
	assert.Equal(t, "Application argocd/api", manifest.ObjectName(o, 0, "argocd"))
	o.SetNamespace("shop")
	assert.Equal(t, "Application shop/api", manifest.ObjectName(o, 0, "argocd"))
	o.SetName("")
	assert.Equal(t, "Application (object 3)", manifest.ObjectName(o, 2, "argocd"))
	o.SetKind(strings.Repeat("K", 100))
	assert.Equal(t, strings.Repeat("K", 64)+"… (object 1)", manifest.ObjectName(o, 0, "argocd"), "cut")
}

func TestPatchTarget(t *testing.T) {
	d := manifest.NewDoc(object)
	n := d.Root(map[string]any{"target": map[string]any{
		"group": "apps", "version": "v1", "kind": "Deployment", "name": "api", "namespace": "shop",
		"labelSelector": "a=b", "annotationSelector": "c=d",
	}}, "spec.patches[0]")
	assert.Equal(t, &render.Selector{
		Group: "apps", Version: "v1", Kind: "Deployment", Name: "api", Namespace: "shop",
		LabelSelector: "a=b", AnnotationSelector: "c=d",
	}, manifest.PatchTarget(n.Obj("target")))
	assert.Nil(t, manifest.PatchTarget(n.Obj("none")))
	d.Finish()
	assert.Empty(t, d.Errors(), "every field read")
}

func TestUnits(t *testing.T) {
	var units manifest.Units
	api := reconcile.Unit{Name: "api", Namespace: "shop", Source: reconcile.Source{URL: "https://example.com/r.git"}}
	first := manifest.NewDoc("Application shop/api")
	require.True(t, units.Add(first, &api))
	assert.False(t, first.Failed())

	again := manifest.NewDoc("Application shop/api-copy")
	assert.False(t, units.Add(again, &api))
	assert.Equal(t, []string{"Application shop/api-copy: metadata.name: unit shop/api is also defined by Application shop/api"}, texts(again))

	bad := manifest.NewDoc("Application shop/web")
	web := reconcile.Unit{Name: "web", Namespace: "shop"}
	assert.False(t, units.Add(bad, &web))
	require.Len(t, bad.Errors(), 1)
	assert.ErrorIs(t, bad.Errors()[0], manifest.ErrInvalid)
	assert.ErrorContains(t, bad.Errors()[0], "no URL and no directory")

	web.Source.URL = api.Source.URL
	require.True(t, units.Add(manifest.NewDoc("Application shop/web"), &web))
	web.Path = "changed"
	got := units.List()
	require.Len(t, got, 2)
	assert.Equal(t, []string{"api", "web"}, []string{got[0].Name, got[1].Name}, "in the order added")
	assert.Empty(t, got[1].Path, "a copy is kept")
}

func TestJoinPath(t *testing.T) {
	tests := map[string]struct{ parent, key, want string }{
		"root":       {"", "spec", "spec"},
		"nested":     {"spec", "source", "spec.source"},
		"dash":       {"spec", "my-key_1", "spec.my-key_1"},
		"slash":      {"metadata.annotations", "a/b", `metadata.annotations["a/b"]`},
		"dot":        {"data", ".env", `data[".env"]`},
		"digit":      {"m", "1a", `m["1a"]`},
		"empty key":  {"m", "", `m[""]`},
		"root quote": {"", "a b", `["a b"]`},
		"long":       {"m", strings.Repeat("/", 70), `m["` + strings.Repeat("/", 64) + `…"]`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, manifest.JoinPath(tt.parent, tt.key))
		})
	}
}

func TestShort(t *testing.T) {
	assert.Equal(t, "abc", manifest.Short("abc"))
	exact := strings.Repeat("a", 64)
	assert.Equal(t, exact, manifest.Short(exact))
	assert.Equal(t, exact+"…", manifest.Short(exact+"b"))
	// "é" is two bytes: the 64th byte is in the middle of one.
	s := "a" + strings.Repeat("é", 40)
	got := manifest.Short(s)
	assert.True(t, utf8.ValidString(got))
	assert.Equal(t, "a"+strings.Repeat("é", 31)+"…", got)
}

func TestTypeName(t *testing.T) {
	tests := map[string]struct {
		v    any
		want string
	}{
		"mapping": {map[string]any{}, "a mapping"},
		"list":    {[]any{}, "a list"},
		"string":  {"", "a string"},
		"boolean": {false, "a boolean"},
		"int":     {int64(1), "a number"},
		"float":   {1.5, "a number"},
		"null":    {nil, "null"},
		"other":   {int32(1), "int32"},
	}
	for name, tt := range tests {
		assert.Equal(t, tt.want, manifest.TypeName(tt.v), name)
	}
}

// The sentinels are distinct, and not each other.
func TestSentinels(t *testing.T) {
	all := []error{manifest.ErrUnknownField, manifest.ErrUnsupported, manifest.ErrInvalid, manifest.ErrMissing}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v, %v", a, b)
		}
	}
}
