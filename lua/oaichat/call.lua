--- The attempt loop shared by requests and streams: start a transfer, and
-- after a failure either schedule another attempt or settle on the error.
-- A waiting retry is state, not a sleep, so polling never blocks on it.
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local meta = require("oaichat.meta")
local misuse = require("oaichat.misuse")
local retry = require("oaichat.retry")

local M = {}

-- Each call's transfer spec, kept out of the call table: its header lines
-- hold the key, and dumping a stream or request must not show it.
local specs = setmetatable({}, { __mode = "k" })

--- Starts the next attempt's transfer; the first start gives the spec. If
-- the client was closed meanwhile, the call ends as canceled instead. The
-- spec's body may be a table: the C side encodes it once (a value JSON
-- cannot hold raises at the user's call, naming spec.where).
function M.start(call, spec)
  if spec then specs[call] = spec end
  call.wait_until = nil
  local t, why, msg = call.session:start(specs[call])
  if not t then
    call.state = "done"
    if why == "encode" then
      misuse.raise(("%s: cannot encode the request as JSON: %s"):format(specs[call].where or "oaichat",
        tostring(msg)))
    end
    call.err = errors.new("canceled", "the client was closed before the next attempt",
      { attempts = call.attempt })
    return
  end
  call.attempt = call.attempt + 1
  call.transfer = t
  call.state = "running"
end

-- Calls on_retry. The call is settled with err first: if the hook raises,
-- its error propagates once and the call stays done (never half-started).
-- Returns false if the hook closed the call.
local function run_hook(call, err, delay)
  call.err, call.state, call.in_hook = err, "done", true
  local ok, hook_err = pcall(call.ctx.on_retry, err, call.attempt, delay)
  local closed = not call.in_hook
  call.in_hook = nil
  if not ok then error(hook_err, 0) end
  return not closed
end

--- Settles call.transfer's failure err: a retry (state "waiting") or the end.
function M.fail(call, err, headers)
  err.attempts = call.attempt
  if headers and next(headers) ~= nil and err.headers == nil then
    err.headers = errors.redact_table(headers, errors.key_of(call.ctx)) -- a server may echo a key
  end
  local ctx = call.ctx
  if err.retryable and call.attempt <= ctx.max_retries and not call.delivered then
    local delay = retry.delay(headers, call.attempt - 1)
    if ctx.on_retry and not run_hook(call, err, delay) then return end
    call.err = nil
    call.wait_until = core.now() + delay
    call.state = "waiting"
    -- closed inside on_retry: end now rather than after the delay
    if not call.session:is_open() then M.start(call) end
  else
    call.err = err
    call.state = "done"
  end
end

--- Records the end of call's transfer, given the info its last step
-- returned (the transfer is freed). A call with want_meta keeps its
-- resp_meta (oaichat.Meta). Returns info.
function M.ended(call, info)
  call.transfer = nil
  call.started = call.started or info.started
  if call.want_meta and not (call.resp_meta and call.resp_meta.attempts == call.attempt) then
    call.resp_meta = meta.build(call, info.status, info.headers, info.now) or call.resp_meta
  end
  return info
end

--- Closes the current transfer (which has not ended by itself: an error
-- event stopped it) and returns its final info.
function M.take_info(call)
  local t = call.transfer
  if not t then return nil end
  local info = t:info()
  t:close()
  return M.ended(call, info)
end

--- In state "waiting": starts the next attempt when due. Otherwise sleeps
-- at most until deadline (nil: no limit) and returns false if still waiting.
function M.wait_retry(call, deadline)
  local now = core.now()
  if now >= call.wait_until or not call.session:is_open() then
    M.start(call)
    return true
  end
  local left = call.wait_until - now
  if deadline then left = math.min(left, deadline - now) end
  if left > 0 then core.sleep(left) end
  if core.now() >= call.wait_until then
    M.start(call)
    return true
  end
  return false
end

--- Frees the current transfer at once. Returns true if the call had not
-- finished (it is now done, and the caller records why).
function M.cancel(call)
  if call.transfer then
    call.transfer:close()
    call.transfer = nil
  end
  if call.in_hook then
    -- closed inside on_retry: the attempt's error was only provisional
    call.in_hook, call.err = nil, nil
  elseif call.state == "done" then
    return false
  end
  call.state = "done"
  return true
end

--- Milliseconds until deadline (nil when there is none), never negative.
function M.ms_left(deadline)
  if not deadline then return nil end
  local ms = (deadline - core.now()) * 1000
  return ms > 0 and ms or 0
end

--- Raises (at the user's call to `where`) unless timeout_ms is nil or a
-- number other than NaN.
function M.check_ms(timeout_ms, where)
  if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms ~= timeout_ms) then
    misuse.raise(("%s: timeout_ms must be a number of milliseconds, got %s"):format(where,
      type(timeout_ms) == "number" and "NaN" or type(timeout_ms)))
  end
end

--- The absolute deadline of a poll timeout in milliseconds (nil or < 0: none).
-- `where` names the poll in the argument error (raised at its caller).
function M.deadline(timeout_ms, where)
  M.check_ms(timeout_ms, where)
  if timeout_ms == nil or timeout_ms < 0 then return nil end
  return core.now() + timeout_ms / 1000
end

return M
