-- Diagnostics of the mock: stderr only, and only with --verbose, because
-- stdout carries the single "PORT n" line.

local M = { verbose = false }

function M.log(fmt, ...)
  if M.verbose then
    io.stderr:write("[mock] ", string.format(fmt, ...), "\n")
  end
end

return M
