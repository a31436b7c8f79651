-- luacheck: globals vim
--- :checkhealth oaichat — can this Neovim load oaichat (a LuaJIT build of
-- the C module), and is a key configured?
local M = {}

-- vim.health (0.8+) or the older `health` module of Neovim 0.7.
local function reporter()
  local h = vim.health or require("health")
  return { start = h.start or h.report_start, ok = h.ok or h.report_ok, warn = h.warn or h.report_warn,
    error = h.error or h.report_error, info = h.info or h.report_info }
end

local function check_library(report, plugin)
  local ok, lib = pcall(plugin.library)
  if not ok then
    report.error("cannot load oaichat: " .. tostring(lib), {
      "build the C module for Neovim's LuaJIT: `make LUA_VERSION=jit` in the oaichat checkout",
      "or point setup{ root = ... } at a checkout that has build/jit/oaichat/core.so" })
    return nil
  end
  local core = require("oaichat.core")
  report.ok(("oaichat %s loaded (libcurl %s, %s)"):format(lib.VERSION, core.curl_version,
    jit and jit.version or _VERSION))
  if not core.has_tls then report.warn("libcurl has no TLS support: https URLs will fail") end
  return lib
end

local function check_client(report, plugin, lib)
  local ok, client = pcall(lib.new, plugin.config.client)
  if not ok then
    report.error("oaichat.new failed with the plugin's client options: " .. tostring(client))
    return
  end
  report.ok(("service: %s, model %s"):format(client.base_url, client.model))
  local cfg = plugin.config.client or {}
  local has_key = cfg.api_key or os.getenv("OAICHAT_API_KEY") or os.getenv("STARMAGIC_API_KEY")
    or (os.getenv("OPENAI_API_KEY") and os.getenv("OPENAI_BASE_URL"))
  if has_key then
    report.ok("an API key is configured")
  else
    report.warn("no API key: set OAICHAT_API_KEY (or STARMAGIC_API_KEY), or setup{ client = { api_key = ... } }",
      { "local servers (Ollama, llama.cpp) need none: setup{ client = { base_url = ... } }" })
  end
  client:close()
end

function M.check()
  local report = reporter()
  report.start("oaichat")
  if not vim.loop then
    report.error("vim.loop is missing: the plugin polls from a libuv timer")
    return
  end
  report.ok("vim.loop timers are available (" .. (jit and "LuaJIT" or _VERSION) .. ")")
  local plugin = require("oaichat_nvim")
  local lib = check_library(report, plugin)
  if lib then check_client(report, plugin, lib) end
end

return M
