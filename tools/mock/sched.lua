-- Scheduler of the mock: coroutines yield ("r", sock), ("w", sock) or
-- ("t", deadline); one socket.select wakes them.

local socket = require("socket")
local log = require("tools.mock.log").log

local sched = { readers = {}, writers = {}, timers = {}, finalizers = {}, running = true }

function sched.resume(co, ...)
  local ok, what, arg = coroutine.resume(co, ...)
  if not ok then
    log("coroutine error: %s\n%s", tostring(what), debug.traceback(co))
  end
  if coroutine.status(co) == "dead" then
    local fin = sched.finalizers[co]
    sched.finalizers[co] = nil
    if fin then fin() end
  elseif what == "r" then
    sched.readers[arg] = co
  elseif what == "w" then
    sched.writers[arg] = co
  elseif what == "t" then
    sched.timers[co] = arg
  end
end

-- The finalizer runs when the coroutine ends, normally or by error, so that a
-- bug in a handler still closes its socket.
function sched.spawn(fn, finalizer, ...)
  local co = coroutine.create(fn)
  sched.finalizers[co] = finalizer
  sched.resume(co, ...)
end

function sched.forget(sock)
  sched.readers[sock] = nil
  sched.writers[sock] = nil
end

function sched.sleep_ms(ms)
  ms = tonumber(ms)
  if ms and ms > 0 then coroutine.yield("t", socket.gettime() + ms / 1000) end
end

local function keys_of(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  return list
end

local function next_timeout()
  local timeout
  local now = socket.gettime()
  for _, at in pairs(sched.timers) do
    local d = at - now
    if d < 0 then d = 0 end
    if not timeout or d < timeout then timeout = d end
  end
  return timeout
end

local function wake(list, waiting)
  for _, s in ipairs(list) do
    local co = waiting[s]
    if co then
      waiting[s] = nil
      sched.resume(co)
    end
  end
end

local function fire_timers()
  local now, due = socket.gettime(), {}
  for co, at in pairs(sched.timers) do
    if at <= now then due[#due + 1] = co end
  end
  table.sort(due, function(a, b) return sched.timers[a] < sched.timers[b] end)
  for _, co in ipairs(due) do
    sched.timers[co] = nil
    sched.resume(co)
  end
end

function sched.step()
  local r, w = socket.select(keys_of(sched.readers), keys_of(sched.writers), next_timeout())
  wake(r or {}, sched.readers)
  wake(w or {}, sched.writers)
  fire_timers()
end

return sched
