/* fastagg.c -- the typed aggregation table (see fastagg.h).
 *
 * Layout: open addressing with linear probing over 32-byte slots that hold
 * the whole entry, at most 70% full, so a lookup that hits touches one cache
 * line (two slots share a line; the next probe is usually in it too):
 *   [k0 (8)] [k1 (8)] [value (8)] [len (4)] [tag (4)]
 *   long keys:   k0 = the key, len = 0
 *   string keys: up to 16 bytes inline in k0..k1 (zero padded); longer ones
 *                keep their first 8 bytes in k0 and their offset in the key
 *                arena in k1, and compare the rest there
 * tag is 32 bits of the hash with the low bit set (0 marks an empty slot).
 * Insertion order lives in a separate array of slot numbers, rewritten when
 * the table grows.
 *
 * The queue: a push hashes its key, prefetches the key's first slot and
 * queues the row; every QLEN rows the queue is processed in order. (A
 * sliding window, applying the oldest row at each push once QLEN wait, gave
 * every prefetch the same lead, and was slower in place: reduce_by_key of
 * 1e7 longs took 160-280 ms against 140-210, alternating runs; the
 * applies of a batch overlap their misses by themselves.) Space for the
 * queued rows (slots, key bytes) is reserved at push time, so processing
 * never allocates and never fails.
 *
 * Sizes: a task's table grows by doubling from 4096 slots; past SMALL_SLOTS
 * it jumps straight to the size the executor thread's previous big table
 * ended at, since the tasks of a stage see about as many keys each: each
 * doubling rehashes every entry and faults in fresh pages (perf: the
 * rehashes alone were 5% of word count's time). Small aggregations never
 * reach the hint.
 */
#include "fastagg.h"

#include <string.h>

#include "mem.h"

#define QLEN 32
#define QKEY 64 /* queued keys of 17..QKEY bytes are copied into the queue */
#define SMALL_SLOTS ((int64_t)1 << 15)

enum { K_NONE = 0, K_LONG = 1, K_STR = 2 };

typedef struct slot {
  uint64_t k0, k1;
  uint64_t val; /* int64 or double bits */
  uint32_t len;
  uint32_t tag;
} slot;

typedef struct pending {
  slot want;       /* the slot a new entry gets; want.val is the row's x */
  uint64_t h;
  const char *p;   /* keys longer than 16 bytes: their bytes (kb) */
  int raw;
  char kb[QKEY];
} pending;

/* The slot count this thread's last big table reached (see Sizes). One
 * task runs at a time on an executor's task thread. */
static __thread int64_t t_size_hint;

struct eng_fastagg {
  eng_fa_ll fl;
  eng_fa_dd fd;
  int has_zero;
  uint64_t zero;    /* bits, of the kind of the values */
  int kkind, vkind; /* K_*, ENG_V_LONG or ENG_V_DOUBLE; 0 while empty */
  slot *slots;
  int64_t nslots;   /* power of two */
  uint32_t *order;  /* entry i (insertion order) is slots[order[i]] */
  int64_t n, cap;   /* entries; at most cap (70% of nslots) */
  char *kbytes;     /* keys longer than 16 bytes, each followed by a NUL */
  int64_t kused, kcap;
  int64_t kreserved; /* kbytes promised to queued keys */
  pending q[QLEN];
  int nq;
};

eng_fastagg *eng__fa_new(eng_fa_ll fl, eng_fa_dd fd, const eng_val *zero) {
  eng_fastagg *fa = eng_calloc(1, sizeof *fa);
  if (!fa) return NULL;
  fa->fl = fl;
  fa->fd = fd;
  if (zero) {
    fa->has_zero = 1;
    fa->zero = zero->p;
  }
  return fa;
}

static void free_arrays(eng_fastagg *fa) {
  if (fa->nslots > SMALL_SLOTS) t_size_hint = fa->nslots;
  eng_free(fa->slots);
  eng_free(fa->order);
  eng_free(fa->kbytes);
}

void eng__fa_free(eng_fastagg *fa) {
  if (!fa) return;
  free_arrays(fa);
  eng_free(fa);
}

void eng__fa_clear(eng_fastagg *fa) {
  free_arrays(fa);
  fa->kkind = fa->vkind = 0;
  fa->slots = NULL;
  fa->order = NULL;
  fa->kbytes = NULL;
  fa->nslots = fa->n = fa->cap = fa->kused = fa->kcap = fa->kreserved = 0;
  fa->nq = 0;
}

/* The n <= 8 bytes at p as a zero-padded little-endian word, without a
 * variable-length memcpy (a libc call per key: a tenth of word count's time
 * went to them). Overlapping fixed-size loads read only bytes of [p, p+n). */
static inline uint64_t load_small(const char *p, long n) {
  if (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
  }
  if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    return (uint64_t)a | ((uint64_t)b << (8 * (n - 4)));
  }
  if (n == 0) return 0;
  const unsigned char *u = (const unsigned char *)p;
  return (uint64_t)u[0] | ((uint64_t)u[n / 2] << (8 * (n / 2))) | ((uint64_t)u[n - 1] << (8 * (n - 1)));
}

/* An unaligned 8-byte load that neither the compiler nor ASan treats as an
 * access to one object (see load_word). */
typedef uint64_t __attribute__((may_alias, aligned(1))) unaligned_u64;

/* The n <= 8 bytes at p, as load_small, without branching on n: word
 * lengths vary from row to row, and load_small's branches mispredicted
 * about every other key. One 8-byte load masked to n bytes may read past
 * the key, but only when the 8 bytes lie in p's page, which is mapped (the
 * caller's promise: p is a byte of a key, even when n is 0), so it cannot
 * fault; those bytes are masked off unseen. ASan, which checks objects
 * rather than pages, is told to look away. */
__attribute__((no_sanitize_address)) static inline uint64_t load_word(const char *p, long n) {
  if (((uintptr_t)p & 4095) > 4096 - 8) return load_small(p, n);
  uint64_t w = *(const unaligned_u64 *)p;
  return w & (n >= 8 ? ~0ull : (1ull << (8 * n)) - 1);
}

/* The hash of a key of n <= 16 bytes, from its two zero-padded words.
 * Quality matters, Python compatibility does not (partitions are computed
 * elsewhere). */
static inline uint64_t hash_words(uint64_t k0, uint64_t k1, uint64_t n) {
  uint64_t h = (k0 ^ (0x9e3779b97f4a7c15ull + n)) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  h = (h ^ k1) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

/* The hash of a longer key: the same mix, eight bytes at a time. */
static uint64_t hash_bytes(const char *p, long n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  uint64_t t = load_small(p + i, n - i);
  h = (h ^ t) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

static uint64_t hash_long(int64_t x) {
  uint64_t h = (uint64_t)x * 0x9e3779b97f4a7c15ull;
  h ^= h >> 32;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

static uint32_t tag_of(uint64_t h) { return (uint32_t)(h >> 32) | 1u; }

static const char *slot_bytes(const eng_fastagg *fa, const slot *s) {
  return s->len <= 16 ? (const char *)&s->k0 : fa->kbytes + s->k1;
}

static uint64_t slot_hash(const eng_fastagg *fa, const slot *s) {
  if (fa->kkind == K_LONG) return hash_long((int64_t)s->k0);
  return s->len <= 16 ? hash_words(s->k0, s->k1, s->len) : hash_bytes(fa->kbytes + s->k1, s->len);
}

static int grow(eng_fastagg *fa) {
  int64_t ns = fa->nslots ? fa->nslots * 2 : 4096;
  if (fa->nslots == SMALL_SLOTS && t_size_hint > ns) ns = t_size_hint;
  if (ns > ((int64_t)1 << 32)) return ENG_ENOMEM;
  slot *t = eng__calloc_huge((size_t)ns, sizeof *t);
  uint32_t *o = t ? eng_realloc(fa->order, (size_t)(ns * 7 / 10 + 1) * sizeof *o) : NULL;
  if (!o) {
    eng_free(t);
    return ENG_ENOMEM;
  }
  fa->order = o;
  for (int64_t e = 0; e < fa->n; e++) {
    const slot *s = &fa->slots[o[e]];
    uint64_t j = slot_hash(fa, s) & (uint64_t)(ns - 1);
    while (t[j].tag) j = (j + 1) & (uint64_t)(ns - 1);
    t[j] = *s;
    o[e] = (uint32_t)j;
  }
  eng_free(fa->slots);
  fa->slots = t;
  fa->nslots = ns;
  fa->cap = ns * 7 / 10;
  return 0;
}

/* Room in kbytes for n more bytes (promised to a queued key). */
static int reserve_key_bytes(eng_fastagg *fa, int64_t n) {
  int64_t need = fa->kused + fa->kreserved + n;
  if (need > fa->kcap) {
    int64_t cap = fa->kcap ? fa->kcap * 2 : 65536;
    while (cap < need) cap *= 2;
    char *b = eng_realloc(fa->kbytes, (size_t)cap);
    if (!b) return ENG_ENOMEM;
    fa->kbytes = b;
    fa->kcap = cap;
  }
  fa->kreserved += n;
  return 0;
}

static void combine(eng_fastagg *fa, slot *s, uint64_t x, int is_new, int raw) {
  if (is_new && !(raw && fa->has_zero)) {
    s->val = x;
    return;
  }
  uint64_t a = is_new ? fa->zero : s->val;
  if (fa->vkind == ENG_V_LONG) {
    s->val = (uint64_t)fa->fl((int64_t)a, (int64_t)x);
  } else {
    double da, dx, r;
    memcpy(&da, &a, 8);
    memcpy(&dx, &x, 8);
    r = fa->fd(da, dx);
    memcpy(&s->val, &r, 8);
  }
}

/* Finds or adds the pending row's entry and combines its value in. */
static void apply(eng_fastagg *fa, const pending *r) {
  uint64_t mask = (uint64_t)fa->nslots - 1;
  const slot *w = &r->want;
  uint64_t j = r->h & mask;
  for (;;) {
    slot *s = &fa->slots[j];
    if (!s->tag) break;
    if (s->tag == w->tag && s->k0 == w->k0 && s->len == w->len &&
        (w->len <= 16 ? s->k1 == w->k1 : memcmp(fa->kbytes + s->k1 + 8, r->p + 8, w->len - 8) == 0)) {
      if (w->len > 16) fa->kreserved -= w->len + 1; /* the key is there: its room is not needed */
      combine(fa, s, w->val, 0, r->raw);
      return;
    }
    j = (j + 1) & mask;
  }
  slot *s = &fa->slots[j];
  *s = *w;
  if (w->len > 16) {
    memcpy(fa->kbytes + fa->kused, r->p, w->len);
    fa->kbytes[fa->kused + w->len] = 0;
    s->k1 = (uint64_t)fa->kused;
    fa->kused += w->len + 1;
    fa->kreserved -= w->len + 1;
  }
  fa->order[fa->n++] = (uint32_t)j;
  combine(fa, s, w->val, 1, r->raw);
}

void eng__fa_flush(eng_fastagg *fa) {
  /* The queue is emptied before the calls: a combining function that raises
   * unwinds out of here, and the table must not replay its rows. */
  int nq = fa->nq;
  fa->nq = 0;
  for (int i = 0; i < nq; i++) apply(fa, &fa->q[i]);
}

int eng__fa_push(eng_fastagg *fa, eng_val key, eng_val x, int raw) {
  int kk = ENG_VKIND(key) == ENG_V_LONG ? K_LONG : ENG_VKIND(key) == ENG_V_STR ? K_STR : K_NONE;
  int vk = ENG_VKIND(x);
  if (!kk || !((vk == ENG_V_LONG && fa->fl) || (vk == ENG_V_DOUBLE && fa->fd))) return 0;
  if (fa->kkind != kk || fa->vkind != vk) {
    if (fa->kkind) return 0;
    fa->kkind = kk;
    fa->vkind = vk;
  }
  if (fa->n + fa->nq + 1 > fa->cap) {
    eng__fa_flush(fa); /* grow() rehashes entries, not queued rows */
    if (grow(fa) < 0) return ENG_ENOMEM;
  }
  const char *p = NULL;
  long n = 0;
  if (kk == K_STR) {
    p = (const char *)(uintptr_t)key.p;
    n = ENG_VLEN(key);
    if (n >= (long)UINT32_MAX) return 0;
    if (n > 16 && reserve_key_bytes(fa, n + 1) < 0) return ENG_ENOMEM;
  }
  pending *r = &fa->q[fa->nq];
  r->want.val = x.p;
  r->want.len = (uint32_t)n;
  r->raw = raw;
  r->p = NULL;
  if (kk == K_LONG) {
    r->want.k0 = key.p;
    r->want.k1 = 0;
    r->h = hash_long((int64_t)key.p);
  } else if (n == 0) {
    /* p may point past its buffer, even onto an unmapped page. */
    r->want.k0 = r->want.k1 = 0;
    r->h = hash_words(0, 0, 0);
  } else if (n <= 16) {
    /* The second word is loaded from p itself (as zero bytes) when the key
     * has none, without a branch: p + 8 may be on an unmapped page. */
    int two = n > 8;
    r->want.k0 = load_word(p, two ? 8 : n);
    r->want.k1 = load_word(two ? p + 8 : p, two ? n - 8 : 0);
    r->h = hash_words(r->want.k0, r->want.k1, (uint64_t)n);
  } else {
    r->want.k0 = load_word(p, 8);
    r->want.k1 = 0;
    r->h = hash_bytes(p, n);
    if (n > QKEY) {
      /* Too long to queue: apply it now, after the queue, in order. */
      pending one = *r;
      one.want.tag = tag_of(one.h);
      one.p = p;
      eng__fa_flush(fa);
      apply(fa, &one);
      return 1;
    }
    memcpy(r->kb, p, (size_t)n);
    r->p = r->kb;
  }
  r->want.tag = tag_of(r->h);
  __builtin_prefetch(&fa->slots[r->h & (uint64_t)(fa->nslots - 1)]);
  if (++fa->nq == QLEN) eng__fa_flush(fa);
  return 1;
}

int64_t eng__fa_count(const eng_fastagg *fa) { return fa->n; }

int64_t eng__fa_bytes(const eng_fastagg *fa) {
  return fa->nslots * (int64_t)sizeof(slot) + fa->cap * 4 + fa->kcap;
}

eng_val eng__fa_key(const eng_fastagg *fa, int64_t i) {
  /* Callers walk the entries in order; their slots are scattered. */
  if (i + 8 < fa->n) __builtin_prefetch(&fa->slots[fa->order[i + 8]]);
  const slot *s = &fa->slots[fa->order[i]];
  if (fa->kkind == K_LONG) return eng_long((int64_t)s->k0);
  return eng_strv(slot_bytes(fa, s), (long)s->len);
}

eng_val eng__fa_value(const eng_fastagg *fa, int64_t i) {
  const slot *s = &fa->slots[fa->order[i]];
  eng_val v = {(uint64_t)fa->vkind, s->val};
  return v;
}
