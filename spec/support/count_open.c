/* LD_PRELOAD shim for the specs: counts fopen() calls on the file named by
   OAICHAT_COUNT_OPEN and prints "opened <n>" to stderr at exit (how often
   OpenSSL parsed a CA bundle, for instance). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef FILE *(*fopen_fn)(const char *, const char *);

static int count_open_hits;

static void count_open_note(const char *path) {
  const char *watched = getenv("OAICHAT_COUNT_OPEN");
  if (path && watched && strcmp(path, watched) == 0) count_open_hits++;
}

FILE *fopen(const char *path, const char *mode) {
  fopen_fn real = (fopen_fn)dlsym(RTLD_NEXT, "fopen");
  count_open_note(path);
  return real ? real(path, mode) : NULL;
}

FILE *fopen64(const char *path, const char *mode) {
  fopen_fn real = (fopen_fn)dlsym(RTLD_NEXT, "fopen64");
  count_open_note(path);
  return real ? real(path, mode) : NULL;
}

__attribute__((destructor)) static void count_open_report(void) {
  if (getenv("OAICHAT_COUNT_OPEN")) fprintf(stderr, "opened %d\n", count_open_hits);
}
