#!/bin/sh
# oaichat's benchmark (issue 7), run by `make bench` from the checkout's root
# with RUN_ENV set (LUA_PATH, LUA_CPATH, OAICHAT_LUA).
#
# Builds the C programs, installs the Node SDK into bench/node, generates the
# data, starts nginx and the first-token server on CPU 0 (in a temp dir,
# stopped on exit), then hands over to bench/bench.lua, which runs the
# contenders, prints the table and writes bench/results.md.
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_QUICK=1 (1 round, small counts,
# results.md left alone: for trying the harness out).
set -eu

LUA=${OAICHAT_LUA:-lua5.4}
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/oaichat-bench.XXXXXX)
# nginx's worker runs as an unprivileged user and must read the data files.
chmod 755 "$tmp"
ngpid=""
ttpid=""

cleanup() {
  rc=$?
  set +e
  [ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null && wait "$ngpid" 2>/dev/null
  [ -n "$ttpid" ] && kill "$ttpid" 2>/dev/null && wait "$ttpid" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until URL answers 200 to a POST, at most 5 s.
wait_up() {
  i=0
  until curl -s -o /dev/null -f -X POST --data '{}' "$1"; do
    i=$((i + 1))
    if [ "$i" -gt 50 ]; then
      echo "bench: the server at $1 did not come up" >&2
      cat "$tmp/error.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
}

echo "bench: building the C programs" >&2
$CC -O2 -Wall -Wextra -o "$tmp/c_baseline" bench/c_baseline.c -lcurl
# The floor (bench/floor.h): the same libcurl code, decoding with lua-cjson
# into Lua tables inside an embedded Lua 5.4.
$CC -O2 -Wall -Wextra -DBENCH_FLOOR -I/usr/include/lua5.4 -o "$tmp/c_floor" bench/c_baseline.c -lcurl -llua5.4
$CC -O2 -Wall -Wextra -o "$tmp/ttft_server" bench/ttft_server.c
# For callgrind: an interpreter that keeps the Lua VM's symbols, when the
# static library of this Lua is there (else the packaged one, unnamed).
prof_lua=$LUA
v=${LUA#lua}
lib=/usr/lib/$($CC -print-multiarch)/liblua$v.a
if [ -f "$lib" ] && [ -d "/usr/include/lua$v" ]; then
  $CC -O2 -Wall -Wextra -I"/usr/include/lua$v" -o "$tmp/lua_prof" bench/lua_prof.c "$lib" -lm -ldl -Wl,-E
  prof_lua=$tmp/lua_prof
fi

if [ ! -f bench/node/node_modules/openai/package.json ] ||
   [ bench/node/package-lock.json -nt bench/node/node_modules/.package-lock.json ]; then
  echo "bench: installing the OpenAI Node SDK into bench/node" >&2
  (cd bench/node && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

"$LUA" bench/gen.lua "$tmp"

# CPU placements: the servers always run on CPU 0; clients on CPU 0 (same)
# and, with a second CPU, on CPU 1 (split).
cpus=$(nproc)

port=$("$LUA" -e 'local s = assert(require("socket").bind("127.0.0.1", 0));
  local _, p = s:getsockname(); s:close(); print(p)')
sse_location() {
  printf '    location = /%s/v1/chat/completions {\n' "$1"
  printf '      default_type text/event-stream; alias %s/%s.sse;\n' "$tmp" "$1"
  # nginx's static files refuse POST (405); this serves them anyway.
  printf '      error_page 405 =200 $uri;\n    }\n'
}
cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx_body;
  proxy_temp_path $tmp/nginx_proxy;
  fastcgi_temp_path $tmp/nginx_fastcgi;
  uwsgi_temp_path $tmp/nginx_uwsgi;
  scgi_temp_path $tmp/nginx_scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  sendfile on;
  tcp_nodelay on;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /v1/chat/completions {
      default_type application/json;
      return 200 '$(cat "$tmp/completion.json")';
    }
$(sse_location s1k)
$(sse_location s10k)
$(sse_location s100k)
  }
}
EOF

taskset -c 0 nginx -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/error.log" &
ngpid=$!
wait_up "http://127.0.0.1:$port/v1/chat/completions"

taskset -c 0 "$tmp/ttft_server" 5 >"$tmp/ttft.port" &
ttpid=$!
i=0
until grep -q PORT "$tmp/ttft.port" 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -gt 50 ] && { echo "bench: the first-token server did not start" >&2; exit 1; }
  sleep 0.1
done
ttft_port=$(awk '{print $2}' "$tmp/ttft.port")

BENCH_PROF_LUA="$prof_lua" BENCH_DIR="$tmp" BENCH_PORT="$port" BENCH_TTFT_PORT="$ttft_port" BENCH_CPUS="$cpus" \
  "$LUA" bench/bench.lua
