/* test_api.c -- the dataset API of SPEC 5 through the C API, on real
 * executor processes (local[2]): every create, transform, act, keep, share
 * and look operation, checked against the examples of PySpark's RDD
 * documentation (the pyspark.RDD docstrings) with their documented output,
 * compared as Python repr exactly as PySpark prints it. Where the docs sort
 * a result because its order is undefined, the test sorts too; where SPEC
 * and PySpark differ, SPEC wins (count_by_key is a sorted list of pairs,
 * union is union_all).
 *
 * Also the error behaviour at the API: a lambda whose parameter types cannot
 * fit the dataset is a TypeError before any task runs, reduce()/first() of
 * nothing are ValueErrors, and a UDF raising inside a task fails the action
 * with "TaskFailed: ..." while the session keeps working.
 *
 * One session is shared by all tests (group setup), so the program starts
 * its executors once; the group teardown frees it and checks that every
 * byte the engine allocated came back.
 */
#include "eng_th.h"

#include <ctype.h>
#include <glob.h>
#include <math.h>
#include <unistd.h>

/* ---- fixture and helpers --------------------------------------------------- */

static eng_session *S;
static int64_t mem_at_start;
static char tmpdir[256];

static int group_setup(void **state) {
  (void)state;
  mem_at_start = eng_mem_in_use();
  S = th_session(2);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ember-test-api-XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  eng_session_free(S);
  S = NULL;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) return -1;
  int64_t leak = eng_mem_in_use() - mem_at_start;
  if (leak != 0) {
    fprintf(stderr, "test_api: the session leaked %lld bytes\n", (long long)leak);
    return -1;
  }
  return 0;
}

/* Every test starts with no error left over from the one before. */
static int test_setup(void **state) {
  (void)state;
  eng_session_clear_error(S);
  eng_session_set_callsite(S, NULL);
  return 0;
}

static eng_arena *A(void) { return eng_session_arena(S); }

/* ---- Python literals to values ---------------------------------------------- */

static eng_val parse_val(const char **pp);

static void skip_ws(const char **pp) {
  while (isspace((unsigned char)**pp)) (*pp)++;
}

/* Items up to `close`, as a list or tuple ("(x,)" is a 1-tuple). */
static eng_val parse_seq(const char **pp, char close, int kind) {
  eng_vlist l;
  eng_vlist_init(&l, A());
  (*pp)++;
  skip_ws(pp);
  while (**pp != close) {
    eng_vlist_push(&l, parse_val(pp));
    skip_ws(pp);
    if (**pp == ',') (*pp)++;
    skip_ws(pp);
  }
  (*pp)++;
  return eng_vlist_finish(&l, kind);
}

/* One Python literal: None, True, False, ints, floats, 'strings' (with \n
 * and \\ escapes), tuples and lists. */
static eng_val parse_val(const char **pp) {
  skip_ws(pp);
  const char *p = *pp;
  if (*p == '[') return parse_seq(pp, ']', ENG_V_LIST);
  if (*p == '(') return parse_seq(pp, ')', ENG_V_TUPLE);
  if (*p == '\'') {
    char buf[1024];
    long n = 0;
    for (p++; *p && *p != '\''; p++) {
      char c = *p;
      if (c == '\\') {
        p++;
        c = *p == 'n' ? '\n' : *p;
      }
      if (n < (long)sizeof buf) buf[n++] = c;
    }
    *pp = p + 1;
    return eng_str_copy(A(), buf, n);
  }
  if (strncmp(p, "None", 4) == 0) {
    *pp = p + 4;
    return eng_none();
  }
  if (strncmp(p, "True", 4) == 0) {
    *pp = p + 4;
    return eng_bool(1);
  }
  if (strncmp(p, "False", 5) == 0) {
    *pp = p + 5;
    return eng_bool(0);
  }
  const char *q = p;
  if (*q == '-') q++;
  while (isdigit((unsigned char)*q)) q++;
  char *end;
  if (*q == '.' || *q == 'e') {
    double d = strtod(p, &end);
    *pp = end;
    return eng_double(d);
  }
  long long x = strtoll(p, &end, 10);
  if (end == p) fail_msg("bad literal at '%s'", p);
  *pp = end;
  return eng_long(x);
}

/* The value of a Python literal, in the session's value arena. */
static eng_val pv(const char *lit) {
  const char *p = lit;
  return parse_val(&p);
}

/* parallelize(literal, slices); slices 0 is the default. */
static eng_ds *par(const char *lit, int slices) {
  eng_ds *d = eng_parallelize(S, pv(lit), slices);
  if (!d) fail_msg("parallelize(%s): %s", lit, eng_session_errmsg(S));
  return d;
}

static eng_ds *chk(eng_ds *d) {
  if (!d) fail_msg("transformation failed: %s", eng_session_errmsg(S));
  return d;
}

static int cmp_vals(const void *x, const void *y) {
  return eng_val_cmp_total(*(const eng_val *)x, *(const eng_val *)y);
}

/* A sorted copy of a list (Python's sorted()). */
static eng_val sorted(eng_val l) {
  long n = ENG_VLEN(l);
  eng_val *it = eng_arena_alloc(A(), (size_t)(n + 1) * sizeof *it);
  if (n) memcpy(it, eng_v_items(l), (size_t)n * sizeof *it);
  qsort(it, (size_t)n, sizeof *it, cmp_vals);
  return eng_seqv(ENG_V_LIST, it, n);
}

/* Group results with their value lists sorted, the groups sorted too:
 * (k, [..]) and (k, ([..], [..])) as PySpark's docs print them after
 * sorted((x, sorted(y)) ...), since the order inside a group is not
 * defined. */
static eng_val sorted_groups(eng_val l) {
  long n = ENG_VLEN(l);
  eng_val *it = eng_arena_alloc(A(), (size_t)(n + 1) * sizeof *it);
  for (long i = 0; i < n; i++) {
    eng_val pr = eng_v_items(l)[i];
    eng_val k = eng_v_items(pr)[0], g = eng_v_items(pr)[1];
    if (ENG_VKIND(g) == ENG_V_LIST) {
      g = sorted(g);
    } else if (ENG_VKIND(g) == ENG_V_TUPLE) {
      eng_val parts[2] = {sorted(eng_v_items(g)[0]), sorted(eng_v_items(g)[1])};
      g = eng_tuple(A(), parts, 2);
    }
    it[i] = eng_pair(A(), k, g);
  }
  return sorted(eng_seqv(ENG_V_LIST, it, n));
}

static eng_val collect(eng_ds *d) {
  eng_val out;
  TH_OK(S, eng_collect(d, &out));
  return out;
}

#define EXPECT(ds, want) assert_string_equal(th_repr(collect(ds)), want)
#define EXPECT_SORTED(ds, want) assert_string_equal(th_repr(sorted(collect(ds))), want)
#define EXPECT_GROUPS(ds, want) assert_string_equal(th_repr(sorted_groups(collect(ds))), want)

/* UDFs named f from C source. */
static eng_udf *U1(const char *src, udf_type ret, udf_type p0) {
  return th_udf(S, src, "f", ret, 1, p0, 0);
}
static eng_udf *U2(const char *src, udf_type ret, udf_type p0, udf_type p1) {
  return th_udf(S, src, "f", ret, 2, p0, p1);
}

/* A UDF with one capture of type val named `cap`. */
static eng_udf *U1cap(const char *src, udf_type ret, udf_type p0, const char *cap, eng_val cv) {
  udf_type ps[1] = {p0};
  const char *cn[1] = {cap};
  udf_type ct[1] = {UDF_VAL};
  udf_def *d = udf_def_new("lambda at test", src, "f", ret, 1, ps, 1, cn, ct);
  eng_udf *f = eng_udf_new(S, d, &cv);
  udf_def_free(d);
  if (!f) fail_msg("udf: %s", eng_session_errmsg(S));
  return f;
}

static eng_udf *ADD(void) { return eng_udf_builtin(S, "add"); }

static long jobs_run(void) {
  eng_runstats st;
  eng_session_stats(S, &st);
  return st.jobs;
}

/* ------------------------------------------------------------------------ */
/* Create                                                                   */
/* ------------------------------------------------------------------------ */

/* parallelize: partition i holds [i*n/k, (i+1)*n/k); empty ones are kept. */
static void api_parallelize(void **state) {
  (void)state;
  EXPECT(eng_glom(par("[0, 2, 3, 4, 6]", 5)), "[[0], [2], [3], [4], [6]]");
  EXPECT(eng_glom(par("[0, 2, 4]", 5)), "[[], [0], [], [2], [4]]");
  EXPECT(par("[('a', 1), ('b', 2)]", 0), "[('a', 1), ('b', 2)]");
  EXPECT(par("[None, True, 2.5, 'x', [1, 2], (3,)]", 0), "[None, True, 2.5, 'x', [1, 2], (3,)]");
  /* The default is one partition per executor core (local[2]). */
  assert_int_equal(eng_num_partitions(par("[1, 2, 3]", 0)), 2);
  EXPECT(eng_glom(par("[]", 3)), "[[], [], []]");
}

static void api_range(void **state) {
  (void)state;
  EXPECT(eng_range(S, 0, 5, 1, 0), "[0, 1, 2, 3, 4]");
  EXPECT(eng_range(S, 2, 4, 1, 0), "[2, 3]");
  EXPECT(eng_range(S, 1, 7, 2, 0), "[1, 3, 5]");
  assert_int_equal(eng_num_partitions(eng_range(S, 0, 5, 1, 1)), 1);
  /* Sliced as parallelize(range(...)) is. */
  EXPECT(eng_glom(eng_range(S, 0, 10, 1, 3)), "[[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]");
  EXPECT(eng_range(S, 10, 0, -3, 0), "[10, 7, 4, 1]");
  EXPECT(eng_range(S, 5, 5, 1, 0), "[]");
  assert_null(eng_range(S, 0, 5, 0, 0));
  assert_string_equal(eng_session_errmsg(S), "ValueError: range() arg 3 must not be zero");
}

static void api_text_file(void **state) {
  (void)state;
  char path[512];
  snprintf(path, sizeof path, "%s/sample-text.txt", tmpdir);
  FILE *f = fopen(path, "w");
  fputs("Hello world!", f);
  fclose(f);
  EXPECT(eng_text_file(S, path, 0), "['Hello world!']");
  /* A glob of several files, lines in order within each file. */
  char p2[512], g[512];
  snprintf(p2, sizeof p2, "%s/sample-more.txt", tmpdir);
  f = fopen(p2, "w");
  fputs("a\nb\n\nc\n", f);
  fclose(f);
  snprintf(g, sizeof g, "%s/sample-*.txt", tmpdir);
  EXPECT_SORTED(eng_text_file(S, g, 3), "['', 'Hello world!', 'a', 'b', 'c']");
  /* A file split into more partitions than it has blocks of lines: every
   * line exactly once, whatever the split boundaries cut. */
  char big[512];
  snprintf(big, sizeof big, "%s/big.txt", tmpdir);
  f = fopen(big, "w");
  for (int i = 0; i < 20000; i++) fprintf(f, "%d %s\n", i, i % 3 ? "some words" : "");
  fclose(f);
  eng_ds *lines = eng_text_file(S, big, 7);
  assert_int_equal(eng_num_partitions(lines), 7);
  eng_val sum;
  TH_OK(S, eng_sum(chk(eng_map(lines, U1("long f(str s) { return to_long(at(words(s), 0)); }",
                                         UDF_LONG, UDF_STR))),
                   &sum));
  assert_string_equal(th_repr(sum), "199990000");
  int64_t n;
  TH_OK(S, eng_count(lines, &n));
  assert_int_equal(n, 20000);
  /* explain() names text datasets by their path, as Spark does. */
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(lines, &b));
  char want[1024];
  snprintf(want, sizeof want, "(7) %s HadoopRDD[%d] at text_file at <api> []\n", big,
           eng_ds_id(lines));
  assert_string_equal(eng_buf_cstr(&b), want);
  eng_buf_free(&b);
  /* 100 MB: Hadoop's rule (32 MiB blocks) makes 3 splits, which leave one
   * of the 2 cores idle in the last wave; by default ember makes 4. An
   * explicit min_partitions keeps Hadoop's count. */
  char huge[512];
  snprintf(huge, sizeof huge, "%s/huge.txt", tmpdir);
  f = fopen(huge, "w");
  for (int i = 0; i < 1000000; i++) fprintf(f, "%099d\n", i);
  fclose(f);
  eng_ds *d4 = chk(eng_text_file(S, huge, 0)), *d3 = chk(eng_text_file(S, huge, 2));
  assert_int_equal(eng_num_partitions(d4), 4);
  assert_int_equal(eng_num_partitions(d3), 3);
  TH_OK(S, eng_count(d4, &n));
  assert_int_equal(n, 1000000);
  TH_OK(S, eng_count(d3, &n));
  assert_int_equal(n, 1000000);
  unlink(huge);
  snprintf(g, sizeof g, "%s/nope-*.txt", tmpdir);
  assert_null(eng_text_file(S, g, 0));
  assert_non_null(strstr(eng_session_errmsg(S), "IOError: "));
}

static void api_empty(void **state) {
  (void)state;
  eng_ds *e = eng_empty(S);
  assert_int_equal(eng_num_partitions(e), 0);
  EXPECT(e, "[]");
  int64_t n = -1;
  TH_OK(S, eng_count(e, &n));
  assert_int_equal(n, 0);
  int empty = 0;
  TH_OK(S, eng_is_empty(e, &empty));
  assert_true(empty);
  TH_OK(S, eng_is_empty(par("[]", 0), &empty));
  assert_true(empty);
  TH_OK(S, eng_is_empty(par("[1]", 0), &empty));
  assert_false(empty);
}

/* ------------------------------------------------------------------------ */
/* Transform                                                                */
/* ------------------------------------------------------------------------ */

static void api_map(void **state) {
  (void)state;
  eng_ds *rdd = par("['b', 'a', 'c']", 0);
  EXPECT_SORTED(chk(eng_map(rdd, U1("val f(str x) { return kv(x, 1); }", UDF_VAL, UDF_STR))),
                "[('a', 1), ('b', 1), ('c', 1)]");
  /* Typed kernels over longs, and a lambda over pairs taking (key, value). */
  EXPECT(chk(eng_map(eng_range(S, 0, 5, 1, 0),
                     U1("long f(long x) { return x * x; }", UDF_LONG, UDF_LONG))),
         "[0, 1, 4, 9, 16]");
  EXPECT(chk(eng_map(par("[('a', 1), ('b', 2)]", 0),
                     U2("val f(str k, long v) { return kv(v, k); }", UDF_VAL, UDF_STR, UDF_LONG))),
         "[(1, 'a'), (2, 'b')]");
  EXPECT(chk(eng_map(eng_range(S, 0, 4, 1, 0),
                     U1("double f(long x) { return x / 2.0; }", UDF_DOUBLE, UDF_LONG))),
         "[0.0, 0.5, 1.0, 1.5]");
}

static void api_flat_map(void **state) {
  (void)state;
  eng_ds *rdd = par("[2, 3, 4]", 0);
  EXPECT_SORTED(chk(eng_flat_map(rdd, U1("void f(long x) { for (long i = 1; i < x; i++) emit(i); }",
                                         UDF_VOID, UDF_LONG))),
                "[1, 1, 1, 2, 2, 3]");
  EXPECT_SORTED(chk(eng_flat_map(rdd, U1("val f(long x) { return list(kv(x, x), kv(x, x)); }",
                                         UDF_VAL, UDF_LONG))),
                "[(2, 2), (2, 2), (3, 3), (3, 3), (4, 4), (4, 4)]");
  EXPECT(chk(eng_flat_map(par("[('a', 2), ('b', 1)]", 0),
                          U2("void f(str k, long n) { for (long i = 0; i < n; i++) emit(k); }",
                             UDF_VOID, UDF_STR, UDF_LONG))),
         "['a', 'a', 'b']");
  EXPECT(chk(eng_flat_map(par("['a b', '', 'c']", 0),
                          U1("val f(str s) { return split(s, \" \"); }", UDF_VAL, UDF_STR))),
         "['a', 'b', '', 'c']");
}

static void api_filter(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2, 3, 4, 5]", 0);
  EXPECT(chk(eng_filter(rdd, U1("bool f(long x) { return x % 2 == 0; }", UDF_BOOL, UDF_LONG))),
         "[2, 4]");
  EXPECT(
      chk(eng_filter(par("[('a', 1), ('b', 2), ('c', 3)]", 0),
                     U2("bool f(str k, long v) { return v != 2; }", UDF_BOOL, UDF_STR, UDF_LONG))),
      "[('a', 1), ('c', 3)]");
  EXPECT(chk(eng_filter(
             par("[('a', 1), ('b', 2)]", 0),
             U1("bool f(val p) { return str_eq(as_str(key(p)), \"b\"); }", UDF_BOOL, UDF_VAL))),
         "[('b', 2)]");
  EXPECT(chk(eng_filter(par("['a', 'bb', 'ccc']", 0),
                        U1("bool f(str s) { return len(s) > 1; }", UDF_BOOL, UDF_STR))),
         "['bb', 'ccc']");
}

static void api_map_partitions(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2, 3, 4]", 2);
  EXPECT(chk(eng_map_partitions(
             rdd, U1("val f(val part) {\n"
                     "  long s = 0;\n"
                     "  for (long i = 0; i < len(part); i++) s += as_long(at(part, i));\n"
                     "  return list(s);\n"
                     "}",
                     UDF_VAL, UDF_VAL))),
         "[3, 7]");
  /* emit() works too, and an empty partition is still called. */
  EXPECT(chk(eng_map_partitions(par("[1]", 2),
                                U1("void f(val part) { emit(len(part)); }", UDF_VOID, UDF_VAL))),
         "[0, 1]");
}

static void api_map_partitions_with_index(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2, 3, 4]", 4);
  eng_ds *idx = chk(eng_map_partitions_with_index(
      rdd, U2("val f(long i, val part) { return list(i); }", UDF_VAL, UDF_LONG, UDF_VAL)));
  eng_val sum;
  TH_OK(S, eng_sum(idx, &sum));
  assert_string_equal(th_repr(sum), "6");
  EXPECT(idx, "[0, 1, 2, 3]");
}

static void api_distinct(void **state) {
  (void)state;
  EXPECT_SORTED(chk(eng_distinct(par("[1, 1, 2, 3]", 0), 0)), "[1, 2, 3]");
  EXPECT_SORTED(chk(eng_distinct(par("['a', 'b', 'a', ('x', 1), ('x', 1), 1.0, 1]", 3), 2)),
                "[1.0, 'a', 'b', ('x', 1)]");
}

static void api_union_all(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 1, 2, 3]", 0);
  eng_ds *u = chk(eng_union_all(rdd, rdd));
  EXPECT(u, "[1, 1, 2, 3, 1, 1, 2, 3]");
  assert_int_equal(eng_num_partitions(u), 4);
}

static void api_intersection(void **state) {
  (void)state;
  eng_ds *rdd1 = par("[1, 10, 2, 3, 4, 5]", 0);
  eng_ds *rdd2 = par("[1, 6, 2, 3, 7, 8]", 0);
  EXPECT_SORTED(chk(eng_intersection(rdd1, rdd2, 0)), "[1, 2, 3]");
  /* The result has no duplicates. */
  EXPECT_SORTED(
      chk(eng_intersection(par("[1, 1, 2, 3, 'a', 'a']", 3), par("[1, 1, 3, 4, 'a']", 2), 0)),
      "[1, 3, 'a']");
}

static void api_subtract(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4), ('b', 5), ('a', 3)]", 0);
  eng_ds *y = par("[('a', 3), ('c', None)]", 0);
  EXPECT_SORTED(chk(eng_subtract(x, y, 0)), "[('a', 1), ('b', 4), ('b', 5)]");
  /* Duplicates on the left are kept. */
  EXPECT_SORTED(chk(eng_subtract(par("[1, 1, 2, 3]", 0), par("[2, 4]", 0), 0)), "[1, 1, 3]");
}

static void api_cartesian(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2]", 0);
  eng_ds *c = chk(eng_cartesian(rdd, rdd));
  EXPECT_SORTED(c, "[(1, 1), (1, 2), (2, 1), (2, 2)]");
  assert_int_equal(eng_num_partitions(c), 4);
}

static void api_sample(void **state) {
  (void)state;
  eng_ds *rdd = chk(eng_range(S, 0, 100, 1, 4));
  int64_t n;
  TH_OK(S, eng_count(chk(eng_sample(rdd, 0, 0.1, 81)), &n));
  assert_true(6 <= n && n <= 14);
  /* The same seed gives the same sample. */
  eng_val a = collect(chk(eng_sample(rdd, 0, 0.5, 7)));
  char *ra = strdup(th_repr(a));
  EXPECT(chk(eng_sample(rdd, 0, 0.5, 7)), ra);
  free(ra);
  TH_OK(S, eng_count(chk(eng_sample(rdd, 1, 2.0, 3)), &n));
  assert_true(120 <= n && n <= 280);
  TH_OK(S, eng_count(chk(eng_sample(rdd, 0, 0.0, 3)), &n));
  assert_int_equal(n, 0);
  assert_null(eng_sample(rdd, 0, 1.5, 3));
  assert_non_null(strstr(eng_session_errmsg(S), "ValueError: "));
}

static const char *TMP = "[('a', 1), ('b', 2), ('1', 3), ('d', 4), ('2', 5)]";

static void api_sort_by(void **state) {
  (void)state;
  eng_ds *d = par(TMP, 0);
  EXPECT(chk(eng_sort_by(d, U1("val f(val x) { return at(x, 0); }", UDF_VAL, UDF_VAL), 1, 0)),
         "[('1', 3), ('2', 5), ('a', 1), ('b', 2), ('d', 4)]");
  EXPECT(chk(eng_sort_by(d, U1("val f(val x) { return at(x, 1); }", UDF_VAL, UDF_VAL), 1, 0)),
         "[('a', 1), ('b', 2), ('1', 3), ('d', 4), ('2', 5)]");
  /* A total order across partitions, either way. */
  eng_ds *r = eng_range(S, 0, 50, 1, 5);
  eng_ds *desc = chk(
      eng_sort_by(r, U1("long f(long x) { return x % 7 * 100 + x; }", UDF_LONG, UDF_LONG), 0, 3));
  eng_val got = collect(desc);
  assert_int_equal(ENG_VLEN(got), 50);
  for (long i = 1; i < 50; i++) {
    int64_t a = eng_v_long(eng_v_items(got)[i - 1]), b = eng_v_long(eng_v_items(got)[i]);
    assert_true(a % 7 * 100 + a > b % 7 * 100 + b);
  }
  assert_int_equal(eng_num_partitions(desc), 3);
  /* More partitions than rows, and nothing at all. */
  EXPECT(chk(eng_sort_by(eng_range(S, 0, 3, 1, 2),
                         U1("long f(long x) { return x; }", UDF_LONG, UDF_LONG), 0, 5)),
         "[2, 1, 0]");
  EXPECT(
      chk(eng_sort_by(par("[]", 3), U1("long f(long x) { return x; }", UDF_LONG, UDF_LONG), 1, 2)),
      "[]");
  /* Long keys over the whole range (the radix sort: sign, every byte),
   * both ways, one partition so its order is the whole order. */
  for (int asc = 0; asc <= 1; asc++) {
    eng_ds *big = chk(eng_sort_by(
        eng_range(S, 0, 3000, 1, 3),
        U1("long f(long x) { return (x * 2654435761) ^ (x << 40) ^ -(x & 1); }", UDF_LONG, UDF_LONG),
        asc, 1));
    got = collect(big);
    assert_int_equal(ENG_VLEN(got), 3000);
    for (long i = 1; i < 3000; i++) {
      int64_t a = eng_v_long(eng_v_items(got)[i - 1]), b = eng_v_long(eng_v_items(got)[i]);
      int64_t ka = (a * 2654435761) ^ (a << 40) ^ -(a & 1), kb = (b * 2654435761) ^ (b << 40) ^ -(b & 1);
      assert_true(asc ? ka <= kb : ka >= kb);
    }
  }
  /* Keys that turn double midway: the comparison sort, 1 == 1.0. */
  EXPECT(chk(eng_sort_by(eng_range(S, 0, 100, 1, 1),
                         U1("val f(long x) { return x == 50 ? EMBER_V(-0.5) : EMBER_V(100 - x); }",
                            UDF_VAL, UDF_LONG),
                         1, 1)),
         "[50, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77, "
         "76, 75, 74, 73, 72, 71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, "
         "52, 51, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, "
         "27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, "
         "1, 0]");
}

static void api_sort_by_key(void **state) {
  (void)state;
  eng_val first;
  TH_OK(S, eng_first(chk(eng_sort_by_key(par(TMP, 0), 1, 0, NULL)), &first));
  assert_string_equal(th_repr(first), "('1', 3)");
  EXPECT(chk(eng_sort_by_key(par(TMP, 0), 1, 1, NULL)),
         "[('1', 3), ('2', 5), ('a', 1), ('b', 2), ('d', 4)]");
  EXPECT(chk(eng_sort_by_key(par(TMP, 0), 1, 2, NULL)),
         "[('1', 3), ('2', 5), ('a', 1), ('b', 2), ('d', 4)]");
  eng_ds *tmp2 =
      par("[('Mary', 1), ('had', 2), ('a', 3), ('little', 4), ('lamb', 5),"
          " ('whose', 6), ('fleece', 7), ('was', 8), ('white', 9)]",
          0);
  EXPECT(
      chk(eng_sort_by_key(tmp2, 1, 3, U1("str f(str k) { return lower(k); }", UDF_STR, UDF_STR))),
      "[('a', 3), ('fleece', 7), ('had', 2), ('lamb', 5), ('little', 4), ('Mary', 1), ('was', 8),"
      " ('white', 9), ('whose', 6)]");
  EXPECT(chk(eng_sort_by_key(par(TMP, 3), 0, 2, NULL)),
         "[('d', 4), ('b', 2), ('a', 1), ('2', 5), ('1', 3)]");
  /* Ints and floats compare as numbers. */
  EXPECT(chk(eng_sort_by_key(par("[(2.5, 'a'), (1, 'b'), (-3, 'd'), (0.5, 'e')]", 2), 1, 2, NULL)),
         "[(-3, 'd'), (0.5, 'e'), (1, 'b'), (2.5, 'a')]");
  /* Keys Python cannot order fail the job with its TypeError. */
  eng_val v;
  assert_int_equal(
      eng_collect(chk(eng_sort_by_key(par("[(None, 1), (2, 2), ('x', 3)]", 1), 1, 1, NULL)), &v),
      ENG_ETASK);
  assert_non_null(
      strstr(eng_session_errmsg(S), "TypeError: '<' not supported between instances of"));
}

static void api_group_by(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 1, 2, 3, 5, 8]", 0);
  EXPECT_GROUPS(
      chk(eng_group_by(rdd, U1("long f(long x) { return x % 2; }", UDF_LONG, UDF_LONG), 0)),
      "[(0, [2, 8]), (1, [1, 1, 3, 5])]");
}

static void api_group_by_key(void **state) {
  (void)state;
  eng_ds *rdd = par("[('a', 1), ('b', 1), ('a', 1)]", 0);
  eng_ds *g = chk(eng_group_by_key(rdd, 0));
  EXPECT_SORTED(chk(eng_map_values(g, U1("long f(val x) { return len(x); }", UDF_LONG, UDF_VAL))),
                "[('a', 2), ('b', 1)]");
  EXPECT_GROUPS(g, "[('a', [1, 1]), ('b', [1])]");
}

static void api_reduce_by_key(void **state) {
  (void)state;
  eng_ds *rdd = par("[('a', 1), ('b', 1), ('a', 1)]", 0);
  EXPECT_SORTED(chk(eng_reduce_by_key(rdd, ADD(), 0)), "[('a', 2), ('b', 1)]");
  /* A compiled lambda, strings, and more partitions than keys. */
  eng_ds *w = par("[('x', 'a'), ('y', 'b'), ('x', 'c')]", 3);
  eng_ds *r = chk(eng_reduce_by_key(
      w,
      U2("str f(str a, str b) { return strf(\"%s%s\", a.ptr, b.ptr); }", UDF_STR, UDF_STR, UDF_STR),
      4));
  assert_int_equal(eng_num_partitions(r), 4);
  eng_val got = sorted(collect(r));
  const char *s = th_repr(got);
  assert_true(strcmp(s, "[('x', 'ac'), ('y', 'b')]") == 0 ||
              strcmp(s, "[('x', 'ca'), ('y', 'b')]") == 0);
  /* 1 == 1.0 == True are one key (Python's dict), wherever they start. */
  EXPECT(chk(eng_reduce_by_key(par("[(1, 1), (1.0, 2), (True, 3)]", 3), ADD(), 1)), "[(1, 6)]");
  /* Values of a key in a partition before and after shuffle combine. */
  eng_ds *many = chk(eng_map(eng_range(S, 0, 10000, 1, 4),
                             U1("val f(long x) { return kv(x % 3, 1); }", UDF_VAL, UDF_LONG)));
  EXPECT_SORTED(chk(eng_reduce_by_key(many, ADD(), 2)), "[(0, 3334), (1, 3333), (2, 3333)]");
}

/* reduce_by_key over cached pairs: the shuffle writer takes each row's
 * items from the cached column of 2-tuples (shuffle.c writer_batch);
 * results and their order are those of the rows read one by one. */
static void api_reduce_by_key_cached_pairs(void **state) {
  (void)state;
  int64_t n;
  eng_ds *mixed = eng_cache(par("[(1, 1), (2, 2), ('a', 3), (2, 3), (-7, 1)]", 1));
  TH_OK(S, eng_count(mixed, &n));
  EXPECT(chk(eng_reduce_by_key(mixed, ADD(), 1)), "[(1, 1), (2, 5), ('a', 3), (-7, 1)]");
  eng_ds *dbl = eng_cache(par("[('a', 1), ('b', 2.5), ('a', 2), ('b', None)]", 2));
  TH_OK(S, eng_count(dbl, &n));
  EXPECT_SORTED(chk(eng_reduce_by_key(eng_filter(dbl, U1("bool f(val p) { return !is_none(value(p)); }", UDF_BOOL, UDF_VAL)), ADD(), 1)),
                "[('a', 3), ('b', 2.5)]");
  eng_ds *many = eng_cache(chk(eng_map(eng_range(S, 0, 10000, 1, 4),
                                       U1("val f(long x) { return kv(x % 3, x); }", UDF_VAL, UDF_LONG))));
  TH_OK(S, eng_count(many, &n));
  EXPECT_SORTED(chk(eng_reduce_by_key(many, ADD(), 2)), "[(0, 16668333), (1, 16661667), (2, 16665000)]");
}

/* The typed table (fastagg.c) and its move to the generic one when a row
 * does not fit: results and order as if only the generic one existed. */
static void api_reduce_by_key_typed_table(void **state) {
  (void)state;
  /* A string key after long keys, mid-partition: insertion order kept. */
  EXPECT(chk(eng_reduce_by_key(par("[(1, 1), (2, 2), ('a', 3), (2, 3), (-7, 1)]", 1), ADD(), 1)),
         "[(1, 1), (2, 5), ('a', 3), (-7, 1)]");
  /* A double value after long ones. */
  EXPECT(chk(eng_reduce_by_key(par("[('a', 1), ('a', 2.5), ('b', 1)]", 1), ADD(), 1)),
         "[('a', 3.5), ('b', 1)]");
  EXPECT(chk(eng_reduce_by_key(par("[('a', 0.5), ('b', 1.0), ('a', 0.25)]", 1), ADD(), 1)),
         "[('a', 0.75), ('b', 1.0)]");
  /* Strings that share their first 8 bytes, and short ones. */
  EXPECT(chk(eng_reduce_by_key(par("[('abcdefgh', 1), ('abcdefghi', 1), ('abcdefghj', 1), "
                                   "('abcdefgh', 1), ('', 1), ('abcdefghj', 1), ('', 1), ('ab', 1), "
                                   "('abcdefghijklmnopq', 1), ('abcdefghijklmnopr', 1), "
                                   "('abcdefghijklmnopq', 1)]",
                                   1),
                               ADD(), 1)),
         "[('abcdefgh', 2), ('abcdefghi', 1), ('abcdefghj', 2), ('', 2), ('ab', 1), "
         "('abcdefghijklmnopq', 2), ('abcdefghijklmnopr', 1)]");
  /* A fold whose zero is a double and whose values are longs. */
  EXPECT(chk(eng_fold_by_key(par("[('a', 1), ('a', 2)]", 1), eng_double(0.5), ADD(), 1)),
         "[('a', 3.5)]");
  /* Many keys: the table grows many times. */
  eng_ds *m = chk(eng_map(eng_range(S, 0, 200000, 1, 2),
                          U1("val f(long x) { return kv(x % 50000, x); }", UDF_VAL, UDF_LONG)));
  eng_ds *r = chk(eng_reduce_by_key(m, ADD(), 3));
  int64_t n = 0;
  assert_int_equal(eng_count(r, &n), 0);
  assert_int_equal(n, 50000);
  eng_ds *vals = chk(eng_values(r));
  eng_val sum;
  assert_int_equal(eng_sum(vals, &sum), 0);
  assert_string_equal(th_repr(sum), "19999900000");
  /* Pairs from a batch kernel into the shuffle (eng__agg_values): long keys,
   * then string keys in the same batch, which move the table to the generic
   * one mid-batch. */
  EXPECT_SORTED(chk(eng_reduce_by_key(
                    chk(eng_map(eng_range(S, 0, 1000, 1, 1),
                                U1("val f(long x) { return kv(x < 600 ? EMBER_V(x % 3) : EMBER_V(strf(\"s%ld\", x % 2)), x); }",
                                   UDF_VAL, UDF_LONG))),
                    ADD(), 2)),
                "[(0, 59700), (1, 59900), (2, 60100), ('s0', 159800), ('s1', 160000)]");
  /* Keys longer than 16 bytes (kept apart) and longer than the queue's key
   * buffer (applied at once): 7 keys of 100 bytes, 7 of 5000. */
  eng_ds *lk = chk(eng_map(
      eng_range(S, 0, 1000, 1, 1),
      U1("val f(long x) { return kv(strf(x % 2 ? \"%0100ld\" : \"%05000ld\", x % 7), 1); }", UDF_VAL,
         UDF_LONG)));
  eng_ds *lr = chk(eng_reduce_by_key(lk, ADD(), 1));
  assert_int_equal(eng_count(lr, &n), 0);
  assert_int_equal(n, 14);
  assert_int_equal(eng_sum(chk(eng_values(lr)), &sum), 0);
  assert_string_equal(th_repr(sum), "1000");
}

static void api_fold_by_key(void **state) {
  (void)state;
  eng_ds *rdd = par("[('a', 1), ('b', 1), ('a', 1)]", 0);
  EXPECT_SORTED(chk(eng_fold_by_key(rdd, eng_long(0), ADD(), 0)), "[('a', 2), ('b', 1)]");
  /* The zero starts each key in each partition (map-side combine). */
  EXPECT(chk(eng_fold_by_key(par("[('a', 1), ('a', 1)]", 2), eng_long(1), ADD(), 1)), "[('a', 4)]");
}

static void api_aggregate_by_key(void **state) {
  (void)state;
  eng_ds *rdd = par("[('a', 1), ('b', 1), ('a', 2)]", 0);
  eng_udf *seq =
      U2("val f(val x, long y) { return tuple(as_long(at(x, 0)) + y, as_long(at(x, 1)) + 1); }",
         UDF_VAL, UDF_VAL, UDF_LONG);
  eng_udf *comb =
      U2("val f(val x, val y) {\n"
         "  return tuple(as_long(at(x, 0)) + as_long(at(y, 0)), as_long(at(x, 1)) + as_long(at(y, "
         "1)));\n"
         "}",
         UDF_VAL, UDF_VAL, UDF_VAL);
  EXPECT_SORTED(chk(eng_aggregate_by_key(rdd, pv("(0, 0)"), seq, comb, 0)),
                "[('a', (3, 2)), ('b', (1, 1))]");
}

static void api_combine_by_key(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 1), ('a', 2)]", 0);
  eng_udf *to_list = U1("val f(long a) { return list(a); }", UDF_VAL, UDF_LONG);
  eng_udf *append =
      U2("val f(val a, long b) { return add(a, list(b)); }", UDF_VAL, UDF_VAL, UDF_LONG);
  eng_udf *extend = U2("val f(val a, val b) { return add(a, b); }", UDF_VAL, UDF_VAL, UDF_VAL);
  EXPECT_GROUPS(chk(eng_combine_by_key(x, to_list, append, extend, 0)),
                "[('a', [1, 2]), ('b', [1])]");
}

static void api_join(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4)]", 0);
  eng_ds *y = par("[('a', 2), ('a', 3)]", 0);
  EXPECT_SORTED(chk(eng_join(x, y, 0)), "[('a', (1, 2)), ('a', (1, 3))]");
  EXPECT_SORTED(
      chk(eng_join(par("[(None, 1), (2, 'x')]", 0), par("[(None, 2), (2.0, 'y')]", 0), 1)),
      "[(None, (1, 2)), (2, ('x', 'y'))]");
  /* Co-partitioned inputs are joined without another shuffle. */
  eng_ds *px = chk(eng_partition_by(x, 3, NULL)), *py = chk(eng_partition_by(y, 3, NULL));
  EXPECT_SORTED(chk(eng_join(px, py, 3)), "[('a', (1, 2)), ('a', (1, 3))]");
  /* Default partitions as Spark's defaultPartitioner: the larger input, or
   * an existing hash partitioning, whose side is then not shuffled again. */
  assert_int_equal(eng_num_partitions(chk(eng_join(par("[('a', 1)]", 2), par("[('a', 2)]", 5), 0))),
                   5);
  eng_ds *j = chk(eng_join(px, par("[('a', 2), ('a', 3)]", 2), 0));
  assert_int_equal(eng_num_partitions(j), 3);
  EXPECT_SORTED(j, "[('a', (1, 2)), ('a', (1, 3))]");
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(j, &b));
  const char *e = eng_buf_cstr(&b);
  int shuffles = 0;
  for (const char *q = e; (q = strstr(q, "+-(")); q++) shuffles++;
  assert_int_equal(shuffles, 2); /* y into the join, x into partition_by */
  eng_buf_free(&b);
}

static void api_left_outer_join(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4)]", 0);
  eng_ds *y = par("[('a', 2)]", 0);
  EXPECT_SORTED(chk(eng_left_outer_join(x, y, 0)), "[('a', (1, 2)), ('b', (4, None))]");
}

static void api_right_outer_join(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4)]", 0);
  eng_ds *y = par("[('a', 2)]", 0);
  EXPECT_SORTED(chk(eng_right_outer_join(y, x, 0)), "[('a', (2, 1)), ('b', (None, 4))]");
}

static void api_full_outer_join(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4)]", 0);
  eng_ds *y = par("[('a', 2), ('c', 8)]", 0);
  EXPECT_SORTED(chk(eng_full_outer_join(x, y, 0)),
                "[('a', (1, 2)), ('b', (4, None)), ('c', (None, 8))]");
}

static void api_cogroup(void **state) {
  (void)state;
  eng_ds *x = par("[('a', 1), ('b', 4)]", 0);
  eng_ds *y = par("[('a', 2)]", 0);
  EXPECT_GROUPS(chk(eng_cogroup(x, y, 0)), "[('a', ([1], [2])), ('b', ([4], []))]");
  EXPECT_GROUPS(chk(eng_cogroup(x, par("[]", 2), 0)), "[('a', ([1], [])), ('b', ([4], []))]");
  EXPECT_GROUPS(
      chk(eng_cogroup(par("[('a', 1), ('a', 2)]", 2), par("[('a', 3), ('b', 4), ('a', 5)]", 3), 4)),
      "[('a', ([1, 2], [3, 5])), ('b', ([], [4]))]");
}

static void api_keys(void **state) {
  (void)state;
  EXPECT(chk(eng_keys(par("[(1, 2), (3, 4)]", 0))), "[1, 3]");
}

static void api_values(void **state) {
  (void)state;
  EXPECT(chk(eng_values(par("[(1, 2), (3, 4)]", 0))), "[2, 4]");
}

static void api_map_values(void **state) {
  (void)state;
  eng_ds *x = par("[('a', ['apple', 'banana', 'lemon']), ('b', ['grapes'])]", 0);
  EXPECT(chk(eng_map_values(x, U1("long f(val x) { return len(x); }", UDF_LONG, UDF_VAL))),
         "[('a', 3), ('b', 1)]");
}

static void api_flat_map_values(void **state) {
  (void)state;
  eng_ds *x = par("[('a', ['x', 'y', 'z']), ('b', ['p', 'r'])]", 0);
  EXPECT(chk(eng_flat_map_values(x, U1("val f(val x) { return x; }", UDF_VAL, UDF_VAL))),
         "[('a', 'x'), ('a', 'y'), ('a', 'z'), ('b', 'p'), ('b', 'r')]");
}

static void api_key_by(void **state) {
  (void)state;
  eng_ds *x = chk(eng_key_by(eng_range(S, 0, 3, 1, 0),
                             U1("long f(long x) { return x * x; }", UDF_LONG, UDF_LONG)));
  EXPECT(x, "[(0, 0), (1, 1), (4, 2)]");
  EXPECT(
      chk(eng_key_by(par("[('a', 1), ('b', 2)]", 0),
                     U2("long f(str k, long v) { return v * 10; }", UDF_LONG, UDF_STR, UDF_LONG))),
      "[(10, ('a', 1)), (20, ('b', 2))]");
  eng_ds *y = chk(eng_zip_with_index(eng_range(S, 0, 5, 1, 0)));
  EXPECT_GROUPS(
      chk(eng_cogroup(x, y, 0)),
      "[(0, ([0], [0])), (1, ([1], [1])), (2, ([], [2])), (3, ([], [3])), (4, ([2], [4]))]");
}

static void api_zip_with_index(void **state) {
  (void)state;
  EXPECT(chk(eng_zip_with_index(par("['a', 'b', 'c', 'd']", 3))),
         "[('a', 0), ('b', 1), ('c', 2), ('d', 3)]");
  /* Indices run across partitions in order, empty ones included. */
  EXPECT(chk(eng_zip_with_index(
             chk(eng_filter(eng_range(S, 0, 10, 1, 4),
                            U1("bool f(long x) { return x < 2 || x > 7; }", UDF_BOOL, UDF_LONG))))),
         "[(0, 0), (1, 1), (8, 2), (9, 3)]");
}

static void api_glom(void **state) {
  (void)state;
  EXPECT(chk(eng_glom(par("[1, 2, 3, 4]", 2))), "[[1, 2], [3, 4]]");
}

static void api_repartition(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2, 3, 4, 5, 6, 7]", 4);
  EXPECT(eng_glom(rdd), "[[1], [2, 3], [4, 5], [6, 7]]");
  eng_val two = collect(chk(eng_glom(chk(eng_repartition(rdd, 2)))));
  assert_int_equal(ENG_VLEN(two), 2);
  eng_val ten = collect(chk(eng_glom(chk(eng_repartition(rdd, 10)))));
  assert_int_equal(ENG_VLEN(ten), 10);
  EXPECT_SORTED(chk(eng_repartition(rdd, 3)), "[1, 2, 3, 4, 5, 6, 7]");
}

static void api_coalesce(void **state) {
  (void)state;
  eng_ds *rdd = par("[1, 2, 3, 4, 5]", 3);
  EXPECT(eng_glom(rdd), "[[1], [2, 3], [4, 5]]");
  EXPECT(chk(eng_glom(chk(eng_coalesce(rdd, 1, 0)))), "[[1, 2, 3, 4, 5]]");
  /* Without a shuffle coalesce never adds partitions. */
  assert_int_equal(eng_num_partitions(chk(eng_coalesce(rdd, 5, 0))), 3);
  assert_int_equal(eng_num_partitions(chk(eng_coalesce(rdd, 5, 1))), 5);
}

static void api_partition_by(void **state) {
  (void)state;
  eng_ds *pairs = chk(eng_map(par("[1, 2, 3, 4, 2, 4, 1]", 0),
                              U1("val f(long x) { return kv(x, x); }", UDF_VAL, UDF_LONG)));
  eng_val sets = collect(chk(eng_glom(chk(eng_partition_by(pairs, 2, NULL)))));
  assert_int_equal(ENG_VLEN(sets), 2);
  /* portable_hash(k) = k for small ints: even keys in partition 0. */
  assert_string_equal(th_repr(sorted(eng_v_items(sets)[0])), "[(2, 2), (2, 2), (4, 4), (4, 4)]");
  assert_string_equal(th_repr(sorted(eng_v_items(sets)[1])), "[(1, 1), (1, 1), (3, 3)]");
  /* PySpark's portable_hash (PYTHONHASHSEED=0) for other keys: strings,
   * tuples, None, negative ints (hash(-1) is -2), floats and bools; Python's
   * modulo is never negative. Expected partitions printed by Python 3.11. */
  eng_ds *mixed =
      par("[('a', 0), ('b', 0), ('c', 0), ('d', 0), ('e', 0), ('apple', 0), (('a', 1), 0),"
          " ((1, 2), 0), (None, 0), (-1, 0), (-7, 0), (2.5, 0), (True, 0)]",
          1);
  EXPECT(chk(eng_glom(chk(eng_keys(chk(eng_partition_by(mixed, 3, NULL)))))),
         "[['b', (1, 2), None, 2.5], ['a', 'c', ('a', 1), -1, True], ['d', 'e', 'apple', -7]]");
  EXPECT(chk(eng_glom(chk(eng_keys(chk(eng_partition_by(mixed, 2, NULL)))))),
         "[['b', 'c', 'd', 'apple', ('a', 1), None, -1, 2.5], ['a', 'e', (1, 2), -7, True]]");
  /* A custom partitioner: key -> partition. */
  eng_val c = collect(chk(eng_glom(chk(eng_partition_by(
      pairs, 3, U1("long f(long k) { return k < 3 ? 0 : 2; }", UDF_LONG, UDF_LONG))))));
  assert_string_equal(th_repr(sorted(eng_v_items(c)[0])), "[(1, 1), (1, 1), (2, 2), (2, 2)]");
  assert_string_equal(th_repr(eng_v_items(c)[1]), "[]");
  assert_string_equal(th_repr(sorted(eng_v_items(c)[2])), "[(3, 3), (4, 4), (4, 4)]");
}

/* ------------------------------------------------------------------------ */
/* Act                                                                      */
/* ------------------------------------------------------------------------ */

static void api_collect(void **state) {
  (void)state;
  EXPECT(par("[1, 2, 3]", 0), "[1, 2, 3]");
  eng_val big = collect(eng_range(S, 0, 100000, 1, 3));
  assert_int_equal(ENG_VLEN(big), 100000);
  assert_int_equal(eng_v_long(eng_v_items(big)[99999]), 99999);
}

static void api_count(void **state) {
  (void)state;
  int64_t n;
  TH_OK(S, eng_count(par("[2, 3, 4]", 0), &n));
  assert_int_equal(n, 3);
  TH_OK(S, eng_count(eng_range(S, 0, 1000000, 1, 4), &n));
  assert_int_equal(n, 1000000);
}

static void api_first(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_first(par("[2, 3, 4]", 0), &v));
  assert_string_equal(th_repr(v), "2");
  TH_OK(S, eng_first(par("['x']", 4), &v));
  assert_string_equal(th_repr(v), "'x'");
  assert_int_equal(eng_first(par("[]", 0), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: RDD is empty");
  assert_int_equal(eng_first(eng_empty(S), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: RDD is empty");
}

static void api_take(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_take(eng_cache(par("[2, 3, 4, 5, 6]", 0)), 2, &v));
  assert_string_equal(th_repr(v), "[2, 3]");
  TH_OK(S, eng_take(par("[2, 3, 4, 5, 6]", 0), 10, &v));
  assert_string_equal(th_repr(v), "[2, 3, 4, 5, 6]");
  TH_OK(S, eng_take(chk(eng_filter(eng_range(S, 0, 100, 1, 100),
                                   U1("bool f(long x) { return x > 90; }", UDF_BOOL, UDF_LONG))),
                    3, &v));
  assert_string_equal(th_repr(v), "[91, 92, 93]");
  /* Scans past empty partitions. */
  TH_OK(S, eng_take(par("[1]", 5), 1, &v));
  assert_string_equal(th_repr(v), "[1]");
  TH_OK(S, eng_take(par("[1, 2, 3]", 9), 5, &v));
  assert_string_equal(th_repr(v), "[1, 2, 3]");
  TH_OK(S, eng_take(eng_empty(S), 5, &v));
  assert_string_equal(th_repr(v), "[]");
  TH_OK(S, eng_take(par("[1]", 0), 0, &v));
  assert_string_equal(th_repr(v), "[]");
}

static void api_take_ordered(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_take_ordered(par("[10, 1, 2, 9, 3, 4, 5, 6, 7]", 0), 6, NULL, &v));
  assert_string_equal(th_repr(v), "[1, 2, 3, 4, 5, 6]");
  TH_OK(S, eng_take_ordered(par("[10, 1, 2, 9, 3, 4, 5, 6, 7]", 2), 6,
                            U1("long f(long x) { return -x; }", UDF_LONG, UDF_LONG), &v));
  assert_string_equal(th_repr(v), "[10, 9, 7, 6, 5, 4]");
  TH_OK(S, eng_take_ordered(par("[3, 1, 2]", 3), 10, NULL, &v));
  assert_string_equal(th_repr(v), "[1, 2, 3]");
  TH_OK(S, eng_take_ordered(par("['b', 'c', 'a']", 0), 2, NULL, &v));
  assert_string_equal(th_repr(v), "['a', 'b']");
}

static void api_top(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_top(par("[10, 4, 2, 12, 3]", 0), 1, NULL, &v));
  assert_string_equal(th_repr(v), "[12]");
  TH_OK(S, eng_top(par("[2, 3, 4, 5, 6]", 2), 2, NULL, &v));
  assert_string_equal(th_repr(v), "[6, 5]");
  TH_OK(S, eng_top(par("[10, 4, 2, 12, 3]", 0), 3,
                   U1("str f(long x) { return strf(\"%ld\", x); }", UDF_STR, UDF_LONG), &v));
  assert_string_equal(th_repr(v), "[4, 3, 2]");
  TH_OK(S, eng_top(eng_range(S, 0, 1000, 1, 4), 3, NULL, &v));
  assert_string_equal(th_repr(v), "[999, 998, 997]");
  TH_OK(S, eng_top(par("[('a', 2), ('b', 1)]", 0), 5, NULL, &v));
  assert_string_equal(th_repr(v), "[('b', 1), ('a', 2)]");
}

static void api_reduce(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_reduce(par("[1, 2, 3, 4, 5]", 0), ADD(), &v));
  assert_string_equal(th_repr(v), "15");
  eng_ds *ones = eng_cache(chk(eng_map(par("[2, 2, 2, 2, 2, 2, 2, 2, 2, 2]", 0),
                                       U1("long f(long x) { return 1; }", UDF_LONG, UDF_LONG))));
  TH_OK(S, eng_reduce(ones, ADD(), &v));
  assert_string_equal(th_repr(v), "10");
  /* Empty partitions are skipped; a compiled lambda over strings. */
  TH_OK(S, eng_reduce(par("['a', 'b', 'c']", 5),
                      U2("str f(str a, str b) { return strf(\"%s%s\", a.ptr, b.ptr); }", UDF_STR,
                         UDF_STR, UDF_STR),
                      &v));
  assert_string_equal(th_repr(v), "'abc'");
  assert_int_equal(eng_reduce(par("[]", 0), ADD(), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: Can not reduce() empty RDD");
  assert_int_equal(eng_reduce(eng_empty(S), ADD(), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: Can not reduce() empty RDD");
}

static void api_fold(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_fold(par("[1, 2, 3, 4, 5]", 0), eng_long(0), ADD(), &v));
  assert_string_equal(th_repr(v), "15");
  /* The zero is used once per partition and once more to merge (Spark). */
  TH_OK(S, eng_fold(par("[1, 2, 3]", 3), eng_long(1), ADD(), &v));
  assert_string_equal(th_repr(v), "10");
  TH_OK(S, eng_fold(par("[]", 0), eng_long(0), ADD(), &v));
  assert_string_equal(th_repr(v), "0");
}

static void api_aggregate(void **state) {
  (void)state;
  eng_udf *seq =
      U2("val f(val x, long y) { return tuple(as_long(at(x, 0)) + y, as_long(at(x, 1)) + 1); }",
         UDF_VAL, UDF_VAL, UDF_LONG);
  eng_udf *comb =
      U2("val f(val x, val y) {\n"
         "  return tuple(as_long(at(x, 0)) + as_long(at(y, 0)), as_long(at(x, 1)) + as_long(at(y, "
         "1)));\n"
         "}",
         UDF_VAL, UDF_VAL, UDF_VAL);
  eng_val v;
  TH_OK(S, eng_aggregate(par("[1, 2, 3, 4]", 0), pv("(0, 0)"), seq, comb, &v));
  assert_string_equal(th_repr(v), "(10, 4)");
  TH_OK(S, eng_aggregate(par("[]", 0), pv("(0, 0)"), seq, comb, &v));
  assert_string_equal(th_repr(v), "(0, 0)");
}

static void api_sum(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_sum(par("[1.0, 2.0, 3.0]", 0), &v));
  assert_string_equal(th_repr(v), "6.0");
  TH_OK(S, eng_sum(eng_range(S, 0, 1001, 1, 3), &v));
  assert_string_equal(th_repr(v), "500500");
  TH_OK(S, eng_sum(par("[]", 0), &v));
  assert_string_equal(th_repr(v), "0");
}

static void api_mean(void **state) {
  (void)state;
  double m;
  TH_OK(S, eng_mean(par("[1, 2, 3]", 0), &m));
  assert_true(m == 2.0);
  TH_OK(S, eng_mean(eng_range(S, 0, 1000, 1, 3), &m));
  assert_true(m == 499.5);
  /* StatCounter's mean of nothing is its initial 0.0 (variance is nan). */
  TH_OK(S, eng_mean(par("[]", 0), &m));
  assert_true(m == 0.0);
}

static void api_min(void **state) {
  (void)state;
  eng_ds *rdd = par("[2.0, 5.0, 43.0, 10.0]", 0);
  eng_val v;
  TH_OK(S, eng_min(rdd, NULL, &v));
  assert_string_equal(th_repr(v), "2.0");
  TH_OK(S, eng_min(rdd, U1("str f(double x) { return repr(x); }", UDF_STR, UDF_DOUBLE), &v));
  assert_string_equal(th_repr(v), "10.0");
  TH_OK(S, eng_min(par("['b', 'a', 'c']", 0), NULL, &v));
  assert_string_equal(th_repr(v), "'a'");
  assert_int_equal(eng_min(par("[]", 0), NULL, &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: Can not reduce() empty RDD");
}

static void api_max(void **state) {
  (void)state;
  eng_ds *rdd = par("[2.0, 5.0, 43.0, 10.0]", 0);
  eng_val v;
  TH_OK(S, eng_max(rdd, NULL, &v));
  assert_string_equal(th_repr(v), "43.0");
  TH_OK(S, eng_max(rdd, U1("str f(double x) { return repr(x); }", UDF_STR, UDF_DOUBLE), &v));
  assert_string_equal(th_repr(v), "5.0");
  TH_OK(S, eng_max(eng_range(S, 0, 10, 1, 3), NULL, &v));
  assert_string_equal(th_repr(v), "9");
}

static void api_stdev(void **state) {
  (void)state;
  char b[64];
  double x;
  TH_OK(S, eng_stdev(par("[1, 2, 3]", 0), &x));
  eng_double_repr(b, sizeof b, x);
  assert_string_equal(b, "0.816496580927726");
  TH_OK(S, eng_sample_stdev(par("[1, 2, 3]", 0), &x));
  eng_double_repr(b, sizeof b, x);
  assert_string_equal(b, "1.0");
}

static void api_variance(void **state) {
  (void)state;
  char b[64];
  double x;
  TH_OK(S, eng_variance(par("[1, 2, 3]", 0), &x));
  eng_double_repr(b, sizeof b, x);
  assert_string_equal(b, "0.6666666666666666");
  TH_OK(S, eng_sample_variance(par("[1, 2, 3]", 0), &x));
  eng_double_repr(b, sizeof b, x);
  assert_string_equal(b, "1.0");
}

static void api_stats(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_stats(par("[1, 2, 3]", 0), &v));
  assert_string_equal(th_repr(v),
                      "(count: 3, mean: 2.0, stdev: 0.816496580927726, max: 3.0, min: 1.0)");
  /* Partitions merge as StatCounter.mergeStats does, empty ones included. */
  TH_OK(S, eng_stats(par("[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]", 5), &v));
  assert_string_equal(th_repr(v), "(count: 8, mean: 5.0, stdev: 2.0, max: 9.0, min: 2.0)");
  TH_OK(S, eng_stats(par("[]", 0), &v));
  assert_string_equal(th_repr(v), "(count: 0, mean: 0.0, stdev: nan, max: -inf, min: inf)");
  double x;
  TH_OK(S, eng_variance(par("[]", 0), &x));
  assert_true(isnan(x));
  TH_OK(S, eng_sample_variance(par("[1]", 0), &x));
  assert_true(isnan(x));
}

static void api_histogram(void **state) {
  (void)state;
  eng_ds *rdd = eng_range(S, 0, 51, 1, 0);
  eng_val v;
  TH_OK(S, eng_histogram(rdd, eng_long(2), &v));
  assert_string_equal(th_repr(v), "([0, 25, 50], [25, 26])");
  TH_OK(S, eng_histogram(rdd, pv("[0, 5, 25, 50]"), &v));
  assert_string_equal(th_repr(v), "([0, 5, 25, 50], [5, 20, 26])");
  TH_OK(S, eng_histogram(rdd, pv("[0, 15, 30, 45, 60]"), &v));
  assert_string_equal(th_repr(v), "([0, 15, 30, 45, 60], [15, 15, 15, 6])");
  /* Integer boundaries when the range divides evenly, else floats (the
   * last one is the maximum itself). */
  TH_OK(S, eng_histogram(par("[1, 2, 3, 4]", 0), eng_long(3), &v));
  assert_string_equal(th_repr(v), "([1, 2, 3, 4], [1, 1, 2])");
  TH_OK(S, eng_histogram(par("[1, 2, 3, 4]", 0), eng_long(2), &v));
  assert_string_equal(th_repr(v), "([1.0, 2.5, 4], [2, 2])");
  TH_OK(S, eng_histogram(par("[5, 5, 5]", 0), eng_long(4), &v));
  assert_string_equal(th_repr(v), "([5, 5], [3])");
  /* Boundaries of any orderable type, returned as given. */
  TH_OK(S, eng_histogram(par("['ab', 'ac', 'b', 'bd', 'ef']", 0), pv("('a', 'b', 'c')"), &v));
  assert_string_equal(th_repr(v), "(('a', 'b', 'c'), [2, 2])");
  /* Evenly spaced float boundaries use int((x - min) / inc) as PySpark does
   * (0.7 lands in bucket 6); None is skipped. */
  TH_OK(S, eng_histogram(par("[0.1, 0.2, 0.30000000000000004, 0.7, None, 1.0]", 0),
                         pv("[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]"), &v));
  assert_string_equal(
      th_repr(v),
      "([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0, 1, 1, 1, 0, 0, 1, 0, 0, 1])");
  assert_int_equal(eng_histogram(rdd, pv("[0, 5, 5]"), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S),
                      "ValueError: buckets should not contain duplicated values");
  assert_int_equal(eng_histogram(rdd, pv("[5, 0, 0]"), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: buckets should be sorted");
  assert_int_equal(eng_histogram(rdd, pv("[5]"), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: buckets should have more than one value");
}

static void api_count_by_key(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_count_by_key(par("[('a', 1), ('b', 1), ('a', 1)]", 0), &v));
  assert_string_equal(th_repr(v), "[('a', 2), ('b', 1)]");
}

static void api_count_by_value(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_count_by_value(par("[1, 2, 1, 2, 2]", 2), &v));
  assert_string_equal(th_repr(v), "[(1, 2), (2, 3)]");
}

static void api_foreach(void **state) {
  (void)state;
  eng_val a = eng_accumulator(S, eng_long(1));
  eng_val v;
  TH_OK(S, eng_acc_value(S, a, &v));
  assert_string_equal(th_repr(v), "1");
  TH_OK(S, eng_acc_add(S, a, eng_long(6)));
  TH_OK(S, eng_acc_value(S, a, &v));
  assert_string_equal(th_repr(v), "7");
  eng_ds *rdd = par("[1, 2, 3]", 0);
  TH_OK(S,
        eng_foreach(rdd, U1cap("void f(long x) { acc_add(a, x); }", UDF_VOID, UDF_LONG, "a", a)));
  TH_OK(S, eng_acc_value(S, a, &v));
  assert_string_equal(th_repr(v), "13");
  /* Over pairs, as (key, value). */
  eng_val kvsum = eng_accumulator(S, eng_long(0));
  TH_OK(S,
        eng_foreach(par("[('a', 1), ('b', 2)]", 0), U1cap("void f(val p) { acc_add(s, value(p)); }",
                                                          UDF_VOID, UDF_VAL, "s", kvsum)));
  TH_OK(S, eng_acc_value(S, kvsum, &v));
  assert_string_equal(th_repr(v), "3");
  eng_val b = eng_accumulator(S, eng_long(0));
  TH_OK(S,
        eng_foreach(rdd, U1cap("void f(long x) { acc_add(b, x); }", UDF_VOID, UDF_LONG, "b", b)));
  TH_OK(S, eng_acc_value(S, b, &v));
  assert_string_equal(th_repr(v), "6");
}

/* The lines of every file matching pattern, sorted, joined (PySpark's
 * ''.join(sorted(input(glob(...))))). Only plain files. */
static const char *joined_sorted_lines(const char *pattern) {
  static char out[8192];
  char *lines[256];
  int n = 0;
  glob_t g;
  out[0] = 0;
  if (glob(pattern, 0, NULL, &g) != 0) return out;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    FILE *f = fopen(g.gl_pathv[i], "r");
    char line[512];
    while (f && fgets(line, sizeof line, f) && n < 256) lines[n++] = strdup(line);
    if (f) fclose(f);
  }
  globfree(&g);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
      char *t = lines[j];
      lines[j] = lines[j - 1];
      lines[j - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    strncat(out, lines[i], sizeof out - strlen(out) - 1);
    free(lines[i]);
  }
  return out;
}

static void api_save_as_text_file(void **state) {
  (void)state;
  char dir[512], pat[600];
  snprintf(dir, sizeof dir, "%s/saved", tmpdir);
  TH_OK(S, eng_save_as_text_file(eng_range(S, 0, 10, 1, 0), dir, NULL));
  snprintf(pat, sizeof pat, "%s/part-0000*", dir);
  assert_string_equal(joined_sorted_lines(pat), "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
  char ok[600];
  snprintf(ok, sizeof ok, "%s/_SUCCESS", dir);
  assert_int_equal(access(ok, F_OK), 0);
  EXPECT_SORTED(eng_text_file(S, dir, 0), "['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']");
  /* Saving over an existing directory is an error, as in Spark. */
  assert_int_equal(eng_save_as_text_file(eng_range(S, 0, 10, 1, 0), dir, NULL), ENG_EIO);
  assert_non_null(strstr(eng_session_errmsg(S), "already exists"));

  /* Empty lines are tolerated when saving to text files. */
  snprintf(dir, sizeof dir, "%s/saved2", tmpdir);
  TH_OK(S, eng_save_as_text_file(par("['', 'foo', '', 'bar', '']", 0), dir, NULL));
  snprintf(pat, sizeof pat, "%s/part-0000*", dir);
  assert_string_equal(joined_sorted_lines(pat), "\n\n\nbar\nfoo\n");

  /* Compressed: part files with the codec's suffix and magic, read back. */
  static const struct {
    const char *codec, *suffix;
    unsigned char magic[4];
  } codecs[] = {{"gzip", ".gz", {0x1f, 0x8b, 0, 0}}, {"zstd", ".zst", {0x28, 0xb5, 0x2f, 0xfd}}};
  for (int i = 0; i < 2; i++) {
    snprintf(dir, sizeof dir, "%s/saved-%s", tmpdir, codecs[i].codec);
    TH_OK(S, eng_save_as_text_file(par("['foo', 'bar']", 0), dir, codecs[i].codec));
    char part[700];
    snprintf(part, sizeof part, "%s/part-00000%s", dir, codecs[i].suffix);
    FILE *f = fopen(part, "rb");
    assert_non_null(f);
    unsigned char m[4] = {0};
    assert_true(fread(m, 1, 4, f) >= 2);
    fclose(f);
    assert_int_equal(m[0], codecs[i].magic[0]);
    assert_int_equal(m[1], codecs[i].magic[1]);
    EXPECT_SORTED(eng_text_file(S, dir, 0), "['bar', 'foo']");
  }
  assert_int_equal(eng_save_as_text_file(par("[1]", 0), "/tmp/x-never", "lzma"), ENG_EINVAL);
  /* Each element is written as Python's str() of it. */
  snprintf(dir, sizeof dir, "%s/saved-str", tmpdir);
  TH_OK(S, eng_save_as_text_file(par("[('a', 1), None, 1.0, True, 'x', [1, 'b']]", 0), dir, NULL));
  EXPECT(eng_text_file(S, dir, 1), "[\"('a', 1)\", 'None', '1.0', 'True', 'x', \"[1, 'b']\"]");
}

static void api_num_partitions(void **state) {
  (void)state;
  assert_int_equal(eng_num_partitions(par("[1, 2, 3, 4]", 2)), 2);
  assert_int_equal(eng_num_partitions(eng_range(S, 0, 100, 1, 7)), 7);
  eng_ds *kv = par("[('a', 1)]", 3);
  assert_int_equal(eng_num_partitions(chk(eng_reduce_by_key(kv, ADD(), 0))), 3);
  assert_int_equal(eng_num_partitions(chk(eng_reduce_by_key(kv, ADD(), 5))), 5);
}

/* ------------------------------------------------------------------------ */
/* Keep                                                                     */
/* ------------------------------------------------------------------------ */

static void api_cache(void **state) {
  (void)state;
  eng_ds *rdd = eng_range(S, 0, 5, 1, 0);
  assert_ptr_equal(eng_cache(rdd), rdd);
  assert_true(eng_is_cached(rdd));
  EXPECT(rdd, "[0, 1, 2, 3, 4]");
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(rdd, &b));
  assert_non_null(strstr(eng_buf_cstr(&b), "[Memory Serialized 1x Replicated]"));
  assert_non_null(strstr(eng_buf_cstr(&b), "CachedPartitions: 2;"));
  eng_buf_free(&b);
  /* Reading the cache gives the same answer. */
  EXPECT(rdd, "[0, 1, 2, 3, 4]");
  assert_ptr_equal(eng_unpersist(rdd), rdd);
  assert_false(eng_is_cached(rdd));
  EXPECT(rdd, "[0, 1, 2, 3, 4]");
}

static void api_persist(void **state) {
  (void)state;
  static const struct {
    int level;
    const char *desc;
  } levels[] = {{ENG_MEMORY_ONLY, "[Memory Serialized 1x Replicated]"},
                {ENG_MEMORY_AND_DISK, "[Disk Memory Serialized 1x Replicated]"},
                {ENG_DISK_ONLY, "[Disk Serialized 1x Replicated]"}};
  for (int i = 0; i < 3; i++) {
    eng_ds *rdd = par("['b', 'a', 'c']", 0);
    assert_ptr_equal(eng_persist(rdd, levels[i].level), rdd);
    assert_true(eng_is_cached(rdd));
    EXPECT(rdd, "['b', 'a', 'c']");
    EXPECT(chk(eng_map(rdd, U1("str f(str s) { return upper(s); }", UDF_STR, UDF_STR))),
           "['B', 'A', 'C']");
    eng_buf b;
    eng_buf_init(&b);
    TH_OK(S, eng_explain(rdd, &b));
    assert_non_null(strstr(eng_buf_cstr(&b), levels[i].desc));
    assert_non_null(strstr(eng_buf_cstr(&b), "CachedPartitions: 2;"));
    /* Spark's sizes: DISK_ONLY keeps nothing in memory. */
    if (levels[i].level == ENG_DISK_ONLY) {
      assert_non_null(strstr(eng_buf_cstr(&b), "MemorySize: 0.0 B; DiskSize: "));
      assert_null(strstr(eng_buf_cstr(&b), "DiskSize: 0.0 B"));
    } else {
      assert_null(strstr(eng_buf_cstr(&b), "MemorySize: 0.0 B"));
    }
    eng_buf_free(&b);
    /* The level is fixed once set. */
    assert_null(eng_persist(rdd, levels[(i + 1) % 3].level));
    assert_non_null(strstr(eng_session_errmsg(S), "ValueError: "));
    eng_unpersist(rdd);
  }
}

static void api_unpersist(void **state) {
  (void)state;
  eng_ds *rdd = eng_cache(par("[1, 2, 3]", 0));
  EXPECT(rdd, "[1, 2, 3]");
  eng_unpersist(rdd);
  assert_false(eng_is_cached(rdd));
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(rdd, &b));
  assert_null(strstr(eng_buf_cstr(&b), "CachedPartitions"));
  eng_buf_free(&b);
  EXPECT(rdd, "[1, 2, 3]");
  /* And it may be cached again. */
  eng_cache(rdd);
  EXPECT(rdd, "[1, 2, 3]");
  eng_unpersist(rdd);
}

static void api_checkpoint(void **state) {
  (void)state;
  eng_ds *rdd =
      chk(eng_map(par("[1, 2, 3]", 0), U1("long f(long x) { return x * 2; }", UDF_LONG, UDF_LONG)));
  eng_ds *red = chk(eng_reduce_by_key(
      chk(eng_key_by(rdd, U1("long f(long x) { return x % 4; }", UDF_LONG, UDF_LONG))), ADD(), 0));
  assert_ptr_equal(eng_checkpoint(red), red);
  assert_false(eng_is_checkpointed(red));
  EXPECT_SORTED(red, "[(0, 4), (2, 8)]");
  assert_true(eng_is_checkpointed(red));
  EXPECT_SORTED(red, "[(0, 4), (2, 8)]");
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(red, &b));
  assert_non_null(strstr(eng_buf_cstr(&b), "ReliableCheckpointRDD"));
  assert_null(strstr(eng_buf_cstr(&b), "ParallelCollectionRDD"));
  eng_buf_free(&b);
  /* Datasets built on a checkpointed one read its files. */
  EXPECT_SORTED(chk(eng_values(red)), "[4, 8]");
}

/* ------------------------------------------------------------------------ */
/* Share                                                                    */
/* ------------------------------------------------------------------------ */

static void api_broadcast(void **state) {
  (void)state;
  eng_val b = eng_broadcast(S, pv("[1, 2, 3, 4, 5]"));
  assert_int_equal(ENG_VKIND(b), ENG_V_BCAST);
  assert_string_equal(th_repr(eng_deref(b)), "[1, 2, 3, 4, 5]");
  EXPECT(chk(eng_flat_map(par("[0, 0]", 0),
                          U1cap("val f(long x) { return b; }", UDF_VAL, UDF_LONG, "b", b))),
         "[1, 2, 3, 4, 5, 1, 2, 3, 4, 5]");
  /* Helpers read through the handle. */
  EXPECT(chk(eng_map(par("[0, 4]", 0),
                     U1cap("val f(long x) { return at(b, x); }", UDF_VAL, UDF_LONG, "b", b))),
         "[1, 5]");
}

static void api_accumulator(void **state) {
  (void)state;
  eng_val v;
  eng_val d = eng_accumulator(S, eng_double(1.0));
  TH_OK(S, eng_acc_value(S, d, &v));
  assert_string_equal(th_repr(v), "1.0");
  /* Tasks' additions reach the driver once per successful task. */
  eng_val a = eng_accumulator(S, eng_long(0));
  eng_ds *m =
      chk(eng_map(eng_range(S, 0, 100, 1, 4), U1cap("long f(long x) { acc_add(a, 1); return x; }",
                                                    UDF_LONG, UDF_LONG, "a", a)));
  int64_t n;
  TH_OK(S, eng_count(m, &n));
  TH_OK(S, eng_acc_value(S, a, &v));
  assert_string_equal(th_repr(v), "100");
  TH_OK(S, eng_acc_add(S, d, eng_double(0.5)));
  TH_OK(S, eng_acc_value(S, d, &v));
  assert_string_equal(th_repr(v), "1.5");
  assert_int_equal(eng_acc_value(S, eng_long(3), &v), ENG_ETYPE);
}

/* ------------------------------------------------------------------------ */
/* Look                                                                     */
/* ------------------------------------------------------------------------ */

static const char *show(eng_ds *d, int n) {
  static char out[4096];
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_show(d, n, &b));
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b));
  eng_buf_free(&b);
  return out;
}

static void api_show(void **state) {
  (void)state;
  assert_string_equal(show(par("[('a', 1), ('b', 2)]", 0), -1),
                      "+---+-----+\n"
                      "|key|value|\n"
                      "+---+-----+\n"
                      "|  a|    1|\n"
                      "|  b|    2|\n"
                      "+---+-----+\n");
  assert_string_equal(show(eng_range(S, 0, 5, 1, 0), 2),
                      "+-----+\n"
                      "|value|\n"
                      "+-----+\n"
                      "|    0|\n"
                      "|    1|\n"
                      "+-----+\n"
                      "only showing top 2 rows\n");
  /* 20 rows by default. */
  const char *t = show(eng_range(S, 0, 30, 1, 0), -1);
  const char *tail = "|   19|\n+-----+\nonly showing top 20 rows\n";
  assert_true(strlen(t) > strlen(tail));
  assert_string_equal(t + strlen(t) - strlen(tail), tail);
  assert_string_equal(show(par("['a string that is longer than twenty chars', None, True, 1e10, "
                               "0.5, [1, 2], (3, 'x')]",
                               0),
                           -1),
                      "+--------------------+\n"
                      "|               value|\n"
                      "+--------------------+\n"
                      "|a string that is ...|\n"
                      "|                null|\n"
                      "|                true|\n"
                      "|              1.0E10|\n"
                      "|                 0.5|\n"
                      "|              [1, 2]|\n"
                      "|              {3, x}|\n"
                      "+--------------------+\n");
  assert_string_equal(show(par("[]", 0), -1),
                      "+-----+\n"
                      "|value|\n"
                      "+-----+\n"
                      "+-----+\n");
  assert_string_equal(show(par("['x']", 0), 1), "+-----+\n|value|\n+-----+\n|    x|\n+-----+\n");
  assert_string_equal(show(par("['x']", 0), 0),
                      "+-----+\n|value|\n+-----+\n+-----+\nonly showing top 0 rows\n");
  /* Java's Double.toString, code points for widths, structs of pairs. */
  assert_string_equal(show(par("[0.001, 0.0001, 123456789.0, 100.0, -0.0, 1e-10]", 0), -1),
                      "+------------+\n"
                      "|       value|\n"
                      "+------------+\n"
                      "|       0.001|\n"
                      "|      1.0E-4|\n"
                      "|1.23456789E8|\n"
                      "|       100.0|\n"
                      "|        -0.0|\n"
                      "|     1.0E-10|\n"
                      "+------------+\n");
  assert_string_equal(show(par("[('h\xc3\xa9llo', ('a', 1.5)), ('x', None)]", 0), -1),
                      "+-----+--------+\n"
                      "|  key|   value|\n"
                      "+-----+--------+\n"
                      "|h\xc3\xa9llo|{a, 1.5}|\n"
                      "|    x|    null|\n"
                      "+-----+--------+\n");
}

static void api_explain(void **state) {
  (void)state;
  eng_session_set_callsite(S, "cell[1]:1");
  eng_ds *p = par("[1, 2, 3]", 0);
  eng_ds *m = chk(eng_map(p, U1("val f(long x) { return kv(x, 1); }", UDF_VAL, UDF_LONG)));
  eng_ds *r = chk(eng_reduce_by_key(m, ADD(), 0));
  eng_ds *v = chk(eng_values(r));
  char want[1024];
  snprintf(want, sizeof want,
           "(2) MapPartitionsRDD[%d] at values at cell[1]:1 []\n"
           " |  ShuffledRDD[%d] at reduce_by_key at cell[1]:1 []\n"
           " +-(2) MapPartitionsRDD[%d] at map at cell[1]:1 []\n"
           "    |  ParallelCollectionRDD[%d] at parallelize at cell[1]:1 []\n",
           eng_ds_id(v), eng_ds_id(r), eng_ds_id(m), eng_ds_id(p));
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(S, eng_explain(v, &b));
  assert_string_equal(eng_buf_cstr(&b), want);
  eng_buf_free(&b);

  /* Two parents, one through a shuffle; a cached node shows its parts. */
  eng_ds *a = eng_cache(par("[('a', 1)]", 0));
  EXPECT(a, "[('a', 1)]");
  eng_ds *j = chk(eng_cogroup(a, r, 2));
  snprintf(want, sizeof want,
           "(2) CoGroupedRDD[%d] at cogroup at cell[1]:1 []\n"
           " +-(2) ParallelCollectionRDD[%d] at parallelize at cell[1]:1 [Memory Serialized 1x "
           "Replicated]\n"
           " |  |      CachedPartitions: 2; MemorySize: ",
           eng_ds_id(j), eng_ds_id(a));
  eng_buf_init(&b);
  TH_OK(S, eng_explain(j, &b));
  assert_memory_equal(eng_buf_cstr(&b), want, strlen(want));
  snprintf(want, sizeof want,
           " |  ShuffledRDD[%d] at reduce_by_key at cell[1]:1 []\n"
           " +-(2) MapPartitionsRDD[%d] at map at cell[1]:1 []\n"
           "    |  ParallelCollectionRDD[%d] at parallelize at cell[1]:1 []\n",
           eng_ds_id(r), eng_ds_id(m), eng_ds_id(p));
  assert_non_null(strstr(eng_buf_cstr(&b), want));
  eng_buf_free(&b);
  eng_unpersist(a);

  /* A union lists both parents as narrow dependencies. */
  eng_ds *u = chk(eng_union_all(p, a));
  snprintf(want, sizeof want,
           "(4) UnionRDD[%d] at union_all at cell[1]:1 []\n"
           " |  ParallelCollectionRDD[%d] at parallelize at cell[1]:1 []\n"
           " |  ParallelCollectionRDD[%d] at parallelize at cell[1]:1 []\n",
           eng_ds_id(u), eng_ds_id(p), eng_ds_id(a));
  eng_buf_init(&b);
  TH_OK(S, eng_explain(u, &b));
  assert_string_equal(eng_buf_cstr(&b), want);
  eng_buf_free(&b);

  /* How a handle prints. */
  eng_buf_init(&b);
  TH_OK(S, eng_ds_describe(p, &b));
  snprintf(want, sizeof want,
           "ParallelCollectionRDD[%d] at parallelize at cell[1]:1 (2 partitions)", eng_ds_id(p));
  assert_string_equal(eng_buf_cstr(&b), want);
  eng_buf_free(&b);
}

/* The builtin add is Python's operator.add on any two values. */
static void api_add(void **state) {
  (void)state;
  eng_val v;
  TH_OK(S, eng_reduce(par("['a', 'b', 'c']", 0), ADD(), &v));
  assert_string_equal(th_repr(v), "'abc'");
  TH_OK(S, eng_reduce(par("[[1], [2, 3]]", 0), ADD(), &v));
  assert_string_equal(th_repr(v), "[1, 2, 3]");
  TH_OK(S, eng_reduce(par("[1, 2.5]", 0), ADD(), &v));
  assert_string_equal(th_repr(v), "3.5");
  EXPECT_SORTED(chk(eng_reduce_by_key(par("[('a', 'x'), ('a', 'y')]", 1), ADD(), 0)),
                "[('a', 'xy')]");
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* A lambda whose parameters cannot take the elements fails at the
 * transformation, before any task runs. */
static void api_error_type_at_transform(void **state) {
  (void)state;
  eng_ds *strs = par("['a', 'b']", 0);
  long jobs = jobs_run();
  assert_null(eng_map(strs, U1("long f(long x) { return x + 1; }", UDF_LONG, UDF_LONG)));
  assert_int_equal(eng_session_errcode(S), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_filter(strs, U1("bool f(double x) { return x > 0; }", UDF_BOOL, UDF_DOUBLE)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  eng_ds *pairs = par("[('a', 1)]", 0);
  assert_null(eng_map_values(pairs, U1("long f(str x) { return 1; }", UDF_LONG, UDF_STR)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_reduce_by_key(
      pairs, U2("str f(str a, str b) { return a; }", UDF_STR, UDF_STR, UDF_STR), 0));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_keys(eng_range(S, 0, 3, 1, 0)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(
      eng_map(pairs, U2("long f(long k, long v) { return v; }", UDF_LONG, UDF_LONG, UDF_LONG)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  eng_udf *on_long = U1("long f(long x) { return x; }", UDF_LONG, UDF_LONG);
  assert_null(eng_flat_map(strs, on_long));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_key_by(strs, on_long));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_group_by(strs, on_long, 0));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_sort_by(strs, on_long, 1, 0));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_sort_by_key(pairs, 1, 0, on_long));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_flat_map_values(pairs, U1("val f(str x) { return list(x); }", UDF_VAL, UDF_STR)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  assert_null(eng_join(pairs, strs, 0));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  /* Types flow through transformations: map's declared result type. */
  eng_ds *lens = chk(eng_map(strs, U1("long f(str s) { return len(s); }", UDF_LONG, UDF_STR)));
  assert_null(eng_map(lens, U1("long f(str s) { return 1; }", UDF_LONG, UDF_STR)));
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: ", 11) == 0);
  /* Actions taking lambdas check them before running anything too. */
  eng_val v;
  assert_int_equal(eng_foreach(strs, on_long), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: foreach: ", 20) == 0);
  eng_udf *add_longs = U2("long f(long a, long b) { return a + b; }", UDF_LONG, UDF_LONG, UDF_LONG);
  assert_int_equal(eng_reduce(strs, add_longs, &v), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: reduce: ", 19) == 0);
  assert_int_equal(eng_fold(strs, eng_long(0), add_longs, &v), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: fold: ", 17) == 0);
  assert_int_equal(eng_top(strs, 1, on_long, &v), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: top: ", 16) == 0);
  assert_int_equal(eng_take_ordered(strs, 1, on_long, &v), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: take_ordered: ", 25) == 0);
  assert_int_equal(eng_max(strs, on_long, &v), ENG_ETYPE);
  assert_true(strncmp(eng_session_errmsg(S), "TypeError: max: ", 16) == 0);
  assert_int_equal(jobs_run(), jobs);
}

static void api_error_empty(void **state) {
  (void)state;
  eng_val v;
  assert_int_equal(eng_reduce(par("[]", 0), ADD(), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: Can not reduce() empty RDD");
  assert_int_equal(eng_first(par("[]", 0), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: RDD is empty");
  /* An empty dataset after a filter. */
  eng_ds *none = chk(eng_filter(eng_range(S, 0, 10, 1, 3),
                                U1("bool f(long x) { return x > 100; }", UDF_BOOL, UDF_LONG)));
  assert_int_equal(eng_reduce(none, ADD(), &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: Can not reduce() empty RDD");
  assert_int_equal(eng_first(none, &v), ENG_EINVAL);
  assert_string_equal(eng_session_errmsg(S), "ValueError: RDD is empty");
}

/* flat_map, then a map making pairs, then a by-key shuffle: the pairs go to
 * the shuffle a chunk at a time (pipe.c: kv_items_to_sink). Lists longer
 * than a chunk, empty ones, and a map lambda raising mid-chunk, which the
 * error must name (not the reduce function that runs after it). */
static void api_flat_map_pairs_into_shuffle(void **state) {
  (void)state;
  /* Row x gives x words "w<i % 7>", i < x: 0, 1, 70, 130 and 200 of them. */
  eng_ds *rows = par("[0, 1, 70, 130, 200]", 2);
  eng_ds *words = chk(eng_flat_map(
      rows, U1("val f(long x) { val l = list(); for (long i = 0; i < x; i++) l = add(l, list(strf(\"w%ld\", i % 7))); return l; }",
               UDF_VAL, UDF_LONG)));
  eng_ds *pairs = chk(eng_map(words, U1("val f(str w) { return kv(w, len(w) * 10); }", UDF_VAL, UDF_STR)));
  /* Counts of w0..w6 over i < 1, 70, 130, 200: w0 gets 1+10+19+29, w1..w6 fewer. */
  long want[7] = {0};
  const long xs[5] = {0, 1, 70, 130, 200};
  for (int r = 0; r < 5; r++)
    for (long i = 0; i < xs[r]; i++) want[i % 7] += 20;
  char exp[256];
  snprintf(exp, sizeof exp, "[('w0', %ld), ('w1', %ld), ('w2', %ld), ('w3', %ld), ('w4', %ld), ('w5', %ld), ('w6', %ld)]",
           want[0], want[1], want[2], want[3], want[4], want[5], want[6]);
  EXPECT_SORTED(chk(eng_reduce_by_key(pairs, ADD(), 3)), exp);
  /* The map lambda raises on the 100th word of a row (mid-chunk). */
  udf_type ps[1] = {UDF_STR};
  udf_def *d = udf_def_new("lambda at cell[4]:2", "val f(str w) { static long n; if (++n == 100) as_long(EMBER_V(w)); return kv(w, 1); }",
                           "f", UDF_VAL, 1, ps, 0, NULL, NULL);
  eng_udf *bad = eng_udf_new(S, d, NULL);
  udf_def_free(d);
  assert_non_null(bad);
  eng_val v;
  int rc = eng_collect(chk(eng_reduce_by_key(chk(eng_map(words, bad)), ADD(), 2)), &v);
  assert_int_equal(rc, ENG_ETASK);
  const char *msg = eng_session_errmsg(S);
  assert_true(strncmp(msg, "TaskFailed: TypeError: ", 23) == 0);
  assert_non_null(strstr(msg, "lambda at cell[4]:2"));
}

/* A UDF raising inside a task fails the action with TaskFailed naming the
 * UDF and the partition; the session still works afterwards. */
static void api_error_task_failed(void **state) {
  (void)state;
  udf_type ps[1] = {UDF_VAL};
  udf_def *d = udf_def_new("lambda at cell[9]:1", "long f(val x) { return as_long(x) + 1; }", "f",
                           UDF_LONG, 1, ps, 0, NULL, NULL);
  eng_udf *f = eng_udf_new(S, d, NULL);
  udf_def_free(d);
  assert_non_null(f);
  eng_ds *bad = chk(eng_map(par("[1, 2, 'three', 4]", 2), f));
  eng_val v;
  int rc = eng_collect(bad, &v);
  assert_int_equal(rc, ENG_ETASK);
  const char *msg = eng_session_errmsg(S);
  assert_true(strncmp(msg, "TaskFailed: TypeError: ", 23) == 0);
  assert_non_null(strstr(msg, "lambda at cell[9]:1"));
  assert_non_null(strstr(msg, "partition 1"));
  /* The session keeps working, also with the same lambda on good data. */
  EXPECT(chk(eng_map(par("[1, 2]", 0), f)), "[2, 3]");
  int64_t n;
  TH_OK(S, eng_count(eng_range(S, 0, 1000, 1, 0), &n));
  assert_int_equal(n, 1000);
  /* reduce with a failing lambda fails the same way. */
  rc = eng_reduce(
      par("['a', 'b', 'c', 'd']", 2),
      U2("val f(val a, val b) { return tuple(as_long(a)); }", UDF_VAL, UDF_VAL, UDF_VAL), &v);
  assert_int_equal(rc, ENG_ETASK);
  assert_true(strncmp(eng_session_errmsg(S), "TaskFailed: TypeError: ", 23) == 0);
  TH_OK(S, eng_count(eng_range(S, 0, 10, 1, 0), &n));
  assert_int_equal(n, 10);
  /* In the map side of a shuffle. */
  eng_ds *kvs = chk(eng_map(par("[1, 2, 0, 4]", 2),
                            U1("val f(long x) { return kv(x, 10 / x); }", UDF_VAL, UDF_LONG)));
  rc = eng_collect(chk(eng_reduce_by_key(kvs, ADD(), 0)), &v);
  assert_true(rc < 0);
  assert_true(strncmp(eng_session_errmsg(S), "TaskFailed: ", 12) == 0);
  /* Cached data survives a failed job. */
  eng_ds *kept = eng_cache(par("[1, 2, 3]", 0));
  EXPECT(kept, "[1, 2, 3]");
  rc = eng_collect(
      chk(eng_map(kept, U1("long f(long x) { if (x == 3) { int *p = 0; return *p; } return x; }",
                           UDF_LONG, UDF_LONG))),
      &v);
  assert_true(rc < 0);
  assert_true(strncmp(eng_session_errmsg(S), "TaskFailed: ", 12) == 0);
  EXPECT(kept, "[1, 2, 3]");
  EXPECT(chk(eng_map(kept, U1("long f(long x) { return x + 1; }", UDF_LONG, UDF_LONG))),
         "[2, 3, 4]");
  eng_unpersist(kept);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "executor") == 0) return eng_executor_main(argc, argv);
#define T(name) cmocka_unit_test_setup(name, test_setup)
  const struct CMUnitTest tests[] = {
      T(api_parallelize),
      T(api_range),
      T(api_text_file),
      T(api_empty),
      T(api_map),
      T(api_flat_map),
      T(api_filter),
      T(api_map_partitions),
      T(api_map_partitions_with_index),
      T(api_distinct),
      T(api_union_all),
      T(api_intersection),
      T(api_subtract),
      T(api_cartesian),
      T(api_sample),
      T(api_sort_by),
      T(api_sort_by_key),
      T(api_group_by),
      T(api_group_by_key),
      T(api_reduce_by_key),
      T(api_reduce_by_key_typed_table),
      T(api_flat_map_pairs_into_shuffle),
      T(api_reduce_by_key_cached_pairs),
      T(api_fold_by_key),
      T(api_aggregate_by_key),
      T(api_combine_by_key),
      T(api_join),
      T(api_left_outer_join),
      T(api_right_outer_join),
      T(api_full_outer_join),
      T(api_cogroup),
      T(api_keys),
      T(api_values),
      T(api_map_values),
      T(api_flat_map_values),
      T(api_key_by),
      T(api_zip_with_index),
      T(api_glom),
      T(api_repartition),
      T(api_coalesce),
      T(api_partition_by),
      T(api_collect),
      T(api_count),
      T(api_first),
      T(api_take),
      T(api_take_ordered),
      T(api_top),
      T(api_reduce),
      T(api_fold),
      T(api_aggregate),
      T(api_sum),
      T(api_mean),
      T(api_min),
      T(api_max),
      T(api_stdev),
      T(api_variance),
      T(api_stats),
      T(api_histogram),
      T(api_count_by_key),
      T(api_count_by_value),
      T(api_foreach),
      T(api_save_as_text_file),
      T(api_num_partitions),
      T(api_cache),
      T(api_persist),
      T(api_unpersist),
      T(api_checkpoint),
      T(api_broadcast),
      T(api_accumulator),
      T(api_show),
      T(api_explain),
      T(api_add),
      T(api_error_type_at_transform),
      T(api_error_empty),
      T(api_error_task_failed),
  };
#undef T
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
