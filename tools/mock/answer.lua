-- The mock's default answer: a deterministic description of the request
-- (an echo of the last user turn with notes), or a call of the first tool.

local json = require("tools.mock.json")

local format_number, sorted_keys = json.format_number, json.sorted_keys

local M = {}

local CREATED = 1700000000
local IGNORED_PARAMS = { model = true, messages = true, stream = true, stream_options = true }

local function count_words(s)
  local n = 0
  for _ in tostring(s):gmatch("%S+") do n = n + 1 end
  return n
end

local function describe_image(part)
  local iu = part.image_url
  local url = type(iu) == "table" and iu.url or iu
  if type(url) ~= "string" then return "?" end
  local desc = url
  if url:sub(1, 5) == "data:" then
    local comma = url:find(",", 1, true) or #url
    local meta = url:sub(6, comma - 1)
    local len = #url - comma
    if meta:find(";base64", 1, true) then
      local pad = url:sub(-2) == "==" and 2 or (url:sub(-1) == "=" and 1 or 0)
      len = math.floor(len / 4) * 3 - pad
    end
    desc = string.format("%s %d bytes", meta:match("^[^;]*"), len)
  end
  if type(iu) == "table" and type(iu.detail) == "string" then
    desc = desc .. " detail=" .. iu.detail
  end
  return desc
end

-- Plain text of a message's content; image parts are appended to `images`.
local function content_text(content, images)
  if type(content) == "string" then return content end
  if type(content) ~= "table" or content == json.null then return "" end
  local texts = {}
  for _, part in ipairs(content) do
    if type(part) == "table" then
      if type(part.text) == "string" then texts[#texts + 1] = part.text end
      if part.type == "image_url" and images then images[#images + 1] = describe_image(part) end
    elseif type(part) == "string" then
      texts[#texts + 1] = part
    end
  end
  return table.concat(texts, " ")
end

local function param_value(k, v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return format_number(v) end
  if k == "tools" and type(v) == "table" then
    local names = {}
    for _, t in ipairs(v) do
      local fn = type(t) == "table" and t["function"]
      names[#names + 1] = type(fn) == "table" and tostring(fn.name) or "?"
    end
    return "[" .. table.concat(names, ",") .. "]"
  end
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

local function describe_params(body)
  local list = {}
  for _, k in ipairs(sorted_keys(body)) do
    if not IGNORED_PARAMS[k] then list[#list + 1] = k .. "=" .. param_value(k, body[k]) end
  end
  return list
end

local function analyse(body)
  local msgs = type(body.messages) == "table" and body.messages or {}
  local info = { count = #msgs, system = false, images = {}, words = 0, last_user = "" }
  for _, m in ipairs(msgs) do
    if type(m) == "table" then
      if m.role == "system" or m.role == "developer" then info.system = true end
      local text = content_text(m.content, info.images)
      info.words = info.words + count_words(text)
      if m.role == "user" then info.last_user = text end
    end
  end
  info.last = msgs[#msgs]
  info.params = describe_params(body)
  return info
end

local function echo_text(info)
  local notes = { string.format("%d message%s", info.count, info.count == 1 and "" or "s") }
  if info.system then notes[#notes + 1] = "system prompt" end
  if #info.images > 0 then
    notes[#notes + 1] = string.format("images: %d [%s]", #info.images, table.concat(info.images, ", "))
  end
  if #info.params > 0 then notes[#notes + 1] = "params: " .. table.concat(info.params, ", ") end
  local echo = info.last_user ~= "" and ("Echo: " .. info.last_user) or "Echo:"
  return echo .. " (" .. table.concat(notes, "; ") .. ")"
end

local SAMPLE_VALUES = { string = "x", number = 1, integer = 1, boolean = true }

local build_arguments

local function sample_value(schema)
  if type(schema) ~= "table" then return "x" end
  if type(schema.enum) == "table" and schema.enum[1] ~= nil then return schema.enum[1] end
  local t = schema.type
  if type(t) == "table" then t = t[1] end
  if t == "array" then return json.array() end
  if t == "object" then return build_arguments(schema) end
  if SAMPLE_VALUES[t] ~= nil then return SAMPLE_VALUES[t] end
  return "x"
end

function build_arguments(params)
  local args = {}
  if type(params) == "table" and type(params.required) == "table" then
    local props = type(params.properties) == "table" and params.properties or {}
    for _, name in ipairs(params.required) do args[name] = sample_value(props[name]) end
  end
  return args
end

local function tool_function(tool)
  local fn = type(tool) == "table" and tool["function"]
  return type(fn) == "table" and fn or {}
end

-- The tool the default behaviour should "call", or nil to answer with text.
local function pick_tool(body, info)
  if type(body.tools) ~= "table" or #body.tools == 0 then return nil end
  if type(info.last) == "table" and info.last.role == "tool" then return nil end
  local choice = body.tool_choice
  if choice == "none" then return nil end
  local wanted = type(choice) == "table" and tool_function(choice).name
  for _, tool in ipairs(body.tools) do
    if wanted and tool_function(tool).name == wanted then return tool end
  end
  return body.tools[1]
end

-- Returns { text = ... } or { tool_call = {...} } plus token counts.
local function default_answer(body)
  local info = analyse(body)
  local answer = { prompt_tokens = info.words }
  local tool = pick_tool(body, info)
  if tool then
    local fn = tool_function(tool)
    local args = json.encode(build_arguments(fn.parameters))
    answer.tool_call = { id = "call_mock_1", type = "function",
      ["function"] = { name = tostring(fn.name or "tool"), arguments = args } }
    answer.completion_tokens = math.max(1, count_words(args))
    return answer
  end
  if type(info.last) == "table" and info.last.role == "tool" then
    answer.text = "Tool said: " .. content_text(info.last.content)
  else
    answer.text = echo_text(info)
  end
  answer.completion_tokens = count_words(answer.text)
  return answer
end

local function usage_of(answer)
  return { prompt_tokens = answer.prompt_tokens, completion_tokens = answer.completion_tokens,
    total_tokens = answer.prompt_tokens + answer.completion_tokens }
end

local function model_of(body)
  return type(body.model) == "string" and body.model or "mock"
end

M.CREATED = CREATED
M.answer = default_answer
M.usage = usage_of
M.model = model_of

return M
