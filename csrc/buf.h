/* A growable byte buffer (in the spirit of lua-cjson's strbuf). */
#ifndef OAICHAT_BUF_H
#define OAICHAT_BUF_H

#include <stddef.h>

typedef struct buf {
  char *data;
  size_t len;
  size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* Returns 0 on success, -1 when memory runs out (the buffer is unchanged). */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *p, size_t n);
/* Drops the first n bytes, keeping the rest. */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);

#endif
