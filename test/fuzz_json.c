/* libFuzzer target for the JSON glue (csrc/json.c over lua-cjson): random
 * bytes into core.decode must never crash; whatever decodes must encode,
 * and decode again to an equal value.
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
    "local function same(a, b, depth)\n"
    "  if a == b then return true end\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' or depth > 2000 then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k], depth + 1) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return function(s)\n"
    "  local v, err = core.decode(s)\n"
    "  if v == nil then assert(type(err) == 'string', 'decode failed without a message') return end\n"
    "  local ok, text = pcall(core.encode, v)\n"
    "  if not ok then\n"
    "    assert(tostring(text):find('NaN or Inf') or tostring(text):find('nesting'), text)\n"
    "    return\n"
    "  end\n"
    "  local v2, err2 = core.decode(text)\n"
    "  assert(v2 ~= nil, 'our own output does not decode: ' .. tostring(err2))\n"
    "  assert(same(v, v2, 0), 'decode(encode(v)) differs from v')\n"
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
