/* libFuzzer target for csrc/sse.c: differential check that feeding the same
   stream in slices, whole, and byte by byte yields identical events and
   status.
   Input: byte 0 = split pattern, byte 1 = max_event_bytes selector,
   byte 2 = stop after this many events (0 = never), rest = the stream. */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t hash;
  unsigned count;
  unsigned stop_after;
  size_t max;
} fz_rec;

static void fz_mix(uint64_t *h, const void *s, size_t n) {
  const unsigned char *b = (const unsigned char *)s;
  size_t i;
  for (i = 0; i < n; i++) {
    *h ^= b[i];
    *h *= 1099511628211ULL; /* FNV-1a */
  }
}

static int fz_cb(void *ud, const char *ev, size_t evlen, const char *data,
                 size_t dlen) {
  fz_rec *r = (fz_rec *)ud;
  if (ev[evlen] != '\0' || data[dlen] != '\0')
    abort();
  if (r->max && evlen + dlen > r->max)
    abort();
  if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0 &&
      (evlen == 0 || (evlen == 7 && memcmp(ev, "message", 7) == 0)))
    abort(); /* must have been swallowed */
  fz_mix(&r->hash, &evlen, sizeof evlen);
  fz_mix(&r->hash, ev, evlen);
  fz_mix(&r->hash, &dlen, sizeof dlen);
  fz_mix(&r->hash, data, dlen);
  r->count++;
  return r->stop_after && r->count >= r->stop_after;
}

/* Feeds with slice sizes from next_size; returns the final status. */
static int fz_run(const uint8_t *d, size_t n, size_t max, unsigned stop,
                  unsigned mode, fz_rec *r) {
  sse_parser p;
  size_t off = 0, sz;
  uint32_t rng = mode * 2654435761u + 1;
  int st = SSE_OK, rc;
  memset(r, 0, sizeof *r);
  r->hash = 14695981039346656037ULL;
  r->stop_after = stop;
  r->max = max;
  sse_init(&p, max);
  while (off < n) {
    if (mode == 0) {
      sz = n - off; /* whole */
    } else if (mode == 1) {
      sz = 1;
    } else if (mode < 128) {
      sz = mode % 19 ? mode % 19 : 1; /* fixed slices */
    } else {
      rng = rng * 1103515245u + 12345u;
      sz = (rng >> 16) % 23; /* random slices, including empty feeds */
      if (sz == 0) { /* an empty feed changes nothing */
        if (sse_feed(&p, (const char *)d + off, 0, fz_cb, r) != st)
          abort();
        sz = 1;
      }
    }
    if (sz > n - off)
      sz = n - off;
    rc = sse_feed(&p, (const char *)d + off, sz, fz_cb, r);
    if (st != SSE_OK && rc != st)
      abort(); /* sticky */
    st = rc;
    off += sz;
  }
  rc = sse_finish(&p, fz_cb, r);
  if (rc != st || sse_done(&p) != (rc == SSE_DONE))
    abort();
  /* reset must give a parser that behaves like a fresh one */
  if (mode == 0 && n > 0) {
    fz_rec r2;
    memset(&r2, 0, sizeof r2);
    r2.hash = 14695981039346656037ULL;
    r2.stop_after = stop;
    r2.max = max;
    sse_reset(&p);
    rc = sse_feed(&p, (const char *)d, n, fz_cb, &r2);
    if (sse_finish(&p, fz_cb, &r2) != rc || rc != st || r2.hash != r->hash ||
        r2.count != r->count)
      abort();
  }
  sse_free(&p);
  sse_free(&p);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned mode, stop;
  size_t max;
  fz_rec whole, split, bytes;
  int s0, s1, s2;
  if (size < 3)
    return 0;
  mode = data[0] < 2 ? 2u + data[0] : data[0];
  max = data[1] == 0 ? 0 : (data[1] & 1) ? data[1] : (size_t)data[1] * 8;
  stop = data[2] & 7;
  data += 3;
  size -= 3;
  s0 = fz_run(data, size, max, stop, 0, &whole);
  s1 = fz_run(data, size, max, stop, mode, &split);
  s2 = fz_run(data, size, max, stop, 1, &bytes);
  if (s0 != s1 || whole.hash != split.hash || whole.count != split.count)
    abort();
  if (s0 != s2 || whole.hash != bytes.hash || whole.count != bytes.count)
    abort();
  return 0;
}
