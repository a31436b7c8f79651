-- Spec helper: runs a Lua snippet in a child process with a chosen
-- environment (libcurl reads the *_proxy variables, oaichat reads
-- OAICHAT_DEBUG: neither can be changed inside the running specs).
--
--   local child = require("spec.support.child")
--   local out, err, ok = child.run({ OAICHAT_DEBUG = "1" }, "print(require('oaichat').VERSION)")
local sub = require("spec.support.subprocess")

local M = {}

-- Beyond subprocess's own list: what would change libcurl's proxy or CA.
local CLEARED = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
  "NO_PROXY", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR" }

--- Runs code with env (name -> value) and the specs' module paths; returns
-- stdout, stderr and whether it exited with status 0.
function M.run(env, code)
  local script = os.tmpname()
  sub.spit(script, code)
  local vars = { LUA_PATH = package.path, LUA_CPATH = package.cpath }
  for name, value in pairs(env) do vars[name] = value end
  local r = sub.run({ script }, { env = vars, clear = CLEARED })
  os.remove(script)
  return r.stdout, r.stderr, r.code == 0
end

return M
