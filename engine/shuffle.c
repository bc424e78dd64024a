/* shuffle.c -- both sides of a shuffle: the map side partitions rows by key
 * (combining them first where the operation allows) into the block store;
 * the reduce side fetches its partition from every map output and merges,
 * sorts or groups it.
 *
 * Partitioning follows Spark/PySpark: hash partitioning is PySpark's
 * portable_hash(key) % n (Python modulo), so keys land where PySpark puts
 * them; range partitioning uses bounds sampled by the driver; repartition()
 * deals rows round-robin from a start that depends on the map partition.
 * Reduce sides read map outputs in map order, so a reducer sees keys in the
 * order PySpark's would.
 *
 * Invariants: the writer holds at most one open builder per reduce
 * partition and flushes builders over 256 KB into the store; under memory
 * pressure it spills the whole output to disk and continues there. The
 * reduce side never keeps more than one fetched chunk per input beyond what
 * its aggregation or sort keeps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "err.h"
#include "mem.h"
#include "plan.h"
#include "task.h"

#define BUCKET_FLUSH (256 * 1024)

/* Python's a % n for n > 0. */
static int pymod(int64_t a, int n) {
  int64_t m = a % n;
  return (int)(m < 0 ? m + n : m);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct swriter {
  eng_sink base;
  eng_shuf_out *out;
  int shuffle, map, R;
  int part_kind, asc, key_whole;
  eng_val *bounds;
  int nbounds;
  eng_arena *ba; /* bounds' memory */
  eng_tudf keyfn;
  int has_key;
  eng_agg *agg; /* map-side combine */
  eng_colb **cb;
  int64_t rr;
  int64_t rows;
  int64_t *sizes;
} swriter;

static int range_partition(swriter *w, eng_val key) {
  if (w->has_key) key = eng__tudf_call(&w->keyfn, &w->keyfn, &key);
  /* First bound >= key (binary search), as Spark's RangePartitioner. */
  int lo = 0, hi = w->nbounds;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    int c;
    eng_err e;
    if (eng_val_cmp(key, w->bounds[mid], &c, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
    if (c > 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return w->asc ? lo : w->R - 1 - lo;
}

static int partition_of(swriter *w, eng_val row) {
  if (w->R == 1) return 0;
  if (w->part_kind == ENG_PART_RR) return (int)(w->rr++ % w->R);
  eng_val key = row;
  if (!w->key_whole) {
    eng_val p = eng_deref(row);
    if (!eng_is_seq(p) || ENG_VLEN(p) != 2)
      eng__raise(ENG_ETYPE, "TypeError: a by-key operation needs (key, value) pairs, got %s",
                 eng_val_type_name(p));
    key = eng_v_items(p)[0];
  }
  switch (w->part_kind) {
    case ENG_PART_RANGE:
      return range_partition(w, key);
    case ENG_PART_CUSTOM: {
      eng_val r = eng__tudf_call(&w->keyfn, &w->keyfn, &key);
      int64_t x;
      eng_err e;
      if (eng_val_as_long(r, &x, &e) < 0)
        eng__raise(ENG_ETYPE, "TypeError: partition function must return an int, got %s",
                   eng_val_type_name(r));
      return pymod(x, w->R);
    }
    default:
      return pymod(eng_val_hash(key), w->R);
  }
}

static int flush_bucket(swriter *w, int p) {
  eng_task *t = w->base.t;
  if (eng_colb_rows(w->cb[p]) == 0) return 0;
  eng_batch *b = eng_colb_finish(w->cb[p], &t->err);
  if (!b) return t->err.code;
  int rc = eng_bs_shuffle_append(w->out, p, b->buf, b->len, &t->err);
  t->shuffle_written += (int64_t)b->len;
  eng_batch_unref(b);
  return rc;
}

static int check_memory(swriter *w) {
  eng_task *t = w->base.t;
  if (eng__task_pressure(t)) {
    for (int p = 0; p < w->R; p++) ENG_TRY(flush_bucket(w, p));
    int64_t m = eng_bs_shuffle_mem(w->out);
    ENG_TRY(eng_bs_shuffle_spill(w->out, &t->err));
    t->spilled += m;
  }
  return 0;
}

static int write_row(swriter *w, eng_val row) {
  int p = partition_of(w, row);
  if (eng_colb_append(w->cb[p], row) < 0)
    return eng_err_set(&w->base.t->err, ENG_ENOMEM, "MemoryError: shuffle");
  if (eng_colb_bytes(w->cb[p]) >= BUCKET_FLUSH) ENG_TRY(flush_bucket(w, p));
  if ((++w->rows & 8191) == 0) return check_memory(w);
  return 0;
}

/* Writes the combined rows and empties the table. */
static int flush_agg(swriter *w) {
  int64_t n = eng__agg_count(w->agg);
  for (int64_t i = 0; i < n; i++) {
    ENG_TRY(write_row(w, eng__agg_row(w->agg, i)));
    if ((i & 1023) == 1023) eng_arena_reset(w->base.t->scratch);
  }
  eng__agg_clear(w->agg);
  return 0;
}

/* After n more rows into the map-side aggregator: each time the count
 * passes a multiple of 4096, if the table has outgrown half the task's
 * memory (or the executor is short), its partial aggregates are written out
 * (the reducer merges them) and it starts again. */
static int rows_added(swriter *w, int64_t n) {
  int64_t before = w->rows;
  w->rows += n;
  if ((before >> 12) != (w->rows >> 12) &&
      (eng__agg_bytes(w->agg) > eng__task_mem_limit(w->base.t) / 2 || eng__task_pressure(w->base.t)))
    return flush_agg(w);
  return 0;
}

static int writer_row(eng_sink *k, eng_val row) {
  swriter *w = (swriter *)k;
  if (!w->agg) return write_row(w, row);
  eng_val key, v;
  eng__agg_split_row(w->agg, row, &key, &v);
  ENG_TRY(eng__agg_value(w->agg, key, v));
  return rows_added(w, 1);
}

/* (key, value) rows as their items: the aggregator takes them as they are. */
static int writer_pairs(eng_sink *k, const eng_val *keys, const eng_val *vals, int64_t n) {
  swriter *w = (swriter *)k;
  if (!w->agg || eng__agg_key_whole(w->agg)) {
    for (int64_t i = 0; i < n; i++) ENG_TRY(writer_row(k, eng_pair(k->t->scratch, keys[i], vals[i])));
    return 0;
  }
  ENG_TRY(eng__agg_values(w->agg, keys, vals, n));
  return rows_added(w, n);
}

static int writer_pair(eng_sink *k, eng_val key, eng_val v) { return writer_pairs(k, &key, &v, 1); }

static int writer_batch(eng_sink *k, eng_batch *b, const uint8_t *sel) {
  swriter *w = (swriter *)k;
  const eng_col *c = b->root;
  /* Long keys hash-partitioned without combining: no values built. */
  if (!w->agg && w->part_kind == ENG_PART_HASH && w->key_whole && c->type == ENG_T_LONG &&
      !c->valid) {
    const int64_t *d = c->data;
    for (int64_t i = 0; i < b->n; i++) {
      if (sel && !sel[i]) continue;
      int p = w->R == 1 ? 0 : pymod(eng_val_hash(eng_long(d[i])), w->R);
      if (eng_colb_append_row(w->cb[p], c, i, k->t->scratch) < 0)
        return eng_err_set(&k->t->err, ENG_ENOMEM, "MemoryError: shuffle");
      if (eng_colb_bytes(w->cb[p]) >= BUCKET_FLUSH) ENG_TRY(flush_bucket(w, p));
    }
    w->rows += b->n;
    return check_memory(w);
  }
  /* Pairs from a column of 2-tuples (a cached map's output) into the
   * aggregator: the items are taken from the two child columns, without
   * building each row's tuple first (as writer_pair does for kernels). */
  if (w->agg && !eng__agg_key_whole(w->agg) && c->type == ENG_T_TUPLE && c->nchildren == 2 && !c->valid) {
    for (int64_t i = 0; i < b->n; i++) {
      if (sel && !sel[i]) continue;
      ENG_TRY(writer_pair(k, eng_col_get(&c->child[0], i, k->t->scratch), eng_col_get(&c->child[1], i, k->t->scratch)));
    }
    return 0;
  }
  for (int64_t i = 0; i < b->n; i++) {
    if (sel && !sel[i]) continue;
    ENG_TRY(writer_row(k, eng_col_get(c, i, k->t->scratch)));
  }
  return 0;
}

static int writer_finish(eng_sink *k) {
  swriter *w = (swriter *)k;
  eng_task *t = k->t;
  if (w->agg) ENG_TRY(flush_agg(w));
  for (int p = 0; p < w->R; p++) ENG_TRY(flush_bucket(w, p));
  int rc = eng_bs_shuffle_commit(w->out, w->sizes, &t->err);
  w->out = NULL;
  if (rc < 0) return rc;
  t->map_sizes = w->sizes;
  t->map_nparts = w->R;
  w->sizes = NULL;
  return 0;
}

static void writer_close(eng_sink *k) {
  swriter *w = (swriter *)k;
  if (w->out) eng_bs_shuffle_abort(w->out);
  for (int p = 0; w->cb && p < w->R; p++) eng_colb_free(w->cb[p]);
  eng_free(w->cb);
  eng__agg_free(w->agg);
  if (w->has_key) udf_drop_caps(w->keyfn.fn, &w->keyfn);
  eng_arena_free(w->ba);
  eng_free(w->bounds);
  eng_free(w->sizes);
  eng_free(w);
}

/* Reads an encoded list of values (range bounds) from a blob. */
static int read_vals(eng_task *t, json_t *j, eng_arena *a, eng_val **out, int *n, eng_err *err) {
  *out = NULL;
  *n = 0;
  if (!j) return 0;
  const void *p;
  size_t len;
  ENG_TRY(eng__task_blob(t, json_integer_value(j), &p, &len, err));
  eng_rd r;
  eng_rd_init(&r, p, len);
  eng_val l;
  if (eng_val_read(&r, a, &l) < 0 || !eng_is_seq(l))
    return eng_err_set(err, ENG_EPROTO, "ProtocolError: bad range bounds");
  *n = (int)ENG_VLEN(l);
  *out = eng_calloc((size_t)*n + 1, sizeof **out);
  if (!*out) return eng_err_set(err, ENG_ENOMEM, "MemoryError: bounds");
  for (int i = 0; i < *n; i++) (*out)[i] = eng_val_copy(a, eng_v_items(l)[i]);
  return 0;
}

eng_sink *eng__shuffle_writer(eng_task *t, json_t *spec, eng_err *err) {
  swriter *w = eng_calloc(1, sizeof *w);
  if (!w) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: shuffle writer");
    return NULL;
  }
  w->base.row = writer_row;
  w->base.pair = writer_pair;
  w->base.pairs = writer_pairs;
  w->base.batch = writer_batch;
  w->base.finish = writer_finish;
  w->base.close = writer_close;
  w->base.t = t;
  w->shuffle = (int)json_integer_value(json_object_get(spec, "shuffle"));
  w->map = (int)json_integer_value(json_object_get(spec, "map"));
  w->R = (int)json_integer_value(json_object_get(spec, "nparts"));
  w->part_kind = (int)json_integer_value(json_object_get(spec, "part"));
  w->asc = !json_is_false(json_object_get(spec, "asc"));
  w->key_whole = json_is_true(json_object_get(spec, "key_whole"));
  /* repartition: rows dealt round robin from a start fixed per map. */
  w->rr = w->R > 0 ? (int64_t)((uint64_t)(w->map + 1) * 2654435761u % (uint64_t)w->R) : 0;
  if (w->R <= 0 || w->R > 1000000) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: bad partition count");
    writer_close(&w->base);
    return NULL;
  }
  w->cb = eng_calloc((size_t)w->R, sizeof *w->cb);
  w->sizes = eng_calloc((size_t)w->R, sizeof *w->sizes);
  w->ba = eng_arena_new(0);
  if (!w->cb || !w->sizes || !w->ba) goto oom;
  for (int p = 0; p < w->R; p++)
    if (!(w->cb[p] = eng_colb_new())) goto oom;
  json_t *kj = json_object_get(spec, "key");
  if (kj) {
    if (eng__task_udf(t, kj, &w->keyfn, err) < 0) goto fail;
    w->has_key = 1;
  }
  if (read_vals(t, json_object_get(spec, "bounds"), w->ba, &w->bounds, &w->nbounds, err) < 0)
    goto fail;
  json_t *cj = json_object_get(spec, "combine");
  if (cj && !json_is_null(cj)) {
    w->agg = eng__agg_new(t, cj, 0, err);
    if (!w->agg) goto fail;
  }
  w->out = eng_bs_shuffle_begin(eng__task_store(t), w->shuffle, w->map, w->R);
  if (!w->out) goto oom;
  return &w->base;
oom:
  eng_err_set(err, ENG_ENOMEM, "MemoryError: shuffle writer");
fail:
  writer_close(&w->base);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Reading map outputs                                                      */
/* ------------------------------------------------------------------------ */

/* The plain reduce-side stream: every map's block for this reducer, in map
 * order, as fetched batches. */
typedef struct sreader {
  eng_stream base;
  json_t *maps;
  int shuffle, reduce;
  size_t next_map;
  eng_fetch *f;
  int cur_map, cur_exec;
} sreader;

static int sreader_next(eng_stream *st, eng_batch **out) {
  sreader *s = (sreader *)st;
  eng_task *t = st->t;
  for (;;) {
    if (!s->f) {
      if (s->next_map >= json_array_size(s->maps)) return 0;
      json_t *m = json_array_get(s->maps, s->next_map++);
      int map = (int)json_integer_value(json_array_get(m, 0));
      int exec = (int)json_integer_value(json_array_get(m, 1));
      const char *ep = json_string_value(json_array_get(m, 2));
      json_int_t size = json_integer_value(json_array_get(m, 3));
      if (size == 0) continue;
      char id[96];
      snprintf(id, sizeof id, "shuffle_%d_%d_%d", s->shuffle, map, s->reduce);
      s->cur_map = map;
      s->cur_exec = exec;
      s->f = eng__fetch_open(t, ep, id, &t->err);
      if (!s->f) {
        eng__task_fetch_failed(t, s->shuffle, map, exec);
        return t->err.code;
      }
    }
    int rc = eng__fetch_next(s->f, out, &t->err);
    if (rc == 1) {
      t->shuffle_read += (int64_t)(*out)->len;
      return 1;
    }
    eng__fetch_close(s->f);
    s->f = NULL;
    if (rc < 0) {
      if (rc == ENG_EFETCH) eng__task_fetch_failed(t, s->shuffle, s->cur_map, s->cur_exec);
      return rc;
    }
  }
}

static void sreader_close(eng_stream *st) {
  sreader *s = (sreader *)st;
  if (s->f) eng__fetch_close(s->f);
  json_decref(s->maps);
  eng_free(s);
}

static eng_stream *plain_reader(eng_task *t, json_t *node, eng_err *err) {
  sreader *s = eng_calloc(1, sizeof *s);
  if (!s) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: shuffle reader");
    return NULL;
  }
  s->base.next = sreader_next;
  s->base.close = sreader_close;
  s->base.t = t;
  s->maps = json_incref(json_object_get(node, "maps"));
  s->shuffle = (int)json_integer_value(json_object_get(node, "shuffle"));
  s->reduce = (int)json_integer_value(json_object_get(node, "reduce"));
  if (!json_is_array(s->maps)) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: shuffle read without map list");
    sreader_close(&s->base);
    return NULL;
  }
  return &s->base;
}

/* Drains `in` into aggregator a (combiners or raw values). */
static int drain_into_agg(eng_task *t, eng_stream *in, eng_agg *a, int combined) {
  eng_batch *b;
  int rc;
  while ((rc = in->next(in, &b)) == 1) {
    for (int64_t i = 0; i < b->n && rc >= 0; i++) {
      eng_val row = eng_col_get(b->root, i, t->scratch), k, v;
      eng__agg_split_row(a, row, &k, &v);
      rc = combined ? eng__agg_comb(a, k, v) : eng__agg_value(a, k, v);
      if ((i & 1023) == 1023) eng_arena_reset(t->scratch);
    }
    eng_batch_unref(b);
    eng_arena_reset(t->scratch);
    if (rc < 0) return rc;
    if (eng__task_cancelled(t)) return eng_err_set(&t->err, ENG_ECANCEL, "Cancelled: job cancelled");
  }
  return rc;
}

/* ---- sorting ---------------------------------------------------------------- */

/* A row to sort: its sort key and the (k, v) pair's items, kept inline so
 * that the output, which visits rows in key order, does not chase each
 * pair's items array across memory. */
typedef struct srow {
  eng_val key, k, v;
} srow;

typedef struct rkey {
  uint64_t u; /* the key, mapped so unsigned order is the sort order */
  uint32_t i; /* the row */
} rkey;

typedef struct sorter {
  eng_stream base;
  eng_stream *in;
  int asc;
  eng_tudf keyfn;
  int has_key;
  eng_arena *a;
  srow *rows;
  int64_t n, cap;
  int all_long; /* every key so far is a long: the radix sort applies */
  uint32_t *ord; /* radix-sorted: rows[ord[i]] is the i-th; else NULL */
  int bad; /* an incomparable pair was seen */
  eng_err cmp_err;
  /* runs on disk */
  FILE **runs;
  char **run_paths;
  int nruns;
  /* output */
  int sorted;
  int64_t pos;
  eng_colb *cb;
  /* merge state */
  struct run_cur {
    eng_batch *b;
    int64_t i;
    eng_val key, row;
    int live;
  } *cur;
} sorter;

static int cmp_srow(const void *x, const void *y, void *ctx) {
  sorter *s = ctx;
  const srow *a = x, *b = y;
  int c;
  if (eng_val_cmp(a->key, b->key, &c, s->bad ? NULL : &s->cmp_err) < 0) {
    s->bad = 1;
    c = eng_val_cmp_total(a->key, b->key);
  }
  return s->asc ? c : -c;
}

/* LSD radix sort of long keys, 8 bits a pass, skipping the bytes in which
 * all keys agree (keys below 2^24 take 3 passes); stable. Leaves the order
 * in s->ord. Why: comparison sorting 1e7 rows through eng_val_cmp was most
 * of sort_by's time. */
static int radix_sort(sorter *s) {
  int64_t n = s->n;
  rkey *a = eng_malloc((size_t)n * sizeof *a), *b = eng_malloc((size_t)n * sizeof *b);
  int64_t(*cnt)[256] = eng_calloc(8, sizeof *cnt);
  if (!a || !b || !cnt) {
    eng_free(a);
    eng_free(b);
    eng_free(cnt);
    return ENG_ENOMEM;
  }
  for (int64_t i = 0; i < n; i++) {
    uint64_t u = (uint64_t)eng_v_long(s->rows[i].key) ^ ((uint64_t)1 << 63);
    if (!s->asc) u = ~u;
    a[i].u = u;
    a[i].i = (uint32_t)i;
    for (int d = 0; d < 8; d++) cnt[d][(u >> (8 * d)) & 255]++;
  }
  for (int d = 0; d < 8; d++) {
    if (cnt[d][(a[0].u >> (8 * d)) & 255] == n) continue; /* one digit: nothing moves */
    int64_t pos = 0;
    for (int k = 0; k < 256; k++) {
      int64_t c = cnt[d][k];
      cnt[d][k] = pos;
      pos += c;
    }
    for (int64_t i = 0; i < n; i++) b[cnt[d][(a[i].u >> (8 * d)) & 255]++] = a[i];
    rkey *t = a;
    a = b;
    b = t;
  }
  eng_free(b);
  eng_free(cnt);
  /* The order array reuses a's memory: ord[i] is written after a[i] is
   * read, and ord[i] (4 bytes) sits inside a[i / 4]'s 16, at or before it. */
  uint32_t *ord = (uint32_t *)a;
  for (int64_t i = 0; i < n; i++) ord[i] = a[i].i;
  uint32_t *shrunk = eng_realloc(ord, (size_t)n * sizeof *ord);
  s->ord = shrunk ? shrunk : ord;
  return 0;
}

static int sort_run(sorter *s) {
  eng_free(s->ord);
  s->ord = NULL;
  if (s->all_long && s->n > 64 && s->n < ((int64_t)1 << 32)) {
    if (radix_sort(s) == 0) return 0;
    /* no memory for the radix sort's arrays: sort in place instead */
  }
  if (s->n > 1) qsort_r(s->rows, (size_t)s->n, sizeof *s->rows, cmp_srow, s); /* rows is NULL when empty */
  if (s->bad) eng__raise(ENG_ETYPE, "%s", s->cmp_err.msg);
  return 0;
}

/* The i-th row in sorted order. */
static const srow *sorted_row(sorter *s, int64_t i) {
  if (!s->ord) return &s->rows[i];
  if (i + 16 < s->n) __builtin_prefetch(&s->rows[s->ord[i + 16]]);
  return &s->rows[s->ord[i]];
}

/* Writes the sorted rows in memory as a run file of (key, row) pairs. */
static int spill_run(sorter *s) {
  eng_task *t = s->base.t;
  ENG_TRY(sort_run(s));
  char path[4096];
  snprintf(path, sizeof path, "%s/sort-%lld-%d-%p", eng__task_dir(t), (long long)t->tid, s->nruns,
           (void *)s);
  FILE *f = fopen(path, "w+b");
  if (!f) return eng_err_set(&t->err, ENG_EIO, "IOError: cannot create %s: %s", path, strerror(errno));
  FILE **runs = eng_realloc(s->runs, (size_t)(s->nruns + 1) * sizeof *runs);
  char **paths = eng_realloc(s->run_paths, (size_t)(s->nruns + 1) * sizeof *paths);
  if (runs) s->runs = runs;
  if (paths) s->run_paths = paths;
  if (!runs || !paths) {
    fclose(f);
    unlink(path);
    return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: sort");
  }
  s->runs[s->nruns] = f;
  s->run_paths[s->nruns] = eng_strdup(path);
  s->nruns++;
  eng_colb *cb = eng_colb_new();
  if (!cb) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: sort");
  for (int64_t i = 0; i <= s->n; i++) {
    if (i < s->n) {
      const srow *r = sorted_row(s, i);
      eng_colb_append(cb, eng_pair(t->scratch, r->key, eng_pair(t->scratch, r->k, r->v)));
    }
    if ((i == s->n && eng_colb_rows(cb)) || eng_colb_bytes(cb) >= ENG_BATCH_BYTES) {
      eng_batch *b = eng_colb_finish(cb, &t->err);
      if (!b) {
        eng_colb_free(cb);
        return t->err.code;
      }
      int ok = fwrite(b->buf, 1, b->len, f) == b->len;
      t->spilled += (int64_t)b->len;
      eng_batch_unref(b);
      eng_arena_reset(t->scratch);
      if (!ok) {
        eng_colb_free(cb);
        return eng_err_set(&t->err, ENG_EIO, "IOError: writing %s", path);
      }
    }
  }
  eng_colb_free(cb);
  fflush(f);
  rewind(f);
  s->n = 0;
  s->all_long = 1;
  eng_free(s->ord);
  s->ord = NULL;
  eng_arena_reset(s->a);
  return 0;
}

static int sort_load(sorter *s) {
  eng_task *t = s->base.t;
  eng_batch *b;
  int rc;
  while ((rc = s->in->next(s->in, &b)) == 1) {
    for (int64_t i = 0; i < b->n; i++) {
      eng_val row = eng_col_get(b->root, i, t->scratch);
      eng_val p = eng_deref(row);
      if (!eng_is_seq(p) || ENG_VLEN(p) != 2) {
        eng_batch_unref(b);
        eng__raise(ENG_ETYPE, "TypeError: sort_by_key needs (key, value) pairs, got %s",
                   eng_val_type_name(p));
      }
      eng_val k = eng_v_items(p)[0], v = eng_v_items(p)[1];
      eng_val key = k;
      if (s->has_key) key = eng__tudf_call(&s->keyfn, &s->keyfn, &key);
      if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 4096;
        srow *grown = eng_realloc(s->rows, (size_t)cap * sizeof *grown);
        if (!grown) {
          eng_batch_unref(b);
          return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: sort");
        }
        s->rows = grown;
        s->cap = cap;
      }
      srow *r = &s->rows[s->n++];
      r->k = eng_val_copy(s->a, k);
      r->v = eng_val_copy(s->a, v);
      r->key = s->has_key ? eng_val_copy(s->a, key) : r->k;
      if (ENG_VKIND(key) != ENG_V_LONG) s->all_long = 0;
      if ((i & 1023) == 1023) eng_arena_reset(t->scratch);
    }
    eng_batch_unref(b);
    eng_arena_reset(t->scratch);
    if ((int64_t)eng_arena_footprint(s->a) + s->cap * (int64_t)sizeof(srow) > eng__task_mem_limit(t) ||
        eng__task_pressure(t))
      ENG_TRY(spill_run(s));
    if (eng__task_cancelled(t)) return eng_err_set(&t->err, ENG_ECANCEL, "Cancelled: job cancelled");
  }
  if (rc < 0) return rc;
  if (s->nruns > 0 && s->n > 0) ENG_TRY(spill_run(s));
  if (s->nruns == 0) ENG_TRY(sort_run(s));
  return 0;
}

/* Advances run r's cursor to its next (key, row). */
static int run_advance(sorter *s, int r) {
  eng_task *t = s->base.t;
  struct run_cur *c = &s->cur[r];
  for (;;) {
    if (c->b && c->i < c->b->n) {
      eng_val p = eng_col_get(c->b->root, c->i++, s->a);
      c->key = eng_v_items(p)[0];
      c->row = eng_v_items(p)[1];
      c->live = 1;
      return 0;
    }
    if (c->b) eng_batch_unref(c->b);
    c->b = NULL;
    char hdr[32];
    if (fread(hdr, 1, 32, s->runs[r]) != 32) {
      c->live = 0;
      return 0;
    }
    int64_t body;
    memcpy(&body, hdr + 16, 8);
    size_t len = 32 + (((size_t)body + 7) & ~(size_t)7);
    char *buf = eng_malloc(len);
    if (!buf) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: merge");
    memcpy(buf, hdr, 32);
    if (fread(buf + 32, 1, len - 32, s->runs[r]) != len - 32) {
      eng_free(buf);
      return eng_err_set(&t->err, ENG_EIO, "IOError: reading sort run");
    }
    c->b = eng_batch_parse(buf, len, eng_batch_release_free, NULL, NULL, &t->err);
    if (!c->b) return t->err.code;
    c->i = 0;
  }
}

static int sorter_next(eng_stream *st, eng_batch **out) {
  sorter *s = (sorter *)st;
  eng_task *t = st->t;
  if (!s->sorted) {
    ENG_TRY(sort_load(s));
    s->sorted = 1;
    if (s->nruns) {
      s->cur = eng_calloc((size_t)s->nruns, sizeof *s->cur);
      if (!s->cur) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: merge");
      for (int r = 0; r < s->nruns; r++) ENG_TRY(run_advance(s, r));
    }
  }
  if (!s->nruns) {
    if (s->pos >= s->n) return 0;
    for (; s->pos < s->n; s->pos++) {
      const srow *r = sorted_row(s, s->pos);
      eng_colb_append(s->cb, eng_pair(t->scratch, r->k, r->v));
      if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES) {
        s->pos++;
        break;
      }
    }
    eng_arena_reset(t->scratch); /* the pairs: the batch has copied them */
  } else {
    /* k-way merge; k is small (a run per memory-full of data). */
    for (;;) {
      int best = -1;
      for (int r = 0; r < s->nruns; r++) {
        if (!s->cur[r].live) continue;
        if (best < 0) {
          best = r;
          continue;
        }
        srow a = {s->cur[r].key, {0, 0}, {0, 0}}, b = {s->cur[best].key, {0, 0}, {0, 0}};
        if (cmp_srow(&a, &b, s) < 0) best = r;
      }
      if (best < 0) break;
      eng_colb_append(s->cb, s->cur[best].row);
      ENG_TRY(run_advance(s, best));
      if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES) break;
    }
    if (s->bad) eng__raise(ENG_ETYPE, "%s", s->cmp_err.msg);
    /* The cursors' rows were decoded into s->a: start it afresh for the
     * next batch (re-reading each cursor's current row), or the merge would
     * hold every row it ever output. */
    eng_arena_reset(s->a);
    for (int r = 0; r < s->nruns; r++) {
      struct run_cur *c = &s->cur[r];
      if (!c->live) continue;
      eng_val p = eng_col_get(c->b->root, c->i - 1, s->a);
      c->key = eng_v_items(p)[0];
      c->row = eng_v_items(p)[1];
    }
  }
  if (eng_colb_rows(s->cb) == 0) return 0;
  *out = eng_colb_finish(s->cb, &t->err);
  return *out ? 1 : t->err.code;
}

static void sorter_close(eng_stream *st) {
  sorter *s = (sorter *)st;
  if (s->in) s->in->close(s->in);
  for (int r = 0; r < s->nruns; r++) {
    fclose(s->runs[r]);
    unlink(s->run_paths[r]);
    eng_free(s->run_paths[r]);
    if (s->cur && s->cur[r].b) eng_batch_unref(s->cur[r].b);
  }
  eng_free(s->runs);
  eng_free(s->run_paths);
  eng_free(s->cur);
  if (s->has_key) udf_drop_caps(s->keyfn.fn, &s->keyfn);
  eng_free(s->rows);
  eng_free(s->ord);
  eng_arena_free(s->a);
  eng_colb_free(s->cb);
  eng_free(s);
}

static eng_stream *sort_reader(eng_task *t, eng_stream *in, json_t *spec, eng_err *err) {
  sorter *s = eng_calloc(1, sizeof *s);
  if (!s || !(s->a = eng_arena_new(1 << 20)) || !(s->cb = eng_colb_new())) {
    if (s) {
      eng_arena_free(s->a);
      eng_free(s);
    }
    in->close(in);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: sort");
    return NULL;
  }
  s->base.next = sorter_next;
  s->base.close = sorter_close;
  s->base.t = t;
  s->in = in;
  s->all_long = 1;
  s->asc = !json_is_false(json_object_get(spec, "asc"));
  json_t *kj = json_object_get(spec, "key");
  if (kj) {
    if (eng__task_udf(t, kj, &s->keyfn, err) < 0) {
      sorter_close(&s->base);
      return NULL;
    }
    s->has_key = 1;
  }
  return &s->base;
}

/* ---- the reduce-side entry ---------------------------------------------------- */

eng_stream *eng__shuffle_reader(eng_task *t, json_t *node, eng_err *err) {
  eng_stream *in = plain_reader(t, node, err);
  if (!in) return NULL;
  json_t *aj = json_object_get(node, "agg");
  if (aj && !json_is_null(aj)) {
    eng_agg *a = eng__agg_new(t, aj, 1, err);
    if (!a) {
      in->close(in);
      return NULL;
    }
    int rc = drain_into_agg(t, in, a, json_is_true(json_object_get(node, "combined")));
    in->close(in);
    if (rc < 0) {
      eng_err_copy(err, &t->err);
      eng__agg_free(a);
      return NULL;
    }
    in = eng__agg_stream(a);
    if (!in) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: aggregation");
      return NULL;
    }
  }
  json_t *sj = json_object_get(node, "sort");
  if (sj && !json_is_null(sj)) in = sort_reader(t, in, sj, err);
  return in;
}

/* ------------------------------------------------------------------------ */
/* Cogroup                                                                  */
/* ------------------------------------------------------------------------ */

/* Groups rows of two inputs by key: (key, ([left values], [right values])).
 * Inputs are whole rows (intersection, subtract) or (key, value) pairs. The
 * groups are those of a GROUP aggregator over (side, value) pairs, so a
 * cogroup larger than memory spills as group_by_key does; the output splits
 * each group back into its two sides. Without spilling, keys come out in
 * the order they were first seen, the left input's first. */
typedef struct cogroup {
  eng_stream base;
  eng_agg *a;           /* while adding */
  eng_stream *groups;   /* then the aggregator's output */
  eng_colb *cb;
} cogroup;

static int cogroup_next(eng_stream *st, eng_batch **out) {
  cogroup *c = (cogroup *)st;
  eng_task *t = st->t;
  eng_batch *b;
  int rc = c->groups->next(c->groups, &b);
  if (rc <= 0) return rc;
  eng_vlist sides[2];
  for (int64_t i = 0; i < b->n && rc >= 0; i++) {
    eng_val row = eng_col_get(b->root, i, t->scratch);
    eng_val k = eng_v_items(row)[0], l = eng_v_items(row)[1];
    eng_vlist_init(&sides[0], t->scratch);
    eng_vlist_init(&sides[1], t->scratch);
    for (long j = 0; j < ENG_VLEN(l) && rc >= 0; j++) {
      const eng_val *sv = eng_v_items(eng_v_items(l)[j]);
      rc = eng_vlist_push(&sides[eng_v_long(sv[0]) ? 1 : 0], sv[1]);
    }
    eng_val g[2] = {eng_vlist_finish(&sides[0], ENG_V_LIST), eng_vlist_finish(&sides[1], ENG_V_LIST)};
    if (rc >= 0) rc = eng_colb_append(c->cb, eng_pair(t->scratch, k, eng_tuple(t->scratch, g, 2)));
    if ((i & 1023) == 1023) eng_arena_reset(t->scratch);
  }
  eng_batch_unref(b);
  eng_arena_reset(t->scratch);
  if (rc < 0) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: cogroup");
  *out = eng_colb_finish(c->cb, &t->err);
  return *out ? 1 : t->err.code;
}

static void cogroup_close(eng_stream *st) {
  cogroup *c = (cogroup *)st;
  eng__agg_free(c->a);
  if (c->groups) c->groups->close(c->groups);
  eng_colb_free(c->cb);
  eng_free(c);
}

static int cogroup_add(eng_task *t, cogroup *c, eng_stream *in, int side, int whole) {
  eng_batch *b;
  int rc;
  while ((rc = in->next(in, &b)) == 1) {
    for (int64_t i = 0; i < b->n && rc >= 0; i++) {
      eng_val row = eng_col_get(b->root, i, t->scratch), k = row, v = row;
      if (!whole) {
        eng_val p = eng_deref(row);
        if (!eng_is_seq(p) || ENG_VLEN(p) != 2) {
          eng_batch_unref(b);
          eng__raise(ENG_ETYPE, "TypeError: joins need (key, value) pairs, got %s",
                     eng_val_type_name(p));
        }
        k = eng_v_items(p)[0];
        v = eng_v_items(p)[1];
      }
      rc = eng__agg_value(c->a, k, eng_pair(t->scratch, eng_long(side), v));
      if ((i & 1023) == 1023) eng_arena_reset(t->scratch);
    }
    eng_batch_unref(b);
    eng_arena_reset(t->scratch);
    if (rc < 0) return rc;
    if (eng__task_cancelled(t)) return eng_err_set(&t->err, ENG_ECANCEL, "Cancelled: job cancelled");
  }
  return rc;
}

eng_stream *eng__cogroup_reader(eng_task *t, json_t *node, eng_err *err) {
  cogroup *c = eng_calloc(1, sizeof *c);
  json_t *spec = json_pack("{s:i, s:b}", "agg", ENG_AGG_GROUP, "key_whole", 0);
  if (c && spec) c->a = eng__agg_new(t, spec, 1, err);
  json_decref(spec);
  if (!c || !c->a || !(c->cb = eng_colb_new())) {
    if (c) cogroup_close(&c->base);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: cogroup");
    return NULL;
  }
  c->base.next = cogroup_next;
  c->base.close = cogroup_close;
  c->base.t = t;
  json_t *ins = json_object_get(node, "inputs");
  json_t *whole = json_object_get(node, "whole");
  if (json_array_size(ins) != 2) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: cogroup needs two inputs");
    cogroup_close(&c->base);
    return NULL;
  }
  for (int side = 0; side < 2; side++) {
    json_t *in = json_array_get(ins, (size_t)side);
    eng_stream *s = json_object_get(in, "maps") ? plain_reader(t, in, err) : eng__build_stream(t, in, err);
    if (!s) {
      cogroup_close(&c->base);
      return NULL;
    }
    int rc = cogroup_add(t, c, s, side, json_is_true(json_array_get(whole, (size_t)side)));
    s->close(s);
    if (rc < 0) {
      eng_err_copy(err, &t->err);
      cogroup_close(&c->base);
      return NULL;
    }
  }
  c->groups = eng__agg_stream(c->a); /* takes the aggregator */
  c->a = NULL;
  if (!c->groups) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: cogroup");
    cogroup_close(&c->base);
    return NULL;
  }
  return &c->base;
}
