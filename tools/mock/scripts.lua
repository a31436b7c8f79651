-- Scripts: queued descriptions of the next chat replies (status, headers,
-- body or SSE, delays, drips and faults) and the replies built from them.

local json = require("tools.mock.json")
local sched = require("tools.mock.sched")
local gate = require("tools.mock.gate")
local state = require("tools.mock.state")
local response = require("tools.mock.response")
local sse = require("tools.mock.sse")
local default = require("tools.mock.default")
local answer = require("tools.mock.answer")

local format_number, sorted_keys = json.format_number, json.sorted_keys
local new_response, set_header = response.new, response.set_header
local json_response, error_response = response.json, response.error

local M = {}

local function script_body(req, script, n)
  local status = tonumber(script.status) or 200
  if script.json ~= nil then return json_response(status, script.json) end
  if script.body ~= nil then
    local resp = new_response(status, "application/json")
    resp.pieces[1] = type(script.body) == "string" and script.body or json.encode(script.body)
    return resp
  end
  if type(script.sse) == "table" or type(script.raw_events) == "table" then
    local resp = new_response(status, "text/event-stream")
    set_header(resp, "Cache-Control", "no-cache")
    for i, item in ipairs(script.sse or {}) do resp.pieces[i] = sse.encode_item(item) end
    for _, item in ipairs(script.raw_events or {}) do resp.pieces[#resp.pieces + 1] = tostring(item) end
    resp.chunked = true
    return resp
  end
  if status >= 400 and not script.default then
    return error_response(status, "mock error " .. status, "mock_error")
  end
  local resp = default.response(req, n)
  resp.status = status
  return resp
end

-- Builds the response of a script (delay, hang and early closes are handled
-- by the caller).
local function script_response(req, script, n)
  local resp = script_body(req, script, n)
  if type(script.headers) == "table" then
    for _, name in ipairs(sorted_keys(script.headers)) do
      local v = script.headers[name]
      set_header(resp, name, type(v) == "number" and format_number(v) or tostring(v))
    end
  end
  if script.chunked ~= nil and script.chunked ~= json.null then resp.chunked = script.chunked == true end
  if script.chunk_delay_ms then resp.piece_delay_ms = tonumber(script.chunk_delay_ms) end
  resp.head_first = script.head_first == true
  resp.drip_bytes = tonumber(script.drip_bytes)
  resp.close_after_bytes = tonumber(script.close_after_bytes)
  -- hold_after = n: the first n body writes go out, the rest waits (gate.lua)
  resp.hold_after, resp.hold_ms = tonumber(script.hold_after), script.hold_ms
  resp.rst = script.reset == true
  if script.keep_alive == false then resp.close = true end
  return resp
end

-- Discards whatever the client sends until it goes away.
local function hang(conn)
  while conn:recv_some() do end
  return "abort"
end

-- The reply to GET .../models: the next script, or a two-model list.
function M.models(conn, req)
  state.counter = state.counter + 1
  local script = table.remove(state.queue, 1)
  if script then
    sched.sleep_ms(script.delay_ms)
    if script.hold then gate.hold(script.hold_ms) end
    if script.hang then return hang(conn) end
    if script.close_before_headers then return "abort" end
    return script_response(req, script, state.counter)
  end
  local created = answer.CREATED
  local resp = json_response(200, { object = "list", data = json.array({
    { id = "mock-small", object = "model", created = created, owned_by = "mock" },
    { id = "mock-large", object = "model", created = created, owned_by = "mock" } }) })
  set_header(resp, "x-request-id", "req_mock_" .. state.counter)
  return resp
end

-- The reply to a chat request: the next script, or the default behaviour.
function M.chat(conn, req)
  state.counter = state.counter + 1
  local n = state.counter
  local script = table.remove(state.queue, 1)
  if not script then return default.response(req, n) end
  sched.sleep_ms(script.delay_ms)
  if script.hold then gate.hold(script.hold_ms) end
  if script.hang then return hang(conn) end
  if script.close_before_headers or (script.reset and not script.close_after_bytes) then
    conn.rst = script.reset == true
    return "abort"
  end
  return script_response(req, script, n)
end

return M
