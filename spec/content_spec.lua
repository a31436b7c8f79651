-- Content parts: text, image URLs, images from files and bytes (data: URIs
-- with sniffed MIME types), oaichat.user{...}, and their errors.
local oaichat = require("oaichat")
local content = require("oaichat.content")
local helper = require("spec.support.helper")

local FIX = "spec/fixtures/"

-- An independent base64 encoder (arithmetic only: runs on 5.1 too).
local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = { math.floor(n / 262144), math.floor(n / 4096) % 64, math.floor(n / 64) % 64, n % 64 }
    for j = 1, 4 do out[#out + 1] = ALPHABET:sub(q[j] + 1, q[j] + 1) end
    if not c then out[#out] = "=" end
    if not b then out[#out - 1] = "=" end
  end
  return table.concat(out)
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local raised = require("spec.support.util").raised

describe("content helpers", function()
  it("are exported by the oaichat module", function()
    assert.equal(content.text_part, oaichat.text_part)
    assert.equal(content.image_url, oaichat.image_url)
    assert.equal(content.image_file, oaichat.image_file)
    assert.equal(content.image_data, oaichat.image_data)
    assert.equal(content.user, oaichat.user)
  end)

  it("the spec's base64 encoder is right", function()
    assert.equal("", b64(""))
    assert.equal("Zg==", b64("f"))
    assert.equal("Zm8=", b64("fo"))
    assert.equal("Zm9v", b64("foo"))
    assert.equal("Zm9vYmFy", b64("foobar"))
  end)

  describe("text_part", function()
    it("builds a text part", function()
      assert.same({ type = "text", text = "What is in this image?" }, oaichat.text_part("What is in this image?"))
    end)

    it("raises on a non-string", function()
      assert.equal("oaichat.text_part: expected a string, got number", raised(oaichat.text_part, 42))
    end)
  end)

  describe("image_url", function()
    it("builds an image part, with or without detail", function()
      assert.same({ type = "image_url", image_url = { url = "https://x.test/cat.png", detail = "low" } },
        oaichat.image_url("https://x.test/cat.png", { detail = "low" }))
      local p = oaichat.image_url("https://x.test/cat.png")
      assert.same({ type = "image_url", image_url = { url = "https://x.test/cat.png" } }, p)
      assert.is_nil(p.image_url.detail)
    end)

    it("raises on a bad url or detail", function()
      assert.equal("oaichat.image_url: url must be a non-empty string, got nil", raised(oaichat.image_url))
      assert.equal('oaichat.image_url: url must be a non-empty string, got ""', raised(oaichat.image_url, ""))
      assert.equal('oaichat.image_url: opts.detail must be a string ("auto", "low" or "high"), got number',
        raised(oaichat.image_url, "https://x.test/a.png", { detail = 1 }))
      assert.equal("oaichat.image_url: opts must be a table, got string",
        raised(oaichat.image_url, "https://x.test/a.png", "low"))
    end)
  end)

  describe("image_file", function()
    local cases = {
      { "red.png", "image/png" }, { "gray.jpg", "image/jpeg" },
      { "white.gif", "image/gif" }, { "pixel.webp", "image/webp" },
    }
    for _, case in ipairs(cases) do
      it("sniffs " .. case[2] .. " from the magic bytes of " .. case[1], function()
        local bytes = read(FIX .. case[1])
        assert.same({ type = "image_url", image_url = {
          url = "data:" .. case[2] .. ";base64," .. b64(bytes), detail = "high" } },
          oaichat.image_file(FIX .. case[1], { detail = "high" }))
      end)
    end

    it("gives the exact data: URI of the PNG fixture", function()
      assert.equal("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4"
        .. "z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC", oaichat.image_file(FIX .. "red.png").image_url.url)
    end)

    it("names the path and the reason for a missing file", function()
      assert.equal("oaichat.image_file: spec/fixtures/missing.png: cannot open the file (No such file or directory)",
        raised(oaichat.image_file, FIX .. "missing.png"))
    end)

    it("points the error at the caller's line", function()
      local err = raised(function()
        local part = oaichat.image_file(FIX .. "missing.png") -- not a tail call: the frame stays
        return part
      end)
      assert.truthy(err:find("content_spec.lua:%d+: oaichat.image_file: spec/fixtures/missing.png: cannot open"))
    end)

    it("refuses a file that is not an image", function()
      assert.equal("oaichat.image_file: spec/fixtures/not_an_image.txt: not a PNG, JPEG, GIF or WebP image "
        .. "(unrecognised file signature)", raised(oaichat.image_file, FIX .. "not_an_image.txt"))
    end)

    it("refuses an empty file and a directory", function()
      local empty = os.tmpname()
      assert.equal("oaichat.image_file: " .. empty .. ": the file is empty, not an image",
        raised(oaichat.image_file, empty))
      os.remove(empty)
      assert.equal("oaichat.image_file: spec/fixtures: cannot read the file (Is a directory)",
        raised(oaichat.image_file, "spec/fixtures"))
    end)

    it("refuses a file over max_bytes, and accepts one at the limit", function()
      assert.equal("oaichat.image_file: spec/fixtures/red.png: the file is 69 bytes, over max_image_bytes (68)",
        raised(oaichat.image_file, FIX .. "red.png", { max_bytes = 68 }))
      assert.equal("image_url", oaichat.image_file(FIX .. "red.png", { max_bytes = 69 }).type)
    end)

    it("refuses a file over the default 20 MiB without reading it", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("\137PNG\r\n\26\n")
      f:seek("set", 20 * 1024 * 1024) -- sparse: one byte past the limit
      f:write("x")
      f:close()
      assert.equal(("oaichat.image_file: %s: the file is 20971521 bytes, over max_image_bytes (20971520)")
        :format(path), raised(oaichat.image_file, path))
      os.remove(path)
    end)

    it("raises on a bad path or option", function()
      assert.equal("oaichat.image_file: path must be a non-empty string, got nil", raised(oaichat.image_file))
      assert.equal("oaichat.image_file: opts.max_bytes must be a number, got string",
        raised(oaichat.image_file, FIX .. "red.png", { max_bytes = "1" }))
    end)
  end)

  describe("image_data", function()
    it("encodes bytes with the given MIME type", function()
      assert.same({ type = "image_url", image_url = { url = "data:image/png;base64,Zm9vYmFy" } },
        oaichat.image_data("foobar", "image/png"))
    end)

    it("sniffs the MIME type when it is omitted", function()
      local gif = read(FIX .. "white.gif")
      assert.same({ type = "image_url", image_url = { url = "data:image/gif;base64," .. b64(gif), detail = "low" } },
        oaichat.image_data(gif, nil, { detail = "low" }))
    end)

    it("keeps every byte, NUL included", function()
      local bytes = "\0\1\2\255\254\0"
      assert.equal("data:image/png;base64," .. b64(bytes), oaichat.image_data(bytes, "image/png").image_url.url)
    end)

    it("raises on bad input", function()
      assert.equal('oaichat.image_data: bytes must be a non-empty string, got ""', raised(oaichat.image_data, ""))
      assert.equal("oaichat.image_data: the bytes are not a PNG, JPEG, GIF or WebP image; pass the MIME type",
        raised(oaichat.image_data, "hello"))
      assert.equal('oaichat.image_data: mime must be a MIME type such as "image/png", got "png"',
        raised(oaichat.image_data, "hello", "png"))
      assert.equal("oaichat.image_data: the image is 6 bytes, over max_image_bytes (5)",
        raised(oaichat.image_data, "foobar", "image/png", { max_bytes = 5 }))
    end)

    -- The time it takes is measured in bench/base64.lua (house rule: no
    -- timed assertions in specs); here, that 10 MiB come out exactly right.
    it("encodes a 10 MiB image exactly", function()
      local bytes = ("\137PNG\r\n\26\n" .. ("\0\1\2\255x"):rep(203)):rep(10 * 1024)
      bytes = bytes .. ("y"):rep(10 * 1024 * 1024 - #bytes)
      local url = oaichat.image_data(bytes, "image/png").image_url.url
      local prefix = "data:image/png;base64,"
      assert.equal(#prefix + math.floor((#bytes + 2) / 3) * 4, #url)
      assert.equal(prefix, url:sub(1, #prefix))
      -- spot checks against the reference encoder at the start, middle and end
      local function check(from)
        local chunk = bytes:sub(from, from + 2999)
        local enc = url:sub(#prefix + (from - 1) / 3 * 4 + 1, #prefix + (from - 1) / 3 * 4 + #b64(chunk))
        assert.equal(b64(chunk), enc)
      end
      check(1)
      check(3 * 1747627 + 1)
      check(#bytes - 2999 - ((#bytes - 3000) % 3))
    end)
  end)

  describe("user", function()
    it("turns strings into text parts and keeps parts", function()
      local img = oaichat.image_url("https://x.test/a.png")
      assert.same({ role = "user", content = {
        { type = "text", text = "Describe:" }, img, { type = "text", text = "briefly" } } },
        oaichat.user({ "Describe:", img, "briefly" }))
    end)

    it("keeps a plain string as string content", function()
      assert.same({ role = "user", content = "hi" }, oaichat.user("hi"))
    end)

    it("raises on parts that are not parts", function()
      assert.equal("oaichat.user: parts[2] must be a string or a content part table, got number",
        raised(oaichat.user, { "a", 3 }))
      assert.equal('oaichat.user: parts[1] has no type (expected a table such as {type = "text", text = ...})',
        raised(oaichat.user, { { text = "x" } }))
      assert.equal("oaichat.user: expected an array of parts, got a table with key text",
        raised(oaichat.user, { text = "x" }))
      assert.equal("oaichat.user: expected a string or an array of strings and content parts, got nil",
        raised(oaichat.user))
    end)
  end)

  describe("on the wire", function()
    local srv
    before_each(function()
      srv = helper.server()
      srv:reset()
    end)

    it("sends the parts as given and the server sees the image", function()
      local client = oaichat.new({ base_url = srv.url, api_key = "sk-test" })
      local msg = oaichat.user({ "What is this?", oaichat.image_file(FIX .. "gray.jpg", { detail = "low" }) })
      local resp, err = client:chat({ msg })
      assert.is_nil(err)
      assert.equal("Echo: What is this? (1 message; images: 1 [image/jpeg 141 bytes detail=low])", oaichat.text(resp))
      assert.same({ { role = "user", content = {
        { type = "text", text = "What is this?" },
        { type = "image_url", image_url = { url = "data:image/jpeg;base64," .. b64(read(FIX .. "gray.jpg")),
          detail = "low" } } } } }, srv:last_request().json.messages)
      client:close()
    end)
  end)
end)
