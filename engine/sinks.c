/* sinks.c -- the executor-side half of each action: what a task computes
 * from its partition and sends back (the driver combines partitions).
 *
 * Each sink encodes its partial result with eng_val_write into t->result
 * (collect and take send batches instead). The forms, decoded by the
 * driver's action code (api_act.c):
 *   count           n                          sum     value (Python sum)
 *   reduce, min/max [has, value]                fold    value
 *   aggregate       value                       stats   (n, mean, m2, max, min)
 *   histogram       [counts]                    top     [values] best first
 *   count_by_*      [(key, count), ...]         sample  (n, [sampled keys])
 *   save, foreach   nothing
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../udf/udf_guard.h"
#include "err.h"
#include "htab.h"
#include "mem.h"
#include "task.h"
#include "textio.h"

enum {
  K_COLLECT, K_COUNT, K_TAKE, K_REDUCE, K_FOLD, K_AGGREGATE, K_SUM, K_STATS, K_MIN, K_MAX,
  K_HISTOGRAM, K_FOREACH, K_SAVE, K_COUNT_VALUE, K_COUNT_KEY, K_SAMPLE, K_TOP, K_NONE,
};

static const struct {
  const char *name;
  int kind;
} kinds[] = {
    {"collect", K_COLLECT},     {"count", K_COUNT},     {"take", K_TAKE},
    {"reduce", K_REDUCE},       {"fold", K_FOLD},       {"aggregate", K_AGGREGATE},
    {"sum", K_SUM},             {"stats", K_STATS},     {"min", K_MIN},
    {"max", K_MAX},             {"histogram", K_HISTOGRAM}, {"foreach", K_FOREACH},
    {"save_as_text_file", K_SAVE}, {"count_by_value", K_COUNT_VALUE},
    {"count_by_key", K_COUNT_KEY}, {"sample", K_SAMPLE}, {"top", K_TOP},
    {"none", K_NONE},
};

typedef struct rsink {
  eng_sink base;
  int kind;
  eng_tudf f, g;     /* reduce/fold/aggregate/foreach fn; key fn for min/max/top/sample */
  int has_f, has_g;
  eng_arena *a;      /* the accumulated value's memory */
  eng_val acc;
  int has;
  int64_t n, limit;
  /* stats (Welford) */
  double mean, m2, mx, mn;
  /* histogram */
  double *bounds;
  int64_t *counts;
  int nb;
  eng_val bvals;     /* boundaries that are not numbers (strings...) */
  int by_val;
  int evenly;
  /* collect / take */
  eng_colb *cb;
  /* counting */
  eng_htab *h;
  /* sample: reservoir */
  eng_vlist res;
  uint64_t rng;
  /* top: a heap of (sort key, value), worst at the root */
  eng_val *hk, *hv;
  int64_t hn;
  int reverse;
  /* save */
  eng_text_writer *w;
  char *tmp_path, *final_path;
  eng_buf line;
} rsink;

static eng_task *T(rsink *s) { return s->base.t; }

/* Replaces the accumulated value, keeping its memory in s->a; the arena is
 * compacted when garbage dominates. */
static void set_acc(rsink *s, eng_val v) {
  int k = ENG_VKIND(v);
  if (k == ENG_V_STR || k == ENG_V_TUPLE || k == ENG_V_LIST || k == ENG_V_RECORD) {
    if (eng_arena_used(s->a) > (size_t)16 << 20) {
      /* Copy out, reset, copy back: bounded memory for long partitions. */
      eng_arena *tmp = eng_arena_new(0);
      eng_val c = eng_val_copy(tmp, v);
      eng_arena_reset(s->a);
      v = eng_val_copy(s->a, c);
      eng_arena_free(tmp);
    } else {
      v = eng_val_copy(s->a, v);
    }
  }
  s->acc = v;
  s->has = 1;
}

static eng_val call2(rsink *s, eng_tudf *f, eng_val a, eng_val b) {
  if (f->fn->f2_ll && ENG_VKIND(a) == ENG_V_LONG && ENG_VKIND(b) == ENG_V_LONG)
    return eng_long(f->fn->f2_ll(eng_v_long(a), eng_v_long(b)));
  if (f->fn->f2_dd && ENG_VKIND(a) == ENG_V_DOUBLE && ENG_VKIND(b) == ENG_V_DOUBLE)
    return eng_double(f->fn->f2_dd(eng_v_double(a), eng_v_double(b)));
  eng_val args[2] = {a, b};
  return eng__tudf_call(f, s, args);
}

static eng_val sort_key(rsink *s, eng_val v) {
  return s->has_g ? eng__tudf_call(&s->g, &s->g, &v) : v;
}

/* Python ordering with its TypeError. */
static int cmp_or_raise(eng_val a, eng_val b) {
  int c;
  eng_err e;
  if (eng_val_cmp(a, b, &c, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
  return c;
}

/* ---- top / take_ordered heap --------------------------------------------- */

/* "Better" for top(): larger first (or smaller with reverse, take_ordered). */
static int better(rsink *s, eng_val a, eng_val b) {
  int c = cmp_or_raise(a, b);
  return s->reverse ? c < 0 : c > 0;
}

static void heap_sift_down(rsink *s, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    if (l < s->hn && better(s, s->hk[w], s->hk[l])) w = l;
    if (r < s->hn && better(s, s->hk[w], s->hk[r])) w = r;
    if (w == i) return;
    eng_val tk = s->hk[i], tv = s->hv[i];
    s->hk[i] = s->hk[w];
    s->hv[i] = s->hv[w];
    s->hk[w] = tk;
    s->hv[w] = tv;
    i = w;
  }
}

static void heap_sift_up(rsink *s, int64_t i) {
  while (i > 0) {
    int64_t p = (i - 1) / 2;
    if (!better(s, s->hk[p], s->hk[i])) return;
    eng_val tk = s->hk[i], tv = s->hv[i];
    s->hk[i] = s->hk[p];
    s->hv[i] = s->hv[p];
    s->hk[p] = tk;
    s->hv[p] = tv;
    i = p;
  }
}

static int top_row(rsink *s, eng_val v) {
  if (s->limit <= 0) return 0;
  eng_val k = sort_key(s, v);
  if (s->hn < s->limit) {
    s->hk[s->hn] = eng_val_copy(s->a, k);
    s->hv[s->hn] = eng_val_copy(s->a, v);
    heap_sift_up(s, s->hn++);
  } else if (better(s, k, s->hk[0])) {
    s->hk[0] = eng_val_copy(s->a, k);
    s->hv[0] = eng_val_copy(s->a, v);
    heap_sift_down(s, 0);
  }
  return 0;
}

/* ---- rows ------------------------------------------------------------------ */

static int collect_flush(rsink *s) {
  if (!s->cb || eng_colb_rows(s->cb) == 0) return 0;
  eng_batch *b = eng_colb_finish(s->cb, &T(s)->err);
  if (!b) return T(s)->err.code;
  return eng__task_add_batch(T(s), b);
}

static int save_row(rsink *s, eng_val v) {
  s->line.len = 0;
  eng_val_str(&s->line, v);
  eng_buf_putc(&s->line, '\n');
  return eng_text_writer_write(s->w, s->line.data, s->line.len, &T(s)->err);
}

static void stats_add(rsink *s, double x) {
  s->n++;
  double d = x - s->mean;
  s->mean += d / (double)s->n;
  s->m2 += d * (x - s->mean);
  if (s->n == 1 || x > s->mx) s->mx = x;
  if (s->n == 1 || x < s->mn) s->mn = x;
}

static double as_num(eng_val v) {
  double d;
  eng_err e;
  if (eng_val_as_double(v, &d, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
  return d;
}

static void hist_add(rsink *s, double x) {
  if (isnan(x) || s->nb < 2) return;
  double lo = s->bounds[0], hi = s->bounds[s->nb - 1];
  if (x < lo || x > hi) return;
  int64_t i;
  if (s->evenly) {
    /* PySpark's int((x - min) / inc), rounding included. */
    double inc = (hi - lo) / (double)(s->nb - 1);
    i = (int64_t)((x - lo) / inc);
    if (i >= s->nb - 1) i = s->nb - 2;
  } else {
    /* The bucket whose [b_i, b_{i+1}) holds x; the last one is closed. */
    int lo_i = 0, hi_i = s->nb - 1;
    while (hi_i - lo_i > 1) {
      int mid = (lo_i + hi_i) / 2;
      if (x < s->bounds[mid])
        hi_i = mid;
      else
        lo_i = mid;
    }
    i = lo_i;
  }
  s->counts[i]++;
}

/* Histogram over boundaries compared as Python does (strings and other
 * orderable values): the bucket is bisect_right(bounds, v) - 1, the last one
 * closed; None is skipped, other values that cannot be compared raise. */
static void hist_add_val(rsink *s, eng_val v) {
  v = eng_deref(v);
  if (ENG_VKIND(v) == ENG_V_NONE || (ENG_VKIND(v) == ENG_V_DOUBLE && isnan(eng_v_double(v)))) return;
  const eng_val *b = eng_v_items(s->bvals);
  int nb = s->nb;
  if (cmp_or_raise(v, b[nb - 1]) > 0 || cmp_or_raise(v, b[0]) < 0) return;
  int lo_i = 0, hi_i = nb - 1;
  while (hi_i - lo_i > 1) {
    int mid = (lo_i + hi_i) / 2;
    if (cmp_or_raise(v, b[mid]) < 0)
      hi_i = mid;
    else
      lo_i = mid;
  }
  s->counts[lo_i]++;
}

static int count_add(rsink *s, eng_val k) {
  int is_new;
  eng_hent *e = eng_htab_find_or_add(s->h, k, (uint64_t)eng_val_hash(k), &is_new);
  if (!e) return eng_err_set(&T(s)->err, ENG_ENOMEM, "MemoryError: counting");
  e->val = eng_long(is_new ? 1 : eng_v_long(e->val) + 1);
  return 0;
}

static int sink_row(eng_sink *k, eng_val v) {
  rsink *s = (rsink *)k;
  eng_task *t = T(s);
  switch (s->kind) {
    case K_COLLECT:
    case K_TAKE:
      if (s->kind == K_TAKE && s->n >= s->limit) return 1;
      if (eng_colb_append(s->cb, v) < 0) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: collect");
      s->n++;
      if (eng_colb_rows(s->cb) >= ENG_BATCH_ROWS || eng_colb_bytes(s->cb) >= ENG_BATCH_BYTES)
        ENG_TRY(collect_flush(s));
      return s->kind == K_TAKE && s->n >= s->limit ? 1 : 0;
    case K_COUNT:
    case K_NONE:
      s->n++;
      return 0;
    case K_REDUCE:
      if (!s->has)
        set_acc(s, v);
      else
        set_acc(s, call2(s, &s->f, s->acc, v));
      return 0;
    case K_FOLD:
    case K_AGGREGATE:
      set_acc(s, call2(s, &s->f, s->acc, v));
      return 0;
    case K_SUM: {
      eng_val r;
      if (eng_val_add(t->scratch, s->acc, v, &r, &t->err) < 0) return t->err.code;
      set_acc(s, r);
      return 0;
    }
    case K_STATS:
      stats_add(s, as_num(v));
      return 0;
    case K_MIN:
    case K_MAX: {
      eng_val key = sort_key(s, v);
      if (!s->has) {
        set_acc(s, v);
        s->hk[0] = eng_val_copy(s->a, key);
        return 0;
      }
      int c = cmp_or_raise(key, s->hk[0]);
      if ((s->kind == K_MIN && c < 0) || (s->kind == K_MAX && c > 0)) {
        set_acc(s, v);
        s->hk[0] = eng_val_copy(s->a, key);
      }
      return 0;
    }
    case K_HISTOGRAM:
      if (s->by_val)
        hist_add_val(s, v);
      else if (ENG_VKIND(eng_deref(v)) != ENG_V_NONE) /* PySpark skips None */
        hist_add(s, as_num(v));
      return 0;
    case K_FOREACH:
      eng__tudf_call(&s->f, s, &v);
      return 0;
    case K_SAVE:
      return save_row(s, v);
    case K_COUNT_VALUE:
      return count_add(s, v);
    case K_COUNT_KEY: {
      eng_val p = eng_deref(v);
      if (!eng_is_seq(p) || ENG_VLEN(p) < 1)
        eng__raise(ENG_ETYPE, "TypeError: count_by_key needs (key, value) pairs, got %s",
                   eng_val_type_name(p));
      return count_add(s, eng_v_items(p)[0]);
    }
    case K_SAMPLE: {
      eng_val p = eng_deref(v);
      eng_val key = eng_is_seq(p) && ENG_VLEN(p) >= 1 ? eng_v_items(p)[0] : p;
      key = sort_key(s, key);
      s->n++;
      if (s->res.n < s->limit) {
        eng_vlist_push(&s->res, eng_val_copy(s->a, key));
      } else {
        s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t j = (s->rng >> 11) % (uint64_t)s->n;
        if ((int64_t)j < s->limit) s->res.items[j] = eng_val_copy(s->a, key);
      }
      return 0;
    }
    case K_TOP:
      return top_row(s, v);
  }
  return 0;
}

/* Batch entry: counting and numeric folds run on whole columns. */
static int sink_batch(eng_sink *k, eng_batch *b, const uint8_t *sel) {
  rsink *s = (rsink *)k;
  const eng_col *c = b->root;
  if (s->kind == K_COUNT || s->kind == K_NONE) {
    if (!sel) {
      s->n += b->n;
    } else {
      int64_t n = 0;
      n += eng_sel_count(sel, b->n);
      s->n += n;
    }
    return 0;
  }
  if (s->kind == K_COLLECT && !sel && (!s->cb || eng_colb_rows(s->cb) == 0)) {
    eng_batch_ref(b);
    s->n += b->n;
    return eng__task_add_batch(T(s), b);
  }
  if (c->type == ENG_T_LONG && !c->valid && s->kind == K_SUM &&
      (ENG_VKIND(s->acc) == ENG_V_LONG)) {
    const int64_t *d = c->data;
    uint64_t sum = (uint64_t)eng_v_long(s->acc);
    for (int64_t i = 0; i < b->n; i++)
      if (!sel || sel[i]) sum += (uint64_t)d[i];
    s->acc = eng_long((int64_t)sum);
    return 0;
  }
  if ((c->type == ENG_T_LONG || c->type == ENG_T_DOUBLE) && !c->valid && s->kind == K_STATS) {
    for (int64_t i = 0; i < b->n; i++) {
      if (sel && !sel[i]) continue;
      stats_add(s, c->type == ENG_T_LONG ? (double)((const int64_t *)c->data)[i]
                                         : ((const double *)c->data)[i]);
    }
    return 0;
  }
  if (c->type == ENG_T_LONG && !c->valid && (s->kind == K_REDUCE || s->kind == K_FOLD) &&
      s->f.fn->f2_ll && (!s->has || ENG_VKIND(s->acc) == ENG_V_LONG)) {
    const int64_t *d = c->data;
    int64_t i = 0;
    if (!s->has) {
      while (i < b->n && sel && !sel[i]) i++;
      if (i == b->n) return 0;
      s->acc = eng_long(d[i++]);
      s->has = 1;
    }
    int64_t acc = eng_v_long(s->acc);
    udf_set_caps(s->f.fn, s, s->f.caps);
    udf_enter(s->f.who);
    for (; i < b->n; i++)
      if (!sel || sel[i]) acc = s->f.fn->f2_ll(acc, d[i]);
    udf_leave();
    s->acc = eng_long(acc);
    return 0;
  }
  for (int64_t i = 0; i < b->n; i++) {
    if (sel && !sel[i]) continue;
    int rc = sink_row(k, eng_col_get(c, i, T(s)->scratch));
    if (rc != 0) return rc;
  }
  return 0;
}

/* ---- finishing -------------------------------------------------------------- */

static int cmp_top(const void *x, const void *y, void *ctx) {
  rsink *s = ctx;
  const int64_t *a = x, *b = y;
  return better(s, s->hk[*a], s->hk[*b]) ? -1 : better(s, s->hk[*b], s->hk[*a]) ? 1 : 0;
}

static void put_has(eng_buf *r, int has, eng_val v) {
  eng_val items[2] = {eng_bool(has), v};
  eng_val_write(r, eng_seqv(ENG_V_LIST, items, 2));
}

static int sink_finish(eng_sink *k) {
  rsink *s = (rsink *)k;
  eng_task *t = T(s);
  eng_buf *r = &t->result;
  switch (s->kind) {
    case K_COLLECT:
    case K_TAKE:
      return collect_flush(s);
    case K_COUNT:
    case K_NONE:
      eng_val_write(r, eng_long(s->n));
      break;
    case K_REDUCE:
      put_has(r, s->has, s->acc);
      break;
    case K_MIN:
    case K_MAX:
      put_has(r, s->has, s->acc);
      break;
    case K_FOLD:
    case K_AGGREGATE:
    case K_SUM:
      eng_val_write(r, s->acc);
      break;
    case K_STATS: {
      eng_val st[5] = {eng_long(s->n), eng_double(s->mean), eng_double(s->m2), eng_double(s->mx),
                       eng_double(s->mn)};
      eng_val_write(r, eng_seqv(ENG_V_TUPLE, st, 5));
      break;
    }
    case K_HISTOGRAM: {
      eng_vlist l;
      eng_vlist_init(&l, s->a);
      for (int i = 0; i + 1 < s->nb; i++) eng_vlist_push(&l, eng_long(s->counts[i]));
      eng_val_write(r, eng_vlist_finish(&l, ENG_V_LIST));
      break;
    }
    case K_FOREACH:
      break;
    case K_SAVE: {
      int rc = eng_text_writer_close(s->w, &t->err);
      s->w = NULL;
      if (rc < 0) return rc;
      if (rename(s->tmp_path, s->final_path) < 0)
        return eng_err_set(&t->err, ENG_EIO, "IOError: cannot create %s: %s", s->final_path,
                           strerror(errno));
      break;
    }
    case K_COUNT_VALUE:
    case K_COUNT_KEY: {
      int64_t n = eng_htab_count(s->h);
      eng_val *items = eng_arena_alloc(s->a, (size_t)(n > 0 ? n : 1) * sizeof *items);
      if (!items) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: counting");
      for (int64_t i = 0; i < n; i++) {
        eng_hent *e = eng_htab_at(s->h, i);
        items[i] = eng_pair(s->a, e->key, e->val);
      }
      eng_val_write(r, eng_seqv(ENG_V_LIST, items, n));
      break;
    }
    case K_SAMPLE: {
      eng_val st[2] = {eng_long(s->n), eng_vlist_finish(&s->res, ENG_V_LIST)};
      eng_val_write(r, eng_seqv(ENG_V_TUPLE, st, 2));
      break;
    }
    case K_TOP: {
      int64_t *ord = eng_arena_alloc(s->a, (size_t)(s->hn + 1) * sizeof *ord);
      eng_val *out = eng_arena_alloc(s->a, (size_t)(s->hn + 1) * sizeof *out);
      if (!ord || !out) return eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: top");
      for (int64_t i = 0; i < s->hn; i++) ord[i] = i;
      qsort_r(ord, (size_t)s->hn, sizeof *ord, cmp_top, s);
      for (int64_t i = 0; i < s->hn; i++) out[i] = s->hv[ord[i]];
      eng_val_write(r, eng_seqv(ENG_V_LIST, out, s->hn));
      break;
    }
  }
  return r->oom ? eng_err_set(&t->err, ENG_ENOMEM, "MemoryError: result") : 0;
}

static void sink_close(eng_sink *k) {
  rsink *s = (rsink *)k;
  if (s->has_f) udf_drop_caps(s->f.fn, s);
  if (s->has_g) udf_drop_caps(s->g.fn, &s->g);
  eng_colb_free(s->cb);
  eng_htab_free(s->h);
  if (s->w) {
    eng_text_writer_close(s->w, NULL);
    unlink(s->tmp_path);
  }
  eng_free(s->tmp_path);
  eng_free(s->final_path);
  eng_buf_free(&s->line);
  eng_free(s->bounds);
  eng_free(s->counts);
  eng_free(s->hk);
  eng_free(s->hv);
  eng_arena_free(s->a);
  eng_free(s);
}

/* ---- construction ------------------------------------------------------------- */

/* Reads the encoded value in blob "zero" of spec (fold/aggregate). */
static int read_val_blob(eng_task *t, json_t *spec, const char *field, eng_arena *a,
                         eng_val *out, eng_err *err) {
  json_t *j = json_object_get(spec, field);
  if (!j) {
    *out = eng_none();
    return 0;
  }
  const void *p;
  size_t n;
  ENG_TRY(eng__task_blob(t, json_integer_value(j), &p, &n, err));
  eng_rd r;
  eng_rd_init(&r, p, n);
  eng_val v;
  if (eng_val_read(&r, a, &v) < 0)
    return eng_err_set(err, ENG_EPROTO, "ProtocolError: bad value in task");
  *out = eng_val_copy(a, v);
  return 0;
}

eng_sink *eng__result_sink(eng_task *t, json_t *spec, eng_err *err) {
  const char *name = json_string_value(json_object_get(spec, "action"));
  int kind = -1;
  for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0) kind = kinds[i].kind;
  if (kind < 0) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown action '%s'", name ? name : "?");
    return NULL;
  }
  rsink *s = eng_calloc(1, sizeof *s);
  if (!s || !(s->a = eng_arena_new(0))) {
    eng_free(s);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: sink");
    return NULL;
  }
  s->base.row = sink_row;
  s->base.batch = sink_batch;
  s->base.finish = sink_finish;
  s->base.close = sink_close;
  s->base.t = t;
  s->kind = kind;
  s->limit = json_integer_value(json_object_get(spec, "n"));
  s->reverse = json_is_true(json_object_get(spec, "reverse"));
  eng_vlist_init(&s->res, s->a);
  json_t *fj = json_object_get(spec, "udf"), *gj = json_object_get(spec, "key");
  if (fj && eng__task_udf(t, fj, &s->f, err) < 0) goto fail;
  s->has_f = fj != NULL;
  if (gj && eng__task_udf(t, gj, &s->g, err) < 0) goto fail;
  s->has_g = gj != NULL;
  if (read_val_blob(t, spec, "zero", s->a, &s->acc, err) < 0) goto fail;
  /* fold/aggregate start from their zero: the batch path must not take the
   * first row as the start, as reduce does. */
  if (kind == K_FOLD || kind == K_AGGREGATE) s->has = 1;
  switch (kind) {
    case K_COLLECT:
    case K_TAKE:
      if (!(s->cb = eng_colb_new())) goto oom;
      break;
    case K_SUM:
      s->acc = eng_long(0);
      break;
    case K_MIN:
    case K_MAX:
      if (!(s->hk = eng_calloc(1, sizeof *s->hk))) goto oom;
      break;
    case K_TOP:
      if (s->limit < 0) s->limit = 0;
      if (!(s->hk = eng_calloc((size_t)s->limit + 1, sizeof *s->hk)) ||
          !(s->hv = eng_calloc((size_t)s->limit + 1, sizeof *s->hv)))
        goto oom;
      break;
    case K_COUNT_VALUE:
    case K_COUNT_KEY:
      if (!(s->h = eng_htab_new())) goto oom;
      break;
    case K_SAMPLE:
      s->rng = (uint64_t)t->partition * 0x9e3779b97f4a7c15ull + 1;
      break;
    case K_HISTOGRAM: {
      json_t *b = json_object_get(spec, "buckets");
      if (!b) {
        /* Boundaries as values: they are not all numbers. */
        if (read_val_blob(t, spec, "bvals", s->a, &s->bvals, err) < 0) goto fail;
        s->by_val = 1;
        s->nb = eng_is_seq(s->bvals) ? (int)ENG_VLEN(s->bvals) : 0;
        if (s->nb < 2) {
          eng_err_set(err, ENG_EPROTO, "ProtocolError: histogram without buckets");
          goto fail;
        }
        if (!(s->counts = eng_calloc((size_t)s->nb + 1, sizeof *s->counts))) goto oom;
        break;
      }
      s->nb = (int)json_array_size(b);
      s->evenly = json_is_true(json_object_get(spec, "evenly"));
      s->bounds = eng_calloc((size_t)s->nb + 1, sizeof *s->bounds);
      s->counts = eng_calloc((size_t)s->nb + 1, sizeof *s->counts);
      if (!s->bounds || !s->counts) goto oom;
      for (int i = 0; i < s->nb; i++) s->bounds[i] = json_number_value(json_array_get(b, (size_t)i));
      break;
    }
    case K_SAVE: {
      const char *dir = json_string_value(json_object_get(spec, "path"));
      int codec = (int)json_integer_value(json_object_get(spec, "codec"));
      if (!dir) {
        eng_err_set(err, ENG_EPROTO, "ProtocolError: save without path");
        goto fail;
      }
      char tmpdir[4096], path[4096];
      snprintf(tmpdir, sizeof tmpdir, "%s/_temporary", dir);
      mkdir(tmpdir, 0755);
      snprintf(path, sizeof path, "%s/_temporary/part-%05d-%lld%s", dir, t->partition,
               (long long)t->tid, eng_codec_suffix((eng_codec)codec));
      s->tmp_path = eng_strdup(path);
      snprintf(path, sizeof path, "%s/part-%05d%s", dir, t->partition,
               eng_codec_suffix((eng_codec)codec));
      s->final_path = eng_strdup(path);
      s->w = eng_text_writer_open(s->tmp_path, (eng_codec)codec, err);
      if (!s->w) goto fail;
      break;
    }
  }
  return &s->base;
oom:
  eng_err_set(err, ENG_ENOMEM, "MemoryError: sink");
fail:
  sink_close(&s->base);
  return NULL;
}
