/* LD_PRELOAD shim for the specs: counts curl_global_init() calls and
   prints "curl_global_init <n>" to stderr at exit; with
   OAICHAT_CURL_INIT_FAIL set, the call fails (CURLE_FAILED_INIT) without
   reaching libcurl, so the caller's check can be seen. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*init_fn)(long);

static int count_curl_init_calls;

static void count_curl_init_report(void) { fprintf(stderr, "curl_global_init %d\n", count_curl_init_calls); }

/* CURLcode curl_global_init(long flags), without curl's header. */
int curl_global_init(long flags) {
  init_fn real = (init_fn)dlsym(RTLD_NEXT, "curl_global_init");
  if (!real) { /* libcurl came in with a module, dlopen()ed RTLD_LOCAL */
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
    if (lib) real = (init_fn)dlsym(lib, "curl_global_init");
  }
  if (count_curl_init_calls++ == 0) atexit(count_curl_init_report);
  if (getenv("OAICHAT_CURL_INIT_FAIL")) return 2; /* CURLE_FAILED_INIT */
  return real ? real(flags) : 2;
}
