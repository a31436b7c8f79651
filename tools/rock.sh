#!/bin/sh
# `make rock`: packs rockspec/oaichat-VERSION-1.rockspec with a source
# archive of the checkout (uncommitted changes included) into
# build/oaichat-VERSION-1.src.rock, installs that rock into a temporary tree
# and runs the installed command and module from there. Then `luarocks make`
# of the scm rockspec from the checkout, as the README says: it must leave
# no object or core.so beside the sources, and its command must start.
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
# The archive the release rockspec names (its source.url's basename and dir):
# the files git knows of or would add, as they are in the working tree.
git ls-files --cached --others --exclude-standard | while IFS= read -r f; do [ -e "$f" ] && echo "$f"; done |
  tar --transform "s,^,oaichat-$version/," -czf "$work/pack/v$version.tar.gz" -T -
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

# Objects or shared libraries beside the sources (build/ is the build tree).
stray() { find . -path ./build -prune -o -path ./bench/node -prune -o \( -name '*.so' -o -name '*.o' \) -print; }
[ -z "$(stray)" ] || { echo "oaichat: objects beside the sources before luarocks make:" >&2; stray >&2; exit 1; }
luarocks --lua-version="$lua_version" --tree="$work/make" make --deps-mode=none rockspec/oaichat-scm-1.rockspec \
  >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
[ -z "$(stray)" ] || { echo "oaichat: luarocks make left objects beside the sources:" >&2; stray >&2; exit 1; }
grep -q "exec '/usr/bin/lua$lua_version'" "$work/make/bin/oaichat" ||
  { echo "oaichat: the command's wrapper does not run lua$lua_version:" >&2; cat "$work/make/bin/oaichat" >&2; exit 1; }
eval "$(luarocks --lua-version="$lua_version" --tree="$work/make" path)"
got=$(cd / && "$work/make/bin/oaichat" --version)
[ "$got" = "oaichat $version" ] || { echo "oaichat: luarocks make's command says '$got'" >&2; exit 1; }
echo "oaichat: luarocks make built outside the sources; its command runs lua$lua_version and says: $got"
