/* api_act.c -- SPEC 5's actions: run a job, then combine the partitions'
 * partial results in the driver (sinks.c computes the partials).
 *
 * Results follow PySpark: take() scans partitions incrementally (one, then
 * more, as Spark's take does); reduce() of nothing is a ValueError; stats()
 * is a StatCounter; count_by_key/count_by_value are lists of (key, count)
 * sorted by key (SPEC 5; PySpark returns a dict). Values returned live in the
 * session's value arena.
 *
 * After an action succeeds, datasets of its lineage marked with checkpoint()
 * are written out by one more job and their lineage is cut there (Spark's
 * reliable checkpoint).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../udf/udf_guard.h"
#include "err.h"
#include "htab.h"
#include "mem.h"
#include "session_int.h"
#include "textio.h"
#include "val.h"

typedef struct act {
  eng_session *s;
  eng_ds *d;
  const char *action;
  eng_udf *f, *g;
  eng_val zero;
  int has_zero;
  int64_t n;
  int reverse;
  json_t *extra;       /* more sink fields (buckets, path) */
  eng_val bvals;       /* histogram boundaries as values, when not numbers */
  int has_bvals;
  eng_arena *a;        /* partial results */
  eng_val *vals;       /* per partition */
  eng_vlist *rows;     /* per partition (collect, take) */
  int nparts;
} act;

static int act_init(act *c, eng_ds *d, const char *action) {
  memset(c, 0, sizeof *c);
  c->s = d->s;
  c->d = d;
  c->action = action;
  c->nparts = d->nparts;
  c->a = eng_arena_new(0);
  c->vals = eng_calloc((size_t)d->nparts + 1, sizeof *c->vals);
  c->rows = eng_calloc((size_t)d->nparts + 1, sizeof *c->rows);
  if (!c->a || !c->vals || !c->rows) {
    eng_arena_free(c->a);
    eng_free(c->vals);
    eng_free(c->rows);
    return eng__fail(d->s, ENG_ENOMEM, "MemoryError: action");
  }
  for (int p = 0; p < d->nparts; p++) eng_vlist_init(&c->rows[p], c->a);
  return 0;
}

static void act_free(act *c) {
  eng_arena_free(c->a);
  eng_free(c->vals);
  eng_free(c->rows);
  json_decref(c->extra);
}

static json_t *act_sink(eng_taskgen *g, int part, void *ctx) {
  (void)part;
  act *c = ctx;
  json_t *k = json_pack("{s:s, s:s, s:I, s:b}", "kind", "result", "action", c->action, "n",
                        (json_int_t)c->n, "reverse", c->reverse);
  if (c->f) json_object_set_new(k, "udf", eng__taskgen_udf(g, c->f));
  if (c->g) json_object_set_new(k, "key", eng__taskgen_udf(g, c->g));
  if (c->has_zero) json_object_set_new(k, "zero", json_integer(eng__taskgen_val(g, c->zero)));
  if (c->has_bvals) json_object_set_new(k, "bvals", json_integer(eng__taskgen_val(g, c->bvals)));
  if (c->extra) json_object_update(k, c->extra);
  return k;
}

static int act_result(eng_session *s, int part, eng_msg *m, void *ctx) {
  act *c = ctx;
  if (part < 0 || part >= c->nparts) return eng__fail(s, ENG_EPROTO, "ProtocolError: bad partition");
  json_t *r = json_object_get(m->hdr, "result");
  if (r) {
    size_t len;
    const void *p = eng_msg_frame(m, (long)json_integer_value(r), &len);
    eng_rd rd;
    eng_val v;
    if (p) eng_rd_init(&rd, p, len);
    if (!p || eng_val_read(&rd, c->a, &v) < 0)
      return eng__fail(s, ENG_EPROTO, "ProtocolError: bad task result");
    c->vals[part] = eng_val_copy(c->a, v);
  }
  size_t i;
  json_t *bj;
  json_array_foreach(json_object_get(m->hdr, "batches"), i, bj) {
    size_t len;
    const void *p = eng_msg_frame(m, (long)json_integer_value(bj), &len);
    if (!p) return eng__fail(s, ENG_EPROTO, "ProtocolError: missing result batch");
    eng_batch *b = eng_batch_parse(p, len, NULL, NULL, NULL, &s->err);
    if (!b) return s->err.code;
    for (int64_t r2 = 0; r2 < b->n; r2++) {
      eng_val v = eng_col_get(b->root, r2, c->a);
      if (eng_vlist_push(&c->rows[part], eng_val_copy(c->a, v)) < 0) {
        eng_batch_unref(b);
        return eng__fail(s, ENG_ENOMEM, "MemoryError: results");
      }
    }
    eng_batch_unref(b);
  }
  return 0;
}

static int run_parts(act *c, const int *parts, int nparts) {
  eng_jobspec spec = {.ds = c->d, .parts = parts, .nparts = nparts, .action = c->action,
                      .sink_fn = act_sink, .on_result = act_result, .ctx = c, .ckpt_ds = -1};
  return eng__run_job(c->s, &spec);
}

/* ---- after every action ------------------------------------------------------ */

static int ckpt_walk(eng_session *s, eng_ds *d, int depth);

static json_t *none_sink(eng_taskgen *g, int part, void *ctx) {
  (void)g;
  (void)part;
  (void)ctx;
  return json_pack("{s:s, s:s}", "kind", "result", "action", "none");
}

static int none_result(eng_session *s, int part, eng_msg *m, void *ctx) {
  (void)s;
  (void)part;
  (void)m;
  (void)ctx;
  return 0;
}

/* Writes every partition of d to the checkpoint directory, then cuts its
 * lineage: later jobs read the files. */
static int write_checkpoint(eng_session *s, eng_ds *d) {
  char dir[2048];
  snprintf(dir, sizeof dir, "%s/ds-%d", s->ckpt_dir, d->id);
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    return eng__fail(s, ENG_EIO, "IOError: cannot create %s: %s", dir, strerror(errno));
  eng_jobspec spec = {.ds = d, .nparts = d->nparts, .action = "checkpoint", .sink_fn = none_sink,
                      .on_result = none_result, .ckpt_ds = d->id};
  ENG_TRY(eng__run_job(s, &spec));
  for (int p = 0; p < d->nparts; p++) {
    char f[2100];
    snprintf(f, sizeof f, "%s/part-%05d", dir, p);
    if (access(f, R_OK) != 0) return eng__fail(s, ENG_EIO, "IOError: checkpoint file %s missing", f);
  }
  d->ckpt_done = 1;
  eng__update_status(s);
  return 0;
}

static int ckpt_walk(eng_session *s, eng_ds *d, int depth) {
  if (depth > 10000 || d->ckpt_done) return 0;
  for (int i = 0; i < d->nparents; i++) ENG_TRY(ckpt_walk(s, d->parents[i], depth + 1));
  if (d->ckpt_requested) return write_checkpoint(s, d);
  return 0;
}

/* Ends an action: a cancel request belongs to the job that just ended. */
static int finish(eng_ds *d, int rc) {
  eng_session *s = d->s;
  if (rc == 0) rc = ckpt_walk(s, d, 0);
  atomic_store(&s->cancel_req, 0);
  return rc;
}

/* Calls a UDF in the driver (final merges), under a guard. */
static int driver_call(eng_session *s, eng_udf *f, const eng_val *args, eng_val *out) {
  udf_guard g;
  eng_arena *old = eng_arena_set_current(s->vals);
  int rc = 0;
  char who[600];
  snprintf(who, sizeof who, "UDF %s", f->def->name);
  if (UDF_TRY(&g)) {
    udf_set_caps(f->fn, f, f->caps);
    udf_enter(who);
    *out = f->fn->call(args);
    udf_leave();
    udf_guard_pop(&g);
  } else if (g.sig) {
    /* "Crash: SIGSEGV in UDF f" -> "TaskFailed: SIGSEGV in UDF f (in the driver)". */
    rc = eng__fail(s, ENG_ETASK, "TaskFailed: %s (in the driver)", g.err.msg + strlen("Crash: "));
  } else {
    rc = eng__fail(s, g.err.code ? g.err.code : ENG_ERROR, "%s in %s", g.err.msg, who);
  }
  eng_arena_set_current(old);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Actions                                                                  */
/* ------------------------------------------------------------------------ */

int eng_collect(eng_ds *d, eng_val *out) {
  act c;
  ENG_TRY(act_init(&c, d, "collect"));
  int rc = run_parts(&c, NULL, 0);
  if (rc == 0) {
    eng_vlist all;
    eng_vlist_init(&all, d->s->vals);
    for (int p = 0; p < d->nparts && rc == 0; p++)
      for (long i = 0; i < c.rows[p].n && rc == 0; i++)
        if (eng_vlist_push(&all, eng_val_copy(d->s->vals, c.rows[p].items[i])) < 0)
          rc = eng__fail(d->s, ENG_ENOMEM, "MemoryError: collect");
    *out = eng_vlist_finish(&all, ENG_V_LIST);
  }
  act_free(&c);
  return finish(d, rc);
}

int eng_count(eng_ds *d, int64_t *out) {
  act c;
  ENG_TRY(act_init(&c, d, "count"));
  int rc = run_parts(&c, NULL, 0);
  if (rc == 0) {
    int64_t n = 0;
    for (int p = 0; p < d->nparts; p++) n += eng_v_long(c.vals[p]);
    *out = n;
  }
  act_free(&c);
  return finish(d, rc);
}

/* Spark's take(): scan one partition, then more, growing by what the rows
 * found so far suggest, until n rows or the end. */
static int take_rows(eng_ds *d, int64_t n, const char *action, eng_vlist *out) {
  eng_session *s = d->s;
  act c;
  ENG_TRY(act_init(&c, d, action));
  c.n = n;
  int total = d->nparts, scanned = 0, rc = 0;
  int *parts = eng_calloc((size_t)total + 1, sizeof *parts);
  if (!parts) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: take");
  while (rc == 0 && out->n < n && scanned < total) {
    int64_t try_n = 1;
    if (scanned > 0) {
      if (out->n == 0) {
        try_n = (int64_t)scanned * 4;
      } else {
        try_n = (int64_t)(1.5 * (double)n * scanned / (double)out->n) - scanned;
        if (try_n < 1) try_n = 1;
        if (try_n > (int64_t)scanned * 4) try_n = (int64_t)scanned * 4;
      }
    }
    int k = 0;
    for (int p = scanned; p < total && k < try_n; p++) parts[k++] = p;
    c.n = n - out->n;
    rc = run_parts(&c, parts, k);
    for (int i = 0; rc == 0 && i < k; i++) {
      eng_vlist *rows = &c.rows[parts[i]];
      for (long j = 0; j < rows->n && out->n < n; j++)
        if (eng_vlist_push(out, eng_val_copy(s->vals, rows->items[j])) < 0)
          rc = eng__fail(s, ENG_ENOMEM, "MemoryError: take");
    }
    scanned += k;
  }
  eng_free(parts);
  act_free(&c);
  return rc;
}

int eng_take(eng_ds *d, int64_t n, eng_val *out) {
  eng_vlist l;
  eng_vlist_init(&l, d->s->vals);
  int rc = n > 0 ? take_rows(d, n, "take", &l) : 0;
  if (rc == 0) *out = eng_vlist_finish(&l, ENG_V_LIST);
  return finish(d, rc);
}

int eng_first(eng_ds *d, eng_val *out) {
  eng_vlist l;
  eng_vlist_init(&l, d->s->vals);
  int rc = take_rows(d, 1, "take", &l);
  if (rc == 0 && l.n == 0) rc = eng__fail(d->s, ENG_EINVAL, "ValueError: RDD is empty");
  if (rc == 0) *out = l.items[0];
  return finish(d, rc);
}

int eng_is_empty(eng_ds *d, int *out) {
  eng_vlist l;
  eng_vlist_init(&l, d->s->vals);
  int rc = d->nparts ? take_rows(d, 1, "take", &l) : 0;
  if (rc == 0) *out = l.n == 0;
  return finish(d, rc);
}

/* Sorting results in the driver by Python order (TypeError if mixed). */
typedef struct keyed {
  eng_val key, val;
} keyed;

static int cmp_keyed_asc(const void *x, const void *y, void *ctx) {
  int *bad = ctx, c;
  if (eng_val_cmp(((const keyed *)x)->key, ((const keyed *)y)->key, &c, NULL) < 0) {
    *bad = 1;
    c = eng_val_cmp_total(((const keyed *)x)->key, ((const keyed *)y)->key);
  }
  return c;
}

static int cmp_keyed_desc(const void *x, const void *y, void *ctx) { return -cmp_keyed_asc(x, y, ctx); }

static int top_common(eng_ds *d, int64_t n, eng_udf *keyfn, int smallest, eng_val *out) {
  eng_session *s = d->s;
  if (keyfn && keyfn->def->nparams != 1)
    return finish(d, eng__fail(s, ENG_ETYPE, "TypeError: the key function takes 1 parameter"));
  const char *name = smallest ? "take_ordered" : "top";
  if (keyfn && eng__check_param(s, name, keyfn, 0, d->dtype) < 0) return finish(d, s->err.code);
  act c;
  ENG_TRY(act_init(&c, d, "top"));
  c.n = n;
  c.g = keyfn;
  c.reverse = smallest;
  int rc = n > 0 ? run_parts(&c, NULL, 0) : 0;
  eng_vlist l;
  eng_vlist_init(&l, s->vals);
  if (rc == 0 && n > 0) {
    long total = 0;
    for (int p = 0; p < d->nparts; p++) total += eng_is_seq(c.vals[p]) ? ENG_VLEN(c.vals[p]) : 0;
    keyed *k = eng_calloc((size_t)total + 1, sizeof *k);
    if (!k) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: top");
    long m = 0;
    for (int p = 0; rc == 0 && p < d->nparts; p++) {
      if (!eng_is_seq(c.vals[p])) continue;
      for (long i = 0; rc == 0 && i < ENG_VLEN(c.vals[p]); i++) {
        eng_val v = eng_v_items(c.vals[p])[i];
        k[m].val = v;
        k[m].key = v;
        if (keyfn) rc = driver_call(s, keyfn, &v, &k[m].key);
        m++;
      }
    }
    if (rc == 0) {
      int bad = 0;
      qsort_r(k, (size_t)m, sizeof *k, smallest ? cmp_keyed_asc : cmp_keyed_desc, &bad);
      if (bad) {
        int x;
        eng_err e;
        for (long i = 1; i < m; i++)
          if (eng_val_cmp(k[i - 1].key, k[i].key, &x, &e) < 0) {
            rc = eng__fail(s, ENG_ETYPE, "%s", e.msg);
            break;
          }
      }
      for (long i = 0; rc == 0 && i < m && i < n; i++) eng_vlist_push(&l, eng_val_copy(s->vals, k[i].val));
    }
    eng_free(k);
  }
  if (rc == 0) *out = eng_vlist_finish(&l, ENG_V_LIST);
  act_free(&c);
  return finish(d, rc);
}

int eng_top(eng_ds *d, int64_t n, eng_udf *keyfn, eng_val *out) { return top_common(d, n, keyfn, 0, out); }
int eng_take_ordered(eng_ds *d, int64_t n, eng_udf *keyfn, eng_val *out) {
  return top_common(d, n, keyfn, 1, out);
}

/* reduce/fold/aggregate: partials per partition, merged in partition order. */
static int fold_common(eng_ds *d, const char *action, eng_udf *f, eng_udf *comb, eng_val zero,
                       int has_zero, eng_val *out) {
  eng_session *s = d->s;
  if (!f || (has_zero && strcmp(action, "aggregate") == 0 && !comb))
    return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: %s needs a function", action));
  if (f->def->nparams != 2 || (comb && comb->def->nparams != 2))
    return finish(d, eng__fail(s, ENG_ETYPE, "TypeError: %s takes a lambda of 2 parameters", action));
  /* Elements go in as the second argument (and as the first, for reduce):
   * a lambda that cannot take them fails here, before any task runs. */
  if (eng__check_param(s, action, f, 1, d->dtype) < 0 ||
      (!has_zero && eng__check_param(s, action, f, 0, d->dtype) < 0))
    return finish(d, s->err.code);
  act c;
  ENG_TRY(act_init(&c, d, action));
  c.f = f;
  c.zero = zero;
  c.has_zero = has_zero;
  int rc = run_parts(&c, NULL, 0);
  if (rc == 0) {
    eng_udf *merge = comb ? comb : f;
    int has = has_zero;
    eng_val acc = eng_val_copy(s->vals, zero);
    for (int p = 0; rc == 0 && p < d->nparts; p++) {
      eng_val pv = c.vals[p];
      if (!has_zero) {
        /* [has, value] */
        if (!eng_val_truthy(eng_v_items(pv)[0])) continue;
        pv = eng_v_items(pv)[1];
        if (!has) {
          acc = eng_val_copy(s->vals, pv);
          has = 1;
          continue;
        }
      }
      eng_val args[2] = {acc, pv}, r;
      rc = driver_call(s, merge, args, &r);
      if (rc == 0) acc = eng_val_copy(s->vals, r);
    }
    if (rc == 0 && !has) rc = eng__fail(s, ENG_EINVAL, "ValueError: Can not reduce() empty RDD");
    if (rc == 0) *out = acc;
  }
  act_free(&c);
  return finish(d, rc);
}

int eng_reduce(eng_ds *d, eng_udf *f, eng_val *out) {
  return fold_common(d, "reduce", f, NULL, eng_none(), 0, out);
}
int eng_fold(eng_ds *d, eng_val zero, eng_udf *f, eng_val *out) {
  return fold_common(d, "fold", f, NULL, zero, 1, out);
}
int eng_aggregate(eng_ds *d, eng_val zero, eng_udf *seq, eng_udf *comb, eng_val *out) {
  return fold_common(d, "aggregate", seq, comb, zero, 1, out);
}

int eng_sum(eng_ds *d, eng_val *out) {
  act c;
  ENG_TRY(act_init(&c, d, "sum"));
  int rc = run_parts(&c, NULL, 0);
  if (rc == 0) {
    eng_val acc = eng_long(0);
    for (int p = 0; rc == 0 && p < d->nparts; p++) {
      eng_val r;
      rc = eng_val_add(d->s->vals, acc, c.vals[p], &r, &d->s->err);
      acc = r;
    }
    if (rc == 0) *out = eng_val_copy(d->s->vals, acc);
  }
  act_free(&c);
  return finish(d, rc);
}

/* Merged (n, mean, m2, max, min) over partitions (Chan et al.). */
static int stats_raw(eng_ds *d, int64_t *n, double *mean, double *m2, double *mx, double *mn) {
  act c;
  ENG_TRY(act_init(&c, d, "stats"));
  int rc = run_parts(&c, NULL, 0);
  *n = 0;
  *mean = *m2 = 0;
  *mx = -INFINITY;
  *mn = INFINITY;
  for (int p = 0; rc == 0 && p < d->nparts; p++) {
    const eng_val *st = eng_v_items(c.vals[p]);
    int64_t nb = eng_v_long(st[0]);
    if (nb == 0) continue;
    double mb = eng_v_double(st[1]), m2b = eng_v_double(st[2]);
    double delta = mb - *mean;
    int64_t tot = *n + nb;
    *mean += delta * (double)nb / (double)tot;
    *m2 += m2b + delta * delta * (double)*n * (double)nb / (double)tot;
    *n = tot;
    if (eng_v_double(st[3]) > *mx || isnan(eng_v_double(st[3]))) *mx = eng_v_double(st[3]);
    if (eng_v_double(st[4]) < *mn || isnan(eng_v_double(st[4]))) *mn = eng_v_double(st[4]);
  }
  act_free(&c);
  return rc;
}

int eng_stats(eng_ds *d, eng_val *out) {
  int64_t n;
  double mean, m2, mx, mn;
  int rc = stats_raw(d, &n, &mean, &m2, &mx, &mn);
  if (rc == 0) {
    static const char *const names[] = {"count", "mean", "stdev", "max", "min"};
    eng_session *s = d->s;
    eng_record *r = eng_arena_alloc(s->vals, sizeof *r);
    eng_val *v = eng_arena_alloc(s->vals, 5 * sizeof *v);
    if (!r || !v) {
      rc = eng__fail(s, ENG_ENOMEM, "MemoryError: stats");
    } else {
      v[0] = eng_long(n);
      v[1] = eng_double(mean); /* StatCounter: 0.0 when empty */
      v[2] = eng_double(n ? sqrt(m2 / (double)n) : NAN);
      v[3] = eng_double(mx);
      v[4] = eng_double(mn);
      r->n = 5;
      r->names = names;
      r->vals = v;
      out->h = ENG_V_RECORD;
      out->p = (uint64_t)(uintptr_t)r;
    }
  }
  return finish(d, rc);
}

int eng_mean(eng_ds *d, double *out) {
  int64_t n;
  double mean, m2, mx, mn;
  int rc = stats_raw(d, &n, &mean, &m2, &mx, &mn);
  /* PySpark's mean() is stats().mean(): 0.0 for an empty dataset. */
  if (rc == 0) *out = mean;
  return finish(d, rc);
}

static int var_common(eng_ds *d, int sample, int root, double *out) {
  int64_t n;
  double mean, m2, mx, mn;
  int rc = stats_raw(d, &n, &mean, &m2, &mx, &mn);
  if (rc == 0) {
    double v = sample ? (n > 1 ? m2 / (double)(n - 1) : NAN) : (n ? m2 / (double)n : NAN);
    *out = root ? sqrt(v) : v;
  }
  return finish(d, rc);
}

int eng_variance(eng_ds *d, double *out) { return var_common(d, 0, 0, out); }
int eng_stdev(eng_ds *d, double *out) { return var_common(d, 0, 1, out); }
int eng_sample_variance(eng_ds *d, double *out) { return var_common(d, 1, 0, out); }
int eng_sample_stdev(eng_ds *d, double *out) { return var_common(d, 1, 1, out); }

static int minmax(eng_ds *d, eng_udf *keyfn, int is_max, eng_val *out) {
  eng_session *s = d->s;
  const char *name = is_max ? "max" : "min";
  if (keyfn && keyfn->def->nparams != 1)
    return finish(d, eng__fail(s, ENG_ETYPE, "TypeError: the key function takes 1 parameter"));
  if (keyfn && eng__check_param(s, name, keyfn, 0, d->dtype) < 0) return finish(d, s->err.code);
  act c;
  ENG_TRY(act_init(&c, d, name));
  c.g = keyfn;
  int rc = run_parts(&c, NULL, 0);
  int has = 0;
  eng_val best = eng_none(), bestk = eng_none();
  for (int p = 0; rc == 0 && p < d->nparts; p++) {
    if (!eng_val_truthy(eng_v_items(c.vals[p])[0])) continue;
    eng_val v = eng_v_items(c.vals[p])[1], k = v;
    if (keyfn) rc = driver_call(s, keyfn, &v, &k);
    if (rc < 0) break;
    int cmp = 0;
    if (has && eng_val_cmp(k, bestk, &cmp, &s->err) < 0) {
      rc = s->err.code;
      break;
    }
    if (!has || (is_max ? cmp > 0 : cmp < 0)) {
      best = v;
      bestk = k;
      has = 1;
    }
  }
  /* PySpark's min()/max() are reduce(min)/reduce(max). */
  if (rc == 0 && !has) rc = eng__fail(s, ENG_EINVAL, "ValueError: Can not reduce() empty RDD");
  if (rc == 0) *out = eng_val_copy(s->vals, best);
  act_free(&c);
  return finish(d, rc);
}

int eng_min(eng_ds *d, eng_udf *keyfn, eng_val *out) { return minmax(d, keyfn, 0, out); }
int eng_max(eng_ds *d, eng_udf *keyfn, eng_val *out) { return minmax(d, keyfn, 1, out); }

/* PySpark's histogram(): a bucket count (even buckets from min to max,
 * integer boundaries when they divide evenly) or sorted boundaries, which
 * may be any values Python can order (strings too) and come back as given
 * (a tuple stays a tuple). */
int eng_histogram(eng_ds *d, eng_val buckets, eng_val *out) {
  eng_session *s = d->s;
  buckets = eng_deref(buckets);
  eng_vlist bl;
  eng_vlist_init(&bl, s->vals);
  int evenly = 0, numeric = 1, kind = ENG_V_LIST;
  int rc = 0;
  if (ENG_VKIND(buckets) == ENG_V_LONG) {
    int64_t k = eng_v_long(buckets);
    if (k < 1) return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: number of buckets must be >= 1"));
    eng_val mn, mx;
    if ((rc = eng_min(d, NULL, &mn)) < 0 || (rc = eng_max(d, NULL, &mx)) < 0) return finish(d, rc);
    double lo, hi;
    if (eng_val_as_double(mn, &lo, &s->err) < 0 || eng_val_as_double(mx, &hi, &s->err) < 0)
      return finish(d, s->err.code);
    int64_t cnt = 0;
    if (lo == hi || k == 1) {
      eng_vlist_push(&bl, mn);
      eng_vlist_push(&bl, mx);
      rc = eng_count(d, &cnt);
      if (rc < 0) return finish(d, rc);
      eng_val one = eng_long(cnt);
      eng_val counts = eng_list(s->vals, &one, 1);
      eng_val pair[2] = {eng_vlist_finish(&bl, ENG_V_LIST), counts};
      *out = eng_tuple(s->vals, pair, 2);
      return finish(d, 0);
    }
    int ints = ENG_VKIND(mn) == ENG_V_LONG && ENG_VKIND(mx) == ENG_V_LONG &&
               (eng_v_long(mx) - eng_v_long(mn)) % k == 0;
    double inc = (hi - lo) / (double)k;
    for (int64_t i = 0; i < k; i++)
      eng_vlist_push(&bl, ints ? eng_long(eng_v_long(mn) + i * ((eng_v_long(mx) - eng_v_long(mn)) / k))
                               : eng_double(lo + (double)i * inc));
    eng_vlist_push(&bl, mx);
    evenly = 1;
  } else if (eng_is_seq(buckets)) {
    long n = ENG_VLEN(buckets);
    const eng_val *b = eng_v_items(buckets);
    if (n < 2) return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: buckets should have more than one value"));
    kind = ENG_VKIND(buckets);
    /* As PySpark checks: sorted first (TypeError if not orderable), then
     * no duplicates. */
    int dup = 0;
    for (long i = 1; i < n; i++) {
      int c;
      if (eng_val_cmp(b[i - 1], b[i], &c, &s->err) < 0) return finish(d, s->err.code);
      if (c > 0) return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: buckets should be sorted"));
      dup |= c == 0;
    }
    if (dup) return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: buckets should not contain duplicated values"));
    double lo_step = INFINITY, hi_step = -INFINITY;
    for (long i = 0; i < n; i++) {
      numeric &= ENG_VKIND(b[i]) == ENG_V_LONG || ENG_VKIND(b[i]) == ENG_V_DOUBLE;
      if (numeric && i) {
        double x, y;
        eng_val_as_double(b[i - 1], &x, NULL);
        eng_val_as_double(b[i], &y, NULL);
        if (y - x < lo_step) lo_step = y - x;
        if (y - x > hi_step) hi_step = y - x;
      }
      eng_vlist_push(&bl, eng_val_copy(s->vals, b[i]));
    }
    /* Evenly spaced boundaries use PySpark's arithmetic bucket formula. */
    evenly = numeric && hi_step - lo_step < 1e-10;
  } else {
    return finish(d, eng__fail(s, ENG_ETYPE, "TypeError: histogram() needs a bucket count or a list of boundaries"));
  }
  act c;
  ENG_TRY(act_init(&c, d, "histogram"));
  json_t *arr = json_array();
  for (long i = 0; i < bl.n; i++) {
    double x = 0;
    eng_val_as_double(bl.items[i], &x, NULL);
    json_array_append_new(arr, json_real(x));
  }
  if (numeric) {
    c.extra = json_pack("{s:o, s:b}", "buckets", arr, "evenly", evenly);
  } else {
    json_decref(arr);
    c.bvals = eng_seqv(ENG_V_LIST, bl.items, bl.n);
    c.has_bvals = 1;
  }
  rc = run_parts(&c, NULL, 0);
  if (rc == 0) {
    long nb = bl.n - 1;
    int64_t *cnt = eng_calloc((size_t)nb + 1, sizeof *cnt);
    if (!cnt) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: histogram");
    for (int p = 0; rc == 0 && p < d->nparts; p++)
      for (long i = 0; i < nb && i < ENG_VLEN(c.vals[p]); i++) cnt[i] += eng_v_long(eng_v_items(c.vals[p])[i]);
    eng_vlist cl;
    eng_vlist_init(&cl, s->vals);
    for (long i = 0; rc == 0 && i < nb; i++) eng_vlist_push(&cl, eng_long(cnt[i]));
    eng_free(cnt);
    if (rc == 0) {
      eng_val pair[2] = {eng_vlist_finish(&bl, kind), eng_vlist_finish(&cl, ENG_V_LIST)};
      *out = eng_tuple(s->vals, pair, 2);
    }
  }
  act_free(&c);
  return finish(d, rc);
}

static int count_by(eng_ds *d, const char *action, eng_val *out) {
  eng_session *s = d->s;
  act c;
  ENG_TRY(act_init(&c, d, action));
  int rc = run_parts(&c, NULL, 0);
  eng_htab *h = rc == 0 ? eng_htab_new() : NULL;
  if (rc == 0 && !h) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: counting");
  for (int p = 0; rc == 0 && p < d->nparts; p++) {
    eng_val l = c.vals[p];
    for (long i = 0; i < ENG_VLEN(l); i++) {
      eng_val pr = eng_v_items(l)[i];
      eng_val k = eng_v_items(pr)[0];
      int is_new;
      eng_hent *e = eng_htab_find_or_add(h, k, (uint64_t)eng_val_hash(k), &is_new);
      if (!e) {
        rc = eng__fail(s, ENG_ENOMEM, "MemoryError: counting");
        break;
      }
      e->val = eng_long((is_new ? 0 : eng_v_long(e->val)) + eng_v_long(eng_v_items(pr)[1]));
    }
  }
  if (rc == 0) {
    int64_t n = eng_htab_count(h);
    keyed *k = eng_calloc((size_t)n + 1, sizeof *k);
    if (!k) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: counting");
    for (int64_t i = 0; rc == 0 && i < n; i++) {
      k[i].key = eng_htab_at(h, i)->key;
      k[i].val = eng_htab_at(h, i)->val;
    }
    int bad = 0;
    if (rc == 0) qsort_r(k, (size_t)n, sizeof *k, cmp_keyed_asc, &bad);
    eng_vlist l;
    eng_vlist_init(&l, s->vals);
    for (int64_t i = 0; rc == 0 && i < n; i++)
      eng_vlist_push(&l, eng_pair(s->vals, eng_val_copy(s->vals, k[i].key), k[i].val));
    if (rc == 0) *out = eng_vlist_finish(&l, ENG_V_LIST);
    eng_free(k);
  }
  eng_htab_free(h);
  act_free(&c);
  return finish(d, rc);
}

int eng_count_by_key(eng_ds *d, eng_val *out) { return count_by(d, "count_by_key", out); }
int eng_count_by_value(eng_ds *d, eng_val *out) { return count_by(d, "count_by_value", out); }

int eng_foreach(eng_ds *d, eng_udf *f) {
  if (eng__check_elem_udf(d, f, "foreach") < 0) return finish(d, d->s->err.code);
  act c;
  ENG_TRY(act_init(&c, d, "foreach"));
  c.f = f;
  int rc = run_parts(&c, NULL, 0);
  act_free(&c);
  return finish(d, rc);
}

int eng_save_as_text_file(eng_ds *d, const char *path, const char *codec) {
  eng_session *s = d->s;
  int cd = eng_codec_parse(codec);
  if (cd < 0) return finish(d, eng__fail(s, ENG_EINVAL, "ValueError: unknown codec '%s' (none, gzip, zstd)", codec));
  struct stat st;
  if (stat(path, &st) == 0)
    return finish(d, eng__fail(s, ENG_EIO, "IOError: Output directory %s already exists", path));
  /* mkdir -p */
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0755);
      *p = '/';
    }
  if (mkdir(buf, 0755) < 0)
    return finish(d, eng__fail(s, ENG_EIO, "IOError: cannot create %s: %s", path, strerror(errno)));
  act c;
  ENG_TRY(act_init(&c, d, "save_as_text_file"));
  char abs[4096];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  c.extra = json_pack("{s:s, s:i}", "path", abs, "codec", cd);
  int rc = run_parts(&c, NULL, 0);
  act_free(&c);
  /* Task attempts wrote under _temporary and renamed their part files out;
   * what is left there are failed attempts' files. */
  char leftovers[4200];
  snprintf(leftovers, sizeof leftovers, "%s/_temporary", abs);
  eng__rm_rf(leftovers);
  if (rc == 0) {
    char ok[4200];
    snprintf(ok, sizeof ok, "%s/_SUCCESS", abs);
    FILE *f = fopen(ok, "w");
    if (f) fclose(f);
  }
  return finish(d, rc);
}
