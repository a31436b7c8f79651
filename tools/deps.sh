#!/bin/sh
# Installs the Debian packages a target needs, only those missing.
# Usage: tools/deps.sh PACKAGE...   (root: apt-get; otherwise it says what to run)
set -eu
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "oaichat: missing Debian packages:$missing" >&2
  echo "oaichat: run as root, or: sudo apt-get install$missing" >&2
  exit 1
fi
echo "oaichat: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
