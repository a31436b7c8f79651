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
# Packages such as nginx start their service on install; the tests and the
# bench start their own instances on loopback, so keep services down.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
status=0
apt-get update -qq >/dev/null || status=$?
# shellcheck disable=SC2086
[ "$status" = 0 ] && { apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?; }
[ "$own_policy" = 1 ] && rm -f "$policy"
exit $status
