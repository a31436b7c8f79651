/* libFuzzer target for the JSON glue (csrc/json.c over lua-cjson): random
 * bytes into core.decode must never crash; what decodes, and a value built
 * from the same bytes (raw 64-bit integers and doubles, marker-like strings,
 * [] and {}), must go encode -> decode -> encode and compare exactly
 * (integer vs float, -0.0, [] vs {}), as spec/json_property_spec.lua does.
 *
 *   make fuzz     (builds this and the SSE target, runs each for a while) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_oaichat_core(lua_State *L);

static const char fuzz_check[] =
    "local core = ...\n"
    "-- Equal in every way JSON can tell: integer vs float, the sign of zero,\n"
    "-- bytes, [] vs {} for empty tables.\n"
    "local function same(a, b, depth)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    return math.type(a) == math.type(b) and a == b and (a ~= 0 or 1 / a == 1 / b)\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if depth > 2000 then return false end\n"
    "  if next(a) == nil and next(b) == nil then\n"
    "    return (getmetatable(a) == core.array_mt) == (getmetatable(b) == core.array_mt)\n"
    "  end\n"
    "  for k, v in pairs(a) do if not same(v, b[k], depth + 1) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "-- encode -> decode -> encode, compared exactly each way.\n"
    "local function round_trip(v, what)\n"
    "  local ok, text = pcall(core.encode, v)\n"
    "  if not ok then\n"
    "    assert(tostring(text):find('NaN or Inf') or tostring(text):find('nesting'), text)\n"
    "    return\n"
    "  end\n"
    "  local v2, err2 = core.decode(text)\n"
    "  assert(v2 ~= nil or v == core.null, what .. ': our own output does not decode: ' .. tostring(err2))\n"
    "  assert(same(v, v2, 0), what .. ': decode(encode(v)) differs from v: ' .. text)\n"
    "  local text2 = core.encode(v2)\n"
    "  assert(same(v2, core.decode(text2), 0), what .. ': the second trip differs: ' .. text2)\n"
    "end\n"
    "-- A value built from the bytes: op bytes pick a type, the next bytes give\n"
    "-- its payload (raw 64-bit integers and doubles, string bytes).\n"
    "local function build(s)\n"
    "  local pos = 1\n"
    "  local function byte()\n"
    "    local b = s:byte(pos) or 0\n"
    "    pos = pos + 1\n"
    "    return b\n"
    "  end\n"
    "  local function take(n)\n"
    "    local piece = s:sub(pos, pos + n - 1)\n"
    "    pos = pos + n\n"
    "    return piece .. ('\\0'):rep(n - #piece)\n"
    "  end\n"
    "  local function str()\n"
    "    local piece = take(byte() % 24)\n"
    "    if not utf8.len(piece) then piece = piece:gsub('[\\128-\\255]', function(c) return ('%02x'):format(c:byte()) end) end\n"
    "    return piece\n"
    "  end\n"
    "  local function value(depth)\n"
    "    local op = byte() % 11\n"
    "    if op == 0 then return str() end\n"
    "    if op == 1 then return (string.unpack('<i8', take(8))) end\n"
    "    if op == 2 then\n"
    "      local d = string.unpack('<d', take(8))\n"
    "      if d ~= d or d == math.huge or d == -math.huge then d = -0.0 end\n"
    "      return d\n"
    "    end\n"
    "    if op == 3 then return (string.unpack('<i2', take(2))) end\n"
    "    if op == 4 then return ({ true, false, core.null })[byte() % 3 + 1] end\n"
    "    if op == 5 then return setmetatable({}, core.array_mt) end\n"
    "    if op == 6 then return {} end\n"
    "    if op == 7 then return ('\\1'):rep(byte() % 5) .. 'oaichat:' .. byte() .. ('\\1'):rep(byte() % 3) end\n"
    "    local t = {}\n"
    "    if depth > 8 then return t end\n"
    "    for i = 1, byte() % 5 + 1 do\n"
    "      if op == 8 then t[i] = value(depth + 1) else t[str()] = value(depth + 1) end\n"
    "    end\n"
    "    return t\n"
    "  end\n"
    "  return value(0)\n"
    "end\n"
    "return function(s)\n"
    "  local v, err = core.decode(s)\n"
    "  if v == nil then\n"
    "    assert(type(err) == 'string', 'decode failed without a message')\n"
    "  else\n"
    "    round_trip(v, 'decoded input')\n"
    "  end\n"
    "  round_trip(build(s), 'built value')\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* One state for the whole run (this harness is the only user). */
  static lua_State *L = NULL;
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadstring(L, fuzz_check) != 0) abort();
    lua_pushcfunction(L, luaopen_oaichat_core);
    lua_call(L, 0, 1);
    lua_call(L, 1, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_check");
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_check");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
