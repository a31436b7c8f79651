-- The SSE rules of API.md end to end: bytes written by the loopback server,
-- parsed in C, decoded and handed over by client:stream. (csrc/sse.c has its
-- own split-at-every-byte unit tests in test/sse_test.c.)
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")

local function content(s)
  return core.encode({ id = "chatcmpl-e1", object = "chat.completion.chunk", created = 1700000002,
    model = "m-sse", choices = { { index = 0, delta = { content = s }, finish_reason = oaichat.null } } })
end

local function contents(s)
  local out = {}
  for c in s do out[#out + 1] = c.choices[1].delta.content end
  return table.concat(out, "|")
end

describe("SSE over the wire", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 0, idle_timeout = 2 }
  end)

  after_each(function()
    client:close()
  end)

  describe("SSE rules", function()
    local function stream_text(raw_events, delay)
      srv:queue { { raw_events = raw_events, chunk_delay_ms = delay or 0 } }
      local s = client:stream("hi")
      return contents(s), s
    end

    it("accepts LF, CR and CRLF line ends", function()
      local a, b, c = content("lf"), content("cr"), content("crlf")
      assert.equal("lf|cr|crlf", stream_text {
        "data: " .. a .. "\n\n", "data: " .. b .. "\r\r", "data: " .. c .. "\r\n\r\n", "data: [DONE]\r\n\r\n" })
    end)

    it("accepts a CRLF split across writes", function()
      assert.equal("x|y", stream_text({ "data: " .. content("x") .. "\r", "\n\r", "\ndata: " .. content("y"),
        "\r", "\n", "\r", "\ndata: [DONE]\r", "\n\r\n" }, 20))
    end)

    it("ignores comments, id: and retry:, and accepts data: without the space", function()
      assert.equal("a|b", stream_text {
        ": keep-alive\n\n", ":\n", "id: 7\nretry: 1000\ndata:" .. content("a") .. "\n\n",
        ": OPENROUTER PROCESSING\n\ndata: " .. content("b") .. "\nid: 8\n\n", "data:[DONE]\n\n" })
    end)

    it("joins several data: lines of one event with a newline", function()
      local json = content("multi")
      local cut = json:find(",", 1, true)
      -- JSON accepts the newline between tokens; the content must be intact
      assert.equal("multi|nl", stream_text {
        "data: " .. json:sub(1, cut) .. "\ndata: " .. json:sub(cut + 1) .. "\n\n",
        'data: {"choices":[{"index":0,"delta":{"content":\ndata: "nl"}}]}\n\n', "data: [DONE]\n\n" })
    end)

    it("skips a UTF-8 BOM at the start", function()
      assert.equal("bom", stream_text { "\239\187\191data: " .. content("bom") .. "\n\n", "data: [DONE]\n\n" })
    end)

    it("skips a UTF-8 BOM split across writes", function()
      assert.equal("bom", stream_text({ "\239", "\187\191data: " .. content("bom") .. "\n\n", "data: [DONE]\n\n" },
        20))
    end)

    it("stops at [DONE] and ignores anything after it", function()
      local text, s = stream_text { "data: " .. content("a") .. "\n\ndata: [DONE]\n\n",
        "data: " .. content("after") .. "\n\n", "data: not json\n\n" }
      assert.equal("a", text)
      assert.equal("a", s:text())
    end)

    it("ends at [DONE] even when the server holds the body open afterwards", function()
      -- hold_after: the server keeps the rest of the body back, never
      -- released; a stream that waited for the body's end would hang there.
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n", ": late\n\n" },
        hold_after = 2 }, { raw_events = { "data: " .. content("b") .. "\n\ndata: [DONE]\n\n", ": late\n\n" },
        hold_after = 1 } }
      local s = client:stream("hi")
      assert.equal("a", contents(s))
      -- the held-open stream ends soon after its [DONE], with no error
      local s2 = client:stream("hi")
      assert.equal("b", contents(s2))
      local c, err = s2:next()
      assert.is_nil(c)
      assert.is_nil(err)
      assert.equal(2, srv:stats().held) -- both bodies still held open
      assert.equal(0, client:pending())
    end)

    it("poll ends at [DONE] even when the server holds the body open afterwards", function()
      srv:queue { { raw_events = { "data: " .. content("p") .. "\n\ndata: [DONE]\n\n", ": late\n\n" },
        hold_after = 1 } }
      local s = client:stream("hi")
      local polls, got, done, err = 0, {}, false, nil
      while not done and polls < 1000 do
        polls = polls + 1
        local chunks
        chunks, done, err = s:poll(50)
        for _, c in ipairs(chunks) do got[#got + 1] = c.choices[1].delta.content end
      end
      assert.is_true(done)
      assert.is_nil(err)
      assert.equal("p", table.concat(got))
      assert.equal(1, srv:stats().held) -- the body is still held open
    end)

    it("ignores events without data and other event names", function()
      assert.equal("a", stream_text { "event: ping\n\n", "event: message\ndata: " .. content("a") .. "\n\n",
        "data: [DONE]\n\n" })
    end)
  end)


  it("parses a stream using every rule written one byte per write", function()
    local body = "\239\187\191: hello\r\nretry: 10\r\nid: 1\r\ndata:" .. content("a") .. "\r\n\r\n"
      .. "event: message\rdata: " .. content("b") .. "\r\r"
      .. ": ping\n\ndata: {\"choices\":[{\"index\":0,\n"
      .. 'data: "delta":{"content":"c\\nd"}}]}\n\n'
      .. "data: [DONE]\r\n\r\n"
    srv:queue { { raw_events = { body }, drip_bytes = 1, chunk_delay_ms = 1 } }
    local s = client:stream("hi")
    assert.equal("a|b|c\nd", contents(s))
    assert.equal("abc\nd", s:text())
  end)

  it("a lone CR at the end of one write and data at the start of the next is one line end", function()
    -- "\r" then "data:" must not be read as "\r\n" swallowing anything
    srv:queue { { raw_events = { "data: " .. content("x") .. "\r", "\rdata: " .. content("y") .. "\r", "\r",
      "data: [DONE]\r\r" }, chunk_delay_ms = 20 } }
    assert.equal("x|y", contents(client:stream("hi")))
  end)

  it("an event split inside the JSON over several writes is decoded whole", function()
    local json = content("split")
    local writes = { "da", "ta", ": ", json:sub(1, 10), json:sub(11, 30), json:sub(31), "\n", "\n", "data: [DO",
      "NE]\n\n" }
    srv:queue { { raw_events = writes, chunk_delay_ms = 15 } }
    assert.equal("split", contents(client:stream("hi")))
  end)

  it("an event without its closing blank line at the end of the body is not dispatched", function()
    srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: " .. content("pending") .. "\n" } } }
    local s = client:stream("hi")
    local ok, err = pcall(contents, s)
    assert.is_false(ok)
    assert.equal("stream", err.kind)
    assert.equal("a", s:text())
  end)
end)
