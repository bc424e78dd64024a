/* hmac.h -- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for signing
 * and verifying Jupyter messages (kernel/wire.c).
 *
 * Ownership: every context is a caller-owned struct (on the stack); nothing
 *   is allocated.
 * Thread-safety: functions touch only the context passed in. A keyed
 *   krn_hmac prepared once with krn_hmac_init() may be copied by value and
 *   then used by any thread (the kernel signs from several threads).
 * Errors: none; these functions cannot fail.
 */
#ifndef KRN_HMAC_H
#define KRN_HMAC_H

#include <stddef.h>
#include <stdint.h>

enum { KRN_SHA256_LEN = 32, KRN_SHA256_BLOCK = 64 };

typedef struct krn_sha256 {
  uint32_t h[8];
  uint64_t total; /* bytes hashed so far */
  uint8_t buf[KRN_SHA256_BLOCK];
  size_t nbuf;
} krn_sha256;

void krn_sha256_init(krn_sha256 *c);
void krn_sha256_update(krn_sha256 *c, const void *p, size_t n);
/* Writes the digest; the context must be initialized again before reuse. */
void krn_sha256_final(krn_sha256 *c, uint8_t out[KRN_SHA256_LEN]);
/* One-shot digest of n bytes. */
void krn_sha256_digest(const void *p, size_t n, uint8_t out[KRN_SHA256_LEN]);

/* An HMAC-SHA256 computation: the inner and outer hashes already keyed. */
typedef struct krn_hmac {
  krn_sha256 inner, outer;
} krn_hmac;

/* Keys the context (keys longer than a block are hashed first, RFC 2104). */
void krn_hmac_init(krn_hmac *h, const void *key, size_t keylen);
void krn_hmac_update(krn_hmac *h, const void *p, size_t n);
void krn_hmac_final(krn_hmac *h, uint8_t out[KRN_SHA256_LEN]);
/* One-shot HMAC-SHA256. */
void krn_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                     uint8_t out[KRN_SHA256_LEN]);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void krn_hex(const uint8_t *p, size_t n, char *out);
/* Compares two byte strings in time that depends only on their lengths
 * (signatures must not leak how many leading bytes matched). 1 if equal. */
int krn_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
