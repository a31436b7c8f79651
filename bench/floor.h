/* The floor contender of the benchmark (issue 12): bench/c_baseline.c built
 * with -DBENCH_FLOOR, so libcurl is driven by the very same code, and every
 * response body, and every SSE `data:` payload, is decoded with lua-cjson
 * into a Lua table inside an embedded Lua 5.4 state. Nothing else is done
 * with the data: that is the most any binding using this JSON library can
 * reach. The SSE split is the least that works on the benchmark's bodies
 * (events end at a blank line, one `data: ` line each).
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

typedef struct floor_buf {
  char *data;
  size_t len, cap;
} floor_buf;

static lua_State *floor_L; /* index 1: cjson's decode, of a cjson.new() */
static long long floor_chunks;

static void floor_die(const char *what) {
  fprintf(stderr, "c_floor: %s\n", what);
  exit(1);
}

static void floor_init(void) {
  floor_L = luaL_newstate();
  if (!floor_L) floor_die("cannot create a Lua state");
  luaL_openlibs(floor_L);
  if (luaL_dostring(floor_L, "return require('cjson').new().decode") != 0)
    floor_die(lua_tostring(floor_L, -1));
}

/* Decodes p[0..n) into a table, which becomes garbage at once (as a caller
   that looks at a field and drops the table would leave it). */
static void floor_decode(const char *p, size_t n) {
  lua_pushvalue(floor_L, 1);
  lua_pushlstring(floor_L, p, n);
  if (lua_pcall(floor_L, 1, 1, 0) != 0 || !lua_istable(floor_L, -1))
    floor_die("a payload did not decode to a table");
  lua_pop(floor_L, 1);
}

static void floor_append(floor_buf *b, const char *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) floor_die("out of memory");
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* Write callback of a whole body: buffered, decoded when the transfer ends. */
static size_t floor_body(char *p, size_t size, size_t n, void *ud) {
  bytes_in += (long long)(size * n);
  floor_append(ud, p, size * n);
  return size * n;
}

static void floor_body_done(floor_buf *b) {
  floor_decode(b->data, b->len);
  b->len = 0;
}

/* Write callback of a stream: each complete event's payload is decoded as
   it arrives; the rest waits for the next write. */
static size_t floor_sse(char *p, size_t size, size_t n, void *ud) {
  floor_buf *b = ud;
  size_t at = 0;
  bytes_in += (long long)(size * n);
  floor_append(b, p, size * n);
  for (;;) {
    char *ev = b->data + at, *end = memmem(ev, b->len - at, "\n\n", 2);
    size_t len;
    if (!end) break;
    len = (size_t)(end - ev);
    if (len > 6 && memcmp(ev, "data: ", 6) == 0 && !(len == 12 && memcmp(ev + 6, "[DONE]", 6) == 0)) {
      floor_decode(ev + 6, len - 6);
      floor_chunks++;
    }
    at += len + 2;
  }
  memmove(b->data, b->data + at, b->len - at);
  b->len -= at;
  return size * n;
}
