#!/usr/bin/env lua
-- Mock OpenAI-compatible chat-completions server for oaichat's specs and demo.
--
--   lua tools/mock_server.lua [--port N] [--host 127.0.0.1] [--verbose] [--watch-pid PID]
--
-- Prints exactly one line "PORT <n>" on stdout once listening, then serves until
-- killed or until it receives POST /_control/shutdown. Single process, single
-- thread: one coroutine per connection, scheduled with socket.select over
-- non-blocking sockets, so a slow/hung/sleeping connection never blocks others.
--
-- Control API (never recorded):
--   POST /_control/queue     JSON array (or one object) of scripts, FIFO
--   POST /_control/reset     clear queue, recorded requests and the id counter
--   GET  /_control/requests  recorded requests
--   GET  /_control/stats     {"connections": accepted so far, "open": open now, "held": ...}
--   POST /_control/release   {"count": n} (default 1): lets held replies go
--   POST /_control/shutdown
--
-- Script fields (all optional): status, headers, delay_ms, json | body | sse |
-- raw_events | default, chunk_delay_ms, chunked, drip_bytes, close_after_bytes,
-- close_before_headers, reset, hang, hold | hold_after (+ hold_ms), truncate_stream, keep_alive,
-- head_first (the head alone, then chunk_delay_ms before the body). GET .../models
-- takes the next script too, else lists two models.
-- A script without any body field gets the default behaviour, except that a
-- status >= 400 gets an OpenAI-style error body. `gzip` is not supported.
--
-- The code lives in tools/mock/ (one concern per module): json, log, sched,
-- conn, request, response, answer, sse, default, state, gate, scripts, control,
-- server. This file only makes them loadable from any working directory.
-- Must run on Lua 5.1/LuaJIT too: no goto, no //, no integer-only operators.

-- The project root is the parent of this file's directory.
local source = debug.getinfo(1, "S").source
local dir = source:sub(1, 1) == "@" and source:sub(2):match("^(.*)[/\\][^/\\]*$") or "."
package.path = dir .. "/../?.lua;" .. package.path

local server = require("tools.mock.server")

local M = {
  main = server.main,
  json = require("tools.mock.json"),
  sched = require("tools.mock.sched"),
  state = require("tools.mock.state"),
}
M.format_number = M.json.format_number

-- `require "tools.mock_server"` gets the module; running the file serves.
if select("#", ...) > 0 and (...) == "tools.mock_server" then
  return M
end
M.main(arg)
