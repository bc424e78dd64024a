/* plan.c -- dataset nodes, static element types, and UDF instances. */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "session_int.h"
#include "val.h"

static const struct {
  const char *cls, *name;
} op_info[ENG_OP__COUNT] = {
    [ENG_OP_RANGE] = {"ParallelCollectionRDD", "range"},
    [ENG_OP_PARALLELIZE] = {"ParallelCollectionRDD", "parallelize"},
    [ENG_OP_TEXT] = {"HadoopRDD", "text_file"},
    [ENG_OP_EMPTY] = {"EmptyRDD", "empty"},
    [ENG_OP_MAP] = {"MapPartitionsRDD", "map"},
    [ENG_OP_FLAT_MAP] = {"MapPartitionsRDD", "flat_map"},
    [ENG_OP_FILTER] = {"MapPartitionsRDD", "filter"},
    [ENG_OP_KEYS] = {"MapPartitionsRDD", "keys"},
    [ENG_OP_VALUES] = {"MapPartitionsRDD", "values"},
    [ENG_OP_MAP_VALUES] = {"MapPartitionsRDD", "map_values"},
    [ENG_OP_FLAT_MAP_VALUES] = {"MapPartitionsRDD", "flat_map_values"},
    [ENG_OP_KEY_BY] = {"MapPartitionsRDD", "key_by"},
    [ENG_OP_SAMPLE] = {"PartitionwiseSampledRDD", "sample"},
    [ENG_OP_ZIP_INDEX] = {"ZippedWithIndexRDD", "zip_with_index"},
    [ENG_OP_MAP_PARTS] = {"MapPartitionsRDD", "map_partitions"},
    [ENG_OP_MAP_PARTS_IDX] = {"MapPartitionsRDD", "map_partitions_with_index"},
    [ENG_OP_GLOM] = {"MapPartitionsRDD", "glom"},
    [ENG_OP_JOIN_ROWS] = {"MapPartitionsRDD", "join"},
    [ENG_OP_UNION] = {"UnionRDD", "union_all"},
    [ENG_OP_CARTESIAN] = {"CartesianRDD", "cartesian"},
    [ENG_OP_COALESCE] = {"CoalescedRDD", "coalesce"},
    [ENG_OP_SHUFFLED] = {"ShuffledRDD", "shuffle"},
    [ENG_OP_COGROUP] = {"CoGroupedRDD", "cogroup"},
};

const char *eng__op_class(eng_op op) { return op_info[op].cls; }
const char *eng__op_name(eng_op op) { return op_info[op].name; }

int eng__ds_is_source(const eng_ds *d) {
  return d->op == ENG_OP_RANGE || d->op == ENG_OP_PARALLELIZE || d->op == ENG_OP_TEXT ||
         d->op == ENG_OP_EMPTY;
}

int eng__ds_is_wide(const eng_ds *d) { return d->op == ENG_OP_SHUFFLED || d->op == ENG_OP_COGROUP; }

eng_ds *eng__ds_new(eng_session *s, eng_op op, int nparts, int nparents, eng_ds *const *parents) {
  eng_ds *d = eng_calloc(1, sizeof *d);
  if (!d) {
    eng__fail(s, ENG_ENOMEM, "MemoryError: dataset");
    return NULL;
  }
  if (s->nds == s->capds) {
    int cap = s->capds ? s->capds * 2 : 64;
    eng_ds **v = eng_realloc(s->ds, (size_t)cap * sizeof *v);
    if (!v) {
      eng_free(d);
      eng__fail(s, ENG_ENOMEM, "MemoryError: dataset");
      return NULL;
    }
    s->ds = v;
    s->capds = cap;
  }
  d->s = s;
  d->id = s->nds;
  d->op = op;
  d->nparts = nparts;
  d->nparents = nparents;
  for (int i = 0; i < nparents; i++) d->parents[i] = parents[i];
  d->shuffle_id[0] = d->shuffle_id[1] = -1;
  d->part_kind = -1;
  char origin[512];
  snprintf(origin, sizeof origin, "%s at %s", op_info[op].name, s->callsite ? s->callsite : "<api>");
  d->origin = eng_arena_strndup(s->plan, origin, strlen(origin));
  s->ds[s->nds++] = d;
  return d;
}

/* ------------------------------------------------------------------------ */
/* Static types                                                             */
/* ------------------------------------------------------------------------ */

static const eng_dtype simple_types[] = {
    {ENG_DT_ANY, 0, NULL},  {ENG_DT_NONE, 0, NULL}, {ENG_DT_BOOL, 0, NULL},
    {ENG_DT_LONG, 0, NULL}, {ENG_DT_DOUBLE, 0, NULL}, {ENG_DT_STR, 0, NULL},
};

const eng_dtype *eng_dtype_simple(int kind) {
  return kind >= 0 && kind <= ENG_DT_STR ? &simple_types[kind] : &simple_types[0];
}

const eng_dtype *eng_dtype_tuple(eng_session *s, int n, const eng_dtype *const *items) {
  eng_dtype *t = eng_arena_alloc(s->plan, sizeof *t);
  const eng_dtype **it = eng_arena_alloc(s->plan, (size_t)(n + 1) * sizeof *it);
  if (!t || !it) return eng_dtype_simple(ENG_DT_ANY);
  for (int i = 0; i < n; i++) it[i] = items[i] ? items[i] : eng_dtype_simple(ENG_DT_ANY);
  t->kind = ENG_DT_TUPLE;
  t->n = n;
  t->items = it;
  return t;
}

const eng_dtype *eng_dtype_list(eng_session *s, const eng_dtype *elem) {
  eng_dtype *t = eng_arena_alloc(s->plan, sizeof *t);
  const eng_dtype **it = eng_arena_alloc(s->plan, sizeof *it);
  if (!t || !it) return eng_dtype_simple(ENG_DT_ANY);
  it[0] = elem ? elem : eng_dtype_simple(ENG_DT_ANY);
  t->kind = ENG_DT_LIST;
  t->n = 1;
  t->items = it;
  return t;
}

static int dt_equal(const eng_dtype *a, const eng_dtype *b) {
  if (a->kind != b->kind || a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (!dt_equal(a->items[i], b->items[i])) return 0;
  return 1;
}

/* The common type of two (None unifies with anything: values may be None). */
static const eng_dtype *dt_unify(eng_session *s, const eng_dtype *a, const eng_dtype *b) {
  if (!a) return b;
  if (a->kind == ENG_DT_NONE) return b;
  if (b->kind == ENG_DT_NONE) return a;
  if (dt_equal(a, b)) return a;
  if (a->kind == b->kind && a->n == b->n && (a->kind == ENG_DT_TUPLE || a->kind == ENG_DT_LIST)) {
    const eng_dtype *items[64];
    if (a->n > 64) return eng_dtype_simple(ENG_DT_ANY);
    for (int i = 0; i < a->n; i++) items[i] = dt_unify(s, a->items[i], b->items[i]);
    return a->kind == ENG_DT_LIST ? eng_dtype_list(s, items[0]) : eng_dtype_tuple(s, a->n, items);
  }
  return eng_dtype_simple(ENG_DT_ANY);
}

const eng_dtype *eng_dtype_of(eng_session *s, eng_val v) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: return eng_dtype_simple(ENG_DT_NONE);
    case ENG_V_BOOL: return eng_dtype_simple(ENG_DT_BOOL);
    case ENG_V_LONG: return eng_dtype_simple(ENG_DT_LONG);
    case ENG_V_DOUBLE: return eng_dtype_simple(ENG_DT_DOUBLE);
    case ENG_V_STR: return eng_dtype_simple(ENG_DT_STR);
    case ENG_V_TUPLE: {
      long n = ENG_VLEN(v);
      if (n > 64) return eng_dtype_simple(ENG_DT_ANY);
      const eng_dtype *items[64];
      for (long i = 0; i < n; i++) items[i] = eng_dtype_of(s, eng_v_items(v)[i]);
      return eng_dtype_tuple(s, (int)n, items);
    }
    case ENG_V_LIST: {
      const eng_dtype *e = NULL;
      long n = ENG_VLEN(v);
      /* Sample the first elements; a list of many shapes is list[?]. */
      for (long i = 0; i < n && i < 256; i++) {
        e = dt_unify(s, e, eng_dtype_of(s, eng_v_items(v)[i]));
        if (e->kind == ENG_DT_ANY) break;
      }
      return eng_dtype_list(s, e ? e : eng_dtype_simple(ENG_DT_ANY));
    }
    default: return eng_dtype_simple(ENG_DT_ANY);
  }
}

/* The element type of a list value's items (parallelize). */
const eng_dtype *eng__dtype_of_items(eng_session *s, eng_val list) {
  const eng_dtype *e = NULL;
  long n = ENG_VLEN(list);
  for (long i = 0; i < n && i < 1024; i++) {
    e = dt_unify(s, e, eng_dtype_of(s, eng_v_items(list)[i]));
    if (e->kind == ENG_DT_ANY) break;
  }
  return e ? e : eng_dtype_simple(ENG_DT_ANY);
}

void eng_dtype_format(const eng_dtype *t, eng_buf *out) {
  if (!t) {
    eng_buf_puts(out, "?");
    return;
  }
  switch (t->kind) {
    case ENG_DT_ANY: eng_buf_puts(out, "?"); break;
    case ENG_DT_NONE: eng_buf_puts(out, "None"); break;
    case ENG_DT_BOOL: eng_buf_puts(out, "bool"); break;
    case ENG_DT_LONG: eng_buf_puts(out, "long"); break;
    case ENG_DT_DOUBLE: eng_buf_puts(out, "double"); break;
    case ENG_DT_STR: eng_buf_puts(out, "str"); break;
    case ENG_DT_LIST:
      eng_buf_puts(out, "list[");
      eng_dtype_format(t->items[0], out);
      eng_buf_puts(out, "]");
      break;
    case ENG_DT_TUPLE:
      eng_buf_puts(out, "(");
      for (int i = 0; i < t->n; i++) {
        if (i) eng_buf_puts(out, ", ");
        eng_dtype_format(t->items[i], out);
      }
      eng_buf_puts(out, t->n == 1 ? ",)" : ")");
      break;
  }
}

const eng_dtype *eng_ds_dtype(const eng_ds *d) { return d->dtype ? d->dtype : eng_dtype_simple(ENG_DT_ANY); }

/* ------------------------------------------------------------------------ */
/* UDF instances                                                            */
/* ------------------------------------------------------------------------ */

static eng_udf *register_udf(eng_session *s, eng_udf *f) {
  if (s->nudfs == s->capudfs) {
    int cap = s->capudfs ? s->capudfs * 2 : 32;
    eng_udf **v = eng_realloc(s->udfs, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    s->udfs = v;
    s->capudfs = cap;
  }
  f->id = s->nudfs;
  s->udfs[s->nudfs++] = f;
  return f;
}

/* Checks that a captured value can become the capture's C type. */
static int check_cap(eng_session *s, const udf_def *def, int i, eng_val v) {
  eng_err e;
  int64_t x;
  double d;
  eng_str str;
  int rc = 0;
  switch (def->cap_types[i]) {
    case UDF_LONG:
    case UDF_INT: rc = eng_val_as_long(v, &x, &e); break;
    case UDF_DOUBLE: rc = eng_val_as_double(v, &d, &e); break;
    case UDF_STR:
    case UDF_CSTR: rc = eng_val_as_str(v, &str, &e); break;
    default: break;
  }
  if (rc < 0)
    return eng__fail(s, ENG_ETYPE, "TypeError: captured '%s' of %s: %s", def->cap_names[i],
                     def->name, e.msg + strlen("TypeError: "));
  return 0;
}

eng_udf *eng_udf_new(eng_session *s, const udf_def *def, const eng_val *caps) {
  for (int i = 0; i < def->ncaps; i++)
    if (check_cap(s, def, i, caps[i]) < 0) return NULL;
  eng_udf *f = eng_calloc(1, sizeof *f);
  if (!f) {
    eng__fail(s, ENG_ENOMEM, "MemoryError: UDF");
    return NULL;
  }
  f->s = s;
  f->def = udf_def_copy(def);
  f->ncaps = def->ncaps;
  f->caps = eng_arena_alloc(s->vals, (size_t)(def->ncaps + 1) * sizeof *f->caps);
  if (!f->def || !f->caps) {
    udf_def_free(f->def);
    eng_free(f);
    eng__fail(s, ENG_ENOMEM, "MemoryError: UDF");
    return NULL;
  }
  for (int i = 0; i < def->ncaps; i++) {
    int k = ENG_VKIND(caps[i]);
    f->caps[i] = (k == ENG_V_BCAST || k == ENG_V_ACC) ? caps[i] : eng_val_copy(s->vals, caps[i]);
  }
  f->fn = udf_cache_get(s->udfc, f->def, &s->err);
  if (!f->fn || !register_udf(s, f)) {
    if (f->fn) eng__fail(s, ENG_ENOMEM, "MemoryError: UDF");
    udf_def_free(f->def);
    eng_free(f);
    return NULL;
  }
  return f;
}

eng_udf *eng_udf_builtin(eng_session *s, const char *name) {
  udf_def *d = udf_def_builtin(name);
  if (!d) {
    eng__fail(s, ENG_EINVAL, "ValueError: no builtin function '%s'", name);
    return NULL;
  }
  eng_udf *f = eng_udf_new(s, d, NULL);
  udf_def_free(d);
  return f;
}

const udf_def *eng_udf_def(const eng_udf *f) { return f->def; }
void eng_udf_set_result_dtype(eng_udf *f, const eng_dtype *t) { f->ret_dtype = t; }

int eng__udf_caps_blob(eng_udf *f) {
  if (f->caps_blob || f->ncaps == 0) return 0;
  eng_buf b;
  eng_buf_init(&b);
  eng_buf_varint(&b, (uint64_t)f->ncaps);
  for (int i = 0; i < f->ncaps; i++) {
    if (ENG_VKIND(f->caps[i]) == ENG_V_BCAST) {
      eng_buf_u8(&b, 1);
      eng_buf_varint(&b, (uint64_t)ENG_VLEN(f->caps[i]));
    } else {
      eng_buf_u8(&b, 0);
      eng_val_write(&b, f->caps[i]);
    }
  }
  if (b.oom) {
    eng_buf_free(&b);
    return ENG_ENOMEM;
  }
  f->caps_blob = eng_buf_take(&b, &f->caps_len);
  return f->caps_blob ? 0 : ENG_ENOMEM;
}
