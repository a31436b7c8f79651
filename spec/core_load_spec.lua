-- Loading oaichat.core (luaopen_oaichat_core): libcurl's global set-up runs
-- once per process and its failure is reported; cjson is found without a
-- global `require` (sandboxed states). Each case runs in a child process.
local child = require("spec.support.child")

-- Lua code that opens the C module straight from its file, as many times
-- as asked, printing nothing.
local OPENER = [=[
local path
for t in package.cpath:gmatch("[^;]+") do
  local p = t:gsub("%?", "oaichat/core")
  local f = io.open(p)
  if f then f:close() path = p break end
end
local open = assert(package.loadlib(path, "luaopen_oaichat_core"))
]=]

-- Runs code in a child with the curl_global_init counter preloaded.
local function with_counter(env, code)
  local path = "build/count_curl_init.so"
  local f = io.open(path, "rb")
  assert(f, path .. " is missing: run the specs through make")
  f:close()
  local preload = os.getenv("LD_PRELOAD")
  env.LD_PRELOAD = (preload and preload ~= "" and preload .. " " or "") .. "./" .. path
  return child.run(env, code)
end

describe("loading oaichat.core", function()
  it("runs curl_global_init once per process, however often the module is opened", function()
    local out, err, ok = with_counter({}, OPENER .. [=[
      local a = require("oaichat.core")
      local b, c = open(), open()
      print(a.encode(a.decode("[1]")), b.encode(b.decode("[2]")), c.encode(c.decode("[3]")))
    ]=])
    assert(ok, err)
    assert.equal("[1]\t[2]\t[3]\n", out)
    assert.truthy(err:find("curl_global_init 1\n", 1, true), err)
  end)

  it("reports a failed curl_global_init when the module is required", function()
    local _, err, ok = with_counter({ OAICHAT_CURL_INIT_FAIL = "1" }, [=[
      local ok, why = pcall(require, "oaichat.core")
      io.stderr:write(tostring(ok), " ", tostring(why), "\n")
      os.exit(ok and 0 or 3)
    ]=])
    assert.is_false(ok)
    assert.truthy(err:find("false oaichat.core: curl_global_init failed", 1, true), err)
  end)

  it("finds cjson without a global require (sandboxed states), loaded twice", function()
    local out, err, ok = child.run({}, OPENER .. [=[
      require("cjson")
      local pkg, searchers = package, package.searchers or package.loaders
      require, package = nil, nil
      -- 1: cjson already in package.loaded, no searcher could find it
      local saved = {}
      for i, s in ipairs(searchers) do saved[i] = s end
      for i = #searchers, 1, -1 do searchers[i] = nil end
      assert(pkg.loaded.cjson)
      local a = open()
      for i, s in ipairs(saved) do searchers[i] = s end
      -- 2: cjson not loaded yet: found through package.searchers
      pkg.loaded.cjson = nil
      local b = open()
      assert(pkg.loaded.cjson, "cjson is recorded in package.loaded")
      print(a.encode(a.decode('{"n":123456789012345}')), b.encode(b.decode('[[]]')))
    ]=])
    assert(ok, err)
    assert.equal('{"n":123456789012345}\t[[]]\n', out)
    local _, err2, ok2 = child.run({}, OPENER .. [[
      package.loaded.cjson = nil
      local s = package.searchers or package.loaders
      for i = #s, 1, -1 do s[i] = nil end
      open()
    ]])
    assert.is_false(ok2)
    assert.truthy(err2:find("needs lua-cjson", 1, true), err2)
  end)
end)
