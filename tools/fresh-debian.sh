#!/bin/sh
# Tries the README's install lines on a fresh Debian 12, as a new user would:
# debootstraps a minimal bookworm into a folder of its own, clones this
# checkout's HEAD into it, and in a chroot runs, timing each step:
#   1. the README's line that installs make, then its LuaRocks install lines,
#      then `oaichat --version` from the installed tree (outside the checkout),
#   2. `make demo` (and checks it installed neither nginx nor neovim nor busted),
#   3. `make test` (skip with FRESH_SKIP_TEST=1: it installs and runs most).
# Usage (as root): tools/fresh-debian.sh [DIR]   DIR must not exist yet
# (default: a new /var/tmp/oaichat-fresh.XXXXXX); it is removed at the end
# unless FRESH_KEEP=1. Needs the network to the Debian mirror apt uses.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "fresh-debian: run as root (debootstrap and chroot)" >&2; exit 1; }
sh "$src/tools/deps.sh" debootstrap git

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
if [ $# -ge 1 ]; then
  dir=$1
  [ ! -e "$dir" ] || { echo "fresh-debian: $dir exists; give a new folder" >&2; exit 1; }
  mkdir -p "$dir"
else
  dir=$(mktemp -d /var/tmp/oaichat-fresh.XXXXXX)
fi
dir=$(cd "$dir" && pwd)

mounted() { grep -q " $dir/" /proc/mounts; }
cleanup() {
  for m in dev/pts dev sys proc; do
    if grep -q " $dir/$m " /proc/mounts; then umount -l "$dir/$m" || true; fi
  done
  if [ "${FRESH_KEEP:-0}" = 1 ]; then
    echo "fresh-debian: kept $dir"
  elif mounted; then
    echo "fresh-debian: $dir still has mounts; not removing it" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

results=""
t_start=$(date +%s)
# step NAME COMMAND...: runs and times one step; stops at the first failure.
step() {
  name=$1
  shift
  echo "==== fresh-debian: $name"
  t0=$(date +%s)
  rc=0
  "$@" || rc=$?
  secs=$(($(date +%s) - t0))
  results="$results
  $name: $([ "$rc" = 0 ] && echo ok || echo "FAILED ($rc)") in ${secs}s"
  if [ "$rc" != 0 ]; then
    printf 'fresh-debian: summary%s\n' "$results"
    exit 1
  fi
}
# in_chroot COMMAND: a clean login-like environment, in the clone.
in_chroot() {
  chroot "$dir" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -ec "cd /root/oaichat && $1"
}
# The README's indented lines starting with $2 in its section "## $1".
readme_lines() {
  awk -v sec="## $1" -v start="$2" '
    /^## / { inside = ($0 == sec) }
    inside && /^    / { line = substr($0, 5); if (index(line, start) == 1) print line }
  ' "$src/README.md"
}
run_readme() {
  lines=$(readme_lines "$1" "$2")
  [ -n "$lines" ] || { echo "fresh-debian: no '$2' line in the README's section $1" >&2; return 1; }
  echo "$lines" | while IFS= read -r line; do
    echo "+ $line"
    in_chroot "$line" </dev/null || return 1
  done
}
# `make demo` must not have installed what only the tests need.
demo_only() {
  for p in nginx neovim lua-busted; do
    if chroot "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      echo "fresh-debian: make demo installed $p" >&2
      return 1
    fi
  done
  echo "fresh-debian: make demo installed none of nginx, neovim, lua-busted"
}
make_line() {
  # The README gives it as prose in backquotes: `apt-get update && apt-get install -y make`.
  line=$(sed -n 's/.*`\(apt-get update && apt-get install -y make\)`.*/\1/p' "$src/README.md" | head -n 1)
  [ -n "$line" ] || { echo "fresh-debian: the README has no line installing make" >&2; return 1; }
  echo "+ $line"
  in_chroot "$line"
}

step "debootstrap bookworm (minbase) from $mirror" \
  debootstrap --variant=minbase bookworm "$dir" "$mirror"
cp /etc/resolv.conf "$dir/etc/resolv.conf"
for m in proc sys dev dev/pts; do mount --bind "/$m" "$dir/$m"; done
head=$(git -C "$src" rev-parse HEAD)
clone() { git clone -q "$src" "$dir/root/oaichat" && git -C "$dir/root/oaichat" checkout -q "$head"; }
step "clone the checkout's HEAD (${head%"${head#???????}"})" clone
step "README: install make" make_line
step "README: LuaRocks install lines" run_readme Install ""
step "oaichat --version (installed tree, from /)" \
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin /bin/sh -ec \
  'cd / && command -v oaichat && oaichat --version && head -n 3 "$(command -v oaichat)" | grep -o "exec [^ ]*"'
step "make demo" in_chroot "make demo"
step "make demo installed only what it needs" demo_only
if [ "${FRESH_SKIP_TEST:-0}" != 1 ]; then
  step "make test" in_chroot "make test"
fi
printf 'fresh-debian: summary (%ss in all)%s\n' "$(($(date +%s) - t_start))" "$results"
