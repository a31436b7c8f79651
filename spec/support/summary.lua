-- busted output handler: the usual terminal output, then, as the very last
-- line, "N passed, N failed" that CI reads (errors count as failures).
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "exit" }, function()
    local failed = handler.failuresCount + handler.errorsCount
    io.write(("\n%d passed, %d failed\n"):format(handler.successesCount, failed))
    io.flush()
    return nil, true
  end)
  return handler
end
