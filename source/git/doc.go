// Package git is a [source.Source] over a Git repository, built on go-git:
//
//	src, err := git.New("https://example.com/deploy.git", git.Reference{Branch: "main"},
//		git.WithBearerToken(token), git.WithCacheDir("/var/cache/converge"))
//	if err != nil {
//		return err
//	}
//	snap, err := src.Fetch(ctx) // snap.Revision == "main@sha1:<40 hex>"
//
// # References
//
// A [Reference] names a branch, a tag, a semver range over the tags, any
// reference name, or an exact commit. The resolved revision always carries
// the full commit hash. Names are checked against git's rules
// ([CheckRefName]) before any I/O.
//
// A revision as people type it ("--base HEAD~1") becomes a Reference in
// one of two ways. [ResolveRevision] reads any single-commit form of
// `git rev-parse` (HEAD~1, main^2, an abbreviated hash, origin/main,
// v1.4.2^{commit}, `git describe` output) in a local repository, and
// returns a Reference that fetches that commit from it through a file URL:
//
//	ref, err := git.ResolveRevision(ctx, "/src/deploy", "HEAD~1")
//	src, err := git.New("file:///src/deploy", ref, git.WithFileURLs())
//
// [RemoteReferences] maps a revision to what a remote repository can
// serve without its history (a branch, a tag, a semver range, a full
// hash, a refs/ name) and says so for anything else.
//
// # Fetching
//
// The first Fetch is shallow (depth 1) and asks only for the one reference
// it needs. The repository stays cached between calls, in memory or on
// disk, so later fetches transfer only new objects. When the remote still
// points where it did, Fetch returns the previous snapshot after exactly one
// request, the reference listing, and no pack. A branch that moves to a
// commit not descending from the one fetched before is a *[RewriteError]
// naming both revisions (unless [WithHistoryRewrites]); a branch or tag that
// is gone is a *[NotFoundError], never an empty snapshot.
//
// An exact commit costs one shallow pack of that commit when the server
// lets clients want any reachable commit by hash
// (uploadpack.allowReachableSHA1InWant, as GitHub and GitLab do) or the
// commit is a branch or tag tip. On a server with git's defaults, Fetch
// deepens from the branch tips in steps (1, 10, 100, 1000 commits, then the
// whole history) until the commit is found, so a commit near a tip does not
// cost the full history; see [Reference].
//
// # Submodules
//
// Submodules are left out unless [WithSubmodules] asks for them; then they
// are fetched recursively at their pinned commits, with the same checks on
// their URLs (relative ones resolved as git does), the same byte budget,
// limits, confinement and ignore rules, and credentials only for the
// repository's own origin.
//
// # Signatures
//
// [WithVerification] requires signatures by one of the host's keys on the
// fetched commit ([VerifyHead]), on the annotated tag ([VerifyTag]) or on
// both: OpenPGP signatures (git with gpg) against armored public keys, and
// SSH signatures (git with ssh-keygen -Y sign) against authorized_keys
// lines. Anything else fails with [ErrUnverified].
//
// # Safety
//
// URLs are validated ([ParseURL]): only https, http and ssh (file on
// request), nothing git or ssh could read as an option, no credentials,
// queries or fragments. Credentials come from options and never appear in
// errors or logs, which only ever show the redacted URL ([Redact]); they do
// not follow a redirect to another origin, and only the first request may be
// redirected. SSH checks host keys strictly against the known_hosts the host
// supplies. [WithMaxFetchBytes] and [WithTimeout] hold against a server that
// stalls or sends without end, over HTTP and SSH alike, for the reference
// listing as for the pack. Snapshots are confined and bounded as described
// in package source.
package git
