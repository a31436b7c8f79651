-- Property: random values survive encode -> decode -> encode exactly: every
-- string byte (control bytes, NUL, marker-like text), integers at the edges
-- of their range, signed zeros, integral floats, [] against {}, nesting.
-- Seeded, so a failure names a value that fails again.
local core = require("oaichat.core")

local has_integers = math.type ~= nil
local ARRAY = core.array_mt

-- Equal in every way JSON can tell: types (integer vs float on 5.3+), the
-- sign of zero, bytes, and [] vs {} for empty tables.
local function same(a, b, path)
  if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if has_integers and math.type(a) ~= math.type(b) then
      return false, ("%s: %s %s vs %s %s"):format(path, math.type(a), a, math.type(b), b)
    end
    if a ~= b or (a == 0 and 1 / a ~= 1 / b) then return false, ("%s: %.17g vs %.17g"):format(path, a, b) end
    return true
  end
  if type(a) ~= "table" then
    if a ~= b then return false, ("%s: %q vs %q"):format(path, tostring(a), tostring(b)) end
    return true
  end
  if next(a) == nil and next(b) == nil then
    if (getmetatable(a) == ARRAY) ~= (getmetatable(b) == ARRAY) then return false, path .. ": [] vs {}" end
    return true
  end
  for k, v in pairs(a) do
    local ok, why = same(v, b[k], path .. "." .. tostring(k))
    if not ok then return false, why end
  end
  for k in pairs(b) do
    if a[k] == nil then return false, path .. "." .. tostring(k) .. ": extra key" end
  end
  return true
end

-- Values that have tripped JSON glue before, one per line of the issue.
local MARKERS = { "\1oaichat:42\1", "\1f:7", "\1i:12", "\1oaichat:[]\1", "\1\1\1oaichat:1\1", "\\u0001f:7",
  '"\1i:5"', "\1", "\1\1", "\0" }
local UTF8 = { "é", "你好", "😀", "\226\128\168", "\239\187\191", "\244\143\191\191" }

local function random_string(rnd)
  local parts = {}
  for _ = 1, rnd(0, 6) do
    local pick = rnd(1, 6)
    if pick == 1 then
      parts[#parts + 1] = string.char(rnd(0, 31))
    elseif pick == 2 then
      parts[#parts + 1] = MARKERS[rnd(1, #MARKERS)]
    elseif pick == 3 then
      parts[#parts + 1] = UTF8[rnd(1, #UTF8)]
    elseif pick == 4 then
      parts[#parts + 1] = ({ '"', "\\", "/", "\127", "</script>", "\\u0000" })[rnd(1, 6)]
    else
      parts[#parts + 1] = string.char(rnd(32, 126)):rep(rnd(1, 3))
    end
  end
  return table.concat(parts)
end

local INTS = { 0, 1, -1, 100000000000000, -99999999999999, 123456789012345, 2 ^ 53, -2 ^ 53, 1904 }
local FLOATS = { 0.0, -0.0, 1.0, -1.0, 0.5, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 2.0 ^ 60, 1e15,
  123456789012345.0, -2.5e-3, 1 / 3 }
if has_integers then
  -- integers only 5.3+ has; written with load() so 5.1 still parses this file
  for _, src in ipairs { "math.maxinteger", "math.mininteger", "(1 << 53) + 1", "-(1 << 62)", "1 << 53" } do
    INTS[#INTS + 1] = assert(load("return " .. src))()
  end
  for i, v in ipairs(INTS) do INTS[i] = math.tointeger(v) or v end
end

local function random_number(rnd)
  local pick = rnd(1, 4)
  if pick == 1 then return INTS[rnd(1, #INTS)] end
  if pick == 2 then return FLOATS[rnd(1, #FLOATS)] end
  if pick == 3 then
    local v = rnd(-2147483647, 2147483647)
    return has_integers and math.tointeger(v) or v
  end
  local f = (math.random() - 0.5) * 10 ^ rnd(-20, 20)
  if rnd(1, 4) == 1 then f = math.floor(f) + 0.0 end -- an integral float
  return f
end

local function random_value(rnd, depth)
  local pick = rnd(1, depth > 3 and 5 or 9)
  if pick == 1 then return random_string(rnd) end
  if pick == 2 then return random_number(rnd) end
  if pick == 3 then return ({ true, false, core.null })[rnd(1, 3)] end
  if pick == 4 then return random_string(rnd) end
  if pick == 5 then return random_number(rnd) end
  if pick == 6 then return setmetatable({}, ARRAY) end
  if pick == 7 then return {} end
  local t = {}
  if pick == 8 then
    for i = 1, rnd(1, 5) do t[i] = random_value(rnd, depth + 1) end
  else
    for _ = 1, rnd(1, 5) do t[random_string(rnd)] = random_value(rnd, depth + 1) end
  end
  return t
end

describe("JSON property", function()
  it("random values round-trip encode -> decode -> encode exactly (2,000 seeded cases)", function()
    math.randomseed(20261201)
    local rnd = math.random
    for case = 1, 2000 do
      local v = random_value(rnd, 0)
      local text = core.encode(v)
      local back, err = core.decode(text)
      assert(back ~= nil or v == core.null, ("case %d: our own output does not decode: %s\n%s"):format(case,
        tostring(err), text))
      local ok, why = same(v, back, "$")
      assert(ok, ("case %d: %s\n%s"):format(case, tostring(why), text))
      local again = core.decode(core.encode(back))
      ok, why = same(back, again, "$")
      assert(ok, ("case %d (second trip): %s"):format(case, tostring(why)))
    end
  end)

  it("every single byte a JSON string can hold round-trips, alone and amid marker-like text", function()
    for b = 0, 127 do
      local s = string.char(b)
      for _, wrap in ipairs { "%s", "\1oaichat:%s\1", "\1i:1%s", "%s\1f:7" } do
        -- with a number that cjson 2.1.0 cannot print alone, and the string
        -- alone (whatever path the encoder takes)
        local v = { s = wrap:format(s), [wrap:format(s)] = 1, n = 123456789012345, f = 1.5 }
        local back = assert(core.decode(core.encode(v)))
        assert.is_true(same(v, back, "$"), ("byte %d in %q"):format(b, wrap))
        assert.equal(wrap:format(s), core.decode(core.encode(wrap:format(s))))
      end
    end
  end)
end)
