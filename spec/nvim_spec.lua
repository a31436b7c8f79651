-- examples/nvim's plugin in Debian's real `nvim --headless` (Neovim 0.7,
-- LuaJIT) against the loopback server: the reply streams into the chat
-- buffer (appended at its end) while the editor's loop keeps running, the
-- conversation carries across asks in the same window, a range goes along
-- as context, :OaichatCancel stops a reply without keeping it, errors show
-- in the buffer and :checkhealth oaichat reports the build.
-- spec/support/nvim_driver.lua runs inside nvim and writes a JSON report.
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local sub = require("spec.support.subprocess")

local shell = require("spec.support.util").shell

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
    env.LUA_PATH, env.LUA_CPATH = ";;", env.LUA_CPATH or ";;"
    local r = sub.run({ "timeout", "30", "nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n",
      "--cmd", "set rtp^=" .. ROOT .. "/examples/nvim",
      "-c", "runtime! plugin/oaichat.lua",
      "-c", "luafile " .. ROOT .. "/spec/support/nvim_driver.lua" }, { exec = true, env = env })
    local json = sub.slurp(out)
    os.remove(out)
    assert(json ~= "", ("nvim wrote no report (exit %s): %s%s"):format(tostring(r.code), r.stdout, r.stderr))
    return core.decode(json), r
  end

  local ECHO = "Echo: hello from nvim (1 message)"

  -- Every write to the chat buffer replaced lines at its end only (from its
  -- last line on): the reply so far was never rewritten.
  local function assert_appends_only(report)
    assert.is_true(#report.set_lines >= 4, #report.set_lines .. " writes")
    for i, w in ipairs(report.set_lines) do
      local at_end = (w.first == w.line_count - 1 and w.last == w.line_count)
        or (i == 1 and w.first == 0 and w.last == 1 and w.line_count == 1)
      assert.is_true(at_end, ("write %d replaced lines %d..%d of %d"):format(i, w.first, w.last, w.line_count))
    end
  end

  it("streams the reply into the chat buffer, appending at its end, the editor's loop running", function()
    local report, r = run_nvim({ NVIM_DRIVER_DELAY_MS = "40" })
    assert.equal(0, r.code)
    assert.equal("", r.stderr)
    assert.equal("OaichatDone", report.how)
    assert.equal("done", report.status)
    assert.same({ "> hello from nvim", "", ECHO, "", "" }, report.lines)
    assert.equal("nofile", report.buftype)
    assert.equal(0, report.pending)
    assert.equal("LuaJIT", report.lua:match("^LuaJIT"))
    -- :OaichatAsk returned before any of the reply: the buffer held only the prompt.
    assert.same({ "> hello from nvim", "", "" }, report.asks[1].lines)
    -- The buffer grew piece by piece, each state a prefix of the final text.
    local final = table.concat(report.lines, "\n")
    assert.is_true(#report.texts >= 4, #report.texts .. " buffer states")
    for _, text in ipairs(report.texts) do assert.equal(text, final:sub(1, #text)) end
    assert_appends_only(report)
    -- The probe timer (through the main loop) fired more often than the buffer changed.
    assert.is_true(report.ticks > #report.texts, report.ticks .. " ticks, " .. #report.texts .. " states")
    -- The turn joined the conversation: system-less, user + assistant.
    assert.equal(2, report.history)
    local req = srv:last_request()
    assert.equal(true, req.json.stream)
    assert.same({ { role = "user", content = "hello from nvim" } }, req.json.messages)
    assert.equal("Bearer sk-nvim", req.headers.authorization)
    assert.is_truthy(req.headers["user-agent"]:find(" Lua/5.1 LuaJIT/", 1, true), req.headers["user-agent"])
  end)

  it("keeps the conversation across asks, in the same buffer and window", function()
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "conversation", NVIM_DRIVER_DELAY_MS = "5",
      NVIM_DRIVER_SYSTEM = "Be brief." })
    assert.equal(0, r.code, r.stderr)
    assert.equal("OaichatDone", report.how)
    assert.equal(2, #report.asks)
    -- One window added by the first ask (2 in all), none by the second; one buffer.
    assert.same({ 2, 2 }, report.windows)
    assert.equal(report.buffers[1], report.buffers[2])
    assert.equal(report.asks[1].buf, report.asks[2].buf)
    assert.same({ "> hello from nvim", "", "Echo: hello from nvim (2 messages; system prompt)", "",
      "> and a second question", "", "Echo: and a second question (4 messages; system prompt)", "", "" },
      report.lines)
    assert.equal(5, report.history)
    local reqs = srv:requests()
    assert.equal(2, #reqs)
    assert.same({ { role = "system", content = "Be brief." }, { role = "user", content = "hello from nvim" },
      { role = "assistant", content = "Echo: hello from nvim (2 messages; system prompt)" },
      { role = "user", content = "and a second question" } }, core.decode(reqs[2].body).messages)
    assert_appends_only(report)
  end)

  it("sends a visual selection (a range) along as context", function()
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "selection", NVIM_DRIVER_DELAY_MS = "5" })
    assert.equal(0, r.code, r.stderr)
    assert.equal("done", report.status)
    assert.same({ "> explain", "> (2 selected lines of sum.lua)", "" }, { report.lines[1], report.lines[2],
      report.lines[3] })
    local msg = srv:last_request().json.messages[1]
    assert.equal("explain\n\nSelected lines from sum.lua:\n```lua\nlocal b = 2\nprint(a + b)\n```", msg.content)
  end)

  it(":OaichatCancel stops the reply at once and keeps it out of the conversation", function()
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "cancel", NVIM_DRIVER_DELAY_MS = "300" })
    assert.equal(0, r.code)
    assert.equal("OaichatDone", report.how)
    assert.is_true(report.canceled)
    assert.equal("[canceled]", report.lines[4])
    assert.equal("Echo:", report.lines[3])
    assert.equal(0, report.pending)
    -- The next ask sent only its own turn: the canceled one never joined.
    local reqs = srv:requests()
    assert.equal(2, #reqs)
    assert.same({ { role = "user", content = "after the cancel" } }, core.decode(reqs[2].body).messages)
    assert.equal(2, report.history)
  end)

  it("shows an error in the buffer, the conversation unchanged", function()
    srv:queue { { status = 401, headers = { ["x-request-id"] = "req_nv1" }, json = { error = {
      message = "Incorrect API key provided", type = "invalid_request_error", code = "invalid_api_key" } } } }
    local report, r = run_nvim({})
    assert.equal(0, r.code)
    assert.equal("error", report.status)
    local msg = "oaichat: api error 401 (invalid_api_key): Incorrect API key provided [request req_nv1]"
    assert.equal("[error] " .. msg, report.lines[4]:sub(1, #msg + 8))
    report.lines[4] = nil
    assert.same({ "> hello from nvim", "", "", nil, "", "" }, report.lines)
    assert.equal(0, report.pending)
    assert.equal(0, report.history)
  end)

  it(":checkhealth oaichat reports the LuaJIT build and the key", function()
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "health" })
    assert.equal(0, r.code, r.stderr)
    local text = table.concat(report.health, "\n")
    assert.is_truthy(text:find("OK: oaichat " .. core.version .. " loaded (libcurl ", 1, true), text)
    assert.is_truthy(text:find("OK: an API key is configured", 1, true), text)
    assert.is_nil(text:find("ERROR", 1, true), text)
  end)

  it(":checkhealth oaichat says make LUA_VERSION=jit when only a Lua 5.4 build is found", function()
    -- build/5.4 comes from the Makefile (jit-build) like build/jit. A checkout
    -- whose build/jit is missing; the Lua 5.4 build on the C path.
    local root = os.tmpname()
    os.remove(root)
    assert.equal(0, (shell(("mkdir -p %s && ln -s %s/lua %s/lua"):format(root, ROOT, root))))
    local report, r = run_nvim({ NVIM_DRIVER_MODE = "health", NVIM_DRIVER_ROOT = root,
      LUA_CPATH = ROOT .. "/build/5.4/?.so;;" })
    shell("rm -rf " .. root)
    assert.equal(0, r.code, r.stderr)
    local text = table.concat(report.health, "\n")
    assert.is_truthy(text:find("ERROR: cannot load oaichat: oaichat: " .. ROOT .. "/build/5.4/oaichat/core.so was "
      .. "built for another Lua than this LuaJIT (undefined symbol lua_newuserdatauv); build it for this one with "
      .. "`make LUA_VERSION=jit`", 1, true), text)
  end)
end)
