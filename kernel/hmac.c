/* hmac.c -- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104).
 *
 * Invariants: a krn_sha256 holds the chaining value h, the count of bytes
 * hashed, and fewer than 64 pending bytes in buf (a block is compressed as
 * soon as it is full). Tested against the FIPS 180-4 examples and the RFC
 * 4231 HMAC vectors in tests/unit/test_hmac.c.
 */
#include "hmac.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t ror(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

/* One 64-byte block into the chaining value (FIPS 180-4, 6.2.2). */
static void compress(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = k + S1 + ch + K[i] + w[i];
    uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

void krn_sha256_init(krn_sha256 *c) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof iv);
  c->total = 0;
  c->nbuf = 0;
}

void krn_sha256_update(krn_sha256 *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->total += n;
  if (c->nbuf) {
    size_t take = KRN_SHA256_BLOCK - c->nbuf < n ? KRN_SHA256_BLOCK - c->nbuf : n;
    memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take;
    p += take;
    n -= take;
    if (c->nbuf < KRN_SHA256_BLOCK) return;
    compress(c->h, c->buf);
    c->nbuf = 0;
  }
  for (; n >= KRN_SHA256_BLOCK; p += KRN_SHA256_BLOCK, n -= KRN_SHA256_BLOCK) compress(c->h, p);
  memcpy(c->buf, p, n);
  c->nbuf = n;
}

/* Pads with 0x80, zeros and the bit length (big-endian), then writes h. */
void krn_sha256_final(krn_sha256 *c, uint8_t out[KRN_SHA256_LEN]) {
  uint64_t bits = c->total * 8;
  c->buf[c->nbuf++] = 0x80;
  if (c->nbuf > KRN_SHA256_BLOCK - 8) {
    memset(c->buf + c->nbuf, 0, KRN_SHA256_BLOCK - c->nbuf);
    compress(c->h, c->buf);
    c->nbuf = 0;
  }
  memset(c->buf + c->nbuf, 0, KRN_SHA256_BLOCK - 8 - c->nbuf);
  for (int i = 0; i < 8; i++) c->buf[KRN_SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
  compress(c->h, c->buf);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
  c->nbuf = 0;
}

void krn_sha256_digest(const void *p, size_t n, uint8_t out[KRN_SHA256_LEN]) {
  krn_sha256 c;
  krn_sha256_init(&c);
  krn_sha256_update(&c, p, n);
  krn_sha256_final(&c, out);
}

/* ------------------------------------------------------------------------ */
/* HMAC                                                                     */
/* ------------------------------------------------------------------------ */

void krn_hmac_init(krn_hmac *h, const void *key, size_t keylen) {
  uint8_t k[KRN_SHA256_BLOCK], pad[KRN_SHA256_BLOCK];
  memset(k, 0, sizeof k);
  if (keylen > KRN_SHA256_BLOCK)
    krn_sha256_digest(key, keylen, k);
  else if (keylen)
    memcpy(k, key, keylen);
  for (int i = 0; i < KRN_SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x36;
  krn_sha256_init(&h->inner);
  krn_sha256_update(&h->inner, pad, sizeof pad);
  for (int i = 0; i < KRN_SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
  krn_sha256_init(&h->outer);
  krn_sha256_update(&h->outer, pad, sizeof pad);
  memset(k, 0, sizeof k);
  memset(pad, 0, sizeof pad);
}

void krn_hmac_update(krn_hmac *h, const void *p, size_t n) {
  krn_sha256_update(&h->inner, p, n);
}

void krn_hmac_final(krn_hmac *h, uint8_t out[KRN_SHA256_LEN]) {
  uint8_t ih[KRN_SHA256_LEN];
  krn_sha256_final(&h->inner, ih);
  krn_sha256_update(&h->outer, ih, sizeof ih);
  krn_sha256_final(&h->outer, out);
}

void krn_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                     uint8_t out[KRN_SHA256_LEN]) {
  krn_hmac h;
  krn_hmac_init(&h, key, keylen);
  krn_hmac_update(&h, p, n);
  krn_hmac_final(&h, out);
}

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
