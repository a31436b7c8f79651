/* JSON glue over lua-cjson.
 *
 * lua-cjson 2.1.0 decodes every number with strtod and encodes with %.14g.
 * Decoding: a scan of the text records which number tokens were written as
 * integers, then a walk over the decoded value turns those back into Lua
 * integers (exactly, beyond 2^53 too). Encoding: integers %.14g would round
 * go through placeholders that are swapped for their digits afterwards. */
#include "json.h"

#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 1000

/* Number tokens cjson would get wrong are rewritten into marker strings,
   "\u0001f:1.0" (an integral float) or "\u0001i:<digits>" (an integer
   beyond 2^53), which the walk after decoding turns into exact numbers. */
#define JSON_NUM_MARK "\"\\u0001"
#define JSON_NUM_MARK_LEN (sizeof(JSON_NUM_MARK) - 1)

/* ---- UTF-8 ---------------------------------------------------------- */

static size_t json_utf8_seq(const unsigned char *p, size_t left) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    if (left >= 2 && (p[1] & 0xC0) == 0x80) return 2;
    return 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;      /* overlong */
    if (c == 0xED) hi = 0x9F;      /* UTF-16 surrogates */
    if (left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) return 3;
    return 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90;      /* overlong */
    if (c == 0xF4) hi = 0x8F;      /* above U+10FFFF */
    if (left >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
        (p[3] & 0xC0) == 0x80)
      return 4;
  }
  return 0;
}

int json_utf8_valid(const char *s, size_t len, size_t *bad) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    n = json_utf8_seq(p + i, len - i);
    if (n == 0) {
      if (bad) *bad = i;
      return 0;
    }
    i += n;
  }
  return 1;
}

/* ---- scan and decode ---------------------------------------------- */

/* 'f' for an integral value written as a float, 'i' for an integer too big
   for a double, 0 for a number cjson decodes well enough. */
static char json_number_class(const char *tok, size_t n) {
  char tmp[64];
  size_t i, digits = 0;
  int is_float = 0;
  double d;
  for (i = 0; i < n; i++) {
    if (tok[i] == '.' || tok[i] == 'e' || tok[i] == 'E') is_float = 1;
    if (tok[i] >= '0' && tok[i] <= '9') digits++;
  }
  if (!is_float) return digits > 15 && n < sizeof(tmp) ? 'i' : 0;
  if (n >= sizeof(tmp)) return 0;
  memcpy(tmp, tok, n);
  tmp[n] = '\0';
  d = strtod(tmp, NULL);
  return d == floor(d) && fabs(d) < 9.2e18 ? 'f' : 0;
}

/* Bytes that end a run of plain string bytes: '"', '\\' and non-ASCII. */
#define JSON_STRING_STOP(c) ((c) == '"' || (c) == '\\' || (c) >= 0x80)

/* Scans one string starting after its opening quote; returns the index
   after the closing quote, or (size_t)-1 with *bad set on invalid UTF-8. */
static size_t json_scan_string(const unsigned char *p, size_t i, size_t len, size_t *bad) {
  for (;;) {
    while (i < len && !JSON_STRING_STOP(p[i])) i++;
    if (i >= len) return len;
    if (p[i] == '"') return i + 1;
    if (p[i] == '\\') {
      i += 2;
    } else {
      size_t n = json_utf8_seq(p + i, len - i);
      if (n == 0) {
        *bad = i;
        return (size_t)-1;
      }
      i += n;
    }
  }
}

/* Checks UTF-8 and finds the numbers that need markers. With out set, also
   writes the text with those numbers marked. Returns the count of marked
   numbers, or -1 with *bad set on invalid UTF-8. */
static int json_scan(const char *s, size_t len, size_t *bad, int *numbers, buf *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, copied = 0;
  int marks = 0;
  while (i < len) {
    unsigned char c = p[i];
    if (c == '"') {
      i = json_scan_string(p, i + 1, len, bad);
      if (i == (size_t)-1) return -1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i;
      int odd = 0; /* a fraction or exponent: rare, classified below */
      char cls = 0;
      for (; i < len; i++) {
        unsigned char d = p[i];
        if (d >= '0' && d <= '9') continue;
        if (d == '.' || d == 'e' || d == 'E') odd = 1;
        else if (d != '-' && d != '+') break;
      }
      *numbers = 1;
      if (odd || i - start > 15) cls = json_number_class(s + start, i - start);
      if (cls) {
        marks++;
        if (out) {
          buf_append(out, s + copied, start - copied);
          buf_append(out, JSON_NUM_MARK, JSON_NUM_MARK_LEN);
          buf_append(out, &cls, 1);
          buf_append(out, ":", 1);
          buf_append(out, s + start, i - start);
          buf_append(out, "\"", 1);
          copied = i;
        }
      }
    } else if (c >= 0x80) {
      *bad = i; /* outside strings only ASCII is JSON */
      return -1;
    } else {
      i++;
    }
  }
  if (out) buf_append(out, s + copied, len - copied);
  return marks;
}

#if COMPAT_HAS_INTEGERS
/* Replaces the value on top (a number or a marker string) with its exact
   number. Returns 1 if it changed anything. */
static int json_fix_value(lua_State *L, int marks) {
  if (lua_type(L, -1) == LUA_TNUMBER) {
    double d;
    if (lua_isinteger(L, -1)) return 0;
    d = lua_tonumber(L, -1);
    if (d != floor(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) return 0;
    lua_pop(L, 1);
    lua_pushinteger(L, (lua_Integer)d);
    return 1;
  }
  if (marks && lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *v = lua_tolstring(L, -1, &n);
    if (n > 3 && v[0] == '\001' && v[2] == ':' && (v[1] == 'f' || v[1] == 'i')) {
      char cls = v[1];
      double d = strtod(v + 3, NULL);
      long long i = 0;
      if (cls == 'i') {
        errno = 0;
        i = strtoll(v + 3, NULL, 10);
        if (errno == ERANGE) cls = 'f'; /* beyond 64 bits: a float, as JSON readers do */
      }
      lua_pop(L, 1);
      if (cls == 'f') lua_pushnumber(L, d);
      else lua_pushinteger(L, (lua_Integer)i);
      return 1;
    }
  }
  return 0;
}

/* Walks the decoded value: integral numbers written as integers become Lua
   integers, marker strings become their exact numbers. */
static void json_fix_table(lua_State *L, int t, int marks, int depth) {
  if (depth > JSON_MAX_DEPTH) return;
  luaL_checkstack(L, 4, "JSON nesting too deep");
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      json_fix_table(L, lua_gettop(L), marks, depth + 1);
    } else if (json_fix_value(L, marks)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, t); /* assigning an existing field keeps lua_next valid */
      continue;
    }
    lua_pop(L, 1);
  }
}
#endif

int json_decode(lua_State *L, int decode_fn, const char *s, size_t len) {
  size_t bad = 0;
  int numbers = 0, marks;
  buf marked;
  buf_init(&marked);
  decode_fn = decode_fn < 0 && decode_fn > LUA_REGISTRYINDEX ? lua_gettop(L) + decode_fn + 1 : decode_fn;
  marks = json_scan(s, len, &bad, &numbers, NULL);
  if (marks < 0) {
    lua_pushfstring(L, "invalid UTF-8 in JSON text at byte %d", (int)bad + 1);
    return 0;
  }
  lua_pushvalue(L, decode_fn);
#if COMPAT_HAS_INTEGERS
  if (marks > 0) {
    json_scan(s, len, &bad, &numbers, &marked);
    lua_pushlstring(L, marked.data, marked.len);
    buf_free(&marked);
  } else
#endif
    lua_pushlstring(L, s, len);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "JSON decode failed");
    }
    return 0;
  }
#if COMPAT_HAS_INTEGERS
  if (numbers) {
    if (lua_type(L, -1) == LUA_TTABLE) json_fix_table(L, lua_gettop(L), marks, 0);
    else json_fix_value(L, marks);
  }
#endif
  return 1;
}

/* ---- encode --------------------------------------------------------- */

/* Values cjson would get wrong are swapped for marker strings, which come
   out of cjson as "\u0001oaichat:TEXT\u0001" and are replaced by TEXT. */
#define JSON_MARK "\001oaichat:"
#define JSON_MARK_ENC "\"\\u0001oaichat:"
#define JSON_MARK_END "\\u0001\""
#define JSON_MARK_CHARS "0123456789+-.eE[]"

/* Writes the exact JSON text of the number at i to out (size >= 32) and
   returns 1 when cjson's %.14g would not give it back exactly. */
static int json_exact_number(lua_State *L, int i, char *out) {
  double d;
  int prec;
#if COMPAT_HAS_INTEGERS
  if (lua_isinteger(L, i)) {
    lua_Integer v = lua_tointeger(L, i);
    if (v < 100000000000000LL && v > -100000000000000LL) return 0;
    snprintf(out, 32, "%lld", (long long)v);
    return 1;
  }
#endif
  d = lua_tonumber(L, i);
  if (d != d || d - d != 0) return 0; /* NaN or inf: cjson refuses them */
  if (d == floor(d) && fabs(d) < 9.2e18) {
    if (fabs(d) < 1e14) return 0;
    snprintf(out, 32, "%lld", (long long)d);
    return 1;
  }
  snprintf(out, 32, "%.14g", d);
  if (strtod(out, NULL) == d) return 0;
  for (prec = 15; prec < 17; prec++) {
    snprintf(out, 32, "%.*g", prec, d);
    if (strtod(out, NULL) == d) return 1;
  }
  snprintf(out, 32, "%.17g", d);
  return 1;
}

/* An empty table marked with oaichat.array() must be sent as []. */
static int json_is_empty_array(lua_State *L, int i, int array_mt) {
  int empty;
  if (!lua_getmetatable(L, i)) return 0;
  empty = lua_rawequal(L, -1, array_mt);
  lua_pop(L, 1);
  if (!empty) return 0;
  lua_pushnil(L);
  empty = lua_next(L, i) == 0;
  if (!empty) lua_pop(L, 2);
  return empty;
}

/* Pushes the marker string for the value at i, or returns 0. */
static int json_push_marker(lua_State *L, int i, int array_mt) {
  char num[32];
  int t = lua_type(L, i);
  if (t == LUA_TNUMBER && json_exact_number(L, i, num)) {
    lua_pushfstring(L, JSON_MARK "%s\001", num);
    return 1;
  }
  if (t == LUA_TTABLE && json_is_empty_array(L, i, array_mt)) {
    lua_pushliteral(L, JSON_MARK "[]\001");
    return 1;
  }
  return 0;
}

static int json_needs_marks(lua_State *L, int t, int array_mt, int depth) {
  int found = 0;
  if (depth > JSON_MAX_DEPTH) return 0; /* cjson reports the nesting */
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_pushnil(L);
  while (!found && lua_next(L, t) != 0) {
    int v = lua_gettop(L);
    if (json_push_marker(L, v, array_mt)) {
      lua_pop(L, 1);
      found = 1;
    } else if (lua_type(L, v) == LUA_TTABLE) {
      found = json_needs_marks(L, v, array_mt, depth + 1);
    }
    lua_pop(L, 1);
  }
  if (found) lua_pop(L, 1); /* the key left by the early stop */
  return found;
}

/* Pushes a copy of table t with marker strings in place of such values. */
static void json_copy_marked(lua_State *L, int t, int array_mt, int depth) {
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_newtable(L);
  if (depth > JSON_MAX_DEPTH) return;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    int v = lua_gettop(L);
    lua_pushvalue(L, -2);
    if (!json_push_marker(L, v, array_mt)) {
      if (lua_type(L, v) == LUA_TTABLE) json_copy_marked(L, v, array_mt, depth + 1);
      else lua_pushvalue(L, v);
    }
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
}

/* Replaces every "\u0001oaichat:TEXT\u0001" with TEXT. */
static void json_unmark(lua_State *L, int s_idx) {
  size_t len, mlen = sizeof(JSON_MARK_ENC) - 1, elen = sizeof(JSON_MARK_END) - 1;
  const char *s = lua_tolstring(L, s_idx, &len), *end = s + len, *p;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while ((p = strstr(s, JSON_MARK_ENC)) != NULL) {
    const char *d = p + mlen, *q = d;
    while (q < end && *q != '\0' && strchr(JSON_MARK_CHARS, *q) != NULL) q++;
    if ((size_t)(end - q) < elen || memcmp(q, JSON_MARK_END, elen) != 0) {
      luaL_addlstring(&b, s, (size_t)(d - s));
      s = d;
      continue;
    }
    luaL_addlstring(&b, s, (size_t)(p - s));
    luaL_addlstring(&b, d, (size_t)(q - d));
    s = q + elen;
  }
  luaL_addlstring(&b, s, (size_t)(end - s));
  luaL_pushresult(&b);
}

void json_encode(lua_State *L, int encode_fn, int v) {
  int array_mt;
  v = v < 0 && v > LUA_REGISTRYINDEX ? lua_gettop(L) + v + 1 : v;
  luaL_getmetatable(L, JSON_ARRAY_MT);
  array_mt = lua_gettop(L);
  if (json_push_marker(L, v, array_mt)) {
    size_t n, skip = sizeof(JSON_MARK) - 1; /* a lone value: its text is the JSON */
    const char *m = lua_tolstring(L, -1, &n);
    lua_pushlstring(L, m + skip, n - skip - 1);
    lua_remove(L, -2);
  } else {
    int marked = 0;
    lua_pushvalue(L, encode_fn);
    if (lua_type(L, v) == LUA_TTABLE && json_needs_marks(L, v, array_mt, 0)) {
      json_copy_marked(L, v, array_mt, 0);
      marked = 1;
    } else {
      lua_pushvalue(L, v);
    }
    lua_call(L, 1, 1);
    if (marked) {
      json_unmark(L, lua_gettop(L));
      lua_remove(L, -2);
    }
  }
  lua_remove(L, array_mt);
}
