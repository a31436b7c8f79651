-- bin/oaichat through real child processes against the loopback server;
-- the interactive mode through a pseudo-terminal (util-linux `script`).
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local server = require("spec.support.server")
local sub = require("spec.support.subprocess")

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

  describe("interactive mode (pseudo-terminal)", function()
    -- Output of the CLI run in a pty fed with `input`; \r removed.
    local function chat(input, args)
      local inner = sub.quote(server.interpreter()) .. " bin/oaichat " .. (args or "")
      local r = sub.run({ "script", "-qefc", inner, "/dev/null" }, { exec = true,
        env = { OAICHAT_BASE_URL = srv.url }, stdin = input })
      r.stdout = r.stdout:gsub("\r", "")
      return r
    end

    -- The lines the program printed after a prompt.
    local function answers(out)
      local list = {}
      for line in out:gmatch("[^\n]*") do
        if line:sub(1, 2) == "> " and #line > 2 then list[#list + 1] = line:sub(3) end
      end
      return list
    end

    it("keeps the history, and handles /reset, /save and /exit", function()
      local file = os.tmpname()
      local r = chat("first\nsecond\n/reset\nthird\n/save " .. file .. "\n/bogus\n/exit\n", "-s S")
      assert.equal(0, r.code)
      assert.truthy(r.stdout:find("oaichat " .. require("oaichat").VERSION .. ": chatting with gpt-5.5 "
        .. "(/help for commands, /exit or Ctrl-D to quit)\n", 1, true))
      assert.same({
        "Echo: first (2 messages; system prompt)",
        "Echo: second (4 messages; system prompt)",
        "(history cleared)",
        "Echo: third (2 messages; system prompt)",
        "(saved to " .. file .. ")",
        "oaichat: unknown command /bogus (try /help)",
      }, answers(r.stdout))
      -- /exit returns at once; end of input would print a newline after the prompt.
      assert.equal("(try /help)\n> ", r.stdout:sub(-14))
      local saved = core.decode(sub.slurp(file))
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "third" },
        { role = "assistant", content = "Echo: third (2 messages; system prompt)" } }, saved.messages)
      assert.equal(3, #srv:requests())
      os.remove(file)
    end)

    it("reports a failed turn and goes on with the history unchanged", function()
      srv:queue({ {}, { status = 400, json = { error = { message = "too long" } } } })
      local r = chat("one\ntwo\nthree\n")
      assert.equal(0, r.code)
      -- The error (stderr, same terminal) follows the prompt of the failed turn.
      assert.same({ "Echo: one (1 message)", "oaichat: api error 400: too long", "Echo: three (3 messages)" },
        answers(r.stdout))
      assert.same({ "one", "Echo: one (1 message)", "three" }, (function()
        local out = {}
        for i, m in ipairs(body().messages) do out[i] = m.content end
        return out
      end)())
    end)

    it("ends at end of input (Ctrl-D) with exit code 0", function()
      local r = chat("hello\n")
      assert.equal(0, r.code)
      assert.same({ "Echo: hello (1 message)" }, answers(r.stdout))
    end)

    it("sends -i images with the first question only", function()
      local r = chat("look\nagain\n/exit\n", "-i spec/fixtures/red.png")
      assert.equal(0, r.code)
      assert.same({ "Echo: look (1 message; images: 1 [image/png 69 bytes])",
        "Echo: again (3 messages; images: 1 [image/png 69 bytes])" }, answers(r.stdout))
      assert.equal("again", body().messages[3].content)
    end)
  end)
end)
