/* JSON through lua-cjson, with what oaichat promises on top: integers and
   floats round-trip exactly, [] stays [], invalid UTF-8 and invalid numbers
   are refused; no in-band markers any input could collide with. */
#ifndef OAICHAT_JSON_H
#define OAICHAT_JSON_H

#include "internal.h"

#include <stddef.h>

#include "compat.h"

/* Configures the cjson instance at index inst (strict numbers) and records
   in the registry, under its encode and decode functions, what it does
   natively (integers, array metatables) and the array metatable to use.
   Before encoding or decoding with that instance. */
OC_HIDDEN void json_setup(lua_State *L, int inst);

/* Pushes the array metatable (oaichat.array's) of the codec function at
   stack index fn (the instance's encode or decode). */
OC_HIDDEN void json_push_array_mt(lua_State *L, int fn);

/* Decodes s with the cjson decode function at stack index decode_fn and
   pushes the value; returns 1. On failure pushes a message and returns 0. */
OC_HIDDEN int json_decode(lua_State *L, int decode_fn, const char *s, size_t len);

/* Registry name of the metatable that marks a table as a JSON array, so
   an empty one is sent as [] rather than {}; decoded empty arrays carry it. */
#define JSON_ARRAY_MT "oaichat.array"

/* Encodes the value at index v with the cjson encode function at stack
   index encode_fn and pushes the JSON text. Raises on values JSON cannot
   hold (functions, sparse arrays, NaN), as cjson does. */
OC_HIDDEN void json_encode(lua_State *L, int encode_fn, int v);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF);
   otherwise 0 and *bad is the offset of the first bad byte. */
OC_HIDDEN int json_utf8_valid(const char *s, size_t len, size_t *bad);

#endif
