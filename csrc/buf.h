/* A growable byte buffer (in the spirit of lua-cjson's strbuf). */
#ifndef OAICHAT_BUF_H
#define OAICHAT_BUF_H

#include "internal.h"

#include <stddef.h>

typedef struct buf {
  char *data;
  size_t len;
  size_t cap;
} buf;

OC_HIDDEN void buf_init(buf *b);
OC_HIDDEN void buf_free(buf *b);
/* Returns 0 on success, -1 when memory runs out (the buffer is unchanged). */
OC_HIDDEN int buf_reserve(buf *b, size_t extra);
OC_HIDDEN int buf_append(buf *b, const void *p, size_t n);
/* Drops the first n bytes, keeping the rest. */
OC_HIDDEN void buf_consume(buf *b, size_t n);
OC_HIDDEN void buf_clear(buf *b);

#endif
