/* pipe.c -- chains of narrow operations, and the simple sources.
 *
 * A chain pulls batches from its input stream and pushes them through its
 * steps. Each step either handles a whole batch (typed kernels, column
 * extraction, storing) or, row by row, turns values into values for the next
 * step; the last step hands them to the chain's sink. No batch is built
 * between steps, so map(flat_map(text_file)) costs one pass.
 *
 * Invariants: values pushed between steps live in the task's scratch arena,
 * which the chain resets only between input batches; steps that keep rows
 * longer (map_partitions, glom, store) copy them. A step never computes a
 * UDF on a row its predecessors filtered out, so a filter guarding a
 * division keeps guarding it in batch mode too.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../udf/udf_guard.h"
#include "../udf/udf_tier.h"
#include "dataset.h"
#include "err.h"
#include "mem.h"
#include "plan.h"
#include "task.h"
#include "textio.h"

/* ------------------------------------------------------------------------ */
/* Steps                                                                    */
/* ------------------------------------------------------------------------ */

enum {
  S_MAP, S_FLAT_MAP, S_FILTER, S_KEYS, S_VALUES, S_MAP_VALUES, S_FLAT_MAP_VALUES, S_KEY_BY,
  S_SAMPLE, S_ZIP, S_MAP_PARTS, S_MAP_PARTS_IDX, S_GLOM, S_JOIN_ROWS, S_STORE,
};

typedef struct step {
  int kind;
  eng_tudf f;
  /* whole-partition steps: the rows so far, copied into keep */
  eng_arena *keep;
  eng_vlist rows;
  /* zip_with_index */
  int64_t index;
  /* sample */
  uint64_t rng;
  double frac;
  int repl;
  int pairs_ok; /* map: the next is a sink with a pairs entry */
  int join_kind;
  int part;
  /* store */
  int ds, level;
  char *ckpt;
  eng_colb *cb;
  eng_rdd_out *ro;  /* cache: the block being written, batch by batch */
  FILE *ckf;        /* checkpoint: the file being written (ckpt_tmp) */
  char *ckpt_tmp;
  int64_t ckpt_bytes;
  /* flat_map with emit(): values emitted by the current call */
  eng_vlist emitted;
} step;

struct eng_chain {
  eng_stream base; /* when used as a stream */
  eng_task *t;
  eng_stream *in;
  step *steps;
  int n, cap;
  eng_sink *sink;
  eng_batch *cur; /* input batch being pushed */
  int stopped;
  /* stream mode: output collected into batches */
  eng_sink collector;
  eng_colb *ocb;
  eng_batch **ready;
  int nready, capready, rhead;
  int in_done, finished;
};

static int push_row(eng_chain *c, int i, eng_val v);
static int push_batch(eng_chain *c, int i, eng_batch *b, const uint8_t *sel);

static eng_task *T(eng_chain *c) { return c->t; }

/* Calls step s's UDF with v as its argument(s): a two-parameter UDF over a
 * pair gets key and value. */
static eng_val call1(eng_chain *c, step *s, eng_val v) {
  if (s->f.fn->def->nparams == 2) {
    eng_val p = eng_deref(v);
    if (!eng_is_seq(p) || ENG_VLEN(p) != 2)
      eng__raise(ENG_ETYPE,
                 "TypeError: %s takes (key, value) but the element is %s, not a pair",
                 s->f.who, eng_val_type_name(p));
    return eng__tudf_call(&s->f, s, eng_v_items(p));
  }
  (void)c;
  return eng__tudf_call(&s->f, s, &v);
}

static void emit_into(void *ctx, eng_val v) {
  step *s = ctx;
  if (eng_vlist_push(&s->emitted, v) < 0) eng__raise(ENG_ENOMEM, "MemoryError: emit()");
}

/* Is step i a map whose UDF writes (key, value) items straight to a sink
 * that takes pairs (its last step before a by-key shuffle)? */
static int kv_to_sink(const eng_chain *c, int i) {
  return i + 1 == c->n && c->steps[i].kind == S_MAP && c->steps[i].f.fn->call_kv && c->sink->pairs;
}

/* Rows through such a map, a chunk at a time: the map's calls are made in
 * one stretch of user code, then the sink takes the chunk's pairs (for a
 * flat_map's results, this saved a dispatch and two guard switches per
 * row of word count). */
static int kv_items_to_sink(eng_chain *c, step *s, const eng_val *in, long n) {
  enum { CHUNK = 64 };
  eng_val kv[2 * CHUNK], k[CHUNK], v[CHUNK];
  for (long done = 0; done < n;) {
    long m = n - done < CHUNK ? n - done : CHUNK;
    udf_set_caps(s->f.fn, s, s->f.caps);
    udf_enter(s->f.who);
    for (long j = 0; j < m; j++) s->f.fn->call_kv(&in[done + j], &kv[2 * j]);
    udf_leave();
    /* Taken apart only now: read right after the call, each item (two
     * 8-byte stores in the kernel) was one 16-byte load the CPU could not
     * forward from them, a stall that was most of this function's time. */
    for (long j = 0; j < m; j++) {
      k[j] = kv[2 * j];
      v[j] = kv[2 * j + 1];
    }
    int rc = c->sink->pairs(c->sink, k, v, m);
    if (rc != 0) return rc;
    done += m;
  }
  return 0;
}

/* Runs a UDF whose results are many values: a returned list/tuple, or
 * whatever it emit()ted when it returns void. Calls push for each. */
static int for_each_result(eng_chain *c, int i, step *s, eng_val r, int pair_key,
                           eng_val key) {
  eng_task *t = T(c);
  if (s->f.fn->def->ret == UDF_VOID) {
    eng_val list = eng_vlist_finish(&s->emitted, ENG_V_LIST);
    eng_vlist_init(&s->emitted, t->scratch);
    r = list;
  }
  r = eng_deref(r);
  if (!eng_is_seq(r)) {
    if (ENG_VKIND(r) == ENG_V_NONE && s->f.fn->def->ret == UDF_VOID) return 0;
    eng__raise(ENG_ETYPE, "TypeError: %s must return a list (or emit() values), got %s",
               s->f.who, eng_val_type_name(r));
  }
  const eng_val *it = eng_v_items(r);
  long n = ENG_VLEN(r);
  if (!pair_key && kv_to_sink(c, i + 1)) return kv_items_to_sink(c, &c->steps[i + 1], it, n);
  for (long j = 0; j < n; j++) {
    eng_val out = pair_key ? eng_pair(t->scratch, key, it[j]) : it[j];
    int rc = push_row(c, i + 1, out);
    if (rc != 0) return rc;
  }
  return 0;
}

static eng_val pair_item(step *s, eng_val v, int idx) {
  eng_val p = eng_deref(v);
  if (!eng_is_seq(p) || ENG_VLEN(p) < 2)
    eng__raise(ENG_ETYPE, "TypeError: %s needs (key, value) pairs, got %s",
               s->kind == S_KEYS ? "keys()" : s->kind == S_VALUES ? "values()" : "this operation",
               eng_val_type_name(p));
  return eng_v_items(p)[idx];
}

/* splitmix64: the sampler's random numbers. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* Poisson(mean) by inversion; sampling with replacement picks each row
 * that many times, as Spark's PoissonSampler does. */
static int poisson(uint64_t *s, double mean) {
  double l = exp(-mean), p = 1.0;
  int k = 0;
  do {
    k++;
    p *= rng_unit(s);
  } while (p > l);
  return k - 1;
}

static int store_row(eng_chain *c, step *s, eng_val v);

/* Rows of a cogroup (key, (left values, right values)) become join rows. */
static int join_rows(eng_chain *c, int i, step *s, eng_val v) {
  eng_task *t = T(c);
  eng_val p = eng_deref(v);
  if (!eng_is_seq(p) || ENG_VLEN(p) != 2) return 0;
  eng_val k = eng_v_items(p)[0], g = eng_v_items(p)[1];
  if (!eng_is_seq(g) || ENG_VLEN(g) != 2) return 0;
  eng_val ls = eng_v_items(g)[0], rs = eng_v_items(g)[1];
  long nl = ENG_VLEN(ls), nr = ENG_VLEN(rs);
  const eng_val *l = eng_v_items(ls), *r = eng_v_items(rs);
  int rc = 0;
  switch (s->join_kind) {
    case ENG_JOIN_INTERSECT:
      if (nl && nr) rc = push_row(c, i + 1, k);
      return rc;
    case ENG_JOIN_SUBTRACT:
      if (nr == 0)
        for (long a = 0; a < nl && rc == 0; a++) rc = push_row(c, i + 1, l[a]);
      return rc;
    default:
      break;
  }
  int kind = s->join_kind;
  eng_val none = eng_none();
  long la = nl ? nl : (kind == ENG_JOIN_RIGHT || kind == ENG_JOIN_FULL) ? 1 : 0;
  long lb = nr ? nr : (kind == ENG_JOIN_LEFT || kind == ENG_JOIN_FULL) ? 1 : 0;
  for (long a = 0; a < la && rc == 0; a++) {
    for (long b = 0; b < lb && rc == 0; b++) {
      eng_val x = nl ? l[a] : none, y = nr ? r[b] : none;
      rc = push_row(c, i + 1, eng_pair(t->scratch, k, eng_pair(t->scratch, x, y)));
    }
  }
  return rc;
}

static int push_row(eng_chain *c, int i, eng_val v) {
  if (i == c->n) return c->sink->row(c->sink, v);
  step *s = &c->steps[i];
  eng_task *t = T(c);
  switch (s->kind) {
    case S_MAP:
      if (s->f.fn->call_kv && i + 1 == c->n && c->sink->pair) {
        eng_val kv[2];
        udf_set_caps(s->f.fn, s, s->f.caps);
        udf_enter(s->f.who);
        s->f.fn->call_kv(&v, kv);
        udf_leave();
        return c->sink->pair(c->sink, kv[0], kv[1]);
      }
      return push_row(c, i + 1, call1(c, s, v));
    case S_FILTER:
      return eng_val_truthy(call1(c, s, v)) ? push_row(c, i + 1, v) : 0;
    case S_FLAT_MAP:
      if (s->f.fn->def->ret == UDF_VOID) udf_set_emit(emit_into, s);
      {
        eng_val r = call1(c, s, v);
        udf_set_emit(NULL, NULL);
        return for_each_result(c, i, s, r, 0, eng_none());
      }
    case S_KEYS:
      return push_row(c, i + 1, pair_item(s, v, 0));
    case S_VALUES:
      return push_row(c, i + 1, pair_item(s, v, 1));
    case S_MAP_VALUES: {
      eng_val k = pair_item(s, v, 0), x = pair_item(s, v, 1);
      eng_val r = eng__tudf_call(&s->f, s, &x);
      return push_row(c, i + 1, eng_pair(t->scratch, k, r));
    }
    case S_FLAT_MAP_VALUES: {
      eng_val k = pair_item(s, v, 0), x = pair_item(s, v, 1);
      if (s->f.fn->def->ret == UDF_VOID) udf_set_emit(emit_into, s);
      eng_val r = eng__tudf_call(&s->f, s, &x);
      udf_set_emit(NULL, NULL);
      return for_each_result(c, i, s, r, 1, k);
    }
    case S_KEY_BY:
      return push_row(c, i + 1, eng_pair(t->scratch, call1(c, s, v), v));
    case S_SAMPLE: {
      if (!s->repl) return rng_unit(&s->rng) < s->frac ? push_row(c, i + 1, v) : 0;
      int k = poisson(&s->rng, s->frac), rc = 0;
      for (int j = 0; j < k && rc == 0; j++) rc = push_row(c, i + 1, v);
      return rc;
    }
    case S_ZIP:
      return push_row(c, i + 1, eng_pair(t->scratch, v, eng_long(s->index++)));
    case S_MAP_PARTS:
    case S_MAP_PARTS_IDX:
    case S_GLOM:
      if (eng_vlist_push(&s->rows, eng_val_copy(s->keep, v)) < 0)
        return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: partition buffer");
      return 0;
    case S_JOIN_ROWS:
      return join_rows(c, i, s, v);
    case S_STORE: {
      int rc = store_row(c, s, v);
      return rc < 0 ? rc : push_row(c, i + 1, v);
    }
  }
  return 0;
}

/* ---- batch mode ----------------------------------------------------------- */

static int flat_long(const eng_batch *b) {
  return b->root->type == ENG_T_LONG && !b->root->valid;
}
static int flat_double(const eng_batch *b) {
  return b->root->type == ENG_T_DOUBLE && !b->root->valid;
}

typedef void (*pairs_fn)(const void *in, int64_t n, eng_val *k, eng_val *v);

/* The kernel making (key, value) items from this batch's column, for a map
 * right before a sink that takes pairs; else NULL. */
static pairs_fn pairs_kernel(const step *s, const eng_batch *b) {
  if (!s->pairs_ok) return NULL;
  if (flat_long(b) && s->f.fn->map_l_kv) return (pairs_fn)s->f.fn->map_l_kv;
  if (flat_double(b) && s->f.fn->map_d_kv) return (pairs_fn)s->f.fn->map_d_kv;
  return NULL;
}

/* Has the step a batch kernel for this batch? */
static int step_takes_batch(const step *s, const eng_batch *b) {
  switch (s->kind) {
    case S_FILTER:
      return (flat_long(b) && s->f.fn->filter_l) || (flat_double(b) && s->f.fn->filter_d);
    case S_MAP:
      return (flat_long(b) && (s->f.fn->map_ll || s->f.fn->map_ld)) ||
             (flat_double(b) && (s->f.fn->map_dd || s->f.fn->map_dl)) || pairs_kernel(s, b) != NULL;
    case S_STORE:
      return 1;
    default:
      return 0;
  }
}

static int push_rows_of(eng_chain *c, int i, eng_batch *b, const uint8_t *sel) {
  eng_task *t = T(c);
  const eng_col *root = b->root;
  for (int64_t r = 0; r < b->n; r++) {
    if (sel && !sel[r]) continue;
    int rc = push_row(c, i, eng_col_get(root, r, t->scratch));
    if (rc != 0) return rc;
  }
  return 0;
}

static int store_batch(eng_chain *c, step *s, eng_batch *b, const uint8_t *sel);

static int push_batch(eng_chain *c, int i, eng_batch *b, const uint8_t *sel) {
  eng_task *t = T(c);
  if (i == c->n) {
    if (c->sink->batch) return c->sink->batch(c->sink, b, sel);
    return push_rows_of(c, i, b, sel);
  }
  step *s = &c->steps[i];
  if (!step_takes_batch(s, b)) return push_rows_of(c, i, b, sel);
  if (s->kind == S_STORE) {
    int rc = store_batch(c, s, b, sel);
    return rc < 0 ? rc : push_batch(c, i + 1, b, sel);
  }
  /* Typed kernels run on selected rows only: compact first. */
  eng_batch *in = b;
  if (sel) {
    int64_t k = 0;
    k += eng_sel_count(sel, b->n);
    in = eng_batch_select(b, sel, k, &t->err);
    if (!in) return t->err.code;
  }
  udf_set_caps(s->f.fn, s, s->f.caps);
  int rc;
  pairs_fn pk = s->kind == S_MAP ? pairs_kernel(s, in) : NULL;
  if (pk) {
    /* The pairs and whatever the kernel allocates for them (strings) live
     * in the step's own arena: the sink resets the task's scratch arena as
     * it goes (flushing partial aggregates), while later pairs of this
     * batch are still to be read. */
    if (!s->keep && !(s->keep = eng_arena_new(1 << 20))) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: map output");
    eng_arena_reset(s->keep);
    eng_val *k = eng_arena_alloc(s->keep, (size_t)(in->n > 0 ? in->n : 1) * sizeof *k);
    eng_val *v = eng_arena_alloc(s->keep, (size_t)(in->n > 0 ? in->n : 1) * sizeof *v);
    if (!k || !v) {
      rc = eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: map output");
    } else {
      eng_arena *old = eng_arena_set_current(s->keep);
      udf_enter(s->f.who);
      pk(in->root->data, in->n, k, v);
      udf_leave();
      eng_arena_set_current(old);
      rc = c->sink->pairs(c->sink, k, v, in->n);
    }
  } else if (s->kind == S_FILTER) {
    uint8_t *nsel = eng_arena_alloc(t->scratch, (size_t)(in->n > 0 ? in->n : 1));
    if (!nsel) {
      rc = eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: selection");
    } else {
      udf_tier_note(s->f.fn, in->n);
      udf_enter(s->f.who);
      if (in->root->type == ENG_T_LONG)
        s->f.fn->filter_l(in->root->data, in->n, nsel);
      else
        s->f.fn->filter_d(in->root->data, in->n, nsel);
      udf_leave();
      rc = push_batch(c, i + 1, in, nsel);
    }
  } else {
    eng_batch *out = NULL;
    udf_tier_note(s->f.fn, in->n);
    udf_enter(s->f.who);
    if (in->root->type == ENG_T_LONG) {
      if (s->f.fn->map_ll) {
        int64_t *o;
        out = eng_batch_new_longs(in->n, &o);
        if (out) s->f.fn->map_ll(in->root->data, o, in->n);
      } else {
        double *o;
        out = eng_batch_new_doubles(in->n, &o);
        if (out) s->f.fn->map_ld(in->root->data, o, in->n);
      }
    } else {
      if (s->f.fn->map_dd) {
        double *o;
        out = eng_batch_new_doubles(in->n, &o);
        if (out) s->f.fn->map_dd(in->root->data, o, in->n);
      } else {
        int64_t *o;
        out = eng_batch_new_longs(in->n, &o);
        if (out) s->f.fn->map_dl(in->root->data, o, in->n);
      }
    }
    udf_leave();
    if (!out) {
      rc = eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: map output");
    } else {
      rc = push_batch(c, i + 1, out, NULL);
      eng_batch_unref(out);
    }
  }
  if (in != b) eng_batch_unref(in);
  return rc;
}

/* ---- store steps (cache / checkpoint) -------------------------------------- */

/* Hands one batch (the reference) to the cache block or checkpoint file
 * being written, so a partition is never held whole by this step. */
static int store_add(eng_chain *c, step *s, eng_batch *b) {
  eng_task *t = T(c);
  if (s->ckpt) {
    if (!s->ckf) {
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s.tmp.%d", s->ckpt, (int)getpid());
      s->ckf = fopen(tmp, "wb");
      if (!s->ckf) {
        eng_batch_unref(b);
        return eng_err_set(&t->err, ENG_EIO, "IOError: cannot write %s: %s", tmp, strerror(errno));
      }
      s->ckpt_tmp = eng_strdup(tmp);
    }
    int ok = fwrite(b->buf, 1, b->len, s->ckf) == b->len;
    s->ckpt_bytes += (int64_t)b->len;
    eng_batch_unref(b);
    return ok ? 0 : eng_err_set(&t->err, ENG_EIO, "IOError: writing %s: %s", s->ckpt_tmp, strerror(errno));
  }
  if (!s->ro && !(s->ro = eng_bs_rdd_begin(eng__task_store(t), s->ds, t->partition, s->level,
                                           eng__task_mem_limit(t), &t->err))) {
    eng_batch_unref(b);
    return t->err.code;
  }
  return eng_bs_rdd_append(s->ro, b, &t->err);
}

/* Drops what a store step wrote (the partition was not completed). */
static void store_abandon(step *s) {
  eng_bs_rdd_abort(s->ro);
  s->ro = NULL;
  if (s->ckf) fclose(s->ckf);
  s->ckf = NULL;
  if (s->ckpt_tmp) unlink(s->ckpt_tmp);
  eng_free(s->ckpt_tmp);
  s->ckpt_tmp = NULL;
}

static int store_flush_builder(eng_chain *c, step *s) {
  if (!s->cb || eng_colb_rows(s->cb) == 0) return 0;
  eng_batch *b = eng_colb_finish(s->cb, &T(c)->err);
  if (!b) return T(c)->err.code;
  return store_add(c, s, b);
}

static int store_row(eng_chain *c, step *s, eng_val v) {
  if (!s->cb && !(s->cb = eng_colb_new()))
    return eng_err_set(&T(c)->err, ENG_ENOMEM, "MemoryError: cache");
  if (eng_colb_append(s->cb, v) < 0) return eng_err_set(&T(c)->err, ENG_ENOMEM, "MemoryError: cache");
  if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES)
    return store_flush_builder(c, s);
  return 0;
}

static int store_batch(eng_chain *c, step *s, eng_batch *b, const uint8_t *sel) {
  ENG_TRY(store_flush_builder(c, s));
  eng_batch *keep;
  if (sel) {
    keep = eng_batch_select(b, sel, eng_sel_count(sel, b->n), &T(c)->err);
    if (!keep) return T(c)->err.code;
  } else {
    eng_batch_ref(b);
    keep = b;
  }
  return store_add(c, s, keep);
}

static int store_finish(eng_chain *c, step *s) {
  eng_task *t = T(c);
  ENG_TRY(store_flush_builder(c, s));
  if (s->ckpt) {
    /* Via a temporary file and rename, so readers never see a partial
     * checkpoint. An empty partition still gets its (empty) file. */
    if (!s->ckf) {
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s.tmp.%d", s->ckpt, (int)getpid());
      s->ckf = fopen(tmp, "wb");
      if (!s->ckf) return eng_err_set(&t->err, ENG_EIO, "IOError: cannot write %s: %s", tmp, strerror(errno));
      s->ckpt_tmp = eng_strdup(tmp);
    }
    int ok = fclose(s->ckf) == 0;
    s->ckf = NULL;
    if (!ok || rename(s->ckpt_tmp, s->ckpt) < 0) {
      int e = errno;
      store_abandon(s);
      return eng_err_set(&t->err, ENG_EIO, "IOError: cannot write %s: %s", s->ckpt, strerror(e));
    }
    eng_free(s->ckpt_tmp);
    s->ckpt_tmp = NULL;
    eng__task_stored(t, s->ds, t->partition, -1, 0, s->ckpt_bytes);
    return 0;
  }
  if (!s->ro && !(s->ro = eng_bs_rdd_begin(eng__task_store(t), s->ds, t->partition, s->level,
                                           eng__task_mem_limit(t), &t->err)))
    return t->err.code; /* an empty partition is cached too: it is known empty */
  int64_t mem = 0, disk = 0;
  eng_rdd_out *ro = s->ro;
  s->ro = NULL;
  int rc = eng_bs_rdd_commit(ro, &mem, &disk, &t->err);
  if (rc < 0) return rc;
  if (rc > 0) eng__task_stored(t, s->ds, t->partition, s->level, mem, disk);
  return 0;
}

/* ---- whole-partition steps ------------------------------------------------- */

static int step_finish(eng_chain *c, int i) {
  step *s = &c->steps[i];
  eng_task *t = T(c);
  switch (s->kind) {
    case S_GLOM: {
      eng_val l = eng_vlist_finish(&s->rows, ENG_V_LIST);
      return push_row(c, i + 1, l);
    }
    case S_MAP_PARTS:
    case S_MAP_PARTS_IDX: {
      eng_val args[2];
      int k = 0;
      if (s->kind == S_MAP_PARTS_IDX) args[k++] = eng_long(t->partition);
      args[k++] = eng_vlist_finish(&s->rows, ENG_V_LIST);
      if (s->f.fn->def->ret == UDF_VOID) udf_set_emit(emit_into, s);
      eng_val r = eng__tudf_call(&s->f, s, args);
      udf_set_emit(NULL, NULL);
      return for_each_result(c, i, s, r, 0, eng_none());
    }
    case S_STORE:
      return store_finish(c, s);
    default:
      return 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Chain construction                                                       */
/* ------------------------------------------------------------------------ */

static int chain_next(eng_stream *st, eng_batch **out);
static void chain_close(eng_stream *st);

eng_chain *eng__chain_new(eng_task *t, eng_stream *in) {
  eng_chain *c = eng_calloc(1, sizeof *c);
  if (!c) {
    if (in) in->close(in);
    return NULL;
  }
  c->base.next = chain_next;
  c->base.close = chain_close;
  c->base.t = t;
  c->t = t;
  c->in = in;
  return c;
}

eng_chain *eng__as_chain(eng_stream *s) {
  return s && s->next == chain_next ? (eng_chain *)s : NULL;
}

eng_stream *eng__chain_stream(eng_chain *c) { return &c->base; }

static step *add_step(eng_chain *c, int kind) {
  if (c->n == c->cap) {
    int cap = c->cap ? c->cap * 2 : 8;
    step *v = eng_realloc(c->steps, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    c->steps = v;
    c->cap = cap;
  }
  step *s = &c->steps[c->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  eng_vlist_init(&s->emitted, c->t->scratch);
  return s;
}

static const struct {
  const char *name;
  int kind, needs_udf;
} step_kinds[] = {
    {"map", S_MAP, 1},
    {"flat_map", S_FLAT_MAP, 1},
    {"filter", S_FILTER, 1},
    {"keys", S_KEYS, 0},
    {"values", S_VALUES, 0},
    {"map_values", S_MAP_VALUES, 1},
    {"flat_map_values", S_FLAT_MAP_VALUES, 1},
    {"key_by", S_KEY_BY, 1},
    {"sample", S_SAMPLE, 0},
    {"zip_with_index", S_ZIP, 0},
    {"map_partitions", S_MAP_PARTS, 1},
    {"map_partitions_with_index", S_MAP_PARTS_IDX, 1},
    {"glom", S_GLOM, 0},
    {"join_rows", S_JOIN_ROWS, 0},
};

int eng__chain_add(eng_chain *c, json_t *node, eng_err *err) {
  const char *op = json_string_value(json_object_get(node, "op"));
  int kind = -1, needs = 0;
  for (size_t i = 0; op && i < sizeof step_kinds / sizeof step_kinds[0]; i++)
    if (strcmp(op, step_kinds[i].name) == 0) {
      kind = step_kinds[i].kind;
      needs = step_kinds[i].needs_udf;
    }
  if (kind < 0) return eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown step '%s'", op ? op : "?");
  step *s = add_step(c, kind);
  if (!s) return eng_err_set(err, ENG_ENOMEM, "MemoryError: chain");
  if (needs) ENG_TRY(eng__task_udf(c->t, json_object_get(node, "udf"), &s->f, err));
  switch (kind) {
    case S_SAMPLE:
      s->frac = json_real_value(json_object_get(node, "fraction"));
      s->repl = json_is_true(json_object_get(node, "replace"));
      s->rng = (uint64_t)json_integer_value(json_object_get(node, "seed")) * 0x9e3779b97f4a7c15ull ^
               (uint64_t)c->t->partition;
      break;
    case S_ZIP:
      s->index = json_integer_value(json_object_get(node, "offset"));
      break;
    case S_JOIN_ROWS:
      s->join_kind = (int)json_integer_value(json_object_get(node, "kind"));
      break;
    case S_MAP_PARTS:
    case S_MAP_PARTS_IDX:
    case S_GLOM:
      s->keep = eng_arena_new(0);
      if (!s->keep) return eng_err_set(err, ENG_ENOMEM, "MemoryError: chain");
      eng_vlist_init(&s->rows, s->keep);
      break;
  }
  return 0;
}

int eng__chain_add_store(eng_chain *c, int ds, int part, int level, const char *ckpt_path) {
  (void)part;
  step *s = add_step(c, S_STORE);
  if (!s) return eng_err_set(&c->t->err, ENG_ENOMEM, "MemoryError: chain");
  s->ds = ds;
  s->level = level;
  if (ckpt_path) s->ckpt = eng_strdup(ckpt_path);
  return 0;
}

static void free_steps(eng_chain *c) {
  for (int i = 0; i < c->n; i++) {
    step *s = &c->steps[i];
    if (s->f.fn) udf_drop_caps(s->f.fn, s);
    eng_arena_free(s->keep);
    eng_colb_free(s->cb);
    store_abandon(s);
    eng_free(s->ckpt);
  }
  eng_free(c->steps);
  c->steps = NULL;
  c->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

/* Pushes one input batch through; 0, 1 (stop) or <0. */
static int chain_step_batch(eng_chain *c) {
  eng_task *t = c->t;
  eng_batch *b = NULL;
  int rc = c->in->next(c->in, &b);
  if (rc <= 0) return rc == 0 ? 2 : rc; /* 2: input done */
  c->cur = b;
  t->rows_in += b->n;
  rc = push_batch(c, 0, b, NULL);
  c->cur = NULL;
  eng_batch_unref(b);
  eng_arena_reset(t->scratch);
  for (int i = 0; i < c->n; i++) eng_vlist_init(&c->steps[i].emitted, t->scratch);
  if (rc == 0 && eng__task_cancelled(t))
    rc = eng_err_set(&t->err, ENG_ECANCEL, "Cancelled: job cancelled");
  return rc;
}

static int chain_finish_steps(eng_chain *c) {
  for (int i = 0; i < c->n; i++) {
    int rc = step_finish(c, i);
    if (rc < 0) return rc;
    if (rc == 1) return 1;
  }
  return 0;
}

int eng__chain_run(eng_chain *c, eng_sink *k) {
  c->sink = k;
  /* A map right before a sink that takes pairs may hand them over whole. */
  if (c->n > 0 && k->pairs && c->steps[c->n - 1].kind == S_MAP) c->steps[c->n - 1].pairs_ok = 1;
  int rc = 0;
  for (;;) {
    rc = chain_step_batch(c);
    if (rc == 2) {
      rc = 0;
      break;
    }
    if (rc != 0) break;
  }
  if (rc == 1) {
    /* The sink has enough: the partition is incomplete, so nothing it
     * would have cached is stored. */
    for (int i = 0; i < c->n; i++)
      if (c->steps[i].kind == S_STORE) c->steps[i].kind = S_FILTER + 100;
    rc = 0;
  } else if (rc == 0) {
    rc = chain_finish_steps(c);
    if (rc == 1) rc = 0;
  }
  if (rc == 0) rc = k->finish(k);
  return rc;
}

/* ---- as a stream ------------------------------------------------------------- */

static int ready_push(eng_chain *c, eng_batch *b) {
  if (c->nready == c->capready) {
    int cap = c->capready ? c->capready * 2 : 8;
    eng_batch **v = eng_realloc(c->ready, (size_t)cap * sizeof *v);
    if (!v) {
      eng_batch_unref(b);
      return eng_err_set(&c->t->err, ENG_ENOMEM, "MemoryError: chain output");
    }
    c->ready = v;
    c->capready = cap;
  }
  c->ready[c->nready++] = b;
  return 0;
}

static int collector_flush(eng_chain *c) {
  if (!c->ocb || eng_colb_rows(c->ocb) == 0) return 0;
  eng_batch *b = eng_colb_finish(c->ocb, &c->t->err);
  if (!b) return c->t->err.code;
  return ready_push(c, b);
}

static int collector_row(eng_sink *k, eng_val v) {
  eng_chain *c = (eng_chain *)((char *)k - offsetof(eng_chain, collector));
  if (!c->ocb && !(c->ocb = eng_colb_new()))
    return eng_err_set(&c->t->err, ENG_ENOMEM, "MemoryError: chain output");
  if (eng_colb_append(c->ocb, v) < 0)
    return eng_err_set(&c->t->err, ENG_ENOMEM, "MemoryError: chain output");
  if (eng_colb_rows(c->ocb) >= ENG_BATCH_ROWS || eng_colb_bytes(c->ocb) >= ENG_BATCH_BYTES)
    return collector_flush(c);
  return 0;
}

static int collector_batch(eng_sink *k, eng_batch *b, const uint8_t *sel) {
  eng_chain *c = (eng_chain *)((char *)k - offsetof(eng_chain, collector));
  if (!sel && (!c->ocb || eng_colb_rows(c->ocb) == 0)) {
    eng_batch_ref(b); /* pass through untouched */
    return ready_push(c, b);
  }
  if (sel) {
    int64_t n = 0;
    n += eng_sel_count(sel, b->n);
    ENG_TRY(collector_flush(c));
    eng_batch *s = eng_batch_select(b, sel, n, &c->t->err);
    if (!s) return c->t->err.code;
    return ready_push(c, s);
  }
  for (int64_t r = 0; r < b->n; r++) ENG_TRY(collector_row(k, eng_col_get(b->root, r, c->t->scratch)));
  return 0;
}

static int collector_finish(eng_sink *k) {
  eng_chain *c = (eng_chain *)((char *)k - offsetof(eng_chain, collector));
  return collector_flush(c);
}

static int chain_next(eng_stream *st, eng_batch **out) {
  eng_chain *c = (eng_chain *)st;
  if (!c->sink) {
    c->collector.row = collector_row;
    c->collector.batch = collector_batch;
    c->collector.finish = collector_finish;
    c->collector.t = c->t;
    c->sink = &c->collector;
  }
  while (c->rhead == c->nready) {
    c->rhead = c->nready = 0;
    if (c->finished) return 0;
    if (c->in_done) {
      int rc = chain_finish_steps(c);
      if (rc < 0) return rc;
      ENG_TRY(collector_finish(&c->collector));
      c->finished = 1;
      continue;
    }
    int rc = chain_step_batch(c);
    if (rc < 0) return rc;
    if (rc == 2 || rc == 1) c->in_done = 1;
  }
  *out = c->ready[c->rhead++];
  return 1;
}

static void chain_close(eng_stream *st) {
  eng_chain *c = (eng_chain *)st;
  if (c->in) c->in->close(c->in);
  if (c->cur) eng_batch_unref(c->cur);
  for (int i = c->rhead; i < c->nready; i++) eng_batch_unref(c->ready[i]);
  eng_free(c->ready);
  eng_colb_free(c->ocb);
  if (c->sink && c->sink != &c->collector && c->sink->close) c->sink->close(c->sink);
  free_steps(c);
  eng_free(c);
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct src_range {
  eng_stream base;
  int64_t next, end, step;
} src_range;

static int range_next(eng_stream *st, eng_batch **out) {
  src_range *r = (src_range *)st;
  if ((r->step > 0 && r->next >= r->end) || (r->step < 0 && r->next <= r->end) || r->step == 0)
    return 0;
  /* Count the elements left without overflowing. */
  uint64_t left = r->step > 0 ? ((uint64_t)r->end - (uint64_t)r->next - 1) / (uint64_t)r->step + 1
                              : ((uint64_t)r->next - (uint64_t)r->end - 1) / (uint64_t)-r->step + 1;
  int64_t n = left > ENG_BATCH_ROWS ? ENG_BATCH_ROWS : (int64_t)left;
  int64_t *d;
  eng_batch *b = eng_batch_new_longs(n, &d);
  if (!b) return eng_err_set(&st->t->err, ENG_ENOMEM, "MemoryError: range");
  int64_t x = r->next;
  for (int64_t i = 0; i < n; i++, x += r->step) d[i] = x;
  r->next = x;
  *out = b;
  return 1;
}

static void simple_close(eng_stream *st) { eng_free(st); }

eng_stream *eng__src_range(eng_task *t, int64_t start, int64_t end, int64_t stride) {
  src_range *r = eng_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->base.next = range_next;
  r->base.close = simple_close;
  r->base.t = t;
  r->next = start;
  r->end = end;
  r->step = stride;
  return &r->base;
}

typedef struct src_batches {
  eng_stream base;
  eng_batch **b;
  int n, i;
} src_batches;

static int batches_next(eng_stream *st, eng_batch **out) {
  src_batches *s = (src_batches *)st;
  if (s->i >= s->n) return 0;
  *out = s->b[s->i];
  s->b[s->i++] = NULL;
  return 1;
}

static void batches_close(eng_stream *st) {
  src_batches *s = (src_batches *)st;
  for (int i = s->i; i < s->n; i++) eng_batch_unref(s->b[i]);
  eng_free(s->b);
  eng_free(s);
}

eng_stream *eng__src_batches(eng_task *t, eng_batch **bs, int n) {
  src_batches *s = eng_calloc(1, sizeof *s);
  if (!s) {
    for (int i = 0; i < n; i++) eng_batch_unref(bs[i]);
    eng_free(bs);
    return NULL;
  }
  s->base.next = batches_next;
  s->base.close = batches_close;
  s->base.t = t;
  s->b = bs;
  s->n = n;
  return &s->base;
}

typedef struct src_text {
  eng_stream base;
  eng_line_reader *r;
  eng_colb *cb;
  char *path;
} src_text;

static int text_next(eng_stream *st, eng_batch **out) {
  src_text *s = (src_text *)st;
  eng_task *t = st->t;
  if (!s->r) return 0;
  const char *line;
  long len;
  int rc;
  while ((rc = eng_line_reader_next(s->r, &line, &len, &t->err)) == 1) {
    if (eng_colb_append(s->cb, eng_strv(line, len)) < 0)
      return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: text batch");
    if (eng_colb_rows(s->cb) >= 16384 || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES) break;
  }
  if (rc < 0) return rc;
  if (rc == 0) {
    eng_line_reader_close(s->r);
    s->r = NULL;
  }
  if (eng_colb_rows(s->cb) == 0) return 0;
  *out = eng_colb_finish(s->cb, &t->err);
  return *out ? 1 : t->err.code;
}

static void text_close(eng_stream *st) {
  src_text *s = (src_text *)st;
  if (s->r) eng_line_reader_close(s->r);
  eng_colb_free(s->cb);
  eng_free(s->path);
  eng_free(s);
}

eng_stream *eng__src_text(eng_task *t, const char *path, int64_t start, int64_t len,
                          int64_t file_size, int codec, eng_err *err) {
  src_text *s = eng_calloc(1, sizeof *s);
  if (!s) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: text source");
    return NULL;
  }
  s->base.next = text_next;
  s->base.close = text_close;
  s->base.t = t;
  s->path = eng_strdup(path);
  s->cb = eng_colb_new();
  eng_text_split sp = {.path = s->path, .start = start, .len = len, .file_size = file_size,
                       .codec = (eng_codec)codec};
  s->r = s->cb ? eng_line_reader_open(&sp, err) : NULL;
  if (!s->r) {
    text_close(&s->base);
    return NULL;
  }
  return &s->base;
}

typedef struct src_concat {
  eng_stream base;
  eng_stream **in;
  int n, i;
} src_concat;

static int concat_next(eng_stream *st, eng_batch **out) {
  src_concat *s = (src_concat *)st;
  while (s->i < s->n) {
    int rc = s->in[s->i]->next(s->in[s->i], out);
    if (rc != 0) return rc;
    s->in[s->i]->close(s->in[s->i]);
    s->in[s->i] = NULL;
    s->i++;
  }
  return 0;
}

static void concat_close(eng_stream *st) {
  src_concat *s = (src_concat *)st;
  for (int i = 0; i < s->n; i++)
    if (s->in[i]) s->in[i]->close(s->in[i]);
  eng_free(s->in);
  eng_free(s);
}

eng_stream *eng__src_concat(eng_task *t, eng_stream **ins, int n) {
  src_concat *s = eng_calloc(1, sizeof *s);
  if (!s) {
    for (int i = 0; i < n; i++) ins[i]->close(ins[i]);
    eng_free(ins);
    return NULL;
  }
  s->base.next = concat_next;
  s->base.close = concat_close;
  s->base.t = t;
  s->in = ins;
  s->n = n;
  return &s->base;
}

/* Cartesian product of one left and one right partition: the right side is
 * read once into batches; every left row meets every right row. */
typedef struct src_cart {
  eng_stream base;
  eng_stream *left, *right;
  eng_batch **rb;
  int nrb;
  int loaded;
  eng_batch *lb;
  int64_t li;
  eng_colb *cb;
  eng_arena *a;
} src_cart;

static int cart_next(eng_stream *st, eng_batch **out) {
  src_cart *s = (src_cart *)st;
  eng_task *t = st->t;
  if (!s->loaded) {
    eng_batch *b;
    int rc;
    while ((rc = s->right->next(s->right, &b)) == 1) {
      eng_batch **v = eng_realloc(s->rb, (size_t)(s->nrb + 1) * sizeof *v);
      if (!v) {
        eng_batch_unref(b);
        return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: cartesian");
      }
      s->rb = v;
      s->rb[s->nrb++] = b;
    }
    if (rc < 0) return rc;
    s->loaded = 1;
  }
  for (;;) {
    if (!s->lb) {
      int rc = s->left->next(s->left, &s->lb);
      if (rc <= 0) {
        s->lb = NULL;
        if (rc < 0) return rc;
        if (eng_colb_rows(s->cb) == 0) return 0;
        *out = eng_colb_finish(s->cb, &t->err);
        return *out ? 1 : t->err.code;
      }
      s->li = 0;
    }
    for (; s->li < s->lb->n; s->li++) {
      eng_val l = eng_col_get(s->lb->root, s->li, s->a);
      for (int j = 0; j < s->nrb; j++)
        for (int64_t r = 0; r < s->rb[j]->n; r++) {
          eng_val rv = eng_col_get(s->rb[j]->root, r, s->a);
          if (eng_colb_append(s->cb, eng_pair(s->a, l, rv)) < 0)
            return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: cartesian");
        }
      eng_arena_reset(s->a);
      if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS) {
        s->li++;
        *out = eng_colb_finish(s->cb, &t->err);
        return *out ? 1 : t->err.code;
      }
    }
    eng_batch_unref(s->lb);
    s->lb = NULL;
  }
}

static void cart_close(eng_stream *st) {
  src_cart *s = (src_cart *)st;
  s->left->close(s->left);
  s->right->close(s->right);
  for (int i = 0; i < s->nrb; i++) eng_batch_unref(s->rb[i]);
  eng_free(s->rb);
  if (s->lb) eng_batch_unref(s->lb);
  eng_colb_free(s->cb);
  eng_arena_free(s->a);
  eng_free(s);
}

eng_stream *eng__src_cartesian(eng_task *t, eng_stream *left, eng_stream *right) {
  src_cart *s = eng_calloc(1, sizeof *s);
  if (!s) {
    left->close(left);
    right->close(right);
    return NULL;
  }
  s->base.next = cart_next;
  s->base.close = cart_close;
  s->base.t = t;
  s->left = left;
  s->right = right;
  s->cb = eng_colb_new();
  s->a = eng_arena_new(0);
  if (!s->cb || !s->a) {
    cart_close(&s->base);
    return NULL;
  }
  return &s->base;
}

/* A file of batches laid end to end (checkpoints). */
eng_stream *eng__src_file(eng_task *t, const char *path, eng_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    eng_err_set(err, ENG_EIO, "IOError: cannot read checkpoint %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  fstat(fd, &st);
  char *data = eng_malloc((size_t)st.st_size + 1);
  ssize_t got = data ? read(fd, data, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) {
    eng_free(data);
    eng_err_set(err, ENG_EIO, "IOError: cannot read checkpoint %s", path);
    return NULL;
  }
  eng_batch **bs = NULL;
  int n = 0;
  size_t pos = 0;
  while (pos < (size_t)got) {
    size_t used = 0;
    eng_batch *b = eng_batch_parse(data + pos, (size_t)got - pos, NULL, NULL, &used, err);
    eng_batch **v = b ? eng_realloc(bs, (size_t)(n + 1) * sizeof *v) : NULL;
    if (!v) {
      if (b) eng_batch_unref(b);
      for (int i = 0; i < n; i++) eng_batch_unref(bs[i]);
      eng_free(bs);
      eng_free(data);
      return NULL;
    }
    bs = v;
    bs[n++] = b;
    pos += used;
  }
  eng_free(data);
  return eng__src_batches(t, bs, n);
}
