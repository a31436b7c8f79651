/* LD_PRELOAD shim for the specs: getaddrinfo() of the host named by
   OAICHAT_SLOW_DNS_HOST sleeps OAICHAT_SLOW_DNS_MS, then resolves 127.0.0.1
   (loopback only); every other name goes to the real getaddrinfo. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  const char *host = getenv("OAICHAT_SLOW_DNS_HOST");
  if (real == NULL) return EAI_SYSTEM;
  if (node && host && strcmp(node, host) == 0) {
    const char *ms = getenv("OAICHAT_SLOW_DNS_MS");
    long delay = ms ? strtol(ms, NULL, 10) : 3000;
    struct timespec ts;
    ts.tv_sec = delay / 1000;
    ts.tv_nsec = (delay % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
    return real("127.0.0.1", service, hints, res);
  }
  return real(node, service, hints, res);
}
