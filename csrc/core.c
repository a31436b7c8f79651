/* Lua bindings of oaichat.core: sessions, transfers and JSON.
 *
 * Every function here shares two upvalues, cjson's encode and decode from
 * an instance of our own (cjson.new()), so no C global holds Lua state. */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CORE_LEAK_CHECK 1
#endif

#include "base64.h"
#include "compat.h"
#include "http.h"
#include "json.h"

#define CORE_VERSION "0.1.0"
#define MULTI_MT "oaichat.multi"
#define MULTI_KEY "oaichat.multi.instance" /* registry: the state's multi */
#define SESSION_MT "oaichat.session"
#define TRANSFER_MT "oaichat.transfer"
#define ENCODE_FN lua_upvalueindex(1)
#define DECODE_FN lua_upvalueindex(2)

typedef struct core_session {
  http_session http;
  int open;
} core_session;

/* Open sessions or attached transfers below which no full GC is forced: an
   unclosed client or stream (a `break` on 5.1) holds sockets the collector
   cannot see. */
#define CORE_GC_MIN_LIVE 64

typedef struct core_transfer {
  http_transfer http;
  int live;
} core_transfer;

/* ---- helpers -------------------------------------------------------- */

static core_session *core_check_session(lua_State *L, int i) {
  core_session *s = luaL_checkudata(L, i, SESSION_MT);
  if (!s->open) luaL_error(L, "oaichat: the client's session is closed");
  return s;
}

static core_transfer *core_check_transfer(lua_State *L, int i) {
  return luaL_checkudata(L, i, TRANSFER_MT);
}

static const char *core_opt_string(lua_State *L, int t, const char *k) {
  const char *v = NULL;
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "oaichat: request field '%s' must be a string", k);
    v = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* the string stays alive: it is referenced by the spec table */
  return v;
}

static double core_opt_number(lua_State *L, int t, const char *k) {
  double v = 0;
  lua_getfield(L, t, k);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "oaichat: request field '%s' must be a number", k);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int core_opt_bool(lua_State *L, int t, const char *k) {
  int v;
  lua_getfield(L, t, k);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Seconds to whole milliseconds, clamped (NaN: 0, i.e. none): a cast of
   an out-of-range double is undefined behaviour. */
static long core_ms(double seconds) {
  if (!(seconds > 0)) return 0;
  if (seconds > 2e6) return 2000000000L;
  return (long)ceil(seconds * 1000.0);
}

/* A byte count from a double, clamped to size_t (NaN or <= 0: 0). */
static size_t core_size(double v) {
  if (!(v > 0)) return 0;
  if (v >= (double)SIZE_MAX) return SIZE_MAX;
  return (size_t)v;
}

/* Argument i as a poll timeout in ms: none/nil gives dflt, < 0 gives -1 (no
   limit), beyond 2e9 ms (23 days) is clamped; NaN or a non-number raises. */
static long core_opt_ms(lua_State *L, int i, long dflt) {
  double ms;
  if (lua_isnoneornil(L, i)) return dflt;
  ms = luaL_checknumber(L, i);
  if (ms != ms) luaL_argerror(L, i, "timeout_ms is NaN");
  if (ms < 0) return -1;
  if (ms > 2e9) return 2000000000L;
  return (long)ms;
}

/* Validates every header line first, so building the list cannot raise
   halfway and leak it. */
static struct curl_slist *core_header_list(lua_State *L, int t) {
  struct curl_slist *list = NULL, *next;
  int i, n;
  lua_getfield(L, t, "headers");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  n = (int)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *h;
    lua_rawgeti(L, -1, i);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "oaichat: header %d must be a string", i);
    h = lua_tolstring(L, -1, &len);
    if (strlen(h) != len || strpbrk(h, "\r\n") != NULL)
      luaL_error(L, "oaichat: header %d contains CR, LF or NUL; refusing to send it", i);
    lua_pop(L, 1);
  }
  for (i = 0; i <= n; i++) {
    const char *h = "Expect:"; /* never wait for 100-continue */
    if (i > 0) {
      lua_rawgeti(L, -1, i);
      h = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    next = curl_slist_append(list, h);
    if (next == NULL) {
      curl_slist_free_all(list);
      luaL_error(L, "oaichat: out of memory building headers");
    }
    list = next;
  }
  lua_pop(L, 1);
  return list;
}

/* ---- session -------------------------------------------------------- */

static int core_encode(lua_State *L);

static void core_gc_pressure(lua_State *L, http_multi *m);

static int core_multi_close(lua_State *L) {
  http_multi *m = luaL_checkudata(L, 1, MULTI_MT);
  http_multi_close(m);
  return 0;
}

static int core_multi_tostring(lua_State *L) {
  lua_pushfstring(L, "oaichat.multi (%p)", lua_touserdata(L, 1));
  return 1;
}

/* The lua_State's multi handle, made on first use and kept in the registry
   until the state closes (so it is finalised after every session). */
static http_multi *core_get_multi(lua_State *L) {
  http_multi *m;
  lua_getfield(L, LUA_REGISTRYINDEX, MULTI_KEY);
  m = lua_touserdata(L, -1); /* only this file sets MULTI_KEY */
  lua_pop(L, 1);
  if (m != NULL) return m;
  m = lua_newuserdata(L, sizeof(*m));
  if (http_multi_init(m) != 0) luaL_error(L, "oaichat: curl_multi_init failed");
  m->gc_limit = m->gc_session_limit = CORE_GC_MIN_LIVE;
  luaL_getmetatable(L, MULTI_MT);
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, MULTI_KEY);
  return m;
}

static int core_session_new(lua_State *L) {
  http_multi *m = core_get_multi(L);
  core_session *s;
  core_gc_pressure(L, m);
  s = lua_newuserdata(L, sizeof(*s));
  memset(s, 0, sizeof(*s));
  if (http_session_init(&s->http, m) != 0) return luaL_error(L, "oaichat: curl_share_init failed");
  s->open = 1;
  luaL_getmetatable(L, SESSION_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int core_session_close(lua_State *L) {
  core_session *s = luaL_checkudata(L, 1, SESSION_MT);
  if (s->open) {
    http_session_close(&s->http);
    s->open = 0;
  }
  return 0;
}

/* Clients and transfers dropped without close() keep sockets open until
   collected, and the collector cannot see them: past a bound of open
   sessions or attached transfers, collect now, and let the bound follow
   what the program really keeps (twice the survivors). */
static int core_gc_limit(int live) {
  return live * 2 > CORE_GC_MIN_LIVE ? live * 2 : CORE_GC_MIN_LIVE;
}

static void core_gc_pressure(lua_State *L, http_multi *m) {
  if (m->nattached < m->gc_limit && m->nsessions < m->gc_session_limit) return;
  lua_gc(L, LUA_GCCOLLECT, 0);
  m->gc_limit = core_gc_limit(m->nattached);
  m->gc_session_limit = core_gc_limit(m->nsessions);
}

static int core_session_step(lua_State *L) {
  core_session *s = core_check_session(L, 1);
  long ms = core_opt_ms(L, 2, 0);
  lua_pushinteger(L, http_session_step(&s->http, ms));
  return 1;
}

/* session:is_open(): false once closed (its calls then end as canceled). */
static int core_session_is_open(lua_State *L) {
  core_session *s = luaL_checkudata(L, 1, SESSION_MT);
  lua_pushboolean(L, s->open);
  return 1;
}

static int core_session_pending(lua_State *L) {
  core_session *s = core_check_session(L, 1);
  lua_pushinteger(L, s->http.nattached);
  return 1;
}

static int core_session_tostring(lua_State *L) {
  lua_pushfstring(L, "oaichat.session (%p)", lua_touserdata(L, 1));
  return 1;
}

/* session:start(spec) -> transfer. The spec table is built by the Lua layer. */
/* A body given as a table is encoded here once, and the spec keeps the
   text for later attempts. Returns 0, or pushes the encoder's message. */
static int core_encode_body(lua_State *L, int spec) {
  lua_getfield(L, spec, "body");
  if (lua_type(L, -1) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, ENCODE_FN);
  lua_pushvalue(L, DECODE_FN);
  lua_pushcclosure(L, core_encode, 2);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != 0) return -1;
  lua_setfield(L, spec, "body");
  return 0;
}

/* session:start(spec) -> transfer | nil, "closed" | nil, "encode", message.
   The spec table is built by the Lua layer; its body may be a table. */
static int core_session_start(lua_State *L) {
  core_session *s = luaL_checkudata(L, 1, SESSION_MT);
  http_request r;
  core_transfer *t;
  size_t body_len = 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!s->open) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (core_encode_body(L, 2) != 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "encode");
    lua_pushvalue(L, -3);
    return 3;
  }
  core_gc_pressure(L, s->http.m);
  if (!s->open) { /* a finaliser closed it */
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  memset(&r, 0, sizeof(r));
  r.url = core_opt_string(L, 2, "url");
  if (r.url == NULL) return luaL_error(L, "oaichat: request needs a url");
  r.method = core_opt_string(L, 2, "method");
  lua_getfield(L, 2, "body");
  r.body = lua_tolstring(L, -1, &body_len);
  r.body_len = body_len;
  lua_pop(L, 1);
  r.connect_timeout_ms = core_ms(core_opt_number(L, 2, "connect_timeout"));
  r.timeout_ms = core_ms(core_opt_number(L, 2, "timeout"));
  r.idle_timeout_ms = core_ms(core_opt_number(L, 2, "idle_timeout"));
  r.max_bytes = core_size(core_opt_number(L, 2, "max_bytes"));
  r.user_agent = core_opt_string(L, 2, "user_agent");
  r.proxy = core_opt_string(L, 2, "proxy");
  r.ca_file = core_opt_string(L, 2, "ca_file");
  r.ca_path = core_opt_string(L, 2, "ca_path");
  r.insecure = core_opt_bool(L, 2, "insecure");
  r.stream = core_opt_bool(L, 2, "stream");
  r.verbose = core_opt_bool(L, 2, "verbose");
  r.headers = core_header_list(L, 2); /* last: nothing below may raise */
  t = lua_newuserdata(L, sizeof(*t));
  memset(t, 0, sizeof(*t));
  t->live = 1;
  if (http_transfer_start(&s->http, &t->http, &r) != 0) {
    /* keep the message: free() below clears nothing in errbuf */
    http_transfer_free(&t->http);
    t->live = 0;
    return luaL_error(L, "oaichat: %s", t->http.errbuf);
  }
  luaL_getmetatable(L, TRANSFER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* ---- transfer ------------------------------------------------------- */

/* Whether JSON text is an object (its first non-blank byte is '{'). */
static int core_is_object(const char *p, size_t len) {
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) i++;
  return i < len && p[i] == '{';
}

/* Pushes the results of one SSE event, decided here once: "chunk", object |
   "error", decoded or nil, raw (an `event: error` or a payload with a
   non-null "error") | "bad", raw, why (not JSON, or JSON but not an object:
   decode errors). Returns the number of values. */
static int core_push_event(lua_State *L, int kind, const char *data, size_t len) {
  if (json_decode(L, DECODE_FN, data, len)) {
    int is_error = kind == HTTP_EVENT_ERROR;
    if (!is_error && lua_type(L, -1) == LUA_TTABLE) {
      lua_getfield(L, -1, "error");
      is_error = !lua_isnil(L, -1) && lua_type(L, -1) != LUA_TLIGHTUSERDATA;
      lua_pop(L, 1);
    }
    if (!is_error && !core_is_object(data, len)) {
      /* [1,2,3] decodes to a table too; as a completion it is a decode error */
      lua_pop(L, 1);
      lua_pushliteral(L, "bad");
      lua_pushlstring(L, data, len);
      lua_pushliteral(L, "not an object");
      return 3;
    }
    lua_pushstring(L, is_error ? "error" : "chunk");
    lua_insert(L, -2);
    if (!is_error) return 2;
    lua_pushlstring(L, data, len);
    return 3;
  }
  if (kind == HTTP_EVENT_ERROR) {
    lua_pop(L, 1);
    lua_pushliteral(L, "error");
    lua_pushnil(L);
    lua_pushlstring(L, data, len);
    return 3;
  }
  lua_pushliteral(L, "bad"); /* below the decoder's message */
  lua_insert(L, -2);
  lua_pushlstring(L, data, len);
  lua_insert(L, -2);
  return 3;
}

static const char *core_abort_name(int reason) {
  switch (reason) {
  case HTTP_ABORT_LIMIT: return "limit";
  case HTTP_ABORT_IDLE: return "idle";
  case HTTP_ABORT_CANCEL: return "canceled";
  case HTTP_ABORT_NOMEM: return "nomem";
  case HTTP_ABORT_HEADERS: return "headers";
  default: return NULL;
  }
}

/* Pushes a table of the response headers, names lower-cased; a repeated
   header's values are joined with ", ". */
static void core_push_headers(lua_State *L, const buf *head) {
  http_header_iter it;
  const char *name, *value;
  size_t nlen, vlen;
  lua_newtable(L);
  http_header_begin(&it, head);
  while (http_header_next(&it, &name, &nlen, &value, &vlen)) {
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushlstring(L, value, vlen);
    } else {
      lua_pushliteral(L, ", ");
      lua_pushlstring(L, value, vlen);
      lua_concat(L, 3);
    }
    lua_rawset(L, -3);
  }
}

static void core_set_int(lua_State *L, const char *k, long v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static void core_set_string(lua_State *L, const char *k, const char *v) {
  if (v == NULL) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* A body the caller gets decoded: a 2xx answer to a request (not a stream).
   Sets info.value to the object, or info.body and info.why when it is not a
   JSON object; any other body is info.body as is. */
static void core_set_body(lua_State *L, const http_transfer *h) {
  const char *data = h->body.data ? h->body.data : "";
  if (!h->stream && h->result == CURLE_OK && h->status >= 200 && h->status <= 299) {
    if (json_decode(L, DECODE_FN, data, h->body.len)) {
      if (lua_type(L, -1) == LUA_TTABLE && core_is_object(data, h->body.len)) {
        lua_setfield(L, -2, "value");
        return;
      }
      lua_pop(L, 1);
      lua_pushliteral(L, "expected a JSON object");
    }
    lua_setfield(L, -2, "why");
  }
  lua_pushlstring(L, data, h->body.len);
  lua_setfield(L, -2, "body");
}

/* Pushes what a transfer reports: {done, code, error, failure, what,
   status, headers, body | value, abort, got_response, sse_done, sse, bytes,
   time, started, now, ip}. */
static void core_push_info(lua_State *L, core_transfer *t) {
  http_transfer *h = &t->http;
  http_failure f = http_classify(h->result);
  double elapsed = 0;
  lua_createtable(L, 0, 16);
  lua_pushboolean(L, h->done || !t->live);
  lua_setfield(L, -2, "done");
  core_set_int(L, "code", (long)h->result);
  if (h->result != CURLE_OK) {
    core_set_string(L, "error", h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result));
    core_set_string(L, "failure", f.kind);
    core_set_string(L, "what", f.what);
  }
  core_set_int(L, "status", h->status);
  core_push_headers(L, &h->head);
  lua_setfield(L, -2, "headers");
  core_set_body(L, h);
  core_set_string(L, "abort", core_abort_name(h->abort_reason));
  lua_pushboolean(L, h->head.len > 0);
  lua_setfield(L, -2, "got_response");
  lua_pushboolean(L, h->sse_status == SSE_DONE);
  lua_setfield(L, -2, "sse_done");
  lua_pushboolean(L, h->mode == 1);
  lua_setfield(L, -2, "sse");
  core_set_int(L, "bytes", (long)h->bytes_in);
  if (h->easy) {
    char *ip = NULL;
    curl_easy_getinfo(h->easy, CURLINFO_TOTAL_TIME, &elapsed);
    if (curl_easy_getinfo(h->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) core_set_string(L, "ip", ip);
  }
  lua_pushnumber(L, elapsed);
  lua_setfield(L, -2, "time");
  lua_pushnumber(L, h->start_ms / 1000.0); /* core.now()'s clock */
  lua_setfield(L, -2, "started");
  lua_pushnumber(L, http_now_ms() / 1000.0);
  lua_setfield(L, -2, "now");
}

/* transfer:info() -> what the transfer reports so far (see core_push_info). */
static int core_transfer_info(lua_State *L) {
  core_push_info(L, core_check_transfer(L, 1));
  return 1;
}

/* transfer:next([timeout_ms]) -> one step, the whole boundary of a stream
   or request: "chunk", object | "error", obj, raw | "bad", raw, why (see
   core_push_event) | "end", info (the transfer finished, or [DONE] came and
   its grace passed; it is freed) | nothing when timeout_ms passed first
   (nil or < 0: no limit). */
static int core_transfer_next(lua_State *L) {
  core_transfer *t = core_check_transfer(L, 1);
  long ms = core_opt_ms(L, 2, -1);
  int kind = 0, step;
  const char *data = NULL;
  size_t len = 0;
  if (!t->live) {
    lua_pushliteral(L, "closed");
    return 1;
  }
  step = http_transfer_next(&t->http, ms, &kind, &data, &len);
  if (step == HTTP_NEXT_EVENT) return core_push_event(L, kind, data, len);
  if (step == HTTP_NEXT_NONE) return 0;
  lua_pushliteral(L, "end");
  core_push_info(L, t);
  http_transfer_free(&t->http);
  t->live = 0;
  return 2;
}

static int core_transfer_close(lua_State *L) {
  core_transfer *t = core_check_transfer(L, 1);
  if (t->live) {
    http_transfer_free(&t->http);
    t->live = 0;
  }
  return 0;
}

static int core_transfer_tostring(lua_State *L) {
  lua_pushfstring(L, "oaichat.transfer (%p)", lua_touserdata(L, 1));
  return 1;
}

/* ---- module functions ------------------------------------------------ */

static int core_encode(lua_State *L) {
  luaL_checkany(L, 1);
  json_encode(L, ENCODE_FN, 1);
  return 1;
}

static int core_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (json_decode(L, DECODE_FN, s, len)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

static int core_now(lua_State *L) {
  lua_pushnumber(L, http_now_ms() / 1000.0);
  return 1;
}

static int core_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct timespec ts;
  if (!(s > 0)) return 0; /* NaN too */
  if (s > 1e6) s = 1e6;     /* the cast below must not overflow */
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
  return 0;
}

/* base64(s [, prefix]) -> prefix .. base64 of s, built in one buffer. */
static int core_base64(lua_State *L) {
  size_t len, plen = 0, olen;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *prefix = luaL_optlstring(L, 2, "", &plen);
  char *out;
  olen = base64_encoded_len(len);
  if (len > ((size_t)-1 / 4) * 3 - 3 || olen > (size_t)-1 - plen) return luaL_error(L, "oaichat: input too large to encode");
#if LUA_VERSION_NUM >= 502
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, prefix, plen);
  out = luaL_prepbuffsize(&b, olen);
  base64_encode((const unsigned char *)s, len, out);
  luaL_addsize(&b, olen);
  luaL_pushresult(&b);
#else
  /* 5.1's buffer grows in small steps (and LuaJIT's re-joins them): encode
     into one block instead. */
  out = lua_newuserdata(L, plen + olen);
  memcpy(out, prefix, plen);
  base64_encode((const unsigned char *)s, len, out + plen);
  lua_pushlstring(L, out, plen + olen);
  lua_remove(L, -2);
#endif
  return 1;
}

#ifdef CORE_LEAK_CHECK
/* Sanitizer builds only: LeakSanitizer's check while the state is alive,
   so the spec suite can fail on C leaks without checking every child. */
static int core_leak_check(lua_State *L) {
  lua_pushboolean(L, __lsan_do_recoverable_leak_check() != 0);
  return 1;
}
#endif

static const luaL_Reg core_session_methods[] = {
    {"start", core_session_start}, {"step", core_session_step},
    {"pending", core_session_pending}, {"close", core_session_close},
    {"is_open", core_session_is_open},
    {NULL, NULL}};

static const luaL_Reg core_transfer_methods[] = {
    {"next", core_transfer_next}, {"info", core_transfer_info},
    {"close", core_transfer_close}, {NULL, NULL}};

static const luaL_Reg core_functions[] = {
    {"session", core_session_new}, {"encode", core_encode}, {"decode", core_decode},
    {"now", core_now},             {"sleep", core_sleep},   {"base64", core_base64},
    {NULL, NULL}};

/* Creates metatable tname with methods (sharing the two JSON upvalues on
   top of the stack) and the given finaliser. */
static void core_new_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                           lua_CFunction gc, lua_CFunction tostr) {
  luaL_newmetatable(L, tname);
  lua_newtable(L);
  lua_pushvalue(L, -4);
  lua_pushvalue(L, -4);
  luaL_setfuncs(L, methods, 2);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, tostr);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}

/* Pushes module name as require would, without needing a global `require`
   (sandboxes drop it): package.loaded, else the package searchers (5.1:
   loaders), both reached through the registry. */
static void core_require(lua_State *L, const char *name) {
  int i;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "oaichat.core: no package.loaded to find %s in", name);
  lua_getfield(L, -1, name);
  if (lua_toboolean(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "package");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, "searchers");
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_getfield(L, -1, "loaders");
    }
  } else {
    lua_pushnil(L);
  }
  for (i = 1; lua_type(L, -1) == LUA_TTABLE; i++) {
    lua_rawgeti(L, -1, i);
    if (lua_isnil(L, -1)) break;
    lua_pushstring(L, name);
    lua_call(L, 1, 2); /* loader, extra | message */
    if (lua_type(L, -2) == LUA_TFUNCTION) {
      lua_pushstring(L, name);
      lua_insert(L, -2);
      lua_call(L, 2, 1);
      if (lua_isnil(L, -1)) { /* a loader that set package.loaded itself */
        lua_pop(L, 1);
        lua_getfield(L, -3, name);
      }
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
      }
      lua_pushvalue(L, -1);
      lua_setfield(L, -5, name);
      lua_replace(L, -4); /* _LOADED package searchers value -> value */
      lua_pop(L, 2);
      return;
    }
    lua_pop(L, 2);
  }
  luaL_error(L, "oaichat.core needs lua-cjson: module '%s' not found", name);
}

/* Pushes cjson.new() (settings kept private) with its encode and decode. */
static void core_load_cjson(lua_State *L) {
  core_require(L, "cjson");
  lua_getfield(L, -1, "new");
  if (lua_type(L, -1) != LUA_TFUNCTION) luaL_error(L, "oaichat.core: this cjson has no cjson.new()");
  lua_call(L, 0, 1);
  lua_remove(L, -2);
  json_setup(L, -1);
  lua_getfield(L, -1, "encode");
  lua_getfield(L, -2, "decode");
}

/* curl_global_init must run once per process, before any other thread uses
   libcurl; the once-flag and its result are the only C globals, written
   once under pthread_once (several lua_States may load us at a time). */
static pthread_once_t core_curl_once = PTHREAD_ONCE_INIT;
static CURLcode core_curl_rc = CURLE_FAILED_INIT;

static void core_curl_init(void) { core_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

OC_EXPORT int luaopen_oaichat_core(lua_State *L) {
  curl_version_info_data *vi;
  if (pthread_once(&core_curl_once, core_curl_init) != 0 || core_curl_rc != CURLE_OK)
    return luaL_error(L, "oaichat.core: curl_global_init failed: %s", curl_easy_strerror(core_curl_rc));
  core_load_cjson(L); /* instance, encode, decode */
  luaL_newmetatable(L, MULTI_MT);
  lua_pushcfunction(L, core_multi_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, core_multi_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  core_new_class(L, SESSION_MT, core_session_methods, core_session_close,
                 core_session_tostring);
  core_new_class(L, TRANSFER_MT, core_transfer_methods, core_transfer_close,
                 core_transfer_tostring);
  lua_newtable(L);
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  luaL_setfuncs(L, core_functions, 2);
  lua_getfield(L, -4, "null");
  lua_setfield(L, -2, "null");
  json_push_array_mt(L, -3); /* oaichat.array(): [] when empty */
  lua_setfield(L, -2, "array_mt");
  vi = curl_version_info(CURLVERSION_NOW);
  lua_pushstring(L, vi->version);
  lua_setfield(L, -2, "curl_version");
  lua_pushboolean(L, (vi->features & CURL_VERSION_SSL) != 0);
  lua_setfield(L, -2, "has_tls");
  lua_pushboolean(L, (vi->features & CURL_VERSION_HTTP2) != 0);
  lua_setfield(L, -2, "has_http2");
  lua_pushinteger(L, HTTP_MAX_HEADER_BYTES);
  lua_setfield(L, -2, "max_header_bytes");
  lua_pushliteral(L, CORE_VERSION);
  lua_setfield(L, -2, "version");
#ifdef CORE_LEAK_CHECK
  lua_pushcfunction(L, core_leak_check);
  lua_setfield(L, -2, "_leak_check");
#endif
  return 1;
}
