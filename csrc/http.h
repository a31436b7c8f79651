/* HTTP transfers on a libcurl multi handle, with no Lua inside: callbacks
   only copy bytes into buffers, which the binding reads between calls. */
#ifndef OAICHAT_HTTP_H
#define OAICHAT_HTTP_H

#include "internal.h"

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"
#include "sse.h"

/* The most response-header bytes a transfer accepts (core.max_header_bytes). */
#define HTTP_MAX_HEADER_BYTES (256 * 1024)

enum http_abort {
  HTTP_ABORT_NONE = 0,
  HTTP_ABORT_LIMIT,  /* max_bytes exceeded */
  HTTP_ABORT_IDLE,   /* no byte for idle_ms */
  HTTP_ABORT_CANCEL, /* closed by the caller */
  HTTP_ABORT_NOMEM,
  HTTP_ABORT_HEADERS /* response headers over HTTP_MAX_HEADER_BYTES */
};

enum http_event_kind { HTTP_EVENT_DATA = 'd', HTTP_EVENT_ERROR = 'e' };

typedef struct http_transfer http_transfer;

/* One per lua_State: the multi handle owns the connection cache and the CA
   store cache, so every client of a state reuses connections and loads the
   CA bundle once, and idle connections stay bounded whatever the GC does. */
typedef struct http_multi {
  CURLM *multi;
  http_transfer *active; /* every transfer of every session */
  int closed;
  double performed_ms;   /* when curl_multi_perform last ran */
  int nattached;         /* transfers on the multi handle */
  int gc_limit;          /* attached transfers that trigger a full GC */
  int nsessions;         /* sessions not closed yet */
  int gc_session_limit;  /* open sessions that trigger a full GC */
  int ca_lazy;           /* trust libcurl's hashed CA directory alone */
} http_multi;

/* One per client: its connection cache (a share handle, so closing the
   client closes its connections), its transfers and its pool of handles. */
typedef struct http_session {
  http_multi *m;
  CURLSH *share;
  int closed;
  CURL *pool[16]; /* finished easy handles kept for reuse */
  int npool;
  int nattached;  /* this client's transfers on the multi handle */
} http_session;

typedef struct http_request {
  const char *url;
  const char *method; /* NULL or "POST": POST the body; "GET": no body */
  const char *body;
  size_t body_len;
  struct curl_slist *headers; /* owned by the transfer once started */
  long connect_timeout_ms;    /* 0 = libcurl's default */
  long timeout_ms;            /* whole transfer; 0 = none */
  long idle_timeout_ms;       /* no byte received for this long; 0 = none */
  size_t max_bytes;           /* body or single SSE event; 0 = none */
  const char *user_agent;
  const char *proxy;
  const char *ca_file;
  const char *ca_path;
  int insecure;
  int stream; /* parse a 2xx text/event-stream body as SSE */
  int verbose;
} http_request;

struct http_transfer {
  http_session *sess;
  http_transfer *next, *prev;
  CURL *easy;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
  int attached;
  int done;
  int stream;
  int mode; /* 0 undecided, 1 SSE, 2 body */
  int abort_reason;
  int sse_status;
  CURLcode result;
  long status;
  size_t max_bytes;
  long idle_ms;
  double last_byte_ms;
  double start_ms;
  size_t bytes_in;
  buf head;   /* header lines of the latest response */
  buf body;   /* body, or the error body of a failed stream */
  buf events; /* queued SSE events: kind byte, size_t length, data */
  size_t events_pos;
  double done_seen_ms; /* when [DONE] was parsed with nothing queued */
  int paused; /* the write callback paused: the queue is over its bound */
  sse_parser sse;
};

OC_HIDDEN double http_now_ms(void);

OC_HIDDEN int http_multi_init(http_multi *m);
/* Cancels every transfer still attached, then frees the multi handle. */
OC_HIDDEN void http_multi_close(http_multi *m);

OC_HIDDEN int http_session_init(http_session *s, http_multi *m);
/* Cancels the session's transfers (their connections close) and frees its pool. */
OC_HIDDEN void http_session_close(http_session *s);
/* One round: perform, collect finished transfers, enforce idle timeouts,
   then wait up to timeout_ms for activity. Returns the session's transfers
   still running. */
OC_HIDDEN int http_session_step(http_session *s, long timeout_ms);

/* Sets up t (zeroed memory) and adds it to s. Returns 0, or -1 with a message
   in t->errbuf. On failure t still needs http_transfer_free. */
OC_HIDDEN int http_transfer_start(http_session *s, http_transfer *t, http_request *r);
enum http_next { HTTP_NEXT_NONE = 0, HTTP_NEXT_EVENT, HTTP_NEXT_END };
/* One step of t: pops its next queued SSE event (HTTP_NEXT_EVENT, with kind
   and data valid until the next call), or reports its end (HTTP_NEXT_END:
   done, or [DONE] seen and its grace over), driving the session up to
   timeout_ms (< 0: no limit; 0: one perform at most) for either to happen. */
OC_HIDDEN int http_transfer_next(http_transfer *t, long timeout_ms, int *kind, const char **data,
                                 size_t *len);
/* What a libcurl result means for the caller: kind "timeout", "tls",
   "nomem" or "connection" (resolve, connect, resets...), and for some
   connection failures a short description. kind is NULL for CURLE_OK. */
typedef struct http_failure {
  const char *kind;
  const char *what;
} http_failure;
OC_HIDDEN http_failure http_classify(CURLcode code);

/* The one parser of response header lines ("HTTP/" status lines skipped):
   names are lower-cased into the iterator's buffer, values trimmed. */
typedef struct http_header_iter {
  const char *p, *end;
  char name[128];
} http_header_iter;
OC_HIDDEN void http_header_begin(http_header_iter *it, const buf *head);
OC_HIDDEN int http_header_next(http_header_iter *it, const char **name, size_t *nlen,
                               const char **value, size_t *vlen);

OC_HIDDEN void http_transfer_cancel(http_transfer *t);
OC_HIDDEN void http_transfer_free(http_transfer *t);

#endif
