-- Loaded by busted before the specs (--helper): one loopback server shared
-- by every spec file, started lazily and stopped when the suite ends.
local server = require("spec.support.server")

local shared
local M = {}

function M.server()
  if not shared then shared = server.start() end
  return shared
end

local busted = require("busted")
busted.subscribe({ "suite", "end" }, function()
  if shared then shared:stop() end
  shared = nil
  return nil, true
end)

package.loaded["spec.support.helper"] = M
return M
