-- What the mock remembers between requests: the script queue, the recorded
-- requests, the response counter and connection counts.

local json = require("tools.mock.json")

return { queue = {}, requests = json.array(), counter = 0, connections = 0, open = 0 }
