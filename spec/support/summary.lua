-- busted output handler: the usual terminal output, then, as the very last
-- line, "N passed, N failed" that CI reads (errors count as failures).
-- In sanitizer builds it also runs LeakSanitizer's check (a leak fails).
local function leaks_found()
  local core = package.loaded["oaichat.core"]
  if not (core and core._leak_check) then return false end
  collectgarbage()
  collectgarbage()
  return core._leak_check()
end

return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "exit" }, function()
    local failed = handler.failuresCount + handler.errorsCount
    if leaks_found() then
      io.write("\nLeakSanitizer found leaks (report above)\n")
      failed = failed + 1
    end
    io.write(("\n%d passed, %d failed\n"):format(handler.successesCount, failed))
    io.flush()
    if failed > 0 then os.exit(1) end
    return nil, true
  end)
  return handler
end
