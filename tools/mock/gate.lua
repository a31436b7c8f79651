-- The gate of `hold` and `hold_after` scripts: a held reply waits for its
-- POST /_control/release (the n-th hold for the n-th release, so a release
-- sent first is not lost), or for hold_ms (default 30 s) so a forgotten
-- release cannot wedge a spec run. Specs use it to tell "the client waited
-- for the reply" from "it did not" by the order of events, not by a clock.

local sched = require("tools.mock.sched")
local state = require("tools.mock.state")

local M = {}

function M.hold(hold_ms)
  state.holds = state.holds + 1
  local ticket = state.holds
  if state.releases >= ticket then return end
  local co = coroutine.running()
  state.held[co] = ticket
  sched.sleep_ms(tonumber(hold_ms) or 30000)
  state.held[co] = nil
end

-- Lets the next `count` holds go; returns how many waiting replies woke.
function M.release(count)
  state.releases = state.releases + count
  local woken = 0
  for co, ticket in pairs(state.held) do
    if ticket <= state.releases then
      sched.timers[co] = 0
      woken = woken + 1
    end
  end
  return woken
end

-- Wakes every held reply and forgets all tickets (/_control/reset).
function M.reset()
  M.release(math.huge)
  state.holds, state.releases = 0, 0
end

return M
