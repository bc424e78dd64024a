/* hmac.h -- what signing Jupyter messages needs beyond HMAC-SHA256 itself
 * (which is engine/sha256.h's, shared with the cluster's key derivation):
 * hex digests and a constant-time comparison (kernel/wire.c).
 *
 * Ownership: nothing is allocated. Thread-safety: pure functions; a keyed
 *   eng_hmac prepared once may be copied by value and used by any thread
 *   (the kernel signs from several threads).
 * Errors: none; these functions cannot fail.
 */
#ifndef KRN_HMAC_H
#define KRN_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/sha256.h"

enum { KRN_SHA256_LEN = 32 };

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void krn_hex(const uint8_t *p, size_t n, char *out);
/* Compares two byte strings in time that depends only on their lengths
 * (signatures must not leak how many leading bytes matched). 1 if equal. */
int krn_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
