-- Server-sent events of the mock: the chunks of a streamed default answer
-- (text by word, tool arguments in three pieces) and scripted items.

local json = require("tools.mock.json")
local answers = require("tools.mock.answer")
local redivide = require("tools.mock.response").redivide

local CREATED, model_of, usage_of = answers.CREATED, answers.model, answers.usage

local M = {}

-- Splits text into word-sized deltas that concatenate back to the text.
local function word_pieces(text)
  local out = {}
  for piece in text:gmatch("%s*%S+") do out[#out + 1] = piece end
  return out
end

local function split_arguments(args)
  local size = math.max(1, math.ceil(#args / 3))
  local out = redivide(args, size)
  if #out < 2 then out[2] = "" end -- always at least two argument deltas
  return out
end

-- The delta objects of a streamed answer, finish chunk excluded.
local function stream_deltas(answer)
  local deltas = {}
  if answer.tool_call then
    local tc, fn = answer.tool_call, answer.tool_call["function"]
    deltas[1] = { role = "assistant", content = json.null, tool_calls = json.array({
      { index = 0, id = tc.id, type = tc.type, ["function"] = { name = fn.name, arguments = "" } } }) }
    for _, piece in ipairs(split_arguments(fn.arguments)) do
      deltas[#deltas + 1] = { tool_calls = json.array({ { index = 0, ["function"] = { arguments = piece } } }) }
    end
  else
    deltas[1] = { role = "assistant", content = "" }
    for _, piece in ipairs(word_pieces(answer.text)) do deltas[#deltas + 1] = { content = piece } end
  end
  return deltas
end

local function stream_events(body, answer, n)
  local include_usage = type(body.stream_options) == "table" and body.stream_options.include_usage == true
  local base = { id = "chatcmpl-mock-" .. n, object = "chat.completion.chunk", created = CREATED,
    model = model_of(body), system_fingerprint = "fp_mock" }
  local function chunk(choices, usage)
    local c = { choices = choices, usage = usage or (include_usage and json.null or nil) }
    for k, v in pairs(base) do c[k] = v end
    return "data: " .. json.encode(c) .. "\n\n"
  end
  local events = {}
  for _, delta in ipairs(stream_deltas(answer)) do
    events[#events + 1] = chunk(json.array({ { index = 0, delta = delta, finish_reason = json.null } }))
  end
  local finish = answer.tool_call and "tool_calls" or "stop"
  events[#events + 1] = chunk(json.array({ { index = 0, delta = {}, finish_reason = finish } }))
  if include_usage then events[#events + 1] = chunk(json.array(), usage_of(answer)) end
  events[#events + 1] = "data: [DONE]\n\n"
  return events
end

-- A scripted `sse` item: a string goes out as is, anything else as JSON.
function M.encode_item(item)
  return "data: " .. (type(item) == "string" and item or json.encode(item)) .. "\n\n"
end

M.events = stream_events

return M
