#include "http.h"

#include <dirent.h>
#include <string.h>
#include <time.h>

#define HTTP_MAX_IDLE 128
/* poll(0) on each of N transfers must not cost N full performs: one
   perform serves every transfer for this long. */
#define HTTP_TICK_MS 0.25
/* An unread stream stops reading its socket once this many bytes of events
   are queued (the server then waits on TCP), and resumes below half of it. */
#define HTTP_QUEUE_MAX (1024 * 1024)
/* How long a transfer may take to finish its body after `data: [DONE]`. */
#define HTTP_DONE_GRACE_MS 200.0
#define HTTP_POOL_MAX ((int)(sizeof(((http_session *)0)->pool) / sizeof(CURL *)))

static void http_compact(http_transfer *t);
static int http_ca_lazy(void);

double http_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- multi and sessions -------------------------------------------- */

int http_multi_init(http_multi *m) {
  memset(m, 0, sizeof(*m));
  m->multi = curl_multi_init();
  if (m->multi == NULL) return -1;
  curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  /* Keep the idle connections of a burst (libcurl's default keeps 4 per
     running transfer, so a batch loses many as it drains). */
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_MAX_IDLE);
  m->ca_lazy = http_ca_lazy();
  return 0;
}

int http_session_init(http_session *s, http_multi *m) {
  memset(s, 0, sizeof(*s));
  s->m = m;
  s->share = curl_share_init();
  if (s->share == NULL) return -1;
  curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  m->nsessions++;
  return 0;
}

static void http_detach(http_transfer *t) {
  if (!t->attached) return;
  if (!t->sess->m->closed) curl_multi_remove_handle(t->sess->m->multi, t->easy);
  t->attached = 0;
  t->sess->m->nattached--;
  t->sess->nattached--;
}

static void http_unlink(http_transfer *t) {
  http_multi *m;
  if (t->sess == NULL) return;
  m = t->sess->m;
  if (t->prev) t->prev->next = t->next;
  else m->active = t->next;
  if (t->next) t->next->prev = t->prev;
  t->next = t->prev = NULL;
  t->sess = NULL;
}

static void http_finish(http_transfer *t, CURLcode code) {
  if (t->done) return;
  t->done = 1;
  t->result = code;
  if (t->easy) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  http_detach(t);
}

/* Ends t for good: cancelled, its handle freed (its session is going away). */
static void http_drop(http_transfer *t) {
  http_transfer_cancel(t);
  curl_easy_cleanup(t->easy);
  t->easy = NULL;
  http_unlink(t);
}

void http_session_close(http_session *s) {
  int i;
  http_transfer *t, *next;
  if (s->closed) return;
  for (t = s->m->active; t; t = next) {
    next = t->next;
    if (t->sess == s) http_drop(t);
  }
  for (i = 0; i < s->npool; i++) curl_easy_cleanup(s->pool[i]);
  s->npool = 0;
  /* No handle uses the share any more: this closes the client's connections. */
  curl_share_cleanup(s->share);
  s->share = NULL;
  s->closed = 1;
  s->m->nsessions--;
}

void http_multi_close(http_multi *m) {
  if (m->closed) return;
  while (m->active) http_drop(m->active);
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  m->closed = 1;
}

static void http_collect(http_multi *m) {
  CURLMsg *msg;
  int left;
  double now;
  http_transfer *t, *next;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    t = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    if (t) http_finish(t, msg->data.result);
  }
  now = http_now_ms();
  for (t = m->active; t; t = next) {
    next = t->next;
    if (t->attached && !t->paused && t->idle_ms > 0 && now - t->last_byte_ms >= (double)t->idle_ms) {
      t->abort_reason = HTTP_ABORT_IDLE;
      http_finish(t, CURLE_OPERATION_TIMEDOUT);
    }
  }
}

/* How long we may sleep before an idle deadline needs checking. */
static long http_idle_wait(http_multi *m, long timeout_ms) {
  double now = http_now_ms();
  http_transfer *t;
  for (t = m->active; t; t = t->next) {
    if (t->attached && !t->paused && t->idle_ms > 0) {
      double left = t->last_byte_ms + (double)t->idle_ms - now;
      long ms = left <= 0 ? 0 : (long)left + 1;
      if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = ms;
    }
  }
  return timeout_ms;
}

static int http_perform(http_multi *m) {
  int running = 0;
  curl_multi_perform(m->multi, &running);
  http_collect(m);
  m->performed_ms = http_now_ms();
  return running;
}

static void http_poll(http_multi *m, long timeout_ms) {
  timeout_ms = http_idle_wait(m, timeout_ms);
  if (timeout_ms < 0 || timeout_ms > 1000) timeout_ms = 1000;
  if (timeout_ms > 0) curl_multi_poll(m->multi, NULL, 0, (int)timeout_ms, NULL);
}

int http_session_step(http_session *s, long timeout_ms) {
  if (s->closed || s->m->closed) return 0;
  http_perform(s->m);
  if (s->nattached > 0 && timeout_ms != 0) {
    http_poll(s->m, timeout_ms);
    http_perform(s->m);
  }
  return s->nattached;
}

/* ---- callbacks (no Lua here: bytes into buffers only) ----------------- */

static int http_on_event(void *ud, const char *event, size_t event_len, const char *data,
                         size_t data_len) {
  http_transfer *t = ud;
  char kind = HTTP_EVENT_DATA;
  if (event_len == 5 && memcmp(event, "error", 5) == 0) kind = HTTP_EVENT_ERROR;
  if (buf_reserve(&t->events, 1 + sizeof(size_t) + data_len) != 0) return 1;
  buf_append(&t->events, &kind, 1);
  buf_append(&t->events, &data_len, sizeof(size_t));
  buf_append(&t->events, data, data_len);
  return 0;
}

/* Media types are case-insensitive (RFC 9110 8.3.1): Text/Event-Stream. */
static int http_is_event_stream(const char *ct) {
  static const char want[] = "text/event-stream";
  const size_t n = sizeof(want) - 1;
  for (; *ct; ct++) {
    size_t i;
    for (i = 0; i < n && ct[i]; i++) {
      char c = ct[i];
      if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
      if (c != want[i]) break;
    }
    if (i == n) return 1;
  }
  return 0;
}

static int http_is_sse(http_transfer *t) {
  char *ct = NULL;
  if (t->status < 200 || t->status > 299) return 0;
  curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
  return ct == NULL || http_is_event_stream(ct);
}

static size_t http_on_write(char *p, size_t size, size_t n, void *ud) {
  http_transfer *t = ud;
  size_t len = size * n;
  /* Backpressure: libcurl hands the same bytes back once resumed. */
  if (t->mode == 1 && t->events.len - t->events_pos >= HTTP_QUEUE_MAX) {
    t->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  t->last_byte_ms = http_now_ms();
  t->bytes_in += len;
  if (t->mode == 0) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    t->mode = t->stream && http_is_sse(t) ? 1 : 2;
  }
  if (t->mode == 1) {
    int rc;
    if (t->sse_status != SSE_OK) return len; /* after [DONE]: drain */
    rc = sse_feed(&t->sse, p, len, http_on_event, t);
    t->sse_status = rc;
    if (rc == SSE_LIMIT) t->abort_reason = HTTP_ABORT_LIMIT;
    else if (rc == SSE_NOMEM || rc == SSE_STOP) t->abort_reason = HTTP_ABORT_NOMEM;
    return rc == SSE_OK || rc == SSE_DONE ? len : 0;
  }
  if (t->max_bytes && len > t->max_bytes - (t->body.len < t->max_bytes ? t->body.len : t->max_bytes)) {
    t->abort_reason = HTTP_ABORT_LIMIT;
    return 0;
  }
  if (buf_append(&t->body, p, len) != 0) {
    t->abort_reason = HTTP_ABORT_NOMEM;
    return 0;
  }
  return len;
}

static size_t http_on_header(char *p, size_t size, size_t n, void *ud) {
  http_transfer *t = ud;
  size_t len = size * n;
  t->last_byte_ms = http_now_ms();
  t->bytes_in += len;
  /* A new status line starts a new response (100 Continue, redirects). */
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    buf_clear(&t->head);
    t->mode = 0;
  }
  if (t->head.len + len > HTTP_MAX_HEADER_BYTES || buf_append(&t->head, p, len) != 0) {
    t->abort_reason = HTTP_ABORT_HEADERS;
    return 0;
  }
  /* The blank line ends a head: its status is known before any body byte. */
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n'))
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  return len;
}

/* ---- transfers ------------------------------------------------------ */

static CURL *http_easy_get(http_session *s) {
  if (s->npool > 0) {
    CURL *e = s->pool[--s->npool];
    curl_easy_reset(e);
    return e;
  }
  return curl_easy_init();
}

/* Whether dir holds OpenSSL's hashed links (<8 hex digits>.0), so a
   verifier can load just the issuer it needs. */
static int http_hashed_dir(const char *dir) {
  DIR *d = dir ? opendir(dir) : NULL;
  struct dirent *ent;
  int found = 0;
  if (d == NULL) return 0;
  while (!found && (ent = readdir(d)) != NULL) {
    const char *n = ent->d_name;
    found = strlen(n) == 10 && strspn(n, "0123456789abcdef") == 8 && strcmp(n + 8, ".0") == 0;
  }
  closedir(d);
  return found;
}

/* Decided once per multi: with libcurl's default CA bundle and directory
   (Debian sets both), parsing the bundle costs ~18 ms inside a poll. When
   the directory is hashed, trust it alone: each handshake then reads only
   its issuer's file (~0.3 ms). Otherwise keep the bundle alone, which
   libcurl caches on the multi (parsed once per lua_State). */
static int http_ca_lazy(void) {
  int lazy = 0;
#if LIBCURL_VERSION_NUM >= 0x075400
  CURL *e = curl_easy_init();
  char *dir = NULL;
  if (e && curl_easy_getinfo(e, CURLINFO_CAPATH, &dir) == CURLE_OK) lazy = http_hashed_dir(dir);
  curl_easy_cleanup(e);
#endif
  return lazy;
}

/* CA settings when the caller gave no ca_path. With a hashed default
   directory: it stays (so ca_file adds a CA to the system's, as documented)
   and the bundle goes. Without one the directory is useless: drop it, so
   the bundle or ca_file is the only source and libcurl caches the store. */
static void http_ca_defaults(CURL *e, int ca_file_given, int lazy) {
  if (lazy) {
    if (!ca_file_given) curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
    return;
  }
  curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
}

static void http_setup(http_transfer *t, http_request *r, const http_session *s) {
  CURL *e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
  curl_easy_setopt(e, CURLOPT_SHARE, s->share);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
  /* Removing a transfer whose lookup is still running would join the
     resolver thread (seconds on a slow DNS); this leaves the thread to end
     on its own, so poll(0), close() and __gc never wait for it. */
  curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
  if (r->method && strcmp(r->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? r->body : "");
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  /* Over TLS the server may offer HTTP/2: a transfer started while the first
     connection is still being set up waits to multiplex on it rather than
     opening a connection of its own. */
  if (strncmp(r->url, "https:", 6) == 0 || strncmp(r->url, "HTTPS:", 6) == 0)
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  if (r->user_agent) curl_easy_setopt(e, CURLOPT_USERAGENT, r->user_agent);
  if (r->connect_timeout_ms > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
  if (r->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  if (r->proxy) curl_easy_setopt(e, CURLOPT_PROXY, r->proxy);
  if (r->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
  if (r->ca_path) curl_easy_setopt(e, CURLOPT_CAPATH, r->ca_path);
  else http_ca_defaults(e, r->ca_file != NULL, s->m->ca_lazy);
  if (r->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (r->verbose) curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
}

int http_transfer_start(http_session *s, http_transfer *t, http_request *r) {
  memset(t, 0, sizeof(*t));
  buf_init(&t->head);
  buf_init(&t->body);
  buf_init(&t->events);
  t->headers = r->headers;
  r->headers = NULL;
  t->stream = r->stream;
  t->max_bytes = r->max_bytes;
  t->idle_ms = r->idle_timeout_ms;
  t->start_ms = t->last_byte_ms = http_now_ms();
  sse_init(&t->sse, r->max_bytes);
  if (s->closed || s->m->closed) {
    strcpy(t->errbuf, "the client was closed");
    return -1;
  }
  t->easy = http_easy_get(s);
  if (t->easy == NULL) {
    strcpy(t->errbuf, "out of memory creating a libcurl handle");
    return -1;
  }
  http_setup(t, r, s);
  if (curl_multi_add_handle(s->m->multi, t->easy) != CURLM_OK) {
    strcpy(t->errbuf, "libcurl refused to add the transfer");
    return -1;
  }
  t->sess = s;
  t->attached = 1;
  s->nattached++;
  s->m->nattached++;
  t->next = s->m->active;
  if (s->m->active) s->m->active->prev = t;
  s->m->active = t;
  return 0;
}

/* Resumes a paused stream once the reader has taken enough of its queue.
   Only before popping: resuming may run the write callback at once, which
   could move the queue under an event being read. */
static void http_resume(http_transfer *t) {
  if (!t->paused || t->done || t->events.len - t->events_pos >= HTTP_QUEUE_MAX / 2) return;
  t->paused = 0;
  t->last_byte_ms = http_now_ms();
  curl_easy_pause(t->easy, CURLPAUSE_CONT);
}

/* Pops the next queued SSE event; returns 0 when none is queued. */
static int http_pop_event(http_transfer *t, int *kind, const char **data, size_t *len) {
  size_t n;
  const char *p;
  if (t->events_pos >= t->events.len) {
    if (t->events.len) buf_clear(&t->events);
    t->events_pos = 0;
    return 0;
  }
  p = t->events.data + t->events_pos;
  memcpy(&n, p + 1, sizeof(size_t));
  *kind = p[0];
  *data = p + 1 + sizeof(size_t);
  *len = n;
  t->events_pos += 1 + sizeof(size_t) + n;
  return 1;
}

/* After [DONE] with nothing queued, the body's end gets a short grace so the
   connection can be reused; past it the transfer ends (closing that
   connection) and still counts as complete. Returns 1 once it ended. */
static int http_done_graced(http_transfer *t, double now) {
  if (t->sse_status != SSE_DONE) return 0;
  if (t->done_seen_ms == 0) t->done_seen_ms = now;
  if (now - t->done_seen_ms < HTTP_DONE_GRACE_MS) return 0;
  http_finish(t, CURLE_OK);
  return 1;
}

/* How long the next wait may last: until deadline (< 0: none) and, after
   [DONE], until the grace ends. */
static long http_wait_ms(const http_transfer *t, double deadline, double now) {
  long ms = deadline < 0 ? -1 : (long)(deadline - now) + 1;
  if (t->sse_status == SSE_DONE) {
    long g = (long)(t->done_seen_ms + HTTP_DONE_GRACE_MS - now) + 1;
    if (ms < 0 || g < ms) ms = g;
  }
  return ms;
}

int http_transfer_next(http_transfer *t, long timeout_ms, int *kind, const char **data,
                       size_t *len) {
  double now = http_now_ms();
  double deadline = timeout_ms < 0 ? -1 : now + (double)timeout_ms;
  int performed = 0;
  http_resume(t);
  for (;;) {
    if (http_pop_event(t, kind, data, len)) return HTTP_NEXT_EVENT;
    if (t->done || t->sess == NULL) return HTTP_NEXT_END;
    now = http_now_ms();
    if (http_done_graced(t, now)) return HTTP_NEXT_END;
    if (performed) {
      if (deadline >= 0 && now >= deadline) return HTTP_NEXT_NONE;
      http_poll(t->sess->m, http_wait_ms(t, deadline, now));
    } else if (timeout_ms == 0 && now - t->sess->m->performed_ms < HTTP_TICK_MS) {
      return HTTP_NEXT_NONE;
    }
    http_compact(t);
    http_perform(t->sess->m);
    performed = 1;
  }
}

/* Drops consumed events so a long stream's queue stays small. */
static void http_compact(http_transfer *t) {
  if (t->events_pos > 65536 && t->events_pos * 2 > t->events.len) {
    buf_consume(&t->events, t->events_pos);
    t->events_pos = 0;
  }
}

/* ---- results and headers ------------------------------------------- */

http_failure http_classify(CURLcode code) {
  http_failure f = {NULL, NULL};
  switch (code) {
  case CURLE_OK: return f;
  case CURLE_OPERATION_TIMEDOUT: f.kind = "timeout"; return f;
  case CURLE_OUT_OF_MEMORY: f.kind = "nomem"; return f;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT: f.kind = "tls"; return f;
  default: f.kind = "connection"; break;
  }
  switch (code) {
  case CURLE_COULDNT_RESOLVE_PROXY: f.what = "could not resolve the proxy"; break;
  case CURLE_COULDNT_RESOLVE_HOST: f.what = "could not resolve the host"; break;
  case CURLE_COULDNT_CONNECT: f.what = "could not connect"; break;
  case CURLE_PARTIAL_FILE: f.what = "the connection closed before the whole response arrived"; break;
  case CURLE_GOT_NOTHING: f.what = "the server closed the connection without answering"; break;
  case CURLE_SEND_ERROR: f.what = "sending failed"; break;
  case CURLE_RECV_ERROR: f.what = "receiving failed (connection reset?)"; break;
  default: f.what = "transfer failed"; break;
  }
  return f;
}

void http_header_begin(http_header_iter *it, const buf *head) {
  it->p = head->data;
  it->end = head->data ? head->data + head->len : NULL;
}

int http_header_next(http_header_iter *it, const char **name, size_t *nlen, const char **value,
                     size_t *vlen) {
  while (it->p && it->p < it->end) {
    const char *p = it->p, *eol = memchr(p, '\n', (size_t)(it->end - p)), *colon;
    if (eol == NULL) eol = it->end;
    it->p = eol + 1;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (colon != NULL && !(eol - p >= 5 && memcmp(p, "HTTP/", 5) == 0) &&
        (size_t)(colon - p) < sizeof(it->name)) {
      size_t i, n = (size_t)(colon - p);
      const char *v = colon + 1, *ve = eol;
      for (i = 0; i < n; i++) {
        char c = p[i];
        it->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
      }
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      *name = it->name;
      *nlen = n;
      *value = v;
      *vlen = (size_t)(ve - v);
      return 1;
    }
  }
  return 0;
}

/* ---- ending transfers ----------------------------------------------- */

void http_transfer_cancel(http_transfer *t) {
  if (!t->done) {
    t->abort_reason = HTTP_ABORT_CANCEL;
    http_finish(t, CURLE_ABORTED_BY_CALLBACK);
  }
}

void http_transfer_free(http_transfer *t) {
  http_session *s = t->sess;
  http_transfer_cancel(t);
  if (t->easy) {
    /* A handle that finished cleanly goes back to the pool; a cancelled
       one's connection was already closed by libcurl. */
    if (s && !s->closed && s->npool < HTTP_POOL_MAX)
      s->pool[s->npool++] = t->easy;
    else
      curl_easy_cleanup(t->easy);
    t->easy = NULL;
  }
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  http_unlink(t);
  buf_free(&t->head);
  buf_free(&t->body);
  buf_free(&t->events);
  sse_free(&t->sse);
}
