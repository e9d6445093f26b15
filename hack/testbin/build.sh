#!/usr/bin/env bash
# build.sh builds the control-plane binaries converge's tests run, at pinned
# versions, from the Go module proxy, into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/converge/testbin/<versions>/
# and prints that folder on its last line. A second run finds them and is
# instant. A first run takes about a quarter of an hour on 2 cores: the
# kube-apiserver alone is ~11 minutes.
set -euo pipefail

KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir="$cache/converge/testbin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
mkdir -p "$dir"

say() { echo "testbin: $*" >&2; }

# build NAME CMD... runs CMD to produce $dir/NAME unless it is already there.
# CMD writes to $tmp; the rename makes an interrupted build leave nothing.
build() {
	local name=$1; shift
	if [ -x "$dir/$name" ]; then return; fi
	say "building $name ($(date +%T)); this takes minutes the first time, then it is cached"
	local start=$SECONDS
	tmp="$dir/.$name.tmp"
	"$@"
	mv "$tmp" "$dir/$name"
	say "built $name in $((SECONDS - start))s"
}

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# Each builder writes the binary to $tmp, which build sets.
kube() { (cd "$here/kube" && go build -ldflags "$kube_ldflags" -o "$tmp" "k8s.io/kubernetes/cmd/$1"); }
etcd() { (cd "$here/etcd" && go build -ldflags "-s -w" -o "$tmp" .); }
kwok() {
	local bin
	bin=$(mktemp -d)
	GOBIN=$bin go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	mv "$bin/kwok" "$tmp"
	rmdir "$bin"
}

# Concurrent callers (parallel test packages on a fresh machine) wait for
# the first one instead of building the same binaries twice.
exec 9>"$dir/.lock"
flock 9

build kube-apiserver kube kube-apiserver
build etcd etcd
build kube-controller-manager kube kube-controller-manager
build kube-scheduler kube kube-scheduler
build kwok kwok

# kwok needs Stage documents to move nodes and pods through their lives; the
# module ships them, so take them from the same version.
if [ ! -s "$dir/kwok-stages.yaml" ]; then
	src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	{
		for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
			pod/chaos/pod-container-running-failed.yaml; do
			echo "---"
			cat "$src/kustomize/stage/$f"
		done
	} >"$dir/.kwok-stages.yaml.tmp"
	mv "$dir/.kwok-stages.yaml.tmp" "$dir/kwok-stages.yaml"
fi
echo "$dir"
