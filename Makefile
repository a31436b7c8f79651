# oaichat — build, test and demo. `make test` and `make demo` install what
# they need (Debian packages, as root) before building.

LUA_VERSION ?= 5.4
CC ?= cc
BUILD := build/$(LUA_VERSION)

ifeq ($(LUA_VERSION),jit)
LUA := luajit
LUA_INC := /usr/include/luajit-2.1
LUA_PKGS := luajit libluajit-5.1-dev
else ifeq ($(LUA_VERSION),5.1)
LUA := lua5.1
LUA_INC := /usr/include/lua5.1
LUA_PKGS := lua5.1 liblua5.1-0-dev
else
LUA := lua$(LUA_VERSION)
LUA_INC := /usr/include/lua$(LUA_VERSION)
LUA_PKGS := lua$(LUA_VERSION) liblua$(LUA_VERSION)-dev
endif

# `make demo` needs only a compiler, libcurl, lua-cjson, LuaSocket (the local
# server) and the interpreter; `make test` adds what the specs drive.
DEMO_PKGS := gcc libc6-dev make libcurl4-openssl-dev lua-cjson lua-socket ca-certificates $(LUA_PKGS)
BASE_PKGS := gcc libc6-dev make pkg-config libcurl4-openssl-dev lua-cjson lua-busted lua-socket lua-sec openssl ca-certificates neovim nginx luajit libluajit-5.1-dev lua-readline lua-luv tmux luarocks zip git
TEST_PKGS := $(BASE_PKGS) $(LUA_PKGS)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) -I$(LUA_INC) -Icsrc
LDLIBS := -lcurl

SRCS := csrc/core.c csrc/http.c csrc/json.c csrc/sse.c csrc/buf.c csrc/base64.c
OBJS := $(SRCS:csrc/%.c=$(BUILD)/obj/%.o)
MODULE := $(BUILD)/oaichat/core.so

# What the specs and tools see: the build's module and the checkout's Lua.
RUN_ENV := LUA_PATH="./lua/?.lua;./lua/?/init.lua;./?.lua;;" \
	LUA_CPATH="./$(BUILD)/?.so;;" OAICHAT_LUA=$(LUA)
BUSTED := $(RUN_ENV) $(LUA) /usr/bin/busted --helper=spec/support/helper.lua \
	-o spec/support/summary.lua

.PHONY: all build deps test test-all specs jit-build test-c check-memory clean fuzz lint demo rock rock-build rock-install

all: build
build: $(MODULE)

# The specs' LD_PRELOAD shims (a slow resolver, an fopen counter), used in
# child processes.
SHIM := build/slow_dns.so build/count_open.so build/count_curl_init.so
build/%.so: spec/support/%.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 $(WARN) $< -o $@ -ldl

$(BUILD)/obj/%.o: csrc/%.c csrc/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	@mkdir -p $(@D)
	$(CC) -shared $(ALL_CFLAGS) -o $@ $(OBJS) $(LDLIBS)

deps:
	@sh tools/deps.sh $(TEST_PKGS)

# The C unit tests of the SSE parser, then the busted specs.
test: deps
	@$(MAKE) --no-print-directory build $(SHIM) jit-build
	@$(MAKE) --no-print-directory test-c
	$(BUSTED) spec

# The spec suite on every supported Lua: 5.4, 5.3, 5.2, 5.1 and LuaJIT 2.1.
ALL_VERSIONS := 5.4 5.3 5.2 5.1 jit
test-all:
	@for v in $(ALL_VERSIONS); do \
		echo "== Lua $$v"; \
		$(MAKE) --no-print-directory LUA_VERSION=$$v deps build || exit 1; \
	done
	@failed=0; for v in $(ALL_VERSIONS); do \
		echo "== specs on Lua $$v"; \
		$(MAKE) --no-print-directory LUA_VERSION=$$v specs || failed=1; \
	done; exit $$failed

specs: build $(SHIM) jit-build
	$(BUSTED) spec

# spec/nvim_spec.lua runs Neovim's LuaJIT, which loads build/jit: the specs
# never build anything themselves.
jit-build:
	@$(MAKE) --no-print-directory LUA_VERSION=jit build
	@# ... and from LuaJIT they load build/5.4 once, to see the wrong-Lua hint.
	@$(MAKE) --no-print-directory LUA_VERSION=5.4 build

# Static checks: luacheck on every Lua file, cppcheck on the C sources
# (any finding fails, style included).
lint:
	@sh tools/deps.sh lua-check cppcheck
	luacheck lua spec bin examples bench tools
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability,style \
		--std=c99 --suppress=missingIncludeSystem -DLUA_VERSION_NUM=504 -Icsrc csrc/

# The SSE parser's cases, and every provider fixture replayed at every split.
SSE_FIXTURES := $(wildcard spec/fixtures/providers/*.sse)
test-c: $(BUILD)/sse_test
	@$(BUILD)/sse_test $(SSE_FIXTURES)

$(BUILD)/sse_test: test/sse_test.c csrc/sse.c csrc/sse.h
	@mkdir -p $(@D)
	$(CC) -std=c99 $(WARN) -O1 -g -Icsrc csrc/sse.c test/sse_test.c -o $@

# The whole spec suite with the C module built under AddressSanitizer and
# UndefinedBehaviorSanitizer (preloaded into the stock interpreter): any
# invalid access or undefined behaviour fails the run, in the specs' own
# process and in the Lua children they start; LeakSanitizer checks the specs'
# process at the end of the suite (summary.lua), so leaks in C fail it too.
ASAN_BUILD := build/asan-$(LUA_VERSION)
# float-cast-overflow is not part of -fsanitize=undefined (GCC and clang
# alike): a double cast to an integer it does not fit is UB, so ask for it.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
	-fno-sanitize-recover=undefined,float-cast-overflow
ASAN_LIBS := $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)

$(ASAN_BUILD)/oaichat/core.so: $(SRCS) csrc/*.h
	@mkdir -p $(@D)
	$(CC) -shared -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC $(WARN) $(ASAN_FLAGS) -I$(LUA_INC) -Icsrc \
		-o $@ $(SRCS) $(LDLIBS)

check-memory: deps build $(SHIM) jit-build $(ASAN_BUILD)/oaichat/core.so $(BUILD)/sse_test_asan
	$(BUILD)/sse_test_asan $(SSE_FIXTURES)
	LD_PRELOAD="$(ASAN_LIBS)" ASAN_OPTIONS=detect_leaks=0:exitcode=99 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LUA_PATH="./lua/?.lua;./lua/?/init.lua;./?.lua;;" LUA_CPATH="./$(ASAN_BUILD)/?.so;;" \
		OAICHAT_PLAIN_CPATH="./$(BUILD)/?.so;;" OAICHAT_LUA=$(LUA) OAICHAT_SANITIZED=1 \
		$(LUA) /usr/bin/busted --helper=spec/support/helper.lua -o spec/support/summary.lua spec

$(BUILD)/sse_test_asan: test/sse_test.c csrc/sse.c csrc/sse.h
	@mkdir -p $(@D)
	$(CC) -std=c99 $(WARN) $(ASAN_FLAGS) -Icsrc csrc/sse.c test/sse_test.c -o $@

# libFuzzer, bounded: the SSE parser (differential: sliced vs whole input)
# and the JSON glue over lua-cjson (decode never crashes; what decodes
# round-trips). Each runs FUZZ_SECONDS on a scratch copy of its corpus.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c99 -D_POSIX_C_SOURCE=200809L -Icsrc
fuzz: deps
	@sh tools/deps.sh clang libclang-rt-14-dev liblua5.4-dev
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) csrc/sse.c test/fuzz_sse.c -o build/fuzz/fuzz_sse
	clang $(FUZZ_FLAGS) -I/usr/include/lua5.4 test/fuzz_json.c $(SRCS) -llua5.4 -lcurl -o build/fuzz/fuzz_json
	@rm -rf build/fuzz/sse_corpus build/fuzz/json_corpus
	@cp -r test/sse_corpus build/fuzz/sse_corpus && cp -r test/json_corpus build/fuzz/json_corpus
	build/fuzz/fuzz_sse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-print_final_stats=1 build/fuzz/sse_corpus
	build/fuzz/fuzz_json -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 \
		-print_final_stats=1 build/fuzz/json_corpus

demo:
	@sh tools/deps.sh $(DEMO_PKGS)
	@$(MAKE) --no-print-directory build
	$(RUN_ENV) sh tools/demo.sh

# LuaRocks' build (rockspec/*.rockspec, type "make"): LuaRocks passes its
# LUA_INCDIR, CFLAGS, LIBFLAG, CURL_LIBDIR and install dirs. Objects go to
# build/rock-<lua>/, never beside the sources, so no Lua 5.4 core.so lands
# where another interpreter's ./?.so would find it.
ROCK_BUILD = build/rock-$(notdir $(LUA_INCDIR))
rock-build:
	@rm -rf $(ROCK_BUILD) && mkdir -p $(ROCK_BUILD)/oaichat
	$(CC) $(CFLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L -fvisibility=hidden -I$(LUA_INCDIR) -Icsrc \
		$(LIBFLAG) -o $(ROCK_BUILD)/oaichat/core.so $(SRCS) -L$(CURL_LIBDIR) -lcurl
rock-install:
	mkdir -p $(LIBDIR)/oaichat $(LUADIR)/oaichat
	cp $(ROCK_BUILD)/oaichat/core.so $(LIBDIR)/oaichat/core.so
	cp lua/oaichat/*.lua $(LUADIR)/oaichat/

# A source rock of the release rockspec from the checkout (uncommitted
# changes included), installed into a temporary tree and run from there.
VERSION := $(shell sed -n 's/^\#define CORE_VERSION "\(.*\)"$$/\1/p' csrc/core.c)
rock:
	@sh tools/deps.sh luarocks zip git $(LUA_PKGS) $(DEMO_PKGS)
	sh tools/rock.sh $(VERSION) $(LUA_VERSION)

clean:
	rm -rf build

include bench/bench.mk
