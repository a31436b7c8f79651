-- One-shot chat: ask a question, print the answer and the token usage.
--   OAICHAT_API_KEY=... lua5.4 examples/chat.lua "Why is the sky blue?"
-- The service comes from the environment (OAICHAT_BASE_URL, OAICHAT_MODEL, ...).
local oaichat = require("oaichat")

local client = oaichat.new({ params = { temperature = 0.2 } })
local question = arg[1] or "Say hello in five words."

local resp, err = client:chat({
  { role = "system", content = "You are a concise assistant." },
  { role = "user", content = question },
})
if not resp then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print(oaichat.text(resp))
local u = resp.usage
if u then io.stderr:write(("tokens: %d prompt, %d completion\n"):format(u.prompt_tokens, u.completion_tokens)) end
