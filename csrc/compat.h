/* Small shims so one set of sources builds on Lua 5.1-5.4 and LuaJIT 2.1. */
#ifndef OAICHAT_COMPAT_H
#define OAICHAT_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#endif

/* LuaJIT 2.1 has luaL_setfuncs; plain 5.1 does not. */
#if LUA_VERSION_NUM < 502 && !defined(LUAJIT_VERSION_NUM) && !defined(luaL_newlibtable)
#define luaL_setfuncs(L, l, nup) compat_setfuncs((L), (l), (nup))

/* luaL_setfuncs from 5.2: every function shares the nup upvalues on top. */
static inline void compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  int i;
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#endif

#if LUA_VERSION_NUM >= 503
#define COMPAT_HAS_INTEGERS 1
#else
#define COMPAT_HAS_INTEGERS 0
#endif

#endif
