/* htab.c -- open addressing (linear probing) over an entry array kept in
 * insertion order; the index holds entry numbers, so growing rehashes only
 * the small index, never moves entries' payloads' meaning.
 *
 * Index slots are 64 bits: a 32-bit fingerprint of the hash above the
 * entry's number + 1 (0 = empty). A probe that meets another key is
 * rejected by the fingerprint without touching the entry array, which for
 * tables larger than the cache saves a memory miss per collision.
 */
#include "htab.h"

#include <string.h>

#include "mem.h"

struct eng_htab {
  eng_hent *ents;
  int64_t n, cap;
  uint64_t *idx; /* fingerprint << 32 | (entry + 1); 0 = empty */
  int64_t icap;  /* power of two, > 2 * n */
  eng_arena *a;
};

eng_htab *eng_htab_new(void) {
  eng_htab *h = eng_calloc(1, sizeof *h);
  if (!h) return NULL;
  h->a = eng_arena_new(256 * 1024);
  if (!h->a) {
    eng_free(h);
    return NULL;
  }
  return h;
}

void eng_htab_free(eng_htab *h) {
  if (!h) return;
  eng_free(h->ents);
  eng_free(h->idx);
  eng_arena_free(h->a);
  eng_free(h);
}

void eng_htab_clear(eng_htab *h) {
  eng_free(h->ents);
  eng_free(h->idx);
  h->ents = NULL;
  h->idx = NULL;
  h->n = h->cap = h->icap = 0;
  eng_arena_reset(h->a);
}

static uint64_t slot_of(uint64_t m, int64_t e) { return (m & 0xffffffff00000000ull) | (uint64_t)(e + 1); }

static int grow_index(eng_htab *h) {
  int64_t icap = h->icap ? h->icap * 2 : 1024;
  uint64_t *idx = eng_calloc((size_t)icap, sizeof *idx);
  if (!idx) return ENG_ENOMEM;
  for (int64_t i = 0; i < h->n; i++) {
    uint64_t j = h->ents[i].hash & (uint64_t)(icap - 1);
    while (idx[j]) j = (j + 1) & (uint64_t)(icap - 1);
    idx[j] = slot_of(h->ents[i].hash, i);
  }
  eng_free(h->idx);
  h->idx = idx;
  h->icap = icap;
  return 0;
}

static uint64_t mix(uint64_t x);
uint64_t eng_htab_mix(uint64_t x) { return mix(x); }

/* Mixes Python's hash (often small integers) so that linear probing does
 * not cluster on consecutive keys, and the high bits (the fingerprint)
 * depend on all of them. */
static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

/* Key equality, with the common cases (same bits; two strings) inline. */
static inline int key_eq(eng_val a, eng_val b) {
  if (a.h == b.h) {
    if (a.p == b.p) return 1;
    if (ENG_VKIND(a) == ENG_V_STR)
      return memcmp((const void *)(uintptr_t)a.p, (const void *)(uintptr_t)b.p, (size_t)ENG_VLEN(a)) == 0;
    if (ENG_VKIND(a) == ENG_V_LONG) return 0;
  }
  return eng_val_eq(a, b);
}

eng_hent *eng_htab_find(eng_htab *h, eng_val key, uint64_t hash) {
  if (!h->icap) return NULL;
  uint64_t m = mix(hash), fp = m & 0xffffffff00000000ull;
  uint64_t j = m & (uint64_t)(h->icap - 1);
  for (;;) {
    uint64_t slot = h->idx[j];
    if (!slot) return NULL;
    if ((slot & 0xffffffff00000000ull) == fp) {
      eng_hent *e = &h->ents[(slot & 0xffffffffu) - 1];
      if (key_eq(e->key, key)) return e;
    }
    j = (j + 1) & (uint64_t)(h->icap - 1);
  }
}

eng_hent *eng_htab_find_or_add(eng_htab *h, eng_val key, uint64_t hash, int *is_new) {
  if ((h->n + 1) * 2 > h->icap && grow_index(h) < 0) return NULL;
  uint64_t m = mix(hash), fp = m & 0xffffffff00000000ull;
  uint64_t j = m & (uint64_t)(h->icap - 1);
  for (;;) {
    uint64_t slot = h->idx[j];
    if (!slot) break;
    if ((slot & 0xffffffff00000000ull) == fp) {
      eng_hent *e = &h->ents[(slot & 0xffffffffu) - 1];
      if (key_eq(e->key, key)) {
        *is_new = 0;
        return e;
      }
    }
    j = (j + 1) & (uint64_t)(h->icap - 1);
  }
  if (h->n == h->cap) {
    int64_t cap = h->cap ? h->cap * 2 : 512;
    eng_hent *ents = eng_realloc(h->ents, (size_t)cap * sizeof *ents);
    if (!ents) return NULL;
    h->ents = ents;
    h->cap = cap;
  }
  eng_hent *ent = &h->ents[h->n];
  memset(ent, 0, sizeof *ent);
  ent->hash = m;
  ent->key = eng_val_copy(h->a, key);
  h->idx[j] = slot_of(m, h->n);
  h->n++;
  *is_new = 1;
  return ent;
}

int64_t eng_htab_count(const eng_htab *h) { return h->n; }
eng_hent *eng_htab_at(eng_htab *h, int64_t i) { return &h->ents[i]; }
eng_arena *eng_htab_arena(eng_htab *h) { return h->a; }

int64_t eng_htab_bytes(const eng_htab *h) {
  return (int64_t)(h->cap * (int64_t)sizeof(eng_hent) + h->icap * 4 +
                   (int64_t)eng_arena_footprint(h->a));
}
