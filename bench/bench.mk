# `make bench` (issue 7): oaichat against libcurl used from C, the official
# OpenAI Node SDK and the curl program, on a local nginx. Prints the table and
# writes bench/results.md. Included from the Makefile (uses LUA, BUILD, RUN_ENV).
#   make bench BENCH_ROUNDS=3      fewer rounds
#   make bench BENCH_QUICK=1       one short round, results.md left alone
#   make bench BENCH_ONLY=callgrind  the instruction counts only
BENCH_PKGS := nginx curl time util-linux valgrind liblua5.4-dev lua-cjson
BENCH_ROUNDS ?= 5
BENCH_QUICK ?= 0
BENCH_ONLY ?=

.PHONY: bench bench-deps bench-base64 bench-poll
bench-deps: deps
	@sh tools/deps.sh $(BENCH_PKGS)
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || sh tools/deps.sh nodejs npm

bench: bench-deps
	@$(MAKE) --no-print-directory build
	$(RUN_ENV) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) sh bench/run.sh

# Base64 of a 10 MiB image against allocating its result, on each Lua.
bench-base64: build
	$(RUN_ENV) $(LUA) bench/base64.lua

# poll(0) with 100 requests in flight against core.now(), and a 16 ms frame
# loop's lateness: the timing spec/nonblocking_spec.lua leaves out.
bench-poll: build
	$(RUN_ENV) $(LUA) bench/poll.lua
