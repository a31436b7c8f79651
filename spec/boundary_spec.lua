-- How often the Lua layer crosses into C: counted through a wrapped core
-- table (module functions and the session and transfer methods), not timed.
local helper = require("spec.support.helper")
local core = require("oaichat.core")
local oaichat = require("oaichat")

-- Wraps every function of tbl to count its calls into counts; returns the undo.
local function wrap(tbl, counts)
  local orig = {}
  for k, f in pairs(tbl) do
    if type(f) == "function" then
      orig[k] = f
      tbl[k] = function(...)
        counts.n = counts.n + 1
        return f(...)
      end
    end
  end
  return function()
    for k, f in pairs(orig) do tbl[k] = f end
  end
end

describe("the Lua/C boundary", function()
  local srv, client, method_tables
  local words = {}
  for i = 1, 18 do words[i] = "w" .. i end
  local MESSAGE = table.concat(words, " ")

  setup(function()
    srv = helper.server()
    client = oaichat.new{ base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
    local t = client._session:start({ url = srv.url .. "/chat/completions", body = "{}" })
    method_tables = { getmetatable(client._session).__index, getmetatable(t).__index }
    t:close()
  end)
  teardown(function() client:close() end)

  -- Runs f with every call into C counted; returns the count and f's result.
  local function counted(f)
    local counts = { n = 0 }
    local undo = { wrap(core, counts) }
    for _, mt in ipairs(method_tables) do undo[#undo + 1] = wrap(mt, counts) end
    local ok, res = pcall(f)
    for _, u in ipairs(undo) do u() end
    assert(ok, res)
    return counts.n, res
  end

  it("a chat() crosses into C at most twice: start (encoding the body), one step (decoding the answer)", function()
    local n, resp = counted(function() return client:chat("hi") end)
    assert.equal("Echo: hi (1 message)", oaichat.text(resp))
    assert.is_true(n <= 2, n .. " calls")
  end)

  it("a streamed for loop takes one call per chunk, plus the start and the end", function()
    local n, chunks = counted(function()
      local got = 0
      for _ in client:stream(MESSAGE) do got = got + 1 end
      return got
    end)
    assert.is_true(chunks >= 20, chunks .. " chunks")
    assert.is_true(n <= chunks + 2, ("%d calls for %d chunks"):format(n, chunks))
  end)

  it("a stream driven by poll(10) takes one call per chunk plus one per poll", function()
    local polls = 0
    local n, chunks = counted(function()
      local s, got, done = client:stream(MESSAGE), 0, false
      while not done do
        local list
        list, done = s:poll(10)
        got, polls = got + #list, polls + 1
      end
      return got
    end)
    assert.is_true(chunks >= 20, chunks .. " chunks")
    -- (so at most two per chunk whenever each poll brings one)
    assert.is_true(n <= chunks + polls + 1, ("%d calls for %d chunks in %d polls"):format(n, chunks, polls))
  end)
end)
