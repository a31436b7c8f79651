--- Content parts for multimodal messages: text, image URLs and images sent
-- inline as data: URIs. Every helper raises on bad input, because helpers are
-- used inside table constructors, where a nil would silently drop a part.
local config = require("oaichat.config")
local core = require("oaichat.core")
local misuse = require("oaichat.misuse")

local M = {}

--- Default limit of image_file / image_data (bytes), the client option
-- max_image_bytes' default; opts.max_bytes overrides it.
M.MAX_IMAGE_BYTES = config.DEFAULTS.max_image_bytes

---@class oaichat.TextPart
---@field type "text"
---@field text string

---@class oaichat.ImageURL
---@field url string
---@field detail? "auto"|"low"|"high"|string

---@class oaichat.ImagePart
---@field type "image_url"
---@field image_url oaichat.ImageURL

---@alias oaichat.ContentPart oaichat.TextPart|oaichat.ImagePart|table

---@class oaichat.ImageOptions
---@field detail? "auto"|"low"|"high"|string  how closely the model looks at the image
---@field max_bytes? integer  largest accepted image (default 20 MiB)

---@class oaichat.Message
---@field role string
---@field content string|oaichat.ContentPart[]|nil
---@field tool_calls? table[]
---@field tool_call_id? string
---@field name? string

-- Raises at the caller's line: the first stack level outside the library.
local function fail(where, msg)
  misuse.raise(where .. ": " .. msg)
end

local function check_opts(opts, where, default_max)
  if opts ~= nil and type(opts) ~= "table" then
    fail(where, "opts must be a table, got " .. type(opts))
  end
  opts = opts or {}
  if opts.detail ~= nil and type(opts.detail) ~= "string" then
    fail(where, "opts.detail must be a string (\"auto\", \"low\" or \"high\"), got " .. type(opts.detail))
  end
  local max = opts.max_bytes or opts.max_image_bytes
  if max ~= nil and type(max) ~= "number" then
    fail(where, "opts.max_bytes must be a number, got " .. type(max))
  end
  return opts, max or default_max or M.MAX_IMAGE_BYTES
end

local function image_part(url, detail)
  return { type = "image_url", image_url = { url = url, detail = detail } }
end

--- A text part: {type = "text", text = s}.
---@param s string
---@return oaichat.TextPart
function M.text_part(s)
  if type(s) ~= "string" then
    fail("oaichat.text_part", "expected a string, got " .. type(s))
  end
  return { type = "text", text = s }
end

--- An image given by URL (https://… or a data: URI).
---@param url string
---@param opts? oaichat.ImageOptions
---@return oaichat.ImagePart
function M.image_url(url, opts)
  if type(url) ~= "string" or url == "" then
    fail("oaichat.image_url", "url must be a non-empty string, got " .. (url == "" and "\"\"" or type(url)))
  end
  opts = check_opts(opts, "oaichat.image_url")
  return image_part(url, opts.detail)
end

-- Magic bytes of the formats the chat services accept.
local function sniff(bytes)
  if bytes:sub(1, 8) == "\137PNG\r\n\26\n" then return "image/png" end
  if bytes:sub(1, 3) == "\255\216\255" then return "image/jpeg" end
  local gif = bytes:sub(1, 6)
  if gif == "GIF87a" or gif == "GIF89a" then return "image/gif" end
  if bytes:sub(1, 4) == "RIFF" and bytes:sub(9, 12) == "WEBP" then return "image/webp" end
  return nil
end
M.sniff = sniff

local function data_part(bytes, mime, detail)
  return image_part(core.base64(bytes, "data:" .. mime .. ";base64,"), detail)
end

-- image_data for a caller named `where` whose limit is default_max
-- (client:image_data passes the client's max_image_bytes).
function M.image_data_at(bytes, mime, opts, where, default_max)
  if type(bytes) ~= "string" or bytes == "" then
    fail(where, "bytes must be a non-empty string, got " .. (bytes == "" and "\"\"" or type(bytes)))
  end
  local max
  opts, max = check_opts(opts, where, default_max)
  if #bytes > max then
    fail(where, ("the image is %d bytes, over max_image_bytes (%d)"):format(#bytes, max))
  end
  if mime == nil then
    mime = sniff(bytes)
    if not mime then fail(where, "the bytes are not a PNG, JPEG, GIF or WebP image; pass the MIME type") end
  elseif type(mime) ~= "string" or not mime:match("^[%w.+-]+/[%w.+-]+$") then
    fail(where, "mime must be a MIME type such as \"image/png\", got " ..
      (type(mime) == "string" and ("%q"):format(mime) or type(mime)))
  end
  return data_part(bytes, mime, opts.detail)
end

--- An image from bytes in memory, sent inline as a data: URI. `mime` is
-- sniffed from the bytes when omitted.
---@param bytes string
---@param mime? string  e.g. "image/png"
---@param opts? oaichat.ImageOptions
---@return oaichat.ImagePart
function M.image_data(bytes, mime, opts)
  local part = M.image_data_at(bytes, mime, opts, "oaichat.image_data")
  return part
end

-- Reads a whole file after checking its size; raises naming the path.
local function read_image(path, max, where)
  local f, why = io.open(path, "rb")
  if not f then
    -- io.open's message is "path: reason".
    local reason = why and why:sub(1, #path + 2) == path .. ": " and why:sub(#path + 3) or why
    fail(where, ("%s: cannot open the file (%s)"):format(path, tostring(reason)))
  end
  -- io.open succeeds on a directory; reading it is what fails.
  local head, rerr = f:read(1)
  if not head then
    f:close()
    fail(where, path .. ": " .. (rerr and ("cannot read the file (" .. rerr .. ")")
      or "the file is empty, not an image"))
  end
  local size = f:seek("end")
  if size and size > max then
    f:close()
    fail(where, ("%s: the file is %d bytes, over max_image_bytes (%d)"):format(path, size, max))
  end
  f:seek("set", 0)
  local bytes = f:read("*a")
  f:close()
  return bytes
end

-- image_file for a caller named `where` whose limit is default_max.
function M.image_file_at(path, opts, where, default_max)
  if type(path) ~= "string" or path == "" then
    fail(where, "path must be a non-empty string, got " .. (path == "" and "\"\"" or type(path)))
  end
  local max
  opts, max = check_opts(opts, where, default_max)
  local bytes = read_image(path, max, where)
  local mime = sniff(bytes)
  if not mime then
    fail(where, path .. ": not a PNG, JPEG, GIF or WebP image (unrecognised file signature)")
  end
  return data_part(bytes, mime, opts.detail)
end

--- An image file sent inline as a data: URI; the MIME type comes from the
-- file's magic bytes (PNG, JPEG, GIF or WebP). Raises naming the path for a
-- missing file, a non-image, or a file over opts.max_bytes (20 MiB).
---@param path string
---@param opts? oaichat.ImageOptions
---@return oaichat.ImagePart
function M.image_file(path, opts)
  -- not a tail call: Lua 5.1 would lose the caller's frame for misuse.raise
  local part = M.image_file_at(path, opts, "oaichat.image_file")
  return part
end

local function check_part(part, i, where)
  if type(part) ~= "table" then
    fail(where, ("parts[%d] must be a string or a content part table, got %s"):format(i, type(part)))
  end
  if type(part.type) ~= "string" then
    fail(where, ("parts[%d] has no type (expected a table such as {type = \"text\", text = ...})"):format(i))
  end
end

--- The content parts of `list`, strings turned into text parts.
---@param list (string|oaichat.ContentPart)[]
---@param where? string
---@return oaichat.ContentPart[]
function M.parts(list, where)
  where = where or "oaichat.parts"
  if type(list) ~= "table" then fail(where, "expected an array of parts, got " .. type(list)) end
  local n = 0
  for k in pairs(list) do
    if type(k) ~= "number" then fail(where, "expected an array of parts, got a table with key " .. tostring(k)) end
    n = n + 1
  end
  local out = {}
  for i = 1, n do
    local part = list[i]
    if type(part) == "string" then
      out[i] = { type = "text", text = part }
    else
      check_part(part, i, where)
      out[i] = part
    end
  end
  return out
end

--- A user message: a string stays plain content; an array mixing strings and
-- parts becomes a content-part array.
---@param content string|(string|oaichat.ContentPart)[]
---@return oaichat.Message
function M.user(content)
  if type(content) == "string" then return { role = "user", content = content } end
  if type(content) ~= "table" then
    fail("oaichat.user", "expected a string or an array of strings and content parts, got " .. type(content))
  end
  return { role = "user", content = M.parts(content, "oaichat.user") }
end

return M
