#!/usr/bin/env bash
# build.sh builds the HashiCorp Vault server converge's secrets/vault tests
# run, at a pinned version, from the Go module proxy, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/vault-<version>/vault
# and prints that folder on stdout. A second run finds the binary and is
# instant; concurrent callers wait on a lock instead of building it twice.
# Progress goes to stderr.
#
# No published github.com/hashicorp/vault/sdk version compiles with Vault
# v1.21.4 (its release branch carries its own sdk). The build therefore
# copies sdk v0.21.0 out of the module cache into a build folder, applies
# sdk.patch (two signatures: framework.Backend.ActivationFunc back to
# func(context.Context, *logical.Request) error, and
# helper/keysutil/lock_manager.go as in sdk v0.25.1, whose RestorePolicy
# returns (string, error)), and builds this folder's tools module, which
# replaces the sdk with that copy. The patch must apply exactly or the build
# stops. A first build takes about 29 CPU-minutes (measured: 28 minutes
# wall clock on 2 cores shared with other builds, so about 15 on 2 idle
# ones), its largest process near 4.5 GB of memory; the binary is 349 MiB.
#
#	hack/vault/build.sh         # build (or find) the server
#	hack/vault/build.sh tidy    # rewrite go.mod/go.sum after a version bump
set -euo pipefail
shopt -s inherit_errexit

VAULT_VERSION=v1.21.4
SDK_VERSION=v0.21.0

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir="$cache/converge/vault-$VAULT_VERSION"
mkdir -p "$dir"

say() { echo "vault: $*" >&2; }

# workdir makes a build folder under $dir holding a copy of this module and
# ./sdk, the patched sdk, and prints its path.
workdir() {
	local work src
	work=$(mktemp -d "$dir/.build.XXXXXX")
	cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/"
	src=$(go mod download -json "github.com/hashicorp/vault/sdk@$SDK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
		say "cannot find github.com/hashicorp/vault/sdk@$SDK_VERSION in the module cache"
		rm -rf "$work"
		return 1
	fi
	cp -R "$src" "$work/sdk"
	chmod -R u+w "$work/sdk"
	# --fuzz=0 and --forward: the context must match exactly and a patch
	# already applied is an error, so a changed source stops the build.
	if ! patch --quiet --batch --forward --fuzz=0 --no-backup-if-mismatch -p1 -d "$work/sdk" <"$here/sdk.patch" >&2; then
		say "sdk.patch does not apply to sdk $SDK_VERSION; see $here/sdk.patch"
		rm -rf "$work"
		return 1
	fi
	if ! grep -q 'ActivationFunc func(context.Context, \*logical.Request) error' "$work/sdk/framework/backend.go" ||
		! grep -q 'RestorePolicy(.*) (string, error)' "$work/sdk/helper/keysutil/lock_manager.go"; then
		say "sdk.patch applied but the patched signatures are not there"
		rm -rf "$work"
		return 1
	fi
	echo "$work"
}

if [ "${1:-}" = tidy ]; then
	work=$(workdir)
	(cd "$work" && go mod tidy >&2)
	cp "$work/go.mod" "$work/go.sum" "$here/"
	rm -rf "$work"
	say "rewrote $here/go.mod and go.sum"
	exit 0
fi

if [ ! -x "$dir/vault" ]; then
	exec 9>"$dir/.lock"
	flock 9
	if [ ! -x "$dir/vault" ]; then
		say "building vault $VAULT_VERSION ($(date +%T)); this takes 15-30 minutes and 5 GB of memory the first time, then it is cached"
		start=$SECONDS
		work=$(workdir)
		# An interrupted build leaves only a .build.* folder, which the next
		# run ignores; the rename makes the binary appear whole or not at all.
		trap 'rm -rf "$work"' EXIT
		(cd "$work" && go build -trimpath -ldflags "-s -w" -o "$work/vault" github.com/hashicorp/vault)
		mv "$work/vault" "$dir/vault"
		rm -rf "$work"
		trap - EXIT
		say "built vault in $((SECONDS - start))s"
	fi
	exec 9>&-
fi
echo "$dir"
