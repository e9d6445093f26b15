package healthtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
	"time"
)

// TestNoPackageVariables: hosts import this package, so an exported
// package variable is process-global state one suite can change under
// another (a host running the suite on two views in parallel); the knobs
// are options. Any exported var declaration (other than the blank
// identifier) fails.
func TestNoPackageVariables(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if filepath.Ext(name) != ".go" || len(name) > 8 && name[len(name)-8:] == "_test.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if id.IsExported() {
						t.Errorf("%s: exported package variable %s: make it an option of TestView", fset.Position(id.Pos()), id.Name)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

// TestOptions: the options reach the suite's settings, and the defaults
// hold without them.
func TestOptions(t *testing.T) {
	apply := func(opts ...Option) settings { return newSettings(opts) }
	if got := apply(); got.timeout != DefaultTimeout || got.stopGrace != DefaultStopGrace {
		t.Errorf("defaults: %+v", got)
	}
	if got := apply(WithTimeout(time.Minute), WithStopGrace(time.Second)); got.timeout != time.Minute || got.stopGrace != time.Second {
		t.Errorf("options not applied: %+v", got)
	}
}
