// Package source fetches desired state: a [Source] returns a [Snapshot], the
// resolved revision (such as "main@sha1:<hash>"), the commit it came from and
// a read-only [fs.FS] that can never reach outside its root.
//
//	src, err := git.New("https://example.com/deploy.git", git.Reference{Branch: "main"})
//	if err != nil {
//		return err
//	}
//	snap, err := src.Fetch(ctx)
//	if err != nil {
//		return err
//	}
//	data, err := fs.ReadFile(snap.FS, "apps/api/kustomization.yaml")
//
// Host programs call Fetch on every reconcile; implementations make the
// common case (nothing changed upstream) cheap and return the same revision.
//
// # Confinement
//
// Every snapshot is built through a [Builder], which refuses paths with ".."
// or empty components, absolute paths, backslashes and Git's own directory
// in any spelling that some file system treats as ".git" (".GIT", "git~1",
// ".git.", ".g\u200cit"); follows a symbolic link only when its target,
// resolved component by component, stays inside the root; and enforces
// [Limits] on the file count, the size of one file and the total size before
// a file's content is read.
//
// # Ignore rules
//
// [Ignore] matches paths against gitignore patterns; a ".sourceignore" file
// in any directory of a snapshot adds patterns relative to that directory
// ([Ignore.WithFileIn]), with git's precedence: the deeper file wins. Both
// source/git and source/dir use it.
//
// # Conformance
//
// source/sourcetest holds a suite that any implementation can run against
// itself.
package source
