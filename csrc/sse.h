#ifndef OAICHAT_SSE_H
#define OAICHAT_SSE_H

#include "internal.h"
#include <stddef.h>

/* Incremental Server-Sent Events parser (WHATWG EventSource rules).
   Input may be split at any byte; the events produced do not depend on
   where it was split. */

enum {
  SSE_OK = 0,    /* all input consumed, waiting for more */
  SSE_DONE = 1,  /* saw "data: [DONE]" event; rest of input ignored; further
                    feeds return SSE_DONE */
  SSE_LIMIT = 2, /* one event's data (+ event name) exceeded max_event_bytes;
                    parser is stuck in this state */
  SSE_NOMEM = 3, /* allocation failed (sticky) */
  SSE_STOP = 4   /* the callback returned non-zero (sticky, like LIMIT) */
};

/* Called once per dispatched event. event/event_len is the "event:" field
   value (event_len 0 and event pointing to "" if none was given), or "error"
   when the event had an "error:" line, whose value counts as a data line. data/data_len
   is the joined data (several data: lines joined with '\n', no trailing
   newline). Both are NUL-terminated for convenience. The buffers are only
   valid during the call. Return 0 to continue, non-zero to stop (sse_feed then
   returns SSE_STOP). */
typedef int (*sse_event_fn)(void *ud, const char *event, size_t event_len,
                            const char *data, size_t data_len);

/* Treat as opaque; fields are public only so it can live on the stack. */
typedef struct sse_parser {
  char *data; /* joined data of the pending event */
  size_t data_len, data_cap;
  char *event; /* event type of the pending event */
  size_t event_len, event_cap;
  size_t max;              /* max_event_bytes, 0 = unlimited */
  int status;              /* SSE_OK or a sticky SSE_* code */
  unsigned char state;     /* position within the current line */
  unsigned char bom;       /* BOM bytes matched so far; 3 = past the start */
  unsigned char last_cr;   /* previous byte was CR: swallow a following LF */
  unsigned char has_data;  /* pending event saw at least one data line */
  unsigned char err_field; /* pending event saw an "error:" line */
  unsigned char name_len;  /* bytes of field name collected */
  char name[5];            /* field name so far ("event" is the longest kept) */
} sse_parser;

OC_HIDDEN void sse_init(sse_parser *p, size_t max_event_bytes); /* 0 = no limit */
/* Returns SSE_OK, or the sticky status (DONE, LIMIT, NOMEM, STOP). */
OC_HIDDEN int sse_feed(sse_parser *p, const char *buf, size_t len, sse_event_fn fn,
             void *ud);
/* End of input: a pending event that had data lines but no terminating blank
   line is NOT dispatched (per the SSE spec) and is discarded; returns SSE_DONE
   if [DONE] was seen, a sticky error (LIMIT, NOMEM, STOP) if one occurred,
   else SSE_OK. Use sse_reset before parsing a new stream. */
OC_HIDDEN int sse_finish(sse_parser *p, sse_event_fn fn, void *ud);
OC_HIDDEN int sse_done(const sse_parser *p); /* 1 once [DONE] was seen */
OC_HIDDEN void sse_reset(sse_parser *p);     /* back to initial state, keeps memory */
OC_HIDDEN void sse_free(sse_parser *p);      /* frees buffers; safe to call twice */
#endif
