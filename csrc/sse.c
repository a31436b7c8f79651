/* Incremental Server-Sent Events parser.

   Lines are never buffered as such: the field name (at most 5 bytes matter)
   is collected in a tiny array, and the value of a "data" or "event" line is
   appended straight into the event's data/event buffer as bytes arrive. An
   "error" line (llama.cpp's non-standard `error: {...}`) is data that makes
   its event an error event, so a failure is never taken for content. Every
   other line (comments, id, retry, unknown fields) is skipped in streaming
   fashion, so memory is bounded by max_event_bytes regardless of line length,
   and each input byte is copied at most once. */
#include "sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
  SSE_ST_START = 0, /* at the beginning of a line */
  SSE_ST_NAME,      /* collecting the field name */
  SSE_ST_DATA_SP,   /* after "data:", an optional space follows */
  SSE_ST_DATA,      /* copying a data value */
  SSE_ST_EVENT_SP,  /* after "event:", an optional space follows */
  SSE_ST_EVENT,     /* copying an event value */
  SSE_ST_SKIP       /* ignoring the rest of the line */
};

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void sse_init(sse_parser *p, size_t max_event_bytes) {
  memset(p, 0, sizeof *p);
  p->max = max_event_bytes;
}

void sse_reset(sse_parser *p) {
  p->data_len = 0;
  p->event_len = 0;
  p->status = SSE_OK;
  p->state = SSE_ST_START;
  p->bom = 0;
  p->last_cr = 0;
  p->has_data = 0;
  p->err_field = 0;
  p->name_len = 0;
}

void sse_free(sse_parser *p) {
  free(p->data);
  free(p->event);
  p->data = NULL;
  p->event = NULL;
  p->data_cap = 0;
  p->event_cap = 0;
  sse_reset(p);
}

int sse_done(const sse_parser *p) { return p->status == SSE_DONE; }

/* Make room for n more bytes plus a NUL; grows geometrically. */
static int sse_reserve(char **buf, size_t *cap, size_t len, size_t n) {
  size_t need, ncap;
  char *nb;
  if (n > SIZE_MAX - 1 - len)
    return -1;
  need = len + n + 1;
  if (need <= *cap)
    return 0;
  ncap = *cap < 64 ? 64 : *cap;
  while (ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  nb = (char *)realloc(*buf, ncap);
  if (!nb)
    return -1;
  *buf = nb;
  *cap = ncap;
  return 0;
}

/* Enforces the limit before growing, so a huge slice never gets buffered.
   The check depends only on the event content so far, never on where the
   input was split. */
static int sse_over(const sse_parser *p, size_t n) {
  size_t used = p->data_len + p->event_len;
  return p->max && (n > p->max || used > p->max - n);
}

static int sse_append(sse_parser *p, int to_event, const char *s, size_t n) {
  if (sse_over(p, n))
    return p->status = SSE_LIMIT;
  if (to_event) {
    if (sse_reserve(&p->event, &p->event_cap, p->event_len, n))
      return p->status = SSE_NOMEM;
    memcpy(p->event + p->event_len, s, n);
    p->event_len += n;
  } else {
    if (sse_reserve(&p->data, &p->data_cap, p->data_len, n))
      return p->status = SSE_NOMEM;
    memcpy(p->data + p->data_len, s, n);
    p->data_len += n;
  }
  return SSE_OK;
}

/* Start of a data line: join with the previous one. */
static int sse_data_line(sse_parser *p) {
  if (p->has_data)
    return sse_append(p, 0, "\n", 1);
  p->has_data = 1;
  return SSE_OK;
}

/* Field name complete (at ':' or at line end when colon is true/false). */
static int sse_field(sse_parser *p, int colon) {
  if (p->name_len == 4 && memcmp(p->name, "data", 4) == 0) {
    p->state = colon ? SSE_ST_DATA_SP : SSE_ST_START;
    return sse_data_line(p);
  }
  if (p->name_len == 5 && memcmp(p->name, "error", 5) == 0) {
    /* the event type becomes "error", counted in the limit like any other */
    p->err_field = 1;
    p->event_len = 0;
    if (sse_append(p, 1, "error", 5) != SSE_OK)
      return p->status;
    p->state = colon ? SSE_ST_DATA_SP : SSE_ST_START;
    return sse_data_line(p);
  }
  if (p->name_len == 5 && memcmp(p->name, "event", 5) == 0 && p->err_field) {
    p->state = colon ? SSE_ST_SKIP : SSE_ST_START; /* an error stays an error */
    return SSE_OK;
  }
  if (p->name_len == 5 && memcmp(p->name, "event", 5) == 0) {
    p->event_len = 0; /* last one wins */
    p->state = colon ? SSE_ST_EVENT_SP : SSE_ST_START;
    return SSE_OK;
  }
  p->state = colon ? SSE_ST_SKIP : SSE_ST_START; /* id, retry, unknown */
  return SSE_OK;
}

static int sse_is(const sse_parser *p, const char *s, size_t n) {
  return p->event_len == n && memcmp(p->event, s, n) == 0;
}

/* Blank line: dispatch the pending event, if any. */
static int sse_dispatch(sse_parser *p, sse_event_fn fn, void *ud) {
  int call = p->has_data || sse_is(p, "error", 5);
  const char *ev = p->event_len ? p->event : "";
  const char *data = p->data_len ? p->data : "";
  int rc = SSE_OK;
  if (call) {
    if (!p->err_field && p->data_len == 6 && memcmp(p->data, "[DONE]", 6) == 0 &&
        (p->event_len == 0 || sse_is(p, "message", 7))) {
      rc = p->status = SSE_DONE;
    } else {
      if (p->data_len)
        p->data[p->data_len] = '\0';
      if (p->event_len)
        p->event[p->event_len] = '\0';
      if (fn(ud, ev, p->event_len, data, p->data_len) != 0)
        rc = p->status = SSE_STOP;
    }
  }
  p->data_len = 0;
  p->event_len = 0;
  p->has_data = 0;
  p->err_field = 0;
  return rc;
}

/* Position of the next CR or LF at or after i (len if none). The two memchr
   results are cached so a whole slice is scanned at most once per byte. */
static size_t sse_eol(const char *buf, size_t i, size_t len, size_t *ncr,
                      size_t *nlf) {
  const char *q;
  if (*ncr == SIZE_MAX || *ncr < i) {
    q = (const char *)memchr(buf + i, '\r', len - i);
    *ncr = q ? (size_t)(q - buf) : len;
  }
  if (*nlf == SIZE_MAX || *nlf < i) {
    q = (const char *)memchr(buf + i, '\n', len - i);
    *nlf = q ? (size_t)(q - buf) : len;
  }
  return *ncr < *nlf ? *ncr : *nlf;
}

static int sse_run(sse_parser *p, const char *buf, size_t len,
                   sse_event_fn fn, void *ud) {
  size_t i = 0, e;
  size_t ncr = SIZE_MAX, nlf = SIZE_MAX; /* SIZE_MAX = not scanned yet */
  while (i < len) {
    char c = buf[i];
    if (p->last_cr) {
      p->last_cr = 0;
      if (c == '\n') { /* second half of CRLF, maybe from the previous feed */
        i++;
        continue;
      }
    }
    switch (p->state) {
    case SSE_ST_START:
      if (c == '\r' || c == '\n') {
        p->last_cr = c == '\r';
        i++;
        if (sse_dispatch(p, fn, ud) != SSE_OK)
          return p->status;
      } else if (c == ':') { /* comment / keep-alive */
        p->state = SSE_ST_SKIP;
        i++;
      } else {
        p->state = SSE_ST_NAME;
        p->name_len = 0;
      }
      break;
    case SSE_ST_NAME:
      if (c == '\r' || c == '\n') {
        p->last_cr = c == '\r';
        i++;
        if (sse_field(p, 0) != SSE_OK)
          return p->status;
      } else if (c == ':') {
        i++;
        if (sse_field(p, 1) != SSE_OK)
          return p->status;
      } else if (p->name_len == sizeof p->name) {
        p->state = SSE_ST_SKIP; /* longer than any field we keep */
      } else {
        p->name[p->name_len++] = c;
        i++;
      }
      break;
    case SSE_ST_DATA_SP:
    case SSE_ST_EVENT_SP:
      if (c == ' ')
        i++; /* exactly one leading space is dropped */
      p->state = p->state == SSE_ST_DATA_SP ? SSE_ST_DATA : SSE_ST_EVENT;
      break;
    default: /* DATA, EVENT, SKIP: bulk up to the line end */
      e = sse_eol(buf, i, len, &ncr, &nlf);
      if (e > i && p->state != SSE_ST_SKIP &&
          sse_append(p, p->state == SSE_ST_EVENT, buf + i, e - i) != SSE_OK)
        return p->status;
      i = e;
      if (e < len) {
        p->last_cr = buf[e] == '\r';
        p->state = SSE_ST_START;
        i++;
      }
      break;
    }
  }
  return p->status;
}

int sse_feed(sse_parser *p, const char *buf, size_t len, sse_event_fn fn,
             void *ud) {
  if (p->status != SSE_OK)
    return p->status;
  /* A BOM may only appear at the very start and may be split across feeds;
     bytes that turn out not to be a BOM are replayed as ordinary input. */
  while (p->bom < 3 && len > 0) {
    if ((unsigned char)*buf != sse_bom[p->bom]) {
      size_t k = p->bom;
      p->bom = 3;
      if (k && sse_run(p, (const char *)sse_bom, k, fn, ud) != SSE_OK)
        return p->status;
      break;
    }
    p->bom++;
    buf++;
    len--;
  }
  if (len == 0)
    return p->status;
  p->bom = 3;
  return sse_run(p, buf, len, fn, ud);
}

int sse_finish(sse_parser *p, sse_event_fn fn, void *ud) {
  (void)fn; /* an unterminated event is never dispatched */
  (void)ud;
  if (p->status == SSE_OK) {
    p->data_len = 0;
    p->event_len = 0;
    p->has_data = 0;
    p->err_field = 0;
    p->state = SSE_ST_START;
    p->last_cr = 0;
  }
  return p->status;
}
