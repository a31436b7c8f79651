-- max_image_bytes, the client option, is the limit of the image helpers used
-- through the client (client:image_file / client:image_data); the module
-- helpers keep the 20 MiB default, and opts.max_bytes overrides either.
-- Nothing here reaches the network.
local oaichat = require("oaichat")
local content = require("oaichat.content")
local config = require("oaichat.config")

local PNG = "spec/fixtures/red.png"

local function size_of(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local function raises(text, fn)
  local ok, msg = pcall(fn)
  assert.is_false(ok)
  assert.truthy(tostring(msg):find(text, 1, true), tostring(msg))
end

local function new(max)
  return oaichat.new{ base_url = "http://127.0.0.1:9/v1", api_key = "sk-test", max_image_bytes = max }
end

describe("max_image_bytes", function()
  local bytes = assert(io.open(PNG, "rb")):read("*a")
  local n = size_of(PNG)

  it("is one constant: the client default and the helpers' default", function()
    assert.equal(20 * 1024 * 1024, config.DEFAULTS.max_image_bytes)
    assert.equal(config.DEFAULTS.max_image_bytes, content.MAX_IMAGE_BYTES)
    assert.equal(content.MAX_IMAGE_BYTES, new(nil).max_image_bytes)
  end)

  it("bounds client:image_file and client:image_data below the default", function()
    local c = new(n - 1)
    raises(("client:image_file: %s: the file is %d bytes, over max_image_bytes (%d)"):format(PNG, n, n - 1),
      function() c:image_file(PNG) end)
    raises(("client:image_data: the image is %d bytes, over max_image_bytes (%d)"):format(n, n - 1),
      function() c:image_data(bytes) end)
    -- the module helpers do not see a client's option
    assert.equal("image_url", oaichat.image_file(PNG).type)
    -- at the limit is accepted
    local part = new(n):image_file(PNG, { detail = "low" })
    assert.equal("low", part.image_url.detail)
    assert.equal(oaichat.image_file(PNG, { detail = "low" }).image_url.url, part.image_url.url)
  end)

  it("lets client:image_data take more than the 20 MiB default", function()
    local big = bytes .. ("\0"):rep(content.MAX_IMAGE_BYTES + 1 - #bytes)
    raises("over max_image_bytes (20971520)", function() oaichat.image_data(big) end)
    local part = new(content.MAX_IMAGE_BYTES + 1):image_data(big)
    assert.equal("data:image/png;base64,", part.image_url.url:sub(1, 22))
  end)

  it("gives way to opts.max_bytes", function()
    local c = new(n - 1)
    assert.equal("image_url", c:image_file(PNG, { max_bytes = n }).type)
    raises("over max_image_bytes (" .. (n - 1) .. ")",
      function() new(n):image_data(bytes, nil, { max_bytes = n - 1 }) end)
  end)
end)
