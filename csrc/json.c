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

/* Checks UTF-8 and finds the numbers that need markers. With out set, also
   writes the text with those numbers marked. Returns the count of marked
   numbers, or -1 with *bad set on invalid UTF-8. */
static int json_scan(const char *s, size_t len, size_t *bad, int *numbers, buf *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n, copied = 0;
  int marks = 0;
  while (i < len) {
    unsigned char c = p[i];
    if (c == '"') {
      for (i++; i < len; i++) {
        c = p[i];
        if (c == '"') break;
        if (c == '\\') {
          i++;
        } else if (c >= 0x80) {
          n = json_utf8_seq(p + i, len - i);
          if (n == 0) {
            *bad = i;
            return -1;
          }
          i += n - 1;
        }
      }
      i++;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i;
      char cls;
      while (i < len && memchr("0123456789+-.eE", p[i], 15) != NULL) i++;
      *numbers = 1;
      cls = json_number_class(s + start, i - start);
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
      long long i = cls == 'i' ? strtoll(v + 3, NULL, 10) : 0;
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

#define JSON_MARK "\001oaichat:int:"
#define JSON_MARK_ENC "\"\\u0001oaichat:int:"
#define JSON_MARK_END "\\u0001\""

/* %.14g prints integers below 10^14 exactly; larger ones need our path.
   On 5.1 and LuaJIT every number is a double: integral ones count too. */
static int json_is_big_integer(lua_State *L, int i) {
  double d;
#if COMPAT_HAS_INTEGERS
  if (lua_isinteger(L, i)) {
    lua_Integer v = lua_tointeger(L, i);
    return v >= 100000000000000LL || v <= -100000000000000LL;
  }
#endif
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  d = lua_tonumber(L, i);
  return d == floor(d) && fabs(d) >= 1e14 && fabs(d) < 9.2e18;
}

static int json_has_big(lua_State *L, int t, int depth) {
  int found = 0;
  if (depth > JSON_MAX_DEPTH) return 0; /* cjson reports the nesting */
  luaL_checkstack(L, 4, "JSON nesting too deep");
  lua_pushnil(L);
  while (!found && lua_next(L, t) != 0) {
    if (lua_type(L, -1) == LUA_TTABLE)
      found = json_has_big(L, lua_gettop(L), depth + 1);
    else
      found = json_is_big_integer(L, -1);
    lua_pop(L, 1);
  }
  if (found) lua_pop(L, 1); /* the key left by the early stop */
  return found;
}

/* Pushes a copy of table t with big integers replaced by marker strings. */
static void json_copy_marked(lua_State *L, int t, int depth) {
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_newtable(L);
  if (depth > JSON_MAX_DEPTH) return;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pushvalue(L, -2);
    if (lua_type(L, -2) == LUA_TTABLE) {
      json_copy_marked(L, lua_gettop(L) - 1, depth + 1);
    } else if (json_is_big_integer(L, -2)) {
      char num[32];
      snprintf(num, sizeof(num), "%lld", (long long)lua_tonumber(L, -2));
#if COMPAT_HAS_INTEGERS
      if (lua_isinteger(L, -2)) snprintf(num, sizeof(num), "%lld", (long long)lua_tointeger(L, -2));
#endif
      lua_pushfstring(L, JSON_MARK "%s\001", num);
    } else {
      lua_pushvalue(L, -2);
    }
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
}

/* Replaces every "\u0001oaichat:int:<digits>\u0001" with <digits>. */
static void json_unmark(lua_State *L, int s_idx) {
  size_t len, mlen = sizeof(JSON_MARK_ENC) - 1, elen = sizeof(JSON_MARK_END) - 1;
  const char *s = lua_tolstring(L, s_idx, &len), *end = s + len, *p;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while ((p = strstr(s, JSON_MARK_ENC)) != NULL) {
    const char *d = p + mlen, *q = d;
    while (q < end && ((*q >= '0' && *q <= '9') || *q == '-')) q++;
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
  int marked = 0;
  v = v < 0 && v > LUA_REGISTRYINDEX ? lua_gettop(L) + v + 1 : v;
  if (json_is_big_integer(L, v)) {
    char num[32]; /* a lone integer's decimal text is its JSON */
    snprintf(num, sizeof(num), "%lld", (long long)lua_tonumber(L, v));
#if COMPAT_HAS_INTEGERS
    if (lua_isinteger(L, v)) snprintf(num, sizeof(num), "%lld", (long long)lua_tointeger(L, v));
#endif
    lua_pushstring(L, num);
    return;
  }
  lua_pushvalue(L, encode_fn);
  if (lua_type(L, v) == LUA_TTABLE && json_has_big(L, v, 0)) {
    json_copy_marked(L, v, 0);
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
