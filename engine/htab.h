/* htab.h -- a hash table keyed by values, iterated in insertion order
 * (like a Python dict, which is what PySpark's reducers use, so groups come
 * out in the order PySpark gives them).
 *
 * Ownership: eng_htab_new() returns an owned table (eng_htab_free). Keys are
 *   deep-copied into the table's arena on insert; entry payloads (val, aux)
 *   belong to the caller, who may allocate them in eng_htab_arena().
 * Thread-safety: one thread.
 * Errors: eng_htab_find_or_add returns NULL on out-of-memory.
 * Entry pointers are valid only until the next insert (the array grows).
 */
#ifndef ENG_HTAB_H
#define ENG_HTAB_H

#include <stdint.h>

#include "arena.h"
#include "val.h"

typedef struct eng_hent {
  uint64_t hash;
  eng_val key;
  eng_val val;  /* payload: a combiner, a count */
  eng_vlist *lists; /* payload: grouped values (cogroup: one list per input) */
} eng_hent;

typedef struct eng_htab eng_htab;

eng_htab *eng_htab_new(void);
void eng_htab_free(eng_htab *h);
/* Empties the table and its arena. */
void eng_htab_clear(eng_htab *h);
/* The entry for key (hash = eng_val_hash(key)), added if absent (*is_new). */
eng_hent *eng_htab_find_or_add(eng_htab *h, eng_val key, uint64_t hash, int *is_new);
eng_hent *eng_htab_find(eng_htab *h, eng_val key, uint64_t hash);
int64_t eng_htab_count(const eng_htab *h);
/* Entry i in insertion order. */
eng_hent *eng_htab_at(eng_htab *h, int64_t i);
eng_arena *eng_htab_arena(eng_htab *h);
/* The mixed hash the table stores in eng_hent.hash for a value hash. */
uint64_t eng_htab_mix(uint64_t hash);
/* Approximate bytes used (table, entries and arena). */
int64_t eng_htab_bytes(const eng_htab *h);

#endif
