// Package dir is a [source.Source] over a local directory, with the same
// confinement, limits and ignore rules as every converge source:
//
//	src := dir.New("/srv/deploy", dir.WithIgnore("*.md"))
//	snap, err := src.Fetch(ctx)
//	// snap.Revision is "sha256:<hex>" over the kept paths and contents.
//
// The directory is read through an [os.Root], so no path, including a
// symbolic link's target, can leave it; links are kept only when their target
// stays inside, and ".git" directories (in any spelling) are skipped. A
// ".sourceignore" file in any directory adds gitignore patterns relative to
// that directory (see [source.IgnoreFile]). Special files
// (sockets, devices, pipes) are skipped. Every Fetch reads the directory
// again; the snapshot holds the content in memory and does not change when
// the directory does.
package dir
