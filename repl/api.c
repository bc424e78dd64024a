/* api.c -- the cell API's host side: eng_repl_* functions that cells call
 * (through the macros of cellapi.h), lambdas made into UDFs, and the showing
 * of a cell's last value.
 *
 * Each call into the engine leaves "user code" (udf_leave) and marks the
 * session busy in the engine, so an interrupt cancels the job instead of
 * unwinding through the engine; an engine error is raised (eng__raise) and
 * unwinds the cell to its guard, where it is reported.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/err.h"
#include "../engine/mem.h"
#include "../engine/val.h"
#include "../udf/udf_guard.h"
#include "repl_int.h"

typedef eng_val val;
typedef eng_str str;
typedef eng_ds *ds;
typedef eng_udf *udf;

/* Every host function is reached only through the symbol table below. */
#define HOST(ret, name, args) ret name args; ret name args

static repl *cur(void) {
  if (!repl__current) eng__raise(ENG_ERROR, "Error: no session");
  return repl__current;
}

static void set_site(repl *r, long line) {
  char site[64];
  snprintf(site, sizeof site, "%s:%ld", r->cell_name, line);
  eng_session_set_callsite(r->s, site);
}

static void raise_interrupted(repl *r) __attribute__((noreturn));
static void raise_interrupted(repl *r) {
  eng__raise(ENG_ECANCEL, "Cancelled: interrupted in %s", r->cell_name);
}

/* Leaves user code for the engine. From here until leave_engine, an
 * interrupt cancels the engine's job (actions) instead of unwinding the
 * thread, and is remembered in r->interrupted; one that came before (while
 * this thread was between user code and the engine) cancels the cell now. */
static const char *enter_engine(repl *r, int action) {
  const char *u = udf_current();
  udf_leave();
  r->in_action = action;
  r->in_engine = 1;
  if (r->interrupted) {
    r->in_engine = 0;
    r->in_action = 0;
    raise_interrupted(r);
  }
  return u;
}

/* Back to user code. An interrupt that came while the engine was busy but
 * did not fail the call (no task was running, or the job ended anyway)
 * still cancels the cell: the user asked to stop it. Checked after
 * re-entering user code, so that an interrupt arriving meanwhile either
 * unwinds the thread or is seen here. */
static void leave_engine(repl *r, const char *u) {
  int action = r->in_action;
  r->in_engine = 0;
  r->in_action = 0;
  udf_enter(u);
  if (r->interrupted && eng_session_errcode(r->s) != ENG_ECANCEL) {
    /* A cancel that came just after the job ended would stop the next job
     * of a later cell. */
    if (action) eng_session_clear_cancel(r->s);
    raise_interrupted(r);
  }
}

static void fail(repl *r) __attribute__((noreturn));
static void fail(repl *r) {
  int code = eng_session_errcode(r->s);
  const char *msg = eng_session_errmsg(r->s);
  eng__raise(code ? code : ENG_ERROR, "%s", msg[0] ? msg : "Error: failed");
}

static ds need_ds(ds d, const char *what) {
  if (!d)
    eng__raise(ENG_EINVAL, "ValueError: %s: the dataset is NULL (a ds variable that was never set?)", what);
  return d;
}

static udf need_udf(udf f, const char *what) {
  if (!f) eng__raise(ENG_EINVAL, "ValueError: %s: the function is NULL", what);
  return f;
}

#define CALL(line, action, expr)             \
  ({                                         \
    repl *r_ = cur();                        \
    set_site(r_, (line));                    \
    const char *u_ = enter_engine(r_, (action)); \
    __typeof__(expr) x_ = (expr);            \
    leave_engine(r_, u_);                    \
    x_;                                      \
  })

/* A transformation: NULL means failure (the session holds the error). */
#define TRANSFORM(line, expr)                \
  ({                                         \
    ds d_ = CALL((line), 0, (expr));         \
    if (!d_) fail(cur());                    \
    d_;                                      \
  })

/* An action returning a code; fails on < 0. */
#define ACT(line, expr)                      \
  do {                                       \
    int rc_ = CALL((line), 1, (expr));       \
    if (rc_ < 0) fail(cur());                \
  } while (0)

/* ---- create --------------------------------------------------------------- */

HOST(ds, eng_repl_range, (long line, long start, long end, long step, long slices)) {
  return TRANSFORM(line, eng_range(cur()->s, start, end, step, (int)slices));
}
HOST(ds, eng_repl_parallelize, (long line, val list, long slices)) {
  return TRANSFORM(line, eng_parallelize(cur()->s, list, (int)slices));
}
HOST(ds, eng_repl_text_file, (long line, str path, long minp)) {
  return TRANSFORM(line, eng_text_file(cur()->s, path.ptr, (int)minp));
}
HOST(ds, eng_repl_empty, (long line)) { return TRANSFORM(line, eng_empty(cur()->s)); }

/* ---- transform -------------------------------------------------------------- */

#define T1(name)                                                                 \
  HOST(ds, eng_repl_##name, (long line, ds d)) {                                 \
    return TRANSFORM(line, eng_##name(need_ds(d, #name)));                       \
  }
#define TF(name)                                                                 \
  HOST(ds, eng_repl_##name, (long line, ds d, udf f)) {                          \
    return TRANSFORM(line, eng_##name(need_ds(d, #name), need_udf(f, #name)));   \
  }
#define TN(name)                                                                 \
  HOST(ds, eng_repl_##name, (long line, ds d, long n)) {                         \
    return TRANSFORM(line, eng_##name(need_ds(d, #name), (int)n));               \
  }
#define T2N(name)                                                                \
  HOST(ds, eng_repl_##name, (long line, ds a, ds b, long n)) {                   \
    return TRANSFORM(line, eng_##name(need_ds(a, #name), need_ds(b, #name), (int)n)); \
  }

TF(map)
TF(flat_map)
TF(filter)
TF(map_partitions)
TF(map_partitions_with_index)
TF(map_values)
TF(flat_map_values)
TF(key_by)
TN(distinct)
TN(group_by_key)
TN(repartition)
T1(keys)
T1(values)
T1(zip_with_index)
T1(glom)
T1(cache)
T1(unpersist)
T1(checkpoint)
T2N(intersection)
T2N(subtract)
T2N(join)
T2N(left_outer_join)
T2N(right_outer_join)
T2N(full_outer_join)
T2N(cogroup)

HOST(ds, eng_repl_union_all, (long line, ds a, ds b)) {
  return TRANSFORM(line, eng_union_all(need_ds(a, "union_all"), need_ds(b, "union_all")));
}
HOST(ds, eng_repl_cartesian, (long line, ds a, ds b)) {
  return TRANSFORM(line, eng_cartesian(need_ds(a, "cartesian"), need_ds(b, "cartesian")));
}
HOST(ds, eng_repl_sample, (long line, ds d, bool repl_, double frac, long seed)) {
  return TRANSFORM(line, eng_sample(need_ds(d, "sample"), repl_, frac, seed));
}
HOST(long, eng_repl_random_seed, (void)) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long)(ts.tv_nsec ^ ts.tv_sec * 1000003L);
}
HOST(ds, eng_repl_sort_by, (long line, ds d, udf f, bool asc, long n)) {
  return TRANSFORM(line, eng_sort_by(need_ds(d, "sort_by"), need_udf(f, "sort_by"), asc, (int)n));
}
HOST(ds, eng_repl_sort_by_key, (long line, ds d, bool asc, long n, udf keyfn)) {
  return TRANSFORM(line, eng_sort_by_key(need_ds(d, "sort_by_key"), asc, (int)n, keyfn));
}
HOST(ds, eng_repl_group_by, (long line, ds d, udf f, long n)) {
  return TRANSFORM(line, eng_group_by(need_ds(d, "group_by"), need_udf(f, "group_by"), (int)n));
}
HOST(ds, eng_repl_reduce_by_key, (long line, ds d, udf f, long n)) {
  return TRANSFORM(line, eng_reduce_by_key(need_ds(d, "reduce_by_key"), need_udf(f, "reduce_by_key"), (int)n));
}
HOST(ds, eng_repl_fold_by_key, (long line, ds d, val zero, udf f, long n)) {
  return TRANSFORM(line, eng_fold_by_key(need_ds(d, "fold_by_key"), zero, need_udf(f, "fold_by_key"), (int)n));
}
HOST(ds, eng_repl_aggregate_by_key, (long line, ds d, val zero, udf seq, udf comb, long n)) {
  return TRANSFORM(line, eng_aggregate_by_key(need_ds(d, "aggregate_by_key"), zero,
                                              need_udf(seq, "aggregate_by_key"),
                                              need_udf(comb, "aggregate_by_key"), (int)n));
}
HOST(ds, eng_repl_combine_by_key, (long line, ds d, udf c, udf m, udf mc, long n)) {
  return TRANSFORM(line, eng_combine_by_key(need_ds(d, "combine_by_key"), need_udf(c, "combine_by_key"),
                                            need_udf(m, "combine_by_key"),
                                            need_udf(mc, "combine_by_key"), (int)n));
}
HOST(ds, eng_repl_coalesce, (long line, ds d, long n, bool shuffle)) {
  return TRANSFORM(line, eng_coalesce(need_ds(d, "coalesce"), (int)n, shuffle));
}
HOST(ds, eng_repl_partition_by, (long line, ds d, long n, udf f)) {
  return TRANSFORM(line, eng_partition_by(need_ds(d, "partition_by"), (int)n, f));
}
HOST(ds, eng_repl_persist, (long line, ds d, long level)) {
  return TRANSFORM(line, eng_persist(need_ds(d, "persist"), (int)level));
}

/* ---- act ------------------------------------------------------------------------ */

#define AV(name)                                                                 \
  HOST(val, eng_repl_##name, (long line, ds d)) {                                \
    val out = eng_none();                                                        \
    ACT(line, eng_##name(need_ds(d, #name), &out));                              \
    return out;                                                                  \
  }
#define AD(name)                                                                 \
  HOST(double, eng_repl_##name, (long line, ds d)) {                             \
    double out = 0;                                                              \
    ACT(line, eng_##name(need_ds(d, #name), &out));                              \
    return out;                                                                  \
  }

AV(collect)
AV(first)
AV(sum)
AV(stats)
AV(count_by_key)
AV(count_by_value)
AD(mean)
AD(stdev)
AD(variance)
AD(sample_stdev)
AD(sample_variance)

HOST(long, eng_repl_count, (long line, ds d)) {
  int64_t n = 0;
  ACT(line, eng_count(need_ds(d, "count"), &n));
  return n;
}
HOST(val, eng_repl_take, (long line, ds d, long n)) {
  val out = eng_none();
  ACT(line, eng_take(need_ds(d, "take"), n, &out));
  return out;
}
HOST(val, eng_repl_take_ordered, (long line, ds d, long n, udf key)) {
  val out = eng_none();
  ACT(line, eng_take_ordered(need_ds(d, "take_ordered"), n, key, &out));
  return out;
}
HOST(val, eng_repl_top, (long line, ds d, long n, udf key)) {
  val out = eng_none();
  ACT(line, eng_top(need_ds(d, "top"), n, key, &out));
  return out;
}
HOST(val, eng_repl_reduce, (long line, ds d, udf f)) {
  val out = eng_none();
  ACT(line, eng_reduce(need_ds(d, "reduce"), need_udf(f, "reduce"), &out));
  return out;
}
HOST(val, eng_repl_fold, (long line, ds d, val zero, udf f)) {
  val out = eng_none();
  ACT(line, eng_fold(need_ds(d, "fold"), zero, need_udf(f, "fold"), &out));
  return out;
}
HOST(val, eng_repl_aggregate, (long line, ds d, val zero, udf seq, udf comb)) {
  val out = eng_none();
  ACT(line, eng_aggregate(need_ds(d, "aggregate"), zero, need_udf(seq, "aggregate"),
                          need_udf(comb, "aggregate"), &out));
  return out;
}
HOST(val, eng_repl_min, (long line, ds d, udf key)) {
  val out = eng_none();
  ACT(line, eng_min(need_ds(d, "min"), key, &out));
  return out;
}
HOST(val, eng_repl_max, (long line, ds d, udf key)) {
  val out = eng_none();
  ACT(line, eng_max(need_ds(d, "max"), key, &out));
  return out;
}
HOST(val, eng_repl_histogram, (long line, ds d, val buckets)) {
  val out = eng_none();
  ACT(line, eng_histogram(need_ds(d, "histogram"), buckets, &out));
  return out;
}
HOST(void, eng_repl_foreach, (long line, ds d, udf f)) {
  ACT(line, eng_foreach(need_ds(d, "foreach"), need_udf(f, "foreach")));
}
HOST(void, eng_repl_save_as_text_file, (long line, ds d, str path, str codec)) {
  ACT(line, eng_save_as_text_file(need_ds(d, "save_as_text_file"), path.ptr, codec.ptr));
}
HOST(long, eng_repl_num_partitions, (long line, ds d)) {
  (void)line;
  return eng_num_partitions(need_ds(d, "num_partitions"));
}
HOST(bool, eng_repl_is_empty, (long line, ds d)) {
  int e = 0;
  ACT(line, eng_is_empty(need_ds(d, "is_empty"), &e));
  return e;
}

/* ---- share ------------------------------------------------------------------------- */

/* These are quick, but they too run as engine calls: an interrupt must not
 * unwind the thread out of the middle of the engine's bookkeeping. */
HOST(val, eng_repl_broadcast, (long line, val v)) {
  return CALL(line, 0, eng_broadcast(cur()->s, v));
}
HOST(val, eng_repl_accumulator, (long line, val zero)) {
  return CALL(line, 0, eng_accumulator(cur()->s, zero));
}
HOST(val, eng_repl_acc_value, (long line, val acc)) {
  val out = eng_none();
  if (CALL(line, 0, eng_acc_value(cur()->s, acc, &out)) < 0) fail(cur());
  return out;
}

/* ---- look --------------------------------------------------------------------------- */

/* The front end's code runs with the cell-cancel signal blocked: an
 * interrupt arriving meanwhile (Ctrl-C, a Jupyter interrupt) would unwind
 * out of the middle of its stdio or ZeroMQ calls. Pending, it unwinds the
 * cell just after. */
static void display(repl *r, const char *text, const eng_table *t) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, UDF_SIG_CANCEL);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (r->out && r->out->display) {
    r->out->display(r->out->ctx, text, t);
  } else {
    fputs(text, stdout);
    fflush(stdout);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

HOST(void, eng_repl_show, (long line, ds d, long n)) {
  repl *r = cur();
  eng_table t;
  ACT(line, eng_show_table(need_ds(d, "show"), (int)n, &t));
  eng_buf b;
  eng_buf_init(&b);
  eng_table_format(&t, 20, &b);
  display(r, eng_buf_cstr(&b), &t);
  eng_buf_free(&b);
}

/* The lineage is formatted and shown with the cancel signal blocked, like
 * display(): an interrupt unwinds the cell only once the text is freed. */
HOST(void, eng_repl_explain, (long line, ds d)) {
  (void)line;
  repl *r = cur();
  ds x = need_ds(d, "explain");
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, UDF_SIG_CANCEL);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  eng_buf b;
  eng_buf_init(&b);
  eng_explain(x, &b);
  display(r, eng_buf_cstr(&b), NULL);
  eng_buf_free(&b);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- lambdas -------------------------------------------------------------------------- */

/* Makes the UDF of lambda `id` with these captured values and their C
 * types. The definition is kept while the capture types stay the same, so
 * a lambda in a loop compiles once. */
HOST(udf, eng_repl_lambda, (long id, long ncaps, const val *caps, const int *types)) {
  repl *r = cur();
  if (id < 0 || id >= r->nlams) eng__raise(ENG_ERROR, "Error: unknown lambda %ld", id);
  repl_lam *m = &r->lams[id];
  for (long i = 0; i < ncaps; i++)
    if (types[i] < 0)
      eng__raise(ENG_ETYPE,
                 "TypeError: %s: cannot capture '%s': lambdas capture long, int, double, bool, str, "
                 "char * and val values",
                 m->name, m->cap_names[i]);
  int same = m->def && m->def->ncaps == ncaps;
  for (long i = 0; same && i < ncaps; i++) same = (int)m->def->cap_types[i] == types[i];
  if (!same) {
    udf_type ct[REPL_MAX_CAPS];
    for (long i = 0; i < ncaps; i++) ct[i] = (udf_type)types[i];
    udf_def_free(m->def);
    m->def = udf_def_new(m->name, m->src, m->entry, m->ret, m->nparams, m->params, (int)ncaps,
                         (const char *const *)m->cap_names, ct);
    if (!m->def) eng__raise(ENG_ENOMEM, "MemoryError: lambda");
  }
  const char *u = enter_engine(r, 0);
  eng_udf *f = eng_udf_new(r->s, m->def, caps);
  leave_engine(r, u);
  if (!f) fail(r);
  if (m->ret_dtype && m->ret_dtype[0]) eng_udf_set_result_dtype(f, repl__parse_dtype(r->s, m->ret_dtype));
  return f;
}

/* ---- showing the last value ------------------------------------------------------------ */

static eng_buf *result_buf(void) {
  repl *r = cur();
  r->has_result = 1;
  r->result.len = 0;
  return &r->result;
}

HOST(void, eng_repl_show_long, (long x)) { eng_buf_printf(result_buf(), "%ld", x); }
HOST(void, eng_repl_show_ulong, (unsigned long x)) { eng_buf_printf(result_buf(), "%lu", x); }
HOST(void, eng_repl_show_double, (double x)) { eng_val_repr(result_buf(), eng_double(x)); }
HOST(void, eng_repl_show_bool, (_Bool x)) { eng_buf_puts(result_buf(), x ? "True" : "False"); }
HOST(void, eng_repl_show_str, (str x)) { eng_val_repr(result_buf(), eng_strv(x.ptr ? x.ptr : "", x.len)); }
HOST(void, eng_repl_show_cstr, (const char *x)) {
  eng_val_repr(result_buf(), x ? eng_strv(x, (long)strlen(x)) : eng_none());
}
HOST(void, eng_repl_show_val, (val x)) { eng_val_repr(result_buf(), x); }
HOST(void, eng_repl_show_ds, (ds x)) {
  eng_buf *b = result_buf();
  if (x)
    eng_ds_describe(x, b);
  else
    eng_buf_puts(b, "None");
}
HOST(void, eng_repl_show_udf, (udf x)) {
  eng_buf *b = result_buf();
  if (x)
    eng_buf_printf(b, "<%s%s>", eng_udf_def(x)->builtin ? "builtin " : "", eng_udf_def(x)->name);
  else
    eng_buf_puts(b, "None");
}
HOST(void, eng_repl_show_ptr, (const void *x)) {
  eng_buf *b = result_buf();
  if (x)
    eng_buf_printf(b, "<pointer %p>", x);
  else
    eng_buf_puts(b, "NULL");
}

/* ---- dtypes from lambda inference ----------------------------------------------------- */

static const eng_dtype *parse_dt(eng_session *s, const char **p) {
  const char *q = *p;
  if (*q == '(') {
    const eng_dtype *items[64];
    int n = 0;
    q++;
    while (*q && *q != ')') {
      if (n < 64) items[n++] = parse_dt(s, &q);
      else parse_dt(s, &q);
      if (*q == ',') q++;
    }
    if (*q == ')') q++;
    *p = q;
    return eng_dtype_tuple(s, n, items);
  }
  if (strncmp(q, "list[", 5) == 0) {
    q += 5;
    const eng_dtype *e = parse_dt(s, &q);
    if (*q == ']') q++;
    *p = q;
    return eng_dtype_list(s, e);
  }
  static const struct {
    const char *name;
    int kind;
  } simple[] = {{"long", ENG_DT_LONG}, {"double", ENG_DT_DOUBLE}, {"bool", ENG_DT_BOOL},
                {"str", ENG_DT_STR}, {"None", ENG_DT_NONE}, {"?", ENG_DT_ANY}};
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
    size_t n = strlen(simple[i].name);
    if (strncmp(q, simple[i].name, n) == 0) {
      *p = q + n;
      return eng_dtype_simple(simple[i].kind);
    }
  }
  while (**p && **p != ',' && **p != ')' && **p != ']') (*p)++;
  return eng_dtype_simple(ENG_DT_ANY);
}

const eng_dtype *repl__parse_dtype(eng_session *s, const char *text) {
  const char *p = text;
  return parse_dt(s, &p);
}

/* ---- the symbol table -------------------------------------------------------------------- */

static eng_udf *g_add;

#define S(f) {#f, (void *)f}
static const struct {
  const char *name;
  void *addr;
} syms[] = {
    S(eng_repl_range), S(eng_repl_parallelize), S(eng_repl_text_file), S(eng_repl_empty),
    S(eng_repl_map), S(eng_repl_flat_map), S(eng_repl_filter), S(eng_repl_map_partitions),
    S(eng_repl_map_partitions_with_index), S(eng_repl_distinct), S(eng_repl_union_all),
    S(eng_repl_intersection), S(eng_repl_subtract), S(eng_repl_cartesian), S(eng_repl_sample),
    S(eng_repl_random_seed), S(eng_repl_sort_by), S(eng_repl_sort_by_key), S(eng_repl_group_by),
    S(eng_repl_group_by_key), S(eng_repl_reduce_by_key), S(eng_repl_fold_by_key),
    S(eng_repl_aggregate_by_key), S(eng_repl_combine_by_key), S(eng_repl_join),
    S(eng_repl_left_outer_join), S(eng_repl_right_outer_join), S(eng_repl_full_outer_join),
    S(eng_repl_cogroup), S(eng_repl_keys), S(eng_repl_values), S(eng_repl_map_values),
    S(eng_repl_flat_map_values), S(eng_repl_key_by), S(eng_repl_zip_with_index),
    S(eng_repl_glom), S(eng_repl_repartition), S(eng_repl_coalesce), S(eng_repl_partition_by),
    S(eng_repl_collect), S(eng_repl_count), S(eng_repl_first), S(eng_repl_take),
    S(eng_repl_take_ordered), S(eng_repl_top), S(eng_repl_reduce), S(eng_repl_fold),
    S(eng_repl_aggregate), S(eng_repl_sum), S(eng_repl_mean), S(eng_repl_min), S(eng_repl_max),
    S(eng_repl_stdev), S(eng_repl_variance), S(eng_repl_sample_stdev),
    S(eng_repl_sample_variance), S(eng_repl_stats), S(eng_repl_histogram),
    S(eng_repl_count_by_key), S(eng_repl_count_by_value), S(eng_repl_foreach),
    S(eng_repl_save_as_text_file), S(eng_repl_num_partitions), S(eng_repl_is_empty),
    S(eng_repl_cache), S(eng_repl_persist), S(eng_repl_unpersist), S(eng_repl_checkpoint),
    S(eng_repl_broadcast), S(eng_repl_accumulator), S(eng_repl_acc_value), S(eng_repl_show),
    S(eng_repl_explain), S(eng_repl_lambda), S(eng_repl_show_long), S(eng_repl_show_ulong),
    S(eng_repl_show_double), S(eng_repl_show_bool), S(eng_repl_show_str),
    S(eng_repl_show_cstr), S(eng_repl_show_val), S(eng_repl_show_ds), S(eng_repl_show_udf),
    S(eng_repl_show_ptr), {"add", (void *)&g_add},
};
#define NSYMS (int)(sizeof syms / sizeof syms[0])

static const char *sym_names[NSYMS];
static void *sym_addrs[NSYMS];

int repl__api_symbols(const char *const **names, void *const **addrs) {
  if (repl__current) g_add = repl__current->add;
  for (int i = 0; i < NSYMS; i++) {
    sym_names[i] = syms[i].name;
    sym_addrs[i] = syms[i].addr;
  }
  *names = sym_names;
  *addrs = sym_addrs;
  return NSYMS;
}
