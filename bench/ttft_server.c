/* A tiny streaming server for the time-to-first-token measurement.
 *
 *   ttft_server DELAY_MS        prints "PORT n" once listening on 127.0.0.1
 *
 * For every request (HTTP/1.1, keep-alive, a child process per connection, as
 * clients may keep an idle connection open beside the one they use) it sends
 * the response head at once, waits DELAY_MS, reads CLOCK_MONOTONIC and sends
 * the first chunk with that instant inside it ("sent_us", microseconds), then
 * a few more chunks and [DONE]. The client subtracts sent_us from the instant
 * its code received the first chunk (CLOCK_MONOTONIC is the same clock in
 * every process): that is the client's overhead plus the loopback hop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_HEAD                                                                     \
  "{\"id\":\"chatcmpl-ttft\",\"object\":\"chat.completion.chunk\",\"created\":1764000000," \
  "\"model\":\"gpt-5.5\",\"system_fingerprint\":\"fp_b3nch5a1e\""

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One HTTP chunk holding one SSE event. */
static int send_event(int fd, const char *data) {
  char buf[1024];
  size_t len = strlen(data) + 8; /* "data: " + "\n\n" */
  int n = snprintf(buf, sizeof buf, "%zx\r\ndata: %s\n\n\r\n", len, data);
  return write_all(fd, buf, (size_t)n);
}

/* Reads one request (head and Content-Length body). 0 on success, -1 at EOF. */
static int read_request(int fd, char *buf, size_t cap, size_t *have) {
  char *end;
  size_t head, need;
  const char *cl;
  for (;;) {
    buf[*have] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (end) break;
    if (*have + 1 >= cap) return -1;
    ssize_t r = read(fd, buf + *have, cap - 1 - *have);
    if (r <= 0) return -1;
    *have += (size_t)r;
  }
  head = (size_t)(end - buf) + 4;
  need = 0;
  cl = strcasestr(buf, "\r\ncontent-length:");
  if (cl && cl < end) need = strtoul(cl + 17, NULL, 10);
  while (*have < head + need) {
    if (*have + 1 >= cap) return -1;
    ssize_t r = read(fd, buf + *have, cap - 1 - *have);
    if (r <= 0) return -1;
    *have += (size_t)r;
  }
  /* Keep any bytes of a pipelined next request. */
  memmove(buf, buf + head + need, *have - head - need);
  *have -= head + need;
  return 0;
}

static void serve(int fd, long delay_ms) {
  static char buf[1 << 16];
  size_t have = 0;
  char data[512];
  static const char *words[] = {" there", "!", " How", " can", " I", " help", "?"};
  static const char head[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n";
  while (read_request(fd, buf, sizeof buf, &have) == 0) {
    size_t i;
    if (write_all(fd, head, sizeof head - 1) != 0) return;
    sleep_ms(delay_ms);
    snprintf(data, sizeof data,
             CHUNK_HEAD ",\"sent_us\":%lld,\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                        "\"assistant\",\"content\":\"Hello\"},\"logprobs\":null,"
                        "\"finish_reason\":null}]}",
             now_us());
    if (send_event(fd, data) != 0) return;
    sleep_ms(1);
    for (i = 0; i < sizeof words / sizeof *words; i++) {
      snprintf(data, sizeof data,
               CHUNK_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
                          "\"logprobs\":null,\"finish_reason\":null}]}",
               words[i]);
      if (send_event(fd, data) != 0) return;
    }
    if (send_event(fd, CHUNK_HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                                  "\"finish_reason\":\"stop\"}]}") != 0 ||
        send_event(fd, "[DONE]") != 0 || write_all(fd, "0\r\n\r\n", 5) != 0)
      return;
  }
}

int main(int argc, char **argv) {
  long delay_ms = argc > 1 ? atol(argv[1]) : 5;
  int one = 1;
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0 ||
      getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
    perror("ttft_server");
    return 1;
  }
  signal(SIGCHLD, SIG_IGN); /* no zombies */
  printf("PORT %d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) continue;
    if (fork() == 0) {
      close(ls);
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      serve(fd, delay_ms);
      _exit(0);
    }
    close(fd);
  }
}
