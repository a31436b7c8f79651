-- Tool-call round trip: the model asks for get_weather, Lua answers, the
-- model replies with the result.
--   lua5.4 examples/tools.lua "What is the weather in Paris?"
local oaichat = require("oaichat")

local tools = {
  {
    type = "function",
    ["function"] = {
      name = "get_weather",
      description = "Current weather of a city",
      parameters = {
        type = "object",
        properties = { city = { type = "string", description = "City name" } },
        required = { "city" },
      },
    },
  },
}

-- Handlers get the decoded JSON arguments; what they return is sent back
-- (tables as JSON). An error raised here is sent to the model as text.
local handlers = {
  get_weather = function(args)
    io.stderr:write("(get_weather called for ", tostring(args.city), ")\n")
    return { city = args.city, temperature_c = 21, sky = "clear" }
  end,
}

local client = oaichat.new()
local conv = client:conversation({ system = "Use the tools when they help." })
local text, err = conv:run_tools(tools, handlers, {
  prompt = arg[1] or "What is the weather in Paris?",
  max_rounds = 4,
})
if not text then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(text)
io.stderr:write(("%d messages, %d tokens\n"):format(#conv.messages, conv:usage().total_tokens))
