#!/usr/bin/env bash
# generate.sh generates the reference operator's DeepCopy methods and CRD
# manifest from its Go types (examples/operator/api/...) with controller-gen
# at a pinned version, built from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/controller-gen-<version>/controller-gen
# A first build takes about 30 seconds; later runs find the binary.
# Concurrent callers wait on a lock instead of building it twice.
#
#	hack/operator/generate.sh          # rewrite the generated files in place
#	hack/operator/generate.sh check    # exit 1, naming them, when they are stale
#	hack/operator/generate.sh path     # build (or find) controller-gen, print its path
#	hack/operator/generate.sh tidy     # rewrite go.mod/go.sum after a version bump
#
# The generated files, committed:
#	examples/operator/api/v1alpha1/zz_generated.deepcopy.go
#	examples/operator/config/crd/converge.dev_applications.yaml
#	examples/operator/config/crd/converge.dev_projects.yaml
set -euo pipefail
shopt -s inherit_errexit

CONTROLLER_TOOLS_VERSION=v0.23.0

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
examples="$root/examples"
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir="$cache/converge/controller-gen-$CONTROLLER_TOOLS_VERSION"
bin="$dir/controller-gen"

say() { echo "controller-gen: $*" >&2; }

build() {
	[ -x "$bin" ] && return 0
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock 9
	if [ ! -x "$bin" ]; then
		say "building controller-gen $CONTROLLER_TOOLS_VERSION ($(date +%T))"
		start=$SECONDS
		work=$(mktemp -d "$dir/.build.XXXXXX")
		# An interrupted build leaves only a .build.* folder; the rename
		# makes the binary appear whole or not at all.
		trap 'rm -rf "$work"' EXIT
		(cd "$here" && go build -trimpath -o "$work/controller-gen" sigs.k8s.io/controller-tools/cmd/controller-gen)
		mv "$work/controller-gen" "$bin"
		rm -rf "$work"
		trap - EXIT
		say "built in $((SECONDS - start))s"
	fi
	exec 9>&-
}

# gen OBJDIR CRDDIR writes the DeepCopy file into OBJDIR and the CRD into
# CRDDIR.
gen() {
	(cd "$examples" && "$bin" \
		object \
		crd \
		paths=./operator/api/... \
		"output:object:dir=$1" \
		"output:crd:dir=$2")
}

case "${1:-}" in
tidy)
	(cd "$here" && go mod tidy >&2)
	say "rewrote $here/go.mod and go.sum"
	;;
path)
	build
	echo "$bin"
	;;
check)
	build
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	gen "$tmp/obj" "$tmp/crd"
	stale=0
	pairs=("$tmp/obj/zz_generated.deepcopy.go:operator/api/v1alpha1/zz_generated.deepcopy.go")
	# Every CRD controller-gen makes now, so that a new kind's manifest
	# cannot be forgotten.
	for crd in "$tmp"/crd/*.yaml; do
		pairs+=("$crd:operator/config/crd/$(basename "$crd")")
	done
	for pair in "${pairs[@]}"; do
		want=${pair%%:*} have=$examples/${pair#*:}
		if ! diff -u "$have" "$want" >&2; then
			say "examples/${pair#*:} is stale: run hack/operator/generate.sh"
			stale=1
		fi
	done
	exit $stale
	;;
"")
	build
	gen "$examples/operator/api/v1alpha1" "$examples/operator/config/crd"
	say "wrote examples/operator/api/v1alpha1/zz_generated.deepcopy.go and the CRDs of examples/operator/config/crd"
	;;
*)
	say "unknown argument $1 (want nothing, check, path or tidy)"
	exit 2
	;;
esac
