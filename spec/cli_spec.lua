-- bin/oaichat through real child processes against the loopback server;
-- the interactive mode through a pseudo-terminal (util-linux `script`).
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local server = require("spec.support.server")
local sub = require("spec.support.subprocess")

local oaichat_null = core.null

local RED_PNG_URL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4"
  .. "z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC"

describe("bin/oaichat", function()
  local srv

  before_each(function()
    srv = helper.server()
    srv:reset()
  end)

  -- Runs the CLI with the server's URL in the environment.
  local function oaichat(args, opts)
    opts = opts or {}
    local argv = { "bin/oaichat" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local env = opts.env or { OAICHAT_BASE_URL = srv.url }
    return sub.run(argv, { env = env, stdin = opts.stdin })
  end

  local function body(i)
    local reqs = srv:requests()
    return core.decode(reqs[i or #reqs].body)
  end

  it("streams the answer to a question to stdout", function()
    local r = oaichat({ "Hello", "there" })
    assert.equal("", r.stderr)
    assert.equal(0, r.code)
    assert.equal("Echo: Hello there (1 message)\n", r.stdout)
    local b = body()
    assert.is_true(b.stream)
    assert.same({ { role = "user", content = "Hello there" } }, b.messages)
    assert.equal("gpt-5.5", b.model)
    assert.is_nil(b.stream_options)
  end)

  it("sends -s, -m and -t", function()
    local r = oaichat({ "-s", "Be terse.", "-m", "m-test", "-t", "0.25", "Hi" })
    assert.equal(0, r.code)
    assert.equal("Echo: Hi (2 messages; system prompt; params: temperature=0.25)\n", r.stdout)
    local b = body()
    assert.equal("m-test", b.model)
    assert.equal(0.25, b.temperature)
    assert.same({ { role = "system", content = "Be terse." }, { role = "user", content = "Hi" } }, b.messages)
  end)

  it("accepts --option=value spellings and -- before the question", function()
    local r = oaichat({ "--model=m2", "--temperature=1", "--", "-v", "is", "a", "word" })
    assert.equal(0, r.code)
    assert.equal("Echo: -v is a word (1 message; params: temperature=1)\n", r.stdout)
    assert.equal("m2", body().model)
  end)

  it("attaches every -i image as a data: URI (or passes a URL through)", function()
    local r = oaichat({ "-i", "spec/fixtures/red.png", "-i", "https://x.test/cat.png", "What", "is", "this?" })
    assert.equal("", r.stderr)
    assert.equal(0, r.code)
    assert.equal("Echo: What is this? (1 message; images: 2 [image/png 69 bytes, https://x.test/cat.png])\n", r.stdout)
    assert.same({ { role = "user", content = {
      { type = "text", text = "What is this?" },
      { type = "image_url", image_url = { url = RED_PNG_URL } },
      { type = "image_url", image_url = { url = "https://x.test/cat.png" } },
    } } }, body().messages)
  end)

  it("fails before any request for an image that cannot be read", function()
    local r = oaichat({ "-i", "spec/fixtures/missing.png", "hi" })
    assert.equal(1, r.code)
    assert.equal("", r.stdout)
    assert.equal("oaichat: spec/fixtures/missing.png: cannot open the file (No such file or directory)\n", r.stderr)
    r = oaichat({ "-i", "spec/fixtures/not_an_image.txt", "hi" })
    assert.equal(1, r.code)
    assert.equal("oaichat: spec/fixtures/not_an_image.txt: not a PNG, JPEG, GIF or WebP image "
      .. "(unrecognised file signature)\n", r.stderr)
    assert.equal(0, #srv:requests())
  end)

  it("prints the full response with --json", function()
    local r = oaichat({ "--json", "hi" })
    assert.equal(0, r.code)
    assert.equal("\n", r.stdout:sub(-1))
    local resp = core.decode(r.stdout)
    assert.equal("chatcmpl-mock-1", resp.id)
    assert.equal("chat.completion", resp.object)
    assert.equal("Echo: hi (1 message)", resp.choices[1].message.content)
    assert.same({ prompt_tokens = 1, completion_tokens = 4, total_tokens = 5 }, resp.usage)
    assert.is_nil(body().stream)
  end)

  it("waits for the whole answer with --no-stream", function()
    local r = oaichat({ "--no-stream", "hi" })
    assert.equal(0, r.code)
    assert.equal("Echo: hi (1 message)\n", r.stdout)
    assert.is_nil(body().stream)
  end)

  it("prints usage to stderr with -v (asking the stream for it)", function()
    local r = oaichat({ "-v", "count", "these", "words" })
    assert.equal(0, r.code)
    assert.equal("Echo: count these words (1 message)\n", r.stdout)
    assert.equal("oaichat: usage: 3 prompt + 6 completion = 9 tokens\n", r.stderr)
    assert.same({ include_usage = true }, body().stream_options)
  end)

  it("prints reasoning and cached tokens with -v", function()
    srv:queue({ { json = { id = "x", object = "chat.completion", created = 1, model = "m",
      choices = { { index = 0, message = { role = "assistant", content = "ok" }, finish_reason = "stop" } },
      usage = { prompt_tokens = 10, completion_tokens = 30, total_tokens = 40,
        completion_tokens_details = { reasoning_tokens = 25 }, prompt_tokens_details = { cached_tokens = 8 } } } } })
    local r = oaichat({ "-v", "--no-stream", "think" })
    assert.equal(0, r.code)
    assert.equal("ok\n", r.stdout)
    assert.equal("oaichat: usage: 10 prompt + 30 completion = 40 tokens (25 reasoning, 8 cached)\n", r.stderr)
  end)

  it("reads the question from stdin when it is not a terminal", function()
    local r = oaichat({}, { stdin = "  a question\nover two lines\n\n" })
    assert.equal(0, r.code)
    assert.equal("Echo: a question\nover two lines (1 message)\n", r.stdout)
    assert.same({ { role = "user", content = "a question\nover two lines" } }, body().messages)
  end)

  it("fails with a usage error when there is no question at all", function()
    local r = oaichat({})
    assert.equal(2, r.code)
    assert.equal("", r.stdout)
    assert.equal("oaichat: no question given (as arguments or on stdin)\nTry 'oaichat --help'.\n", r.stderr)
  end)

  it("reports a service error on stderr with exit code 1", function()
    srv:queue({ { status = 401, headers = { ["x-request-id"] = "req_9" },
      json = { error = { message = "Incorrect API key provided", type = "invalid_request_error",
        code = "invalid_api_key" } } } })
    local r = oaichat({ "hi" })
    assert.equal(1, r.code)
    assert.equal("", r.stdout)
    assert.equal("oaichat: api error 401 (invalid_api_key): Incorrect API key provided [request req_9]"
      .. " -- no API key was sent: give api_key to oaichat.new, or set OAICHAT_API_KEY with OAICHAT_BASE_URL\n",
      r.stderr)
  end)

  it("keeps what was streamed when the stream breaks off, and fails", function()
    srv:queue({ { sse = { '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
      .. '"choices":[{"index":0,"delta":{"content":"partial"},"finish_reason":null}]}' } } })
    local r = oaichat({ "hi" })
    assert.equal(1, r.code)
    assert.equal("partial\n", r.stdout)
    assert.equal("oaichat: stream error 200: the stream ended without [DONE]\n", r.stderr)
  end)

  it("rejects unknown options and bad values with exit code 2", function()
    local r = oaichat({ "-x", "hi" })
    assert.equal(2, r.code)
    assert.equal("oaichat: unknown option -x\nTry 'oaichat --help'.\n", r.stderr)
    r = oaichat({ "-t", "warm", "hi" })
    assert.equal(2, r.code)
    assert.equal("oaichat: -t needs a number, got 'warm'\nTry 'oaichat --help'.\n", r.stderr)
    r = oaichat({ "hi", "-m" })
    assert.equal(2, r.code)
    assert.equal("oaichat: option -m needs a value\nTry 'oaichat --help'.\n", r.stderr)
    assert.equal(0, #srv:requests())
  end)

  it("prints help and the version", function()
    local r = oaichat({ "--help" })
    assert.equal(0, r.code)
    assert.equal("usage: oaichat [options] [question...]\n", r.stdout:match("^[^\n]*\n"))
    assert.truthy(r.stdout:find("\n  -i, --image FILE|URL     attach an image", 1, true))
    r = oaichat({ "--version" })
    assert.equal(0, r.code)
    assert.equal("oaichat " .. require("oaichat").VERSION .. "\n", r.stdout)
  end)

  it("takes --base-url and --api-key over the environment", function()
    local r = oaichat({ "--base-url", srv.url, "--api-key", "sk-cli", "hi" },
      { env = { OAICHAT_BASE_URL = "http://127.0.0.1:1/v1" } })
    assert.equal(0, r.code)
    assert.equal("Echo: hi (1 message)\n", r.stdout)
    assert.equal("Bearer sk-cli", srv:last_request().headers.authorization)
  end)

  it("continues a conversation saved in a file with -c", function()
    local file = os.tmpname()
    os.remove(file)
    local r = oaichat({ "-c", file, "-s", "S", "My name is Ada." })
    assert.equal(0, r.code)
    assert.equal("Echo: My name is Ada. (2 messages; system prompt)\n", r.stdout)
    r = oaichat({ "-c", file, "--no-stream", "What is my name?" })
    assert.equal(0, r.code)
    assert.equal("Echo: What is my name? (4 messages; system prompt)\n", r.stdout)
    local saved = core.decode(sub.slurp(file))
    assert.equal("S", saved.system)
    assert.same({ "system", "user", "assistant", "user", "assistant" }, (function()
      local roles = {}
      for i, m in ipairs(saved.messages) do roles[i] = m.role end
      return roles
    end)())
    assert.equal(4, #body().messages)
    -- A failed turn does not touch the file.
    local before = sub.slurp(file)
    srv:queue({ { status = 400, json = { error = { message = "nope" } } } })
    r = oaichat({ "-c", file, "again" })
    assert.equal(1, r.code)
    assert.equal(before, sub.slurp(file))
    sub.spit(file, "garbage")
    r = oaichat({ "-c", file, "again" })
    assert.equal(1, r.code)
    assert.equal("oaichat: cannot load the conversation from " .. file
      .. ": client:conversation_from_json: not a JSON object (Expected value but found invalid token at character 1)\n",
      r.stderr)
    os.remove(file)
  end)

  if _VERSION == "Lua 5.4" and not rawget(_G, "jit") then
    it("runs through its #! line", function()
      local r = sub.run({ "bin/oaichat", "--version" }, { exec = true, env = {
        LUA_PATH = os.getenv("LUA_PATH") or "", LUA_CPATH = os.getenv("LUA_CPATH") or "" } })
      assert.equal(0, r.code)
      assert.equal("oaichat " .. require("oaichat").VERSION .. "\n", r.stdout)
    end)
  end

  describe("options, config and files", function()
    local dir

    before_each(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. sub.quote(dir .. "/oaichat")))
    end)

    after_each(function()
      os.execute("rm -rf " .. sub.quote(dir))
    end)

    local function run(args, opts)
      opts = opts or {}
      local env = opts.env or {}
      env.OAICHAT_BASE_URL = env.OAICHAT_BASE_URL or srv.url
      env.XDG_CONFIG_HOME = dir
      return oaichat(args, { env = env, stdin = opts.stdin })
    end

    it("joins piped stdin and the question: stdin first, as llm does", function()
      local r = run({ "Summarise", "this" }, { stdin = "line one\nline two\n" })
      assert.equal(0, r.code, r.stderr)
      assert.same({ { role = "user", content = "line one\nline two\n\nSummarise this" } }, body().messages)
    end)

    it("sends -o key=value (JSON values parsed) and --max-tokens", function()
      local r = run({ "-o", "top_k=40", "-o", "stop=[\"\\n\"]", "-o", "user=ada", "-o", "seed=123456789012345",
        "-o", "logprobs=true", "--max-tokens", "64", "hi" })
      assert.equal(0, r.code, r.stderr)
      local b = body()
      assert.equal(40, b.top_k)
      assert.same({ "\n" }, b.stop)
      assert.equal("ada", b.user)
      assert.equal(123456789012345, b.seed)
      assert.is_true(b.logprobs)
      assert.equal(64, b.max_tokens)
      r = run({ "-o", "nokey", "hi" })
      assert.equal(2, r.code)
      assert.equal("oaichat: -o needs KEY=VALUE, got 'nokey'\nTry 'oaichat --help'.\n", r.stderr)
      r = run({ "--max-tokens", "lots", "hi" })
      assert.equal(2, r.code)
      assert.equal("oaichat: --max-tokens needs a number, got 'lots'\nTry 'oaichat --help'.\n", r.stderr)
    end)

    it("lists the models with --models (GET /models), or prints them with --json", function()
      local r = run({ "--models" })
      assert.equal(0, r.code, r.stderr)
      assert.equal("mock-small\nmock-large\n", r.stdout)
      local req = srv:last_request()
      assert.equal("GET", req.method)
      assert.equal("/v1/models", req.path)
      r = run({ "--models", "--json" })
      assert.equal("mock-small", core.decode(r.stdout).data[1].id)
    end)

    it("takes --provider presets, explicit options winning, and names the known ones on a typo", function()
      local r = run({ "--provider", "ollama", "--base-url", srv.url, "hi" }, { env = { OAICHAT_BASE_URL = "" } })
      assert.equal(0, r.code, r.stderr)
      assert.equal("Echo: hi (1 message)\n", r.stdout)
      r = run({ "--provider", "nope", "hi" })
      assert.equal(2, r.code)
      assert.truthy(r.stderr:find('^oaichat: unknown provider "nope" %(known: .*ollama'), r.stderr)
    end)

    it("reads model, system prompt, params and base URL from $XDG_CONFIG_HOME/oaichat/config.lua", function()
      sub.spit(dir .. "/oaichat/config.lua", ('return { model = "m-cfg", system = "From config.", '
        .. 'base_url = %q, params = { temperature = 0.5, top_k = 7 } }'):format(srv.url))
      local r = run({ "hi" }, { env = { OAICHAT_BASE_URL = "http://127.0.0.1:1/v1" } })
      assert.equal(0, r.code, r.stderr)
      local b = body()
      assert.equal("m-cfg", b.model)
      assert.equal(0.5, b.temperature)
      assert.equal(7, b.top_k)
      assert.same({ role = "system", content = "From config." }, b.messages[1])
      -- Options win over the file; --no-config ignores it.
      assert.equal(0, run({ "-m", "m-cli", "-t", "0.1", "-s", "From CLI.", "hi" }).code)
      b = body()
      assert.equal("m-cli", b.model)
      assert.equal(0.1, b.temperature)
      assert.equal("From CLI.", b.messages[1].content)
      assert.equal(0, run({ "--no-config", "hi" }).code)
      assert.equal("gpt-5.5", body().model)
      -- A broken file is reported, naming it.
      sub.spit(dir .. "/oaichat/config.lua", "return { colour = 'blue' }")
      r = run({ "hi" })
      assert.equal(1, r.code)
      assert.equal("oaichat: config " .. dir .. "/oaichat/config.lua: unknown setting colour (known: model, "
        .. "base_url, api_key, provider, system, params)\n", r.stderr)
    end)

    it("applies -s to an existing -c FILE and says so", function()
      local file = dir .. "/chat.json"
      assert.equal(0, run({ "-c", file, "-s", "Old.", "one" }).code)
      local r = run({ "-c", file, "-s", "New.", "two" })
      assert.equal(0, r.code)
      assert.equal("oaichat: -s replaces the system prompt saved in " .. file .. "\n", r.stderr)
      assert.same({ role = "system", content = "New." }, body().messages[1])
      assert.equal(4, #body().messages)
      local saved = core.decode(sub.slurp(file))
      assert.equal("New.", saved.system)
      assert.equal("New.", saved.messages[1].content)
      -- The same prompt again: nothing to say.
      r = run({ "-c", file, "-s", "New.", "three" })
      assert.equal("", r.stderr)
    end)

    it("replaces -c FILE atomically: a new file renamed over the old, no temporary left", function()
      local file = dir .. "/chat.json"
      assert.equal(0, run({ "-c", file, "one" }).code)
      -- A hard link keeps the old inode: rewriting in place would change it too.
      assert(os.execute("ln " .. sub.quote(file) .. " " .. sub.quote(dir .. "/old.json")))
      local before = sub.slurp(file)
      assert.equal(0, run({ "-c", file, "two" }).code)
      assert.equal(before, sub.slurp(dir .. "/old.json"))
      assert.equal(5 - 1, #core.decode(sub.slurp(file)).messages)
      local p = io.popen("LC_ALL=C ls " .. sub.quote(dir))
      local names = p:read("*a")
      p:close()
      assert.equal("chat.json\noaichat\nold.json\n", names)
    end)
  end)

  describe("interactive mode (a pseudo-terminal, typed as a person would)", function()
    -- tmux runs the CLI in a terminal of its own; keys go in with send-keys,
    -- the screen comes back with capture-pane. Each wait is bounded by a
    -- count of screen reads (generous), never asserted as a duration.
    -- One tmux server per run, named by our pid: 5.1 and LuaJIT do not seed
    -- math.random, so runs started in the same second used to share one.
    local stat = assert(io.open("/proc/self/stat"))
    local SOCKET = "oaichat-spec-" .. stat:read("*l"):match("^%d+")
    stat:close()
    local session = 0
    local term = {}
    term.__index = term

    local function tmux(args)
      local p = assert(io.popen("tmux -L " .. SOCKET .. " -f /dev/null " .. args .. " 2>&1"))
      local out = p:read("*a")
      p:close()
      return out
    end

    local function start(args, env)
      session = session + 1
      local t = setmetatable({ name = "s" .. session }, term)
      env = env or {}
      env.OAICHAT_BASE_URL = env.OAICHAT_BASE_URL or srv.url
      env.XDG_CONFIG_HOME = env.XDG_CONFIG_HOME or "/nonexistent"
      env.TERM = "xterm"
      env.LUA_PATH = env.LUA_PATH or os.getenv("LUA_PATH") or ";;"
      env.LUA_CPATH = env.LUA_CPATH or os.getenv("LUA_CPATH") or ";;"
      -- The shell around it ignores SIGINT, as an interactive shell is out
      -- of the way of its foreground job's Ctrl-C (else it would end too).
      local inner = "trap '' INT; " .. sub.env_prefix(env) .. " " .. sub.quote(server.interpreter())
        .. " bin/oaichat " .. (args or "")
        .. "; echo EXIT=$?; sleep 600"
      tmux(("new-session -d -s %s -x 150 -y 50 %s"):format(t.name, sub.quote(inner)))
      return t
    end

    function term:screen()
      return tmux("capture-pane -p -J -S - -t " .. self.name)
    end

    -- Waits until the screen shows `text` (plain) `count` times (default once).
    function term:wait(text, count)
      count = count or 1
      local screen
      for _ = 1, 600 do
        screen = self:screen()
        local n, at = 0, 1
        while true do
          local i = screen:find(text, at, true)
          if not i then break end
          n, at = n + 1, i + #text
        end
        if n >= count then return screen end
        core.sleep(0.05)
      end
      error(("the screen never showed %q (x%d):\n%s"):format(text, count, screen), 2)
    end

    function term:type(text)
      tmux("send-keys -t " .. self.name .. " -l " .. sub.quote(text))
    end

    function term:keys(...)
      tmux("send-keys -t " .. self.name .. " " .. table.concat({ ... }, " "))
    end

    -- The exit status the shell printed, once the CLI ended.
    function term:exit_code()
      return tonumber(self:wait("EXIT="):match("EXIT=(%d+)"))
    end

    function term:close()
      tmux("kill-session -t " .. self.name)
    end

    -- A session that outlives every test: tmux exits with its last session,
    -- and a new-session racing that exit fails ("no server running").
    setup(function()
      tmux("new-session -d -s keep 'sleep 3600'")
    end)

    teardown(function()
      tmux("kill-server")
    end)

    local function contents(i)
      local out = {}
      for k, m in ipairs(body(i).messages) do out[k] = m.content end
      return out
    end

    it("edits the line with the arrow keys and recalls history with Up (readline)", function()
      local t = start()
      t:wait("> ")
      t:type("hello wrld")
      t:wait("> hello wrld")
      t:keys("Left", "Left", "Left")
      t:type("o")
      t:keys("Enter")
      t:wait("Echo: hello world (1 message)")
      assert.same({ "hello world" }, contents())
      t:keys("Up")
      t:wait("> hello world", 2)
      t:keys("Enter")
      t:wait("Echo: hello world (3 messages)")
      assert.same({ "hello world", "Echo: hello world (1 message)", "hello world" }, contents())
      t:keys("C-d")
      assert.equal(0, t:exit_code())
      t:close()
    end)

    it("saves -c FILE after every completed turn, atomically", function()
      local file = os.tmpname()
      os.remove(file)
      local t = start("-c " .. file .. " -s S")
      t:wait("> ")
      t:type("first")
      t:keys("Enter")
      t:wait("Echo: first (2 messages; system prompt)")
      t:wait("> ", 2)
      -- Written while the chat goes on, not at exit.
      local saved = core.decode(sub.slurp(file))
      assert.same({ "system", "user", "assistant" }, { saved.messages[1].role, saved.messages[2].role,
        saved.messages[3].role })
      t:type("second")
      t:keys("Enter")
      t:wait("Echo: second (4 messages; system prompt)")
      t:wait("> ", 3)
      saved = core.decode(sub.slurp(file))
      assert.equal(5, #saved.messages)
      assert.equal("Echo: second (4 messages; system prompt)", saved.messages[5].content)
      -- No temporary file is left beside it.
      local dir, base = file:match("^(.*)/([^/]+)$")
      local p = io.popen("ls -a " .. sub.quote(dir) .. " | grep -c " .. sub.quote("^" .. base .. "%.tmp"))
      local leftovers = p:read("*a")
      p:close()
      assert.equal("0\n", leftovers)
      t:type("/exit")
      t:keys("Enter")
      assert.equal(0, t:exit_code())
      t:close()
      os.remove(file)
    end)

    it("Ctrl-C stops an answer (history unchanged); Ctrl-C at the empty prompt then exits 130, saved", function()
      local file = os.tmpname()
      os.remove(file)
      local pieces = {}
      for i = 1, 40 do
        pieces[i] = core.encode({ id = "c", object = "chat.completion.chunk", created = 1, model = "m",
          choices = { { index = 0, delta = { content = "piece" .. i .. " " }, finish_reason = oaichat_null } } })
      end
      local t = start("-c " .. file)
      t:wait("> ")
      t:type("keep me")
      t:keys("Enter")
      t:wait("Echo: keep me (1 message)")
      srv:queue({ { sse = pieces, chunk_delay_ms = 200 } })
      t:type("a long answer")
      t:keys("Enter")
      t:wait("piece2 ")
      t:keys("C-c")
      local screen = t:wait("(canceled; Ctrl-C again to quit)")
      assert.is_nil(screen:find("piece40", 1, true))
      assert.is_nil(screen:find("traceback", 1, true))
      t:wait("> ", 3)
      -- The canceled turn is not in the history: the next request does not carry it.
      t:type("after")
      t:keys("Enter")
      t:wait("Echo: after (3 messages)")
      assert.same({ "keep me", "Echo: keep me (1 message)", "after" }, contents())
      t:wait("> ", 4)
      t:keys("C-c")
      assert.equal(130, t:exit_code(), t:screen())
      screen = t:screen()
      assert.is_nil(screen:find("traceback", 1, true), screen)
      local saved = core.decode(sub.slurp(file))
      assert.equal(4, #saved.messages)
      assert.equal("Echo: after (3 messages)", saved.messages[4].content)
      t:close()
      os.remove(file)
    end)

    it("Ctrl-C at the prompt exits 130 with the terminal restored, even with a line typed", function()
      local t = start()
      t:wait("> ")
      t:type("fresh")
      t:keys("Enter")
      t:wait("Echo: fresh (1 message)")
      t:wait("> ", 2)
      t:type("half a thought")
      t:wait("> half a thought")
      t:keys("C-c")
      assert.equal(130, t:exit_code())
      assert.equal(1, #srv:requests())
      -- readline gave the terminal back: the shell's `echo` after it printed plainly.
      assert.is_truthy(t:screen():find("\nEXIT=130", 1, true))
      assert.is_nil(t:screen():find("traceback", 1, true))
      t:close()
    end)

    it('takes a multi-line prompt between """ lines as one turn', function()
      local t = start()
      t:wait("> ")
      t:type('"""')
      t:keys("Enter")
      t:wait("... ")
      t:type("line one")
      t:keys("Enter")
      t:type("line two")
      t:keys("Enter")
      t:wait("... ", 3)
      t:type('"""')
      t:keys("Enter")
      t:wait("Echo: line one")
      assert.equal(1, #srv:requests())
      assert.same({ "line one\nline two" }, contents())
      t:keys("C-d")
      assert.equal(0, t:exit_code())
      t:close()
    end)

    it("keeps the history, and handles /reset, /save, unknown commands and /exit", function()
      local file = os.tmpname()
      local t = start("-s S")
      t:wait("oaichat " .. require("oaichat").VERSION .. ": chatting with gpt-5.5 "
        .. "(/help for commands, /exit or Ctrl-D to quit)")
      for i, line in ipairs({ "first", "second", "/reset", "third", "/save " .. file, "/bogus" }) do
        t:wait("> ", i)
        t:type(line)
        t:keys("Enter")
      end
      local screen = t:wait("oaichat: unknown command /bogus (try /help)")
      for _, want in ipairs({ "Echo: first (2 messages; system prompt)", "Echo: second (4 messages; system prompt)",
        "(history cleared)", "Echo: third (2 messages; system prompt)", "(saved to " .. file .. ")" }) do
        assert.is_truthy(screen:find(want, 1, true), want)
      end
      t:type("/exit")
      t:keys("Enter")
      assert.equal(0, t:exit_code())
      local saved = core.decode(sub.slurp(file))
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "third" },
        { role = "assistant", content = "Echo: third (2 messages; system prompt)" } }, saved.messages)
      assert.equal(3, #srv:requests())
      t:close()
      os.remove(file)
    end)

    it("reports a failed turn and goes on with the history unchanged", function()
      srv:queue({ {}, { status = 400, json = { error = { message = "too long" } } } })
      local t = start()
      for i, line in ipairs({ "one", "two", "three" }) do
        t:wait("> ", i)
        t:type(line)
        t:keys("Enter")
      end
      local screen = t:wait("Echo: three (3 messages)")
      assert.is_truthy(screen:find("oaichat: api error 400: too long", 1, true))
      assert.same({ "one", "Echo: one (1 message)", "three" }, contents())
      t:keys("C-d")
      assert.equal(0, t:exit_code())
      t:close()
    end)

    it("Ctrl-C during a one-shot answer stops it: exit 130, -c FILE untouched", function()
      local file = os.tmpname()
      sub.spit(file, "")
      os.remove(file)
      local pieces = {}
      for i = 1, 40 do
        pieces[i] = core.encode({ id = "c", object = "chat.completion.chunk", created = 1, model = "m",
          choices = { { index = 0, delta = { content = "piece" .. i .. " " }, finish_reason = oaichat_null } } })
      end
      srv:queue({ { sse = pieces, chunk_delay_ms = 200 } })
      local t = start("-c " .. file .. " 'a long answer'")
      t:wait("piece2 ")
      t:keys("C-c")
      assert.equal(130, t:exit_code())
      local screen = t:screen()
      assert.is_nil(screen:find("piece40", 1, true))
      assert.is_nil(screen:find("traceback", 1, true), screen)
      assert.is_nil(io.open(file))
      t:close()
    end)

    -- A C path as a rock user without lua-luv has: the spec's own, with the
    -- directory holding luv.so replaced by links to everything else in it.
    local function cpath_without_luv()
      local shadow = os.tmpname()
      os.remove(shadow)
      assert(os.execute("mkdir " .. sub.quote(shadow)))
      local kept = {}
      for template in ((os.getenv("LUA_CPATH") or ";;"):gsub(";;", ";" .. package.cpath .. ";")):gmatch("[^;]+") do
        local f = io.open((template:gsub("%?", "luv")))
        if f then
          f:close()
          local dir = template:match("^(.*)/%?%.so$")
          assert(os.execute(("for f in %s/*; do [ \"${f##*/}\" = luv.so ] || ln -s \"$f\" %s/; done")
            :format(sub.quote(dir), sub.quote(shadow))))
          kept[#kept + 1] = shadow .. "/?.so"
        else
          kept[#kept + 1] = template
        end
      end
      return table.concat(kept, ";"), shadow
    end

    for _, with_readline in ipairs({ true, false }) do
      it(("without lua-luv (%s): Ctrl-C at a fresh prompt exits 130 at once, saved, nothing sent")
        :format(with_readline and "readline" or "plain lines"), function()
        local cpath, shadow = cpath_without_luv()
        local lpath = with_readline and os.getenv("LUA_PATH") or "./lua/?.lua;./lua/?/init.lua"
        -- The premise: this C path has no luv (and readline only when asked for).
        local probe = sub.run({ "-e", "io.write(tostring(pcall(require, 'luv')), ' ', "
          .. "tostring(pcall(require, 'readline')))" }, { env = { LUA_CPATH = cpath, LUA_PATH = lpath } })
        assert.equal("false " .. tostring(with_readline), probe.stdout, probe.stderr)
        local file = os.tmpname()
        os.remove(file)
        local t = start("-c " .. file, { LUA_CPATH = cpath, LUA_PATH = lpath })
        t:wait("> ")
        t:type("kept")
        t:keys("Enter")
        t:wait("Echo: kept (1 message)")
        t:wait("> ", 2)
        t:keys("C-c")
        -- at once: no key after the Ctrl-C, and the screen shows the exit
        assert.equal(130, t:exit_code(), t:screen())
        assert.is_nil(t:screen():find("traceback", 1, true), t:screen())
        assert.equal(1, #srv:requests())
        local saved = core.decode(sub.slurp(file))
        assert.equal("Echo: kept (1 message)", saved.messages[2].content)
        t:close()
        os.remove(file)
        os.execute("rm -r " .. sub.quote(shadow))
      end)
    end

    it("without lua-luv: Ctrl-C during an interactive answer ends the program (130), completed turns saved",
      function()
      local cpath, shadow = cpath_without_luv()
      local pieces = {}
      for i = 1, 40 do
        pieces[i] = core.encode({ id = "c", object = "chat.completion.chunk", created = 1, model = "m",
          choices = { { index = 0, delta = { content = "piece" .. i .. " " }, finish_reason = oaichat_null } } })
      end
      local file = os.tmpname()
      os.remove(file)
      local t = start("-c " .. file, { LUA_CPATH = cpath })
      t:wait("> ")
      t:type("kept")
      t:keys("Enter")
      t:wait("Echo: kept (1 message)")
      srv:queue({ { sse = pieces, chunk_delay_ms = 200 } })
      t:type("a long answer")
      t:keys("Enter")
      t:wait("piece2 ")
      t:keys("C-c")
      assert.equal(130, t:exit_code(), t:screen())
      local screen = t:screen()
      assert.is_nil(screen:find("piece40", 1, true), screen)
      assert.is_nil(screen:find("traceback", 1, true), screen)
      assert.equal(2, #core.decode(sub.slurp(file)).messages)
      t:close()
      os.remove(file)
      os.execute("rm -r " .. sub.quote(shadow))
    end)

    it("without lua-luv: Ctrl-C during a one-shot answer stops it: exit 130, -c FILE untouched", function()
      local cpath, shadow = cpath_without_luv()
      local file = os.tmpname()
      os.remove(file)
      local pieces = {}
      for i = 1, 40 do
        pieces[i] = core.encode({ id = "c", object = "chat.completion.chunk", created = 1, model = "m",
          choices = { { index = 0, delta = { content = "piece" .. i .. " " }, finish_reason = oaichat_null } } })
      end
      srv:queue({ { sse = pieces, chunk_delay_ms = 200 } })
      local t = start("-c " .. file .. " 'a long answer'", { LUA_CPATH = cpath })
      t:wait("piece2 ")
      t:keys("C-c")
      assert.equal(130, t:exit_code())
      local screen = t:screen()
      assert.is_nil(screen:find("piece40", 1, true))
      assert.is_nil(screen:find("traceback", 1, true), screen)
      assert.is_nil(io.open(file))
      t:close()
      os.execute("rm -r " .. sub.quote(shadow))
    end)

    it("reads plain lines when lua-readline is not on the path", function()
      -- Only the checkout on LUA_PATH: Debian's readline.lua is out of reach.
      local t = start("", { LUA_PATH = "./lua/?.lua;./lua/?/init.lua" })
      t:wait("> ")
      t:type("plain line")
      t:keys("Enter")
      t:wait("Echo: plain line (1 message)")
      -- No line editing: the arrow key's escape sequence is part of the text.
      t:type("ab")
      t:keys("Left")
      t:keys("Enter")
      t:wait("(3 messages)")
      assert.equal("ab\27[D", body().messages[3].content)
      t:keys("C-d")
      assert.equal(0, t:exit_code())
      t:close()
    end)

    it("pretty-prints --json when stdout is a terminal", function()
      local t = start("--json hi")
      assert.equal(0, t:exit_code())
      local screen = t:screen()
      assert.is_truthy(screen:find('{\n  "choices": [\n    {\n      "finish_reason": "stop",', 1, true), screen)
      assert.is_truthy(screen:find('\n  "usage": {\n    "completion_tokens": 4,', 1, true), screen)
      t:close()
    end)

    it("sends -i images with the first question only", function()
      local t = start("-i spec/fixtures/red.png")
      t:wait("> ")
      t:type("look")
      t:keys("Enter")
      t:wait("Echo: look (1 message; images: 1 [image/png 69 bytes])")
      t:type("again")
      t:keys("Enter")
      t:wait("Echo: again (3 messages; images: 1 [image/png 69 bytes])")
      assert.equal("again", body().messages[3].content)
      t:keys("C-d")
      assert.equal(0, t:exit_code())
      t:close()
    end)
  end)
end)
