// Package generate produces parameter sets and renders templates with
// them, as Argo CD's ApplicationSet generators do: a [List] of elements,
// the directories ([GitDirectories]) or the YAML and JSON files
// ([GitFiles]) of a Git repository at a revision, registered [Clusters],
// and a [Matrix] of two generators, the second using the first's
// parameters.
//
// It is pure: Git generators read an fs.FS that the host fetched (with
// source/git, or reconcile.NewFetcher) and hands over through [Repos];
// clusters are the list the host knows. An operator that serves an
// ApplicationSet kind fetches, generates, renders and writes; this
// package does the middle two.
//
//	gens := []generate.Generator{
//		generate.List{Elements: []map[string]any{{"env": "dev"}, {"env": "prod"}}},
//	}
//	apps, err := generate.Expand(ctx, tmpl, generate.DefaultOptions(), gens...)
//	// apps[1]["metadata"].(map[string]any)["name"] == "api-prod" for a
//	// template whose metadata.name is "api-{{env}}"
//
// # Templates
//
// [Render] substitutes parameters into every string of a value (a tree of
// maps, lists and scalars, as an unstructured object is) and into its map
// keys. By default strings take Argo CD's fasttemplate placeholders,
// "{{name}}", and parameters are flat strings ("path.basename",
// "values.env", "path[0]"); a placeholder naming no parameter stays as
// written. With Options.GoTemplate each string is a text/template over
// parameters that keep their shape ("{{.path.basename}}"), with the safe
// functions of [Funcs] and, as Argo CD's goTemplateOptions,
// "missingkey=error".
//
// # Limits
//
// Generators and templates come from people who may not be trusted with
// the host's resources, so every input and output is bounded by
// [Options]: parameter sets, rendered bytes, file size, nesting depth,
// YAML aliases. Go templates cannot read the environment, files or the
// network, cannot call {{template}}, and cannot range over a number. A
// bound crossed fails with [ErrLimit]; a generator or template that is
// wrong as written with [ErrInvalid]; one that fails when it runs with
// [ErrTemplate]. No error quotes a parameter's value or a file's content.
//
// # Differences from Argo CD
//
// Git files globs use "**" (Argo CD's new globbing); Values of a
// matrix's second generator are rendered with that generator's own
// parameters, not the first's; a matrix has exactly two generators; Go
// templates have no sprig functions beyond [Funcs] (no slugify, no
// arithmetic, no repeat). The merge, pullRequest, scmProvider, plugin and
// clusterDecisionResource generators are the host's to write as a
// [Generator].
package generate
