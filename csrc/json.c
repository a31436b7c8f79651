/* JSON glue over lua-cjson.
 *
 * lua-cjson 2.1.0 (Debian's) decodes every number with strtod, prints them
 * with %.14g and decodes [] like {}. Decoding: after cjson, one pass over
 * the text, guided by its structure, checks UTF-8 and number syntax and,
 * walking the decoded value alongside, stores integer tokens as exact Lua
 * integers and marks empty arrays. Encoding: numbers cjson would print
 * inexactly (and empty arrays) are swapped for placeholder strings that
 * begin with a longer run of \1 bytes than any string of the value holds, so
 * no input can contain one; they are then replaced in cjson's output. What
 * the installed cjson does itself (OpenResty's line) is found at load time
 * and skipped. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 1000

/* What the cjson instance does natively (found by json_setup). */
#define JSON_NATIVE_INT_DECODE 1 /* integer tokens decode as exact integers */
#define JSON_NATIVE_INT_ENCODE 2 /* Lua integers print exactly */
#define JSON_NATIVE_ARRAYS 4     /* decoded arrays carry the array metatable */

/* Each cjson instance's settings, { flags, array metatable }, are kept in
   the registry under its encode and its decode function (so two instances
   of different lines in one state keep theirs). Pushes the array metatable
   of the codec function at fn and returns its flags. */
static int json_config(lua_State *L, int fn) {
  int f;
  lua_pushvalue(L, fn);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_type(L, -1) != LUA_TTABLE) { /* not set up by json_setup: plain cjson */
    lua_pop(L, 1);
    luaL_getmetatable(L, JSON_ARRAY_MT);
    return 0;
  }
  lua_rawgeti(L, -1, 1);
  f = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, -1, 2);
  lua_remove(L, -2);
  return f;
}

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
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
    if (left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) return 3;
    return 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    if (left >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) return 4;
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

/* ---- decode: the structure-guided pass ------------------------------ */

typedef struct json_walk {
  lua_State *L;
  const unsigned char *p;
  size_t len, i;
  int ints;   /* store integer tokens as Lua integers */
  int arrays; /* give empty [] the array metatable (and take it from {}) */
  int mt;     /* stack index of the array metatable */
  size_t bad; /* where the problem is */
  const char *why;
} json_walk;

static int json_fail(json_walk *w, const char *why) {
  if (w->why == NULL) {
    w->why = why;
    w->bad = w->i;
  }
  return 0;
}

/* Compact JSON has no blanks: one test settles most calls. */
static void json_ws(json_walk *w) {
  size_t i = w->i;
  const unsigned char *p = w->p;
  if (i >= w->len || p[i] > ' ') return;
  while (i < w->len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) i++;
  w->i = i;
}

/* Bytes that end a run of plain string bytes: '"', '\\' and non-ASCII. */
#define JSON_STRING_STOP(c) ((c) == '"' || (c) == '\\' || (c) >= 0x80)

/* The bytes of x that are '"', '\\' or non-ASCII, as their high bits (the
   lowest one is exact; any above it may be a false alarm). Strings are most
   of the text, so they are scanned a word at a time. */
#define JSON_ONES 0x0101010101010101ULL
#define JSON_HIGHS 0x8080808080808080ULL
static uint64_t json_word_stops(uint64_t x) {
  uint64_t q = x ^ (JSON_ONES * '"'), b = x ^ (JSON_ONES * '\\');
  return (((q - JSON_ONES) & ~q) | ((b - JSON_ONES) & ~b) | x) & JSON_HIGHS;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_FIRST_STOP(m) ((size_t)__builtin_ctzll(m) >> 3)
#endif

/* Skips the string at w->i (its opening quote), checking UTF-8; *escaped
   tells whether it holds a backslash. */
static int json_skip_string(json_walk *w, int *escaped) {
  const unsigned char *p = w->p;
  size_t i = w->i + 1, len = w->len;
  for (;;) {
    uint64_t x, m;
    while (i + 8 <= len) {
      memcpy(&x, p + i, 8);
      m = json_word_stops(x);
      if (m) {
#ifdef JSON_FIRST_STOP
        i += JSON_FIRST_STOP(m);
#endif
        break;
      }
      i += 8;
    }
    while (i < len && !JSON_STRING_STOP(p[i])) i++;
    if (i >= len) {
      w->i = len;
      return json_fail(w, "unterminated string in JSON text");
    }
    if (p[i] == '"') break;
    if (p[i] == '\\') {
      *escaped = 1;
      i += 2;
    } else {
      size_t n = json_utf8_seq(p + i, len - i);
      if (n == 0) {
        w->i = i;
        return json_fail(w, "invalid UTF-8 in JSON text");
      }
      i += n;
    }
  }
  w->i = i + 1;
  return 1;
}

static int json_digit(int c) { return c >= '0' && c <= '9'; }

/* Checks the number at w->i against JSON's grammar (RFC 8259) and that a
   delimiter follows; *is_int tells whether it has no fraction or exponent. */
static int json_number(json_walk *w, int *is_int) {
  const unsigned char *p = w->p;
  size_t i = w->i, len = w->len;
  *is_int = 1;
  if (i < len && p[i] == '-') i++;
  if (i < len && p[i] == '0') i++;
  else if (i < len && p[i] >= '1' && p[i] <= '9')
    while (i < len && json_digit(p[i])) i++;
  else return json_fail(w, "invalid number in JSON text");
  if (i < len && p[i] == '.') {
    *is_int = 0;
    if (++i >= len || !json_digit(p[i])) return json_fail(w, "invalid number in JSON text");
    while (i < len && json_digit(p[i])) i++;
  }
  if (i < len && (p[i] == 'e' || p[i] == 'E')) {
    *is_int = 0;
    if (++i < len && (p[i] == '+' || p[i] == '-')) i++;
    if (i >= len || !json_digit(p[i])) return json_fail(w, "invalid number in JSON text");
    while (i < len && json_digit(p[i])) i++;
  }
  if (i < len && !(p[i] == ',' || p[i] == ']' || p[i] == '}' || p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
                   p[i] == '\t'))
    return json_fail(w, "invalid number in JSON text");
  w->i = i;
  return 1;
}

#if COMPAT_HAS_INTEGERS
/* Pushes the exact integer of the integer token s[0..n); returns 0 (pushing
   nothing) when it does not fit 64 bits: it stays cjson's float, as other
   JSON readers do. */
static int json_push_int(lua_State *L, const unsigned char *s, size_t n) {
  unsigned long long u = 0, limit = 9223372036854775807ULL;
  size_t i = 0;
  int neg = s[0] == '-';
  if (neg) {
    i = 1;
    limit++;
  }
  for (; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (u > (limit - d) / 10) return 0;
    u = u * 10 + d;
  }
  if (!neg) lua_pushinteger(L, (lua_Integer)u);
  else if (u == limit) lua_pushinteger(L, (lua_Integer)(-9223372036854775807LL - 1));
  else lua_pushinteger(L, -(lua_Integer)u);
  return 1;
}
#endif

static int json_hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  int k;
  for (k = 0; k < 4; k++) {
    unsigned c = p[k];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return 0;
  }
  *out = v;
  return 1;
}

/* Pushes the decoded text of the escaped key string s[0..n) (its body). A
   malformed escape (cjson refused those already) just ends the key. */
static void json_push_escaped(lua_State *L, const unsigned char *s, size_t n) {
  luaL_Buffer b;
  size_t i = 0;
  luaL_buffinit(L, &b);
  while (i < n) {
    unsigned c = s[i++], cp;
    char u[4];
    if (c != '\\') {
      luaL_addchar(&b, (char)c);
      continue;
    }
    if (i >= n) break;
    c = s[i++];
    switch (c) {
    case 'b': luaL_addchar(&b, '\b'); continue;
    case 'f': luaL_addchar(&b, '\f'); continue;
    case 'n': luaL_addchar(&b, '\n'); continue;
    case 'r': luaL_addchar(&b, '\r'); continue;
    case 't': luaL_addchar(&b, '\t'); continue;
    case 'u': break;
    default: luaL_addchar(&b, (char)c); continue;
    }
    if (n - i < 4 || !json_hex4(s + i, &cp)) break;
    i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      unsigned lo;
      if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' || !json_hex4(s + i + 2, &lo)) break;
      i += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp < 0x80) {
      luaL_addchar(&b, (char)cp);
    } else if (cp < 0x800) {
      u[0] = (char)(0xC0 | (cp >> 6));
      u[1] = (char)(0x80 | (cp & 0x3F));
      luaL_addlstring(&b, u, 2);
    } else if (cp < 0x10000) {
      u[0] = (char)(0xE0 | (cp >> 12));
      u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
      u[2] = (char)(0x80 | (cp & 0x3F));
      luaL_addlstring(&b, u, 3);
    } else {
      u[0] = (char)(0xF0 | (cp >> 18));
      u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
      u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
      u[3] = (char)(0x80 | (cp & 0x3F));
      luaL_addlstring(&b, u, 4);
    }
  }
  luaL_pushresult(&b);
}

static int json_container(json_walk *w, int t, int depth);

/* Walks the value at w->i: in the table at stack index t (0: none) it is
   the field whose key is on top of the stack (popped here), or when key_i
   > 0 the array item key_i. */
static int json_member(json_walk *w, int t, lua_Integer key_i, int depth) {
  lua_State *L = w->L;
  unsigned char c;
  json_ws(w);
  if (w->i >= w->len) return json_fail(w, "truncated JSON text");
  c = w->p[w->i];
  if (c == '"') {
    int esc = 0;
    if (t && !key_i) lua_pop(L, 1);
    return json_skip_string(w, &esc);
  }
  if (c == '{' || c == '[') {
    int ok, sub = 0;
    if (t) {
      if (key_i) lua_rawgeti(L, t, key_i);
      else lua_rawget(L, t);
      if (lua_type(L, -1) == LUA_TTABLE) sub = lua_gettop(L);
      else lua_pop(L, 1);
    }
    ok = json_container(w, sub, depth + 1);
    if (sub) lua_pop(L, 1);
    return ok;
  }
  if (c == '-' || json_digit(c)) {
    size_t start = w->i;
    int is_int;
    if (!json_number(w, &is_int)) {
      if (t && !key_i) lua_pop(L, 1);
      return 0;
    }
#if COMPAT_HAS_INTEGERS
    if (t && w->ints) {
      if (key_i) {
        /* arrays have no duplicate keys: the item is this token's number */
        if (is_int && json_push_int(L, w->p + start, w->i - start)) lua_rawseti(L, t, key_i);
        return 1;
      }
      /* A field: store only over a number, and in document order, so that
         a repeated key ends as cjson left it (the last one wins). */
      lua_pushvalue(L, -1);
      lua_rawget(L, t);
      if (lua_type(L, -1) == LUA_TNUMBER && (is_int || lua_isinteger(L, -1))) {
        lua_pop(L, 1);
        if (!is_int) {
          char tmp[64];
          size_t n = w->i - start;
          if (n >= sizeof(tmp)) n = sizeof(tmp) - 1;
          memcpy(tmp, w->p + start, n);
          tmp[n] = '\0';
          lua_pushnumber(L, strtod(tmp, NULL));
        } else if (!json_push_int(L, w->p + start, w->i - start)) {
          lua_pop(L, 1);
          return 1;
        }
        lua_rawset(L, t);
        return 1;
      }
      lua_pop(L, 2);
      return 1;
    }
#else
    (void)start;
    (void)is_int;
#endif
    if (t && !key_i) lua_pop(L, 1);
    return 1;
  }
  if (t && !key_i) lua_pop(L, 1);
  while (w->i < w->len && w->p[w->i] >= 'a' && w->p[w->i] <= 'z') w->i++; /* true, false, null */
  return 1;
}

/* Sets (on) or clears the array metatable of the empty table t. */
static void json_mark_empty(json_walk *w, int t, int on) {
  lua_State *L = w->L;
  if (on) {
    lua_pushvalue(L, w->mt);
    lua_setmetatable(L, t);
  } else if (lua_getmetatable(L, t)) {
    int marked = lua_rawequal(L, -1, w->mt);
    lua_pop(L, 1);
    if (marked) {
      lua_pushnil(L);
      lua_setmetatable(L, t);
    }
  }
}

/* Walks the object or array at w->i alongside the table at stack index t
   (0: none, only checking the text). */
static int json_container(json_walk *w, int t, int depth) {
  lua_State *L = w->L;
  int is_obj = w->p[w->i] == '{';
  unsigned char close = is_obj ? '}' : ']';
  lua_Integer k = 0;
  if (depth > JSON_MAX_DEPTH + 1) return json_fail(w, "JSON nesting too deep");
  if (t && !lua_checkstack(L, 8)) return json_fail(w, "JSON nesting too deep");
  w->i++;
  json_ws(w);
  if (w->i < w->len && w->p[w->i] == close) {
    w->i++;
    if (t && w->arrays) json_mark_empty(w, t, !is_obj);
    return 1;
  }
  for (;;) {
    if (is_obj) {
      size_t ks, kn;
      int esc = 0, need;
      json_ws(w);
      if (w->i >= w->len || w->p[w->i] != '"') return json_fail(w, "unexpected JSON structure");
      ks = w->i + 1;
      if (!json_skip_string(w, &esc)) return 0;
      kn = w->i - 1 - ks;
      json_ws(w);
      if (w->i >= w->len || w->p[w->i] != ':') return json_fail(w, "unexpected JSON structure");
      w->i++;
      json_ws(w);
      /* the key is needed only where there is something to fix */
      need = t && w->i < w->len &&
             (w->p[w->i] == '{' || w->p[w->i] == '[' ||
              (w->ints && (w->p[w->i] == '-' || json_digit(w->p[w->i]))));
      if (need) {
        if (esc) json_push_escaped(L, w->p + ks, kn);
        else lua_pushlstring(L, (const char *)w->p + ks, kn);
      }
      if (!json_member(w, need ? t : 0, 0, depth)) return 0;
    } else if (!json_member(w, t, ++k, depth)) {
      return 0;
    }
    json_ws(w);
    if (w->i >= w->len) return json_fail(w, "truncated JSON text");
    if (w->p[w->i] == close) {
      w->i++;
      return 1;
    }
    if (w->p[w->i] != ',') return json_fail(w, "unexpected JSON structure");
    w->i++;
  }
}

/* Walks the whole text alongside the decoded value on top of the stack. */
static int json_walk_text(json_walk *w, int fix) {
  lua_State *L = w->L;
  int top = lua_gettop(L);
  int ok = 1;
  json_ws(w);
  if (w->i >= w->len) return json_fail(w, "empty JSON text");
  if (w->p[w->i] == '{' || w->p[w->i] == '[') {
    ok = json_container(w, fix && lua_type(L, top) == LUA_TTABLE ? top : 0, 0);
  } else if (w->p[w->i] == '"') {
    int esc = 0;
    ok = json_skip_string(w, &esc);
  } else if (w->p[w->i] == '-' || json_digit(w->p[w->i])) {
    size_t start = w->i;
    int is_int;
    ok = json_number(w, &is_int);
#if COMPAT_HAS_INTEGERS
    if (ok && fix && w->ints && is_int && json_push_int(L, w->p + start, w->i - start)) lua_replace(L, top);
#else
    (void)start;
#endif
  } else {
    while (w->i < w->len && w->p[w->i] >= 'a' && w->p[w->i] <= 'z') w->i++;
  }
  json_ws(w);
  if (ok && w->i < w->len) ok = json_fail(w, "unexpected JSON structure");
  lua_settop(L, top);
  return ok;
}

int json_decode(lua_State *L, int decode_fn, const char *s, size_t len) {
  json_walk w;
  int flags, fix, top;
  decode_fn = decode_fn < 0 && decode_fn > LUA_REGISTRYINDEX ? lua_gettop(L) + decode_fn + 1 : decode_fn;
  flags = json_config(L, decode_fn); /* the metatable, below the value */
  lua_pushvalue(L, decode_fn);
  lua_pushlstring(L, s, len);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "JSON decode failed");
    }
    lua_remove(L, -2);
    return 0;
  }
  memset(&w, 0, sizeof(w));
  w.L = L;
  w.p = (const unsigned char *)s;
  w.len = len;
  w.ints = COMPAT_HAS_INTEGERS && !(flags & JSON_NATIVE_INT_DECODE);
  w.arrays = !(flags & JSON_NATIVE_ARRAYS);
  fix = w.ints || w.arrays;
  top = lua_gettop(L);
  w.mt = top - 1;
  if (!json_walk_text(&w, fix)) {
    lua_settop(L, top - 2); /* the value and the metatable */
    lua_pushfstring(L, "%s at byte %d", w.why, (int)w.bad + 1);
    return 0;
  }
  lua_remove(L, top - 1);
  return 1;
}

/* ---- encode --------------------------------------------------------- */

/* A placeholder is P TEXT, P being a run of \1 bytes one longer than any
   run in the value's strings (keys included), so no string of the input can
   hold P. cjson writes it as "\u0001...\u0001TEXT"; where that text starts
   with a quote and P's escapes, it can only be a placeholder, since in a
   string of the input it would mean P. TEXT is a number or []. */
#define JSON_MARK_CHARS "0123456789+-.eE[]"

/* Writes the exact JSON text of the number at i to out (size >= 40) and
   returns 1 when cjson would not write that text itself. On 5.3+ a float
   always reads back as a float: an integral one gets ".0". */
static int json_exact_number(lua_State *L, int i, char *out, int flags) {
  double d;
  int prec;
#if COMPAT_HAS_INTEGERS
  if (lua_isinteger(L, i)) {
    lua_Integer v = lua_tointeger(L, i);
    if ((flags & JSON_NATIVE_INT_ENCODE) || (v < 100000000000000LL && v > -100000000000000LL)) return 0;
    snprintf(out, 40, "%lld", (long long)v);
    return 1;
  }
#else
  (void)flags;
#endif
  d = lua_tonumber(L, i);
  if (d != d || d - d != 0) return 0; /* NaN or inf: cjson refuses them */
#if !COMPAT_HAS_INTEGERS
  if (d == floor(d) && fabs(d) < 9.2e18) { /* integral doubles as integers */
    if (fabs(d) < 1e14) return 0;
    snprintf(out, 40, "%.0f", d);
    return 1;
  }
#endif
  for (prec = 14; prec <= 17; prec++) {
    snprintf(out, 40, "%.*g", prec, d);
    if (prec == 17 || strtod(out, NULL) == d) break;
  }
#if COMPAT_HAS_INTEGERS
  if (strpbrk(out, ".eE") == NULL) {
    strcat(out, ".0");
    return 1;
  }
#endif
  return prec > 14;
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

/* Writes the text that replaces the value at i to out and returns 1, or
   returns 0 when cjson writes the value right itself. */
static int json_mark_text(lua_State *L, int i, int array_mt, int flags, char *out) {
  int t = lua_type(L, i);
  if (t == LUA_TNUMBER) return json_exact_number(L, i, out, flags);
  if (t == LUA_TTABLE && !(flags & JSON_NATIVE_ARRAYS) && json_is_empty_array(L, i, array_mt)) {
    strcpy(out, "[]");
    return 1;
  }
  return 0;
}

static int json_needs_marks(lua_State *L, int t, int array_mt, int flags, int depth) {
  int found = 0;
  char num[40];
  if (depth > JSON_MAX_DEPTH) return 0; /* cjson reports the nesting */
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_pushnil(L);
  while (!found && lua_next(L, t) != 0) {
    int v = lua_gettop(L);
    if (json_mark_text(L, v, array_mt, flags, num)) found = 1;
    else if (lua_type(L, v) == LUA_TTABLE) found = json_needs_marks(L, v, array_mt, flags, depth + 1);
    lua_pop(L, 1);
  }
  if (found) lua_pop(L, 1); /* the key left by the early stop */
  return found;
}

/* The longest run of \1 bytes in any string (key or value) of table t. */
static size_t json_max_run(lua_State *L, int t, int depth) {
  size_t best = 0;
  if (depth > JSON_MAX_DEPTH) return 0;
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    int k;
    for (k = -2; k <= -1; k++) {
      int ty = lua_type(L, k);
      if (ty == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, k, &n), *end = s + n, *p = s;
        while ((p = memchr(p, 1, (size_t)(end - p))) != NULL) {
          const char *q = p;
          size_t run;
          while (q < end && *q == 1) q++;
          run = (size_t)(q - p);
          if (run > best) best = run;
          p = q;
        }
      } else if (ty == LUA_TTABLE && k == -1) {
        size_t run = json_max_run(L, lua_gettop(L), depth + 1);
        if (run > best) best = run;
      }
    }
    lua_pop(L, 1);
  }
  return best;
}

/* Pushes a copy of table t with placeholders (prefix at stack index pre)
   in place of the values cjson would write wrongly. */
static void json_copy_marked(lua_State *L, int t, int array_mt, int flags, int pre, int depth) {
  char num[40];
  if (depth > JSON_MAX_DEPTH) luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
  luaL_checkstack(L, 6, "JSON nesting too deep");
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    int v = lua_gettop(L);
    lua_pushvalue(L, -2);
    if (json_mark_text(L, v, array_mt, flags, num)) {
      lua_pushvalue(L, pre);
      lua_pushstring(L, num);
      lua_concat(L, 2);
    } else if (lua_type(L, v) == LUA_TTABLE) {
      json_copy_marked(L, v, array_mt, flags, pre, depth + 1);
    } else {
      lua_pushvalue(L, v);
    }
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
}

/* Replaces every "\u0001...\u0001TEXT" (n escapes, then TEXT and the
   closing quote) in the string at s_idx with TEXT. */
static void json_unmark(lua_State *L, int s_idx, size_t n) {
  size_t len, k, elen = 1 + 6 * n;
  const char *s = lua_tolstring(L, s_idx, &len), *end = s + len, *p = s;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while ((p = memchr(p, '"', (size_t)(end - p))) != NULL) {
    const char *d = p + elen, *q;
    int match = (size_t)(end - p) > elen;
    for (k = 0; match && k < n; k++) match = memcmp(p + 1 + 6 * k, "\\u0001", 6) == 0;
    if (!match) {
      p++;
      continue;
    }
    for (q = d; q < end && *q != '\0' && strchr(JSON_MARK_CHARS, *q) != NULL; q++) {}
    if (q >= end || *q != '"') { /* cannot happen: see above */
      p++;
      continue;
    }
    luaL_addlstring(&b, s, (size_t)(p - s));
    luaL_addlstring(&b, d, (size_t)(q - d));
    s = p = q + 1;
  }
  luaL_addlstring(&b, s, (size_t)(end - s));
  luaL_pushresult(&b);
}

void json_encode(lua_State *L, int encode_fn, int v) {
  int array_mt, flags;
  char num[40];
  v = v < 0 && v > LUA_REGISTRYINDEX ? lua_gettop(L) + v + 1 : v;
  encode_fn = encode_fn < 0 && encode_fn > LUA_REGISTRYINDEX ? lua_gettop(L) + encode_fn + 1 : encode_fn;
  flags = json_config(L, encode_fn);
  array_mt = lua_gettop(L);
  if (json_mark_text(L, v, array_mt, flags, num)) {
    lua_pushstring(L, num); /* a lone value: its text is the JSON */
  } else if (lua_type(L, v) == LUA_TTABLE && json_needs_marks(L, v, array_mt, flags, 0)) {
    size_t n = json_max_run(L, v, 0) + 1, k;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (k = 0; k < n; k++) luaL_addchar(&b, '\001');
    luaL_pushresult(&b); /* the prefix, at array_mt + 1 */
    lua_pushvalue(L, encode_fn);
    json_copy_marked(L, v, array_mt, flags, array_mt + 1, 0);
    lua_call(L, 1, 1);
    json_unmark(L, lua_gettop(L), n);
    lua_replace(L, array_mt + 1);
    lua_pop(L, 1);
  } else {
    lua_pushvalue(L, encode_fn);
    lua_pushvalue(L, v);
    lua_call(L, 1, 1);
  }
  lua_remove(L, array_mt);
}

/* ---- set-up ---------------------------------------------------------- */

/* Calls inst[name](...) with the nargs values on top if inst has it;
   returns 1 if it did (the values are popped either way). */
static int json_try(lua_State *L, int inst, const char *name, int nargs) {
  lua_getfield(L, inst, name);
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    lua_pop(L, nargs + 1);
    return 0;
  }
  lua_insert(L, -(nargs + 1));
  lua_call(L, nargs, 0);
  return 1;
}

/* Runs inst.decode or inst.encode on the value on top; pushes the result
   or nil. */
static void json_probe(lua_State *L, int inst, const char *fn) {
  lua_getfield(L, inst, fn);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

void json_setup(lua_State *L, int inst) {
  int flags = 0;
  inst = inst < 0 && inst > LUA_REGISTRYINDEX ? lua_gettop(L) + inst + 1 : inst;
  lua_pushinteger(L, 14);
  json_try(L, inst, "encode_number_precision", 1);
  lua_pushboolean(L, 0); /* NaN, Infinity, hex and leading zeros are not JSON */
  json_try(L, inst, "decode_invalid_numbers", 1);
#if COMPAT_HAS_INTEGERS
  lua_pushliteral(L, "[-9223372036854775807,9007199254740993]");
  json_probe(L, inst, "decode");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) == -9223372036854775807LL && lua_isinteger(L, -1) &&
        lua_tointeger(L, -1) == 9007199254740993LL)
      flags |= JSON_NATIVE_INT_DECODE;
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_pushinteger(L, -9223372036854775807LL);
  json_probe(L, inst, "encode");
  if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "-9223372036854775807") == 0)
    flags |= JSON_NATIVE_INT_ENCODE;
  lua_pop(L, 1);
#endif
  /* OpenResty's line: decoded arrays carry cjson.array_mt, which it also
     encodes as []; it then serves as oaichat.array's metatable. */
  lua_getfield(L, inst, "array_mt");
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_pushboolean(L, 1);
    if (json_try(L, inst, "decode_array_with_array_mt", 1)) {
      lua_pushliteral(L, "[]");
      json_probe(L, inst, "decode");
      if (lua_type(L, -1) == LUA_TTABLE && lua_getmetatable(L, -1)) {
        if (lua_rawequal(L, -1, -3)) flags |= JSON_NATIVE_ARRAYS;
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
  }
  if (!(flags & JSON_NATIVE_ARRAYS)) {
    lua_pop(L, 1);
    luaL_newmetatable(L, JSON_ARRAY_MT); /* shared by every load in this state */
  }
  lua_createtable(L, 2, 0); /* { flags, array metatable } */
  lua_pushinteger(L, flags);
  lua_rawseti(L, -2, 1);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 2);
  lua_getfield(L, inst, "encode");
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_getfield(L, inst, "decode");
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

void json_push_array_mt(lua_State *L, int fn) { json_config(L, fn); }
