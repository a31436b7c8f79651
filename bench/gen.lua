-- Writes the benchmark's fixed data into DIR: the request bodies, the
-- completion that nginx returns, and SSE bodies of 1k, 10k and 100k chunks.
--
--   lua bench/gen.lua DIR
--
-- Chunks look like OpenAI's (role chunk first, content deltas, a finish chunk,
-- then [DONE]) so that parsing and decoding cost what they cost in real use.
-- Deterministic: the same bytes on every run.

local M = {}

M.MODEL = "gpt-5.5"
M.PROMPT = "Say hello in one short sentence."
M.COUNTS = { s1k = 1000, s10k = 10000, s100k = 100000 }

local ID = "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0KlMn"
local CREATED = 1764000000
local FINGERPRINT = "fp_b3nch5a1e"

-- Content pieces cycle through these (token-like, a few needing escapes).
local WORDS = { " Hello", "!", " How", " can", " I", " help", " you", " today", "?",
  " The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".",
  "\\n\\n", " It", "\\u2019s", " a", " \\\"test\\\"", " sentence", "," }

function M.request_body(stream)
  return ('{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}')
    :format(M.MODEL, M.PROMPT, stream and ',"stream":true' or "")
end

-- The fixed completion; no backslash or quote so it fits nginx's `return`.
function M.completion()
  return table.concat({
    '{"id":"', ID, '","object":"chat.completion","created":', CREATED,
    ',"model":"', M.MODEL, '","choices":[{"index":0,"message":{"role":"assistant",',
    '"content":"Hello! How can I help you today? I am a fixed answer from the benchmark server.",',
    '"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],',
    '"usage":{"prompt_tokens":14,"completion_tokens":19,"total_tokens":33,',
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},',
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,',
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},',
    '"service_tier":"default","system_fingerprint":"', FINGERPRINT, '"}',
  })
end

local HEAD = ('data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":"%s",'
  .. '"service_tier":"default","system_fingerprint":"%s","choices":[{"index":0,"delta":')
  :format(ID, CREATED, M.MODEL, FINGERPRINT)

local function chunk(delta, finish)
  return ('%s%s,"logprobs":null,"finish_reason":%s}]}\n\n'):format(HEAD, delta, finish)
end

-- n chunks in all: the role chunk, n - 2 content chunks, the finish chunk.
function M.sse(n)
  local out = { chunk('{"role":"assistant","content":"","refusal":null}', "null") }
  for i = 1, n - 2 do
    out[#out + 1] = chunk(('{"content":"%s"}'):format(WORDS[(i - 1) % #WORDS + 1]), "null")
  end
  out[#out + 1] = chunk("{}", '"stop"')
  out[#out + 1] = "data: [DONE]\n\n"
  return table.concat(out)
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function M.main(dir)
  write(dir .. "/body.json", M.request_body(false))
  write(dir .. "/body_stream.json", M.request_body(true))
  write(dir .. "/completion.json", M.completion())
  for name, n in pairs(M.COUNTS) do write(("%s/%s.sse"):format(dir, name), M.sse(n)) end
end

if arg and arg[0] and arg[0]:match("gen%.lua$") then
  M.main(assert(arg[1], "usage: lua bench/gen.lua DIR"))
end

return M
