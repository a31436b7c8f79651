--- Response metadata: what a call learned about the response besides its
-- body (status, headers, request id, attempts, elapsed time).
local core = require("oaichat.core")

local M = {}

---@class oaichat.Meta
---@field status integer        HTTP status of the last attempt's response
---@field headers table<string, string>  response headers, names lower-cased
---@field request_id string|nil the `x-request-id` response header
---@field attempts integer      attempts made (2 = a success after one retry)
---@field elapsed number        seconds since the call started (for a stream: until its response head arrived)

--- Metadata of call's current attempt from a status and its headers; nil
-- when no response head arrived (status 0 or an interim 1xx).
---@return oaichat.Meta|nil
-- now: the time of the report (core.now()'s clock; the C side's info.now).
function M.build(call, status, headers, now)
  if type(status) ~= "number" or status < 200 then return nil end
  headers = headers or {}
  now = now or core.now()
  return {
    status = status, headers = headers, request_id = headers["x-request-id"],
    attempts = call.attempt, elapsed = now - (call.started or now),
  }
end

return M
