#!/bin/sh
# `make rock`: packs rockspec/oaichat-VERSION-1.rockspec with a source
# archive of the checkout (uncommitted changes included) into
# build/oaichat-VERSION-1.src.rock, installs that rock into a temporary tree
# and runs the installed command and module from there.
# Usage: tools/rock.sh VERSION LUA_VERSION   (LUA_VERSION: 5.1 ... 5.4)
set -eu
version=$1
lua_version=$2
case "$lua_version" in
  5.[1-4]) ;;
  *) echo "oaichat: make rock needs LUA_VERSION=5.1 ... 5.4 (LuaRocks' names), got $lua_version" >&2; exit 2 ;;
esac
spec=rockspec/oaichat-$version-1.rockspec
[ -f "$spec" ] || { echo "oaichat: no $spec for version $version (csrc/core.c CORE_VERSION)" >&2; exit 1; }
grep -q "^version = \"$version-1\"$" "$spec" || { echo "oaichat: $spec does not say version $version-1" >&2; exit 1; }

out=$(pwd)/build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/pack"
# The archive the release rockspec names (its source.url's basename and dir).
tree=$(git stash create 2>/dev/null || true)
git archive --format=tar.gz --prefix="oaichat-$version/" -o "$work/pack/v$version.tar.gz" "${tree:-HEAD}"
cp "$spec" "$work/pack/"
rock=$out/oaichat-$version-1.src.rock
rm -f "$rock"
(cd "$work/pack" && zip -q "$rock" "oaichat-$version-1.rockspec" "v$version.tar.gz")
echo "oaichat: packed $rock"

# lua-cjson comes from the distribution, as in the README's install line.
luarocks --lua-version="$lua_version" --tree="$work/tree" install --deps-mode=none "$rock" >"$work/log" 2>&1 ||
  { cat "$work/log" >&2; exit 1; }
# The tree is not one of LuaRocks' configured trees: put it on the paths.
eval "$(luarocks --lua-version="$lua_version" --tree="$work/tree" path)"
got=$("$work/tree/bin/oaichat" --version)
[ "$got" = "oaichat $version" ] || { echo "oaichat: the installed command says '$got'" >&2; exit 1; }
"lua$lua_version" - "$version" "$work/tree" <<'LUA'
local o = require("oaichat")
assert(o.VERSION == arg[1], "the module says " .. o.VERSION)
for dir in package.cpath:gmatch("[^;]+") do
  local path = dir:gsub("%?", "oaichat/core")
  local f = io.open(path)
  if f then
    f:close()
    assert(path:sub(1, #arg[2]) == arg[2], path .. " is outside the temporary tree")
    print("oaichat: require('oaichat') " .. o.VERSION .. ", core from " .. path:sub(#arg[2] + 2))
    break
  end
end
LUA
echo "oaichat: $got (installed from the source rock into a temporary tree)"
