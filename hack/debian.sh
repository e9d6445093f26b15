#!/usr/bin/env bash
# debian.sh PACKAGE... installs the Debian packages tests use (headless
# Chromium for the operator's web page) when they are missing: as root
# with apt-get, once; otherwise it says what to install and fails.
set -euo pipefail
missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "debian.sh: missing ${missing[*]}: run apt-get install -y ${missing[*]} as root" >&2
	exit 1
fi
echo "debian.sh: installing ${missing[*]} (apt-get, once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
	{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
