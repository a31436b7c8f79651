-- busted output handler: the usual terminal output, then one line
-- "N passed, N failed" that CI reads (errors count as failures).
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.utfTerminal")(options)
  busted.subscribe({ "suite", "end" }, function()
    local failed = handler.failuresCount + handler.errorsCount
    io.write(("%d passed, %d failed\n"):format(handler.successesCount, failed))
    io.flush()
    return nil, true
  end, { priority = 1 })
  return handler
end
