#!/usr/bin/env bash
# build.sh builds the Gitea forge converge's promote tests open pull requests
# against, at a pinned version, from the Go module proxy, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/gitea-<version>/gitea
# and prints that folder on stdout. A second run finds the binary and is
# instant; concurrent callers wait on a lock instead of building it twice.
# Progress goes to stderr.
#
# The build uses Gitea's SQLite tags (`sqlite sqlite_unlock_notify`, cgo
# and mattn/go-sqlite3), so a test needs no database server. It is built
# without `bindata`: templates, locales and options are read at run time
# from the module's source folder, which the tests pass as STATIC_ROOT_PATH
# (`build.sh static` prints it). A first build takes about 9 minutes on 2
# idle cores.
#
#	hack/gitea/build.sh          # build (or find) the server
#	hack/gitea/build.sh static   # print the module's source folder
#	hack/gitea/build.sh tidy     # rewrite go.mod/go.sum after a version bump
set -euo pipefail
shopt -s inherit_errexit

GITEA_VERSION=v1.26.0

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir="$cache/converge/gitea-$GITEA_VERSION"
mkdir -p "$dir"

say() { echo "gitea: $*" >&2; }

case "${1:-}" in
tidy)
	(cd "$here" && go mod tidy >&2)
	say "rewrote $here/go.mod and go.sum"
	exit 0
	;;
static)
	(cd "$here" && go mod download -json "code.gitea.io/gitea@$GITEA_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	exit 0
	;;
"") ;;
*)
	say "unknown argument $1 (want nothing, static or tidy)"
	exit 2
	;;
esac

if [ ! -x "$dir/gitea" ]; then
	exec 9>"$dir/.lock"
	flock 9
	if [ ! -x "$dir/gitea" ]; then
		say "building gitea $GITEA_VERSION ($(date +%T)); this takes about 10 minutes the first time, then it is cached"
		start=$SECONDS
		work=$(mktemp -d "$dir/.build.XXXXXX")
		# An interrupted build leaves only a .build.* folder, which the next
		# run ignores; the rename makes the binary appear whole or not at all.
		trap 'rm -rf "$work"' EXIT
		(cd "$here" && CGO_ENABLED=1 go build -trimpath \
			-tags 'sqlite sqlite_unlock_notify' \
			-ldflags "-s -w -X main.Version=${GITEA_VERSION#v} -X 'main.Tags=sqlite sqlite_unlock_notify'" \
			-o "$work/gitea" code.gitea.io/gitea)
		mv "$work/gitea" "$dir/gitea"
		rm -rf "$work"
		trap - EXIT
		say "built gitea in $((SECONDS - start))s"
	fi
	exec 9>&-
fi
echo "$dir"
