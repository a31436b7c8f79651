-- Installing: `luarocks make` builds outside the source tree and installs a
-- command that starts; a LuaJIT host given a build for another Lua says what
-- to build; the release rockspec follows csrc/core.c's version; `make rock`
-- packs a source rock and installs it. (tools/fresh-debian.sh runs the
-- README's lines on a debootstrapped Debian; too slow for every run.)
local core = require("oaichat.core")
local sub = require("spec.support.subprocess")

local function shell(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"EXIT $?\""))
  local out = p:read("*a")
  p:close()
  local text, code = out:match("^(.*)EXIT (%d+)\n$")
  return tonumber(code), text
end

-- Shared libraries anywhere in the checkout outside build/ (the tree's own ./?.so).
local function stray_objects()
  local _, out = shell("find . -path ./build -prune -o -path ./bench/node -prune -o "
    .. "\\( -name '*.so' -o -name '*.o' \\) -print")
  return out
end

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
  it("luarocks make builds outside the sources and installs a command that starts", function()
    local tree = os.tmpname()
    os.remove(tree)
    assert.equal("", stray_objects())
    local code, out = shell("luarocks --lua-version=5.4 --tree=" .. tree
      .. " make --deps-mode=none rockspec/oaichat-scm-1.rockspec")
    assert.equal(0, code, out)
    assert.equal("", stray_objects())
    assert.is_truthy(io.open(tree .. "/lib/lua/5.4/oaichat/core.so"))
    -- The wrapper runs the interpreter the rock was built for.
    local wrapper = sub.slurp(tree .. "/bin/oaichat")
    assert.is_truthy(wrapper:find("exec '/usr/bin/lua5.4'", 1, true), wrapper)
    code, out = shell("eval \"$(luarocks --lua-version=5.4 --tree=" .. tree .. " path)\" && cd / && "
      .. tree .. "/bin/oaichat --version")
    assert.equal(0, code, out)
    assert.equal("oaichat " .. core.version .. "\n", out)
    shell("rm -rf " .. tree)
  end)

  it("a LuaJIT host loading a Lua 5.4 build is told to make LUA_VERSION=jit", function()
    local code, out = shell("make --no-print-directory LUA_VERSION=5.4 build")
    assert.equal(0, code, out)
    code, out = shell("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/5.4/?.so;;' "
      .. "luajit -e \"local ok, e = pcall(require, 'oaichat') io.write(tostring(ok), ' ', tostring(e))\"")
    assert.equal(0, code, out)
    assert.equal("false oaichat: ./build/5.4/oaichat/core.so was built for another Lua than this LuaJIT "
      .. "(undefined symbol lua_newuserdatauv); build it for this one with `make LUA_VERSION=jit` "
      .. "and put build/jit/?.so on package.cpath", out)
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

  it("make rock packs a source rock and installs it into a temporary tree", function()
    local code, out = shell("make --no-print-directory rock")
    assert.equal(0, code, out)
    assert.is_truthy(out:find("oaichat: oaichat " .. core.version
      .. " (installed from the source rock into a temporary tree)", 1, true), out)
    assert.is_truthy(out:find("core from lib/lua/5.4/oaichat/core.so", 1, true), out)
    local _, list = shell("unzip -l build/oaichat-" .. core.version .. "-1.src.rock")
    assert.is_truthy(list:find("oaichat-" .. core.version .. "-1.rockspec", 1, true), list)
    assert.is_truthy(list:find("v" .. core.version .. ".tar.gz", 1, true), list)
  end)
end)
