-- luacheck settings (`make lint` runs `luacheck lua spec bin examples bench tools`).
-- Every file may use what any supported Lua offers (5.1-5.4, LuaJIT): the
-- code feature-tests at run time. Only the specs see busted's globals.
std = "max"
files["spec"] = { std = "+busted" }
