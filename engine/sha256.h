/* sha256.h -- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104).
 *
 * Used for deriving the cluster's keys from its secret and for signing
 * Jupyter messages; small and dependency-free on purpose (the project
 * links no crypto library of its own).
 * Ownership: contexts are caller-owned values. Thread-safety: pure.
 * Errors: none.
 */
#ifndef ENG_SHA256_H
#define ENG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "eng_types.h"

typedef struct eng_sha256 {
  uint32_t h[8];
  uint64_t len;
  unsigned char buf[64];
  size_t nbuf;
} eng_sha256_ctx;

ENG_API void eng_sha256_init(eng_sha256_ctx *c);
ENG_API void eng_sha256_update(eng_sha256_ctx *c, const void *p, size_t n);
ENG_API void eng_sha256_final(eng_sha256_ctx *c, unsigned char out[32]);
ENG_API void eng_sha256(const void *p, size_t n, unsigned char out[32]);

typedef struct eng_hmac {
  eng_sha256_ctx inner, outer;
} eng_hmac;

ENG_API void eng_hmac_init(eng_hmac *h, const void *key, size_t keylen);
ENG_API void eng_hmac_update(eng_hmac *h, const void *p, size_t n);
ENG_API void eng_hmac_final(eng_hmac *h, unsigned char out[32]);

#endif
