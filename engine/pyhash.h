/* pyhash.h -- CPython 3.11's hash() and PySpark's portable_hash, bit for bit.
 *
 * Ownership: nothing is allocated; every function reads its arguments and
 *   returns a number. Strings and hash arrays are borrowed for the call.
 * Thread-safety: pure functions with no state; call from any thread.
 * Errors: none. Every input has a hash. The two places where ember cannot
 *   follow CPython (NaN, invalid UTF-8) are pinned to a fixed answer below.
 *
 * The results are those of a 64-bit little-endian CPython 3.11 run with
 * PYTHONHASHSEED=0 (what PySpark's workers set), so that ember sends every key
 * to the same partition as PySpark does. PySpark's partitioner is
 * portable_hash(key) % n, where portable_hash is hash() except that None
 * hashes to 0 and tuples, nested ones included, use the portable combination
 * (eng_pyhash_portable_tuple) rather than CPython's tuple hash. In CPython
 * 3.11 hash(None) is the object's address, so a caller hashing None for
 * PySpark must use 0. hash(True) is 1 and hash(False) is 0, as for the ints.
 */
#ifndef ENG_PYHASH_H
#define ENG_PYHASH_H

#include <stdint.h>
#include "eng_types.h"

/* Python hash(int) for a 64-bit signed integer: the magnitude reduced modulo
 * 2**61-1, the sign put back, and -1 mapped to -2 (-1 is CPython's error
 * value). So hash(2**61-1) is 0 and hash(-2**63) is -4. */
ENG_API int64_t eng_pyhash_long(int64_t x);

/* Python hash(float): CPython's _Py_HashDouble (frexp-based, modulus 2**61-1),
 * which makes an integral value hash as the equal int, 0.0 and -0.0 hash to 0,
 * inf to 314159 and -inf to -314159. NaN hashes to 0: since 3.10 CPython hashes
 * a NaN by its object's address, which no other process can reproduce, and 0
 * is what sys.hash_info.nan says (and what 3.9 and earlier returned). */
ENG_API int64_t eng_pyhash_double(double d);

/* Python hash(str) for a UTF-8 string of len bytes (s may be NULL if len is
 * 0). CPython hashes the string's PEP 393 representation: 1 byte per code
 * point if all are below 256, else 2 (UCS2) if all are below 65536, else 4
 * (UCS4), little-endian, with SipHash-1-3 under the all-zero key that
 * PYTHONHASHSEED=0 gives. The empty string hashes to 0 and -1 becomes -2.
 * UTF-8-encoded surrogates (ED A0 80 .. ED BF BF) decode to the surrogate code
 * point, as Python's "surrogatepass" does (pickle writes lone surrogates that
 * way). Any other byte that does not begin a valid, shortest-form sequence
 * (stray continuation bytes, truncated or overlong sequences, code points
 * above U+10FFFF, bytes F8..FF) stands for the code point of its own value,
 * as latin-1 would decode it, and decoding resumes at the next byte. */
ENG_API int64_t eng_pyhash_str(const char *s, long len);

/* Python's hash of a tuple (CPython 3.8+'s xxHash-based tuplehash) over the
 * n already-computed item hashes (item_hashes may be NULL if n is 0). A result
 * of -1 becomes 1546275796, as in CPython, not -2. */
ENG_API int64_t eng_pyhash_tuple(const int64_t *item_hashes, long n);

/* PySpark's portable_hash of a tuple over the n already-computed portable
 * hashes of its items (n >= 0): h = 0x345678; for each item h ^= item,
 * h *= 1000003, h &= sys.maxsize; finally h ^= n (and -1 would become -2,
 * which cannot happen: the result is always in [0, 2**63-1]). */
ENG_API int64_t eng_pyhash_portable_tuple(const int64_t *item_hashes, long n);

#endif
