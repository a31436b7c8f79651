-- examples/nvim's plugin in Debian's real `nvim --headless` (Neovim 0.7,
-- LuaJIT) against the loopback server: the reply streams into a scratch
-- buffer while the editor's loop keeps running, :OaichatCancel stops it,
-- and errors are shown in the buffer. spec/support/nvim_driver.lua runs
-- inside nvim and writes a JSON report.
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local sub = require("spec.support.subprocess")

local function shell(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"EXIT $?\""))
  local out = p:read("*a")
  p:close()
  local text, code = out:match("^(.*)EXIT (%d+)\n$")
  return tonumber(code), text
end

local ROOT = select(2, shell("pwd")):gsub("\n$", "")

-- Neovim's LuaJIT needs the module built against LuaJIT: build/jit, which
-- the plugin finds from its own place in the checkout. The Makefile builds
-- it (and installs neovim) before the specs run; specs build nothing.
local function ensure_jit_build()
  local f = io.open(ROOT .. "/build/jit/oaichat/core.so")
  assert(f, "no build/jit/oaichat/core.so: run the specs through make (make test / make specs)")
  f:close()
end

local function ensure_nvim()
  assert(shell("command -v nvim") == 0, "no nvim: make deps installs neovim")
end

describe("examples/nvim in nvim --headless", function()
  local srv

  setup(function()
    ensure_nvim()
    ensure_jit_build()
  end)

  before_each(function()
    srv = helper.server()
    srv:reset()
  end)

  -- Runs the driver in nvim; env adds NVIM_DRIVER_* settings. Returns the
  -- driver's report and the process result.
  local function run_nvim(env)
    local out = os.tmpname()
    env.NVIM_DRIVER_OUT = out
    env.OAICHAT_BASE_URL = srv.url
    -- LuaJIT's defaults, not the spec runner's paths (which may hold a
    -- Lua 5.4 build): the plugin must find build/jit by itself.
    env.LUA_PATH, env.LUA_CPATH = ";;", ";;"
    local r = sub.run({ "timeout", "30", "nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n",
      "--cmd", "set rtp^=" .. ROOT .. "/examples/nvim",
      "-c", "runtime! plugin/oaichat.lua",
      "-c", "luafile " .. ROOT .. "/spec/support/nvim_driver.lua" }, { exec = true, env = env })
    local json = sub.slurp(out)
    os.remove(out)
    assert(json ~= "", ("nvim wrote no report (exit %s): %s%s"):format(tostring(r.code), r.stdout, r.stderr))
    return core.decode(json), r
  end

  it("streams the reply into a scratch buffer while a timer keeps firing", function()
    local report, r = run_nvim({ NVIM_DRIVER_DELAY_MS = "40" })
    assert.equal(0, r.code)
    assert.equal("", r.stderr)
    assert.equal("OaichatDone", report.how)
    assert.equal("done", report.status)
    assert.same({ "> hello from nvim", "", "Echo: hello from nvim (1 message)" }, report.lines)
    assert.equal("nofile", report.buftype)
    assert.equal(0, report.pending)
    assert.equal("LuaJIT", report.lua:match("^LuaJIT"))
    -- :OaichatAsk returned before any of the reply (which came over ~7 x 40 ms).
    assert.is_nil(table.concat(report.lines_at_ask, "\n"):find("Echo", 1, true), report.lines_at_ask[3])
    assert.is_true(report.done_ms >= 240, "done after " .. report.done_ms .. " ms")
    -- The buffer grew piece by piece, each state a prefix of the final text.
    local final = table.concat(report.lines, "\n")
    assert.is_true(#report.texts >= 4, #report.texts .. " buffer states")
    for _, text in ipairs(report.texts) do assert.equal(text, final:sub(1, #text)) end
    -- The probe timer (every 5 ms, through the main loop) kept firing, and
    -- saw the buffer in its states between chunks (counts, not a clock:
    -- bench/poll.lua times a frame loop).
    assert.is_true(#report.ticks >= 20, #report.ticks .. " probe ticks")
    -- The request came from the LuaJIT build, streaming, with the plugin's options.
    local req = srv:last_request()
    assert.equal(true, req.json.stream)
    assert.same({ { role = "user", content = "hello from nvim" } }, req.json.messages)
    assert.equal("Bearer sk-nvim", req.headers.authorization)
    assert.equal("40", req.headers["x-mock-delay-ms"])
    assert.is_truthy(req.headers["user-agent"]:find(" Lua/5.1 LuaJIT/", 1, true), req.headers["user-agent"])
  end)

  it(":OaichatCancel stops the reply at once", function()
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "cancel", NVIM_DRIVER_DELAY_MS = "300" })
    assert.equal(0, r.code)
    assert.equal("OaichatDone", report.how)
    assert.equal("canceled", report.status)
    assert.same({ "> hello from nvim", "", "Echo:", "[canceled]" }, report.lines)
    assert.equal(0, report.pending)
    -- No piece came after the cancel (the rest would take 6 x 300 ms), and
    -- OaichatDone came within a few probe ticks (every 5 ms; a loaded
    -- machine makes fewer, never more): ~360 if it waited for the rest.
    local after = 0
    for _, t in ipairs(report.ticks) do
      if t > report.cancel_ms then after = after + 1 end
    end
    assert.is_true(after <= 10, after .. " probe ticks between the cancel and OaichatDone")
    assert.equal(1, #srv:requests())
  end)

  it("shows an error in the buffer", function()
    srv:queue { { status = 401, headers = { ["x-request-id"] = "req_nv1" }, json = { error = {
      message = "Incorrect API key provided", type = "invalid_request_error", code = "invalid_api_key" } } } }
    local report, r = run_nvim({})
    assert.equal(0, r.code)
    assert.equal("error", report.status)
    local msg = "oaichat: api error 401 (invalid_api_key): Incorrect API key provided [request req_nv1]"
      .. " -- the API key came from the api_key option of oaichat.new; check it"
    assert.same({ "> hello from nvim", "", "[error] " .. msg }, report.lines)
    assert.equal(0, report.pending)
  end)
end)
