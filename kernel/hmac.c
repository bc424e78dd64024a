/* hmac.c -- hex digests and constant-time comparison for message
 * signatures (see hmac.h; the hashing is engine/sha256.c). */
#include "hmac.h"

void krn_hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

int krn_ct_equal(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen) return 0;
  const volatile uint8_t *x = a, *y = b;
  uint8_t diff = 0;
  for (size_t i = 0; i < alen; i++) diff |= x[i] ^ y[i];
  return diff == 0;
}
