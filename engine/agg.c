/* agg.c -- Spark's Aggregator: createCombiner, mergeValue, mergeCombiners,
 * over an insertion-ordered table, with Grace-hash spilling.
 *
 * Invariants: an entry's combiner lives in the table's arena (copied there
 * when a UDF returns memory of its own), except for GROUP, whose growing
 * list is a vlist in the same arena. After the first spill, rows never go
 * to the in-memory table again, so each key's rows end up in exactly one
 * spill file.
 */
#include "agg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fastagg.h"
#include "mem.h"
#include "plan.h"

#define NSPILL 16
#define MAX_DEPTH 4

struct eng_agg {
  eng_task *t;
  json_t *spec;
  int kind;
  eng_tudf f[3];
  int nf;
  eng_val zero;
  eng_arena *za; /* zero's memory */
  int key_whole;
  eng_htab *h;
  /* While every key is a long (or every key a string) and every combiner a
   * long or double combined by a typed C function, entries live in fa, a
   * table that costs one memory miss per row instead of three. The first
   * row that does not fit moves them all to h, for good. */
  eng_fastagg *fa;
  int can_spill, depth;
  int64_t ops;
  /* spilling */
  int spilled;
  FILE *files[NSPILL];
  char *paths[NSPILL];
  eng_colb *cbs[NSPILL];
};

static eng_task *T(eng_agg *a) { return a->t; }

eng_agg *eng__agg_new(eng_task *t, json_t *spec, int can_spill, eng_err *err) {
  eng_agg *a = eng_calloc(1, sizeof *a);
  if (!a || !(a->h = eng_htab_new()) || !(a->za = eng_arena_new(4096))) {
    eng__agg_free(a);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: aggregation");
    return NULL;
  }
  a->t = t;
  a->spec = json_incref(spec);
  a->kind = (int)json_integer_value(json_object_get(spec, "agg"));
  a->key_whole = json_is_true(json_object_get(spec, "key_whole"));
  a->can_spill = can_spill;
  json_t *fs = json_object_get(spec, "f");
  a->nf = (int)json_array_size(fs);
  if (a->nf > 3) a->nf = 3;
  for (int i = 0; i < a->nf; i++)
    if (eng__task_udf(t, json_array_get(fs, (size_t)i), &a->f[i], err) < 0) {
      eng__agg_free(a);
      return NULL;
    }
  json_t *z = json_object_get(spec, "zero");
  if (z) {
    const void *p;
    size_t n;
    if (eng__task_blob(t, json_integer_value(z), &p, &n, err) < 0) {
      eng__agg_free(a);
      return NULL;
    }
    eng_rd r;
    eng_rd_init(&r, p, n);
    eng_val v;
    if (eng_val_read(&r, a->za, &v) < 0) {
      eng_err_set(err, ENG_EPROTO, "ProtocolError: bad zero value");
      eng__agg_free(a);
      return NULL;
    }
    a->zero = eng_val_copy(a->za, v);
  }
  int need = a->kind == ENG_AGG_REDUCE || a->kind == ENG_AGG_FOLD ? 1
             : a->kind == ENG_AGG_AGGREGATE                       ? 2
             : a->kind == ENG_AGG_COMBINE                         ? 3
                                                                  : 0;
  if (a->nf < need) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: aggregation needs %d functions", need);
    eng__agg_free(a);
    return NULL;
  }
  /* FOLD starts keys from the zero: the typed table takes one of a kind it
   * can combine (the values must then be of the same kind, or leave it). */
  const udf_fn *f0 = a->nf ? a->f[0].fn : NULL;
  int zk = ENG_VKIND(a->zero);
  if ((a->kind == ENG_AGG_REDUCE || (a->kind == ENG_AGG_FOLD && (zk == ENG_V_LONG || zk == ENG_V_DOUBLE))) &&
      (f0->f2_ll || f0->f2_dd)) {
    eng_fa_ll fl = f0->f2_ll;
    eng_fa_dd fd = f0->f2_dd;
    if (a->kind == ENG_AGG_FOLD) {
      if (zk == ENG_V_LONG) fd = NULL;
      else fl = NULL;
    }
    if ((fl || fd) && !(a->fa = eng__fa_new(fl, fd, a->kind == ENG_AGG_FOLD ? &a->zero : NULL))) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: aggregation");
      eng__agg_free(a);
      return NULL;
    }
  }
  return a;
}

static void close_spills(eng_agg *a) {
  for (int i = 0; i < NSPILL; i++) {
    if (a->files[i]) fclose(a->files[i]);
    a->files[i] = NULL;
    if (a->paths[i]) unlink(a->paths[i]);
    eng_free(a->paths[i]);
    a->paths[i] = NULL;
    eng_colb_free(a->cbs[i]);
    a->cbs[i] = NULL;
  }
}

void eng__agg_free(eng_agg *a) {
  if (!a) return;
  for (int i = 0; i < a->nf; i++) udf_drop_caps(a->f[i].fn, &a->f[i]);
  close_spills(a);
  eng__fa_free(a->fa);
  eng_htab_free(a->h);
  eng_arena_free(a->za);
  json_decref(a->spec);
  eng_free(a);
}

static eng_val call2(eng_agg *a, int i, eng_val x, eng_val y) {
  eng_tudf *f = &a->f[i];
  if (f->fn->f2_ll && ENG_VKIND(x) == ENG_V_LONG && ENG_VKIND(y) == ENG_V_LONG)
    return eng_long(f->fn->f2_ll(eng_v_long(x), eng_v_long(y)));
  if (f->fn->f2_dd && ENG_VKIND(x) == ENG_V_DOUBLE && ENG_VKIND(y) == ENG_V_DOUBLE)
    return eng_double(f->fn->f2_dd(eng_v_double(x), eng_v_double(y)));
  eng_val args[2] = {x, y};
  return eng__tudf_call(f, f, args);
}

/* A value that must outlive the current batch, in the table's arena. */
static eng_val keep(eng_agg *a, eng_val v) {
  int k = ENG_VKIND(v);
  if (k == ENG_V_STR || k == ENG_V_TUPLE || k == ENG_V_LIST || k == ENG_V_RECORD)
    return eng_val_copy(eng_htab_arena(a->h), v);
  return v;
}

/* createCombiner(v). */
static eng_val create(eng_agg *a, eng_val v) {
  switch (a->kind) {
    case ENG_AGG_REDUCE: return v;
    case ENG_AGG_FOLD:
    case ENG_AGG_AGGREGATE: return call2(a, 0, a->zero, v);
    case ENG_AGG_COMBINE: return eng__tudf_call(&a->f[0], &a->f[0], &v);
    default: return v;
  }
}

int eng__agg_key_whole(eng_agg *a) { return a->key_whole; }

int eng__agg_split_row(eng_agg *a, eng_val row, eng_val *key, eng_val *v) {
  if (a->key_whole) {
    *key = row;
    *v = eng_none();
    return 0;
  }
  eng_val p = eng_deref(row);
  if (!eng_is_seq(p) || ENG_VLEN(p) != 2)
    eng__raise(ENG_ETYPE, "TypeError: a by-key operation needs (key, value) pairs, got %s",
               eng_val_type_name(p));
  *key = eng_v_items(p)[0];
  *v = eng_v_items(p)[1];
  return 0;
}

/* ---- spilling ------------------------------------------------------------- */

static int spill_row(eng_agg *a, uint64_t hash, eng_val key, eng_val comb) {
  eng_task *t = T(a);
  int i = (int)((hash >> (40 + 4 * a->depth)) % NSPILL);
  if (!a->files[i]) {
    char path[4096];
    snprintf(path, sizeof path, "%s/agg-%lld-%d-%d-%p", eng__task_dir(t), (long long)t->tid,
             a->depth, i, (void *)a);
    a->files[i] = fopen(path, "w+b");
    if (!a->files[i])
      return eng_err_set(&t->err, ENG_EIO, "IOError: cannot create spill file %s: %s", path,
                         strerror(errno));
    a->paths[i] = eng_strdup(path);
    a->cbs[i] = eng_colb_new();
    if (!a->cbs[i]) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: spill");
  }
  eng_val row = eng_pair(t->scratch, key, comb);
  if (eng_colb_append(a->cbs[i], row) < 0) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: spill");
  if (eng_colb_bytes(a->cbs[i]) >= (1 << 20)) {
    eng_batch *b = eng_colb_finish(a->cbs[i], &t->err);
    if (!b) return t->err.code;
    size_t w = fwrite(b->buf, 1, b->len, a->files[i]);
    t->spilled += (int64_t)b->len;
    int ok = w == b->len;
    eng_batch_unref(b);
    if (!ok) return eng_err_set(&t->err, ENG_EIO, "IOError: writing spill file: %s", strerror(errno));
  }
  return 0;
}

static eng_val entry_comb(eng_agg *a, eng_hent *e) {
  if (a->kind == ENG_AGG_GROUP) return eng_vlist_finish(e->lists, ENG_V_LIST);
  return e->val;
}

/* Moves every entry to the spill files; from now on all rows go there. */
static int start_spill(eng_agg *a) {
  if (a->fa) {
    eng__fa_flush(a->fa);
    for (int64_t i = 0; i < eng__fa_count(a->fa); i++) {
      eng_val k = eng__fa_key(a->fa, i);
      ENG_TRY(spill_row(a, eng_htab_mix(eng_val_hash(k)), k, eng__fa_value(a->fa, i)));
    }
    eng__fa_free(a->fa);
    a->fa = NULL;
  }
  int64_t n = eng_htab_count(a->h);
  for (int64_t i = 0; i < n; i++) {
    eng_hent *e = eng_htab_at(a->h, i);
    ENG_TRY(spill_row(a, e->hash, e->key, entry_comb(a, e)));
  }
  eng_htab_clear(a->h);
  a->spilled = 1;
  return 0;
}

static int maybe_spill(eng_agg *a) {
  if (!a->can_spill || a->depth >= MAX_DEPTH || (++a->ops & 4095)) return 0;
  if (eng__agg_bytes(a) > eng__task_mem_limit(T(a)) || eng__task_pressure(T(a)))
    return start_spill(a);
  return 0;
}

/* ---- adding ---------------------------------------------------------------- */

/* The hash the table uses for this key, mixed the same way for spills. */
static uint64_t key_hash(eng_val k) { return (uint64_t)eng_val_hash(k); }

/* Moves the typed table's entries to the generic one, in insertion order. */
static int leave_fast(eng_agg *a) {
  eng_fastagg *fa = a->fa;
  a->fa = NULL;
  eng__fa_flush(fa);
  for (int64_t i = 0; i < eng__fa_count(fa); i++) {
    eng_val k = eng__fa_key(fa, i);
    int is_new;
    eng_hent *e = eng_htab_find_or_add(a->h, k, key_hash(k), &is_new);
    if (!e) {
      eng__fa_free(fa);
      return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
    }
    e->val = eng__fa_value(fa, i);
  }
  eng__fa_free(fa);
  return 0;
}

/* Hands a row to the typed table: 1 taken, 0 it does not fit (and the
 * table has moved to the generic one), or an error. */
static int fast_add(eng_agg *a, eng_val key, eng_val x, int raw) {
  int rc = eng__fa_push(a->fa, key, x, raw);
  if (rc < 0) return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
  return rc == 0 ? leave_fast(a) : 1;
}

int eng__agg_value(eng_agg *a, eng_val key, eng_val v) {
  if (a->fa) {
    int rc = fast_add(a, key, v, 1);
    if (rc > 0) return maybe_spill(a);
    if (rc < 0) return rc;
  }
  uint64_t h = key_hash(key);
  if (a->spilled) {
    eng_val c;
    if (a->kind == ENG_AGG_GROUP) {
      c = eng_list(T(a)->scratch, &v, 1);
    } else {
      c = create(a, v);
    }
    return spill_row(a, eng_htab_mix(h), key, c);
  }
  int is_new;
  eng_hent *e = eng_htab_find_or_add(a->h, key, h, &is_new);
  if (!e) return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
  switch (a->kind) {
    case ENG_AGG_DISTINCT:
      break;
    case ENG_AGG_GROUP:
      if (is_new) {
        e->lists = eng_arena_alloc(eng_htab_arena(a->h), sizeof *e->lists);
        if (!e->lists) return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
        eng_vlist_init(e->lists, eng_htab_arena(a->h));
      }
      if (eng_vlist_push(e->lists, keep(a, v)) < 0)
        return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
      break;
    case ENG_AGG_REDUCE:
    case ENG_AGG_FOLD:
    case ENG_AGG_AGGREGATE: {
      /* Find the entry again after the UDF call: nothing inserts meanwhile,
       * but keep the pointer use short anyway. */
      eng_val c = is_new ? create(a, v) : call2(a, 0, e->val, v);
      e->val = keep(a, c);
      break;
    }
    case ENG_AGG_COMBINE: {
      eng_val c;
      if (is_new) {
        c = create(a, v);
      } else {
        eng_val args[2] = {e->val, v};
        c = eng__tudf_call(&a->f[1], &a->f[1], args);
      }
      e->val = keep(a, c);
      break;
    }
  }
  return maybe_spill(a);
}

int eng__agg_values(eng_agg *a, const eng_val *keys, const eng_val *vals, int64_t n) {
  int64_t i = 0;
  /* A row the typed table does not take (or an allocation failure) goes
   * to eng__agg_value, which pushes it again and handles the outcome. */
  while (i < n && a->fa && eng__fa_push(a->fa, keys[i], vals[i], 1) > 0) {
    i++;
    ENG_TRY(maybe_spill(a));
  }
  for (; i < n; i++) ENG_TRY(eng__agg_value(a, keys[i], vals[i]));
  return 0;
}

int eng__agg_comb(eng_agg *a, eng_val key, eng_val c) {
  if (a->fa) {
    int rc = fast_add(a, key, c, 0);
    if (rc > 0) return maybe_spill(a);
    if (rc < 0) return rc;
  }
  uint64_t h = key_hash(key);
  if (a->spilled) return spill_row(a, eng_htab_mix(h), key, c);
  int is_new;
  eng_hent *e = eng_htab_find_or_add(a->h, key, h, &is_new);
  if (!e) return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
  switch (a->kind) {
    case ENG_AGG_DISTINCT:
      break;
    case ENG_AGG_GROUP: {
      if (is_new) {
        e->lists = eng_arena_alloc(eng_htab_arena(a->h), sizeof *e->lists);
        if (!e->lists) return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
        eng_vlist_init(e->lists, eng_htab_arena(a->h));
      }
      eng_val l = eng_deref(c);
      const eng_val *it = eng_v_items(l);
      for (long i = 0; eng_is_seq(l) && i < ENG_VLEN(l); i++)
        if (eng_vlist_push(e->lists, keep(a, it[i])) < 0)
          return eng_err_set(&T(a)->err, ENG_ENOMEM, "MemoryError: aggregation");
      break;
    }
    default: {
      if (is_new) {
        e->val = keep(a, c);
      } else {
        int fi = a->kind == ENG_AGG_AGGREGATE ? 1 : a->kind == ENG_AGG_COMBINE ? 2 : 0;
        e->val = keep(a, call2(a, fi, e->val, c));
      }
      break;
    }
  }
  return maybe_spill(a);
}

int64_t eng__agg_count(eng_agg *a) {
  if (!a->fa) return eng_htab_count(a->h);
  eng__fa_flush(a->fa);
  return eng__fa_count(a->fa);
}
int64_t eng__agg_bytes(eng_agg *a) { return a->fa ? eng__fa_bytes(a->fa) : eng_htab_bytes(a->h); }

eng_val eng__agg_row(eng_agg *a, int64_t i) {
  if (a->fa) /* flushed by eng__agg_count */
    return eng_pair(T(a)->scratch, eng__fa_key(a->fa, i), eng__fa_value(a->fa, i));
  eng_hent *e = eng_htab_at(a->h, i);
  if (a->key_whole) return e->key;
  eng_val c = a->kind == ENG_AGG_GROUP ? eng_seqv(ENG_V_LIST, e->lists->items, e->lists->n) : e->val;
  return eng_pair(T(a)->scratch, e->key, c);
}

void eng__agg_clear(eng_agg *a) {
  if (a->fa) eng__fa_clear(a->fa);
  eng_htab_clear(a->h);
}

/* ---- output stream -------------------------------------------------------------- */

typedef struct agg_stream {
  eng_stream base;
  eng_agg *a;     /* the table being output */
  int64_t i;
  eng_colb *cb;
  int next_file;  /* spilled: the next spill file to aggregate */
  eng_agg *sub;   /* the aggregator of the current spill file */
  eng_stream *sub_out;
} agg_stream;

/* Aggregates spill file i of a into a fresh aggregator one level deeper. */
static int load_spill(agg_stream *s, int i, eng_agg **out) {
  eng_agg *a = s->a;
  eng_task *t = T(a);
  if (a->cbs[i] && eng_colb_rows(a->cbs[i]) > 0) {
    eng_batch *b = eng_colb_finish(a->cbs[i], &t->err);
    if (!b) return t->err.code;
    size_t w = fwrite(b->buf, 1, b->len, a->files[i]);
    int ok = w == b->len;
    eng_batch_unref(b);
    if (!ok) return eng_err_set(&t->err, ENG_EIO, "IOError: writing spill file");
  }
  fflush(a->files[i]);
  eng_agg *sub = eng__agg_new(t, a->spec, 1, &t->err);
  if (!sub) return t->err.code;
  sub->depth = a->depth + 1;
  rewind(a->files[i]);
  char hdr[32];
  while (fread(hdr, 1, 32, a->files[i]) == 32) {
    int64_t body;
    memcpy(&body, hdr + 16, 8);
    size_t len = 32 + (((size_t)body + 7) & ~(size_t)7);
    char *buf = eng_malloc(len);
    if (!buf) {
      eng__agg_free(sub);
      return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: spill read");
    }
    memcpy(buf, hdr, 32);
    if (fread(buf + 32, 1, len - 32, a->files[i]) != len - 32) {
      eng_free(buf);
      eng__agg_free(sub);
      return eng_err_set(&t->err, ENG_EIO, "IOError: reading spill file");
    }
    eng_batch *b = eng_batch_parse(buf, len, eng_batch_release_free, NULL, NULL, &t->err);
    if (!b) {
      eng__agg_free(sub);
      return t->err.code;
    }
    for (int64_t r = 0; r < b->n; r++) {
      eng_val row = eng_col_get(b->root, r, t->scratch), k, c;
      eng_val p = eng_deref(row);
      k = eng_v_items(p)[0];
      c = eng_v_items(p)[1];
      int rc = eng__agg_comb(sub, k, c);
      if (rc < 0) {
        eng_batch_unref(b);
        eng__agg_free(sub);
        return rc;
      }
      if ((r & 1023) == 1023) eng_arena_reset(t->scratch);
    }
    eng_batch_unref(b);
    eng_arena_reset(t->scratch);
  }
  fclose(a->files[i]);
  a->files[i] = NULL;
  unlink(a->paths[i]);
  *out = sub;
  return 0;
}

static int agg_next(eng_stream *st, eng_batch **out) {
  agg_stream *s = (agg_stream *)st;
  eng_task *t = st->t;
  eng_agg *a = s->a;
  if (a->spilled) {
    for (;;) {
      if (s->sub_out) {
        int rc = s->sub_out->next(s->sub_out, out);
        if (rc != 0) return rc;
        s->sub_out->close(s->sub_out);
        s->sub_out = NULL;
      }
      while (s->next_file < NSPILL && !a->files[s->next_file]) s->next_file++;
      if (s->next_file >= NSPILL) return 0;
      eng_agg *sub = NULL;
      ENG_TRY(load_spill(s, s->next_file++, &sub));
      s->sub_out = eng__agg_stream(sub);
      if (!s->sub_out) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: aggregation");
    }
  }
  int64_t n = eng__agg_count(a);
  if (s->i >= n) return 0;
  for (; s->i < n; s->i++) {
    if (eng_colb_append(s->cb, eng__agg_row(a, s->i)) < 0)
      return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: aggregation output");
    if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES) {
      s->i++;
      break;
    }
  }
  eng_arena_reset(t->scratch);
  *out = eng_colb_finish(s->cb, &t->err);
  return *out ? 1 : t->err.code;
}

static void agg_stream_close(eng_stream *st) {
  agg_stream *s = (agg_stream *)st;
  if (s->sub_out) s->sub_out->close(s->sub_out);
  eng__agg_free(s->a);
  eng_colb_free(s->cb);
  eng_free(s);
}

eng_stream *eng__agg_stream(eng_agg *a) {
  agg_stream *s = eng_calloc(1, sizeof *s);
  if (!s || !(s->cb = eng_colb_new())) {
    eng_free(s);
    eng__agg_free(a);
    return NULL;
  }
  s->base.next = agg_next;
  s->base.close = agg_stream_close;
  s->base.t = a->t;
  s->a = a;
  return &s->base;
}
