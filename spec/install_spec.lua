-- Installing: a LuaJIT host given a build for another Lua says what to
-- build; the release rockspec follows csrc/core.c's version and builds like
-- the scm one. `make rock` (a step of .ci/run) packs and installs the source
-- rock and checks that `luarocks make` leaves nothing beside the sources;
-- tools/fresh-debian.sh runs the README's lines on a debootstrapped Debian.
local core = require("oaichat.core")
local sub = require("spec.support.subprocess")

local shell = require("spec.support.util").shell

-- A rockspec's variables, as LuaRocks reads them (5.1's setfenv or 5.2+'s load env).
local function load_rockspec(path)
  local text, env = sub.slurp(path), {}
  local f
  if rawget(_G, "setfenv") then
    f = assert(loadstring(text, path))
    setfenv(f, env)
  else
    f = assert(load(text, path, "t", env))
  end
  f()
  return env
end

describe("installing", function()
  it("a LuaJIT host loading a Lua 5.4 build is told to make LUA_VERSION=jit", function()
    -- build/5.4 comes from the Makefile (jit-build), whatever Lua runs the specs.
    local code, out = shell("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/5.4/?.so;;' "
      .. "luajit -e \"local ok, e = pcall(require, 'oaichat') io.write(tostring(ok), ' ', tostring(e))\"")
    assert.equal(0, code, out)
    assert.equal("false oaichat: ./build/5.4/oaichat/core.so was built for another Lua than this LuaJIT "
      .. "(undefined symbol lua_newuserdatauv); build it for this one with `make LUA_VERSION=jit` "
      .. "and put build/jit/?.so on package.cpath", out)
  end)

  it("a LuaJIT host that finds no build at all is told to make LUA_VERSION=jit", function()
    local code, out = shell("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/none/?.so' "
      .. "luajit -e \"local ok, e = pcall(require, 'oaichat') io.write(tostring(ok), ' ', tostring(e))\"")
    assert.equal(0, code, out)
    assert.equal("false oaichat: no build of the C module oaichat.core for this LuaJIT on package.cpath; "
      .. "build it with `make LUA_VERSION=jit` and put build/jit/?.so on package.cpath (or install the rock)", out)
  end)

  it("the release rockspec carries csrc/core.c's version, as oaichat.VERSION does", function()
    local c_version = sub.slurp("csrc/core.c"):match('#define CORE_VERSION "([^"]+)"')
    assert.equal(c_version, core.version)
    assert.equal(c_version, require("oaichat").VERSION)
    local rock = load_rockspec("rockspec/oaichat-" .. c_version .. "-1.rockspec")
    assert.equal(c_version .. "-1", rock.version)
    assert.equal("v" .. c_version .. ".tar.gz", rock.source.url:match("[^/]+$"))
    assert.same({ "unix" }, rock.supported_platforms)
    assert.equal("lua-cjson >= 2.1.0", rock.dependencies[2])
    assert.equal("busted", rock.test.type)
    assert.equal("make", rock.build.type)
    -- The scm rockspec builds the same way.
    local scm = load_rockspec("rockspec/oaichat-scm-1.rockspec")
    assert.same(rock.build, scm.build)
    assert.same(rock.dependencies, scm.dependencies)
  end)

end)
