-- The limits named once: errors.BODY_MAX (the body excerpt every error
-- keeps), core.max_header_bytes (the C header limit, which the error
-- message quotes) — each checked where it shows.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local helper = require("spec.support.helper")

describe("limits named once", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = "sk-test", max_retries = 0 }
  end)

  after_each(function() client:close() end)

  it("err.body keeps errors.BODY_MAX bytes (4 KiB) for chats, streams and saved conversations", function()
    assert.equal(4096, errors.BODY_MAX)
    local big = ("x"):rep(3 * errors.BODY_MAX)
    srv:queue{ { status = 502, body = big, headers = { ["Content-Type"] = "text/html" } } }
    local _, err = client:chat("hi")
    assert.equal("http", err.kind)
    assert.equal(errors.BODY_MAX, #err.body)
    srv:queue{ { status = 502, body = big, headers = { ["Content-Type"] = "text/html" } } }
    _, err = client:stream("hi"):next()
    assert.equal(errors.BODY_MAX, #err.body)
    local conv
    conv, err = client:conversation_from_json("[" .. big)
    assert.is_nil(conv)
    assert.equal("decode", err.kind)
    assert.equal(errors.BODY_MAX, #err.body)
  end)

  it("response headers over core.max_header_bytes are refused with a message naming the limit", function()
    assert.equal(256 * 1024, core.max_header_bytes)
    -- Five 60 KiB headers: each under libcurl's own per-line limit, together over ours.
    local headers = {}
    for i = 1, 5 do headers["x-big-" .. i] = ("h"):rep(60 * 1024) end
    srv:queue{ { headers = headers } }
    local _, err = client:chat("hi")
    assert.equal("limit", err.kind)
    assert.truthy(tostring(err):find(("exceeded %d KiB"):format(core.max_header_bytes / 1024), 1, true),
      tostring(err))
    -- just under the limit passes
    headers = {}
    for i = 1, 3 do headers["x-big-" .. i] = ("h"):rep(60 * 1024) end
    srv:queue{ { headers = headers } }
    assert.is_table(client:chat("hi"))
  end)
end)
