--- Non-streaming requests: the Request object (a completion over one
-- transfer, driven by poll) and chat_many's loop running many at once on
-- one session. client.lua builds and checks what they send.
local call = require("oaichat.call")
local core = require("oaichat.core")
local errors = require("oaichat.errors")

local M = {}

---@class oaichat.Request
local Request = {}
Request.__index = Request

-- Settles a finished attempt of a non-streaming request, given what its
-- transfer's last step reported (the completion already decoded in C).
local function settle(r, info)
  call.ended(r, info)
  local ctx = r.ctx
  local err
  if info.code ~= 0 then
    err = errors.from_transport(info, ctx)
  elseif info.status < 200 or info.status > 299 then
    err = errors.from_status(info, ctx)
  else
    local obj = info.value
    -- A completion is an object: a JSON array decodes to a table too.
    if obj == nil then
      err = errors.decode_error(info.body, info.why or "expected a JSON object", info, ctx)
    elseif obj.error ~= nil and obj.error ~= core.null then
      err = errors.from_error_body(obj, info, ctx)
    else
      r.resp, r.state = obj, "done"
      return
    end
  end
  call.fail(r, err, info.headers)
end

--- Drives the request for up to timeout_ms (0: no wait; nil or < 0: until
-- done). Returns done, response | nil, err, and once done the response
-- metadata (nil when no response arrived).
---@param timeout_ms? number
---@return boolean done
---@return table|nil response
---@return oaichat.Error|nil err
---@return oaichat.Meta|nil meta
function Request:poll(timeout_ms)
  call.check_ms(timeout_ms, "request:poll")
  local limited = timeout_ms ~= nil and timeout_ms >= 0
  local deadline -- read from the clock only for a retry wait
  while self.state ~= "done" do
    if self.state == "waiting" then
      if limited and not deadline then deadline = call.deadline(timeout_ms) end
      if not call.wait_retry(self, deadline) then return false end
      if limited then timeout_ms = call.ms_left(deadline) end
    else
      -- one call into C: drives the transfer, and at its end decodes the body
      local kind, info = self.transfer:next(timeout_ms)
      if kind ~= "end" then return false end
      settle(self, info)
      if limited then deadline, timeout_ms = deadline or core.now(), 0 end
    end
  end
  return true, self.resp, self.err, self.resp_meta
end

--- Cancels the request at once.
function Request:close()
  if call.cancel(self) then
    self.err = errors.new("canceled", "the request was canceled", { attempts = self.attempt })
  end
end
Request.__close = Request.close
Request.__gc = Request.close

--- Starts a request of spec on session; ctx is its error context.
-- want_meta: keep the response metadata (chat_many, which returns none,
-- skips reading the headers of every success).
---@return oaichat.Request
function M.start(session, spec, ctx, want_meta)
  local r = setmetatable({ session = session, ctx = ctx, attempt = 0, want_meta = want_meta }, Request)
  call.start(r, spec)
  return r
end

-- Settles r without driving the session (chat_many drives it once for all).
local function check(r)
  if r.state == "waiting" then
    call.wait_retry(r, core.now())
  elseif r.state == "running" then
    -- no wait, and no perform right after the session's step
    local kind, info = r.transfer:next(0)
    if kind == "end" then settle(r, info) end
  end
  return r.state == "done"
end

-- One round of chat_many: drives the transfers, or, when every request is
-- waiting to retry, sleeps until the first is due (a step would return at
-- once with nothing to run, turning the wait into a busy loop).
local function drive(session, active)
  local due
  if not session:is_open() then return end -- closed by on_retry: every call ends as canceled
  for _, a in ipairs(active) do
    if a.r.state ~= "waiting" then return session:step(10) end
    due = math.min(due or a.r.wait_until, a.r.wait_until)
  end
  local left = due and due - core.now() or 0
  if left > 0 then core.sleep(left) end
end

--- Runs the items of list on session, at most `concurrency` at once;
-- prepare(item) returns the spec and error context of one (it may raise:
-- the items were checked before, and nothing is then left in flight).
-- Results come back in input order, each a response or {error = err}.
function M.many(session, list, concurrency, prepare)
  local n = #list
  local results, active, nactive, nexti = {}, {}, 0, 1
  local function launch()
    while nexti <= n and nactive < concurrency do
      local spec, ctx = prepare(list[nexti])
      nactive = nactive + 1
      active[nactive] = { i = nexti, r = M.start(session, spec, ctx) }
      nexti = nexti + 1
    end
  end
  local function run()
    launch()
    while nactive > 0 do
      drive(session, active)
      local kept = 0
      for j = 1, nactive do
        local a = active[j]
        if check(a.r) then
          results[a.i] = a.r.resp or { error = a.r.err }
        else
          kept = kept + 1
          active[kept] = a
        end
      end
      for j = kept + 1, nactive do active[j] = nil end
      nactive = kept
      launch()
    end
  end
  -- An error from user code (on_retry) must not leave transfers running.
  local ok, err = pcall(run)
  if not ok then
    for _, a in ipairs(active) do a.r:close() end
    error(err, 0)
  end
  return results
end

M.Request = Request

return M
