-- TLS (issue 5, item 3): a real TLS server on 127.0.0.1 (spec/support/tls.lua,
-- luasec relaying to the mock server) with a CA and certificate made now
-- with openssl. Verification is on by default; ca_file, ca_path and
-- insecure = true are the only ways to accept a private certificate.
local oaichat = require("oaichat")
local helper = require("spec.support.helper")
local tls = require("spec.support.tls")
local proxy = require("spec.support.proxy")
local child = require("spec.support.child")

local KEY = "sk-tls-secret-0123456789abcdef"
local ECHO_HI = "Echo: hi (1 message)"

describe("TLS", function()
  local srv, certs, relay

  setup(function()
    srv = helper.server()
    certs = tls.make_certs()
    relay = tls.start(certs, srv.port)
  end)

  teardown(function()
    if relay then relay:stop() end
    tls.remove_certs(certs)
  end)

  before_each(function()
    srv:reset()
  end)

  local function client(opts)
    opts = opts or {}
    opts.base_url = relay.url
    opts.api_key = KEY
    return oaichat.new(opts)
  end

  local function assert_rejected(err)
    assert.are.equal("connection", err.kind)
    assert.is_false(err.retryable)
    assert.are.equal(1, err.attempts)
    assert.is_truthy(err.message:find("TLS", 1, true), err.message)
    assert.is_truthy(err.message:lower():find("certificate", 1, true), err.message)
    assert.is_nil(err.status)
    assert.are.equal(0, #srv:requests())
  end

  it("rejects the server without ca_file, as kind connection naming TLS and the certificate", function()
    local c = client({ max_retries = 2 })
    local resp, err = c:chat("hi")
    assert.is_nil(resp)
    assert_rejected(err)
    assert.is_truthy(tostring(err):find("^oaichat: connection error: TLS"), tostring(err))
  end)

  it("rejects a stream too, on the first next()", function()
    local c = client()
    local chunk, err = c:stream("hi"):next()
    assert.is_nil(chunk)
    assert_rejected(err)
  end)

  it("rejects a certificate signed by another CA", function()
    local c = client({ ca_file = certs.other_ca_file })
    local _, err = c:chat("hi")
    assert_rejected(err)
  end)

  it("accepts the server with ca_file, and sends the request through", function()
    local c = client({ ca_file = certs.ca_file })
    local resp, err = c:chat("hi")
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
    local req = srv:last_request()
    assert.are.equal("Bearer " .. KEY, req.headers.authorization)
    assert.are.equal("/v1/chat/completions", req.path)
  end)

  it("streams over TLS with ca_file", function()
    local c = client({ ca_file = certs.ca_file })
    local text = {}
    for chunk in c:stream("hi") do text[#text + 1] = chunk.choices[1] and chunk.choices[1].delta.content or "" end
    assert.are.equal("Echo: hi (1 message)", table.concat(text))
  end)

  it("accepts the server with ca_path (a hashed CA directory)", function()
    local c = client({ ca_path = certs.ca_path })
    local resp, err = c:chat("hi")
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
  end)

  it("accepts the server with insecure = true", function()
    local c = client({ insecure = true })
    local resp, err = c:chat("hi")
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
  end)

  it("takes insecure only as the boolean true", function()
    for _, v in ipairs({ "true", 1, "yes" }) do
      assert.has_error(function() oaichat.new({ base_url = relay.url, insecure = v }) end,
        "oaichat.new: option insecure must be a boolean, got " .. type(v))
    end
    local c = client({ insecure = false })
    local _, err = c:chat("hi")
    assert_rejected(err)
  end)

  it("never turns verification off from the environment", function()
    local out, err_out, ok = child.run({
      OAICHAT_INSECURE = "1", OAICHAT_TLS_INSECURE = "1", INSECURE = "1", CURL_INSECURE = "1",
      CURLOPT_SSL_VERIFYPEER = "0", CURLOPT_SSL_VERIFYHOST = "0", PYTHONHTTPSVERIFY = "0",
      NODE_TLS_REJECT_UNAUTHORIZED = "0", OAICHAT_BASE_URL = relay.url, OAICHAT_API_KEY = KEY,
    }, [[
      local oaichat = require("oaichat")
      local resp, err = oaichat.new({ max_retries = 0 }):chat("hi")
      io.write(resp and "ok" or (err.kind .. "|" .. err.message))
    ]])
    assert.is_true(ok, err_out)
    assert.are.equal("", err_out)
    assert.is_truthy(out:find("^connection|TLS"), out)
    assert.are.equal(0, #srv:requests())
  end)

  it("goes through https_proxy with CONNECT, the request hidden from the proxy", function()
    local p = proxy.start()
    local out, err_out, ok = child.run({ https_proxy = p.url, OAICHAT_BASE_URL = relay.url,
      OAICHAT_API_KEY = KEY }, ([[
      local oaichat = require("oaichat")
      local resp, err = oaichat.new({ max_retries = 0, ca_file = %q }):chat("hi")
      io.write(resp and oaichat.text(resp) or tostring(err))
    ]]):format(certs.ca_file))
    local seen = p:requests()
    p:stop()
    assert.is_true(ok, err_out)
    assert.are.equal(ECHO_HI, out)
    assert.are.equal(1, #seen)
    assert.are.equal(("CONNECT 127.0.0.1:%d HTTP/1.1"):format(relay.port), seen[1].line)
    assert.is_nil(seen[1].headers.authorization)
    assert.are.equal("Bearer " .. KEY, srv:last_request().headers.authorization)
  end)

  it("goes through the proxy option for an https URL", function()
    local p = proxy.start()
    local c = client({ proxy = p.url, ca_file = certs.ca_file })
    local resp, err = c:chat("hi")
    local seen = p:requests()
    c:close()
    p:stop()
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
    assert.are.equal(("CONNECT 127.0.0.1:%d HTTP/1.1"):format(relay.port), seen[1].line)
  end)
end)
