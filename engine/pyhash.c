/* pyhash.c -- CPython 3.11's hash() for ints, floats, strings and tuples.
 *
 * Each function follows the CPython 3.11 source it names (Python/pyhash.c,
 * Objects/longobject.c, Objects/tupleobject.c) with all wrapping arithmetic
 * done on uint64_t, so nothing here overflows a signed type.
 *
 * Strings are hashed without allocating: a first pass over the UTF-8 finds the
 * widest code point (which fixes the PEP 393 width) and the code point count,
 * and a second pass feeds the code points, widened to that width, through an
 * incremental SipHash-1-3 whose length is known from the first pass.
 */
#include "pyhash.h"

#include <string.h>

#include <math.h>
#include <stddef.h>

/* The Mersenne prime 2**61-1 that CPython reduces numbers by. */
#define PYHASH_BITS 61
#define PYHASH_MODULUS (((uint64_t)1 << PYHASH_BITS) - 1)
#define PYHASH_INF 314159

/* tuplehash's xxHash64 primes, for a 64-bit Py_uhash_t. */
#define XXPRIME_1 11400714785074694791ULL
#define XXPRIME_2 14029467366897019727ULL
#define XXPRIME_5 2870177450012600261ULL

/* Returns a uint64_t hash as CPython's signed Py_hash_t, with no
 * implementation-defined conversion: values above INT64_MAX wrap to negative. */
static int64_t as_signed(uint64_t u) {
  if (u <= (uint64_t)INT64_MAX) return (int64_t)u;
  return -(int64_t)(~u) - 1;
}

/* long_hash: sign(x) * (|x| mod 2**61-1), then -1 -> -2. */
int64_t eng_pyhash_long(int64_t x) {
  uint64_t mag = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
  int64_t r = (int64_t)(mag % PYHASH_MODULUS);
  if (x < 0) r = -r;
  return r == -1 ? -2 : r;
}

/* _Py_HashDouble: reduce the mantissa 28 bits at a time modulo 2**61-1
 * (multiplying by 2**28 is a 61-bit rotation there, since 2**61 == 1), then
 * rotate by the exponent reduced modulo 61. The result is |d| as a rational
 * reduced modulo 2**61-1, so an integral double hashes as the equal int. */
int64_t eng_pyhash_double(double d) {
  if (isnan(d)) return 0;
  if (isinf(d)) return d > 0 ? PYHASH_INF : -PYHASH_INF;

  int e;
  double m = frexp(d, &e);
  int neg = 0;
  if (m < 0) {
    neg = 1;
    m = -m;
  }

  uint64_t x = 0;
  while (m != 0) {
    x = ((x << 28) & PYHASH_MODULUS) | x >> (PYHASH_BITS - 28);
    m *= 268435456.0; /* 2**28 */
    e -= 28;
    uint64_t y = (uint64_t)m; /* the integer part, below 2**28 */
    m -= (double)y;
    x += y;
    if (x >= PYHASH_MODULUS) x -= PYHASH_MODULUS;
  }

  /* A negative exponent rotates right, i.e. left by 61 minus its residue. */
  e = e >= 0 ? e % PYHASH_BITS : PYHASH_BITS - 1 - ((-1 - e) % PYHASH_BITS);
  x = ((x << e) & PYHASH_MODULUS) | x >> (PYHASH_BITS - e);

  if (neg) x = (uint64_t)0 - x;
  if (x == UINT64_MAX) x = UINT64_MAX - 1; /* -1 -> -2 */
  return as_signed(x);
}

/* ---- SipHash-1-3, incremental ------------------------------------------ */

/* SipHash state: the four lanes, the pending bytes of the current 8-byte
 * little-endian word and how many there are, and the total message length. */
typedef struct sip13 {
  uint64_t v0, v1, v2, v3;
  uint64_t word;
  int nword;
  uint64_t total;
} sip13;

static inline uint64_t rotl64(uint64_t x, int s) { return (x << s) | (x >> (64 - s)); }

/* One SipRound (CPython's SINGLE_ROUND, two HALF_ROUNDs). */
static inline void sip_round(sip13 *st) {
  st->v0 += st->v1;
  st->v2 += st->v3;
  st->v1 = rotl64(st->v1, 13) ^ st->v0;
  st->v3 = rotl64(st->v3, 16) ^ st->v2;
  st->v0 = rotl64(st->v0, 32);
  st->v2 += st->v1;
  st->v0 += st->v3;
  st->v1 = rotl64(st->v1, 17) ^ st->v2;
  st->v3 = rotl64(st->v3, 21) ^ st->v0;
  st->v2 = rotl64(st->v2, 32);
}

/* Starts a hash under the all-zero key (k0 = k1 = 0, PYTHONHASHSEED=0). */
static void sip_init(sip13 *st) {
  st->v0 = 0x736f6d6570736575ULL;
  st->v1 = 0x646f72616e646f6dULL;
  st->v2 = 0x6c7967656e657261ULL;
  st->v3 = 0x7465646279746573ULL;
  st->word = 0;
  st->nword = 0;
  st->total = 0;
}

/* Appends one message byte; every eighth byte compresses a word (one round). */
static inline void sip_byte(sip13 *st, uint8_t b) {
  st->word |= (uint64_t)b << (8 * st->nword);
  st->total++;
  if (++st->nword == 8) {
    st->v3 ^= st->word;
    sip_round(st);
    st->v0 ^= st->word;
    st->word = 0;
    st->nword = 0;
  }
}

/* Pads the last word with the length byte, runs the three finalization
 * rounds and returns v0^v1^v2^v3 (the standard 64-bit SipHash output). */
static uint64_t sip_final(sip13 *st) {
  uint64_t b = (st->total << 56) | st->word;
  st->v3 ^= b;
  sip_round(st);
  st->v0 ^= b;
  st->v2 ^= 0xff;
  sip_round(st);
  sip_round(st);
  sip_round(st);
  return (st->v0 ^ st->v1) ^ (st->v2 ^ st->v3);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Decodes the code point at s[*i] (i < len) and advances *i past it. A byte
 * that does not start a valid shortest-form sequence of at most U+10FFFF is
 * taken as the code point of its value and *i moves one byte. Encoded
 * surrogates are accepted (surrogatepass). */
static uint32_t utf8_next(const unsigned char *s, long len, long *i) {
  long p = *i;
  uint32_t c = s[p];
  int need;
  uint32_t min;
  if (c < 0x80) {
    *i = p + 1;
    return c;
  } else if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
    min = 0x80;
    c &= 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    min = 0x800;
    c &= 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    min = 0x10000;
    c &= 0x07;
  } else {
    *i = p + 1; /* a continuation byte, C0, C1 or F5..FF */
    return s[p];
  }
  if (len - p - 1 < need) {
    *i = p + 1;
    return s[p];
  }
  for (int k = 1; k <= need; k++) {
    unsigned char t = s[p + k];
    if ((t & 0xc0) != 0x80) {
      *i = p + 1;
      return s[p];
    }
    c = (c << 6) | (t & 0x3f);
  }
  if (c < min || c > 0x10ffff) {
    *i = p + 1;
    return s[p];
  }
  *i = p + 1 + need;
  return c;
}

/* _Py_HashBytes over the PEP 393 form of the string: the code points as
 * 1, 2 or 4 little-endian bytes each, whichever is the narrowest that holds
 * them all, through SipHash-1-3. Empty is 0 (Py_HASH_CUTOFF is 0 in 3.11, so
 * every non-empty string goes through SipHash). */
/* Is s[0, len) all ASCII? Eight bytes at a time. */
static int all_ascii(const unsigned char *u, long len) {
  long i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, u + i, 8);
    if (w & 0x8080808080808080ull) return 0;
  }
  for (; i < len; i++)
    if (u[i] & 0x80) return 0;
  return 1;
}

/* SipHash-1-3 of ASCII bytes, a whole little-endian word per round: the
 * same result as sip_byte on each byte, in a fraction of the time (word
 * counts hash every word they see). */
static uint64_t sip_ascii(const unsigned char *u, long len) {
  sip13 st;
  sip_init(&st);
  long i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, u + i, 8);
    st.v3 ^= w;
    sip_round(&st);
    st.v0 ^= w;
  }
  uint64_t tail = 0;
  for (long k = 0; i + k < len; k++) tail |= (uint64_t)u[i + k] << (8 * k);
  st.word = tail;
  st.total = (uint64_t)len;
  return sip_final(&st);
}

int64_t eng_pyhash_str(const char *s, long len) {
  if (len <= 0) return 0;
  const unsigned char *u = (const unsigned char *)s;
  if (all_ascii(u, len)) {
    uint64_t h = sip_ascii(u, len);
    if (h == UINT64_MAX) h = UINT64_MAX - 1; /* -1 -> -2 */
    return as_signed(h);
  }

  uint32_t maxc = 0;
  for (long i = 0; i < len;) {
    uint32_t c = utf8_next(u, len, &i);
    if (c > maxc) maxc = c;
  }
  int width = maxc < 0x100 ? 1 : maxc < 0x10000 ? 2 : 4;

  sip13 st;
  sip_init(&st);
  if (maxc < 0x80) {
    /* Pure ASCII: the UTF-8 bytes are the latin-1 representation. */
    for (long i = 0; i < len; i++) sip_byte(&st, u[i]);
  } else {
    for (long i = 0; i < len;) {
      uint32_t c = utf8_next(u, len, &i);
      for (int k = 0; k < width; k++) sip_byte(&st, (uint8_t)(c >> (8 * k)));
    }
  }
  uint64_t h = sip_final(&st);
  if (h == UINT64_MAX) h = UINT64_MAX - 1; /* -1 -> -2 */
  return as_signed(h);
}

/* ---- tuples ------------------------------------------------------------ */

/* tuplehash: an xxHash64-style accumulation of the item hashes, plus the
 * length mangled so that hash(()) keeps its historical value. */
int64_t eng_pyhash_tuple(const int64_t *item_hashes, long n) {
  uint64_t acc = XXPRIME_5;
  for (long i = 0; i < n; i++) {
    uint64_t lane = (uint64_t)item_hashes[i];
    acc += lane * XXPRIME_2;
    acc = rotl64(acc, 31);
    acc *= XXPRIME_1;
  }
  acc += (uint64_t)n ^ (XXPRIME_5 ^ 3527539ULL);
  if (acc == UINT64_MAX) return 1546275796;
  return as_signed(acc);
}

/* PySpark's portable_hash for a tuple. Python's ints are unbounded, but the
 * low 63 bits of h ^ item and of h * 1000003 depend only on the low 63 bits of
 * the operands, so 64-bit wrapping arithmetic and the mask give the same h. */
int64_t eng_pyhash_portable_tuple(const int64_t *item_hashes, long n) {
  uint64_t h = 0x345678;
  for (long i = 0; i < n; i++) {
    h ^= (uint64_t)item_hashes[i];
    h *= 1000003;
    h &= (uint64_t)INT64_MAX;
  }
  h ^= (uint64_t)n;
  /* With n >= 0 the result is below 2**63, so this never fires; kept to
   * mirror portable_hash line for line. */
  if (h == UINT64_MAX) h = UINT64_MAX - 1;
  return as_signed(h);
}
