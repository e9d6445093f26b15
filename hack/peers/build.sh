#!/usr/bin/env bash
# build.sh builds the peer CLIs converge's tests and benchmarks compare
# against, at pinned versions, from the Go module proxy, each into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/peers/<name>-<version>/
# and prints those folders on stdout, one a line, in the order asked.
#
#	hack/peers/build.sh            # the peers the tests need: kustomize
#	hack/peers/build.sh helm       # helm too, on request (about 4 minutes)
#	hack/peers/build.sh sops kubeseal sealed-secrets-controller
#	                               # the secrets interop peers (minutes each)
#	hack/peers/build.sh kubectl    # the real kubectl, from the control plane's
#	                               # tools module (hack/testbin/kube)
#
# A second run finds the binaries and is instant. Concurrent callers wait on
# a lock instead of building the same binary twice. Progress goes to stderr.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2 # uses sigs.k8s.io/kustomize/api v0.21.2, as converge does
HELM_VERSION=v3.22.0
SOPS_VERSION=v3.13.2
# v0.27.1 is the newest release under the module path the proxy serves; later
# releases moved to github.com/bitnami/sealed-secrets. The format is unchanged.
SEALED_SECRETS_VERSION=v0.27.1
# kubectl comes from the same tools module and version as the control plane.
KUBE_VERSION=$(sed -n 's/^KUBE_VERSION=//p' "$(dirname "$0")/../testbin/build.sh")

cache=${XDG_CACHE_HOME:-$HOME/.cache}/converge/peers
mkdir -p "$cache"

say() { echo "peers: $*" >&2; }

# install NAME VERSION PACKAGE [BIN] installs PACKAGE@VERSION (whose binary
# is BIN, NAME unless given) as $cache/NAME-VERSION/NAME unless it is there,
# and prints the folder.
install() {
	local name=$1 version=$2 pkg=$3 bin=${4:-$1}
	local dir="$cache/$name-$version"
	mkdir -p "$dir"
	if [ ! -x "$dir/$name" ]; then
		exec 9>"$dir/.lock"
		flock 9
		if [ ! -x "$dir/$name" ]; then
			say "building $name $version ($(date +%T)); this takes minutes the first time, then it is cached"
			local start=$SECONDS tmp
			tmp=$(mktemp -d "$dir/.build.XXXXXX")
			GOBIN=$tmp go install -ldflags "-s -w" "$pkg@$version"
			mv "$tmp/$bin" "$dir/$name"
			rmdir "$tmp"
			say "built $name in $((SECONDS - start))s"
		fi
		exec 9>&-
	fi
	echo "$dir"
}

# kubectl builds k8s.io/kubernetes/cmd/kubectl in hack/testbin/kube, whose
# replace lines it needs, with the version stamped as build.sh stamps the
# control plane's.
kubectl() {
	local dir="$cache/kubectl-$KUBE_VERSION" minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	mkdir -p "$dir"
	if [ ! -x "$dir/kubectl" ]; then
		exec 9>"$dir/.lock"
		flock 9
		if [ ! -x "$dir/kubectl" ]; then
			say "building kubectl $KUBE_VERSION ($(date +%T)); this takes minutes the first time, then it is cached"
			local start=$SECONDS flags="-s -w" pkg
			for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
				flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
			done
			(cd "$(dirname "$0")/../testbin/kube" && go build -ldflags "$flags" -o "$dir/.kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
			mv "$dir/.kubectl.tmp" "$dir/kubectl"
			say "built kubectl in $((SECONDS - start))s"
		fi
		exec 9>&-
	fi
	echo "$dir"
}

peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
	peers=(kustomize)
fi
for p in "${peers[@]}"; do
	case $p in
	kustomize) install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 ;;
	helm) install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
	sops) install sops "$SOPS_VERSION" github.com/getsops/sops/v3/cmd/sops ;;
	kubeseal) install kubeseal "$SEALED_SECRETS_VERSION" github.com/bitnami-labs/sealed-secrets/cmd/kubeseal ;;
	kubectl) kubectl ;;
	sealed-secrets-controller) install sealed-secrets-controller "$SEALED_SECRETS_VERSION" github.com/bitnami-labs/sealed-secrets/cmd/controller controller ;;
	*) say "unknown peer $p (known: kustomize helm sops kubeseal sealed-secrets-controller kubectl)"; exit 2 ;;
	esac
done
