/* blockstore.c -- cached partitions and shuffle outputs, memory then disk.
 *
 * Invariants: a block is wholly in memory or wholly on disk (a shuffle output
 * that spilled while being written is completed on disk). A block on disk is
 * one file, blk-<id>, holding its sequences as extents of zstd-compressed
 * batches; reads return stored bytes, which eng_batch_parse decompresses.
 * A block being written (shuffle output before commit) is pinned and never
 * evicted by others; its writer spills it itself.
 */
#include "blockstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "err.h"
#include "mem.h"

enum { BLK_RDD = 1, BLK_SHUF = 2 };

typedef struct extent {
  int64_t off, len;
} extent;

typedef struct seq {
  eng_batch **b; /* RDD in memory */
  int nb, capb;
  eng_buf buf;   /* shuffle in memory: concatenated batches */
  extent *ext;   /* on disk */
  int next, capext;
} seq;

typedef struct blk {
  char id[64];
  int kind, level;
  int nseq;
  seq *seqs;
  int in_mem;
  int fd;
  char *path;
  int64_t file_end;
  int64_t mem, disk;
  uint64_t lru;
  uint64_t serial; /* unique in the store */
  int pinned;
  struct blk *next;
} blk;

#define NBUCKET 4096

struct eng_blockstore {
  pthread_mutex_t lock;
  blk *buckets[NBUCKET];
  int64_t budget;
  char *dir;
  uint64_t clock;
  int64_t mem, disk;
  eng_buf dropped;
  int ndropped;
  eng_buf spilled; /* "rdd_<ds>_<part> <disk bytes>" of cached blocks moved to disk */
  int nspilled;
};

struct eng_shuf_out {
  eng_blockstore *bs;
  blk *b;
};

/* ------------------------------------------------------------------------ */
/* Table                                                                    */
/* ------------------------------------------------------------------------ */

static unsigned bucket_of(const char *id) {
  unsigned h = 2166136261u;
  for (; *id; id++) h = (h ^ (unsigned char)*id) * 16777619u;
  return h % NBUCKET;
}

static blk *find(eng_blockstore *bs, const char *id) {
  for (blk *b = bs->buckets[bucket_of(id)]; b; b = b->next)
    if (strcmp(b->id, id) == 0) return b;
  return NULL;
}

static void unlink_blk(eng_blockstore *bs, blk *b) {
  blk **pp = &bs->buckets[bucket_of(b->id)];
  while (*pp && *pp != b) pp = &(*pp)->next;
  if (*pp) *pp = b->next;
}

static void free_mem_form(eng_blockstore *bs, blk *b) {
  for (int i = 0; i < b->nseq; i++) {
    seq *s = &b->seqs[i];
    for (int j = 0; j < s->nb; j++) eng_batch_unref(s->b[j]);
    eng_free(s->b);
    s->b = NULL;
    s->nb = s->capb = 0;
    eng_buf_free(&s->buf);
  }
  bs->mem -= b->mem;
  b->mem = 0;
  b->in_mem = 0;
}

static void free_blk(eng_blockstore *bs, blk *b) {
  free_mem_form(bs, b);
  for (int i = 0; i < b->nseq; i++) eng_free(b->seqs[i].ext);
  eng_free(b->seqs);
  if (b->fd >= 0) close(b->fd);
  if (b->path) unlink(b->path);
  eng_free(b->path);
  bs->disk -= b->disk;
  eng_free(b);
}

static blk *new_blk(eng_blockstore *bs, const char *id, int kind, int nseq) {
  blk *b = eng_calloc(1, sizeof *b);
  if (!b) return NULL;
  b->seqs = eng_calloc((size_t)(nseq > 0 ? nseq : 1), sizeof *b->seqs);
  if (!b->seqs) {
    eng_free(b);
    return NULL;
  }
  snprintf(b->id, sizeof b->id, "%s", id);
  b->kind = kind;
  b->nseq = nseq;
  b->fd = -1;
  b->in_mem = 1;
  b->lru = ++bs->clock;
  b->serial = b->lru;
  return b;
}

/* Inserts b, replacing a block with the same id. */
static void insert(eng_blockstore *bs, blk *b) {
  blk *old = find(bs, b->id);
  if (old) {
    unlink_blk(bs, old);
    free_blk(bs, old);
  }
  unsigned h = bucket_of(b->id);
  b->next = bs->buckets[h];
  bs->buckets[h] = b;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

eng_blockstore *eng_bs_new(int64_t budget, const char *dir, eng_err *err) {
  eng_blockstore *bs = eng_calloc(1, sizeof *bs);
  if (!bs) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: block store");
    return NULL;
  }
  pthread_mutex_init(&bs->lock, NULL);
  bs->budget = budget;
  bs->dir = eng_strdup(dir);
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    eng_err_set(err, ENG_EIO, "IOError: cannot create %s: %s", dir, strerror(errno));
    eng_free(bs->dir);
    eng_free(bs);
    return NULL;
  }
  return bs;
}

void eng_bs_free(eng_blockstore *bs) {
  if (!bs) return;
  for (int i = 0; i < NBUCKET; i++) {
    blk *b = bs->buckets[i];
    while (b) {
      blk *n = b->next;
      free_blk(bs, b);
      b = n;
    }
  }
  rmdir(bs->dir);
  eng_free(bs->dir);
  eng_buf_free(&bs->dropped);
  eng_buf_free(&bs->spilled);
  pthread_mutex_destroy(&bs->lock);
  eng_free(bs);
}

const char *eng_bs_dir(eng_blockstore *bs) { return bs->dir; }
int64_t eng_bs_budget(eng_blockstore *bs) { return bs->budget; }

/* ------------------------------------------------------------------------ */
/* Disk form                                                                */
/* ------------------------------------------------------------------------ */

static int open_file(eng_blockstore *bs, blk *b, eng_err *err) {
  if (b->fd >= 0) return 0;
  char path[4096];
  /* Unique per block object: a block replacing one of the same id (a
   * recomputed partition) must not truncate, then unlink, its file. */
  snprintf(path, sizeof path, "%s/blk-%s-%llu", bs->dir, b->id, (unsigned long long)b->serial);
  b->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (b->fd < 0)
    return eng_err_set(err, ENG_EIO, "IOError: cannot create spill file %s: %s", path,
                       strerror(errno));
  b->path = eng_strdup(path);
  b->file_end = 0;
  return 0;
}

static int write_all(int fd, const char *p, size_t n, int64_t off) {
  while (n) {
    ssize_t w = pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
    off += w;
  }
  return 0;
}

static int add_extent(seq *s, int64_t off, int64_t len) {
  if (s->next == s->capext) {
    int cap = s->capext ? s->capext * 2 : 4;
    extent *e = eng_realloc(s->ext, (size_t)cap * sizeof *e);
    if (!e) return ENG_ENOMEM;
    s->ext = e;
    s->capext = cap;
  }
  s->ext[s->next].off = off;
  s->ext[s->next].len = len;
  s->next++;
  return 0;
}

/* Compresses the batches in [p, p+n) (each whole) and appends them to the
 * block's file as one extent of sequence s. */
static int spill_bytes(eng_blockstore *bs, blk *b, seq *s, const char *p, size_t n,
                       eng_err *err) {
  if (n == 0) return 0;
  ENG_TRY(open_file(bs, b, err));
  eng_buf out;
  eng_buf_init(&out);
  size_t pos = 0;
  while (pos < n) {
    size_t len = eng_batch_peek_len(p + pos, n - pos);
    if (!len) break;
    eng_batch fake;
    memset(&fake, 0, sizeof fake);
    fake.buf = p + pos;
    fake.len = len;
    uint32_t flags;
    memcpy(&flags, p + pos + 4, 4);
    eng_batch_write(&out, &fake, flags & 1 ? 0 : 1);
    pos += len;
  }
  if (out.oom) {
    eng_buf_free(&out);
    return eng_err_set(err, ENG_ENOMEM, "MemoryError: spill buffer");
  }
  int rc = write_all(b->fd, out.data, out.len, b->file_end);
  if (rc < 0) {
    eng_buf_free(&out);
    return eng_err_set(err, ENG_EIO, "IOError: writing spill file %s: %s", b->path,
                       strerror(errno));
  }
  rc = add_extent(s, b->file_end, (int64_t)out.len);
  b->file_end += (int64_t)out.len;
  b->disk += (int64_t)out.len;
  bs->disk += (int64_t)out.len;
  eng_buf_free(&out);
  return rc < 0 ? eng_err_set(err, ENG_ENOMEM, "MemoryError: extents") : 0;
}

/* Moves a block's memory form to disk. */
static int spill_blk(eng_blockstore *bs, blk *b, eng_err *err) {
  for (int i = 0; i < b->nseq; i++) {
    seq *s = &b->seqs[i];
    if (b->kind == BLK_RDD) {
      for (int j = 0; j < s->nb; j++)
        ENG_TRY(spill_bytes(bs, b, s, s->b[j]->buf, s->b[j]->len, err));
    } else {
      ENG_TRY(spill_bytes(bs, b, s, s->buf.data, s->buf.len, err));
    }
  }
  free_mem_form(bs, b);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Eviction                                                                 */
/* ------------------------------------------------------------------------ */

static int64_t evict_locked(eng_blockstore *bs, int64_t need) {
  int64_t freed = 0;
  while (freed < need) {
    blk *victim = NULL;
    for (int i = 0; i < NBUCKET; i++)
      for (blk *b = bs->buckets[i]; b; b = b->next)
        if (b->in_mem && !b->pinned && b->mem > 0 && (!victim || b->lru < victim->lru))
          victim = b;
    if (!victim) break;
    int64_t m = victim->mem;
    if (victim->kind == BLK_RDD && victim->level == ENG_MEMORY_ONLY) {
      eng_buf_append(&bs->dropped, victim->id, strlen(victim->id) + 1);
      bs->ndropped++;
      unlink_blk(bs, victim);
      free_blk(bs, victim);
    } else if (spill_blk(bs, victim, NULL) < 0) {
      break; /* disk trouble: keep it in memory */
    } else if (victim->kind == BLK_RDD) {
      char note[96];
      int len = snprintf(note, sizeof note, "%s %lld", victim->id, (long long)victim->disk);
      eng_buf_append(&bs->spilled, note, (size_t)len + 1);
      bs->nspilled++;
    }
    freed += m;
  }
  return freed;
}

int64_t eng_bs_evict(eng_blockstore *bs, int64_t need) {
  pthread_mutex_lock(&bs->lock);
  int64_t f = evict_locked(bs, need);
  pthread_mutex_unlock(&bs->lock);
  return f;
}

int eng_bs_take_dropped(eng_blockstore *bs, eng_buf *out) {
  pthread_mutex_lock(&bs->lock);
  int n = bs->ndropped;
  eng_buf_append(out, bs->dropped.data, bs->dropped.len);
  bs->dropped.len = 0;
  bs->ndropped = 0;
  pthread_mutex_unlock(&bs->lock);
  return n;
}

int eng_bs_take_spilled(eng_blockstore *bs, eng_buf *out) {
  pthread_mutex_lock(&bs->lock);
  int n = bs->nspilled;
  eng_buf_append(out, bs->spilled.data, bs->spilled.len);
  bs->spilled.len = 0;
  bs->nspilled = 0;
  pthread_mutex_unlock(&bs->lock);
  return n;
}

/* Makes room for `bytes` more within the budget, counting all of the
 * process's tracked memory. */
static void make_room_locked(eng_blockstore *bs, int64_t bytes) {
  int64_t over = eng_mem_in_use() + bytes - bs->budget;
  if (over > 0) evict_locked(bs, over);
}

/* ------------------------------------------------------------------------ */
/* RDD blocks                                                               */
/* ------------------------------------------------------------------------ */

struct eng_rdd_out {
  eng_blockstore *bs;
  blk *b;
  int64_t limit;
  int dropped; /* MEMORY_ONLY and too big: not cached */
};

eng_rdd_out *eng_bs_rdd_begin(eng_blockstore *bs, int ds, int part, int level, int64_t limit,
                              eng_err *err) {
  char id[64];
  snprintf(id, sizeof id, "rdd_%d_%d", ds, part);
  eng_rdd_out *o = eng_calloc(1, sizeof *o);
  pthread_mutex_lock(&bs->lock);
  blk *b = o ? new_blk(bs, id, BLK_RDD, 1) : NULL;
  pthread_mutex_unlock(&bs->lock);
  if (!b) {
    eng_free(o);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: block");
    return NULL;
  }
  b->level = level;
  o->bs = bs;
  o->b = b;
  o->limit = limit;
  return o;
}

int eng_bs_rdd_append(eng_rdd_out *o, eng_batch *batch, eng_err *err) {
  eng_blockstore *bs = o->bs;
  blk *b = o->b;
  seq *s = &b->seqs[0];
  if (o->dropped) {
    eng_batch_unref(batch);
    return 0;
  }
  pthread_mutex_lock(&bs->lock);
  int rc = 0;
  if (!b->in_mem) {
    /* Already on disk (too big for memory): straight there. */
    rc = spill_bytes(bs, b, s, batch->buf, batch->len, err);
    eng_batch_unref(batch);
  } else {
    if (s->nb == s->capb) {
      int cap = s->capb ? s->capb * 2 : 16;
      eng_batch **v = eng_realloc(s->b, (size_t)cap * sizeof *v);
      if (!v) {
        pthread_mutex_unlock(&bs->lock);
        eng_batch_unref(batch);
        return eng_err_set(err, ENG_ENOMEM, "MemoryError: block");
      }
      s->b = v;
      s->capb = cap;
    }
    s->b[s->nb++] = batch;
    b->mem += (int64_t)batch->len;
    bs->mem += (int64_t)batch->len;
    /* Spark's unrolling: a partition that outgrows the limit, or memory,
     * while being built is not kept in memory: MEMORY_ONLY gives up on
     * caching it (it is recomputed when needed), the others go on to disk. */
    if (b->level == ENG_DISK_ONLY || b->mem > o->limit || eng_mem_in_use() > bs->budget) {
      if (b->level == ENG_DISK_ONLY || b->mem > o->limit) {
        if (b->level == ENG_MEMORY_ONLY) {
          free_mem_form(bs, b);
          o->dropped = 1;
        } else {
          rc = spill_blk(bs, b, err);
        }
      } else {
        b->pinned = 1;
        make_room_locked(bs, 0);
        b->pinned = 0;
      }
    }
  }
  pthread_mutex_unlock(&bs->lock);
  return rc;
}

void eng_bs_rdd_abort(eng_rdd_out *o) {
  if (!o) return;
  pthread_mutex_lock(&o->bs->lock);
  free_blk(o->bs, o->b);
  pthread_mutex_unlock(&o->bs->lock);
  eng_free(o);
}

int eng_bs_rdd_commit(eng_rdd_out *o, int64_t *out_mem, int64_t *out_disk, eng_err *err) {
  eng_blockstore *bs = o->bs;
  blk *b = o->b;
  if (out_mem) *out_mem = 0;
  if (out_disk) *out_disk = 0;
  if (o->dropped) {
    eng_bs_rdd_abort(o);
    return 0;
  }
  pthread_mutex_lock(&bs->lock);
  int rc = 0;
  if (b->in_mem) {
    /* The batches are already counted in use; evict others if over. */
    b->pinned = 1;
    make_room_locked(bs, 0);
    b->pinned = 0;
    if (eng_mem_in_use() > bs->budget && b->level == ENG_MEMORY_AND_DISK) rc = spill_blk(bs, b, err);
  }
  if (rc < 0 || (b->level == ENG_MEMORY_ONLY && eng_mem_in_use() > bs->budget)) {
    /* An error, or it does not fit even alone: drop it, as Spark does; the
     * partition will be recomputed when needed. */
    free_blk(bs, b);
    pthread_mutex_unlock(&bs->lock);
    eng_free(o);
    return rc;
  }
  if (out_mem) *out_mem = b->mem;
  if (out_disk) *out_disk = b->disk;
  insert(bs, b);
  pthread_mutex_unlock(&bs->lock);
  eng_free(o);
  return 1;
}

int eng_bs_put_rdd(eng_blockstore *bs, int ds, int part, eng_batch **batches, int n, int level,
                   int64_t *out_mem, int64_t *out_disk, eng_err *err) {
  eng_rdd_out *o = eng_bs_rdd_begin(bs, ds, part, level, INT64_MAX, err);
  int i = 0, rc = 0;
  for (; o && i < n && rc == 0; i++) rc = eng_bs_rdd_append(o, batches[i], err);
  for (; i < n; i++) eng_batch_unref(batches[i]);
  if (!o) return err->code;
  if (rc < 0) {
    eng_bs_rdd_abort(o);
    return rc;
  }
  return eng_bs_rdd_commit(o, out_mem, out_disk, err);
}

/* Reads the batches of an on-disk sequence into new batches. */
static int load_seq(blk *b, seq *s, eng_batch ***out, int *out_n, eng_err *err) {
  int n = 0, cap = 16;
  eng_batch **v = eng_malloc((size_t)cap * sizeof *v);
  if (!v) return eng_err_set(err, ENG_ENOMEM, "MemoryError: block read");
  for (int e = 0; e < s->next; e++) {
    char *data = eng_malloc((size_t)s->ext[e].len + 1);
    if (!data) goto oom;
    ssize_t got = pread(b->fd, data, (size_t)s->ext[e].len, s->ext[e].off);
    if (got != s->ext[e].len) {
      eng_free(data);
      for (int i = 0; i < n; i++) eng_batch_unref(v[i]);
      eng_free(v);
      return eng_err_set(err, ENG_EIO, "IOError: reading spill file %s", b->path);
    }
    size_t pos = 0;
    while (pos < (size_t)got) {
      size_t used = 0;
      eng_batch *bt = eng_batch_parse(data + pos, (size_t)got - pos, NULL, NULL, &used, err);
      if (!bt) {
        eng_free(data);
        for (int i = 0; i < n; i++) eng_batch_unref(v[i]);
        eng_free(v);
        return ENG_EIO;
      }
      if (n == cap) {
        cap *= 2;
        eng_batch **nv = eng_realloc(v, (size_t)cap * sizeof *v);
        if (!nv) {
          eng_batch_unref(bt);
          eng_free(data);
          goto oom;
        }
        v = nv;
      }
      v[n++] = bt;
      pos += used;
    }
    eng_free(data);
  }
  *out = v;
  *out_n = n;
  return 0;
oom:
  for (int i = 0; i < n; i++) eng_batch_unref(v[i]);
  eng_free(v);
  return eng_err_set(err, ENG_ENOMEM, "MemoryError: block read");
}

static int get_rdd(eng_blockstore *bs, int ds, int part, int load, eng_batch ***out, int *out_n,
                   eng_err *err) {
  char id[64];
  snprintf(id, sizeof id, "rdd_%d_%d", ds, part);
  pthread_mutex_lock(&bs->lock);
  blk *b = find(bs, id);
  if (!b) {
    pthread_mutex_unlock(&bs->lock);
    return eng_err_set(err, ENG_EFETCH, "FetchFailed: block %s not found", id);
  }
  b->lru = ++bs->clock;
  int rc = 0;
  if (b->in_mem) {
    seq *s = &b->seqs[0];
    eng_batch **v = eng_malloc((size_t)(s->nb > 0 ? s->nb : 1) * sizeof *v);
    if (!v) {
      rc = eng_err_set(err, ENG_ENOMEM, "MemoryError: block read");
    } else {
      for (int i = 0; i < s->nb; i++) {
        eng_batch_ref(s->b[i]);
        v[i] = s->b[i];
      }
      *out = v;
      *out_n = s->nb;
    }
  } else if (load) {
    rc = load_seq(b, &b->seqs[0], out, out_n, err);
  } else {
    rc = 1;
  }
  pthread_mutex_unlock(&bs->lock);
  return rc;
}

int eng_bs_get_rdd(eng_blockstore *bs, int ds, int part, eng_batch ***out, int *out_n,
                   eng_err *err) {
  return get_rdd(bs, ds, part, 1, out, out_n, err);
}

int eng_bs_get_rdd_mem(eng_blockstore *bs, int ds, int part, eng_batch ***out, int *out_n,
                       eng_err *err) {
  return get_rdd(bs, ds, part, 0, out, out_n, err);
}

int eng_bs_has_rdd(eng_blockstore *bs, int ds, int part) {
  char id[64];
  snprintf(id, sizeof id, "rdd_%d_%d", ds, part);
  pthread_mutex_lock(&bs->lock);
  int has = find(bs, id) != NULL;
  pthread_mutex_unlock(&bs->lock);
  return has;
}

/* ------------------------------------------------------------------------ */
/* Shuffle outputs                                                          */
/* ------------------------------------------------------------------------ */

eng_shuf_out *eng_bs_shuffle_begin(eng_blockstore *bs, int shuffle, int map, int nreduce) {
  char id[64];
  /* The writer's own name until commit, so a retry does not clash with a
   * published output of the same map. */
  snprintf(id, sizeof id, "shuffle_%d_%d.w", shuffle, map);
  eng_shuf_out *o = eng_calloc(1, sizeof *o);
  if (!o) return NULL;
  pthread_mutex_lock(&bs->lock);
  o->b = new_blk(bs, id, BLK_SHUF, nreduce);
  pthread_mutex_unlock(&bs->lock);
  if (!o->b) {
    eng_free(o);
    return NULL;
  }
  o->b->pinned = 1;
  o->bs = bs;
  return o;
}

int eng_bs_shuffle_append(eng_shuf_out *o, int r, const char *data, size_t len, eng_err *err) {
  blk *b = o->b;
  if (!b->in_mem) {
    /* Already spilling: later data goes straight to disk. */
    pthread_mutex_lock(&o->bs->lock);
    int rc = spill_bytes(o->bs, b, &b->seqs[r], data, len, err);
    pthread_mutex_unlock(&o->bs->lock);
    return rc;
  }
  if (eng_buf_append(&b->seqs[r].buf, data, len) < 0)
    return eng_err_set(err, ENG_ENOMEM, "MemoryError: shuffle buffer");
  pthread_mutex_lock(&o->bs->lock);
  b->mem += (int64_t)len;
  o->bs->mem += (int64_t)len;
  pthread_mutex_unlock(&o->bs->lock);
  return 0;
}

int64_t eng_bs_shuffle_mem(eng_shuf_out *o) { return o->b->mem; }

int eng_bs_shuffle_spill(eng_shuf_out *o, eng_err *err) {
  pthread_mutex_lock(&o->bs->lock);
  int rc = o->b->in_mem ? spill_blk(o->bs, o->b, err) : 0;
  pthread_mutex_unlock(&o->bs->lock);
  return rc;
}

static int64_t seq_bytes(const blk *b, const seq *s) {
  if (b->in_mem) {
    if (b->kind == BLK_SHUF) return (int64_t)s->buf.len;
    int64_t n = 0;
    for (int i = 0; i < s->nb; i++) n += (int64_t)s->b[i]->len;
    return n;
  }
  int64_t n = 0;
  for (int i = 0; i < s->next; i++) n += s->ext[i].len;
  return n;
}

int eng_bs_shuffle_commit(eng_shuf_out *o, int64_t *sizes, eng_err *err) {
  eng_blockstore *bs = o->bs;
  blk *b = o->b;
  pthread_mutex_lock(&bs->lock);
  int rc = 0;
  if (!b->in_mem) rc = spill_blk(bs, b, err); /* nothing left in memory, but be sure */
  if (rc == 0) {
    char *dot = strrchr(b->id, '.');
    if (dot) *dot = 0;
    for (int r = 0; r < b->nseq; r++) sizes[r] = seq_bytes(b, &b->seqs[r]);
    b->pinned = 0;
    b->lru = ++bs->clock;
    insert(bs, b);
    make_room_locked(bs, 0);
  } else {
    free_blk(bs, b);
  }
  pthread_mutex_unlock(&bs->lock);
  eng_free(o);
  return rc;
}

void eng_bs_shuffle_abort(eng_shuf_out *o) {
  if (!o) return;
  pthread_mutex_lock(&o->bs->lock);
  free_blk(o->bs, o->b);
  pthread_mutex_unlock(&o->bs->lock);
  eng_free(o);
}

/* ------------------------------------------------------------------------ */
/* Reading bytes (serving and local fetch)                                   */
/* ------------------------------------------------------------------------ */

/* Parses "rdd_D_P" or "shuffle_S_M_R" into the stored block id and the
 * sequence index. */
static int parse_id(const char *id, char *blk_id, size_t cap, int *seq_idx) {
  int a, b2, c;
  if (sscanf(id, "rdd_%d_%d", &a, &b2) == 2 && strncmp(id, "rdd_", 4) == 0) {
    snprintf(blk_id, cap, "rdd_%d_%d", a, b2);
    *seq_idx = 0;
    return 0;
  }
  if (sscanf(id, "shuffle_%d_%d_%d", &a, &b2, &c) == 3) {
    snprintf(blk_id, cap, "shuffle_%d_%d", a, b2);
    *seq_idx = c;
    return 0;
  }
  return -1;
}

int eng_bs_read(eng_blockstore *bs, const char *id, int64_t offset, size_t max, eng_buf *out,
                int64_t *out_next, eng_err *err) {
  char bid[64];
  int si;
  if (parse_id(id, bid, sizeof bid, &si) < 0)
    return eng_err_set(err, ENG_EFETCH, "FetchFailed: bad block id %s", id);
  pthread_mutex_lock(&bs->lock);
  blk *b = find(bs, bid);
  if (!b || si < 0 || si >= b->nseq) {
    pthread_mutex_unlock(&bs->lock);
    return eng_err_set(err, ENG_EFETCH, "FetchFailed: block %s not found", id);
  }
  b->lru = ++bs->clock;
  seq *s = &b->seqs[si];
  int64_t total = seq_bytes(b, s);
  int rc = 0;
  size_t start_len = out->len;
  if (b->in_mem && b->kind == BLK_RDD) {
    int64_t pos = 0;
    for (int i = 0; i < s->nb; i++) {
      int64_t l = (int64_t)s->b[i]->len;
      if (pos >= offset && (out->len == start_len || out->len - start_len + (size_t)l <= max))
        eng_buf_append(out, s->b[i]->buf, (size_t)l);
      else if (pos >= offset)
        break;
      pos += l;
    }
    offset += (int64_t)(out->len - start_len);
  } else if (b->in_mem) {
    /* Whole batches from the concatenated buffer. */
    int64_t pos = offset;
    while (pos < total) {
      size_t l = eng_batch_peek_len(s->buf.data + pos, (size_t)(total - pos));
      if (!l) break;
      if (out->len != start_len && out->len - start_len + l > max) break;
      eng_buf_append(out, s->buf.data + pos, l);
      pos += (int64_t)l;
    }
    offset = pos;
  } else {
    /* On disk: extents are whole batches; read extent pieces batch by batch. */
    int64_t base = 0;
    for (int e = 0; e < s->next && rc == 0; e++) {
      extent x = s->ext[e];
      if (offset >= base + x.len) {
        base += x.len;
        continue;
      }
      int64_t pos = offset - base;
      while (pos < x.len) {
        char hdr[32];
        if (pread(b->fd, hdr, 32, x.off + pos) != 32) {
          rc = eng_err_set(err, ENG_EIO, "IOError: reading %s", b->path);
          break;
        }
        int64_t body;
        memcpy(&body, hdr + 16, 8);
        size_t l = 32 + (((size_t)body + 7) & ~(size_t)7);
        if (out->len != start_len && out->len - start_len + l > max) break;
        if (eng_buf_reserve(out, l) < 0) {
          rc = eng_err_set(err, ENG_ENOMEM, "MemoryError: read buffer");
          break;
        }
        if (pread(b->fd, out->data + out->len, l, x.off + pos) != (ssize_t)l) {
          rc = eng_err_set(err, ENG_EIO, "IOError: reading %s", b->path);
          break;
        }
        out->len += l;
        pos += (int64_t)l;
      }
      offset = base + pos;
      if (pos < x.len) break; /* stopped inside this extent: chunk full */
      base += x.len;
    }
  }
  pthread_mutex_unlock(&bs->lock);
  if (rc < 0) return rc;
  *out_next = offset >= total ? -1 : offset;
  return out->oom ? eng_err_set(err, ENG_ENOMEM, "MemoryError: read buffer") : 0;
}

void eng_bs_remove_prefix(eng_blockstore *bs, const char *prefix) {
  size_t n = strlen(prefix);
  pthread_mutex_lock(&bs->lock);
  for (int i = 0; i < NBUCKET; i++) {
    blk **pp = &bs->buckets[i];
    while (*pp) {
      blk *b = *pp;
      if (strncmp(b->id, prefix, n) == 0 && !b->pinned) {
        *pp = b->next;
        free_blk(bs, b);
      } else {
        pp = &b->next;
      }
    }
  }
  pthread_mutex_unlock(&bs->lock);
}

void eng_bs_stats_get(eng_blockstore *bs, eng_bs_stats *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&bs->lock);
  out->mem = bs->mem;
  out->disk = bs->disk;
  for (int i = 0; i < NBUCKET; i++)
    for (blk *b = bs->buckets[i]; b; b = b->next) {
      if (b->pinned) continue;
      if (b->kind == BLK_RDD)
        out->rdd_blocks++;
      else
        out->shuffle_blocks++;
    }
  pthread_mutex_unlock(&bs->lock);
}
