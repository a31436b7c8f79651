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

  describe("real servers' shapes (issue 10)", function()
    local function calls_of(acc) return acc:result().choices[1].message.tool_calls end
    local function tc(t) return delta({ tool_calls = t }) end
    local function is_tool_id(id) return type(id) == "string" and #id == 9 and id:match("^[A-Za-z0-9]+$") ~= nil end

    it("10.1 id, model, created and system_fingerprint take the first non-empty value", function()
      local acc = accumulate.new()
      acc:add({ id = "", created = 0, model = "", object = "", system_fingerprint = "", choices = {},
        prompt_filter_results = { { prompt_index = 0 } } })
      acc:add({ id = "x1", created = 7, model = "m1", system_fingerprint = "fp1", choices = {} })
      acc:add({ id = "x2", created = 8, model = "m2", system_fingerprint = "fp2", choices = {} })
      local r = acc:result()
      assert.same({ "x1", 7, "m1", "fp1", "chat.completion" },
        { r.id, r.created, r.model, r.system_fingerprint, r.object })
      assert.same({ { prompt_index = 0 } }, r.prompt_filter_results)
    end)

    it("10.1 a choice without delta loses nothing; choice-level fields are kept", function()
      local acc = acc_of { delta({ content = "a" }, nil, 0, { content_filter_results = {} }),
        delta({}, "stop"), chunk({ { index = 0, content_filter_results = { hate = { filtered = false } } } }) }
      local c = acc:result().choices[1]
      assert.same({ 0, "stop", null, "a", null }, { c.index, c.finish_reason, c.logprobs, c.message.content,
        c.message.refusal })
      assert.same({ hate = { filtered = false } }, c.content_filter_results)
    end)

    it("10.2 the last non-null usage wins; x_groq.usage only when no usage came", function()
      local acc = acc_of { chunk({}, { usage = { total_tokens = 5 } }), delta({ content = "a" }),
        chunk({}, { usage = null }), delta({}, "stop") }
      assert.same({ total_tokens = 5 }, acc:result().usage)
      acc = acc_of { chunk({}, { x_groq = { id = "r1" } }),
        chunk({}, { x_groq = { id = "r1", usage = { total_tokens = 3 } } }) }
      assert.same({ total_tokens = 3 }, acc:result().usage)
      assert.same({ id = "r1", usage = { total_tokens = 3 } }, acc:result().x_groq)
      acc = acc_of { chunk({}, { x_groq = { usage = { total_tokens = 3 } } }),
        chunk({}, { usage = { total_tokens = 4 } }) }
      assert.same({ total_tokens = 4 }, acc:result().usage)
      -- other top-level objects merge too; arrays and scalars keep their first value
      acc = acc_of { chunk({}, { x_groq = { id = "r2" }, provider = "P", prompt_filter_results = { { a = 1 } } }),
        chunk({}, { x_groq = { usage = { total_tokens = 6 } }, provider = "Q",
          prompt_filter_results = { { b = 2 } } }) }
      local r = acc:result()
      assert.same({ id = "r2", usage = { total_tokens = 6 } }, r.x_groq)
      assert.same({ "P", { { a = 1 } } }, { r.provider, r.prompt_filter_results })
    end)

    it("10.3 a different non-empty id at the same index starts a new call; the same id continues it", function()
      local acc = acc_of {
        tc({ { index = 0, id = "call_a", ["function"] = { name = "f", arguments = '{"x"' } } }),
        tc({ { index = 0, id = "call_a", ["function"] = { arguments = ":1}" } } }),
        tc({ { index = 0, id = "call_b", ["function"] = { name = "g", arguments = "{}" } } }),
        tc({ { index = 0, ["function"] = { arguments = "" } } }),
        tc({ { index = 0, id = "", ["function"] = { arguments = "" } } }),
      }
      assert.same({
        { id = "call_a", type = "function", ["function"] = { name = "f", arguments = '{"x":1}' } },
        { id = "call_b", type = "function", ["function"] = { name = "g", arguments = "{}" } },
      }, calls_of(acc))
    end)

    it("10.3 without index: a known id continues, a new id or a name starts a call, else the latest continues",
      function()
      local acc = acc_of {
        tc({ { id = "", ["function"] = { name = "f", arguments = "{" } },
          { id = "", ["function"] = { name = "g", arguments = "[" } } }),
        tc({ { ["function"] = { arguments = "]" } } }),
        tc({ { id = "call_h", ["function"] = { arguments = "<" } } }),
        tc({ { id = "call_i", ["function"] = { name = "i", arguments = "(" } } }),
        tc({ { id = "call_h", ["function"] = { arguments = ">" } } }),
        tc({ { ["function"] = { arguments = ")" } } }),
      }
      local calls = calls_of(acc)
      local got = {}
      for i, c in ipairs(calls) do got[i] = tostring(c["function"].name) .. ":" .. c["function"].arguments end
      assert.same({ "f:{", "g:[]", "nil:<>", "i:()" }, got)
      assert.same({ "call_h", "call_i" }, { calls[3].id, calls[4].id })
    end)

    it("10.3 fields beyond id, type and function are kept and merged", function()
      local acc = acc_of {
        tc({ { index = 0, id = "c1", ["function"] = { name = "f", arguments = "{}", strict = true },
          extra_content = { google = { thought_signature = "sig" } } } }),
        tc({ { index = 0, extra_content = { google = { other = 1 } } } }),
      }
      local call = calls_of(acc)[1]
      assert.same({ google = { thought_signature = "sig", other = 1 } }, call.extra_content)
      assert.is_true(call["function"].strict)
      assert.is_nil(call.index)
    end)

    it("10.3 a call that ends without an id gets 9 characters [A-Za-z0-9], the same at every result()", function()
      local acc = acc_of { tc({ { index = 0, ["function"] = { name = "f", arguments = "{}" } },
        { index = 1, id = "", ["function"] = { name = "g", arguments = "{}" } } }) }
      local calls = calls_of(acc)
      assert.is_true(is_tool_id(calls[1].id), calls[1].id)
      assert.is_true(is_tool_id(calls[2].id), calls[2].id)
      assert.not_equal(calls[1].id, calls[2].id)
      assert.same({ calls[1].id, calls[2].id }, { calls_of(acc)[1].id, calls_of(acc)[2].id })
      local seen = {}
      for _ = 1, 2000 do
        local id = accumulate.new_id()
        assert.is_true(is_tool_id(id), id)
        assert.is_nil(seen[id])
        seen[id] = true
      end
    end)

    it("10.3 history_calls keeps ids, gives id-less calls one and drops what is not a call", function()
      local calls = accumulate.history_calls({ { id = "keep" }, { id = "" }, {}, 7, null })
      assert.equal(3, #calls)
      assert.equal("keep", calls[1].id)
      assert.is_true(is_tool_id(calls[2].id) and is_tool_id(calls[3].id))
      assert.is_nil(accumulate.history_calls({ 7 }))
      assert.is_nil(accumulate.history_calls("x"))
    end)

    it("10.3 \"tool_calls\": [] in every delta yields no tool_calls", function()
      local acc = acc_of { delta({ role = "assistant", content = "", tool_calls = {} }),
        delta({ content = "a", tool_calls = {} }), delta({ tool_calls = {} }, "stop") }
      assert.same({ role = "assistant", content = "a", refusal = null }, acc:result().choices[1].message)
    end)

    it("10.4 non-string delta fields merge: objects recursively, strings joined, first id/type/name/index/format",
      function()
        local acc = acc_of {
          delta({ audio = { id = "au_1", data = "AAA", transcript = "He", expires_at = 1 } }),
          delta({ audio = { id = "au_2", data = "BBB", transcript = "llo", expires_at = 2 } }),
          delta({ reasoning_details = { { type = "reasoning.text", text = "a", format = "f1", index = 0 } } }),
          delta({ reasoning_details = { { type = "x", text = "b", format = "f2", index = 0 },
            { type = "reasoning.summary", summary = "s", index = 1 } } }),
          delta({ annotations = { { url = "u1" } } }), delta({ annotations = { { url = "u2" } } }),
          delta({ annotations = {} }), delta({ flag = true }), delta({ flag = false }),
        }
        local msg = acc:result().choices[1].message
        assert.same({ id = "au_1", data = "AAABBB", transcript = "Hello", expires_at = 2 }, msg.audio)
        assert.same({ { type = "reasoning.text", text = "ab", format = "f1", index = 0 },
          { type = "reasoning.summary", summary = "s", index = 1 } }, msg.reasoning_details)
        assert.same({ { url = "u2" } }, msg.annotations)
        assert.is_false(msg.flag)
      end)

    it("10.5 reasoning whichever field carried it; thinking parts never enter the content", function()
      local acc = acc_of { delta({ role = "assistant", content = null, reasoning_content = "" }) }
      assert.is_nil(acc:reasoning())
      acc:add(delta({ reasoning_content = "r1" }))
      assert.equal("r1", acc:reasoning())
      acc = acc_of { delta({ reasoning = "o" }), delta({ reasoning = "k" }) }
      assert.equal("ok", acc:reasoning())
      acc = acc_of { delta({ content = { { type = "thinking", thinking = { { type = "text", text = "t1" } } } } }),
        delta({ content = { { type = "thinking", thinking = "t2" }, { type = "text", text = "c1" } } }),
        delta({ content = "c2" }) }
      assert.equal("t1t2", acc:reasoning())
      assert.equal("c1c2", acc:text())
      assert.equal("c1c2", acc:result().choices[1].message.content)
      assert.is_nil(accumulate.message_reasoning({ content = "x" }))
      assert.equal("d", accumulate.message_reasoning({ reasoning_details = { { text = "d" } } }))
      assert.is_nil(accumulate.new():reasoning())
    end)

    it("10.6 finish_reason is kept exactly as sent", function()
      for _, why in ipairs({ "eos_token", "eos", "error", "abort", "stop", "weird" }) do
        local acc = acc_of { delta({ tool_calls = { { index = 0, id = "c", ["function"] = { name = "f" } } } }),
          delta({}, why) }
        assert.equal(why, acc:result().choices[1].finish_reason)
      end
    end)

    it("10.7 all_finished: some choice seen and every choice seen has a finish_reason", function()
      assert.is_false(accumulate.new():all_finished())
      assert.is_false(acc_of { chunk({}, { usage = { total_tokens = 1 } }) }:all_finished())
      assert.is_false(acc_of { delta({ content = "a" }, "stop", 0), delta({ content = "b" }, nil, 1) }:all_finished())
      assert.is_true(acc_of { delta({ content = "a" }, "stop", 0),
        delta({ content = "b" }, "length", 1) }:all_finished())
    end)
  end)

  describe("odd shapes (issue 11.6): add(), result(), text(), reasoning() never raise", function()
    local ODD = { 0 / 0, 1, -1, 1e300, 0.5, "x", "", true, null, {}, { 7 }, { {} }, { null }, { index = 0 / 0 } }
    -- each place a value can sit, as a function of the odd value
    local PLACES = {
      function(v) return { choices = v } end,
      function(v) return { choices = { v } } end,
      function(v) return { choices = { { index = v, delta = { content = "a" } } } } end,
      function(v) return { choices = { { index = 0, delta = v } } } end,
      function(v) return { choices = { { index = 0, delta = { content = v, role = v, refusal = v } } } } end,
      function(v) return { choices = { { index = 0, delta = { tool_calls = v } } } } end,
      function(v) return { choices = { { index = 0, delta = { tool_calls = { v } } } } } end,
      function(v) return { choices = { { index = 0, delta = { tool_calls = { { index = v, id = v, type = v,
        ["function"] = v } } } } } } end,
      function(v) return { choices = { { index = 0, delta = { tool_calls = { { index = 0,
        ["function"] = { name = v, arguments = v } } } } } } } end,
      function(v) return { choices = { { index = 0, delta = { reasoning_details = { v }, audio = v,
        content = { v, { type = "thinking", thinking = v } } } } } } end,
      function(v)
        return { choices = { { index = 0, delta = { reasoning_details = { { index = v, text = v } } } } } }
      end,
      function(v) return { choices = { { index = 0, logprobs = v, finish_reason = v } } } end,
      function(v) return { choices = { { index = 0, logprobs = { content = v } } } } end,
      function(v)
        return { id = v, model = v, created = v, usage = v, x_groq = v, system_fingerprint = v, extra = v }
      end,
      function(v) return { x_groq = { usage = v }, choices = { { index = 0, content_filter_results = v } } } end,
    }

    it("for every odd value at every place, twice over (so merges meet odd values too)", function()
      local runs = 0
      for p, place in ipairs(PLACES) do
        for o, v in ipairs(ODD) do
          local ok, err = pcall(function()
            local acc = accumulate.new()
            acc:add(place(v))
            acc:add(place(v))
            acc:add(delta({ content = "z" }, "stop"))
            acc:result()
            acc:result()
            assert(type(acc:text()) == "string")
            acc:reasoning()
            acc:all_finished()
          end)
          assert.is_true(ok, ("place %d, value %d: %s"):format(p, o, tostring(err)))
          runs = runs + 1
        end
      end
      assert.equal(#PLACES * #ODD, runs)
    end)
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

  it("a chunk like the ones before (the common-chunk path) still keeps a field first sent late", function()
    local acc = acc_of {
      delta({ role = "assistant", content = "" }, nil, 0, { flag = 1 }),
      delta({ content = "a" }, nil, 0, { flag = 1 }),
      chunk({ { index = 0, delta = { content = "b" }, finish_reason = null, flag = 1 } },
        { system_fingerprint = "fp_late", tier = { name = "t" } }),
      delta({ content = "c" }, nil, 0, { flag = 2, late = "x" }),
      delta({ content = "d", refusal = "no" }, nil, 0, { flag = 1 }),
      chunk({ { index = 0, delta = { content = "e" }, finish_reason = null, flag = 1 } },
        { usage = { total_tokens = 3 } }),
      delta({}, "stop"),
    }
    local r = acc:result()
    assert.equal("abcde", r.choices[1].message.content)
    assert.equal("no", r.choices[1].message.refusal)
    assert.same({ total_tokens = 3 }, r.usage)
    assert.same({ "fp_late", { name = "t" } }, { r.system_fingerprint, r.tier })
    assert.same({ 1, "x", "stop" }, { r.choices[1].flag, r.choices[1].late, r.choices[1].finish_reason })
  end)

  it("costs work linear in the number of pieces", function()
    local n = 5000
    build_kbytes(n / 10) -- warm-up
    local small = build_kbytes(n / 10)
    local large = build_kbytes(n)
    -- linear gives ~10; rebuilding the string per piece gives ~100 (500 -> 5000)
    assert.is_true(large / small < 20, ("%d: %.0f KiB, %d: %.0f KiB"):format(n / 10, small, n, large))
  end)
end)
