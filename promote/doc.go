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
//
// Two more edits compose the others: [FileEdit], the whole-file hook, and
// [Edits], which runs edits in turn on the tree the ones before left.
// [VerifyRender] renders directories before and after a Result and
// returns how the objects changed, failing with [ErrUnintended] when a
// change is not one the caller allows ([ImagesOnly] for a promotion).
//
// # Promotions and rollbacks
//
// [PlanPromotion] takes what one environment runs to the next, in a
// directory-per-environment repository: it renders both overlays, takes
// the images the next one runs at another tag or digest, edits its
// kustomization's images: ([SetImage]) and verifies that its render
// changes in container images only. [Gate]s run first, against the source
// environment (its health as the reconcile engine saw it, an analysis);
// one that fails stops the promotion with [ErrGateFailed]:
//
//	plan, err := promote.PlanPromotion(ctx, snapshot.FS(), kustomize.New(),
//		promote.Environment{Name: "dev", Dir: "apps/web/overlays/dev"},
//		promote.Environment{Name: "staging", Dir: "apps/web/overlays/staging"},
//		promote.PlanOptions{Gates: []promote.Gate{healthGate}})
//	fmt.Print(plan.Summary(), "\n", plan.Edit.Diff())
//
// A rollback is a commit, never an apply: [Revert] undoes a promotion
// commit as `git revert` does (refusing, with [ErrConflict], a file that
// changed again since), and [Restore] puts an environment's directory back
// as it was at a revision. [FindCommit] finds the promotion to undo.
//
// # Tag sources
//
// A [TagSource] gives a policy its tags. [ImageRepository] lists an OCI
// registry's repository through go-containerregistry, as Flux's
// ImageRepository scans it:
//
//	repo, err := promote.NewImageRepository("ghcr.io/org/app",
//		promote.WithCredentials(promote.Credentials{DockerConfigJSON: secret.Data[".dockerconfigjson"]}))
//	tags, err := repo.Tags(ctx)
//	tag, err := promote.Policy{Kind: promote.SemVer, Range: "^1.0.0"}.Latest(tags)
//	digest, err := repo.Digest(ctx, tag) // for a digest-pinned promotion
//
// [Credentials] are values the host read (anonymous, basic, a bearer
// token or a Docker config JSON document), never the process's
// environment, and no error shows them. Plain HTTP is used only
// WithInsecure, loopback registries included. Tags follows the Link
// header from page to page, reads at most [DefaultMaxTags] tags
// (WithMaxTags) and fails with [ErrTooManyTags] past them, refuses a
// pagination that loops or makes no progress and a page over 32 MiB
// ([ErrBadResponse]), and gives up after [DefaultTimeout] (WithTimeout).
// The exclusion list defaults to Flux's ([DefaultExclusions]: cosign
// signature tags), and a tag the distribution spec would refuse (a
// newline, a quote, 10 KB) is dropped. Failures are a [*RegistryError]
// wrapping [ErrUnauthorized], [ErrImageNotFound], [ErrTooManyTags] or
// [ErrBadResponse].
//
// [GitTags] and [HelmChart] are tag sources of the same shape, taking the
// same options, as Kargo's warehouse subscriptions read them. GitTags
// lists a Git remote's tags with one reference listing (git ls-remote,
// no clone), each with the commit an annotated tag peels to
// ([GitTags.List]). HelmChart lists a chart's versions from an HTTP
// repository's index.yaml (read up to 32 MiB, with each package's digest
// and creation time) or an OCI repository's tags, where Helm stores "+"
// as "_" and Versions turns it back:
//
//	chart, err := promote.NewHelmChart("https://charts.example", "web",
//		promote.WithCredentials(promote.Credentials{Username: user, Password: pass}))
//	versions, err := chart.Tags(ctx)
//	version, err := promote.Policy{Kind: promote.SemVer, Range: "^1.0.0"}.Latest(versions)
//
// Both skip, and count, what is not a plain tag or version (a newline, a
// quote, YAML syntax, 10 KB); their failures are [*RegistryError]s with
// the registry's sentinels, and no error shows a credential.
//
// A [Scanner] adds Flux's scan interval without a controller or a
// goroutine: the host calls [Scanner.Scan] on each pass and it lists an
// OCI repository, a Git remote's tags or a chart's versions only when the
// interval has passed since the last listing of that source (with those
// exclusions and credentials).
//
// # Commits and pushes
//
// A [Publisher] ([NewPublisher]) fetches one branch of the deployment
// repository into memory, runs an [Edit] on it, commits the files whose
// content changed (an edit that changes nothing makes no commit:
// [Unchanged]) with provenance trailers ([Provenance], [PlanProvenance];
// [ParseProvenance] reads them back for a rollback), signs with OpenPGP
// or SSH ([NewOpenPGPSigner], [NewSSHSigner], or a [SignerFunc]) so that
// `git verify-commit` and source/git's verification accept the commit,
// and pushes with a lease on the head it built on. When someone pushed
// first, it fetches, runs the Edit again on the new head and retries, up
// to WithPushAttempts, then fails with [ErrBranchMoved]. With a [Change]
// Base, the commit goes on Base's head and is pushed to Branch instead, a
// pull request's head branch ([PromotionBranch]): the push creates the
// branch or replaces its commit, guarded by the head it had when fetched,
// and a promotion the branch already holds pushes nothing. Branch names and
// messages a shell or Git could misread are refused before anything is
// fetched, and no error shows a credential.
//
// # Pull requests
//
// A [PullRequester] keeps one pull request per promotion on a [Forge]
// ([NewGitea], [NewGitHub], [NewGitLab], or a host's own): the promotion's
// head branch ([PromotionBranch]) is its identity, so a second run updates
// the open pull request instead of opening another, and one closed or
// merged is left alone. Merging with the SHA the checks passed on
// ([MergeOptions].SHA) merges nothing else. The forge's failures are
// [*ForgeError]s wrapping ErrForgeUnauthorized, ErrForgeNotFound,
// ErrForgeRejected, ErrForgeRateLimited or ErrForgeBadResponse; their text
// quotes a bounded, sanitized excerpt of the answer and never the token.
package promote
