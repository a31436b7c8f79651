-- The common-chunk path of a stream (accumulate.lua's add_common): a chunk
-- whose other fields equal the kept ones only adds its delta; any chunk that
-- differs anywhere takes the general path.
local oaichat = require("oaichat")
local helper = require("spec.support.helper")

local null = oaichat.null

local HEAD = '"id":"c1","object":"chat.completion.chunk","created":7,"model":"m"'

local function event(top, choice)
  return ('data: {%s%s,"choices":[{"index":0%s}]}\n\n'):format(HEAD, top, choice)
end

describe("a stream's common chunks", function()
  local srv, client
  setup(function()
    srv = helper.server()
    client = oaichat.new { base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
  end)
  teardown(function() client:close() end)

  local function replay(events)
    srv:queue { { status = 200, raw_events = { table.concat(events) .. "data: [DONE]\n\n" } } }
    local s = client:stream("hi")
    local n = 0
    for _ in s do n = n + 1 end
    return s:result(), n
  end

  it("keep fields first sent late, a usage, a new choice key and logprobs (general path), every piece", function()
    local r, n = replay {
      event(',"tier":"a"', ',"delta":{"role":"assistant","content":""},"finish_reason":null,"flag":1'),
      event(',"tier":"a"', ',"delta":{"content":"a"},"finish_reason":null,"flag":1'),
      event(',"tier":"a","fp":"late","obj":{"k":1}', ',"delta":{"content":"b"},"finish_reason":null,"flag":1'),
      event(',"tier":"a"', ',"delta":{"content":"c"},"finish_reason":null,"flag":2,"late":"x"'),
      event(',"tier":"a"', ',"delta":{"content":"d","refusal":"no"},"finish_reason":null,"flag":1'),
      event(',"tier":"a","usage":{"total_tokens":3}', ',"delta":{"content":"e"},"finish_reason":null'),
      event(',"tier":"a"', ',"delta":{"content":"f"},"logprobs":{"content":[{"token":"f"}]},"finish_reason":null'),
      event(',"tier":"a"', ',"delta":{"content":"g"},"finish_reason":null,"flag":1'),
      event(',"tier":"a"', ',"delta":{},"finish_reason":"stop","flag":1'),
    }
    assert.equal(9, n)
    local c = r.choices[1]
    assert.same({ "abcdefg", "no", "stop" }, { c.message.content, c.message.refusal, c.finish_reason })
    assert.same({ 1, "x" }, { c.flag, c.late })
    assert.same({ { token = "f" } }, c.logprobs.content)
    assert.same({ "a", "late", { k = 1 } }, { r.tier, r.fp, r.obj })
    assert.same({ total_tokens = 3 }, r.usage)
  end)

  it("take a finish_reason and a null one as the general path does", function()
    local r = replay {
      event("", ',"delta":{"role":"assistant","content":"x"},"finish_reason":null'),
      event("", ',"delta":{"content":"y"},"finish_reason":"length"'),
      event("", ',"delta":{"content":"z"},"finish_reason":null'),
    }
    assert.same({ "xyz", "length" }, { r.choices[1].message.content, r.choices[1].finish_reason })
    assert.equal(null, r.choices[1].message.refusal)
  end)
end)
