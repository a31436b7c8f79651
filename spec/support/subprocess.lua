-- Runs a program of the checkout (bin/oaichat, examples, tools/demo.sh) in a
-- real child process, with a clean oaichat environment, and returns what it
-- printed and its exit code.
--
--   local sub = require("spec.support.subprocess")
--   local r = sub.run({ "bin/oaichat", "hi" }, { env = { OAICHAT_BASE_URL = url }, stdin = "..." })
--   r.stdout, r.stderr, r.code
local server = require("spec.support.server")

local M = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

-- Variables that would point the program at a real service or change its output.
local CLEARED = { "OAICHAT_API_KEY", "STARMAGIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL",
  "OAICHAT_MODEL", "OAICHAT_BASE_URL", "OAICHAT_DEBUG" }

local function tmpname()
  local name = os.tmpname()
  return name
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end
M.slurp = slurp

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end
M.spit = spit

--- The shell words of `env -u ... NAME=value ...` for opts.env; `clear`
-- names more variables to remove.
function M.env_prefix(env, clear)
  local words = { "env" }
  for _, name in ipairs(CLEARED) do words[#words + 1] = "-u " .. name end
  for _, name in ipairs(clear or {}) do words[#words + 1] = "-u " .. name end
  local names = {}
  for k in pairs(env or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do words[#words + 1] = k .. "=" .. quote(env[k]) end
  return table.concat(words, " ")
end

--- Runs argv (argv[1] = a Lua script, started with the interpreter running
-- the specs, unless opts.exec) and returns {stdout, stderr, code}.
-- opts: env (table), clear (more variables to remove), stdin (string;
-- /dev/null when nil), exec (argv[1] is a program), lua (interpreter).
function M.run(argv, opts)
  opts = opts or {}
  local words = {}
  if not opts.exec then words[1] = quote(opts.lua or server.interpreter()) end
  for _, a in ipairs(argv) do words[#words + 1] = quote(a) end
  local err_file, in_file = tmpname(), nil
  local stdin = "/dev/null"
  if opts.stdin then
    in_file = tmpname()
    spit(in_file, opts.stdin)
    stdin = in_file
  end
  local cmd = ("%s %s <%s 2>%s; echo \"EXIT $?\""):format(M.env_prefix(opts.env, opts.clear),
    table.concat(words, " "), quote(stdin), quote(err_file))
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  local stdout, code = out:match("^(.*)EXIT (%d+)\n$")
  local r = { stdout = stdout or out, stderr = slurp(err_file), code = tonumber(code) }
  os.remove(err_file)
  if in_file then os.remove(in_file) end
  return r
end

return M
