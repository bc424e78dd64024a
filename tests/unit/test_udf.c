/* test_udf.c -- unit tests for udf/: compiling C lambdas with libtcc (the
 * generic entry, typed kernels, captures, the cache, JSON shipping, compile
 * errors), the builtin `add`, the prelude helpers through real compiled
 * lambdas, and udf_guard (crashes, raised errors and cancels come back as
 * errors and the process keeps working).
 *
 * Under ASan (make MODE=asan) run it with
 *   ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:allow_user_segv_handler=1:detect_leaks=1
 * handle_segv/handle_sigbus/handle_sigfpe=0 keep ASan from installing its
 * own handlers for the fault signals and allow_user_segv_handler=1 lets
 * udf_guard_install's sigaction calls win, so a fault in a lambda unwinds
 * to udf_guard instead of ending in an ASan report; handle_abort=0 does the
 * same for abort(). With gcc 12's libasan (Debian 12) the defaults already
 * behave so and the tests also pass with ASAN_OPTIONS unset; the explicit
 * list keeps them passing on toolchains with other defaults. ASan's own
 * alternate signal stacks (use_sigaltstack=1, the default) are fine: every
 * thread here replaces its stack with udf_guard_thread_init's, which is
 * disabled and freed at thread exit before ASan tears down the thread.
 *
 * Expected values for Python semantics (split, str.split(), strip, int(),
 * float(), len, indexing, repr, `in`) were printed by Debian's Python 3.11:
 *   PYTHONHASHSEED=0 /usr/bin/python3 gen_udf.py
 * where gen_udf.py prints repr(s.split(sep)), repr(s.split()), repr(s.strip()),
 * repr(int(s)) / the ValueError text, repr(float(s)) / the ValueError text,
 * len(s), s[i] and repr(x) for the inputs used below, as written in the
 * tables and comments of each test.
 */
#include "th.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "../../engine/arena.h"
#include "../../engine/err.h"
#include "../../engine/val.h"
#include "../../udf/udf.h"
#include "../../udf/udf_guard.h"
#include "../../udf/udf_tier.h"

/* ---- fixture ------------------------------------------------------------- */

static udf_cache *cache;
static eng_arena *arena;

/* Every test starts with guards installed (once per process), this
 * thread's alternate stack, a current arena and an empty cache. */
static void setup(void) {
  /* Every test: cmocka installs its own SIGSEGV/SIGFPE/... handlers around
   * each test, replacing udf_guard's. */
  assert_int_equal(udf_guard_install(), 0);
  assert_int_equal(udf_guard_thread_init(), 0);
  arena = eng_arena_new(0);
  eng_arena_set_current(arena);
  cache = udf_cache_new();
  udf_set_emit(NULL, NULL);
  udf_set_acc(NULL, NULL);
}

static void teardown(void) {
  udf_cache_free(cache);
  cache = NULL;
  eng_arena_set_current(NULL);
  eng_arena_free(arena);
  arena = NULL;
}

#define FIX_BEGIN() \
  TH_MEM_BEGIN();   \
  setup()
#define FIX_END() \
  teardown();     \
  TH_MEM_END()

static eng_val sv(const char *s) { return eng_strv(s, (long)strlen(s)); }

static const char *repr(eng_val v) {
  static char out[1024];
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b));
  eng_buf_free(&b);
  return out;
}

/* Compiles source (entry `f`) with the given signature and captures; fails
 * the test with the CompileError if it does not compile. */
static udf_fn *mk_caps(const char *src, udf_type ret, int np, const udf_type *pt, int ncaps,
                       const char *const *cn, const udf_type *ct) {
  udf_def *d = udf_def_new("lambda at test", src, "f", ret, np, pt, ncaps, cn, ct);
  assert_non_null(d);
  eng_err e = {0};
  udf_fn *fn = udf_cache_get(cache, d, &e);
  udf_def_free(d);
  if (!fn) fail_msg("compile failed: %s\nsource: %s", e.msg, src);
  return fn;
}

static udf_fn *mk(const char *src, udf_type ret, int np, const udf_type *pt) {
  return mk_caps(src, ret, np, pt, 0, NULL, NULL);
}

/* Calls fn under a guard; 0 and *out, or the error code and *err. */
static int run(udf_fn *fn, const eng_val *args, eng_val *out, eng_err *err) {
  udf_guard g;
  if (UDF_TRY(&g)) {
    udf_enter(fn->def->name);
    *out = fn->call(args);
    udf_leave();
    udf_guard_pop(&g);
    return 0;
  }
  if (err) *err = g.err;
  return g.err.code ? g.err.code : ENG_ERROR;
}

/* The repr of what fn returns for args, or the error message. */
static const char *call_repr(udf_fn *fn, const eng_val *args) {
  static char out[1024];
  eng_val v;
  eng_err e;
  if (run(fn, args, &v, &e) == 0)
    snprintf(out, sizeof out, "%s", repr(v));
  else
    snprintf(out, sizeof out, "%s", e.msg);
  return out;
}

/* Compiles `val f(void) { return EMBER_V(expr); }` and returns the repr of
 * its result or the error it raised. EMBER_V (prelude.h) turns any helper
 * result (val, str, char *, bool, long, double) into a val. */
static const char *ev(const char *expr) {
  char src[2048];
  snprintf(src, sizeof src, "val f(void) {\n  return EMBER_V(%s);\n}\n", expr);
  return call_repr(mk(src, UDF_VAL, 0, NULL), NULL);
}

/* Asserts ev(expr) == want. */
#define EV(expr, want)                                                         \
  do {                                                                         \
    const char *got_ = ev(expr);                                               \
    if (strcmp(got_, want) != 0) fail_msg("%s\n  got  %s\n  want %s", expr, got_, want); \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const udf_type P_L[] = {UDF_LONG}, P_I[] = {UDF_INT}, P_D[] = {UDF_DOUBLE},
                      P_B[] = {UDF_BOOL}, P_S[] = {UDF_STR}, P_C[] = {UDF_CSTR},
                      P_V[] = {UDF_VAL}, P_LL[] = {UDF_LONG, UDF_LONG},
                      P_DD[] = {UDF_DOUBLE, UDF_DOUBLE};

/* ---- definitions ----------------------------------------------------------- */

static void udf_type_names_roundtrip(void **state) {
  (void)state;
  const char *names[] = {"void", "long", "int", "double", "bool", "str", "char *", "val"};
  for (int t = 0; t <= UDF_VAL; t++) {
    assert_string_equal(udf_type_name((udf_type)t), names[t]);
    assert_int_equal(udf_type_parse(names[t]), t);
  }
  assert_int_equal(udf_type_parse("char*"), UDF_CSTR);
  assert_int_equal(udf_type_parse("const char *"), UDF_CSTR);
  assert_int_equal(udf_type_parse("float"), -1);
  assert_string_equal(udf_type_name((udf_type)99), "?");
}

/* udf_def_new copies its arguments and hashes everything but the name;
 * copies keep the hash; bad parameter counts are refused. */
static void udf_def_new_copy_and_hash(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  char src[] = "long f(long x) { return x; }";
  const char *cn[] = {"k"};
  udf_type ct[] = {UDF_LONG};
  udf_def *a = udf_def_new("one", src, "f", UDF_LONG, 1, P_L, 1, cn, ct);
  udf_def *b = udf_def_new("two", src, "f", UDF_LONG, 1, P_L, 1, cn, ct);
  src[0] = 'x'; /* copied, not borrowed */
  assert_string_equal(a->source, "long f(long x) { return x; }");
  assert_int_equal(a->hash, b->hash); /* the name is not part of the hash */
  udf_def *c = udf_def_copy(a);
  assert_int_equal(c->hash, a->hash);
  assert_string_equal(c->name, "one");
  assert_string_equal(c->cap_names[0], "k");
  udf_def *d = udf_def_new("one", "long f(long x) { return x; }", "f", UDF_DOUBLE, 1, P_L, 1, cn,
                           ct);
  assert_int_not_equal(d->hash, a->hash); /* the result type is */
  udf_def *e = udf_def_new("one", "long f(long x) { return x; }", "f", UDF_LONG, 1, P_L, 0, NULL,
                           NULL);
  assert_int_not_equal(e->hash, a->hash); /* so are the captures */
  udf_type five[5] = {UDF_LONG, UDF_LONG, UDF_LONG, UDF_LONG, UDF_LONG};
  assert_null(udf_def_new("x", "", "f", UDF_LONG, 5, five, 0, NULL, NULL));
  assert_null(udf_def_new("x", "", "f", UDF_LONG, -1, five, 0, NULL, NULL));
  udf_def *noname = udf_def_new(NULL, "", "f", UDF_LONG, 0, NULL, 0, NULL, NULL);
  assert_string_equal(noname->name, "lambda");
  udf_def_free(a);
  udf_def_free(b);
  udf_def_free(c);
  udf_def_free(d);
  udf_def_free(e);
  udf_def_free(noname);
  udf_def_free(NULL);
  TH_MEM_END();
}

/* Ships a def through JSON text and back. */
static udf_def *json_roundtrip(const udf_def *d) {
  json_t *j = udf_def_to_json(d);
  assert_non_null(j);
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  json_error_t je;
  json_t *back = json_loads(text, 0, &je);
  free(text);
  assert_non_null(back);
  eng_err e = {0};
  udf_def *r = udf_def_from_json(back, &e);
  json_decref(back);
  if (!r) fail_msg("from_json: %s", e.msg);
  return r;
}

/* to_json/from_json keep every field (so the hash) for lambdas with
 * captures and for builtins. */
static void udf_def_json_roundtrip(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *cn[] = {"k", "name", "b"};
  udf_type ct[] = {UDF_LONG, UDF_CSTR, UDF_VAL};
  udf_type pt[] = {UDF_STR, UDF_VAL, UDF_DOUBLE, UDF_INT};
  udf_def *d = udf_def_new("lambda at cell[2]:1", "#line 1 \"cell[2]\"\nval f(str a, val b, double c, int d) { return b; }",
                           "f", UDF_VAL, 4, pt, 3, cn, ct);
  udf_def *r = json_roundtrip(d);
  assert_string_equal(r->name, d->name);
  assert_string_equal(r->source, d->source);
  assert_string_equal(r->entry, "f");
  assert_null(r->builtin);
  assert_int_equal(r->ret, UDF_VAL);
  assert_int_equal(r->nparams, 4);
  assert_memory_equal(r->params, pt, sizeof pt);
  assert_int_equal(r->ncaps, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(r->cap_names[i], cn[i]);
    assert_int_equal(r->cap_types[i], ct[i]);
  }
  assert_int_equal(r->hash, d->hash);
  udf_def_free(r);
  udf_def_free(d);
  d = udf_def_new("noargs", "long f(void) { return 1; }", "f", UDF_LONG, 0, NULL, 0, NULL, NULL);
  r = json_roundtrip(d);
  assert_int_equal(r->hash, d->hash);
  assert_int_equal(r->nparams, 0);
  udf_def_free(r);
  udf_def_free(d);
  d = udf_def_builtin("add");
  assert_non_null(d);
  r = json_roundtrip(d);
  assert_string_equal(r->builtin, "add");
  assert_null(r->source);
  assert_int_equal(r->hash, d->hash);
  udf_def_free(r);
  udf_def_free(d);
  TH_MEM_END();
}

/* Malformed definitions are ProtocolErrors, never crashes or leaks. */
static void udf_def_from_json_rejects_malformed(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *bad[] = {
      "[]",
      "{}",
      "{\"name\":\"x\",\"src\":\"long f(void){return 1;}\",\"entry\":\"f\",\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":\"long\",\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":8,\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":-1,\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":{},\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[1,1,1,1,1],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[99],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[-1],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[\"long\"],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[1.5],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":[[\"k\"]]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":[[\"k\",42]]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":[[1,1]]}",
      "{\"name\":\"x\",\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":{}}",
      "{\"name\":\"x\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"src\":\"s\",\"ret\":1,\"params\":[],\"caps\":[]}",
      "{\"name\":\"x\",\"builtin\":\"nope\",\"ret\":7,\"params\":[7,7],\"caps\":[]}",
      "{\"name\":7,\"src\":\"s\",\"entry\":\"f\",\"ret\":1,\"params\":[],\"caps\":[]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_error_t je;
    json_t *j = json_loads(bad[i], 0, &je);
    assert_non_null(j);
    eng_err e = {0};
    udf_def *d = udf_def_from_json(j, &e);
    json_decref(j);
    if (d) {
      udf_def_free(d);
      fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(e.code, ENG_EPROTO);
    if (strncmp(e.msg, "ProtocolError: ", 15) != 0) fail_msg("%s: %s", bad[i], e.msg);
  }
  TH_MEM_END();
}

/* ---- compiling and calling --------------------------------------------------- */

/* The generic entry converts every parameter type in and every result type
 * out. */
static void udf_call_every_type(void **state) {
  (void)state;
  FIX_BEGIN();
  eng_val a;
  a = eng_long(21);
  assert_string_equal(call_repr(mk("long f(long x) { return x * 2; }", UDF_LONG, 1, P_L), &a), "42");
  a = eng_long(41);
  assert_string_equal(call_repr(mk("int f(int x) { return x + 1; }", UDF_INT, 1, P_I), &a), "42");
  a = eng_long(3); /* an int widens to double */
  assert_string_equal(call_repr(mk("double f(double x) { return x / 2; }", UDF_DOUBLE, 1, P_D), &a),
                      "1.5");
  a = eng_bool(1);
  assert_string_equal(call_repr(mk("bool f(bool b) { return !b; }", UDF_BOOL, 1, P_B), &a), "False");
  a = eng_long(0); /* bool parameters take Python truthiness */
  assert_string_equal(call_repr(mk("bool f(bool b) { return !b; }", UDF_BOOL, 1, P_B), &a), "True");
  a = sv("hello");
  udf_fn *fs = mk("str f(str s) { str r = {s.ptr + 1, s.len - 1}; return r; }", UDF_STR, 1, P_S);
  assert_string_equal(call_repr(fs, &a), "'ello'");
  udf_fn *fc = mk("const char *f(const char *s) { return s + strlen(s) - 2; }", UDF_CSTR, 1, P_C);
  assert_string_equal(call_repr(fc, &a), "'lo'");
  a = eng_long(7);
  udf_fn *fv = mk("val f(val v) { return kv(v, \"seven\"); }", UDF_VAL, 1, P_V);
  assert_string_equal(call_repr(fv, &a), "(7, 'seven')");
  udf_fn *fi = mk("long f(int x) { return x; }", UDF_LONG, 1, P_I);
  a = eng_long(4294967297LL); /* an int parameter truncates like C */
  assert_string_equal(call_repr(fi, &a), "1");
  /* Four parameters of different types. */
  udf_type p4[] = {UDF_LONG, UDF_DOUBLE, UDF_STR, UDF_VAL};
  udf_fn *f4 = mk("val f(long a, double b, str c, val d) { return tuple(a, b, c, d); }", UDF_VAL,
                  4, p4);
  eng_val args4[] = {eng_long(1), eng_double(2.5), sv("c"), eng_none()};
  assert_string_equal(call_repr(f4, args4), "(1, 2.5, 'c', None)");
  /* No parameters. */
  assert_string_equal(call_repr(mk("double f(void) { return 0.1 + 0.2; }", UDF_DOUBLE, 0, NULL),
                                NULL),
                      "0.30000000000000004");
  /* VOID results are None; the lambda emits its outputs. */
  udf_fn *fe = mk("void f(long x) { emit(x); }", UDF_VOID, 1, P_L);
  assert_null(fe->map_ll);
  assert_null(fe->filter_l);
  FIX_END();
}

/* Arguments of the wrong type are TypeErrors raised inside the call. */
static void udf_call_argument_type_errors(void **state) {
  (void)state;
  FIX_BEGIN();
  eng_val a = sv("x");
  assert_string_equal(call_repr(mk("long f(long x) { return x; }", UDF_LONG, 1, P_L), &a),
                      "TypeError: expected int, got str");
  a = eng_double(1.5); /* no silent float -> int truncation */
  assert_string_equal(call_repr(mk("long f(long x) { return x; }", UDF_LONG, 1, P_L), &a),
                      "TypeError: expected int, got float");
  a = eng_none();
  assert_string_equal(call_repr(mk("double f(double x) { return x; }", UDF_DOUBLE, 1, P_D), &a),
                      "TypeError: expected float, got NoneType");
  a = eng_long(1);
  assert_string_equal(call_repr(mk("long f(str s) { return s.len; }", UDF_LONG, 1, P_S), &a),
                      "TypeError: expected str, got int");
  FIX_END();
}

/* Which typed kernels exist for which signature, and that they compute
 * what the lambda does. */
static void udf_typed_kernels_match_signature(void **state) {
  (void)state;
  FIX_BEGIN();
  struct {
    const char *src;
    udf_type ret;
    int np;
    const udf_type *pt;
    const char *kernels; /* which of: L=map_ll l=map_ld D=map_dd d=map_dl F=filter_l f=filter_d 2=f2_ll 3=f2_dd */
  } cases[] = {
      {"long f(long x) { return x * 3; }", UDF_LONG, 1, P_L, "LF"},
      {"double f(long x) { return x / 2.0; }", UDF_DOUBLE, 1, P_L, "lF"},
      {"double f(double x) { return x * x; }", UDF_DOUBLE, 1, P_D, "Df"},
      {"long f(double x) { return (long)x; }", UDF_LONG, 1, P_D, "df"},
      {"bool f(long x) { return x % 2 == 0; }", UDF_BOOL, 1, P_L, "F"},
      {"bool f(double x) { return x > 0.5; }", UDF_BOOL, 1, P_D, "f"},
      {"int f(int x) { return x - 1; }", UDF_INT, 1, P_I, "LF"},
      {"long f(long a, long b) { return a + b; }", UDF_LONG, 2, P_LL, "2"},
      {"double f(double a, double b) { return a * b; }", UDF_DOUBLE, 2, P_DD, "3"},
      {"val f(long x) { return list(x); }", UDF_VAL, 1, P_L, ""},
      {"long f(val x) { return 1; }", UDF_LONG, 1, P_V, ""},
      {"long f(str s) { return s.len; }", UDF_LONG, 1, P_S, ""},
      {"str f(long x) { return strf(\"%ld\", x); }", UDF_STR, 1, P_L, ""},
      {"long f(void) { return 1; }", UDF_LONG, 0, NULL, ""},
      {"double f(long a, double b) { return a + b; }", UDF_DOUBLE, 2,
       (const udf_type[]){UDF_LONG, UDF_DOUBLE}, ""},
      {"void f(long x) { emit(x); }", UDF_VOID, 1, P_L, ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    udf_fn *f = mk(cases[i].src, cases[i].ret, cases[i].np, cases[i].pt);
    const char *k = cases[i].kernels;
    const void *have[] = {(void *)f->map_ll, (void *)f->map_ld, (void *)f->map_dd,
                          (void *)f->map_dl, (void *)f->filter_l, (void *)f->filter_d,
                          (void *)f->f2_ll, (void *)f->f2_dd};
    const char *codes = "LlDdFf23";
    for (int j = 0; j < 8; j++) {
      int want = strchr(k, codes[j]) != NULL;
      if ((have[j] != NULL) != want)
        fail_msg("%s: kernel %c %s", cases[i].src, codes[j], want ? "missing" : "unexpected");
    }
    assert_non_null(f->call);
  }
  /* And they compute what the lambda computes. */
  int64_t in[100], outl[100];
  double ind[100], outd[100];
  uint8_t sel[100];
  for (int i = 0; i < 100; i++) {
    in[i] = i - 50;
    ind[i] = i / 100.0;
  }
  udf_fn *f = mk(cases[0].src, UDF_LONG, 1, P_L);
  f->map_ll(in, outl, 100);
  for (int i = 0; i < 100; i++) assert_int_equal(outl[i], (i - 50) * 3);
  assert_int_equal(f->filter_l(in, 100, sel), 99); /* all but 0 */
  assert_int_equal(sel[50], 0);
  assert_int_equal(sel[0], 1);
  f = mk(cases[1].src, UDF_DOUBLE, 1, P_L);
  f->map_ld(in, outd, 100);
  for (int i = 0; i < 100; i++) assert_true(outd[i] == (i - 50) / 2.0);
  f = mk(cases[2].src, UDF_DOUBLE, 1, P_D);
  f->map_dd(ind, outd, 100);
  for (int i = 0; i < 100; i++) assert_true(outd[i] == ind[i] * ind[i]);
  f = mk(cases[3].src, UDF_LONG, 1, P_D);
  double big[3] = {2.9, -2.9, 1e3};
  f->map_dl(big, outl, 3);
  assert_int_equal(outl[0], 2);
  assert_int_equal(outl[1], -2);
  assert_int_equal(outl[2], 1000);
  f = mk(cases[4].src, UDF_BOOL, 1, P_L);
  assert_int_equal(f->filter_l(in, 100, sel), 50);
  for (int i = 0; i < 100; i++) assert_int_equal(sel[i], (i - 50) % 2 == 0);
  f = mk(cases[5].src, UDF_BOOL, 1, P_D);
  assert_int_equal(f->filter_d(ind, 100, sel), 49);
  f = mk(cases[6].src, UDF_INT, 1, P_I);
  int64_t wide[2] = {4294967296LL + 5, -3};
  f->map_ll(wide, outl, 2);
  assert_int_equal(outl[0], 4); /* the int parameter sees (int)x */
  assert_int_equal(outl[1], -4);
  f = mk(cases[7].src, UDF_LONG, 2, P_LL);
  assert_int_equal(f->f2_ll(40, 2), 42);
  f = mk(cases[8].src, UDF_DOUBLE, 2, P_DD);
  assert_true(f->f2_dd(1.5, 4.0) == 6.0);
  /* Zero-length batches are fine. */
  f = mk(cases[0].src, UDF_LONG, 1, P_L);
  f->map_ll(in, outl, 0);
  assert_int_equal(f->filter_l(in, 0, sel), 0);
  FIX_END();
}

/* The typed kernels evaluate a one-return body inline (udf_gen.c); they
 * must agree with calling the function through its generic entry, which
 * converts the result to the declared type: truncation, int parameters,
 * captures named like the kernel's own variables, and bodies that cannot
 * be inlined (comments, several statements, a ternary with strings). */
static void udf_inlined_kernels_agree_with_calls(void **state) {
  (void)state;
  FIX_BEGIN();
  const char *cn[] = {"n", "i", "c", "in"};
  const udf_type ct[] = {UDF_LONG, UDF_LONG, UDF_LONG, UDF_LONG};
  struct {
    const char *src;
    udf_type ret, p;
  } cases[] = {
      {"long f(long x) { return x * 0.5; }", UDF_LONG, UDF_LONG},
      {"bool f(long x) { return x * 0.5; }", UDF_BOOL, UDF_LONG},
      {"int f(int x) { return x + n; }", UDF_INT, UDF_INT},
      {"long f(long x) { return x % 7 == 0 && x > i; }", UDF_LONG, UDF_LONG},
      {"long f(long x) {\n  return (x + c) * in\n    - 1;\n}", UDF_LONG, UDF_LONG},
      {"long f(long x) { /* a comment */ return x - n; }", UDF_LONG, UDF_LONG},
      {"long f(long x) { long y = x * 2; return y + 1; }", UDF_LONG, UDF_LONG},
      {"long f(long x) { return strlen(x > 0 ? \"a;}\" : \"bc\"); }", UDF_LONG, UDF_LONG},
      {"double f(double x) { return x / 3; }", UDF_DOUBLE, UDF_DOUBLE},
      {"long f(double x) { return x * 2.5; }", UDF_LONG, UDF_DOUBLE},
      {"bool f(double x) { return x > 1.5 ? 0.25 : 0; }", UDF_BOOL, UDF_DOUBLE},
  };
  eng_val caps[4] = {eng_long(3), eng_long(-4), eng_long(5), eng_long(7)};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    udf_type pt[1] = {cases[k].p};
    udf_fn *f = mk_caps(cases[k].src, cases[k].ret, 1, pt, 4, cn, ct);
    udf_set_caps(f, f, caps);
    int64_t in[64], outl[64];
    double ind[64], outd[64];
    uint8_t sel[64];
    for (int r = 0; r < 64; r++) {
      in[r] = (r - 32) * 3;
      ind[r] = (r - 32) / 8.0;
    }
    int dbl = cases[k].p == UDF_DOUBLE;
    /* 61 rows: the kernels take four rows per turn, then the rest. */
    const int nk = 61;
    for (int r = 0; r < nk; r++) {
      eng_val arg = dbl ? eng_double(ind[r]) : eng_long(in[r]), want;
      assert_int_equal(run(f, &arg, &want, NULL), 0);
      if (dbl ? (void *)f->filter_d : (void *)f->filter_l) {
        memset(sel, 7, sizeof sel);
        int64_t c = dbl ? f->filter_d(ind, nk, sel) : f->filter_l(in, nk, sel);
        double w = ENG_VKIND(want) == ENG_V_DOUBLE ? eng_v_double(want) : (double)eng_v_long(want);
        if (sel[r] != (w != 0)) fail_msg("%s: filter row %d", cases[k].src, r);
        int64_t ones = 0;
        for (int j = 0; j < nk; j++) ones += sel[j];
        assert_int_equal(c, ones);
        assert_int_equal(sel[nk], 7); /* nothing written past the rows */
      }
      if (f->map_ll || f->map_dl) {
        outl[nk] = 12345;
        if (dbl) f->map_dl(ind, outl, nk);
        else f->map_ll(in, outl, nk);
        if (outl[r] != eng_v_long(want)) fail_msg("%s: map row %d: %ld", cases[k].src, r, (long)outl[r]);
        assert_int_equal(outl[nk], 12345);
      }
      if (f->map_ld || f->map_dd) {
        if (dbl) f->map_dd(ind, outd, nk);
        else f->map_ld(in, outd, nk);
        if (outd[r] != eng_v_double(want)) fail_msg("%s: map row %d", cases[k].src, r);
      }
    }
  }
  FIX_END();
}

/* The second tier (udf_tier.h): past UDF_TIER_ROWS, a body's typed kernels
 * are rebuilt by cc and replace tcc's, computing the same values (integer
 * wrap-around included); one built body serves another UDF of the same text;
 * a kernel calling an ember helper does not link and stays tcc's; a lambda
 * with a static variable, or a missing compiler, leaves things as they are. */
static void udf_tier_rebuilds_hot_kernels(void **state) {
  (void)state;
  if (system("command -v cc > /dev/null 2>&1") != 0) skip();
  FIX_BEGIN();
  char dir[] = "/tmp/ember-tier-XXXXXX";
  assert_non_null(mkdtemp(dir));
  udf_tier_enable(dir);
  udf_type pl[1] = {UDF_LONG};
  udf_fn *flt = mk("bool f(long x) { return x % 7 == 0; }", UDF_BOOL, 1, pl);
  udf_fn *map = mk("long f(long x) { return x * 3 + 1; }", UDF_LONG, 1, pl);
  udf_fn *helper = mk("long f(long x) { return len(strf(\"%ld\", x)); }", UDF_LONG, 1, pl);
  udf_fn *stat = mk("static long g(void) { static long n; return n++; }\nlong f(long x) { return x + g(); }", UDF_LONG,
                    1, pl);
  void *tcc_flt = (void *)flt->filter_l, *tcc_map = (void *)map->map_ll, *tcc_helper = (void *)helper->map_ll,
       *tcc_stat = (void *)stat->map_ll;
  int64_t in[9] = {0, 7, -7, 8, -8, INT64_MAX, INT64_MIN, 49, -50};
  int64_t want_map[9];
  uint8_t want_sel[9];
  map->map_ll(in, want_map, 9);
  int64_t want_n = flt->filter_l(in, 9, want_sel);
  udf_fn *all[4] = {flt, map, helper, stat};
  for (int i = 0; i < 4; i++) udf_tier_note(all[i], UDF_TIER_ROWS);
  udf_tier_wait_idle();
  for (int i = 0; i < 4; i++) udf_tier_note(all[i], 1); /* takes what was built */
  assert_ptr_not_equal((void *)flt->filter_l, tcc_flt);
  assert_ptr_not_equal((void *)map->map_ll, tcc_map);
  assert_ptr_equal((void *)helper->map_ll, tcc_helper);
  assert_ptr_equal((void *)stat->map_ll, tcc_stat);
  int64_t got_map[9];
  uint8_t got_sel[9];
  map->map_ll(in, got_map, 9);
  assert_memory_equal(got_map, want_map, sizeof want_map);
  assert_int_equal(flt->filter_l(in, 9, got_sel), want_n);
  assert_memory_equal(got_sel, want_sel, sizeof want_sel);
  /* The same lambda text in two cells, as the REPL names them: the second
   * takes the kernel built for the first without counting again. */
  udf_fn *cell[2];
  for (int c = 0; c < 2; c++) {
    char src[160], entry[32];
    snprintf(entry, sizeof entry, "__ember_lambda_%d_0", c + 3);
    snprintf(src, sizeof src, "#line 1 \"cell[%d]\"\nstatic bool %s(long x) { return x %% 5 == 1; }", c + 3, entry);
    udf_def *d = udf_def_new("lambda", src, entry, UDF_BOOL, 1, pl, 0, NULL, NULL);
    eng_err e = {0};
    cell[c] = udf_cache_get(cache, d, &e);
    udf_def_free(d);
    assert_non_null(cell[c]);
  }
  assert_ptr_not_equal((void *)cell[0], (void *)cell[1]);
  void *tcc_cell1 = (void *)cell[1]->filter_l;
  uint8_t want_sel1[9], got_sel1[9];
  int64_t want_c = cell[1]->filter_l(in, 9, want_sel1);
  udf_tier_note(cell[0], UDF_TIER_ROWS);
  udf_tier_wait_idle();
  udf_tier_note(cell[0], 1);
  udf_tier_note(cell[1], 1);
  assert_ptr_not_equal((void *)cell[1]->filter_l, tcc_cell1);
  assert_ptr_equal((void *)cell[1]->filter_l, (void *)cell[0]->filter_l);
  assert_int_equal(cell[1]->filter_l(in, 9, got_sel1), want_c);
  assert_memory_equal(got_sel1, want_sel1, sizeof want_sel1);
  udf_tier_disable();
  /* No compiler: nothing changes. */
  setenv("EMBER_CC", "/nonexistent/cc", 1);
  udf_tier_enable(dir);
  udf_fn *other = mk("long f(long x) { return x - 5; }", UDF_LONG, 1, pl);
  void *tcc_other = (void *)other->map_ll;
  udf_tier_note(other, UDF_TIER_ROWS);
  udf_tier_wait_idle();
  udf_tier_note(other, 1);
  assert_ptr_equal((void *)other->map_ll, tcc_other);
  udf_tier_disable();
  unsetenv("EMBER_CC");
  rmdir(dir);
  FIX_END();
}

/* A body "return kv(K, V);" also gets call_kv, which writes the pair's
 * items instead of building the tuple; they must be what call returns. */
static void udf_call_kv_matches_call(void **state) {
  (void)state;
  FIX_BEGIN();
  struct {
    const char *src;
    udf_type p;
    int has;
  } cases[] = {
      {"val f(long x) { return kv(x % 3, x * 2); }", UDF_LONG, 1},
      {"val f(long x) { return kv(strf(\"%ld,%ld\", x, x + 1), list(x, (x, 7))); }", UDF_LONG, 1},
      {"val f(str w) {\n  return kv(w,\n    1);\n}", UDF_STR, 1},
      /* Parameters of each numeric kind as the key. */
      {"val f(long x) { return kv(x, 10); }", UDF_LONG, 1},
      {"val f(double x) { return kv( x , 1); }", UDF_DOUBLE, 1},
      {"val f(bool b) { return kv(b, 010); }", UDF_BOOL, 1},
      {"val f(val p) { return kv(at(p, 1), at(p, 0)); }", UDF_VAL, 1},
      {"val f(long x) { return EMBER_V(kv(x, \"a,b)\")); }", UDF_LONG, 1},
      {"val f(long x) { return x > 0 ? kv(x, 1) : kv(0, 0); }", UDF_LONG, 0},
      {"val f(long x) { return kv(x, 1), kv(2, 3); }", UDF_LONG, 0},
      {"val f(long x) { val p = kv(x, 1); return p; }", UDF_LONG, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    udf_type pt[1] = {cases[k].p};
    udf_fn *f = mk(cases[k].src, UDF_VAL, 1, pt);
    if ((f->call_kv != NULL) != cases[k].has)
      fail_msg("%s: call_kv %s", cases[k].src, cases[k].has ? "missing" : "unexpected");
    if (!f->call_kv) continue;
    for (long x = -2; x <= 2; x++) {
      eng_val arg = cases[k].p == UDF_STR      ? eng_strv("word", 4)
                    : cases[k].p == UDF_VAL    ? eng_pair(eng_arena_current(), eng_long(x), eng_strv("s", 1))
                    : cases[k].p == UDF_DOUBLE ? eng_double((double)x / 4)
                    : cases[k].p == UDF_BOOL   ? eng_bool(x > 0)
                                               : eng_long(x);
      eng_val want, kv[2];
      assert_int_equal(run(f, &arg, &want, NULL), 0);
      f->call_kv(&arg, kv);
      char got[1024];
      snprintf(got, sizeof got, "%s", repr(eng_pair(eng_arena_current(), kv[0], kv[1])));
      if (strcmp(got, repr(want)) != 0) fail_msg("%s: %s != %s", cases[k].src, got, repr(want));
    }
    /* Over a column of longs, the batch form gives the same pairs. */
    if ((f->map_l_kv != NULL) != (cases[k].p == UDF_LONG))
      fail_msg("%s: map_l_kv %s", cases[k].src, cases[k].p == UDF_LONG ? "missing" : "unexpected");
    if (f->map_l_kv) {
      int64_t in[5] = {-2, -1, 0, 1, 2};
      eng_val ks[5], vs[5];
      f->map_l_kv(in, 5, ks, vs);
      for (int r = 0; r < 5; r++) {
        eng_val arg = eng_long(in[r]), want;
        assert_int_equal(run(f, &arg, &want, NULL), 0);
        char got[1024];
        snprintf(got, sizeof got, "%s", repr(eng_pair(eng_arena_current(), ks[r], vs[r])));
        if (strcmp(got, repr(want)) != 0) fail_msg("%s: row %d: %s != %s", cases[k].src, r, got, repr(want));
      }
    }
  }
  /* A str parameter given an int: call_kv raises what call raises. */
  udf_type ps[1] = {UDF_STR};
  udf_fn *g = mk("val f(str w) { return kv(w, 1); }", UDF_VAL, 1, ps);
  eng_val bad = eng_long(3), kv[2];
  udf_guard gd;
  int returned = 0;
  if (UDF_TRY(&gd)) {
    g->call_kv(&bad, kv);
    udf_guard_pop(&gd);
    returned = 1;
  }
  assert_int_equal(returned, 0);
  assert_string_equal(gd.err.msg, "TypeError: expected str, got int");
  FIX_END();
}

/* Captures of every type become globals set by setcaps; udf_set_caps
 * skips the call when the owner's captures are already current. One
 * capture is called `c`, which once shadowed setcaps' own parameter. */
static void udf_captures_each_type(void **state) {
  (void)state;
  FIX_BEGIN();
  const char *cn[] = {"k", "d", "s", "c", "v", "b", "i"};
  udf_type ct[] = {UDF_LONG, UDF_DOUBLE, UDF_STR, UDF_CSTR, UDF_VAL, UDF_BOOL, UDF_INT};
  udf_fn *f = mk_caps("val f(long x) {\n"
                      "  return tuple(x * k, d, s, strlen(c), v, b, i);\n"
                      "}\n",
                      UDF_VAL, 1, P_L, 7, cn, ct);
  assert_non_null(f->setcaps);
  eng_val inner[2] = {eng_long(1), sv("z")};
  eng_val caps[7] = {eng_long(3), eng_double(0.5), sv("str cap"), sv("cstr"),
                     eng_seqv(ENG_V_LIST, inner, 2), eng_long(5), eng_long(-9)};
  int owner1, owner2;
  udf_guard g;
  if (UDF_TRY(&g)) {
    udf_set_caps(f, &owner1, caps);
    udf_guard_pop(&g);
  } else {
    fail_msg("setcaps: %s", g.err.msg);
  }
  assert_ptr_equal(f->caps_owner, &owner1);
  eng_val x = eng_long(2);
  assert_string_equal(call_repr(f, &x), "(6, 0.5, 'str cap', 4, [1, 'z'], True, -9)");
  /* Same owner: not set again, even if its array changed. */
  eng_val caps2[7] = {eng_long(10), eng_double(1.5), sv("other"), sv("c"),
                      eng_none(), eng_long(0), eng_long(1)};
  udf_set_caps(f, &owner1, caps2);
  assert_string_equal(call_repr(f, &x), "(6, 0.5, 'str cap', 4, [1, 'z'], True, -9)");
  /* Another owner: set. */
  udf_set_caps(f, &owner2, caps2);
  assert_ptr_equal(f->caps_owner, &owner2);
  assert_string_equal(call_repr(f, &x), "(20, 1.5, 'other', 1, None, False, 1)");
  udf_drop_caps(f, &owner1); /* not the current owner: nothing happens */
  assert_ptr_equal(f->caps_owner, &owner2);
  udf_drop_caps(f, &owner2);
  assert_null(f->caps_owner);
  /* A capture of the wrong type is a TypeError raised by setcaps. */
  eng_val caps3[7] = {sv("not a long"), eng_double(1), sv("s"), sv("c"), eng_none(),
                      eng_long(0), eng_long(1)};
  if (UDF_TRY(&g)) {
    udf_set_caps(f, &owner1, caps3);
    udf_guard_pop(&g);
    fail_msg("setcaps accepted a str for a long capture");
  }
  assert_string_equal(g.err.msg, "TypeError: expected int, got str");
  /* Without captures there is no setcaps and udf_set_caps does nothing. */
  udf_fn *plain = mk("long f(long x) { return x; }", UDF_LONG, 1, P_L);
  assert_null(plain->setcaps);
  udf_set_caps(plain, &owner1, NULL);
  assert_null(plain->caps_owner);
  FIX_END();
}

/* The cache compiles each hash once and hands out the same udf_fn. */
static void udf_cache_compiles_once(void **state) {
  (void)state;
  FIX_BEGIN();
  long compiles = -1;
  double ms = -1;
  udf_cache_stats(cache, &compiles, &ms);
  assert_int_equal(compiles, 0);
  udf_def *d = udf_def_new("a", "long f(long x) { return x + 1; }", "f", UDF_LONG, 1, P_L, 0,
                           NULL, NULL);
  udf_def *same_src = udf_def_new("other name", "long f(long x) { return x + 1; }", "f",
                                  UDF_LONG, 1, P_L, 0, NULL, NULL);
  udf_def *other = udf_def_new("a", "long f(long x) { return x + 2; }", "f", UDF_LONG, 1, P_L, 0,
                               NULL, NULL);
  eng_err e;
  udf_fn *f1 = udf_cache_get(cache, d, &e);
  udf_fn *f2 = udf_cache_get(cache, d, &e);
  udf_fn *f3 = udf_cache_get(cache, same_src, &e);
  assert_non_null(f1);
  assert_ptr_equal(f1, f2);
  assert_ptr_equal(f1, f3);
  assert_ptr_equal(udf_cache_find(cache, d->hash), f1);
  assert_null(udf_cache_find(cache, other->hash));
  udf_cache_stats(cache, &compiles, &ms);
  assert_int_equal(compiles, 1);
  assert_true(ms > 0);
  udf_fn *f4 = udf_cache_get(cache, other, &e);
  assert_ptr_not_equal(f4, f1);
  udf_cache_stats(cache, &compiles, NULL);
  assert_int_equal(compiles, 2);
  /* The cached fn keeps its own copy of the def. */
  assert_ptr_not_equal(f1->def, d);
  assert_int_equal(f1->def->hash, d->hash);
  /* Builtins are bound, not compiled. */
  udf_def *add = udf_def_builtin("add");
  assert_non_null(udf_cache_get(cache, add, &e));
  udf_cache_stats(cache, &compiles, NULL);
  assert_int_equal(compiles, 2);
  /* Failed compiles are not cached. */
  udf_def *broken = udf_def_new("b", "long f(long x) { return x +; }", "f", UDF_LONG, 1, P_L, 0,
                                NULL, NULL);
  assert_null(udf_cache_get(cache, broken, &e));
  assert_null(udf_cache_get(cache, broken, &e));
  assert_null(udf_cache_find(cache, broken->hash));
  udf_def_free(d);
  udf_def_free(same_src);
  udf_def_free(other);
  udf_def_free(add);
  udf_def_free(broken);
  FIX_END();
}

typedef struct {
  const udf_def *d;
  udf_fn *got;
} cache_arg;

static void *cache_worker(void *p) {
  cache_arg *a = p;
  a->got = udf_cache_get(cache, a->d, NULL);
  return NULL;
}

/* Threads asking for the same UDF at once all get one udf_fn. */
static void udf_cache_concurrent_gets_agree(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_def *d = udf_def_new("a", "long f(long x) { return x * 7; }", "f", UDF_LONG, 1, P_L, 0,
                           NULL, NULL);
  enum { T = 6 };
  pthread_t th[T];
  cache_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i].d = d;
    pthread_create(&th[i], NULL, cache_worker, &args[i]);
  }
  for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < T; i++) {
    assert_non_null(args[i].got);
    assert_ptr_equal(args[i].got, args[0].got);
  }
  assert_null(args[0].got->f2_ll);
  int64_t x = 6, y;
  args[0].got->map_ll(&x, &y, 1);
  assert_int_equal(y, 42);
  udf_def_free(d);
  FIX_END();
}

/* ---- compile errors ------------------------------------------------------------ */

/* Errors point at the cell line given by #line. */
static void udf_compile_error_points_at_cell_line(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_def *d = udf_def_new("lambda at cell[4]:1",
                           "#line 1 \"cell[4]\"\n"
                           "long f(long x) {\n"
                           "  return x + ; }\n",
                           "f", UDF_LONG, 1, P_L, 0, NULL, NULL);
  eng_err e = {0};
  assert_null(udf_cache_get(cache, d, &e));
  assert_int_equal(e.code, ENG_ECOMPILE);
  if (strncmp(e.msg, "CompileError: cell[4]:2: error: ", 32) != 0) fail_msg("got: %s", e.msg);
  udf_def_free(d);
  d = udf_def_new("lambda at cell[7]:3",
                  "#line 3 \"cell[7]\"\n"
                  "long f(long x) { return y; }\n",
                  "f", UDF_LONG, 1, P_L, 0, NULL, NULL);
  assert_null(udf_cache_get(cache, d, &e));
  if (strncmp(e.msg, "CompileError: cell[7]:3: error: ", 32) != 0) fail_msg("got: %s", e.msg);
  assert_non_null(strstr(e.msg, "'y' undeclared"));
  udf_def_free(d);
  FIX_END();
}

/* A call to a function that exists nowhere fails at link time, named. */
static void udf_undefined_symbol_names_the_udf(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_def *d = udf_def_new("lambda at cell[3]:1", "long nope(long);\nlong f(long x) { return nope(x); }",
                           "f", UDF_LONG, 1, P_L, 0, NULL, NULL);
  eng_err e = {0};
  assert_null(udf_cache_get(cache, d, &e));
  assert_int_equal(e.code, ENG_ECOMPILE);
  assert_string_equal(e.msg, "CompileError: undefined symbol 'nope' in lambda at cell[3]:1");
  udf_def_free(d);
  /* A missing entry function is a CompileError too. */
  d = udf_def_new("lambda at cell[5]:1", "long g(long x) { return x; }", "f", UDF_LONG, 1, P_L, 0,
                  NULL, NULL);
  assert_null(udf_cache_get(cache, d, &e));
  assert_int_equal(e.code, ENG_ECOMPILE);
  assert_true(strncmp(e.msg, "CompileError: ", 14) == 0);
  udf_def_free(d);
  FIX_END();
}

/* ---- the builtin add ----------------------------------------------------------- */

static void udf_builtin_add(void **state) {
  (void)state;
  FIX_BEGIN();
  assert_null(udf_def_builtin("nope"));
  udf_def *d = udf_def_builtin("add");
  assert_int_equal(d->nparams, 2);
  assert_int_equal(d->ret, UDF_VAL);
  eng_err e;
  udf_fn *f = udf_cache_get(cache, d, &e);
  udf_def_free(d);
  assert_non_null(f);
  eng_val a[2] = {eng_long(40), eng_long(2)};
  assert_string_equal(call_repr(f, a), "42");
  a[0] = eng_double(0.1);
  a[1] = eng_double(0.2);
  assert_string_equal(call_repr(f, a), "0.30000000000000004");
  a[0] = eng_long(1);
  a[1] = eng_double(0.5);
  assert_string_equal(call_repr(f, a), "1.5");
  a[0] = sv("ab");
  a[1] = sv("cd");
  assert_string_equal(call_repr(f, a), "'abcd'");
  eng_val l1[] = {eng_long(1)}, l2[] = {sv("x"), eng_none()};
  a[0] = eng_seqv(ENG_V_LIST, l1, 1);
  a[1] = eng_seqv(ENG_V_LIST, l2, 2);
  assert_string_equal(call_repr(f, a), "[1, 'x', None]");
  a[0] = eng_seqv(ENG_V_TUPLE, l1, 1);
  a[1] = eng_seqv(ENG_V_TUPLE, l2, 2);
  assert_string_equal(call_repr(f, a), "(1, 'x', None)");
  a[0] = sv("a");
  a[1] = eng_long(1);
  assert_string_equal(call_repr(f, a), "TypeError: unsupported operand type(s) for +: 'str' and 'int'");
  assert_int_equal(f->f2_ll(40, 2), 42);
  assert_int_equal(f->f2_ll(INT64_MAX, 1), INT64_MIN); /* wraps, as documented */
  assert_true(f->f2_dd(1.25, 2.5) == 3.75);
  assert_null(f->map_ll);
  assert_null(f->setcaps);
  FIX_END();
}

/* ---- prelude helpers ------------------------------------------------------------ */

/* kv, tuple, list (also empty), key, value, NONE, is_none, val_eq. */
static void udf_helpers_make_and_read_values(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("kv(\"a\", 1)", "('a', 1)");
  /* `true` is a bool (the prelude makes it one); a comparison is C's int. */
  EV("kv(1.5, kv((bool)1, NONE))", "(1.5, (True, None))");
  EV("kv(true, 2 > 1)", "(True, 1)");
  EV("tuple(1, \"b\", 2.5)", "(1, 'b', 2.5)");
  EV("tuple(7)", "(7,)");
  EV("tuple()", "()");
  EV("list()", "[]");
  EV("list(1)", "[1]");
  EV("list(1, list(), tuple(\"x\"))", "[1, [], ('x',)]");
  EV("list(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
     "25, 26, 27, 28, 29, 30, 31, 32)",
     "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, "
     "26, 27, 28, 29, 30, 31, 32]");
  EV("key(kv(\"k\", 2))", "'k'");
  EV("value(kv(\"k\", 2))", "2");
  EV("key(list(3, 4))", "3");
  EV("key(5)", "TypeError: key() needs a pair, got int");
  EV("value(tuple(1))", "ValueError: index 1 out of range for tuple of length 1");
  EV("NONE", "None");
  EV("is_none(NONE)", "True");
  EV("is_none(0)", "False");
  EV("val_eq(1, 1.0)", "True");
  EV("val_eq(tuple(1, \"a\"), tuple(1.0, \"a\"))", "True");
  EV("val_eq(\"a\", 1)", "False");
  /* C values of every kind convert: char, short, unsigned, float. */
  EV("tuple((char)65, (short)-2, 3u, 2.5f, (bool)7)", "(65, -2, 3, 2.5, True)");
  FIX_END();
}

/* at() with Python's negative indices; out of range is a ValueError. For
 * strings it indexes code points: 'héllo'[1] == 'é', 'héllo'[-1] == 'o',
 * (1, 'a', 2.5)[-2] == 'a'. */
static void udf_helpers_at(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("at(tuple(1, \"a\", 2.5), 0)", "1");
  EV("at(tuple(1, \"a\", 2.5), -2)", "'a'");
  EV("at(list(1, 2), -1)", "2");
  EV("at(list(1, 2), 2)", "ValueError: index 2 out of range for list of length 2");
  EV("at(list(1, 2), -3)", "ValueError: index -3 out of range for list of length 2");
  EV("at(list(), 0)", "ValueError: index 0 out of range for list of length 0");
  EV("at(\"abc\", 1)", "'b'");
  EV("at(\"h\\xc3\\xa9llo\", 1)", "'\xc3\xa9'");
  EV("at(\"h\\xc3\\xa9llo\", -1)", "'o'");
  EV("at(\"h\\xc3\\xa9llo\", 5)", "ValueError: index 5 out of range for str of length 5");
  EV("at(5, 0)", "TypeError: 'int' object is not subscriptable");
  EV("at(NONE, 0)", "TypeError: 'NoneType' object is not subscriptable");
  FIX_END();
}

/* len counts code points of strings (Python's len): len('héllo') == 5,
 * len('日本語') == 3, len('🎉x') == 2; items of tuples and lists. */
static void udf_helpers_len(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("len(\"h\\xc3\\xa9llo\")", "5");
  EV("len(\"\\xe6\\x97\\xa5\\xe6\\x9c\\xac\\xe8\\xaa\\x9e\")", "3");
  EV("len(\"\")", "0");
  EV("len(\"\\xf0\\x9f\\x8e\\x89x\")", "2");
  EV("len(EMBER_S(\"h\\xc3\\xa9llo\"))", "5");                /* str */
  EV("len(EMBER_V(\"h\\xc3\\xa9llo\"))", "5");                /* val */
  EV("len((const char *)\"abc\")", "3");                      /* const char * */
  EV("len(list(1, 2, 3))", "3");
  EV("len(tuple())", "0");
  EV("len(EMBER_V(5))", "TypeError: object of type 'int' has no len()");
  FIX_END();
}

/* as_long/as_double/as_str read values, TypeError on mismatch. */
static void udf_helpers_as_conversions(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("as_long(EMBER_V(41)) + 1", "42");
  EV("as_long(true)", "1");
  EV("as_long(2.5)", "TypeError: expected int, got float");
  EV("as_long(\"1\")", "TypeError: expected int, got str");
  EV("as_double(3)", "3.0");
  EV("as_double(0.25)", "0.25");
  EV("as_double(NONE)", "TypeError: expected float, got NoneType");
  EV("as_str(\"abc\")", "'abc'");
  EV("as_str(list(1))", "TypeError: expected str, got list");
  EV("as_str(\"abc\").len", "3");
  EV("as_bool(list())", "False");
  EV("as_bool(\"x\")", "True");
  /* A string helper given a number is a TypeError too. */
  EV("lower(5)", "TypeError: expected a string (str, char * or val holding a str)");
  EV("lower(EMBER_V(5))", "TypeError: expected str, got int");
  FIX_END();
}

/* split is Python's str.split(sep): empty pieces kept, multi-character
 * separators, empty separator a ValueError; words is str.split(). */
static void udf_helpers_split_and_words(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("split(\"a b c\", \" \")", "['a', 'b', 'c']");
  EV("split(\"a,b,,c,\", \",\")", "['a', 'b', '', 'c', '']");
  EV("split(\"\", \",\")", "['']");
  EV("split(\",\", \",\")", "['', '']");
  EV("split(\"abc\", \"x\")", "['abc']");
  EV("split(\"a::b::::c\", \"::\")", "['a', 'b', '', 'c']");
  EV("split(\"aaa\", \"aa\")", "['', 'a']");
  EV("split(\"h\\xc3\\xa9llo w\\xc3\\xb6rld\", \"\\xc3\\xb6\")", "['h\xc3\xa9llo w', 'rld']");
  EV("split(\"xyz\", \"xyz\")", "['', '']");
  EV("split(\"abc\", \"\")", "ValueError: empty separator");
  /* The pieces are C strings. */
  EV("strlen(as_str(at(split(\"ab,cde\", \",\"), 0)).ptr)", "2");
  EV("words(\"  a  b\\tc\\n\")", "['a', 'b', 'c']");
  EV("words(\"\")", "[]");
  EV("words(\"   \")", "[]");
  EV("words(\"one\")", "['one']");
  EV("words(\"\\x0bx\\x0cy\\rz \")", "['x', 'y', 'z']");
  EV("strlen(as_str(at(words(\"ab cde\"), 0)).ptr)", "2");
  FIX_END();
}

/* split with a one-byte separator against a byte-by-byte split, for every
 * length 0..40 and strings of separators, high bytes (UTF-8) and letters,
 * with a space and a high byte as the separator. */
eng_val eng_fn_split(eng_str s, eng_str sep);
static void udf_helpers_split_matches_bytewise(void **state) {
  (void)state;
  /* 0xa0 and '6' differ from a separator in the high bit only. */
  const char alphabet[] = {'a', ' ', (char)0xc3, (char)0xb6, (char)0xa0, '6'};
  const char seps[] = {' ', (char)0xb6};
  uint64_t rng = 7;
  eng_arena *a = eng_arena_new(4096);
  eng_arena *prev = eng_arena_set_current(a);
  for (int len = 0; len <= 40; len++)
    for (int trial = 0; trial < 40; trial++)
      for (int si = 0; si < 2; si++) {
        char buf[48];
        for (int i = 0; i < len; i++) {
          rng = rng * 6364136223846793005ull + 1442695040888963407ull;
          buf[i] = alphabet[(rng >> 33) % (trial < 20 ? 6 : 2)];
        }
        eng_str in = {buf, len}, sep = {&seps[si], 1};
        eng_val r = eng_fn_split(in, sep);
        const eng_val *it = eng_v_items(r);
        long k = 0, start = 0;
        for (int i = 0; i <= len; i++) {
          if (i < len && buf[i] != seps[si]) continue;
          assert_true(k < ENG_VLEN(r));
          assert_int_equal(ENG_VLEN(it[k]), i - start);
          assert_memory_equal((const char *)(uintptr_t)it[k].p, buf + start, (size_t)(i - start));
          assert_int_equal(((const char *)(uintptr_t)it[k].p)[i - start], 0); /* a C string */
          k++;
          start = i + 1;
        }
        assert_int_equal(ENG_VLEN(r), k);
        eng_arena_reset(a);
      }
  eng_arena_set_current(prev);
  eng_arena_free(a);
}

/* lower/upper (ASCII), trim (= strip), comparisons and contains. */
static void udf_helpers_strings(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("lower(\"ABC def\")", "'abc def'");
  EV("upper(\"ABC def\")", "'ABC DEF'");
  EV("trim(\"  hi  \")", "'hi'");
  EV("trim(\"\\t\\nx y\\r\\n\")", "'x y'");
  EV("trim(\"\")", "''");
  EV("trim(\"   \")", "''");
  EV("trim(\"a\")", "'a'");
  EV("trim(\"\\x1cx\\x1f\")", "'x'"); /* '\x1cx\x1f'.strip() == 'x' */
  EV("strlen(trim(\"  hi  \").ptr)", "2"); /* a C string */
  EV("str_eq(\"abc\", \"abc\")", "True");
  EV("str_eq(\"abc\", \"abd\")", "False");
  EV("str_eq(\"ab\", \"abc\")", "False");
  EV("str_eq(EMBER_V(\"x\"), \"x\")", "True");
  EV("starts_with(\"hello\", \"he\")", "True");
  EV("starts_with(\"hello\", \"lo\")", "False");
  EV("starts_with(\"he\", \"hello\")", "False");
  EV("starts_with(\"hello\", \"\")", "True");
  EV("ends_with(\"hello\", \"lo\")", "True");
  EV("ends_with(\"hello\", \"he\")", "False");
  EV("ends_with(\"lo\", \"hello\")", "False");
  /* 'lo w' in 'hello world', '' in 'abc', 'z' in 'abc', 2 in [1, 2.0],
   * 'a' in ('a', 'b'), 3 in [1, 2] -> True True False True True False. */
  EV("contains(\"hello world\", \"lo w\")", "True");
  EV("contains(\"abc\", \"\")", "True");
  EV("contains(\"abc\", \"z\")", "False");
  EV("contains(list(1, 2.0), 2)", "True");
  EV("contains(tuple(\"a\", \"b\"), \"a\")", "True");
  EV("contains(list(1, 2), 3)", "False");
  EV("contains(EMBER_V(\"abc\"), \"bc\")", "True");
  EV("contains(EMBER_V(5), 5)", "TypeError: argument of type 'int' is not iterable");
  FIX_END();
}

/* to_long is Python's int(s) in base 10 and to_double float(s), within
 * int64 and double; the ValueError texts are Python's. */
static void udf_helpers_to_long_and_to_double(void **state) {
  (void)state;
  FIX_BEGIN();
  const char *longs[][2] = {
      {"42", "42"},
      {" 42 ", "42"},
      {"-7", "-7"},
      {"+7", "7"},
      {"\\t12\\n", "12"},
      {"00012", "12"},
      {"-0", "0"},
      {"1_000", "1000"},
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"0x10", "ValueError: invalid literal for int() with base 10: '0x10'"},
      {"", "ValueError: invalid literal for int() with base 10: ''"},
      {" ", "ValueError: invalid literal for int() with base 10: ' '"},
      {"1.5", "ValueError: invalid literal for int() with base 10: '1.5'"},
      {"12abc", "ValueError: invalid literal for int() with base 10: '12abc'"},
      {"- 5", "ValueError: invalid literal for int() with base 10: '- 5'"},
      {"1__0", "ValueError: invalid literal for int() with base 10: '1__0'"},
      {"_1", "ValueError: invalid literal for int() with base 10: '_1'"},
      {"1_", "ValueError: invalid literal for int() with base 10: '1_'"},
      {"+", "ValueError: invalid literal for int() with base 10: '+'"},
      {"-", "ValueError: invalid literal for int() with base 10: '-'"},
  };
  for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
    char expr[256];
    snprintf(expr, sizeof expr, "to_long(\"%s\")", longs[i][0]);
    EV(expr, longs[i][1]);
  }
  /* Python's int would grow; int64 cannot, so this is a ValueError. */
  const char *over = ev("to_long(\"9223372036854775808\")");
  assert_true(strncmp(over, "ValueError: ", 12) == 0);
  assert_non_null(strstr(over, "9223372036854775808"));
  /* The string need not be NUL-terminated right after its bytes. */
  EV("to_long(((str){\"123456\", 3}))", "123");

  const char *doubles[][2] = {
      {"1.5", "1.5"},
      {" 2.5e3 ", "2500.0"},
      {"inf", "inf"},
      {"-Infinity", "-inf"},
      {"nan", "nan"},
      {"NaN", "nan"},
      {"+1.5", "1.5"},
      {".5", "0.5"},
      {"5.", "5.0"},
      {"1e5", "100000.0"},
      {"1e400", "inf"},
      {"1e-400", "0.0"},
      {"1_0.5", "10.5"},
      {"1_000", "1000.0"},
      {"infinity", "inf"},
      {"1e5_0", "1e+50"},
      {"0x10", "ValueError: could not convert string to float: '0x10'"},
      {"0x1p3", "ValueError: could not convert string to float: '0x1p3'"},
      {"1e", "ValueError: could not convert string to float: '1e'"},
      {"", "ValueError: could not convert string to float: ''"},
      {"abc", "ValueError: could not convert string to float: 'abc'"},
      {"1.5x", "ValueError: could not convert string to float: '1.5x'"},
      {"nan(1)", "ValueError: could not convert string to float: 'nan(1)'"},
      {"infinit", "ValueError: could not convert string to float: 'infinit'"},
      {"1__0", "ValueError: could not convert string to float: '1__0'"},
      {"_1", "ValueError: could not convert string to float: '_1'"},
      {"1_.5", "ValueError: could not convert string to float: '1_.5'"},
      {"1._5", "ValueError: could not convert string to float: '1._5'"},
      {"1e_5", "ValueError: could not convert string to float: '1e_5'"},
      {"- 1", "ValueError: could not convert string to float: '- 1'"},
      {"--1", "ValueError: could not convert string to float: '--1'"},
      {"in f", "ValueError: could not convert string to float: 'in f'"},
  };
  for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
    char expr[256];
    snprintf(expr, sizeof expr, "to_double(\"%s\")", doubles[i][0]);
    EV(expr, doubles[i][1]);
  }
  EV("to_double(((str){\"2.5e10\", 3}))", "2.5");
  FIX_END();
}

/* strf formats into a new C string of any length; repr is Python's repr. */
static void udf_helpers_strf_and_repr(void **state) {
  (void)state;
  FIX_BEGIN();
  EV("strf(\"%s=%ld (%.2f)\", \"x\", 42L, 0.5)", "'x=42 (0.50)'");
  EV("strf(\"\")", "''");
  EV("strlen(strf(\"%0300d\", 7).ptr)", "300");
  EV("strf(\"%0300d\", 7).len", "300");
  EV("repr(tuple(1, \"a\", list(2.5, NONE, (bool)1)))", "\"(1, 'a', [2.5, None, True])\"");
  EV("repr(\"it's\")", "'\"it\\'s\"'");
  FIX_END();
}

/* emit() sends values to the target set with udf_set_emit; without one it
 * is an error. */
static void collect_emit(void *ctx, eng_val v) { eng_vlist_push(ctx, v); }

static void udf_helpers_emit(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_fn *f = mk("void f(str line) {\n"
                 "  val w = split(line, \" \");\n"
                 "  for (long i = 0; i < len(w); i++) emit(kv(at(w, i), 1));\n"
                 "}\n",
                 UDF_VOID, 1, P_S);
  eng_vlist out;
  eng_vlist_init(&out, arena);
  udf_set_emit(collect_emit, &out);
  eng_val a = sv("to be or");
  eng_val r;
  assert_int_equal(run(f, &a, &r, NULL), 0);
  assert_int_equal(ENG_VKIND(r), ENG_V_NONE);
  assert_string_equal(repr(eng_vlist_finish(&out, ENG_V_LIST)), "[('to', 1), ('be', 1), ('or', 1)]");
  udf_set_emit(NULL, NULL);
  eng_err e;
  assert_int_equal(run(f, &a, &r, &e), ENG_ETYPE);
  assert_string_equal(e.msg,
                      "TypeError: emit() is only allowed in flat_map and map_partitions lambdas");
  FIX_END();
}

/* acc_add() goes to the target set with udf_set_acc. */
typedef struct {
  int64_t id, sum;
  int calls;
} acc_sink;
static void collect_acc(void *ctx, eng_val acc, eng_val x) {
  acc_sink *s = ctx;
  s->id = ENG_VLEN(acc);
  s->sum += eng_v_long(x);
  s->calls++;
}

static void udf_helpers_acc_add(void **state) {
  (void)state;
  FIX_BEGIN();
  const char *cn[] = {"acc"};
  udf_type ct[] = {UDF_VAL};
  udf_fn *f = mk_caps("long f(long x) { acc_add(acc, x); return x; }", UDF_LONG, 1, P_L, 1, cn, ct);
  eng_val acc = {ENG_V_ACC | (5u << 8), 0};
  int owner;
  udf_set_caps(f, &owner, &acc);
  acc_sink sink = {0, 0, 0};
  udf_set_acc(collect_acc, &sink);
  eng_val r;
  for (int i = 1; i <= 10; i++) {
    eng_val a = eng_long(i);
    assert_int_equal(run(f, &a, &r, NULL), 0);
  }
  assert_int_equal(sink.calls, 10);
  assert_int_equal(sink.sum, 55);
  assert_int_equal(sink.id, 5);
  udf_set_acc(NULL, NULL);
  eng_val a = eng_long(1);
  eng_err e;
  assert_int_equal(run(f, &a, &r, &e), ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: accumulators cannot be updated here");
  udf_set_acc(collect_acc, &sink);
  EV("(acc_add(5, 1), 0)", "TypeError: acc_add() needs an accumulator, got int");
  FIX_END();
}

/* exit() in user code raises ValueError instead of ending the process. */
static void udf_exit_raises_value_error(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_fn *f = mk("long f(long x) { if (x > 0) exit(3); return x; }", UDF_LONG, 1, P_L);
  eng_val a = eng_long(1), r;
  eng_err e;
  assert_int_equal(run(f, &a, &r, &e), ENG_EINVAL);
  assert_string_equal(e.msg, "ValueError: exit(3) called from user code; use :quit to leave");
  a = eng_long(0);
  assert_int_equal(run(f, &a, &r, &e), 0);
  assert_int_equal(eng_v_long(r), 0);
  /* The other ways out of a process are refused the same way. */
  const char *others[] = {"void _exit(int); long f(long x) { _exit(4); return x; }",
                          "void _Exit(int); long f(long x) { _Exit(4); return x; }",
                          "void quick_exit(int); long f(long x) { quick_exit(4); return x; }"};
  for (int i = 0; i < 3; i++) {
    f = mk(others[i], UDF_LONG, 1, P_L);
    assert_int_equal(run(f, &a, &r, &e), ENG_EINVAL);
    assert_string_equal(e.msg, "ValueError: exit(4) called from user code; use :quit to leave");
  }
  FIX_END();
}

/* Helpers may be called from functions the source defines besides the
 * entry, and from host symbols registered with udf_add_host_symbol. */
static long host_twice(long x) { return 2 * x; }

static void udf_host_symbols_and_modules(void **state) {
  (void)state;
  /* The host symbol table lives as long as the process: register first. */
  udf_add_host_symbol("host_twice", (const void *)host_twice);
  FIX_BEGIN();
  udf_fn *f = mk("long host_twice(long);\n"
                 "static long helper(long x) { return host_twice(x) + 1; }\n"
                 "long f(long x) { return helper(x); }\n",
                 UDF_LONG, 1, P_L);
  eng_val a = eng_long(20);
  assert_string_equal(call_repr(f, &a), "41");
  eng_err e = {0};
  udf_module *m = udf_module_compile("#define K 6\n", "long cell(void) { return K * 7; }\n", &e);
  assert_non_null(m);
  long (*cell)(void) = (long (*)(void))udf_module_symbol(m, "cell");
  assert_non_null(cell);
  assert_int_equal(cell(), 42);
  assert_null(udf_module_symbol(m, "nothing"));
  udf_module_free(m);
  assert_null(udf_module_compile(NULL, "long cell(void) { return nope(); }\n", &e));
  assert_string_equal(e.msg, "CompileError: undefined symbol 'nope' in this cell");
  assert_non_null(strstr(udf_prelude(), "#define kv("));
  FIX_END();
}

/* ---- guards ----------------------------------------------------------------------- */

/* Runs fn(arg) under a guard named `name`; returns the error message. */
static const char *crash_msg(udf_fn *fn, eng_val arg, const char *name, int *out_sig) {
  static char out[1024];
  udf_guard g;
  if (UDF_TRY(&g)) {
    udf_enter(name);
    fn->call(&arg);
    udf_leave();
    udf_guard_pop(&g);
    snprintf(out, sizeof out, "no error");
    if (out_sig) *out_sig = 0;
    return out;
  }
  if (out_sig) *out_sig = g.sig;
  assert_null(udf_current()); /* the guard restored "no user code" */
  snprintf(out, sizeof out, "%s", g.err.msg);
  return out;
}

/* Checks the process still runs a normal UDF call and a raised error. */
static void still_works(void) {
  udf_fn *ok = mk("long f(long x) { return x + 1; }", UDF_LONG, 1, P_L);
  eng_val a = eng_long(41), r;
  assert_int_equal(run(ok, &a, &r, NULL), 0);
  assert_int_equal(eng_v_long(r), 42);
  EV("at(list(), 1)", "ValueError: index 1 out of range for list of length 0");
}

/* Each fault in user code comes back as "Crash: SIG... in <name>", 100
 * times over (so the signal is unblocked again after each), and normal
 * calls work afterwards. */
static void udf_guard_catches_crashes(void **state) {
  (void)state;
  FIX_BEGIN();
  struct {
    const char *src;
    long arg;
    int sig;
    const char *msg;
  } cases[] = {
      {"long f(long x) { return *(volatile long *)(x - x) + x; }", 1, SIGSEGV,
       "Crash: SIGSEGV in lambda at cell[9]:1"},
      {"long f(long x) { return 10 / x; }", 0, SIGFPE, "Crash: SIGFPE in lambda at cell[9]:1"},
      {"long f(long x) { long m = -9223372036854775807L - 1; return m / x; }", -1, SIGFPE,
       "Crash: SIGFPE in lambda at cell[9]:1"},
      {"long f(long x) { abort(); return x; }", 0, SIGABRT,
       "Crash: SIGABRT in lambda at cell[9]:1"},
      {"long f(long x) { volatile char pad[512]; pad[0] = (char)x; return f(x + 1) + pad[0]; }", 0,
       SIGSEGV, "Crash: SIGSEGV in lambda at cell[9]:1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    udf_fn *f = mk(cases[i].src, UDF_LONG, 1, P_L);
    int reps = 100;
    for (int k = 0; k < reps; k++) {
      int sig = -1;
      const char *m = crash_msg(f, eng_long(cases[i].arg), "lambda at cell[9]:1", &sig);
      if (strcmp(m, cases[i].msg) != 0) fail_msg("%s (rep %d): %s", cases[i].src, k, m);
      assert_int_equal(sig, cases[i].sig);
    }
    still_works();
  }
  /* Outside udf_enter the crash is attributed to ember itself. */
  udf_fn *f = mk(cases[0].src, UDF_LONG, 1, P_L);
  udf_guard g;
  if (UDF_TRY(&g)) {
    eng_val a = eng_long(1);
    f->call(&a);
    udf_guard_pop(&g);
    fail_msg("no crash");
  }
  assert_string_equal(g.err.msg, "Crash: SIGSEGV in ember");
  assert_int_equal(g.err.code, ENG_ECRASH);
  still_works();
  FIX_END();
}

/* Guards nest: an inner guard catches its own crash and the outer one
 * stays usable; after the inner guard is popped, a fault goes to the outer. */
static void udf_guard_nests(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_fn *crash = mk("long f(long x) { return *(volatile long *)(x - x); }", UDF_LONG, 1, P_L);
  eng_val a = eng_long(1);
  volatile int inner_caught = 0;
  udf_guard outer;
  if (UDF_TRY(&outer)) {
    udf_guard inner;
    if (UDF_TRY(&inner)) {
      udf_enter("inner");
      crash->call(&a);
      udf_guard_pop(&inner);
    } else {
      inner_caught = 1;
      assert_string_equal(inner.err.msg, "Crash: SIGSEGV in inner");
    }
    udf_enter("outer");
    crash->call(&a);
    udf_guard_pop(&outer);
    fail_msg("no crash");
  }
  assert_int_equal(inner_caught, 1);
  assert_string_equal(outer.err.msg, "Crash: SIGSEGV in outer");
  still_works();
  FIX_END();
}

/* An endless loop on another thread is interrupted with
 * udf_guard_interrupt well within a second, as "Cancelled: ...". */
typedef struct {
  udf_fn *fn, *ok;
  volatile int started, cancelled, go_on, done;
  eng_err err;
  int rc;
  int64_t after; /* what ok returned after the cancel */
} loop_arg;

static void *loop_worker(void *p) {
  loop_arg *a = p;
  udf_guard_thread_init();
  eng_arena *ar = eng_arena_new(0);
  eng_arena_set_current(ar);
  udf_guard g;
  if (UDF_TRY(&g)) {
    udf_enter("lambda at cell[5]:2");
    a->started = 1;
    eng_val x = eng_long(1);
    a->fn->call(&x);
    udf_leave();
    udf_guard_pop(&g);
    a->rc = 0;
  } else {
    a->rc = g.err.code;
    a->err = g.err;
  }
  /* Wait until the main thread stops interrupting (and any signal still
   * pending has arrived, harmlessly, outside user code). */
  a->cancelled = 1;
  while (!a->go_on) usleep(1000);
  usleep(10000);
  /* The thread keeps working after the cancel. */
  if (UDF_TRY(&g)) {
    udf_enter("after");
    eng_val x = eng_long(41);
    a->after = eng_v_long(a->ok->call(&x));
    udf_leave();
    udf_guard_pop(&g);
  }
  eng_arena_set_current(NULL);
  eng_arena_free(ar);
  a->done = 1;
  return NULL;
}

static void udf_guard_interrupts_endless_loop(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_fn *f = mk("long f(long x) { volatile long i = 0; for (;;) i += x; return i; }", UDF_LONG,
                 1, P_L);
  for (int round = 0; round < 5; round++) {
    loop_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.fn = f;
    arg.ok = mk("long f(long x) { return x + 1; }", UDF_LONG, 1, P_L);
    arg.rc = 1;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, loop_worker, &arg), 0);
    while (!arg.started) usleep(1000);
    usleep(20000); /* let it spin */
    double t0 = now_s();
    while (!arg.cancelled && now_s() - t0 < 5) {
      udf_guard_interrupt(th);
      usleep(2000);
    }
    double took = now_s() - t0;
    arg.go_on = 1;
    pthread_join(th, NULL);
    assert_int_equal(arg.done, 1);
    if (took >= 0.9) fail_msg("cancel took %.3f s", took);
    assert_int_equal(arg.rc, ENG_ECANCEL);
    assert_string_equal(arg.err.msg, "Cancelled: interrupted in lambda at cell[5]:2");
    assert_int_equal(arg.after, 42);
  }
  /* Interrupting a thread that runs no user code is harmless. */
  udf_guard_interrupt(pthread_self());
  still_works();
  FIX_END();
}

/* udf_guard_cancel_here unwinds only inside user code under a guard. */
static void udf_guard_cancel_here_unwinds_user_code(void **state) {
  (void)state;
  FIX_BEGIN();
  udf_guard_cancel_here(); /* no guard: returns */
  udf_guard g;
  volatile int reached = 0;
  if (UDF_TRY(&g)) {
    udf_guard_cancel_here(); /* guarded, but not in user code: returns */
    reached = 1;
    udf_enter("cell[1]");
    udf_guard_cancel_here();
    reached = 2;
    udf_guard_pop(&g);
  }
  assert_int_equal(reached, 1);
  assert_int_equal(g.err.code, ENG_ECANCEL);
  assert_string_equal(g.err.msg, "Cancelled: interrupted in cell[1]");
  still_works();
  FIX_END();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(udf_type_names_roundtrip),
    cmocka_unit_test(udf_def_new_copy_and_hash),
    cmocka_unit_test(udf_def_json_roundtrip),
    cmocka_unit_test(udf_def_from_json_rejects_malformed),
    cmocka_unit_test(udf_call_every_type),
    cmocka_unit_test(udf_call_argument_type_errors),
    cmocka_unit_test(udf_typed_kernels_match_signature),
    cmocka_unit_test(udf_inlined_kernels_agree_with_calls),
    cmocka_unit_test(udf_call_kv_matches_call),
    cmocka_unit_test(udf_tier_rebuilds_hot_kernels),
    cmocka_unit_test(udf_captures_each_type),
    cmocka_unit_test(udf_cache_compiles_once),
    cmocka_unit_test(udf_cache_concurrent_gets_agree),
    cmocka_unit_test(udf_compile_error_points_at_cell_line),
    cmocka_unit_test(udf_undefined_symbol_names_the_udf),
    cmocka_unit_test(udf_builtin_add),
    cmocka_unit_test(udf_helpers_make_and_read_values),
    cmocka_unit_test(udf_helpers_at),
    cmocka_unit_test(udf_helpers_len),
    cmocka_unit_test(udf_helpers_as_conversions),
    cmocka_unit_test(udf_helpers_split_and_words),
    cmocka_unit_test(udf_helpers_split_matches_bytewise),
    cmocka_unit_test(udf_helpers_strings),
    cmocka_unit_test(udf_helpers_to_long_and_to_double),
    cmocka_unit_test(udf_helpers_strf_and_repr),
    cmocka_unit_test(udf_helpers_emit),
    cmocka_unit_test(udf_helpers_acc_add),
    cmocka_unit_test(udf_exit_raises_value_error),
    cmocka_unit_test(udf_host_symbols_and_modules),
    cmocka_unit_test(udf_guard_catches_crashes),
    cmocka_unit_test(udf_guard_nests),
    cmocka_unit_test(udf_guard_interrupts_endless_loop),
    cmocka_unit_test(udf_guard_cancel_here_unwinds_user_code),
};

TH_MAIN(tests)
