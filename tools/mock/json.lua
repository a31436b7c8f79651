-- The mock's own JSON codec (not cjson): [] and {} and null round-trip
-- exactly and output has sorted keys (deterministic bytes).
-- Must run on Lua 5.1/LuaJIT too: no goto, no //, no integer-only operators.

local json = {}

-- Distinct from nil so that "content": null survives a decode/encode trip.
json.null = setmetatable({}, { __tostring = function() return "null" end })

-- Marks tables that must encode as arrays even when empty.
local ARRAY_MT = {}

function json.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

local ESCAPES = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  return ESCAPES[c] or string.format("\\u%04x", c:byte())
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

local function format_number(n)
  if math.type and math.type(n) == "integer" then return tostring(n) end
  if n ~= n or n == math.huge or n == -math.huge then return "null" end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then
    return string.format("%d", n)
  end
  local s = string.format("%.14g", n)
  if tonumber(s) ~= n then s = string.format("%.17g", n) end
  return s
end

local function is_array(t)
  if getmetatable(t) == ARRAY_MT then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode_value

local function encode_array(t, out)
  out[#out + 1] = "["
  for i = 1, #t do
    if i > 1 then out[#out + 1] = "," end
    encode_value(t[i], out)
  end
  out[#out + 1] = "]"
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function encode_object(t, out)
  out[#out + 1] = "{"
  for i, k in ipairs(sorted_keys(t)) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(tostring(k))
    out[#out + 1] = ":"
    encode_value(t[k], out)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out)
  local tv = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    out[#out + 1] = format_number(v)
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "table" then
    if is_array(v) then encode_array(v, out) else encode_object(v, out) end
  else
    error("cannot encode " .. tv .. " as JSON")
  end
end

function json.encode(v)
  local out = {}
  encode_value(v, out)
  return table.concat(out)
end

local function decode_error(i, what)
  error(string.format("JSON: %s at byte %d", what, i), 0)
end

local function skip_ws(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

-- No bit library on 5.1, so UTF-8 is built with arithmetic.
local function utf8_char(cp)
  local f = math.floor
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + f(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + f(cp / 4096), 0x80 + f(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + f(cp / 262144), 0x80 + f(cp / 4096) % 64,
    0x80 + f(cp / 64) % 64, 0x80 + cp % 64)
end

local SIMPLE_ESCAPES = {
  b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ['\\'] = '\\', ['/'] = '/',
}

-- Returns the code point of a \uXXXX escape at j (the backslash), combining
-- surrogate pairs, and the position after it.
local function decode_unicode_escape(s, j)
  local cp = tonumber(s:sub(j + 2, j + 5), 16)
  if not cp then decode_error(j, "bad \\u escape") end
  local pos = j + 6
  if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == "\\u" then
    local lo = tonumber(s:sub(pos + 2, pos + 5), 16)
    if lo and lo >= 0xDC00 and lo <= 0xDFFF then
      cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
      pos = pos + 6
    end
  end
  return cp, pos
end

-- Scans with find() rather than byte by byte: request bodies carry
-- multi-megabyte base64 images.
local function decode_string(s, i)
  local parts, pos = {}, i + 1
  while true do
    local j = s:find('["\\]', pos)
    if not j then decode_error(i, "unterminated string") end
    parts[#parts + 1] = s:sub(pos, j - 1)
    if s:byte(j) == 34 then return table.concat(parts), j + 1 end
    local c = s:sub(j + 1, j + 1)
    if c == "u" then
      local cp
      cp, pos = decode_unicode_escape(s, j)
      parts[#parts + 1] = utf8_char(cp)
    else
      local e = SIMPLE_ESCAPES[c]
      if not e then decode_error(j, "bad escape") end
      parts[#parts + 1] = e
      pos = j + 2
    end
  end
end

local decode_value

local function decode_array(s, i)
  local arr = json.array()
  i = skip_ws(s, i)
  if s:sub(i, i) == "]" then return arr, i + 1 end
  while true do
    local v
    v, i = decode_value(s, i)
    arr[#arr + 1] = v
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "]" then return arr, i + 1 end
    if c ~= "," then decode_error(i, "expected , or ]") end
    i = i + 1
  end
end

local function decode_object(s, i)
  local obj = {}
  i = skip_ws(s, i)
  if s:sub(i, i) == "}" then return obj, i + 1 end
  while true do
    i = skip_ws(s, i)
    if s:sub(i, i) ~= '"' then decode_error(i, "expected key") end
    local k, v
    k, i = decode_string(s, i)
    i = skip_ws(s, i)
    if s:sub(i, i) ~= ":" then decode_error(i, "expected :") end
    v, i = decode_value(s, i + 1)
    obj[k] = v
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "}" then return obj, i + 1 end
    if c ~= "," then decode_error(i, "expected , or }") end
    i = i + 1
  end
end

function decode_value(s, i)
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then return decode_object(s, i + 1) end
  if c == "[" then return decode_array(s, i + 1) end
  if c == '"' then return decode_string(s, i) end
  if s:find("^true", i) then return true, i + 4 end
  if s:find("^false", i) then return false, i + 5 end
  if s:find("^null", i) then return json.null, i + 4 end
  local num = s:match("^-?[%d.eE+-]+", i)
  local n = num and tonumber(num)
  if not n then decode_error(i, "unexpected character") end
  return n, i + #num
end

-- Returns value, or nil and an error message.
function json.decode(s)
  local ok, v, i = pcall(decode_value, s, 1)
  if not ok then return nil, v end
  if skip_ws(s, i) <= #s then return nil, "JSON: trailing garbage at byte " .. i end
  return v
end

function json.is_array(t)
  return getmetatable(t) == ARRAY_MT
end

json.format_number = format_number
json.sorted_keys = sorted_keys

return json
