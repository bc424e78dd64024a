/* api_transform.c -- SPEC 5's "create" and "transform": building lineage.
 *
 * Every function checks its arguments (lambda parameter types against the
 * dataset's element type, partition counts) and makes one or a few nodes;
 * nothing runs until an action. Wide operations follow Spark's recipes:
 *   reduce_by_key & co.  a shuffle with an aggregator, combined map-side
 *   group_by_key         a shuffle grouping values (no map-side combine)
 *   distinct             a shuffle of whole rows keeping one of each
 *   sort_by_key          range partitioning (bounds sampled) + local sort
 *   join & co.           cogroup, then a flattening step
 *   intersection/subtract cogroup of whole rows, then keep/drop
 * A pair dataset already hash-partitioned the same way is not shuffled again
 * for a cogroup/join (Spark's partitioner-aware narrow dependency).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "session_int.h"
#include "val.h"

#define ANY eng_dtype_simple(ENG_DT_ANY)

static int default_parts(eng_session *s, int n) {
  return n > 0 ? n : eng_session_default_parallelism(s);
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

static const eng_dtype *item_type(const eng_dtype *t, int i) {
  if (t && t->kind == ENG_DT_TUPLE && i < t->n) return t->items[i];
  return ANY;
}

static const eng_dtype *pair_type(eng_session *s, const eng_dtype *k, const eng_dtype *v) {
  const eng_dtype *items[2] = {k, v};
  return eng_dtype_tuple(s, 2, items);
}

/* What a UDF's results are known to be. */
static const eng_dtype *ret_type(eng_udf *f) {
  if (f->ret_dtype) return f->ret_dtype;
  switch (f->def->ret) {
    case UDF_LONG:
    case UDF_INT: return eng_dtype_simple(ENG_DT_LONG);
    case UDF_DOUBLE: return eng_dtype_simple(ENG_DT_DOUBLE);
    case UDF_BOOL: return eng_dtype_simple(ENG_DT_BOOL);
    case UDF_STR:
    case UDF_CSTR: return eng_dtype_simple(ENG_DT_STR);
    default: return ANY;
  }
}

/* The element type of a UDF returning a list (flat_map & co.). */
static const eng_dtype *ret_elem_type(eng_udf *f) {
  const eng_dtype *t = f->ret_dtype;
  return t && t->kind == ENG_DT_LIST ? t->items[0] : ANY;
}

/* Can a value of type t be passed as parameter type p? */
static int fits(udf_type p, const eng_dtype *t) {
  if (!t || t->kind == ENG_DT_ANY) return 1;
  switch (p) {
    case UDF_LONG:
    case UDF_INT: return t->kind == ENG_DT_LONG || t->kind == ENG_DT_BOOL;
    case UDF_DOUBLE: return t->kind == ENG_DT_LONG || t->kind == ENG_DT_DOUBLE || t->kind == ENG_DT_BOOL;
    case UDF_STR:
    case UDF_CSTR: return t->kind == ENG_DT_STR;
    default: return 1;
  }
}

static int type_error(eng_session *s, const char *op, eng_udf *f, int i, const eng_dtype *t) {
  eng_buf b;
  eng_buf_init(&b);
  eng_dtype_format(t, &b);
  int rc = eng__fail(s, ENG_ETYPE,
                     "TypeError: %s: the lambda's parameter %d is %s but the dataset's %s %s",
                     op, i + 1, udf_type_name(f->def->params[i]),
                     f->def->nparams == 2 ? (i == 0 ? "keys are" : "values are") : "elements are",
                     eng_buf_cstr(&b));
  eng_buf_free(&b);
  return rc;
}

/* Checks a one-element lambda (one parameter, or key and value of a pair). */
static int check_elem_udf(eng_ds *d, eng_udf *f, const char *op) {
  eng_session *s = d->s;
  if (!f) return eng__fail(s, ENG_EINVAL, "ValueError: %s needs a function", op);
  if (f->s != s) return eng__fail(s, ENG_EINVAL, "ValueError: %s: the function belongs to another session", op);
  const eng_dtype *t = d->dtype;
  int np = f->def->nparams;
  if (np == 1) {
    if (!fits(f->def->params[0], t)) return type_error(s, op, f, 0, t);
    return 0;
  }
  if (np == 2) {
    if (t && t->kind != ENG_DT_ANY && !(t->kind == ENG_DT_TUPLE && t->n == 2)) {
      eng_buf b;
      eng_buf_init(&b);
      eng_dtype_format(t, &b);
      int rc = eng__fail(s, ENG_ETYPE,
                         "TypeError: %s: a two-parameter lambda needs (key, value) pairs, but the dataset holds %s",
                         op, eng_buf_cstr(&b));
      eng_buf_free(&b);
      return rc;
    }
    for (int i = 0; i < 2; i++)
      if (!fits(f->def->params[i], item_type(t, i))) return type_error(s, op, f, i, item_type(t, i));
    return 0;
  }
  return eng__fail(s, ENG_ETYPE, "TypeError: %s takes a lambda of 1 or 2 parameters, not %d", op, np);
}

/* Checks a lambda taking exactly the given number of parameters, each of
 * which must fit `t` (reduce-like functions: both arguments are values). */
static int check_fn_arity(eng_session *s, eng_udf *f, int n, const char *op, const eng_dtype *t) {
  if (!f) return eng__fail(s, ENG_EINVAL, "ValueError: %s needs a function", op);
  if (f->def->nparams != n)
    return eng__fail(s, ENG_ETYPE, "TypeError: %s takes a lambda of %d parameter%s, not %d", op, n,
                     n == 1 ? "" : "s", f->def->nparams);
  for (int i = 0; i < n && t; i++)
    if (!fits(f->def->params[i], t)) return type_error(s, op, f, i, t);
  return 0;
}

int eng__check_elem_udf(eng_ds *d, eng_udf *f, const char *op) { return check_elem_udf(d, f, op); }

int eng__check_param(eng_session *s, const char *op, eng_udf *f, int i, const eng_dtype *t) {
  if (i < f->def->nparams && !fits(f->def->params[i], t)) return type_error(s, op, f, i, t);
  return 0;
}

static int check_pairs(eng_ds *d, const char *op) {
  const eng_dtype *t = d->dtype;
  if (!t || t->kind == ENG_DT_ANY || (t->kind == ENG_DT_TUPLE && t->n == 2)) return 0;
  eng_buf b;
  eng_buf_init(&b);
  eng_dtype_format(t, &b);
  int rc = eng__fail(d->s, ENG_ETYPE, "TypeError: %s needs (key, value) pairs, but the dataset holds %s", op,
                     eng_buf_cstr(&b));
  eng_buf_free(&b);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Create                                                                   */
/* ------------------------------------------------------------------------ */

eng_ds *eng_range(eng_session *s, int64_t start, int64_t end, int64_t step, int slices) {
  if (step == 0) {
    eng__fail(s, ENG_EINVAL, "ValueError: range() arg 3 must not be zero");
    return NULL;
  }
  if (slices < 0) {
    eng__fail(s, ENG_EINVAL, "ValueError: number of partitions must be positive, got %d", slices);
    return NULL;
  }
  eng_ds *d = eng__ds_new(s, ENG_OP_RANGE, default_parts(s, slices), 0, NULL);
  if (!d) return NULL;
  d->start = start;
  d->end = end;
  d->step = step;
  d->dtype = eng_dtype_simple(ENG_DT_LONG);
  return d;
}

eng_ds *eng_parallelize(eng_session *s, eng_val list, int slices) {
  list = eng_deref(list);
  if (!eng_is_seq(list)) {
    eng__fail(s, ENG_ETYPE, "TypeError: parallelize() needs a list, got %s", eng_val_type_name(list));
    return NULL;
  }
  if (slices < 0) {
    eng__fail(s, ENG_EINVAL, "ValueError: number of partitions must be positive, got %d", slices);
    return NULL;
  }
  int k = default_parts(s, slices);
  eng_batch **bs = eng_calloc((size_t)k + 1, sizeof *bs);
  if (!bs) {
    eng__fail(s, ENG_ENOMEM, "MemoryError: parallelize");
    return NULL;
  }
  long n = ENG_VLEN(list);
  const eng_val *it = eng_v_items(list);
  for (int i = 0; i < k; i++) {
    long a = (long)((__int128)n * i / k), b = (long)((__int128)n * (i + 1) / k);
    bs[i] = eng_batch_from_vals(it + a, b - a, &s->err);
    if (!bs[i]) {
      for (int j = 0; j < i; j++) eng_batch_unref(bs[j]);
      eng_free(bs);
      return NULL;
    }
  }
  eng_ds *d = eng__ds_new(s, ENG_OP_PARALLELIZE, k, 0, NULL);
  if (!d) {
    for (int j = 0; j < k; j++) eng_batch_unref(bs[j]);
    eng_free(bs);
    return NULL;
  }
  d->slices = bs;
  d->dtype = eng__dtype_of_items(s, list);
  return d;
}

eng_ds *eng_text_file(eng_session *s, const char *path, int min_partitions) {
  if (!path || !*path) {
    eng__fail(s, ENG_EINVAL, "ValueError: text_file() needs a path");
    return NULL;
  }
  int minp = min_partitions > 0 ? min_partitions : (eng_session_default_parallelism(s) < 2 ? eng_session_default_parallelism(s) : 2);
  eng_text_split *sp;
  int n;
  if (eng_text_splits(path, minp, &sp, &n, &s->err) < 0) return NULL;
  /* Hadoop's split rule alone gives 3 partitions for 100 MB (32 MiB blocks),
   * so on 2 cores one idles through the last wave. Without an explicit
   * min_partitions, ask for a multiple of the cores instead: the splits get
   * a little smaller and every wave is full. */
  int cores = eng_session_default_parallelism(s);
  if (min_partitions <= 0 && cores > 1 && n > cores && n % cores != 0) {
    eng_text_split *sp2;
    int n2;
    if (eng_text_splits(path, (n + cores - 1) / cores * cores, &sp2, &n2, &s->err) == 0) {
      if (n2 % cores == 0) {
        eng_text_splits_free(sp, n);
        sp = sp2;
        n = n2;
      } else {
        eng_text_splits_free(sp2, n2);
      }
    }
  }
  eng_ds *d = eng__ds_new(s, ENG_OP_TEXT, n, 0, NULL);
  if (!d) {
    eng_text_splits_free(sp, n);
    return NULL;
  }
  d->splits = sp;
  d->nsplits = n;
  d->path = eng_arena_strndup(s->plan, path, strlen(path));
  d->dtype = eng_dtype_simple(ENG_DT_STR);
  return d;
}

eng_ds *eng_empty(eng_session *s) {
  eng_ds *d = eng__ds_new(s, ENG_OP_EMPTY, 0, 0, NULL);
  if (d) d->dtype = ANY;
  return d;
}

/* ------------------------------------------------------------------------ */
/* Narrow                                                                   */
/* ------------------------------------------------------------------------ */

static eng_ds *narrow(eng_ds *d, eng_op op, eng_udf *f) {
  eng_ds *n = eng__ds_new(d->s, op, d->nparts, 1, &d);
  if (n) n->fn = f;
  return n;
}

/* Keeps the parent's hash partitioning (filter, map_values...). */
static void keep_partitioning(eng_ds *n, eng_ds *d) {
  n->part_kind = d->part_kind;
  n->part_n = d->part_n;
}

eng_ds *eng_map(eng_ds *d, eng_udf *f) {
  if (check_elem_udf(d, f, "map") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_MAP, f);
  if (n) n->dtype = ret_type(f);
  return n;
}

eng_ds *eng_flat_map(eng_ds *d, eng_udf *f) {
  if (check_elem_udf(d, f, "flat_map") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_FLAT_MAP, f);
  if (n) n->dtype = ret_elem_type(f);
  return n;
}

eng_ds *eng_filter(eng_ds *d, eng_udf *f) {
  if (check_elem_udf(d, f, "filter") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_FILTER, f);
  if (n) {
    n->dtype = d->dtype;
    keep_partitioning(n, d);
  }
  return n;
}

eng_ds *eng_map_partitions(eng_ds *d, eng_udf *f) {
  if (check_fn_arity(d->s, f, 1, "map_partitions", NULL) < 0) return NULL;
  if (f->def->params[0] != UDF_VAL) {
    eng__fail(d->s, ENG_ETYPE, "TypeError: map_partitions takes a lambda (val part): the partition is a list");
    return NULL;
  }
  eng_ds *n = narrow(d, ENG_OP_MAP_PARTS, f);
  if (n) n->dtype = ret_elem_type(f);
  return n;
}

eng_ds *eng_map_partitions_with_index(eng_ds *d, eng_udf *f) {
  if (check_fn_arity(d->s, f, 2, "map_partitions_with_index", NULL) < 0) return NULL;
  if (!fits(f->def->params[0], eng_dtype_simple(ENG_DT_LONG)) || f->def->params[1] != UDF_VAL) {
    eng__fail(d->s, ENG_ETYPE,
              "TypeError: map_partitions_with_index takes a lambda (long i, val part)");
    return NULL;
  }
  eng_ds *n = narrow(d, ENG_OP_MAP_PARTS_IDX, f);
  if (n) n->dtype = ret_elem_type(f);
  return n;
}

eng_ds *eng_glom(eng_ds *d) {
  eng_ds *n = narrow(d, ENG_OP_GLOM, NULL);
  if (n) n->dtype = eng_dtype_list(d->s, eng_ds_dtype(d));
  return n;
}

eng_ds *eng_keys(eng_ds *d) {
  if (check_pairs(d, "keys") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_KEYS, NULL);
  if (n) n->dtype = item_type(d->dtype, 0);
  return n;
}

eng_ds *eng_values(eng_ds *d) {
  if (check_pairs(d, "values") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_VALUES, NULL);
  if (n) n->dtype = item_type(d->dtype, 1);
  return n;
}

eng_ds *eng_map_values(eng_ds *d, eng_udf *f) {
  if (check_pairs(d, "map_values") < 0 ||
      check_fn_arity(d->s, f, 1, "map_values", item_type(d->dtype, 1)) < 0)
    return NULL;
  eng_ds *n = narrow(d, ENG_OP_MAP_VALUES, f);
  if (n) {
    n->dtype = pair_type(d->s, item_type(d->dtype, 0), ret_type(f));
    keep_partitioning(n, d);
  }
  return n;
}

eng_ds *eng_flat_map_values(eng_ds *d, eng_udf *f) {
  if (check_pairs(d, "flat_map_values") < 0 ||
      check_fn_arity(d->s, f, 1, "flat_map_values", item_type(d->dtype, 1)) < 0)
    return NULL;
  eng_ds *n = narrow(d, ENG_OP_FLAT_MAP_VALUES, f);
  if (n) {
    n->dtype = pair_type(d->s, item_type(d->dtype, 0), ret_elem_type(f));
    keep_partitioning(n, d);
  }
  return n;
}

eng_ds *eng_key_by(eng_ds *d, eng_udf *f) {
  if (check_elem_udf(d, f, "key_by") < 0) return NULL;
  eng_ds *n = narrow(d, ENG_OP_KEY_BY, f);
  if (n) n->dtype = pair_type(d->s, ret_type(f), eng_ds_dtype(d));
  return n;
}

eng_ds *eng_sample(eng_ds *d, int with_replacement, double fraction, int64_t seed) {
  if (!(fraction >= 0) || isinf(fraction)) {
    eng__fail(d->s, ENG_EINVAL, "ValueError: fraction must be >= 0, got %g", fraction);
    return NULL;
  }
  if (!with_replacement && fraction > 1) {
    eng__fail(d->s, ENG_EINVAL, "ValueError: fraction must be in [0, 1] without replacement, got %g", fraction);
    return NULL;
  }
  eng_ds *n = narrow(d, ENG_OP_SAMPLE, NULL);
  if (!n) return NULL;
  n->with_replacement = with_replacement;
  n->fraction = fraction;
  n->seed = seed;
  n->dtype = d->dtype;
  return n;
}

eng_ds *eng_zip_with_index(eng_ds *d) {
  eng_ds *n = narrow(d, ENG_OP_ZIP_INDEX, NULL);
  if (n) n->dtype = pair_type(d->s, eng_ds_dtype(d), eng_dtype_simple(ENG_DT_LONG));
  return n;
}

eng_ds *eng_union_all(eng_ds *a, eng_ds *b) {
  if (a->s != b->s) {
    eng__fail(a->s, ENG_EINVAL, "ValueError: union_all of datasets from different sessions");
    return NULL;
  }
  eng_ds *ps[2] = {a, b};
  eng_ds *n = eng__ds_new(a->s, ENG_OP_UNION, a->nparts + b->nparts, 2, ps);
  if (!n) return NULL;
  const eng_dtype *ta = eng_ds_dtype(a), *tb = eng_ds_dtype(b);
  n->dtype = ta->kind == ENG_DT_ANY || tb->kind == ENG_DT_ANY ? ANY : ta;
  if (ta->kind != tb->kind) n->dtype = ANY;
  return n;
}

eng_ds *eng_cartesian(eng_ds *a, eng_ds *b) {
  if (a->s != b->s) {
    eng__fail(a->s, ENG_EINVAL, "ValueError: cartesian of datasets from different sessions");
    return NULL;
  }
  eng_ds *ps[2] = {a, b};
  eng_ds *n = eng__ds_new(a->s, ENG_OP_CARTESIAN, a->nparts * b->nparts, 2, ps);
  if (n) n->dtype = pair_type(a->s, eng_ds_dtype(a), eng_ds_dtype(b));
  return n;
}

eng_ds *eng_coalesce(eng_ds *d, int nparts, int shuffle) {
  if (nparts <= 0) {
    eng__fail(d->s, ENG_EINVAL, "ValueError: number of partitions must be positive, got %d", nparts);
    return NULL;
  }
  if (shuffle) {
    eng_ds *n = eng__ds_new(d->s, ENG_OP_SHUFFLED, nparts, 1, &d);
    if (!n) return NULL;
    n->sh.part_kind = ENG_PART_RR;
    n->sh.nparts = nparts;
    n->sh.key_whole = 1;
    n->dtype = d->dtype;
    eng_shuffle *sh = eng__shuffle_new(d->s, n, 0);
    if (!sh) {
      eng__fail(d->s, ENG_ENOMEM, "MemoryError: shuffle");
      return NULL;
    }
    n->shuffle_id[0] = sh->id;
    n->origin = eng_arena_strndup(d->s->plan, "", 0);
    char o[512];
    snprintf(o, sizeof o, "repartition at %s", d->s->callsite ? d->s->callsite : "<api>");
    n->origin = eng_arena_strndup(d->s->plan, o, strlen(o));
    return n;
  }
  int P = d->nparts;
  int k = nparts < P ? nparts : P;
  eng_ds *n = eng__ds_new(d->s, ENG_OP_COALESCE, k, 1, &d);
  if (!n) return NULL;
  n->coalesce_from = eng_calloc((size_t)k + 2, sizeof *n->coalesce_from);
  if (!n->coalesce_from) {
    eng__fail(d->s, ENG_ENOMEM, "MemoryError: coalesce");
    return NULL;
  }
  for (int i = 0; i <= k; i++) n->coalesce_from[i] = k ? (int)((int64_t)i * P / k) : 0;
  n->dtype = d->dtype;
  return n;
}

eng_ds *eng_repartition(eng_ds *d, int nparts) { return eng_coalesce(d, nparts, 1); }

/* ------------------------------------------------------------------------ */
/* Wide                                                                     */
/* ------------------------------------------------------------------------ */

/* A shuffled node over d with n partitions, its shuffle registered. */
static eng_ds *shuffled(eng_ds *d, int n, const char *name) {
  eng_ds *x = eng__ds_new(d->s, ENG_OP_SHUFFLED, n, 1, &d);
  if (!x) return NULL;
  x->sh.nparts = n;
  x->sh.part_kind = ENG_PART_HASH;
  x->sh.ascending = 1;
  eng_shuffle *sh = eng__shuffle_new(d->s, x, 0);
  if (!sh) {
    eng__fail(d->s, ENG_ENOMEM, "MemoryError: shuffle");
    return NULL;
  }
  x->shuffle_id[0] = sh->id;
  char o[512];
  snprintf(o, sizeof o, "%s at %s", name, d->s->callsite ? d->s->callsite : "<api>");
  x->origin = eng_arena_strndup(d->s->plan, o, strlen(o));
  x->part_kind = ENG_PART_HASH;
  x->part_n = n;
  return x;
}

static eng_ds *by_key(eng_ds *d, int nparts, int agg, eng_udf *f0, eng_udf *f1, eng_udf *f2,
                      eng_val zero, int combine, const char *name) {
  if (check_pairs(d, name) < 0) return NULL;
  int n = nparts > 0 ? nparts : d->nparts;
  if (n <= 0) n = 1;
  eng_ds *x = shuffled(d, n, name);
  if (!x) return NULL;
  x->sh.agg = agg;
  x->sh.f[0] = f0;
  x->sh.f[1] = f1;
  x->sh.f[2] = f2;
  x->sh.zero = eng_val_copy(d->s->plan, zero);
  x->sh.map_side_combine = combine;
  return x;
}

eng_ds *eng_reduce_by_key(eng_ds *d, eng_udf *f, int nparts) {
  const eng_dtype *vt = item_type(d->dtype, 1);
  if (check_fn_arity(d->s, f, 2, "reduce_by_key", vt) < 0) return NULL;
  eng_ds *x = by_key(d, nparts, ENG_AGG_REDUCE, f, NULL, NULL, eng_none(), 1, "reduce_by_key");
  if (x) x->dtype = d->dtype;
  return x;
}

eng_ds *eng_fold_by_key(eng_ds *d, eng_val zero, eng_udf *f, int nparts) {
  if (check_fn_arity(d->s, f, 2, "fold_by_key", NULL) < 0) return NULL;
  eng_ds *x = by_key(d, nparts, ENG_AGG_FOLD, f, NULL, NULL, zero, 1, "fold_by_key");
  if (x) x->dtype = pair_type(d->s, item_type(d->dtype, 0), ret_type(f));
  return x;
}

eng_ds *eng_aggregate_by_key(eng_ds *d, eng_val zero, eng_udf *seq, eng_udf *comb, int nparts) {
  if (check_fn_arity(d->s, seq, 2, "aggregate_by_key", NULL) < 0 ||
      check_fn_arity(d->s, comb, 2, "aggregate_by_key", NULL) < 0)
    return NULL;
  eng_ds *x = by_key(d, nparts, ENG_AGG_AGGREGATE, seq, comb, NULL, zero, 1, "aggregate_by_key");
  if (x) x->dtype = pair_type(d->s, item_type(d->dtype, 0), ret_type(comb));
  return x;
}

eng_ds *eng_combine_by_key(eng_ds *d, eng_udf *create, eng_udf *merge, eng_udf *merge_combiners,
                           int nparts) {
  if (check_fn_arity(d->s, create, 1, "combine_by_key", item_type(d->dtype, 1)) < 0 ||
      check_fn_arity(d->s, merge, 2, "combine_by_key", NULL) < 0 ||
      check_fn_arity(d->s, merge_combiners, 2, "combine_by_key", NULL) < 0)
    return NULL;
  eng_ds *x = by_key(d, nparts, ENG_AGG_COMBINE, create, merge, merge_combiners, eng_none(), 1,
                     "combine_by_key");
  if (x) x->dtype = pair_type(d->s, item_type(d->dtype, 0), ret_type(merge_combiners));
  return x;
}

eng_ds *eng_group_by_key(eng_ds *d, int nparts) {
  eng_ds *x = by_key(d, nparts, ENG_AGG_GROUP, NULL, NULL, NULL, eng_none(), 0, "group_by_key");
  if (x)
    x->dtype = pair_type(d->s, item_type(d->dtype, 0), eng_dtype_list(d->s, item_type(d->dtype, 1)));
  return x;
}

eng_ds *eng_group_by(eng_ds *d, eng_udf *f, int nparts) {
  eng_ds *k = eng_key_by(d, f);
  if (!k) return NULL;
  eng_ds *x = eng_group_by_key(k, nparts > 0 ? nparts : d->nparts);
  if (x) {
    char o[512];
    snprintf(o, sizeof o, "group_by at %s", d->s->callsite ? d->s->callsite : "<api>");
    x->origin = eng_arena_strndup(d->s->plan, o, strlen(o));
  }
  return x;
}

eng_ds *eng_distinct(eng_ds *d, int nparts) {
  int n = nparts > 0 ? nparts : d->nparts;
  if (n <= 0) n = 1;
  eng_ds *x = shuffled(d, n, "distinct");
  if (!x) return NULL;
  x->sh.key_whole = 1;
  x->sh.agg = ENG_AGG_DISTINCT;
  x->sh.map_side_combine = 1;
  x->dtype = d->dtype;
  x->part_kind = -1; /* whole rows, not pairs: no key partitioning to reuse */
  return x;
}

eng_ds *eng_sort_by_key(eng_ds *d, int ascending, int nparts, eng_udf *keyfn) {
  if (check_pairs(d, "sort_by_key") < 0) return NULL;
  if (keyfn && check_fn_arity(d->s, keyfn, 1, "sort_by_key", item_type(d->dtype, 0)) < 0) return NULL;
  int n = nparts > 0 ? nparts : d->nparts;
  if (n <= 0) n = 1;
  eng_ds *x = shuffled(d, n, "sort_by_key");
  if (!x) return NULL;
  x->sh.part_kind = ENG_PART_RANGE;
  x->sh.ascending = ascending;
  x->sh.keyfn = keyfn;
  x->sh.sort = 1;
  x->sh.bounds_ready = n == 1; /* one partition: nothing to sample */
  x->part_kind = -1;
  x->dtype = d->dtype;
  return x;
}

eng_ds *eng_sort_by(eng_ds *d, eng_udf *keyfn, int ascending, int nparts) {
  eng_ds *k = eng_key_by(d, keyfn);
  if (!k) return NULL;
  eng_ds *s = eng_sort_by_key(k, ascending, nparts > 0 ? nparts : d->nparts, NULL);
  if (!s) return NULL;
  eng_ds *v = eng_values(s);
  if (v) {
    char o[512];
    snprintf(o, sizeof o, "sort_by at %s", d->s->callsite ? d->s->callsite : "<api>");
    v->origin = eng_arena_strndup(d->s->plan, o, strlen(o));
  }
  return v;
}

eng_ds *eng_partition_by(eng_ds *d, int nparts, eng_udf *partfn) {
  if (nparts <= 0) {
    eng__fail(d->s, ENG_EINVAL, "ValueError: number of partitions must be positive, got %d", nparts);
    return NULL;
  }
  if (check_pairs(d, "partition_by") < 0) return NULL;
  if (partfn && check_fn_arity(d->s, partfn, 1, "partition_by", item_type(d->dtype, 0)) < 0) return NULL;
  eng_ds *x = shuffled(d, nparts, "partition_by");
  if (!x) return NULL;
  if (partfn) {
    x->sh.part_kind = ENG_PART_CUSTOM;
    x->sh.keyfn = partfn;
    x->part_kind = -1;
  }
  x->dtype = d->dtype;
  return x;
}

/* ---- cogroup and joins ------------------------------------------------------ */

/* Spark's Partitioner.defaultPartitioner for two pair datasets: the larger
 * existing hash partitioning when it is eligible (within a factor of 10 of
 * the most partitions, or not fewer), else as many partitions as the larger
 * input. */
static int default_cogroup_parts(eng_ds *a, eng_ds *b) {
  int most = a->nparts > b->nparts ? a->nparts : b->nparts, best = 0;
  eng_ds *ps[2] = {a, b};
  for (int i = 0; i < 2; i++)
    if (ps[i]->part_kind == ENG_PART_HASH && ps[i]->part_n > best) best = ps[i]->part_n;
  if (best > 0 && (most < 10 * best || best >= most)) return best;
  return most;
}

static eng_ds *cogroup_node(eng_ds *a, eng_ds *b, int nparts, int whole, const char *name) {
  if (a->s != b->s) {
    eng__fail(a->s, ENG_EINVAL, "ValueError: %s of datasets from different sessions", name);
    return NULL;
  }
  if (!whole && (check_pairs(a, name) < 0 || check_pairs(b, name) < 0)) return NULL;
  int n = nparts > 0 ? nparts : whole ? (a->nparts > b->nparts ? a->nparts : b->nparts)
                                      : default_cogroup_parts(a, b);
  if (n <= 0) n = 1;
  eng_ds *ps[2] = {a, b};
  eng_ds *x = eng__ds_new(a->s, ENG_OP_COGROUP, n, 2, ps);
  if (!x) return NULL;
  x->cogroup_whole[0] = x->cogroup_whole[1] = whole;
  for (int i = 0; i < 2; i++) {
    /* Already hash-partitioned into n by key: read it narrowly. */
    if (!whole && ps[i]->part_kind == ENG_PART_HASH && ps[i]->part_n == n) continue;
    eng_shuffle *sh = eng__shuffle_new(a->s, x, i);
    if (!sh) {
      eng__fail(a->s, ENG_ENOMEM, "MemoryError: shuffle");
      return NULL;
    }
    x->shuffle_id[i] = sh->id;
  }
  x->part_kind = whole ? -1 : ENG_PART_HASH;
  x->part_n = n;
  char o[512];
  snprintf(o, sizeof o, "%s at %s", name, a->s->callsite ? a->s->callsite : "<api>");
  x->origin = eng_arena_strndup(a->s->plan, o, strlen(o));
  const eng_dtype *g[2] = {eng_dtype_list(a->s, whole ? eng_ds_dtype(a) : item_type(a->dtype, 1)),
                           eng_dtype_list(a->s, whole ? eng_ds_dtype(b) : item_type(b->dtype, 1))};
  x->dtype = pair_type(a->s, whole ? eng_ds_dtype(a) : item_type(a->dtype, 0), eng_dtype_tuple(a->s, 2, g));
  return x;
}

eng_ds *eng_cogroup(eng_ds *a, eng_ds *b, int nparts) { return cogroup_node(a, b, nparts, 0, "cogroup"); }

static eng_ds *join_rows(eng_ds *cg, int kind, const char *name, const eng_dtype *t) {
  eng_ds *x = narrow(cg, ENG_OP_JOIN_ROWS, NULL);
  if (!x) return NULL;
  x->join_kind = kind;
  x->dtype = t;
  if (kind <= ENG_JOIN_FULL) keep_partitioning(x, cg);
  char o[512];
  snprintf(o, sizeof o, "%s at %s", name, cg->s->callsite ? cg->s->callsite : "<api>");
  x->origin = eng_arena_strndup(cg->s->plan, o, strlen(o));
  return x;
}

static eng_ds *join_kind(eng_ds *a, eng_ds *b, int nparts, int kind, const char *name) {
  eng_ds *cg = cogroup_node(a, b, nparts, 0, name);
  if (!cg) return NULL;
  const eng_dtype *vs[2] = {item_type(a->dtype, 1), item_type(b->dtype, 1)};
  const eng_dtype *t = pair_type(a->s, item_type(a->dtype, 0), eng_dtype_tuple(a->s, 2, vs));
  return join_rows(cg, kind, name, t);
}

eng_ds *eng_join(eng_ds *a, eng_ds *b, int nparts) { return join_kind(a, b, nparts, ENG_JOIN_INNER, "join"); }
eng_ds *eng_left_outer_join(eng_ds *a, eng_ds *b, int nparts) {
  return join_kind(a, b, nparts, ENG_JOIN_LEFT, "left_outer_join");
}
eng_ds *eng_right_outer_join(eng_ds *a, eng_ds *b, int nparts) {
  return join_kind(a, b, nparts, ENG_JOIN_RIGHT, "right_outer_join");
}
eng_ds *eng_full_outer_join(eng_ds *a, eng_ds *b, int nparts) {
  return join_kind(a, b, nparts, ENG_JOIN_FULL, "full_outer_join");
}

eng_ds *eng_intersection(eng_ds *a, eng_ds *b, int nparts) {
  eng_ds *cg = cogroup_node(a, b, nparts > 0 ? nparts : a->nparts, 1, "intersection");
  return cg ? join_rows(cg, ENG_JOIN_INTERSECT, "intersection", eng_ds_dtype(a)) : NULL;
}

eng_ds *eng_subtract(eng_ds *a, eng_ds *b, int nparts) {
  eng_ds *cg = cogroup_node(a, b, nparts > 0 ? nparts : a->nparts, 1, "subtract");
  return cg ? join_rows(cg, ENG_JOIN_SUBTRACT, "subtract", eng_ds_dtype(a)) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Keep and share                                                           */
/* ------------------------------------------------------------------------ */

eng_ds *eng_persist(eng_ds *d, int level) {
  if (level < ENG_MEMORY_ONLY || level > ENG_DISK_ONLY) {
    eng__fail(d->s, ENG_EINVAL, "ValueError: unknown storage level %d", level);
    return NULL;
  }
  if (d->storage && d->storage != level) {
    eng__fail(d->s, ENG_EINVAL,
              "ValueError: cannot change the storage level of ds[%d] once set; unpersist it first", d->id);
    return NULL;
  }
  if (!d->cached_on) {
    d->cached_on = eng_malloc((size_t)(d->nparts + 1) * sizeof *d->cached_on);
    d->cached_mem = eng_calloc((size_t)d->nparts + 1, sizeof *d->cached_mem);
    d->cached_disk = eng_calloc((size_t)d->nparts + 1, sizeof *d->cached_disk);
    if (!d->cached_on || !d->cached_mem || !d->cached_disk) {
      eng__fail(d->s, ENG_ENOMEM, "MemoryError: persist");
      return NULL;
    }
    for (int p = 0; p < d->nparts; p++) d->cached_on[p] = -1;
  }
  d->storage = level;
  eng__update_status(d->s);
  return d;
}

eng_ds *eng_cache(eng_ds *d) { return eng_persist(d, ENG_MEMORY_ONLY); }

eng_ds *eng_unpersist(eng_ds *d) {
  eng_session *s = d->s;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "rdd_%d_", d->id);
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state != EX_ALIVE) continue;
    json_t *h = json_pack("{s:s, s:s}", "t", "drop", "prefix", prefix);
    eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
    json_decref(h);
  }
  d->storage = 0;
  for (int p = 0; d->cached_on && p < d->nparts; p++) {
    d->cached_on[p] = -1;
    d->cached_mem[p] = d->cached_disk[p] = 0;
  }
  eng__update_status(s);
  return d;
}

eng_ds *eng_checkpoint(eng_ds *d) {
  d->ckpt_requested = 1;
  return d;
}

int eng_is_cached(const eng_ds *d) { return d->storage != 0; }
int eng_is_checkpointed(const eng_ds *d) { return d->ckpt_done; }
int eng_num_partitions(eng_ds *d) { return d->nparts; }
int eng_ds_id(const eng_ds *d) { return d->id; }
eng_session *eng_ds_session(eng_ds *d) { return d->s; }

eng_val eng_broadcast(eng_session *s, eng_val v) {
  if (s->nbcasts == s->capbcasts) {
    int cap = s->capbcasts ? s->capbcasts * 2 : 8;
    eng_bcast *b = eng_realloc(s->bcasts, (size_t)cap * sizeof *b);
    if (!b) {
      eng__fail(s, ENG_ENOMEM, "MemoryError: broadcast");
      return eng_none();
    }
    s->bcasts = b;
    s->capbcasts = cap;
  }
  eng_val *holder = eng_arena_alloc(s->vals, sizeof *holder);
  if (!holder) return eng_none();
  *holder = eng_val_copy(s->vals, eng_deref(v));
  eng_bcast *b = &s->bcasts[s->nbcasts];
  memset(b, 0, sizeof *b);
  b->id = s->nbcasts + 1;
  b->v = *holder;
  eng_buf buf;
  eng_buf_init(&buf);
  eng_val_write(&buf, *holder);
  b->blob = eng_buf_take(&buf, &b->len);
  s->nbcasts++;
  eng_val r = {ENG_V_BCAST | ((uint64_t)b->id << 8), (uint64_t)(uintptr_t)holder};
  return r;
}

eng_val eng_accumulator(eng_session *s, eng_val zero) {
  if (s->naccs == s->capaccs) {
    int cap = s->capaccs ? s->capaccs * 2 : 8;
    eng_accum *a = eng_realloc(s->accs, (size_t)cap * sizeof *a);
    if (!a) {
      eng__fail(s, ENG_ENOMEM, "MemoryError: accumulator");
      return eng_none();
    }
    s->accs = a;
    s->capaccs = cap;
  }
  eng_val *slot = eng_arena_alloc(s->vals, sizeof *slot);
  if (!slot) return eng_none();
  *slot = eng_val_copy(s->vals, eng_deref(zero));
  eng_accum *a = &s->accs[s->naccs];
  a->id = s->naccs + 1;
  a->slot = slot;
  s->naccs++;
  eng_val r = {ENG_V_ACC | ((uint64_t)a->id << 8), (uint64_t)(uintptr_t)slot};
  return r;
}

int eng_acc_value(eng_session *s, eng_val acc, eng_val *out) {
  eng_accum *a = ENG_VKIND(acc) == ENG_V_ACC ? eng__acc_by_id(s, ENG_VLEN(acc)) : NULL;
  if (!a) return eng__fail(s, ENG_ETYPE, "TypeError: acc_value() needs an accumulator, got %s", eng_val_type_name(acc));
  *out = *a->slot;
  return 0;
}

int eng_acc_add(eng_session *s, eng_val acc, eng_val x) {
  eng_accum *a = ENG_VKIND(acc) == ENG_V_ACC ? eng__acc_by_id(s, ENG_VLEN(acc)) : NULL;
  if (!a) return eng__fail(s, ENG_ETYPE, "TypeError: acc_add() needs an accumulator, got %s", eng_val_type_name(acc));
  eng_val sum;
  if (eng_val_add(s->vals, *a->slot, x, &sum, &s->err) < 0) return s->err.code;
  *a->slot = eng_val_copy(s->vals, sum);
  return 0;
}
