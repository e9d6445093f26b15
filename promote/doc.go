// Package promote moves images between environments: it picks the newest
// tag by a policy with Flux ImagePolicy semantics and edits the files that
// name an image while keeping their comments, key order and formatting.
//
// # Policies
//
// A [Policy] orders tags by semver range, alphabetically or numerically,
// after an optional filter with an extract template, as Flux's
// image-reflector-controller does, pre-releases and ties included:
//
//	p := promote.Policy{Kind: promote.SemVer, Range: ">=1.0.0"}
//	tag, err := p.Latest([]string{"1.0.0", "1.2.0", "1.3.0-rc.1"}) // "1.2.0"
//
// [ParseImagePolicy] reads the same from an ImagePolicy manifest, refusing
// by name any field it does not know.
//
// # Edits
//
// An [Edit] reads a tree (an fs.FS; [OpenDir] gives one confined to a
// directory that can also be written) and returns a [Result]: the files it
// changes, old and new, and their unified diffs. Nothing is written until
// [Result.Write]. Three edits come with the package:
//
//   - [SetImage]: a kustomization's images:, with `kustomize edit set
//     image` semantics ([ParseImage] reads its arguments);
//   - [SetPolicies]: Flux's `# {"$imagepolicy": "ns:name"}` setter
//     markers, with the :tag, :name and :digest variants;
//   - [SetField]: one value by its YAML path, such as Helm values'
//     image.tag.
//
// An edit changes the bytes of a value and nothing else: a change it
// cannot splice into the original text (a flow-style list it must grow, a
// multi-line scalar) is made by re-encoding the file with kyaml, which
// keeps comments and key order but normalises indentation. Every spliced
// file is checked to mean what the edited tree means before it is
// returned.
package promote
