-- lua/oaichat/accumulate.lua on crafted chunks: the completion it builds
-- and the cost of building it.
local accumulate = require("oaichat.accumulate")
local core = require("oaichat.core")

local null = core.null

local function chunk(choices, extra)
  local c = { id = "chatcmpl-a1", object = "chat.completion.chunk", created = 1700000003, model = "m-acc",
    choices = choices }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local function delta(d, finish, index, more)
  local ch = { index = index or 0, delta = d, finish_reason = finish or null }
  for k, v in pairs(more or {}) do ch[k] = v end
  return chunk({ ch })
end

local function acc_of(list)
  local acc = accumulate.new()
  for _, c in ipairs(list) do acc:add(c) end
  return acc
end

describe("accumulate", function()
  it("starts empty", function()
    local acc = accumulate.new()
    assert.same({ object = "chat.completion", choices = {} }, acc:result())
    assert.equal("", acc:text())
  end)

  it("builds the completion: role from the first delta, content joined, finish_reason, usage", function()
    local acc = acc_of {
      delta({ role = "assistant", content = "" }),
      delta({ content = "Hel" }), delta({ content = null }), delta({ content = "lo" }),
      delta({}, "stop"),
      chunk({}, { usage = { prompt_tokens = 1, completion_tokens = 2, total_tokens = 3 },
        system_fingerprint = "fp_1" }),
    }
    assert.same({ id = "chatcmpl-a1", object = "chat.completion", created = 1700000003, model = "m-acc",
      system_fingerprint = "fp_1",
      choices = { { index = 0, message = { role = "assistant", content = "Hello", refusal = null },
        finish_reason = "stop",
        logprobs = null } },
      usage = { prompt_tokens = 1, completion_tokens = 2, total_tokens = 3 } }, acc:result())
    assert.equal("Hello", acc:text())
  end)

  it("takes id, model and created from the first chunk that has them", function()
    local acc = accumulate.new()
    acc:add({ choices = { { index = 0, delta = { content = "a" } } } })
    acc:add({ id = "x1", model = "m1", created = 5, choices = {} })
    acc:add({ id = "x2", model = "m2", created = 6, choices = {} })
    local r = acc:result()
    assert.same({ "x1", "m1", 5 }, { r.id, r.model, r.created })
  end)

  it("ignores a null usage and keeps the last usage object", function()
    local acc = acc_of { chunk({}, { usage = { total_tokens = 1 } }), delta({ content = "a" }, nil, 0),
      chunk({}, { usage = null }), chunk({}, { usage = { total_tokens = 9 } }) }
    assert.same({ total_tokens = 9 }, acc:result().usage)
  end)

  it("defaults the role to assistant and content to null when no content came", function()
    local acc = acc_of { delta({}, "length") }
    assert.same({ role = "assistant", content = null, refusal = null }, acc:result().choices[1].message)
    assert.equal("length", acc:result().choices[1].finish_reason)
  end)

  it("keeps the first role", function()
    local acc = acc_of { delta({ role = "assistant", content = "a" }), delta({ role = "tool", content = "b" }) }
    assert.equal("assistant", acc:result().choices[1].message.role)
  end)

  it("merges tool calls by index: id, type and name once, arguments concatenated", function()
    local acc = acc_of {
      delta({ role = "assistant", tool_calls = { { index = 1, id = "call_2", type = "function",
        ["function"] = { name = "second", arguments = "" } } } }),
      delta({ tool_calls = { { index = 0, id = "call_1", type = "function",
        ["function"] = { name = "first", arguments = "{" } } } }),
      delta({ tool_calls = { { index = 0, id = "call_1", ["function"] = { name = "first", arguments = '"a":' } },
        { index = 1, ["function"] = { arguments = "[1," } } } }),
      delta({ tool_calls = { { index = 0, ["function"] = { arguments = "1}" } },
        { index = 1, ["function"] = { arguments = "2]" } } } }),
      delta({ tool_calls = null }, "tool_calls"),
    }
    local choice = acc:result().choices[1]
    assert.equal("tool_calls", choice.finish_reason)
    assert.same({
      { id = "call_1", type = "function", ["function"] = { name = "first", arguments = '{"a":1}' } },
      { id = "call_2", type = "function", ["function"] = { name = "second", arguments = "[1,2]" } },
    }, choice.message.tool_calls)
    assert.equal(null, choice.message.content)
  end)

  it("keeps the first id, type and name when later deltas repeat them empty or the same", function()
    local acc = acc_of {
      delta({ tool_calls = { { index = 0, id = "call_1", type = "function",
        ["function"] = { name = "lookup", arguments = "{" } } } }),
      delta({ tool_calls = { { index = 0, id = "", type = "", ["function"] = { name = "", arguments = "}" } } } }),
      delta({ tool_calls = { { index = 0, id = "call_1", ["function"] = { name = "other" } } } }),
    }
    assert.same({ { id = "call_1", type = "function", ["function"] = { name = "lookup", arguments = "{}" } } },
      acc:result().choices[1].message.tool_calls)
  end)

  it("concatenates refusal and vendor string fields such as reasoning_content", function()
    local acc = acc_of { delta({ role = "assistant", reasoning_content = "a" }), delta({ reasoning_content = "b" }),
      delta({ refusal = "no " }), delta({ refusal = "way" }), delta({ content = "c" }) }
    assert.same({ role = "assistant", content = "c", reasoning_content = "ab", refusal = "no way" },
      acc:result().choices[1].message)
  end)

  it("keeps choices apart and ordered by index", function()
    local acc = acc_of { delta({ content = "B" }, nil, 1), delta({ content = "A" }, nil, 0),
      delta({ content = "b" }, "stop", 1), delta({ content = "a" }, "length", 0) }
    local r = acc:result()
    assert.same({ 0, "Aa", "length" }, { r.choices[1].index, r.choices[1].message.content, r.choices[1].finish_reason })
    assert.same({ 1, "Bb", "stop" }, { r.choices[2].index, r.choices[2].message.content, r.choices[2].finish_reason })
    assert.equal("Aa", acc:text())
  end)

  it("appends logprobs content entries across chunks", function()
    local acc = acc_of {
      delta({ content = "a" }, nil, 0, { logprobs = { content = { { token = "a", logprob = -0.5 } } } }),
      delta({ content = "b" }, nil, 0, { logprobs = { content = { { token = "b", logprob = -1 } } } }),
    }
    assert.same({ content = { { token = "a", logprob = -0.5 }, { token = "b", logprob = -1 } } },
      acc:result().choices[1].logprobs)
  end)

  it("ignores chunks that are not tables and choices without a delta", function()
    local acc = acc_of { delta({ content = "a" }), chunk({ { index = 0, finish_reason = "stop" } }) }
    acc:add("junk")
    acc:add(42)
    assert.equal("a", acc:text())
    assert.equal("stop", acc:result().choices[1].finish_reason)
  end)

  it("result() and text() during accumulation do not disturb later pieces", function()
    local acc = accumulate.new()
    acc:add(delta({ content = "a" }))
    assert.equal("a", acc:text())
    acc:add(delta({ content = "b" }))
    assert.equal("ab", acc:result().choices[1].message.content)
    acc:add(delta({ content = "c" }))
    acc:add(delta({ tool_calls = { { index = 0, id = "t", ["function"] = { name = "f", arguments = "x" } } } }))
    assert.equal("x", acc:result().choices[1].message.tool_calls[1]["function"].arguments)
    acc:add(delta({ tool_calls = { { index = 0, ["function"] = { arguments = "y" } } } }))
    assert.equal("abc", acc:text())
    assert.equal("xy", acc:result().choices[1].message.tool_calls[1]["function"].arguments)
  end)

  -- Kilobytes allocated (the collector stopped, so nothing is freed) to add
  -- n pieces of content, reasoning and tool arguments and build the result:
  -- a count of work, not a clock.
  local function build_kbytes(n)
    local pieces = {}
    for i = 1, n do
      pieces[i] = delta({ content = "xy", reasoning_content = "r",
        tool_calls = { { index = 0, ["function"] = { arguments = "a" } } } })
    end
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    local acc = accumulate.new()
    for i = 1, n do acc:add(pieces[i]) end
    local r = acc:result()
    local used = collectgarbage("count") - before
    collectgarbage("restart")
    assert.equal(2 * n, #r.choices[1].message.content)
    assert.equal(n, #r.choices[1].message.reasoning_content)
    assert.equal(n, #r.choices[1].message.tool_calls[1]["function"].arguments)
    return used
  end

  it("costs work linear in the number of pieces", function()
    local n = 5000
    build_kbytes(n / 10) -- warm-up
    local small = build_kbytes(n / 10)
    local large = build_kbytes(n)
    -- linear gives ~10; rebuilding the string per piece gives ~100 (500 -> 5000)
    assert.is_true(large / small < 20, ("%d: %.0f KiB, %d: %.0f KiB"):format(n / 10, small, n, large))
  end)
end)
