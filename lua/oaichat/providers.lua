--- Provider presets: one table of what differs between OpenAI-compatible
-- services (base URL, how the key is sent, where it is read from, quirks).
-- Every explicit option of oaichat.new wins over a preset.
local misuse = require("oaichat.misuse")

local M = {}

---@class oaichat.Provider
---@field name string
---@field base_url string|nil  default base URL (nil: the caller must give one)
---@field key_env string|nil   environment variable holding the key (local servers: none)
---@field base_env string|nil  environment variable overriding base_url, paired with key_env
---@field key_host string[]|nil  Lua patterns of hosts a key_env key may go to (default: base_url's URL)
---@field example string|nil  a base_url to show when one is needed
---@field auth "bearer"|"api-key"  `Authorization: Bearer KEY`, or an `api-key: KEY` header
---@field stream_usage boolean  send stream_options.include_usage on streams by default
---@field reasoning "drop"|"tool_calls"  earlier reasoning sent back in conversations
---@field path string           what base_url usually ends in (named by 404 errors)

-- stream_usage is off where the service rejects stream_options (Mistral
-- answers 422 extra_forbidden and sends usage unasked; Groq rejected it in
-- 2024) and for StarMagic, the default, which adds nothing by itself.
-- DeepSeek answers 400 on tool-call turns unless their reasoning comes back.
local LIST = {
  starmagic = { base_url = "https://api.starmagic.ai/v1", key_env = "STARMAGIC_API_KEY", stream_usage = false },
  openai = { base_url = "https://api.openai.com/v1", key_env = "OPENAI_API_KEY", base_env = "OPENAI_BASE_URL" },
  azure = { key_env = "AZURE_OPENAI_API_KEY", auth = "api-key",
    key_host = { "^[%w%-]+%.openai%.azure%.com$", "^[%w%-]+%.cognitiveservices%.azure%.com$",
      "^[%w%-]+%.services%.ai%.azure%.com$" },
    example = "https://RES.openai.azure.com/openai/deployments/DEPLOYMENT with api_version, "
      .. "or https://RES.openai.azure.com/openai/v1",
    path = "/openai/deployments/DEPLOYMENT (with api_version) or /openai/v1" },
  openrouter = { base_url = "https://openrouter.ai/api/v1", key_env = "OPENROUTER_API_KEY", path = "/api/v1" },
  ollama = { base_url = "http://localhost:11434/v1" },
  llamacpp = { base_url = "http://localhost:8080/v1" },
  lmstudio = { base_url = "http://localhost:1234/v1" },
  vllm = { base_url = "http://localhost:8000/v1" },
  deepseek = { base_url = "https://api.deepseek.com", key_env = "DEEPSEEK_API_KEY", reasoning = "tool_calls",
    path = "nothing or /v1" },
  mistral = { base_url = "https://api.mistral.ai/v1", key_env = "MISTRAL_API_KEY", stream_usage = false },
  groq = { base_url = "https://api.groq.com/openai/v1", key_env = "GROQ_API_KEY", stream_usage = false,
    path = "/openai/v1" },
  gemini = { base_url = "https://generativelanguage.googleapis.com/v1beta/openai", key_env = "GEMINI_API_KEY",
    path = "/v1beta/openai" },
  xai = { base_url = "https://api.x.ai/v1", key_env = "XAI_API_KEY" },
}

local names = {}
for name, p in pairs(LIST) do
  p.name = name
  p.auth = p.auth or "bearer"
  if p.stream_usage == nil then p.stream_usage = true end
  p.reasoning = p.reasoning or "drop"
  p.path = p.path or "/v1"
  names[#names + 1] = name
end
table.sort(names)

--- The preset names, sorted.
---@type string[]
M.names = names
M.DEFAULT = "starmagic"

--- The preset called name; raises listing the known ones.
---@param name string|nil
---@return oaichat.Provider
function M.get(name)
  local p = LIST[name or M.DEFAULT]
  if not p then
    misuse.raise(("oaichat.new: unknown provider %q (known: %s)"):format(tostring(name), table.concat(names, ", ")))
  end
  return p
end

--- A copy of every preset, by name (for oaichat.providers).
---@return table<string, oaichat.Provider>
function M.all()
  local out = {}
  for name, p in pairs(LIST) do
    local c = {}
    for k, v in pairs(p) do c[k] = v end
    out[name] = c
  end
  return out
end

return M
