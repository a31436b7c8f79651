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

  -- OpenResty's lua-cjson (the LuaRocks line) cannot be installed offline:
  -- a stand-in with its facilities, built on a first oaichat.core, shows
  -- that a second one probes and uses them instead of its own work.
  it("uses what an OpenResty-style cjson does natively: integers, array_mt", function()
    local out, err, ok = child.run({}, OPENER .. [=[
      local A = require("oaichat.core")
      local fake_mt, calls, inst = {}, { encoded = {} }, nil
      local function to_fake(v) -- decode_array_with_array_mt: every array
        if type(v) ~= "table" then return v end
        local arr = getmetatable(v) == A.array_mt or (#v > 0 and next(v, #v) == nil)
        for k, x in pairs(v) do v[k] = to_fake(x) end
        if arr then setmetatable(v, fake_mt) end
        return v
      end
      local function to_a(v)
        if type(v) ~= "table" then return v end
        local out = {}
        for k, x in pairs(v) do out[k] = to_a(x) end
        if getmetatable(v) == fake_mt and next(v) == nil then setmetatable(out, A.array_mt) end
        return out
      end
      inst = {
        array_mt = fake_mt, null = A.null,
        encode_number_precision = function(n) calls.precision = n end,
        decode_invalid_numbers = function(b) calls.invalid = b end,
        decode_array_with_array_mt = function(b) calls.with_mt = b end,
        decode = function(s) return to_fake(assert(A.decode(s))) end,
        encode = function(v) calls.encoded[#calls.encoded + 1] = v return A.encode(to_a(v)) end,
      }
      package.loaded.cjson = { new = function() return inst end }
      local B = open()
      local v = assert(B.decode('{"a":[],"n":9007199254740993,"f":1.0}'))
      local big = { n = 9007199254740993, s = "oaichat:1" }
      local text = B.encode(big)
      local passed_as_is = calls.encoded[#calls.encoded] == big
      print(B.array_mt == fake_mt, getmetatable(v.a) == fake_mt, calls.with_mt, calls.invalid, calls.precision,
        math.type and math.type(v.n) or "number", B.encode(v.a), passed_as_is,
        text:find('"n":' .. (math.type and "9007199254740993" or "9007199254740992"), 1, true) ~= nil and
          text:find('"s":"\\u0001oaichat:1\\u0001"', 1, true) ~= nil, B.encode({ f = 1.5 }))
    ]=])
    assert(ok, err)
    local int = math.type and "integer" or "number"
    -- without integers (5.1, LuaJIT) every number is a double: no native integer path, so a copy is encoded
    local same_table = math.type and "true" or "false"
    assert.equal(("true\ttrue\ttrue\tfalse\t14\t%s\t[]\t%s\ttrue\t{\"f\":1.5}\n"):format(int, same_table), out)
  end)
end)
