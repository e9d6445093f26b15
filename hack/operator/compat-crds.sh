#!/usr/bin/env bash
# compat-crds.sh copies the upstream CRDs of the Argo CD and Flux kinds the
# reference operator serves (examples/operator/compat*.go) from their Go
# modules, at these pinned versions, into examples/operator/config/compat/:
#
#	github.com/argoproj/argo-cd/v3            v3.5.7   manifests/crds/{application,applicationset,appproject}-crd.yaml
#	github.com/fluxcd/source-controller       v1.9.6   config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml
#	github.com/fluxcd/kustomize-controller    v1.9.6   config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml
#
# Argo CD v3.6 needs Go 1.27 to be extracted by the go command, and Flux's
# v1.10 too (DESIGN.md), so these are the newest this machine's Go takes.
# The CRDs are in the controllers' root modules: the .../api modules hold
# the Go types only. The modules come from the module cache, or from the
# Go module proxy through `go mod download` when the cache lacks them; no
# module becomes a dependency of the examples module.
#
#	hack/operator/compat-crds.sh          # rewrite the copies
#	hack/operator/compat-crds.sh check    # exit 1, naming them, when a copy differs
set -euo pipefail
shopt -s inherit_errexit

ARGOCD_MODULE=github.com/argoproj/argo-cd/v3
ARGOCD_VERSION=v3.5.7
SOURCE_MODULE=github.com/fluxcd/source-controller
SOURCE_VERSION=v1.9.6
KUSTOMIZE_MODULE=github.com/fluxcd/kustomize-controller
KUSTOMIZE_VERSION=v1.9.6

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/examples/operator/config/compat"

say() { echo "compat-crds: $*" >&2; }

# moddir prints the directory of module $1 at version $2, downloading it
# when the cache lacks it. It runs outside any module so that no go.mod
# is read or written.
moddir() {
	local json dir
	json=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$1@$2") || {
		say "go mod download $1@$2 failed: $json"
		return 1
	}
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		say "go mod download $1@$2 gave no directory: $json"
		return 1
	fi
	echo "$dir"
}

argocd=$(moddir "$ARGOCD_MODULE" "$ARGOCD_VERSION")
src=$(moddir "$SOURCE_MODULE" "$SOURCE_VERSION")
kus=$(moddir "$KUSTOMIZE_MODULE" "$KUSTOMIZE_VERSION")

# pairs of upstream file and copy, relative to $out
files=(
	"$argocd/manifests/crds/application-crd.yaml" argocd/application-crd.yaml
	"$argocd/manifests/crds/applicationset-crd.yaml" argocd/applicationset-crd.yaml
	"$argocd/manifests/crds/appproject-crd.yaml" argocd/appproject-crd.yaml
	"$src/config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml" flux/source.toolkit.fluxcd.io_gitrepositories.yaml
	"$kus/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml" flux/kustomize.toolkit.fluxcd.io_kustomizations.yaml
)

mode=${1:-write}
stale=0
for ((i = 0; i < ${#files[@]}; i += 2)); do
	from=${files[i]} to="$out/${files[i + 1]}"
	case $mode in
	write)
		mkdir -p "$(dirname "$to")"
		cp "$from" "$to"
		chmod 0644 "$to"
		;;
	check)
		if ! cmp -s "$from" "$to"; then
			say "${files[i + 1]} differs from ${from#"$(go env GOMODCACHE)/"}"
			stale=1
		fi
		;;
	*)
		say "unknown mode $mode (write or check)"
		exit 2
		;;
	esac
done
if [ "$stale" = 1 ]; then
	say "run hack/operator/compat-crds.sh"
	exit 1
fi
