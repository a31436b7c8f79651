/* The C baseline of oaichat's benchmark: libcurl used directly, the floor any
 * libcurl binding can reach. Same request as the other contenders, body
 * discarded (counted only).
 *
 *   c_baseline seq    URL BODYFILE N WARM          one easy handle, keep-alive
 *   c_baseline multi  URL BODYFILE N WARM CONC     libcurl multi, CONC in flight
 *   c_baseline stream URL BODYFILE REPS WARM       SSE body, bytes only
 *   c_baseline ttft   URL BODYFILE N WARM          first-chunk receipt vs sent_us
 *   c_baseline spawn  URL BODYFILE N WARM          the curl program, one per request
 *
 * Prints one JSON line: n, wall and cpu seconds of the timed part (after WARM
 * untimed requests), peak RSS in KiB (VmHWM; for spawn the largest curl
 * child's), bytes received, and for ttft the samples in microseconds.
 *
 * Built with -DBENCH_FLOOR (and Lua 5.4) it is the floor contender, c_floor:
 * the same libcurl code decoding every body and SSE payload with lua-cjson
 * into Lua tables (bench/floor.h); modes seq, multi and stream only, and the
 * line also holds the count of decoded chunks.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long bytes_in;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long vm_hwm_kb(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = atol(line + 6);
  fclose(f);
  return kb;
}

static void die(const char *what) {
  fprintf(stderr, "c_baseline: %s\n", what);
  exit(1);
}

#ifdef BENCH_FLOOR
#include "floor.h"
#endif
static int streaming; /* the floor decodes SSE payloads, not the body */

/* Decoded SSE payloads: counted by the floor only. */
static void chunks_reset(void) {
#ifdef BENCH_FLOOR
  floor_chunks = 0;
#endif
}

static long long chunks_count(void) {
#ifdef BENCH_FLOOR
  return floor_chunks;
#else
  return 0;
#endif
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  long n;
  char *s;
  if (!f) die("cannot open the body file");
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) die("cannot read the body file");
  s[n] = '\0';
  fclose(f);
  return s;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  bytes_in += (long long)(size * n);
  return size * n;
}

/* ---- ttft: the first write of a response is the first chunk ---------- */
typedef struct {
  double got_us;   /* receipt instant of the first body bytes, 0 before */
  long long sent;  /* sent_us found in them */
} first_chunk;

static size_t on_first(char *p, size_t size, size_t n, void *ud) {
  first_chunk *fc = ud;
  size_t len = size * n;
  bytes_in += (long long)len;
  if (fc->got_us == 0) {
    static const char key[] = "\"sent_us\":";
    char tmp[4096];
    size_t m = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    char *at;
    fc->got_us = now_s() * 1e6;
    memcpy(tmp, p, m);
    tmp[m] = '\0';
    at = strstr(tmp, key);
    fc->sent = at ? atoll(at + sizeof key - 1) : 0;
  }
  return len;
}

static struct curl_slist *headers;
static const char *body;

/* The options oaichat sets that change what goes on the wire. */
static CURL *new_easy(const char *url) {
  CURL *e = curl_easy_init();
  if (!e) die("curl_easy_init failed");
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "c-baseline libcurl");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
#ifdef BENCH_FLOOR
  {
    floor_buf *b = calloc(1, sizeof *b);
    if (!b) die("out of memory");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, streaming ? floor_sse : floor_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_PRIVATE, b);
  }
#endif
  return e;
}

static void check(CURL *e, CURLcode rc) {
  long status = 0;
  if (rc != CURLE_OK) die(curl_easy_strerror(rc));
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) die("status is not 200");
#ifdef BENCH_FLOOR
  if (!streaming) {
    floor_buf *b = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&b);
    floor_body_done(b);
  }
#endif
}

static void run_seq(CURL *e, long n) {
  long i;
  for (i = 0; i < n; i++) check(e, curl_easy_perform(e));
}

/* n requests, conc in flight, each finished handle re-added at once. */
static void run_multi(CURLM *m, CURL **easy, long conc, long n) {
  long started = 0, done = 0, i;
  int running = 0, left;
  CURLMsg *msg;
  for (i = 0; i < conc && started < n; i++, started++) curl_multi_add_handle(m, easy[i]);
  while (done < n) {
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      CURL *e;
      if (msg->msg != CURLMSG_DONE) continue;
      e = msg->easy_handle;
      check(e, msg->data.result);
      curl_multi_remove_handle(m, e);
      done++;
      if (started < n) {
        curl_multi_add_handle(m, e);
        started++;
      }
    }
    if (done < n) curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
}

static void run_ttft(CURL *e, long n, int print) {
  long i;
  first_chunk fc;
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_first);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &fc);
  for (i = 0; i < n; i++) {
    fc.got_us = 0;
    fc.sent = 0;
    check(e, curl_easy_perform(e));
    if (fc.sent == 0) die("no sent_us in the first chunk");
    if (print) printf("%s%.1f", i ? "," : "", fc.got_us - (double)fc.sent);
  }
}

static void run_spawn(const char *url, const char *bodyfile, long n) {
  char data[4096];
  char *argv[] = {"curl", "-s", "-S", "-f", "-o", "/dev/null", "-H", "Content-Type: application/json",
                  "-H", "Authorization: Bearer bench-key", "-H", "Accept: application/json",
                  "--data-binary", data, (char *)url, NULL};
  long i;
  snprintf(data, sizeof data, "@%s", bodyfile);
  for (i = 0; i < n; i++) {
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, "curl", NULL, NULL, argv, environ) != 0) die("cannot spawn curl");
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) die("curl failed");
  }
}

int main(int argc, char **argv) {
  const char *mode, *url;
  long n, warm, conc;
  double t0, c0, wall, cpu;
  long rss;
  CURL *e = NULL;
  if (argc < 6) die("usage: c_baseline MODE URL BODYFILE N WARM [CONC]");
  mode = argv[1];
  url = argv[2];
  n = atol(argv[4]);
  warm = atol(argv[5]);
  conc = argc > 6 ? atol(argv[6]) : 16;
  body = read_file(argv[3]);
  streaming = strcmp(mode, "stream") == 0;
#ifdef BENCH_FLOOR
  if (strcmp(mode, "seq") && strcmp(mode, "multi") && !streaming) die("the floor runs seq, multi and stream");
  floor_init();
#endif
  curl_global_init(CURL_GLOBAL_DEFAULT);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Authorization: Bearer bench-key");
  headers = curl_slist_append(headers, strcmp(mode, "seq") && strcmp(mode, "multi")
                                           ? "Accept: text/event-stream"
                                           : "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");

  if (strcmp(mode, "spawn") == 0) {
    struct rusage ru;
    run_spawn(url, argv[3], warm);
    t0 = now_s();
    c0 = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN);
    run_spawn(url, argv[3], n);
    wall = now_s() - t0;
    cpu = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) - c0;
    getrusage(RUSAGE_CHILDREN, &ru);
    rss = ru.ru_maxrss;
  } else if (strcmp(mode, "multi") == 0) {
    CURLM *m = curl_multi_init();
    CURL **easy = calloc((size_t)conc, sizeof *easy);
    long i;
    for (i = 0; i < conc; i++) easy[i] = new_easy(url);
    run_multi(m, easy, conc, warm);
    bytes_in = 0;
    chunks_reset();
    t0 = now_s();
    c0 = cpu_s(RUSAGE_SELF);
    run_multi(m, easy, conc, n);
    wall = now_s() - t0;
    cpu = cpu_s(RUSAGE_SELF) - c0;
    rss = vm_hwm_kb();
  } else {
    int ttft = strcmp(mode, "ttft") == 0;
    if (!ttft && strcmp(mode, "seq") && strcmp(mode, "stream")) die("unknown mode");
    e = new_easy(url);
    printf("{\"samples\":[");
    if (ttft) run_ttft(e, warm, 0);
    else run_seq(e, warm);
    bytes_in = 0;
    chunks_reset();
    t0 = now_s();
    c0 = cpu_s(RUSAGE_SELF);
    if (ttft) run_ttft(e, n, 1);
    else run_seq(e, n);
    wall = now_s() - t0;
    cpu = cpu_s(RUSAGE_SELF) - c0;
    rss = vm_hwm_kb();
    printf("],\"n\":%ld,\"wall\":%.6f,\"cpu\":%.6f,\"rss_kb\":%ld,\"bytes\":%lld,\"chunks\":%lld}\n", n,
           wall, cpu, rss, bytes_in, chunks_count());
    return 0;
  }
  printf("{\"samples\":[],\"n\":%ld,\"wall\":%.6f,\"cpu\":%.6f,\"rss_kb\":%ld,\"bytes\":%lld,\"chunks\":%lld}\n",
         n, wall, cpu, rss, bytes_in, chunks_count());
  return 0;
}
