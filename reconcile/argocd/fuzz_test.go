package argocd_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/reconcile/argocd"
)

// FuzzLoad: Load never panics, and either fails with the errors its doc
// promises (a *FieldError or the object package's *DecodeError) or
// returns units that all pass Validate.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		app, appSet,
		// Hostile and odd input.
		"", "---\n---\n", "[]", "{}", "null",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: []\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {repoURL: 1}, destination: x}\n",
		strings.Replace(appSet, "'api-{{env}}'", "'{{env}}{{env}}{{env}}{{env}}{{env}}'", 1),
		strings.Replace(appSet, "'api-{{env}}'", "'api-{{'", 1),
		strings.Replace(appSet, "env: dev", "env: {{env}}", 1),
		strings.Replace(app, "path: apps/api", "path: ../../etc", 1),
		strings.Replace(app, "path: apps/api", "path: /etc", 1),
		strings.Replace(app, "targetRevision: main", "targetRevision: '>=1.0.0 <'", 1),
		strings.Replace(app, "targetRevision: main", "targetRevision: refs/heads/..", 1),
		strings.Replace(app, "path: apps/api", "path: x\n    helm:\n      values: \"a: &x [*x]\"", 1),
		strings.Replace(app, "path: apps/api", "path: x\n    helm:\n      values: \"a: 1\\n---\\nb: 2\"", 1),
		strings.Replace(app, "path: apps/api", "path: x\n    directory: {include: '{a,b/*,*.y}', exclude: '[x'}", 1),
		app + "  ignoreDifferences:\n  - jqPathExpressions: ['.a[] | select(.b == \"|\") | .c', '.a[] | select(.b == 1.5)', '..', '.[', '.a.\"']\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: default}\nspec: {destinations: [{}], sourceRepos: ['!x']}\n---\n" + app,
		"a: &a [*a, *a]\nb: *a\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := argocd.Load(strings.NewReader(in), argocd.Options{})
		if err != nil {
			var fe *argocd.FieldError
			var de *object.DecodeError
			if !errors.As(err, &fe) && !errors.As(err, &de) {
				t.Fatalf("error is neither a *FieldError nor a *DecodeError: %v", err)
			}
			if res != nil {
				t.Fatal("a Result with an error")
			}
			return
		}
		for _, u := range res.Units {
			if err := u.Validate(); err != nil {
				t.Fatalf("unit %s: %v", u.Ref(), err)
			}
		}
	})
}
