-- The mock's reply when no script is queued: a chat.completion object, or
-- its SSE stream when the request says "stream": true.

local json = require("tools.mock.json")
local answers = require("tools.mock.answer")
local sse = require("tools.mock.sse")
local response = require("tools.mock.response")

local CREATED, model_of, usage_of = answers.CREATED, answers.model, answers.usage
local new_response, set_header = response.new, response.set_header
local json_response, error_response = response.json, response.error

local M = {}

local function completion_object(body, answer, n)
  local message, finish = { role = "assistant" }, "stop"
  if answer.tool_call then
    message.content = json.null
    message.tool_calls = json.array({ answer.tool_call })
    finish = "tool_calls"
  else
    message.content = answer.text
  end
  return {
    id = "chatcmpl-mock-" .. n, object = "chat.completion", created = CREATED,
    model = model_of(body), system_fingerprint = "fp_mock",
    choices = json.array({ { index = 0, message = message, finish_reason = finish, logprobs = json.null } }),
    usage = usage_of(answer),
  }
end

function M.response(req, n)
  local body, err = json.decode(req.body)
  if type(body) ~= "table" or json.is_array(body) then
    return error_response(400, "We could not parse the JSON body of your request. (" ..
      tostring(err or "expected an object") .. ")", "invalid_json")
  end
  local answer = answers.answer(body)
  local resp
  if body.stream == true then
    resp = new_response(200, "text/event-stream")
    set_header(resp, "Cache-Control", "no-cache")
    resp.pieces = sse.events(body, answer, n)
    resp.chunked = true
    resp.piece_delay_ms = tonumber(req.headers["x-mock-delay-ms"]) or 0
  else
    resp = json_response(200, completion_object(body, answer, n))
  end
  set_header(resp, "x-request-id", "req_mock_" .. n)
  return resp
end

return M
