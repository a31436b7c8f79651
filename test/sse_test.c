/* Unit tests for csrc/sse.c. Every stream is checked fed whole, split in two
   at every byte, split in three (short streams), and fed byte by byte; the
   events and final status must be identical every time. */
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sse_t_pass, sse_t_fail;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      sse_t_pass++;                                                            \
    } else {                                                                   \
      sse_t_fail++;                                                            \
      fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* Events are recorded as "event|data\n" with \n, \r, \\, NUL escaped. */
typedef struct {
  char buf[1 << 16];
  size_t len;
  int count;
  int stop_after; /* return non-zero from the callback at this event, 0=never */
} sse_rec;

static void sse_rec_put(sse_rec *r, const char *s, size_t n, int esc) {
  size_t i;
  for (i = 0; i < n && r->len + 3 < sizeof r->buf; i++) {
    char c = s[i];
    if (esc && (c == '\n' || c == '\r' || c == '\\' || c == '\0')) {
      r->buf[r->len++] = '\\';
      c = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\0' ? '0' : '\\';
    }
    r->buf[r->len++] = c;
  }
  r->buf[r->len] = '\0';
}

static int sse_rec_cb(void *ud, const char *ev, size_t evlen, const char *data,
                      size_t dlen) {
  sse_rec *r = (sse_rec *)ud;
  /* buffers must be NUL-terminated and event "" when absent */
  if (ev[evlen] != '\0' || data[dlen] != '\0')
    sse_rec_put(r, "<NONUL>", 7, 0);
  sse_rec_put(r, ev, evlen, 1);
  sse_rec_put(r, "|", 1, 0);
  sse_rec_put(r, data, dlen, 1);
  sse_rec_put(r, "\n", 1, 0);
  r->count++;
  return r->stop_after && r->count >= r->stop_after;
}

typedef struct {
  const char *name;
  const char *in;
  size_t in_len; /* 0 = strlen(in) */
  size_t max;
  int stop_after;
  const char *want;
  int want_status;
} sse_case;

/* Feeds in[0..len) cut at the given points; returns the final status and
   checks that statuses are sticky once non-OK. */
static int sse_run_split(const sse_case *tc, const char *in, size_t len,
                         const size_t *cuts, size_t ncuts, sse_rec *r,
                         const char *how) {
  sse_parser p;
  size_t k, from = 0;
  int st = SSE_OK, rc;
  memset(r, 0, sizeof *r);
  r->stop_after = tc->stop_after;
  sse_init(&p, tc->max);
  for (k = 0; k <= ncuts; k++) {
    size_t to = k < ncuts ? cuts[k] : len;
    rc = sse_feed(&p, in + from, to - from, sse_rec_cb, r);
    if (st != SSE_OK && rc != st) {
      CHECK(0, "%s [%s]: status not sticky: %d then %d", tc->name, how, st, rc);
    }
    if (rc != SSE_OK)
      st = rc;
    from = to;
  }
  rc = sse_finish(&p, sse_rec_cb, r);
  if (st != SSE_OK && rc != st)
    CHECK(0, "%s [%s]: finish %d != %d", tc->name, how, rc, st);
  CHECK(sse_done(&p) == (rc == SSE_DONE), "%s [%s]", tc->name, how);
  sse_free(&p);
  sse_free(&p); /* safe twice */
  return rc;
}

static void sse_expect(const sse_case *tc, const sse_rec *r, int st,
                       const char *how) {
  CHECK(strcmp(r->buf, tc->want) == 0, "%s [%s]: events\n got: %s\nwant: %s",
        tc->name, how, r->buf, tc->want);
  CHECK(st == tc->want_status, "%s [%s]: status %d want %d", tc->name, how, st,
        tc->want_status);
}

static void sse_run_case(const sse_case *tc) {
  static sse_rec r;
  size_t len = tc->in_len ? tc->in_len : strlen(tc->in);
  size_t i, j, cuts[2], *bytes;
  int st;
  char how[64];
  int f0 = sse_t_fail;

  st = sse_run_split(tc, tc->in, len, NULL, 0, &r, "whole");
  sse_expect(tc, &r, st, "whole");

  for (i = 0; i <= len; i++) {
    cuts[0] = i;
    st = sse_run_split(tc, tc->in, len, cuts, 1, &r, "split2");
    sprintf(how, "split at %lu", (unsigned long)i);
    sse_expect(tc, &r, st, how);
  }
  if (len <= 80) {
    for (i = 0; i <= len; i++)
      for (j = i; j <= len; j++) {
        cuts[0] = i;
        cuts[1] = j;
        st = sse_run_split(tc, tc->in, len, cuts, 2, &r, "split3");
        sprintf(how, "split at %lu,%lu", (unsigned long)i, (unsigned long)j);
        sse_expect(tc, &r, st, how);
      }
  }
  bytes = (size_t *)malloc((len + 1) * sizeof *bytes);
  for (i = 0; i < len; i++)
    bytes[i] = i + 1;
  st = sse_run_split(tc, tc->in, len, bytes, len ? len - 1 : 0, &r, "bytes");
  sse_expect(tc, &r, st, "byte by byte");
  free(bytes);
  if (sse_t_fail != f0)
    fprintf(stderr, "  ^ in case '%s'\n", tc->name);
}

static const sse_case sse_cases[] = {
    {"simple", "data: hello\n\n", 0, 0, 0, "|hello\n", SSE_OK},
    {"two events", "data: a\n\ndata: b\n\n", 0, 0, 0, "|a\n|b\n", SSE_OK},
    {"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", 0, 0, 0, "|a\n|b\n", SSE_OK},
    {"cr only", "data: a\r\rdata: b\r\r", 0, 0, 0, "|a\n|b\n", SSE_OK},
    {"cr cr is two line ends", "data: a\r\r", 0, 0, 0, "|a\n", SSE_OK},
    {"crlf is one line end", "data: a\r\ndata: b\r\n\r\n", 0, 0, 0, "|a\\nb\n",
     SSE_OK},
    {"mixed endings", "data: a\rdata: b\ndata: c\r\n\ndata: d\n\r\n", 0, 0, 0,
     "|a\\nb\\nc\n|d\n", SSE_OK},
    {"lf cr lf", "data: x\n\r\ndata: y\n\n", 0, 0, 0, "|x\n|y\n", SSE_OK},
    {"bom", "\xEF\xBB\xBF" "data: a\n\n", 0, 0, 0, "|a\n", SSE_OK},
    {"bom then field name", "\xEF\xBB\xBF" "data\n\n", 0, 0, 0, "|\n", SSE_OK},
    {"bom only once", "\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", 0, 0,
     0, "|b\n", SSE_OK},
    {"partial bom is a field name", "\xEF\xBB" "data: a\n\ndata: b\n\n", 0, 0,
     0, "|b\n", SSE_OK},
    {"bom not at start", "data: a\n\n\xEF\xBB\xBF" "data: b\n\n", 0, 0, 0,
     "|a\n", SSE_OK},
    {"comments", ": keep-alive\n:\n: x\r\ndata: a\n: mid\ndata: b\n\n:end\n",
     0, 0, 0, "|a\\nb\n", SSE_OK},
    {"comment only stream", ": ping\n\n: ping\n\n", 0, 0, 0, "", SSE_OK},
    {"data no space", "data:a\n\n", 0, 0, 0, "|a\n", SSE_OK},
    {"data two spaces", "data:  two\n\n", 0, 0, 0, "| two\n", SSE_OK},
    {"data tab kept", "data:\tx\n\n", 0, 0, 0, "|\tx\n", SSE_OK},
    {"value with colon", "data: a: b:c\n\n", 0, 0, 0, "|a: b:c\n", SSE_OK},
    {"multi data", "data: 1\ndata: 2\ndata: 3\n\n", 0, 0, 0, "|1\\n2\\n3\n",
     SSE_OK},
    {"empty data line", "data:\n\n", 0, 0, 0, "|\n", SSE_OK},
    {"data without colon", "data\n\n", 0, 0, 0, "|\n", SSE_OK},
    {"empty data lines joined", "data\ndata:\ndata: x\ndata:\n\n", 0, 0, 0,
     "|\\n\\nx\\n\n", SSE_OK},
    {"event name", "event: delta\ndata: x\n\n", 0, 0, 0, "delta|x\n", SSE_OK},
    {"event last wins", "event: a\nevent: bb\ndata: x\nevent:c\n\n", 0, 0, 0,
     "c|x\n", SSE_OK},
    {"event reset after dispatch", "event: a\ndata: 1\n\ndata: 2\n\n", 0, 0, 0,
     "a|1\n|2\n", SSE_OK},
    {"event without data dropped", "event: ping\n\ndata: x\n\n", 0, 0, 0,
     "|x\n", SSE_OK},
    {"event no colon empties name", "event: a\nevent\ndata: x\n\n", 0, 0, 0,
     "|x\n", SSE_OK},
    {"error event no data", "event: error\n\ndata: x\n\n", 0, 0, 0,
     "error|\n|x\n", SSE_OK},
    {"error event with data", "event: error\ndata: {\"error\":1}\n\n", 0, 0, 0,
     "error|{\"error\":1}\n", SSE_OK},
    {"error event then done", "event:error\r\n\r\ndata: [DONE]\r\n\r\n", 0, 0,
     0, "error|\n", SSE_DONE},
    {"id and retry ignored",
     "id: 1\nretry: 100\ndata: a\nid\nretry\n\nid: 2\n\n", 0, 0, 0, "|a\n",
     SSE_OK},
    {"unknown fields", "foo: bar\ndat: x\ndataa: y\nData: z\nevents: e\n"
                       "eventx\ndata: ok\n\n",
     0, 0, 0, "|ok\n", SSE_OK},
    {"space before colon is name", "data : x\n\ndata: y\n\n", 0, 0, 0, "|y\n",
     SSE_OK},
    {"done", "data: a\n\ndata: [DONE]\n\ndata: b\n\n", 0, 0, 0, "|a\n",
     SSE_DONE},
    {"done then garbage", "data: [DONE]\n\n\xff\xfe garbage\ndata: no\n\n", 0,
     0, 0, "", SSE_DONE},
    {"done event message", "event: message\ndata: [DONE]\n\ndata: b\n\n", 0, 0,
     0, "", SSE_DONE},
    {"done other event name", "event: x\ndata: [DONE]\n\n", 0, 0, 0,
     "x|[DONE]\n", SSE_OK},
    {"done with spaces is data", "data: [DONE] \n\ndata:  [DONE]\n\n", 0, 0, 0,
     "|[DONE] \n| [DONE]\n", SSE_OK},
    {"done multi line is data", "data: [DONE]\ndata: x\n\n", 0, 0, 0,
     "|[DONE]\\nx\n", SSE_OK},
    {"done needs blank line", "data: [DONE]\n", 0, 0, 0, "", SSE_OK},
    {"no final blank line", "data: a\n\ndata: b\n", 0, 0, 0, "|a\n", SSE_OK},
    {"no final newline", "data: a\n\ndata: b", 0, 0, 0, "|a\n", SSE_OK},
    {"trailing cr", "data: a\r\r", 0, 0, 0, "|a\n", SSE_OK},
    {"empty stream", "", 0, 0, 0, "", SSE_OK},
    {"blank lines only", "\n\r\n\r\r\n", 0, 0, 0, "", SSE_OK},
    {"nul bytes in data", "data: a\0b\n\n", 11, 0, 0, "|a\\0b\n", SSE_OK},
    {"openai chunks",
     "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
     "\"Hel\"}}]}\n\n"
     ": OPENROUTER PROCESSING\n\n"
     "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
     "\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
     "data: [DONE]\n\n",
     0, 0, 0,
     "|{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
     "\"Hel\"}}]}\n"
     "|{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
     "\"lo\"},\"finish_reason\":\"stop\"}]}\n",
     SSE_DONE},
    {"anthropic style", "event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
                        "event: ping\r\ndata: {}\r\n\r\n",
     0, 0, 0, "message_start|{\"a\":1}\nping|{}\n", SSE_OK},
    /* llama.cpp reports a failure on a non-standard "error:" field line */
    {"error field", "data: {\"a\":1}\n\nerror: {\"code\":400}\n\ndata: [DONE]\n\n",
     0, 0, 0, "|{\"a\":1}\nerror|{\"code\":400}\n", SSE_DONE},
    {"error field no space", "error:{\"m\":1}\r\n\r\n", 0, 0, 0,
     "error|{\"m\":1}\n", SSE_OK},
    {"error field without colon", "error\n\ndata: x\n\n", 0, 0, 0,
     "error|\n|x\n", SSE_OK},
    {"error field is never done", "error: [DONE]\n\ndata: [DONE]\n\n", 0, 0,
     0, "error|[DONE]\n", SSE_DONE},
    {"error field beats event name", "event: x\nerror: e\n\ndata: y\n\n", 0,
     0, 0, "error|e\n|y\n", SSE_OK},
    {"error field joins data lines", "data: a\nerror: b\n\n", 0, 0, 0,
     "error|a\\nb\n", SSE_OK},
    {"error field then data", "error: e\ndata: d\n\n", 0, 0, 0,
     "error|e\\nd\n", SSE_OK},
    {"event after error field ignored", "error: e\nevent: x\n\n", 0, 0, 0,
     "error|e\n", SSE_OK},
    {"limit counts error name", "error: 012345\n\nerror: 01234\n\n", 0, 10,
     0, "", SSE_LIMIT},
    {"limit error name exact", "error: 01234\n\n", 0, 10, 0, "error|01234\n",
     SSE_OK},
    {"errors is another field", "errors: x\nerro: y\ndata: ok\n\n", 0, 0, 0,
     "|ok\n", SSE_OK},
    {"error flag reset per event", "error: e\n\ndata: ok\n\n", 0, 0, 0,
     "error|e\n|ok\n", SSE_OK},
    {"unterminated error field dropped", "data: a\n\nerror: e\n", 0, 0, 0,
     "|a\n", SSE_OK},
    {"limit counts error field", "error: 0123456789A\n\n", 0, 10, 0, "",
     SSE_LIMIT},
    /* limits: data + event name of one event may be at most max bytes */
    {"limit exact", "data: 0123456789\n\n", 0, 10, 0, "|0123456789\n", SSE_OK},
    {"limit exceeded", "data: a\n\ndata: 0123456789A\n\ndata: b\n\n", 0, 10,
     0, "|a\n", SSE_LIMIT},
    {"limit multi line exact", "data: 01234\ndata: 0123\n\n", 0, 10, 0,
     "|01234\\n0123\n", SSE_OK},
    {"limit multi line over", "data: 01234\ndata: 01234\n\n", 0, 10, 0, "",
     SSE_LIMIT},
    {"limit counts event", "event: abc\ndata: 0123456\n\n", 0, 10, 0,
     "abc|0123456\n", SSE_OK},
    {"limit counts event over", "event: abc\ndata: 01234567\n\n", 0, 10, 0, "",
     SSE_LIMIT},
    {"limit resets per event", "data: 0123456789\n\ndata: 0123456789\n\n", 0,
     10, 0, "|0123456789\n|0123456789\n", SSE_OK},
    {"limit endless line", "data: a\n\ndata: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     0, 10, 0, "|a\n", SSE_LIMIT},
    {"limit endless event line", "event: xxxxxxxxxxxxxxxxxxxxxxxx", 0, 10, 0,
     "", SSE_LIMIT},
    {"limit event line over", "event: 0123456789A\n\ndata: x\n\n", 0, 10, 0,
     "", SSE_LIMIT},
    {"limit skips long comment",
     ": xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ndata: a\n\n", 0, 10, 0,
     "|a\n", SSE_OK},
    {"limit skips long id", "id: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ndata: a\n\n",
     0, 10, 0, "|a\n", SSE_OK},
    {"limit skips long field name",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ndata: a\n\n", 0, 10, 0, "|a\n",
     SSE_OK},
    {"limit then done ignored", "data: 0123456789A\n\ndata: [DONE]\n\n", 0, 10,
     0, "", SSE_LIMIT},
    /* callback stop */
    {"stop", "data: a\n\ndata: b\n\ndata: c\n\n", 0, 0, 2, "|a\n|b\n",
     SSE_STOP},
    {"stop first", "data: a\n\ndata: [DONE]\n\n", 0, 0, 1, "|a\n", SSE_STOP},
};

/* sse_done, sse_reset, stickiness and reuse outside the split harness. */
static void sse_test_api(void) {
  static sse_rec r;
  sse_parser p;
  int rc;
  memset(&r, 0, sizeof r);
  sse_init(&p, 0);
  CHECK(!sse_done(&p), "fresh parser not done");
  rc = sse_feed(&p, "data: [DONE]\n\n", 14, sse_rec_cb, &r);
  CHECK(rc == SSE_DONE && sse_done(&p), "done rc=%d", rc);
  rc = sse_feed(&p, "data: x\n\n", 9, sse_rec_cb, &r);
  CHECK(rc == SSE_DONE && r.count == 0, "feed after done rc=%d", rc);
  CHECK(sse_finish(&p, sse_rec_cb, &r) == SSE_DONE, "finish after done");

  sse_reset(&p);
  CHECK(!sse_done(&p), "reset clears done");
  rc = sse_feed(&p, "\xEF\xBB\xBF" "data: y\n\n", 12, sse_rec_cb, &r);
  CHECK(rc == SSE_OK && strcmp(r.buf, "|y\n") == 0, "reuse after reset: %s",
        r.buf);

  /* pending data from an unterminated event must not leak into the next
     stream after finish + reset */
  memset(&r, 0, sizeof r);
  sse_feed(&p, "data: partial", 13, sse_rec_cb, &r);
  CHECK(sse_finish(&p, sse_rec_cb, &r) == SSE_OK && r.count == 0,
        "unterminated not dispatched");
  sse_reset(&p);
  sse_feed(&p, "data: z\n\n", 9, sse_rec_cb, &r);
  CHECK(strcmp(r.buf, "|z\n") == 0, "no leak after reset: %s", r.buf);
  sse_free(&p);

  /* empty feeds are harmless, also NULL with length 0 */
  memset(&r, 0, sizeof r);
  sse_init(&p, 0);
  CHECK(sse_feed(&p, NULL, 0, sse_rec_cb, &r) == SSE_OK, "NULL feed");
  CHECK(sse_feed(&p, "data: q\n", 8, sse_rec_cb, &r) == SSE_OK, "feed");
  CHECK(sse_feed(&p, "", 0, sse_rec_cb, &r) == SSE_OK, "empty feed");
  CHECK(sse_feed(&p, "\n", 1, sse_rec_cb, &r) == SSE_OK, "feed");
  CHECK(strcmp(r.buf, "|q\n") == 0, "events: %s", r.buf);
  sse_free(&p);
  sse_free(&p);
}

/* Long comment / id lines must not be buffered; a long data line is bounded
   by the limit; many small events in 16 KiB slices stay linear. */
static void sse_test_memory(void) {
  static sse_rec r;
  sse_parser p;
  size_t n = 1 << 22, i, off;
  char *big = (char *)malloc(n);
  int rc;

  memset(&r, 0, sizeof r);
  sse_init(&p, 1024);
  memset(big, 'x', n);
  big[0] = ':';
  for (off = 0; off < n; off += 16384)
    rc = sse_feed(&p, big, 16384, sse_rec_cb, &r);
  rc = sse_feed(&p, "\ndata: ok\n\n", 11, sse_rec_cb, &r);
  CHECK(rc == SSE_OK && strcmp(r.buf, "|ok\n") == 0, "after long comment");
  CHECK(p.data_cap <= 2048 && p.event_cap <= 2048, "comment not buffered: %lu",
        (unsigned long)p.data_cap);
  sse_free(&p);

  sse_init(&p, 1024);
  rc = sse_feed(&p, "data: ", 6, sse_rec_cb, &r);
  for (off = 0; off < n && rc == SSE_OK; off += 16384)
    rc = sse_feed(&p, big + 1, 16384, sse_rec_cb, &r);
  CHECK(rc == SSE_LIMIT && p.data_cap <= 2048, "endless line limited");
  CHECK(sse_feed(&p, "\n\n", 2, sse_rec_cb, &r) == SSE_LIMIT, "limit sticky");
  CHECK(sse_finish(&p, sse_rec_cb, &r) == SSE_LIMIT, "finish limit");
  sse_free(&p);

  /* one 4 MiB data line, unlimited, in one piece and then in 16 KiB slices */
  memcpy(big, "data: ", 6);
  big[n - 2] = '\n';
  big[n - 1] = '\n';
  {
    size_t got = 0;
    memset(&r, 0, sizeof r);
    sse_init(&p, 0);
    for (off = 0; off < n; off += 16384)
      sse_feed(&p, big + off, 16384, sse_rec_cb, &r);
    got = r.count;
    CHECK(got == 1 && r.len > 60000, "big event in slices: %lu",
          (unsigned long)got);
    sse_free(&p);
  }

  /* hundreds of small events per 16 KiB slice */
  for (i = 0, off = 0; off + 32 < n; i++)
    off += (size_t)sprintf(big + off, "data: {\"n\":%lu}\r\n\r\n",
                           (unsigned long)i);
  {
    static sse_rec r2;
    size_t k, m = off;
    memset(&r2, 0, sizeof r2);
    sse_init(&p, 4096);
    for (k = 0; k < m; k += 16384)
      rc = sse_feed(&p, big + k, m - k < 16384 ? m - k : 16384, sse_rec_cb,
                    &r2);
    CHECK(rc == SSE_OK && (size_t)r2.count == i, "many events: %d of %lu",
          r2.count, (unsigned long)i);
    sse_free(&p);
  }
  free(big);
}

/* A recorded stream (a file named on the command line, such as the provider
   fixtures): the events of the whole input are what every split must give. */
static int sse_replay_file(const char *path) {
  static sse_rec r;
  static char want[sizeof r.buf];
  sse_case tc;
  char *in;
  long n;
  FILE *f = fopen(path, "rb");
  int st;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    CHECK(0, "%s: cannot read", path);
    if (f)
      fclose(f);
    return 0;
  }
  in = (char *)malloc((size_t)n + 1);
  if (!in || fread(in, 1, (size_t)n, f) != (size_t)n) {
    CHECK(0, "%s: short read", path);
    free(in);
    fclose(f);
    return 0;
  }
  fclose(f);
  memset(&tc, 0, sizeof tc);
  tc.name = path;
  tc.in = in;
  tc.in_len = (size_t)n;
  st = sse_run_split(&tc, in, (size_t)n, NULL, 0, &r, "whole");
  CHECK(r.count > 0 && r.len + 1 < sizeof r.buf, "%s: %d events", path,
        r.count);
  memcpy(want, r.buf, r.len + 1);
  tc.want = want;
  tc.want_status = st;
  if (n > 0)
    sse_run_case(&tc);
  free(in);
  return r.count;
}

int main(int argc, char **argv) {
  size_t i;
  int k, events = 0;
  for (i = 0; i < sizeof sse_cases / sizeof sse_cases[0]; i++)
    sse_run_case(&sse_cases[i]);
  sse_test_api();
  sse_test_memory();
  for (k = 1; k < argc; k++)
    events += sse_replay_file(argv[k]);
  printf("sse_test: %d checks ok, %d checks bad (%lu streams, %d files with "
         "%d events at every split)\n",
         sse_t_pass, sse_t_fail,
         (unsigned long)(sizeof sse_cases / sizeof sse_cases[0]), argc - 1,
         events);
  return sse_t_fail ? 1 : 0;
}
