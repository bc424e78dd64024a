/* fastagg.h -- a hash table specialised for the most common aggregation:
 * long or string keys whose values are longs or doubles combined by a C
 * function (add, or a typed lambda such as (long a, long b) -> a + b).
 *
 * Why: an aggregation over many distinct keys is bound by memory misses.
 * Here an entry is one 32-byte slot holding the key (longs; strings of up
 * to 16 bytes, else their first 8), its length, hash bits and value, so a
 * lookup costs one miss instead of three; and rows wait in a short queue
 * whose slots are prefetched, so the misses of 32 rows overlap instead of
 * following one another. Entries stay in insertion order, as the generic
 * table's do, so results come out in the same order.
 *
 * Ownership: eng__fa_new() returns an owned table (eng__fa_free). Keys are
 *   copied into the table.
 * Thread-safety: one thread.
 * Errors: eng__fa_push returns 1 (queued), 0 when the key or value is not
 *   of the table's kinds (the caller flushes and moves to the generic
 *   table), or ENG_ENOMEM. Combining happens in eng__fa_push or
 *   eng__fa_flush, which cannot fail, except that the combining function
 *   may raise (it unwinds to the task's guard, as any UDF).
 */
#ifndef ENG_FASTAGG_H
#define ENG_FASTAGG_H

#include <stdint.h>

#include "val.h"

typedef struct eng_fastagg eng_fastagg;

typedef int64_t (*eng_fa_ll)(int64_t a, int64_t b);
typedef double (*eng_fa_dd)(double a, double b);

/* fl combines longs, fd doubles (either may be NULL: that kind of value
 * does not fit). zero, if given, starts each key added by a raw value (a
 * fold): the new key's value is f(zero, x); it must be a long or double. */
eng_fastagg *eng__fa_new(eng_fa_ll fl, eng_fa_dd fd, const eng_val *zero);
void eng__fa_free(eng_fastagg *fa);
/* Empties the table (the combining functions stay). */
void eng__fa_clear(eng_fastagg *fa);
/* Combines x into key's value (raw: x is a value, so a new key starts from
 * the zero; else a combiner, taken as it is). The work may wait for the
 * next push or flush; key's bytes are copied, so they need not outlive the
 * call. */
int eng__fa_push(eng_fastagg *fa, eng_val key, eng_val x, int raw);
/* Does all queued work. Call before reading the entries. */
void eng__fa_flush(eng_fastagg *fa);
/* Entries (flushed) and their approximate bytes. */
int64_t eng__fa_count(const eng_fastagg *fa);
int64_t eng__fa_bytes(const eng_fastagg *fa);
/* Entry i in insertion order: its key (strings point into the table, valid
 * until the next push) and value. */
eng_val eng__fa_key(const eng_fastagg *fa, int64_t i);
eng_val eng__fa_value(const eng_fastagg *fa, int64_t i);

#endif
