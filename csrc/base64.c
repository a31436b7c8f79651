#include "base64.h"

#include <string.h>

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Two output characters for every 12-bit value: half the lookups of the
   byte-at-a-time loop. Built at compile time, so no shared mutable state. */
#define B64_A(x) base64_alphabet[(x) >> 6], base64_alphabet[(x) & 63]
#define B64_R4(x) B64_A(x), B64_A((x) + 1), B64_A((x) + 2), B64_A((x) + 3)
#define B64_R16(x) B64_R4(x), B64_R4((x) + 4), B64_R4((x) + 8), B64_R4((x) + 12)
#define B64_R64(x) B64_R16(x), B64_R16((x) + 16), B64_R16((x) + 32), B64_R16((x) + 48)
#define B64_R256(x) B64_R64(x), B64_R64((x) + 64), B64_R64((x) + 128), B64_R64((x) + 192)
#define B64_R1024(x) B64_R256(x), B64_R256((x) + 256), B64_R256((x) + 512), B64_R256((x) + 768)

size_t base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void base64_encode(const unsigned char *in, size_t n, char *out) {
  static const char pairs[8192] = {B64_R1024(0), B64_R1024(1024), B64_R1024(2048),
                                    B64_R1024(3072)};
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    memcpy(out, pairs + 2 * (v >> 12), 2);
    memcpy(out + 2, pairs + 2 * (v & 4095), 2);
    out += 4;
  }
  if (i < n) {
    unsigned v = (unsigned)in[i] << 16;
    if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
    *out++ = base64_alphabet[v >> 18];
    *out++ = base64_alphabet[(v >> 12) & 63];
    *out++ = i + 1 < n ? base64_alphabet[(v >> 6) & 63] : '=';
    *out++ = '=';
  }
}
