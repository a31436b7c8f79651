-- Routing of the mock: the /_control/ API (queue, reset, requests, stats,
-- shutdown; never recorded), recording of every other request, and the
-- chat endpoint.

local json = require("tools.mock.json")
local state = require("tools.mock.state")
local response = require("tools.mock.response")
local scripts = require("tools.mock.scripts")
local gate = require("tools.mock.gate")

local json_response, error_response = response.json, response.error

local M = {}

local function record(conn, req)
  state.requests[#state.requests + 1] = {
    method = req.method, path = req.path, target = req.target, headers = req.headers,
    raw_headers = req.raw_headers, body = req.body, conn = conn.id, http_version = req.http_version,
  }
end

local function control_queue(req)
  local list, err = json.decode(req.body)
  if type(list) ~= "table" then return error_response(400, "bad script JSON: " .. tostring(err)) end
  if not json.is_array(list) then list = { list } end
  for _, s in ipairs(list) do state.queue[#state.queue + 1] = s end
  return json_response(200, { queued = #list, pending = #state.queue })
end

local CONTROL = {
  ["/_control/queue"] = control_queue,
  ["/_control/reset"] = function()
    state.queue, state.requests, state.counter = {}, json.array(), 0
    gate.reset() -- nothing stays held across a reset
    return json_response(200, { ok = true })
  end,
  -- Lets the next `count` (default 1) held replies go.
  ["/_control/release"] = function(req)
    local body = json.decode(req.body)
    local count = type(body) == "table" and tonumber(body.count) or 1
    return json_response(200, { woken = gate.release(count), releases = state.releases })
  end,
  ["/_control/requests"] = function() return json_response(200, state.requests) end,
  ["/_control/stats"] = function()
    local held = 0
    for _ in pairs(state.held) do held = held + 1 end
    return json_response(200, { connections = state.connections, open = state.open,
      pending = #state.queue, requests = #state.requests, held = held })
  end,
  ["/_control/shutdown"] = function()
    local resp = json_response(200, { ok = true })
    resp.close, resp.shutdown = true, true
    return resp
  end,
}

-- Returns a response table, or "abort" when the connection must just close.
function M.route(conn, req)
  local control = CONTROL[req.path]
  if control then return control(req) end
  if req.path:sub(1, 10) == "/_control/" then
    return error_response(404, "Unknown control path " .. req.path, "unknown_url")
  end
  record(conn, req)
  if req.path:find("/chat/completions$") then
    if req.method ~= "POST" then
      return error_response(405, "Method " .. req.method .. " not allowed", "method_not_allowed")
    end
    return scripts.chat(conn, req)
  end
  if req.path:find("/models$") then
    if req.method ~= "GET" then
      return error_response(405, "Method " .. req.method .. " not allowed", "method_not_allowed")
    end
    return scripts.models(conn, req)
  end
  return error_response(404, "Unknown request URL: " .. req.method .. " " .. req.path ..
    ". Please check the URL for typos.", "unknown_url")
end

return M
