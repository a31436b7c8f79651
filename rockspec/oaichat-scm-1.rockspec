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
supported_platforms = { "unix" }
dependencies = {
   "lua >= 5.1",
   "lua-cjson >= 2.1.0",
}
-- Only the library is looked up: Debian keeps curl/curl.h under the
-- multiarch include directory, which the compiler searches by itself but
-- LuaRocks 3.8's header check does not.
external_dependencies = {
   CURL = { library = "curl" },
}
-- Built by the Makefile's rock-build target into build/rock-<lua>/, outside
-- the source tree: a core.so left beside the sources would be found through
-- ./?.so by other interpreters (LuaJIT in Neovim and LÖVE).
build = {
   type = "make",
   build_target = "rock-build",
   build_variables = {
      CC = "$(CC)", CFLAGS = "$(CFLAGS)", LIBFLAG = "$(LIBFLAG)",
      LUA_INCDIR = "$(LUA_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
   },
   install_target = "rock-install",
   install_variables = {
      LUA_INCDIR = "$(LUA_INCDIR)", LIBDIR = "$(LIBDIR)", LUADIR = "$(LUADIR)",
   },
   install = {
      bin = { oaichat = "bin/oaichat" },
   },
}
test_dependencies = { "busted" }
test = {
   type = "busted",
   flags = { "--helper=spec/support/helper.lua", "-o", "spec/support/summary.lua" },
}
