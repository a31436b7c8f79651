#!/bin/sh
# `make demo`: a streamed answer, an image question and a two-turn
# conversation through bin/oaichat. Talks to the real service when
# STARMAGIC_API_KEY or OAICHAT_API_KEY is set, else to the built-in local
# server (tools/mock_server.lua) on an ephemeral 127.0.0.1 port.
# Run from the project root; the Makefile exports LUA_PATH, LUA_CPATH and
# OAICHAT_LUA (the interpreter, default lua5.4).
set -eu

LUA=${OAICHAT_LUA:-lua5.4}
IMAGE=spec/fixtures/red.png
tmp=$(mktemp -d)
server_pid=""

cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

heading() {
  printf '\n=== %s ===\n' "$1"
}

# stdin is not the demo's input: oaichat joins piped text with the question.
oaichat() {
  "$LUA" bin/oaichat "$@" </dev/null
}

if [ -n "${STARMAGIC_API_KEY:-}" ] || [ -n "${OAICHAT_API_KEY:-}" ]; then
  echo "oaichat demo: using the real service (${OAICHAT_BASE_URL:-https://api.starmagic.ai/v1})"
else
  # The server prints "PORT n" once it listens; it exits with this shell
  # (--watch-pid) even if the trap cannot run.
  # The file exists before the server starts: the loop below may read it first.
  : >"$tmp/port"
  "$LUA" tools/mock_server.lua --port 0 --watch-pid $$ >"$tmp/port" &
  server_pid=$!
  port=""
  tries=0
  while [ -z "$port" ]; do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/port")
    if [ -z "$port" ]; then
      tries=$((tries + 1))
      if [ "$tries" -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
        echo "oaichat demo: the local server did not start" >&2
        exit 1
      fi
      sleep 0.05
    fi
  done
  OAICHAT_BASE_URL="http://127.0.0.1:$port/v1"
  export OAICHAT_BASE_URL
  echo "oaichat demo: using the built-in local server at $OAICHAT_BASE_URL"
  echo "(it answers deterministically, describing each request it gets)"
fi

heading "1. A streamed answer:  oaichat -v \"Explain streaming in one sentence.\""
oaichat -v -t 0.3 "Explain streaming in one sentence."

heading "2. An image question:  oaichat -i $IMAGE \"What colour is this image?\""
oaichat -i "$IMAGE" "What colour is this image?"

heading "3. A two-turn conversation:  oaichat -c FILE (history kept in FILE)"
conv="$tmp/conversation.json"
echo "you> My name is Ada. Remember it."
oaichat -c "$conv" -s "You are terse." "My name is Ada. Remember it."
echo "you> What is my name?"
oaichat -c "$conv" "What is my name?"

heading "4. The same conversation from Lua (conv:stream keeps the history)"
"$LUA" - <<'EOF'
local oaichat = require("oaichat")
local conv = oaichat.new():conversation({ system = "You are terse." })
for _, question in ipairs({ "My name is Ada. Remember it.", "What is my name?" }) do
  io.write("you> ", question, "\nassistant> ")
  for piece in conv:stream(question) do
    io.write(piece)
    io.stdout:flush()
  end
  io.write("\n")
end
print(("(%d messages in the history)"):format(#conv.messages))
EOF

heading "5. Piped text and a question:  printf ... | oaichat \"Summarise this\""
printf 'Milk, eggs, bread.\nCall the plumber on Tuesday.\n' | "$LUA" bin/oaichat "Summarise this"

heading "6. A conversation in an event loop (conv:stream(...):poll(0) once a frame)"
"$LUA" - <<'EOF'
local oaichat = require("oaichat")
local core = require("oaichat.core")
local conv = oaichat.new():conversation()
local s = conv:stream("Hello from a frame loop")
local frames, done, err, text = 0, false, nil, nil
while not done do
  frames = frames + 1
  _, done, err, text = s:poll(0)   -- never waits: the frame goes on
  io.write(text)
  core.sleep(0.005)                -- the rest of the frame
end
print(("\n(%s after %d frames; %d messages in the history)"):format(err and tostring(err) or "done",
  frames, #conv.messages))
EOF

echo
echo "oaichat demo: done"
