-- What the mock remembers between requests: the script queue, the recorded
-- requests, the response counter, connection counts, and the gate of `hold`
-- scripts (holds started, releases granted, coroutine -> ticket of each
-- reply held now).

local json = require("tools.mock.json")

return { queue = {}, requests = json.array(), counter = 0, connections = 0, open = 0,
  holds = 0, releases = 0, held = {} }
