/* Base64 (RFC 4648, with padding) for data: URIs of images. */
#ifndef OAICHAT_BASE64_H
#define OAICHAT_BASE64_H

#include "internal.h"

#include <stddef.h>

/* Bytes needed to encode n bytes. */
OC_HIDDEN size_t base64_encoded_len(size_t n);
/* Writes base64_encoded_len(n) bytes to out (no NUL). */
OC_HIDDEN void base64_encode(const unsigned char *in, size_t n, char *out);

#endif
