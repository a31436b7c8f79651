/* A minimal `lua SCRIPT ARGS...` linked with the static Lua library, which
 * keeps its symbols (Debian's lua5.4 binary is stripped): callgrind then
 * names the interpreter's functions (luaV_execute, luaH_getshortstr, ...)
 * instead of bare addresses. Same Lua objects as the packaged interpreter.
 * Used by bench/bench.lua for the instruction counts only.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

static int traceback(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int i;
  if (argc < 2) {
    fprintf(stderr, "usage: lua_prof SCRIPT [ARGS...]\n");
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_createtable(L, argc, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, argv[1]) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  if (lua_pcall(L, argc - 2, 0, 1) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_close(L);
  return 0;
}
