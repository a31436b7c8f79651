/* Visibility of the module's internal functions: hidden, so that a host
   program's own symbols (Neovim has a buf_clear) never replace ours and the
   module exports nothing but luaopen_oaichat_core. */
#ifndef OAICHAT_INTERNAL_H
#define OAICHAT_INTERNAL_H

#if defined(__GNUC__) && !defined(_WIN32)
#define OC_HIDDEN __attribute__((visibility("hidden")))
#define OC_EXPORT __attribute__((visibility("default")))
#else
#define OC_HIDDEN
#define OC_EXPORT
#endif

#endif
