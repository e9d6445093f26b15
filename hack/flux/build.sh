#!/usr/bin/env bash
# build.sh builds Flux's source-controller and kustomize-controller, the
# peers of converge's operator in bench/ (operator-500-apps), at a pinned
# version from the Go module proxy, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/flux-<version>/
# and prints that folder on stdout. A second run finds the binaries and is
# instant; concurrent callers wait on a lock instead of building twice.
# Progress goes to stderr. Each controller has its own tools module
# (hack/flux/<name>) because their replace lines differ. A first build
# takes about 6 minutes on 2 idle cores.
#
#	hack/flux/build.sh        # build (or find) both controllers
#	hack/flux/build.sh crds   # print the folders of their CRDs (config/crd/bases)
#	hack/flux/build.sh tidy   # rewrite go.mod/go.sum after a version bump
set -euo pipefail
shopt -s inherit_errexit

FLUX_VERSION=v1.9.6 # v1.10 declares go 1.27
NAMES=(source-controller kustomize-controller)

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir="$cache/converge/flux-$FLUX_VERSION"
mkdir -p "$dir"

say() { echo "flux: $*" >&2; }

case "${1:-}" in
tidy)
	# -e: a test-only dependency of source-controller is not served.
	for n in "${NAMES[@]}"; do (cd "$here/$n" && go mod tidy -e >&2); done
	say "rewrote go.mod and go.sum under $here"
	exit 0
	;;
crds)
	for n in "${NAMES[@]}"; do
		d=$(cd "$here/$n" && go mod download -json "github.com/fluxcd/$n@$FLUX_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
		echo "$d/config/crd/bases"
	done
	exit 0
	;;
"") ;;
*)
	say "unknown argument $1 (want nothing, crds or tidy)"
	exit 2
	;;
esac

for n in "${NAMES[@]}"; do
	[ -x "$dir/$n" ] && continue
	exec 9>"$dir/.lock"
	flock 9
	if [ ! -x "$dir/$n" ]; then
		say "building $n $FLUX_VERSION ($(date +%T)); this takes minutes the first time, then it is cached"
		start=$SECONDS
		work=$(mktemp -d "$dir/.build.XXXXXX")
		# An interrupted build leaves only a .build.* folder, which the next
		# run ignores; the rename makes the binary appear whole or not at all.
		trap 'rm -rf "$work"' EXIT
		(cd "$here/$n" && go build -trimpath -ldflags "-s -w" -o "$work/$n" "github.com/fluxcd/$n")
		mv "$work/$n" "$dir/$n"
		rm -rf "$work"
		trap - EXIT
		say "built $n in $((SECONDS - start))s"
	fi
	exec 9>&-
done
echo "$dir"
