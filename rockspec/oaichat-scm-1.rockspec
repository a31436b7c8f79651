rockspec_format = "3.0"
package = "oaichat"
version = "scm-1"
source = {
   url = "git+https://github.com/oaichat/oaichat.git",
}
description = {
   summary = "Streaming, cancellable, non-blocking client for OpenAI-compatible chat APIs, in C over libcurl",
   detailed = [[
oaichat talks to OpenAI-compatible chat-completion services (StarMagic GPT-5.5 by
default; OpenAI, vLLM, llama.cpp, Ollama by changing base URL, key and model). It
streams, cancels, polls without blocking, verifies TLS and retries sensibly.
]],
   license = "MIT",
   labels = { "openai", "llm", "http", "curl", "sse" },
}
dependencies = {
   "lua >= 5.1",
   "lua-cjson",
}
-- Only the library is looked up: Debian keeps curl/curl.h under the
-- multiarch include directory, which the compiler searches by itself but
-- LuaRocks 3.8's header check does not.
external_dependencies = {
   CURL = { library = "curl" },
}
build = {
   type = "builtin",
   modules = {
      ["oaichat.core"] = {
         sources = { "csrc/core.c", "csrc/http.c", "csrc/json.c", "csrc/sse.c", "csrc/buf.c",
                     "csrc/base64.c" },
         defines = { "_POSIX_C_SOURCE=200809L" },
         libraries = { "curl" },
         incdirs = { "$(CURL_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)" },
      },
      ["oaichat"] = "lua/oaichat/init.lua",
      ["oaichat.client"] = "lua/oaichat/client.lua",
      ["oaichat.call"] = "lua/oaichat/call.lua",
      ["oaichat.config"] = "lua/oaichat/config.lua",
      ["oaichat.errors"] = "lua/oaichat/errors.lua",
      ["oaichat.retry"] = "lua/oaichat/retry.lua",
      ["oaichat.stream"] = "lua/oaichat/stream.lua",
      ["oaichat.accumulate"] = "lua/oaichat/accumulate.lua",
      ["oaichat.content"] = "lua/oaichat/content.lua",
      ["oaichat.conversation"] = "lua/oaichat/conversation.lua",
      ["oaichat.misuse"] = "lua/oaichat/misuse.lua",
   },
   install = {
      bin = { oaichat = "bin/oaichat" },
   },
}
