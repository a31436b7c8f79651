-- Spec helper: runs a Lua snippet in a child process with a chosen
-- environment (libcurl reads the *_proxy variables, oaichat reads
-- OAICHAT_DEBUG: neither can be changed inside the running specs).
--
--   local child = require("spec.support.child")
--   local out, err, ok = child.run({ OAICHAT_DEBUG = "1" }, "print(require('oaichat').VERSION)")

local server = require("spec.support.server")

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(path)
  return text
end

-- Variables that would change what a child does unless a spec sets them.
local CLEARED = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
  "NO_PROXY", "OAICHAT_DEBUG", "OAICHAT_API_KEY", "OAICHAT_BASE_URL", "OAICHAT_MODEL",
  "OPENAI_API_KEY", "OPENAI_BASE_URL", "STARMAGIC_API_KEY", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
  "SSL_CERT_DIR" }

--- Runs code with env (name -> value) and the specs' module paths; returns
-- stdout, stderr and whether it exited with status 0.
function M.run(env, code)
  local script, out, err = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local cmd = { "env" }
  for _, name in ipairs(CLEARED) do cmd[#cmd + 1] = "-u " .. name end
  cmd[#cmd + 1] = "LUA_PATH=" .. shell_quote(package.path)
  cmd[#cmd + 1] = "LUA_CPATH=" .. shell_quote(package.cpath)
  local names = {}
  for name in pairs(env) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do cmd[#cmd + 1] = name .. "=" .. shell_quote(env[name]) end
  cmd[#cmd + 1] = ("%s %s >%s 2>%s"):format(shell_quote(server.interpreter()), shell_quote(script),
    shell_quote(out), shell_quote(err))
  local status = os.execute(table.concat(cmd, " "))
  os.remove(script)
  return slurp(out), slurp(err), status == true or status == 0
end

return M
