/* test_repl.c -- the session library (repl/) through its public API
 * (repl.h), the way the terminal and the Jupyter kernel drive it: every
 * input goes through repl_eval on a real session (local[2], whose executors
 * are this program re-run as "executor", see th.h), and the tests assert on
 * exactly what a user would see through the repl_out callbacks: results in
 * Python's repr, displays (show tables, explain, :status), errors as class,
 * message and caret detail, and the info text of meta commands.
 *
 * Covered (SPEC 2-4, 6):
 *   - values and printing: repr of every value kind, ';' hides a value,
 *     doubles print as the shortest string that reads back, action results;
 *   - persistence across cells: variables, functions, types, #include and
 *     #define; defining a name again replaces it; shadowing; :reset;
 *   - lambdas: captures of each type (by value), typed parameters and
 *     results, result-type inference observed through the engine's static
 *     type check, multi-line lambdas with locals, flat_map/emit,
 *     map_partitions, accumulators and broadcasts;
 *   - errors: CompileError with cell[N]:L and a caret, TypeError before any
 *     task, crashes in a cell and in a UDF, exit() refused, endless loops in
 *     a UDF or in the cell cancelled by repl_interrupt from another thread;
 *   - meta commands (:help, :time, :status, :history, :reset, unknown,
 *     the %-prefix), repl_set_next_label/repl_cell_count, history, and
 *     completion/inspection (repl_complete, repl_word_at, repl_doc,
 *     repl_doc_session, repl_is_complete);
 *   - regressions: each bug found while writing these tests has a test
 *     named after what was wrong (see the "Regressions" section).
 *
 * Each test gets a fresh session (so numbering, history and names start
 * from scratch) and must give back every byte it allocated. A watchdog
 * alarm bounds each test, so a hang fails instead of stalling the run.
 *
 * cmocka replaces the SIGSEGV/SIGFPE/SIGILL/SIGBUS handlers around every
 * test function (and restores its own after fixtures), so each test
 * re-installs udf_guard's handlers first (begin()): without them a crash in
 * a cell would end the program instead of becoming a "Crash" error.
 */
#include "th.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "../../repl/repl.h"
#include "../../udf/udf_guard.h"

/* ---- what the user sees ---------------------------------------------------- */

#define SEEN_MAX (1 << 16)

/* Everything the callbacks received during one repl_eval. Texts of several
 * calls are concatenated (results and displays each end with '\n'). */
typedef struct seen {
  char result[SEEN_MAX];
  int nresult;
  char display[SEEN_MAX];
  int ndisplay, ntable; /* ntable: displays that came with a table model */
  int table_rows;       /* rows of the last table model */
  char ename[64], evalue[4096], detail[4096];
  int nerror;
  char info[SEEN_MAX];
  int ninfo;
} seen;

static seen W;

static void append(char *dst, const char *text) {
  size_t n = strlen(dst);
  snprintf(dst + n, SEEN_MAX - n, "%s", text);
}

static void on_result(void *ctx, const char *text) {
  (void)ctx;
  append(W.result, text);
  append(W.result, "\n");
  W.nresult++;
}

static void on_display(void *ctx, const char *text, const eng_table *table) {
  (void)ctx;
  append(W.display, text);
  W.ndisplay++;
  if (table) {
    W.ntable++;
    W.table_rows = table->nrows;
  }
}

static void on_error(void *ctx, const char *ename, const char *evalue, const char *detail) {
  (void)ctx;
  snprintf(W.ename, sizeof W.ename, "%s", ename);
  snprintf(W.evalue, sizeof W.evalue, "%s", evalue);
  snprintf(W.detail, sizeof W.detail, "%s", detail);
  W.nerror++;
}

static void on_info(void *ctx, const char *text) {
  (void)ctx;
  append(W.info, text);
  W.ninfo++;
}

static const repl_out OUT = {on_result, on_display, on_error, on_info, NULL};

/* ---- fixture --------------------------------------------------------------- */

static repl *R;
static int64_t mem_before;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)fmod(ms, 1000.0) * 1000000L};
  nanosleep(&ts, NULL);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "test_repl: a test ran over its time limit (hung?)\n";
  if (write(2, msg, sizeof msg - 1) < 0) _exit(125);
  _exit(124);
}

static int setup(void **state) {
  (void)state;
  mem_before = eng_mem_in_use();
  eng_conf c = {.master = "local[2]", .quiet = 1};
  eng_err e;
  R = repl_new(&c, &e);
  if (!R) {
    fprintf(stderr, "repl_new: %s\n", e.msg);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  alarm(0);
  repl_free(R);
  R = NULL;
  int64_t leak = eng_mem_in_use() - mem_before;
  if (leak != 0) {
    fprintf(stderr, "test_repl: the session leaked %lld bytes\n", (long long)leak);
    return -1;
  }
  return 0;
}

/* First thing in every test: udf_guard's signal handlers back (cmocka
 * replaced them) and a time limit for the whole test. */
static void begin(int seconds) {
  assert_int_equal(udf_guard_install(), 0);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)seconds);
}

/* Evaluates one input, recording what the user would see. */
static int ev(const char *input) {
  memset(&W, 0, sizeof W);
  return repl_eval(R, input, &OUT);
}

static void expect_no_error(const char *input, int rc) {
  if (W.nerror)
    fail_msg("%s\n  unexpected %s: %s\n%s", input, W.ename, W.evalue, W.detail);
  if (rc != REPL_OK) fail_msg("%s\n  returned %d", input, rc);
}

/* The input succeeds and shows `want` (NULL: shows nothing at all). */
static void ok_impl(const char *input, const char *want, const char *file, int line) {
  int rc = ev(input);
  expect_no_error(input, rc);
  if (!want) {
    if (W.nresult) fail_msg("%s:%d: %s\n  showed '%s', expected nothing", file, line, input, W.result);
    return;
  }
  if (W.nresult != 1) fail_msg("%s:%d: %s\n  showed %d results, expected '%s'", file, line, input, W.nresult, want);
  char w[SEEN_MAX];
  snprintf(w, sizeof w, "%s\n", want);
  if (strcmp(W.result, w) != 0)
    fail_msg("%s:%d: %s\n  showed   '%.*s'\n  expected '%s'", file, line, input,
             (int)strlen(W.result) - 1, W.result, want);
}
#define OK(input, want) ok_impl((input), (want), __FILE__, __LINE__)
#define QUIET(input) ok_impl((input), NULL, __FILE__, __LINE__)

/* The input fails with error class `ename` and a message that starts with
 * `prefix`; nothing is shown as a result. */
static void err_impl(const char *input, const char *ename, const char *prefix, const char *file, int line) {
  int rc = ev(input);
  if (rc != REPL_ERROR || W.nerror != 1)
    fail_msg("%s:%d: %s\n  rc %d with %d errors, expected one %s (result '%s')", file, line, input, rc,
             W.nerror, ename, W.result);
  if (strcmp(W.ename, ename) != 0 || strncmp(W.evalue, prefix, strlen(prefix)) != 0)
    fail_msg("%s:%d: %s\n  got      %s: %s\n  expected %s: %s...", file, line, input, W.ename, W.evalue,
             ename, prefix);
  if (W.nresult) fail_msg("%s:%d: %s\n  a failed input showed '%s'", file, line, input, W.result);
}
#define ERR(input, ename, prefix) err_impl((input), (ename), (prefix), __FILE__, __LINE__)

/* `text` contains `part` (or starts with it). */
#define CONTAINS(text, part)                                                      \
  do {                                                                            \
    if (!strstr((text), (part))) fail_msg("'%s'\n  does not contain '%s'", (text), (part)); \
  } while (0)
#define STARTS(text, part)                                                        \
  do {                                                                            \
    if (strncmp((text), (part), strlen(part)) != 0)                               \
      fail_msg("'%s'\n  does not start with '%s'", (text), (part));              \
  } while (0)

static long jobs_run(void) {
  eng_runstats st;
  eng_session_stats(repl_engine(R), &st);
  return st.jobs;
}

/* ------------------------------------------------------------------------ */
/* Values and printing                                                      */
/* ------------------------------------------------------------------------ */

/* SPEC 4: a cell's value reads as PySpark prints it, Python's repr. */
static void repl_prints_python_repr(void **state) {
  (void)state;
  begin(30);
  OK("42", "42");
  OK("-7", "-7");
  OK("2.5", "2.5");
  OK("1.0", "1.0");
  OK("\"text\"", "'text'");
  /* repr picks the quote that needs no escape, and escapes the rest. */
  OK("\"it's\"", "\"it's\"");
  OK("\"tab\\there\\n\"", "'tab\\there\\n'");
  OK("NONE", "None");
  OK("(bool)1", "True");
  OK("(bool)0", "False");
  OK("kv(\"a\", 1)", "('a', 1)");
  OK("tuple(1)", "(1,)");
  OK("tuple()", "()");
  OK("list()", "[]");
  OK("list(1, 2.0, \"three\", NONE, (bool)1)", "[1, 2.0, 'three', None, True]");
  OK("list(kv(\"a\", list(1, 1)), kv(\"b\", list(1)))", "[('a', [1, 1]), ('b', [1])]");
  OK("18446744073709551615UL", "18446744073709551615");
  OK("-9223372036854775807L - 1", "-9223372036854775808");
  /* C's types decide: a char is a small integer, integer division truncates. */
  OK("'a'", "97");
  OK("7 / 2", "3");
  OK("7 / 2.0", "3.5");
  /* Strings of every C spelling are strings. */
  OK("(const char *)\"c\"", "'c'");
  OK("lower(\"ABC\")", "'abc'");
  /* Handles print what they are. */
  OK("add", "<builtin add>");
  OK("range(3)", "ParallelCollectionRDD[0] at range at cell[25]:1 (2 partitions)");
  OK("(ds)0", "None");
}

/* SPEC 3: a last expression without ';' shows its value; with it, or a
 * declaration, nothing is shown. */
static void repl_semicolon_hides_value(void **state) {
  (void)state;
  begin(30);
  QUIET("long x = 5;");
  QUIET("x;");
  QUIET("x * 2;");
  OK("x", "5");
  OK("x * 2", "10");
  /* Statements first, then the value of the last line. */
  OK("long y = 2; y = y * 10;\ny + x", "25");
  /* A declaration without ';' declares and shows nothing. */
  QUIET("long z = 3");
  OK("z", "3");
  /* Blank input and comments are no cell at all, and show nothing. */
  QUIET("");
  QUIET("   \n  ");
  QUIET("// a comment");
  OK("42 // the answer", "42");
  /* A void expression runs as a statement (once) and shows nothing. */
  QUIET("long calls = 0;");
  QUIET("void bump(void) { calls++; }");
  QUIET("bump()");
  OK("calls", "1");
}

/* SPEC 4: "Doubles print as the shortest string that reads back to the same
 * double" -- repr(float) in Python 3, which uses exponents below 1e-4 and
 * from 1e16 on. Both in the session and for doubles computed by UDFs. */
static void repl_doubles_shortest_roundtrip(void **state) {
  (void)state;
  begin(30);
  static const struct {
    const char *expr, *repr;
  } cases[] = {
      {"0.1 + 0.2", "0.30000000000000004"},
      {"1.0 / 3", "0.3333333333333333"},
      {"2.0 / 3", "0.6666666666666666"},
      {"(float)0.1", "0.10000000149011612"},
      {"1e16", "1e+16"},
      {"123456789012345.0", "123456789012345.0"},
      {"1e22", "1e+22"},
      {"1e-5", "1e-05"},
      {"0.0001", "0.0001"},
      {"1.5e-7", "1.5e-07"},
      {"-0.0", "-0.0"},
      {"5e-324", "5e-324"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"1.0 / 0", "inf"},
      {"-1.0 / 0", "-inf"},
      {"0.0 / 0", "nan"},
      {"100.0", "100.0"},
      {"9007199254740993.0", "9007199254740992.0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) OK(cases[i].expr, cases[i].repr);
  /* The same digits come back from executors, inside a list. */
  OK("collect(map(range(1, 4), [](long x) { return 1.0 / x; }))", "[1.0, 0.5, 0.3333333333333333]");
  OK("collect(map(range(3), [](long x) { return x * 0.1; }))", "[0.0, 0.1, 0.2]");
  OK("collect(map(range(3), [](long x) { return (x + 1) * 0.1; }))",
     "[0.1, 0.2, 0.30000000000000004]");
}

/* Actions return values that print as PySpark's results. */
static void repl_action_results(void **state) {
  (void)state;
  begin(30);
  QUIET("ds nums = range(1, 11);");
  OK("collect(map(nums, [](long x) { return x * x; }))", "[1, 4, 9, 16, 25, 36, 49, 64, 81, 100]");
  OK("take(nums, 3)", "[1, 2, 3]");
  OK("count(nums)", "10");
  OK("first(nums)", "1");
  OK("sum(nums)", "55");
  OK("mean(nums)", "5.5");
  OK("top(nums, 2)", "[10, 9]");
  OK("take_ordered(nums, 2, [](long x) { return -x; })", "[10, 9]");
  OK("count_by_value(parallelize(list(\"b\", \"a\", \"b\")))", "[('a', 1), ('b', 2)]");
  OK("collect(sort_by_key(reduce_by_key(parallelize(list(kv(\"b\", 1), kv(\"a\", 2), kv(\"b\", 3))), add)))",
     "[('a', 2), ('b', 4)]");
  OK("reduce(nums, add)", "55");
  OK("num_partitions(nums)", "2");
  OK("collect(glom(parallelize(list(1, 2, 3), 3)))", "[[1], [2], [3]]");
  OK("collect(empty())", "[]");
  /* A count is a C long: it takes part in C arithmetic. */
  OK("count(nums) * 2 + 1", "21");
  OK("long n = count(nums); n", "10");
}

/* show() displays Spark's table (with a table model for front ends);
 * explain() and :status display text without one. Neither is a result. */
static void repl_show_and_explain_display(void **state) {
  (void)state;
  begin(30);
  QUIET("show(parallelize(list(kv(\"Tom\", 14), kv(\"Alice\", 23)), 1))");
  assert_int_equal(W.ndisplay, 1);
  assert_int_equal(W.ntable, 1);
  assert_int_equal(W.table_rows, 2);
  assert_string_equal(W.display,
                      "+-----+-----+\n"
                      "|  key|value|\n"
                      "+-----+-----+\n"
                      "|  Tom|   14|\n"
                      "|Alice|   23|\n"
                      "+-----+-----+\n");
  QUIET("show(range(30), 2);");
  assert_string_equal(W.display,
                      "+-----+\n|value|\n+-----+\n|    0|\n|    1|\n+-----+\nonly showing top 2 rows\n");
  QUIET("ds r = range(4);");
  QUIET("ds m = map(r, [](long x) { return kv(x % 2, x); });");
  QUIET("explain(reduce_by_key(m, add))");
  assert_int_equal(W.ndisplay, 1);
  assert_int_equal(W.ntable, 0);
  /* The lineage names the cell and line each dataset was made at. */
  assert_string_equal(W.display,
                      "(2) ShuffledRDD[4] at reduce_by_key at cell[5]:1 []\n"
                      " +-(2) MapPartitionsRDD[3] at map at cell[4]:1 []\n"
                      "    |  ParallelCollectionRDD[2] at range at cell[3]:1 []\n");
}

/* ------------------------------------------------------------------------ */
/* Persistence across cells                                                 */
/* ------------------------------------------------------------------------ */

/* SPEC 3: declarations persist for the rest of the session. */
static void repl_variables_persist(void **state) {
  (void)state;
  begin(30);
  QUIET("long n = 41;");
  QUIET("n = n + 1;");
  OK("n", "42");
  QUIET("int small = 7; char c = 'x'; unsigned long big = 1UL << 63;");
  OK("small + c", "127");
  OK("big", "9223372036854775808");
  QUIET("double ratio = 0.25;");
  OK("ratio", "0.25");
  QUIET("char *name = \"ember\";");
  OK("name", "'ember'");
  QUIET("char buf[16] = \"hi\";");
  OK("buf", "'hi'");
  QUIET("val pair = kv(\"k\", list(1, 2));");
  OK("pair", "('k', [1, 2])");
  QUIET("bool yes = n > 40;");
  OK("yes", "True");
  QUIET("ds d = range(5);");
  OK("count(d)", "5");
  /* Arrays with initializers that are not constant (computed at run time). */
  QUIET("long arr[] = {n, 2, n * 2};");
  OK("arr[0] + arr[1] + arr[2]", "128");
  QUIET("const long K = 5; long a = 1, b = a + K;");
  OK("b", "6");
  /* A pointer to a session variable stays valid: globals never move. */
  QUIET("long *pn = &n;");
  QUIET("*pn = 7;");
  OK("n", "7");
}

/* Functions, types, #define and #include persist and are used later. */
static void repl_declarations_persist(void **state) {
  (void)state;
  begin(30);
  QUIET("long sq(long x) { return x * x; }");
  OK("sq(12)", "144");
  QUIET("long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }");
  OK("fib(20)", "6765");
  QUIET("long sq_plus(long x) { return sq(x) + 1; }");
  OK("sq_plus(3)", "10");
  QUIET("typedef struct { long a; long b; } pair_t;");
  QUIET("pair_t mk(long a, long b) { pair_t p = {a, b}; return p; }");
  OK("mk(3, 4).b", "4");
  QUIET("pair_t pp = {5, 6};");
  OK("pp.a * pp.b", "30");
  QUIET("struct node { long v; struct node *next; };");
  QUIET("struct node n2 = {2, 0}; struct node n1 = {1, &n2};");
  OK("n1.next->v", "2");
  QUIET("enum color { RED, GREEN = 5, BLUE };");
  OK("BLUE", "6");
  QUIET("#define SQUARE(x) ((x) * (x))");
  OK("SQUARE(9)", "81");
  QUIET("#include <time.h>");
  OK("time(NULL) > 1600000000", "1");
  QUIET("#include <ctype.h>\nint up(int c) { return toupper(c); }");
  OK("up('a')", "65");
  /* <ember.h> and the headers SPEC 3 lists are there already. */
  QUIET("#include <ember.h>\n#include <stdio.h>\n#include <string.h>\n#include <math.h>");
  OK("strlen(\"four\") + sqrt(16.0)", "8.0");
  /* Multi-line functions, with the body split over lines. */
  QUIET("long collatz(long n) {\n"
        "  long steps = 0;\n"
        "  while (n != 1) {\n"
        "    n = n % 2 ? 3 * n + 1 : n / 2;\n"
        "    steps++;\n"
        "  }\n"
        "  return steps;\n"
        "}");
  OK("collatz(27)", "111");
}

/* SPEC 3: defining a name again replaces the old definition for later
 * cells; it is never a "redefinition" error. */
static void repl_redefinition_replaces(void **state) {
  (void)state;
  begin(30);
  QUIET("long x = 1;");
  QUIET("long x = 2;");
  OK("x", "2");
  /* ... with another type too. */
  QUIET("double x = 1.5;");
  OK("x", "1.5");
  QUIET("char *x = \"now a string\";");
  OK("x", "'now a string'");
  QUIET("int f(int a) { return a + 1; }");
  OK("f(1)", "2");
  QUIET("int f(int a) { return a + 2; }");
  OK("f(1)", "3");
  /* A different signature. */
  QUIET("long f(long a, long b) { return a * b; }");
  OK("f(6, 7)", "42");
  /* A function becomes a variable and back. */
  QUIET("long f = 9;");
  OK("f", "9");
  QUIET("long f(void) { return 10; }");
  OK("f()", "10");
  QUIET("typedef struct { long a; } T;");
  QUIET("typedef struct { long a; long b; } T;");
  OK("sizeof(T)", "16");
  QUIET("struct S { long a; };");
  QUIET("struct S { long a; long b; long c; };");
  OK("sizeof(struct S)", "24");
  QUIET("#define K 1");
  QUIET("#define K 2");
  OK("K", "2");
  QUIET("enum { LOW = 1 };");
  QUIET("enum { LOW = 3 };");
  OK("LOW", "3");
  /* Re-running the very same cell is fine too. */
  QUIET("long twice = 1;\nlong dbl(long v) { return 2 * v; }");
  QUIET("long twice = 1;\nlong dbl(long v) { return 2 * v; }");
  OK("dbl(twice)", "2");
}

/* C's scoping: parameters and locals shadow session variables inside
 * functions; a cell that does not compile defines nothing; a cell that
 * crashes keeps what it defined before the crash. */
static void repl_shadowing_and_rollback(void **state) {
  (void)state;
  begin(30);
  QUIET("long n = 10;");
  QUIET("long addn(long n) { return n + 1; }");
  OK("addn(1)", "2");
  QUIET("long localn(void) { long n = 5; return n; }");
  OK("localn()", "5");
  OK("n", "10");
  /* A lambda's parameter is its own, even with a session variable's name. */
  OK("collect(map(range(3), [](long n) { return n * 2; }))", "[0, 2, 4]");
  /* Does not compile: nothing of it stays, the old n is still there. */
  ERR("long n = 99; long m = n +* 2 ^;", "CompileError", "cell[");
  OK("n", "10");
  ERR("m", "CompileError", "cell[10]:1: error: 'm' undeclared");
  /* Compiled and ran up to a crash: its variables exist. */
  ERR("long before = 5; abort();", "Crash", "SIGABRT in cell[11]");
  OK("before", "5");
}

/* :reset forgets variables, functions, types and datasets; the executors
 * stay and the next job runs. */
static void repl_reset(void **state) {
  (void)state;
  begin(30);
  QUIET("long v = 1; long fn(void) { return 2; } typedef long mylong;");
  QUIET("ds d = cache(range(10));");
  OK("count(d)", "10");
  assert_int_equal(ev(":reset"), REPL_OK);
  assert_string_equal(W.info, "session reset: variables, functions, types and datasets are gone\n");
  assert_int_equal(W.nerror, 0);
  ERR("v", "CompileError", "cell[4]:1: error: 'v' undeclared");
  ERR("fn()", "CompileError", "cell[5]:1: ");
  ERR("mylong q = 3;", "CompileError", "cell[6]:1: ");
  ERR("d", "CompileError", "cell[7]:1: error: 'd' undeclared");
  OK("count(range(7))", "7");
  /* Names can be defined again, with other types. */
  QUIET("double v = 0.5;");
  OK("v", "0.5");
  /* Nothing cached is left on the executors. */
  assert_int_equal(ev(":status"), REPL_OK);
  CONTAINS(W.display, "cached datasets: 0");
  /* The %-spelling works as well. */
  assert_int_equal(ev("%reset"), REPL_OK);
  ERR("v", "CompileError", "cell[11]:1: error: 'v' undeclared");
}

/* ------------------------------------------------------------------------ */
/* Lambdas                                                                  */
/* ------------------------------------------------------------------------ */

/* SPEC 3: captures are copied by value when the lambda is made, for every
 * capturable type. */
static void repl_lambda_captures(void **state) {
  (void)state;
  begin(30);
  QUIET("long k = 3; int ik = 2; double fac = 1.5; bool flag = true; char *cs = \"abc\";");
  QUIET("str pre = EMBER_S(\"p_\"); val lst = list(10, 20, 30);");
  OK("collect(map(range(4), [k](long x) { return x * k; }))", "[0, 3, 6, 9]");
  OK("collect(map(range(4), [ik](long x) { return x + ik; }))", "[2, 3, 4, 5]");
  OK("collect(map(range(3), [fac](long x) { return x * fac; }))", "[0.0, 1.5, 3.0]");
  OK("collect(filter(range(6), [flag](long x) { return flag && x % 2 == 0; }))", "[0, 2, 4]");
  OK("collect(map(range(3), [cs](long x) { return (long)strlen(cs) + x; }))", "[3, 4, 5]");
  OK("collect(map(parallelize(list(\"a\", \"b\")), [pre](str s) { return strf(\"%s%s\", pre.ptr, s.ptr); }))",
     "['p_a', 'p_b']");
  OK("collect(map(range(3), [lst](long i) { return at(lst, i); }))", "[10, 20, 30]");
  OK("collect(map(range(2), [k, fac, cs](long x) { return x * k * fac + strlen(cs); }))", "[3.0, 7.5]");
  /* By value: changing k after the lambda is made changes nothing. */
  QUIET("ds times_k = map(range(3), [k](long x) { return x * k; });");
  QUIET("k = 100;");
  OK("collect(times_k)", "[0, 3, 6]");
  /* A lambda made again sees the new value (the same lambda in a loop). */
  OK("long total = 0;\n"
     "for (long m = 1; m <= 3; m++) total += as_long(sum(map(range(3), [m](long x) { return x * m; })));\n"
     "total",
     "18");
  /* What cannot be captured is a TypeError naming the capture. */
  QUIET("long *where = &k;");
  ERR("map(range(3), [where](long x) { return x; });", "TypeError",
      "lambda at cell[16]:1: cannot capture 'where': lambdas capture long, int, double, bool, str, char * "
      "and val values");
}

/* Parameter types long, int, double, bool, str, char *, val, and results
 * of each type, inferred or given with -> T. */
static void repl_lambda_types(void **state) {
  (void)state;
  begin(30);
  OK("collect(map(range(3), [](int x) { return x + 1; }))", "[1, 2, 3]");
  OK("collect(map(parallelize(list(1.5, 2.5)), [](double x) { return x * 2; }))", "[3.0, 5.0]");
  OK("collect(map(parallelize(list((bool)1, (bool)0)), [](bool b) { return !b; }))", "[False, True]");
  OK("collect(map(parallelize(list(\"a\", \"bb\")), [](str s) { return s.len; }))", "[1, 2]");
  OK("collect(map(parallelize(list(\"a\", \"bb\")), [](char *s) { return strlen(s); }))", "[1, 2]");
  OK("collect(map(parallelize(list(1, \"x\", NONE)), [](val v) { return v; }))", "[1, 'x', None]");
  /* Results: bool from a comparison, str from helpers or literals, val. */
  OK("collect(map(range(3), [](long x) { return x > 0; }))", "[False, True, True]");
  OK("collect(map(parallelize(list(\"Ab\", \"cD\")), [](str s) { return lower(s); }))", "['ab', 'cd']");
  OK("collect(map(range(3), [](long x) { return x == 1 ? \"one\" : \"other\"; }))", "['other', 'one', 'other']");
  OK("collect(map(range(2), [](long x) { return kv(x, x * x); }))", "[(0, 0), (1, 1)]");
  OK("collect(map(range(3), [](long x) { if (x == 1) return NONE; return EMBER_V(x); }))", "[0, None, 2]");
  /* Explicit result types. */
  OK("collect(map(range(3), [](long x) -> double { return x / 2; }))", "[0.0, 0.0, 1.0]");
  OK("collect(map(range(3), [](long x) -> bool { return x; }))", "[False, True, True]");
  OK("collect(map(range(2), [](long x) -> val { return list(x, x); }))", "[[0, 0], [1, 1]]");
  OK("collect(map(range(2), [](long x) -> long { return x * 2.7; }))", "[0, 2]");
  /* Over pairs: one val parameter, or key and value. */
  QUIET("ds pairs = parallelize(list(kv(\"a\", 1), kv(\"b\", 2)));");
  OK("collect(map(pairs, [](str k, long v) { return kv(v, k); }))", "[(1, 'a'), (2, 'b')]");
  OK("collect(map(pairs, [](val p) { return value(p); }))", "[1, 2]");
  OK("collect(reduce_by_key(map(pairs, [](str k, long v) { return kv(\"all\", v); }), [](long a, long b) { return a + b; }))",
     "[('all', 3)]");
}

/* The result type is inferred from the return statements. The engine checks
 * the element type of a map's result against the next lambda's parameters
 * when the transformation is made, so an inferred type shows as a TypeError
 * before any task runs; had the lambda been inferred as returning `val`
 * (unknown), the transformation would be accepted and the error would only
 * come from a task. */
static void repl_lambda_result_inference(void **state) {
  (void)state;
  begin(30);
  static const struct {
    const char *lambda, *type;
  } cases[] = {
      {"[](long i) { return (i * 7919) % 100000; }", "long"},
      {"[](long x) { return x * x; }", "long"},
      {"[](long x) { return x / 2.0; }", "double"},
      {"[](long x) { return sqrt(x); }", "double"},
      {"[](long x) { return x > 3; }", "bool"},
      {"[](long x) { x += 1; long y = x * 2; return y + 1; }", "long"},
      {"[](long x) { x += 1; double h = x / 2.0; return h; }", "double"},
      {"[](long x) { if (x > 1) return x; return 0; }", "long"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char cell[512], want[256];
    snprintf(cell, sizeof cell, "ds m%zu = map(range(10), %s);", i, cases[i].lambda);
    QUIET(cell);
    long jobs = jobs_run();
    snprintf(cell, sizeof cell, "map(m%zu, [](str s) { return s; });", i);
    snprintf(want, sizeof want,
             "map: the lambda's parameter 1 is str but the dataset's elements are %s", cases[i].type);
    ERR(cell, "TypeError", want);
    assert_int_equal(jobs_run(), jobs);
  }
  /* Pairs: kv(str, long) is known as (str, long), so a lambda over its
   * values alone is checked too. */
  QUIET("ds wc = map(parallelize(list(\"a\", \"b\")), [](str w) { return kv(w, 1); });");
  ERR("map(wc, [](long k, long v) { return v; });", "TypeError",
      "map: the lambda's parameter 1 is long but the dataset's keys are str");
  /* And the inferred results are right, of course. */
  OK("collect(map(range(4), [](long i) { return (i * 7919) % 100000; }))", "[0, 7919, 15838, 23757]");
}

/* Lambdas spanning lines, with local declarations and loops; a compile
 * error inside one names its line in the cell. */
static void repl_lambda_multiline(void **state) {
  (void)state;
  begin(30);
  OK("collect(map(range(4), [](long x) {\n"
     "  long y = x * 10;\n"
     "  double z = y / 4.0;\n"
     "  for (int i = 0; i < 2; i++) z += 1;\n"
     "  return z;\n"
     "}))",
     "[2.0, 4.5, 7.0, 9.5]");
  QUIET("ds evens = filter(range(10),\n"
        "                  [](long x) {\n"
        "                    return x % 2 == 0;\n"
        "                  });");
  OK("collect(evens)", "[0, 2, 4, 6, 8]");
  ERR("collect(map(range(4), [](long x) {\n"
      "  long y = x;\n"
      "  return y + undefined_thing;\n"
      "}))",
      "CompileError", "cell[4]:3: error: 'undefined_thing' undeclared");
  assert_string_equal(W.detail,
                      "      return y + undefined_thing;\n"
                      "                 ^");
}

/* flat_map with a returned list or emit(), map_partitions(_with_index). */
static void repl_lambda_flat_map_and_emit(void **state) {
  (void)state;
  begin(30);
  QUIET("ds lines = parallelize(list(\"a b\", \"\", \"c d e\"));");
  OK("collect(flat_map(lines, [](str s) { return split(s, \" \"); }))", "['a', 'b', '', 'c', 'd', 'e']");
  OK("collect(flat_map(lines, [](str s) { return words(s); }))", "['a', 'b', 'c', 'd', 'e']");
  OK("collect(flat_map(range(4), [](long x) { for (long i = 0; i < x; i++) emit(i); }))",
     "[0, 0, 1, 0, 1, 2]");
  OK("collect(flat_map(range(3), [](long x) { return list(x, x * 10); }))", "[0, 0, 1, 10, 2, 20]");
  OK("collect(map_partitions(range(5), [](val part) { return list(len(part)); }))", "[2, 3]");
  OK("collect(map_partitions_with_index(range(4), [](long i, val part) { emit(kv(i, len(part))); }))",
     "[(0, 2), (1, 2)]");
  /* A word count, SPEC's example. */
  QUIET("ds words = flat_map(lines, [](str l) { return split(l, \" \"); });");
  OK("collect(sort_by_key(reduce_by_key(map(filter(words, [](str w) { return w.len > 0; }), "
     "[](str w) { return kv(w, 1); }), add)))",
     "[('a', 1), ('b', 1), ('c', 1), ('d', 1), ('e', 1)]");
}

/* Functions of earlier cells travel with the lambdas that call them,
 * together with the functions they call and the types they use. */
static void repl_lambda_uses_session_functions(void **state) {
  (void)state;
  begin(30);
  QUIET("typedef struct { long lo, hi; } range_t;");
  QUIET("long clamp(long x, range_t r) { return x < r.lo ? r.lo : x > r.hi ? r.hi : x; }");
  QUIET("long clamp5(long x) { range_t r = {1, 5}; return clamp(x, r); }");
  OK("collect(map(range(8), [](long x) { return clamp5(x); }))", "[1, 1, 2, 3, 4, 5, 5, 5]");
  QUIET("#define SCALE 100");
  QUIET("long scaled(long x) { return x * SCALE; }");
  OK("collect(map(range(3), [](long x) { return scaled(x); }))", "[0, 100, 200]");
  /* A session variable is not there on executors: capture it. */
  QUIET("long offset = 7;");
  ERR("collect(map(range(3), [](long x) { return x + offset; }))", "CompileError",
      "cell[9]:1: error: 'offset' undeclared");
  CONTAINS(W.detail, "^");
  OK("collect(map(range(3), [offset](long x) { return x + offset; }))", "[7, 8, 9]");
}

/* SPEC 5: accumulators and broadcasts, from cells and lambdas. */
static void repl_accumulator_and_broadcast(void **state) {
  (void)state;
  begin(30);
  QUIET("val acc = accumulator(0);");
  QUIET("foreach(range(10), [acc](long x) { acc_add(acc, x); });");
  OK("acc_value(acc)", "45");
  /* The session adds too. */
  QUIET("acc_add(acc, 5);");
  OK("acc_value(acc)", "50");
  QUIET("val dacc = accumulator(0.0);");
  QUIET("foreach(parallelize(list(0.5, 0.25)), [dacc](double x) { acc_add(dacc, x); });");
  OK("acc_value(dacc)", "0.75");
  QUIET("val table = broadcast(list(\"zero\", \"one\", \"two\"));");
  OK("table", "['zero', 'one', 'two']");
  OK("collect(map(range(3), [table](long i) { return at(table, i); }))", "['zero', 'one', 'two']");
  /* A counter of bad records next to the real work. */
  QUIET("val bad = accumulator(0);");
  OK("count(filter(parallelize(list(\"1\", \"x\", \"3\", \"y\")), [bad](str s) {\n"
     "  if (!isdigit(s.ptr[0])) { acc_add(bad, 1); return false; }\n"
     "  return true;\n"
     "}))",
     "2");
  OK("acc_value(bad)", "2");
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* SPEC 3: "a compile error ... points at the cell line: cell[4]:2: error:
 * ..., with the line and a caret". */
static void repl_compile_error_caret(void **state) {
  (void)state;
  begin(30);
  QUIET("long x = 1;");
  ERR("long f(long a) {\n  return a + y;\n}", "CompileError", "cell[2]:2: error: 'y' undeclared");
  assert_string_equal(W.detail, "      return a + y;\n                 ^");
  /* Nothing of the failed cell is defined. */
  ERR("f(1)", "CompileError", "cell[3]:1: ");
  /* The caret is under the word the message quotes. */
  ERR("long z = x + nope;", "CompileError", "cell[4]:1: error: 'nope' undeclared");
  assert_string_equal(W.detail, "    long z = x + nope;\n                 ^");
  /* A statement in the middle of a cell. */
  ERR("long a1 = 1;\nlong a2 = a1 + missing;\nlong a3 = 3;", "CompileError",
      "cell[5]:2: error: 'missing' undeclared");
  assert_string_equal(W.detail, "    long a2 = a1 + missing;\n                   ^");
  /* A lambda's own errors (checked when the cell is split). */
  ERR("collect(map(range(2), [](badtype x) { return x; }))", "CompileError",
      "cell[6]:1: error: lambda parameter 'x' must be long, int, double, bool, str, char * or val");
  assert_string_equal(W.detail,
                      "    collect(map(range(2), [](badtype x) { return x; }))\n"
                      "                                     ^");
  /* A name declared but never defined is a link error, found in the cell. */
  QUIET("int proto(int);");
  ERR("proto(3)", "CompileError", "cell[8]:1: undefined name 'proto' (declared but never defined?)");
  assert_string_equal(W.detail, "    proto(3)\n    ^");
}

/* SPEC 5: a lambda whose parameter types cannot fit the dataset is a
 * TypeError before any task runs. */
static void repl_type_error_before_tasks(void **state) {
  (void)state;
  begin(30);
  OK("count(range(3))", "3"); /* executors up */
  long jobs = jobs_run();
  ERR("collect(map(parallelize(list(\"a\", \"b\")), [](long x) { return x * 2; }))", "TypeError",
      "map: the lambda's parameter 1 is long but the dataset's elements are str");
  ERR("collect(filter(range(3), [](str s) { return true; }))", "TypeError",
      "filter: the lambda's parameter 1 is str but the dataset's elements are long");
  ERR("reduce(range(3), [](long a) { return a; })", "TypeError", "reduce takes a lambda of 2 parameters");
  assert_int_equal(jobs_run(), jobs);
  /* Errors raised by helpers in the cell itself are reported as raised. */
  ERR("as_long(list(1))", "TypeError", "expected int, got list");
  ERR("first(empty())", "ValueError", "RDD is empty");
  ERR("reduce(empty(), add)", "ValueError", "Can not reduce() empty RDD");
  ERR("map((ds)0, [](long x) { return x; });", "ValueError", "map: the dataset is NULL");
  OK("count(range(4))", "4");
}

/* SPEC 3: a crash in a cell (segfault, abort, division by zero) is an
 * error and the session stays intact. */
static void repl_crash_in_cell(void **state) {
  (void)state;
  begin(30);
  QUIET("long keep = 7; ds kept = cache(range(100));");
  OK("count(kept)", "100");
  QUIET("int *p = 0;");
  ERR("*p = 5;", "Crash", "SIGSEGV in cell[4]");
  assert_string_equal(W.evalue, "SIGSEGV in cell[4]");
  ERR("abort();", "Crash", "SIGABRT in cell[5]");
  QUIET("long zero = 0;");
  ERR("keep / zero", "Crash", "SIGFPE in cell[7]");
  /* Deep recursion overflows the stack: still a crash, not the end. */
  QUIET("long deep(long n) { volatile char pad[256]; pad[0] = (char)n; return n ? deep(n - 1) + pad[0] : 0; }");
  ERR("deep(100000000)", "Crash", "SIGSEGV in cell[9]");
  /* Crashing inside a session function named in an earlier cell. */
  QUIET("long boom(long *q) { return *q; }");
  ERR("boom(0)", "Crash", "SIGSEGV in cell[11]");
  /* Intact: variables, cached data, new jobs, new lambdas. */
  OK("keep", "7");
  OK("count(kept)", "100");
  OK("count(range(5))", "5");
  OK("sum(map(kept, [](long x) { return x * 2; }))", "9900");
}

/* SPEC 3: a crash in a UDF fails the job with a clear error naming the
 * lambda's cell and line; the session and its cached data stay usable. */
static void repl_crash_in_udf(void **state) {
  (void)state;
  begin(60);
  QUIET("ds kept = cache(range(1000));");
  OK("count(kept)", "1000");
  ERR("collect(map(range(5), [](long x) { long *q = 0; return *q + x; }))", "TaskFailed",
      "SIGSEGV in UDF lambda at cell[3]:1 (partition ");
  assert_string_equal(W.detail,
                      "    collect(map(range(5), [](long x) { long *q = 0; return *q + x; }))\n    ^");
  ERR("count(map(range(4), [](long x) {\n  if (x == 3) abort();\n  return x;\n}))", "TaskFailed",
      "SIGABRT in UDF lambda at cell[4]:1 (partition 1");
  ERR("count(map(range(4), [](long x) { return 10 / (x - 2); }))", "TaskFailed",
      "SIGFPE in UDF lambda at cell[5]:1 (partition 1");
  /* An error raised in a task fails the job at once. */
  ERR("collect(map(parallelize(list(1, \"x\")), [](val v) { return as_long(v) + 1; }))", "TaskFailed",
      "TypeError: expected int, got str");
  OK("count(kept)", "1000");
  OK("sum(map(kept, [](long x) { return x; }))", "499500");
}

/* exit() and _exit() in user code would end the session: refused. */
static void repl_exit_refused(void **state) {
  (void)state;
  begin(30);
  ERR("exit(3);", "ValueError", "exit(3) called from user code; use :quit to leave");
  ERR("_exit(1);", "ValueError", "exit(1) called from user code; use :quit to leave");
  QUIET("void leave(void) { exit(0); }");
  ERR("leave();", "ValueError", "exit(0) called from user code");
  /* In a UDF it fails the task, not the executor for good. */
  ERR("count(map(range(4), [](long x) { if (x == 2) exit(1); return x; }))", "TaskFailed", "");
  OK("count(range(10))", "10");
  OK("collect(map(range(3), [](long x) { return x + 1; }))", "[1, 2, 3]");
}

/* ---- interrupts -------------------------------------------------------------- */

/* A thread that calls repl_interrupt once, delay_ms after it starts, the
 * way a front end's Ctrl-C or Jupyter interrupt does. If the input has not
 * ended 3 s later, it interrupts again every 100 ms, so that a lost
 * interrupt fails the test (too slow) instead of hanging it. */
typedef struct interrupter {
  pthread_t th;
  double delay_ms;
  double at_ms;          /* when repl_interrupt was first called */
  volatile int done;     /* the input ended */
  int rescues;           /* extra interrupts it took */
} interrupter;

static void *interrupter_main(void *arg) {
  interrupter *it = arg;
  sleep_ms(it->delay_ms);
  it->at_ms = now_ms();
  repl_interrupt(R);
  while (!it->done) {
    sleep_ms(100);
    if (!it->done && now_ms() - it->at_ms > 3000) {
      it->rescues++;
      repl_interrupt(R);
    }
  }
  return NULL;
}

/* Evaluates `input` while another thread interrupts it after delay_ms;
 * expects "Cancelled" within a second of the interrupt. */
static void interrupted(const char *input, double delay_ms) {
  interrupter it = {.delay_ms = delay_ms};
  assert_int_equal(pthread_create(&it.th, NULL, interrupter_main, &it), 0);
  int rc = ev(input);
  double ended = now_ms();
  it.done = 1;
  pthread_join(it.th, NULL);
  if (rc != REPL_ERROR || strcmp(W.ename, "Cancelled") != 0)
    fail_msg("%s\n  rc %d, error %s: %s (expected Cancelled)", input, rc, W.ename, W.evalue);
  if (ended - it.at_ms > 1000)
    fail_msg("%s\n  ended %.0f ms after repl_interrupt (SPEC 3: within a second; %d more interrupts)", input,
             ended - it.at_ms, it.rescues);
}

/* SPEC 3: an endless UDF is cancelled within a second; the session, its
 * executors and cached data keep working at once. */
static void repl_interrupt_endless_udf(void **state) {
  (void)state;
  begin(60);
  QUIET("ds kept = cache(range(100));");
  OK("count(kept)", "100");
  for (int rep = 0; rep < 2; rep++) {
    interrupted("count(map(range(0, 1000000000, 1, 4), [](long x) { while (1); return x; }))", 300);
    double t0 = now_ms();
    OK("count(kept)", "100");
    OK("collect(map(range(3), [](long x) { return x * 3; }))", "[0, 3, 6]");
    assert_true(now_ms() - t0 < 3000);
  }
}

/* An endless loop in the cell's own code is cancelled the same way, as is
 * a cell looping over jobs (the interrupt may land in the engine or in the
 * cell); the variables of the session are intact. */
static void repl_interrupt_endless_cell(void **state) {
  (void)state;
  begin(60);
  QUIET("long keep = 42; volatile long spins = 0;");
  interrupted("while (1) spins++;", 300);
  OK("keep", "42");
  OK("spins > 0", "1");
  interrupted("for (;;) { }", 200);
  /* A loop over jobs, interrupted at several moments. */
  for (int rep = 0; rep < 3; rep++) interrupted("for (;;) count(range(10));", 150 + 70 * rep);
  /* Inside a session function. */
  QUIET("void spin(void) { for (;;) spins++; }");
  interrupted("spin();", 200);
  OK("count(range(5))", "5");
  OK("keep", "42");
}

/* An interrupt while nothing runs does nothing to the next input. */
static void repl_interrupt_idle_is_harmless(void **state) {
  (void)state;
  begin(30);
  repl_interrupt(R);
  OK("count(range(3))", "3");
  repl_interrupt(R);
  repl_interrupt(R);
  OK("long x = 2; x * 21", "42");
  OK("collect(map(range(2), [](long x) { return x; }))", "[0, 1]");
}

/* ------------------------------------------------------------------------ */
/* Meta commands                                                            */
/* ------------------------------------------------------------------------ */

static void repl_meta_help(void **state) {
  (void)state;
  begin(30);
  assert_int_equal(ev(":help"), REPL_OK);
  assert_int_equal(W.nerror + W.nresult + W.ndisplay, 0);
  assert_int_equal(W.ninfo, 1);
  STARTS(W.info, "create:\n  range([start,] end[, step[, slices]]) -> ds");
  CONTAINS(W.info, "\ncommands:\n  :help [name]");
  CONTAINS(W.info, "  collect(ds) -> val ");
  /* Every SPEC 5 name has its line. */
  static const char *const spec5[] = {
      "range", "parallelize", "text_file", "empty", "map", "flat_map", "filter", "map_partitions",
      "map_partitions_with_index", "distinct", "union_all", "intersection", "subtract", "cartesian",
      "sample", "sort_by", "sort_by_key", "group_by", "group_by_key", "reduce_by_key", "fold_by_key",
      "aggregate_by_key", "combine_by_key", "join", "left_outer_join", "right_outer_join",
      "full_outer_join", "cogroup", "keys", "values", "map_values", "flat_map_values", "key_by",
      "zip_with_index", "glom", "repartition", "coalesce", "partition_by", "collect", "count",
      "first", "take", "take_ordered", "top", "reduce", "fold", "aggregate", "sum", "mean", "min",
      "max", "stdev", "variance", "stats", "histogram", "count_by_key", "count_by_value",
      "foreach", "save_as_text_file", "num_partitions", "cache", "persist", "unpersist",
      "checkpoint", "broadcast", "accumulator", "acc_add", "acc_value", "show", "explain", "add",
      NULL};
  for (int i = 0; spec5[i]; i++) {
    char want[64];
    snprintf(want, sizeof want, "\n  %s", spec5[i]);
    if (!strstr(W.info, want)) fail_msg(":help lacks %s", spec5[i]);
  }
  assert_int_equal(ev(":help count"), REPL_OK);
  assert_string_equal(W.info, "count(ds) -> long\n    the number of elements\n");
  assert_int_equal(ev("%help count"), REPL_OK);
  assert_string_equal(W.info, "count(ds) -> long\n    the number of elements\n");
  /* "count(" as copied from code works too. */
  assert_int_equal(ev(":help count(d)"), REPL_OK);
  assert_string_equal(W.info, "count(ds) -> long\n    the number of elements\n");
  assert_int_equal(ev(":help :time"), REPL_OK);
  assert_string_equal(W.info, ":time [code]\n    time the next input (or this code)\n");
  assert_int_equal(ev(":help time"), REPL_OK);
  assert_string_equal(W.info, ":time [code]\n    time the next input (or this code)\n");
  assert_int_equal(ev(":help nosuch"), REPL_OK);
  assert_string_equal(W.info, "no help for 'nosuch' (try :help for the list)\n");
  /* Session names: their declaration. */
  QUIET("long answer = 42; long twice(long x) { return 2 * x; }");
  assert_int_equal(ev(":help answer"), REPL_OK);
  CONTAINS(W.info, "long answer");
  assert_int_equal(ev(":help twice"), REPL_OK);
  assert_string_equal(W.info, "long twice(long x);\n");
  /* :help is no cell. */
  assert_int_equal(repl_cell_count(R), 1);
}

/* :time shows "Time: X ms" after the result, with jobs and tasks when any
 * ran and the UDF compile times when lambdas were new. */
static void repl_meta_time(void **state) {
  (void)state;
  begin(30);
  OK("count(range(1))", "1"); /* executors up */
  assert_int_equal(ev(":time count(range(10))"), REPL_OK);
  assert_string_equal(W.result, "10\n");
  double ms;
  char rest[256];
  if (sscanf(W.info, "Time: %lf ms %255[^\n]", &ms, rest) != 2) fail_msg("info '%s'", W.info);
  assert_true(ms >= 0 && ms < 10000);
  assert_string_equal(rest, "(1 job, 2 tasks)");
  /* :time alone times the next input, once. */
  assert_int_equal(ev(":time"), REPL_OK);
  assert_int_equal(W.ninfo + W.nresult + W.nerror, 0);
  assert_int_equal(ev("collect(map(range(3), [](long v) { return v + 1; }))"), REPL_OK);
  assert_string_equal(W.result, "[1, 2, 3]\n");
  CONTAINS(W.info, " ms (1 job, 2 tasks; new UDFs compiled in ");
  CONTAINS(W.info, " ms by the driver, ");
  CONTAINS(W.info, " ms by executors)\n");
  OK("2 + 2", "4");
  assert_int_equal(W.ninfo, 0);
  /* No job: just the time. */
  assert_int_equal(ev(":time long t = 1;"), REPL_OK);
  if (sscanf(W.info, "Time: %lf ms%255[^\n]", &ms, rest) != 1) fail_msg("info '%s'", W.info);
  /* A failing input is timed too, after its error. */
  assert_int_equal(ev(":time nope"), REPL_ERROR);
  assert_string_equal(W.ename, "CompileError");
  STARTS(W.info, "Time: ");
  assert_int_equal(ev("%time 1"), REPL_OK);
  assert_string_equal(W.result, "1\n");
  STARTS(W.info, "Time: ");
}

/* :status displays executors and cached datasets. */
static void repl_meta_status(void **state) {
  (void)state;
  begin(30);
  QUIET("ds c = cache(map(range(100), [](long v) { return v * 2; }));");
  OK("count(c)", "100");
  /* A job starts as soon as one executor is up: wait for the second. */
  for (int i = 0; i < 100; i++) {
    assert_int_equal(ev(":status"), REPL_OK);
    if (strstr(W.display, "executors: 2 alive")) break;
    sleep_ms(50);
  }
  assert_int_equal(W.ndisplay, 1);
  assert_int_equal(W.ntable, 0);
  STARTS(W.display, "master: local[2]\nexecutors: 2 alive\n  executor 1  alive    pid ");
  CONTAINS(W.display, "cached datasets: 1\n  ds[1] map at cell[1]:1  MEMORY_ONLY  2/2 partitions");
  CONTAINS(W.display, "running job: none");
  QUIET("unpersist(c);");
  assert_int_equal(ev("%status"), REPL_OK);
  CONTAINS(W.display, "cached datasets: 0");
}

/* :history lists inputs with the numbers they were shown as; the history
 * API gives them to front ends. Meta commands are not inputs. */
static void repl_meta_history(void **state) {
  (void)state;
  begin(30);
  QUIET("long a = 1;");
  OK("a + 1", "2");
  ERR("nope", "CompileError", "cell[3]:1");
  assert_int_equal(ev(":history"), REPL_OK);
  assert_string_equal(W.info, "[1] long a = 1;\n[2] a + 1\n[3] nope\n");
  assert_int_equal(repl_history_len(R), 3);
  assert_string_equal(repl_history_get(R, 0), "long a = 1;");
  assert_string_equal(repl_history_get(R, 2), "nope");
  assert_null(repl_history_get(R, 3));
  assert_null(repl_history_get(R, -1));
  repl_set_next_label(R, 10);
  OK("a", "1");
  assert_int_equal(ev("%history"), REPL_OK);
  assert_string_equal(W.info, "[1] long a = 1;\n[2] a + 1\n[3] nope\n[10] a\n");
}

static void repl_meta_unknown_and_quit(void **state) {
  (void)state;
  begin(30);
  ERR(":foo", "ValueError", "unknown command :foo (try :help)");
  ERR("%bar baz", "ValueError", "unknown command :bar (try :help)");
  assert_int_equal(ev(":quit"), REPL_QUIT);
  assert_int_equal(ev("%quit"), REPL_QUIT);
  assert_int_equal(ev("  :q"), REPL_QUIT);
  /* The session still works after a refused :quit of a front end. */
  OK("1 + 1", "2");
  assert_int_equal(repl_cell_count(R), 1);
}

/* ------------------------------------------------------------------------ */
/* Cell numbering                                                           */
/* ------------------------------------------------------------------------ */

/* repl_set_next_label names the next cell cell[n] (Jupyter's In [n]) in
 * errors, carets, lambda names and dataset origins; repl_cell_count counts
 * the cells evaluated, whatever their labels. */
static void repl_cell_labels(void **state) {
  (void)state;
  begin(30);
  assert_int_equal(repl_cell_count(R), 0);
  repl_set_next_label(R, 7);
  QUIET("ds d = range(3);\nds m = map(d, [](long x) { return 10 / (x - 1); });");
  assert_int_equal(repl_cell_count(R), 1);
  OK("m", "MapPartitionsRDD[1] at map at cell[7]:2 (2 partitions)");
  repl_set_next_label(R, 12);
  ERR("long q =\n  nope;", "CompileError", "cell[12]:2: error: 'nope' undeclared");
  assert_string_equal(W.detail, "      nope;\n      ^");
  /* A task failing in cell[7]'s lambda names cell[7] and shows its line. */
  repl_set_next_label(R, 13);
  ERR("collect(m)", "TaskFailed", "SIGFPE in UDF lambda at cell[7]:2 (partition ");
  assert_string_equal(W.detail, "    ds m = map(d, [](long x) { return 10 / (x - 1); });\n    ^");
  assert_int_equal(repl_cell_count(R), 4);
  /* Without a label, cells take their count. */
  ERR("nope2", "CompileError", "cell[5]:1: error: 'nope2' undeclared");
  /* A label used again: messages show the latest input with it. */
  repl_set_next_label(R, 7);
  ERR("long w = 1;\nw + nope3", "CompileError", "cell[7]:2: error: 'nope3' undeclared");
  assert_string_equal(W.detail, "    w + nope3\n        ^");
  /* Meta commands do not take the label. */
  repl_set_next_label(R, 30);
  assert_int_equal(ev(":help count"), REPL_OK);
  ERR("nope4", "CompileError", "cell[30]:1: error: 'nope4' undeclared");
  assert_int_equal(repl_cell_count(R), 7);
}

/* ------------------------------------------------------------------------ */
/* Completion and inspection                                                */
/* ------------------------------------------------------------------------ */

typedef struct words {
  char list[4096]; /* " a b c " */
  int n;
} words;

static void add_word(void *ctx, const char *word) {
  words *w = ctx;
  size_t len = strlen(w->list);
  snprintf(w->list + len, sizeof w->list - len, "%s%s ", len ? "" : " ", word);
  w->n++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The candidates in alphabetical order (their order is not part of the API). */
static void sort_words(words *w) {
  char copy[4096], *items[256];
  int n = 0;
  snprintf(copy, sizeof copy, "%s", w->list);
  for (char *p = strtok(copy, " "); p && n < 256; p = strtok(NULL, " ")) items[n++] = p;
  qsort(items, (size_t)n, sizeof *items, cmp_str);
  w->list[0] = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(w->list);
    snprintf(w->list + len, sizeof w->list - len, "%s%s ", len ? "" : " ", items[i]);
  }
}

static words complete(const char *buf) {
  words w;
  memset(&w, 0, sizeof w);
  repl_complete(R, buf, (int)strlen(buf), add_word, &w);
  sort_words(&w);
  return w;
}

static void repl_completion(void **state) {
  (void)state;
  begin(30);
  words w = complete("coll");
  assert_string_equal(w.list, " collect ");
  w = complete("x = reduce");
  assert_string_equal(w.list, " reduce reduce_by_key ");
  w = complete("count_by");
  assert_string_equal(w.list, " count_by_key count_by_value ");
  /* Value helpers and constants too. */
  w = complete("starts");
  assert_string_equal(w.list, " starts_with ");
  w = complete("MEMORY");
  assert_string_equal(w.list, " MEMORY_AND_DISK MEMORY_ONLY ");
  /* Session variables and functions, once defined. */
  w = complete("my");
  assert_int_equal(w.n, 0);
  QUIET("long myvalue = 1; long myfunc(void) { return 2; }");
  w = complete("long z = my");
  assert_string_equal(w.list, " myfunc myvalue ");
  /* Redefined: still one entry. */
  QUIET("double myvalue = 2;");
  w = complete("my");
  assert_int_equal(w.n, 2);
  /* Meta commands after ':' or '%' at the start of a line only. */
  w = complete(":he");
  assert_string_equal(w.list, " help ");
  w = complete("%ti");
  assert_string_equal(w.list, " time ");
  w = complete("  :re");
  assert_string_equal(w.list, " reset ");
  w = complete("x ? a :he");
  assert_int_equal(w.n, 0);
  /* The cursor decides the word, not the end of the buffer. */
  words mid;
  memset(&mid, 0, sizeof mid);
  repl_complete(R, "firs + 1", 4, add_word, &mid);
  assert_string_equal(mid.list, " first ");
  /* After :reset the session's names are gone. */
  assert_int_equal(ev(":reset"), REPL_OK);
  w = complete("my");
  assert_int_equal(w.n, 0);
  /* Without a session, the API only. */
  words none;
  memset(&none, 0, sizeof none);
  repl_complete(NULL, "coll", 4, add_word, &none);
  assert_string_equal(none.list, " collect ");
}

static void repl_inspection(void **state) {
  (void)state;
  begin(30);
  char word[64];
  repl_word_at("x = collect(ds)", 8, word, sizeof word);
  assert_string_equal(word, "collect");
  repl_word_at("x = collect(ds)", 4, word, sizeof word);
  assert_string_equal(word, "collect");
  repl_word_at("x = collect(ds)", 11, word, sizeof word);
  assert_string_equal(word, "collect");
  repl_word_at("a + b", 2, word, sizeof word);
  assert_string_equal(word, "");
  repl_word_at("abcdefgh", 3, word, 4);
  assert_string_equal(word, "abc");
  assert_string_equal(repl_doc("reduce_by_key"),
                      "reduce_by_key(ds, f[, n]) -> ds\n    (key, values combined with f(a, b)), combined map-side");
  assert_string_equal(repl_doc("kv"), "kv(k, v) -> val\n    a pair");
  assert_string_equal(repl_doc("status"), ":status\n    executors, cached datasets with sizes, the running job");
  assert_null(repl_doc("nonexistent"));
  assert_null(repl_doc_session(R, "mine"));
  QUIET("double mine = 2.5; long f2(long a, long b) { return a + b; }");
  assert_non_null(strstr(repl_doc_session(R, "mine"), "double mine"));
  assert_string_equal(repl_doc_session(R, "f2"), "long f2(long a, long b);");
  /* Complete or not: brackets, strings, comments, continuations. */
  assert_int_equal(repl_is_complete("count(range(3))"), 1);
  assert_int_equal(repl_is_complete("collect(map(range(3), [](long x) {"), 0);
  assert_int_equal(repl_is_complete("long f(long x) {\n  return x;\n}"), 1);
  assert_int_equal(repl_is_complete("char *s = \"(\";"), 1);
  assert_int_equal(repl_is_complete("char c = '{';"), 1);
  assert_int_equal(repl_is_complete("/* open ( comment"), 0);
  assert_int_equal(repl_is_complete("x = 1; // a ( comment"), 1);
  assert_int_equal(repl_is_complete("#define LONG_MACRO(x) \\"), 0);
  assert_int_equal(repl_is_complete("long a = 1; }"), 1);
}

/* ------------------------------------------------------------------------ */
/* Regressions: bugs found by these tests, fixed in repl/                   */
/* ------------------------------------------------------------------------ */

/* Floating-point session variables read in a later cell gave wrong numbers:
 * `x + d` was 5.0 for x = 5, d = 2.5, `-d` and `d * e` garbage. libtcc
 * 0.9.27 lets an SSE instruction read an extern double straight from memory
 * (a PC-relative operand), and routes PC-relative references to symbols
 * given by address (tcc_add_symbol) through a PLT stub: the instruction
 * read the stub's code as the double. Cells now reach earlier cells'
 * variables through a pointer. */
static void repl_regress_double_session_variables(void **state) {
  (void)state;
  begin(30);
  QUIET("long x = 5; double d = 2.5; double e = 4.0; float f = 1.5f;");
  OK("x + d", "7.5");
  OK("d + x", "7.5");
  OK("d * e", "10.0");
  OK("e - d", "1.5");
  OK("-d", "-2.5");
  OK("1.0 + d", "3.5");
  OK("x < d", "0");
  OK("d < e", "1");
  OK("f * f", "2.25");
  OK("(x + d) * (e - 1)", "22.5");
  /* In statements, compound assignments and initializers. */
  QUIET("d += e;");
  OK("d", "6.5");
  QUIET("double g = d * e - x;");
  OK("g", "21.0");
  /* Struct members and array elements. */
  QUIET("typedef struct { long a; double b; } rec; rec r = {1, 2.5}; double arr[3] = {0.5, 1.5, 2.5};");
  OK("r.a + r.b", "3.5");
  OK("arr[0] + arr[2]", "3.0");
  OK("r.b * arr[1]", "3.75");
  /* Inside functions of later cells, next to their own parameters. */
  QUIET("double scale(double v) { return v * e; }");
  OK("scale(2)", "8.0");
  QUIET("double sum_arr(void) { double s = 0; for (int i = 0; i < 3; i++) s += arr[i]; return s; }");
  OK("sum_arr()", "4.5");
  /* A name used both as a member and as a variable, and other names the
   * rewriting must leave alone. */
  QUIET("struct holder { double d; } h = {0.25};");
  OK("h.d + d", "6.75");
  QUIET("double *pd = &d;");
  OK("*pd * 2", "13.0");
  OK("sizeof d", "8");
  OK("collect(map(range(2), [d](long i) { return i * d; }))", "[0.0, 6.5]");
  /* A local that shadows a session variable inside a function. */
  QUIET("double shadow(double e) { return e * d; }");
  OK("shadow(2)", "13.0");
}

/* `struct P { long a; } p1 = {1}, p2 = {2};` did not compile ("struct/union/
 * enum already defined"): each declarator repeated the struct's body. And a
 * struct defined with a variable could never be defined again. */
static void repl_regress_struct_with_declarators(void **state) {
  (void)state;
  begin(30);
  QUIET("struct P { long a; } p1 = {1}, p2 = {2};");
  OK("p1.a + p2.a", "3");
  QUIET("struct P p3 = {3};");
  OK("p3.a + p1.a", "4");
  QUIET("struct P { long a; long b; } q = {1, 2};");
  OK("q.a + q.b", "3");
  OK("sizeof(struct P)", "16");
  /* Anonymous ones and enums with variables. */
  QUIET("struct { double x, y; } origin = {0.5, 1.5}, unit = {1, 1};");
  OK("origin.y + unit.x", "2.5");
  QUIET("enum mode { SLOW, FAST } m1 = FAST, m2 = SLOW;");
  OK("m1 - m2 + FAST", "2");
  QUIET("enum { ALPHA = 10 } first_letter = ALPHA;");
  OK("first_letter", "10");
}

/* An enum defining a name an earlier one defined failed with "redefinition
 * of enumerator"; SPEC 3 says the new definition replaces the old one. */
static void repl_regress_enum_redefinition(void **state) {
  (void)state;
  begin(30);
  QUIET("enum { LOW = 1, HIGH = 2 };");
  QUIET("enum { LOW = 3 };");
  OK("LOW", "3");
  QUIET("enum level { QUIET_L, LOUD_L };");
  QUIET("enum volume { SOFT, LOUD_L };");
  OK("LOUD_L", "1");
  OK("SOFT", "0");
  /* The replaced enum is gone altogether: HIGH went with it. */
  ERR("HIGH", "CompileError", "cell[8]:1: error: 'HIGH' undeclared");
}

/* `str s = "hello";` was a CompileError ('{' expected): SPEC 4 says string
 * literals convert to str. */
static void repl_regress_str_from_literal(void **state) {
  (void)state;
  begin(30);
  QUIET("str s = \"hello\";");
  OK("s", "'hello'");
  OK("s.len", "5");
  QUIET("char *cs = \"c string\"; val v = kv(\"k\", \"from val\");");
  QUIET("str s2 = cs, s3 = as_str(value(v)), s4 = s;");
  OK("list(s2, s3, s4)", "['c string', 'from val', 'hello']");
  OK("collect(map(parallelize(list(\"a\")), [s](str x) { return strf(\"%s %s\", s.ptr, x.ptr); }))",
     "['hello a']");
  ERR("str bad = 5;", "TypeError", "");
}

/* `a * b` with two session variables was split as a declaration of b of
 * type a ("incompatible types for redefinition of 'b'"), and `sizeof x` as
 * one of x of type sizeof: the cell splitter took an unknown name followed
 * by a declarator for a type from a header, even when the name was a
 * session variable or a keyword. */
static void repl_regress_names_that_are_not_types(void **state) {
  (void)state;
  begin(30);
  QUIET("long a = 6; long b = 7; long *pb = &b;");
  OK("a * b", "42");
  QUIET("a * b;");
  OK("a * *pb", "42");
  QUIET("long c = a * b;");
  OK("c", "42");
  OK("sizeof a", "8");
  OK("sizeof(a) * 2", "16");
  /* A type from a header is still one. */
  QUIET("#include <time.h>");
  QUIET("time_t t0 = 5;");
  OK("t0", "5");
  QUIET("time_t *pt = &t0;");
  OK("*pt", "5");
}

/* `long b = ;` was silently accepted (as `long b;`). */
static void repl_regress_empty_initializer(void **state) {
  (void)state;
  begin(30);
  ERR("long b = ;", "CompileError", "cell[1]:1: ");
  ERR("b", "CompileError", "cell[2]:1: error: 'b' undeclared");
  /* The error in a constant initializer left libtcc's global_expr set:
   * every later compound literal (list, tuple) failed to compile with
   * "initializer element is not constant" (udf/udf.c compile_locked). */
  OK("list(1, 2)", "[1, 2]");
  OK("collect(map(range(2), [](long x) { return tuple(x, x); }))", "[(0, 0), (1, 1)]");
}

/* An error inside an #included header showed only tcc's first line, "In
 * file included from cell[1]:1:", without the error itself. */
static void repl_regress_include_error_message(void **state) {
  (void)state;
  begin(30);
  char path[64];
  snprintf(path, sizeof path, "/tmp/ember-test-repl-%d.h", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("int fine;\nint broken = ; int more;\nint after;\n", f);
  fclose(f);
  char cell[128], want[256];
  snprintf(cell, sizeof cell, "long before = 1;\n#include \"%s\"", path);
  snprintf(want, sizeof want, "%s:2: error: ", path);
  ERR(cell, "CompileError", want);
  snprintf(want, sizeof want, "    #include \"%s\"\n    ^", path);
  assert_string_equal(W.detail, want);
  unlink(path);
}

/* A syntax error at the end of a line was reported at the next line (tcc
 * names the line of the token after the error): one-line cells got
 * "cell[N]:3" and no caret. */
static void repl_regress_error_line_at_line_end(void **state) {
  (void)state;
  begin(30);
  QUIET("long z = 9;");
  ERR("z +* ;", "CompileError", "cell[2]:1: error: ");
  assert_string_equal(W.detail, "    z +* ;\n    ^");
  ERR("long w = 1;\nw = w +;\nw", "CompileError", "cell[3]:2: error: ");
  ERR("z +", "CompileError", "cell[4]:1: error: ");
}

/* An interrupt that landed while a cell was in the engine but no task was
 * running (between jobs, or as a job finished) was lost: a cell looping
 * over short jobs ran on (repl_interrupt_endless_cell hung). */
static void repl_regress_interrupt_between_jobs(void **state) {
  (void)state;
  begin(60);
  for (int rep = 0; rep < 5; rep++) interrupted("for (;;) count(range(10));", 100 + 37 * rep);
  for (int rep = 0; rep < 3; rep++) interrupted("for (;;) { ds r = map(range(4), [](long x) { return x; }); }", 100 + 50 * rep);
  /* No cancel is left over for the next cell's job. */
  OK("count(range(10))", "10");
  OK("count(range(20))", "20");
}

/* :history listed inputs with their trailing newline (script mode hands
 * inputs over line by line), as blank lines between entries. */
static void repl_regress_history_trailing_newline(void **state) {
  (void)state;
  begin(30);
  QUIET("long a = 1;\n");
  OK("a\n", "1");
  assert_int_equal(ev(":history"), REPL_OK);
  assert_string_equal(W.info, "[1] long a = 1;\n[2] a\n");
}

/* ------------------------------------------------------------------------ */
/* Known bugs outside repl/'s reach (skipped, see the messages)             */
/* ------------------------------------------------------------------------ */

/* Regression (repl/lambda.c): `-> str` with a string literal returned was
 * a CompileError ("cannot convert 'char [2]' to 'struct eng_str'"); a
 * declared str result now converts its returns with EMBER_S. */
static void repl_lambda_explicit_str_result(void **state) {
  (void)state;
  begin(30);
  OK("collect(map(range(2), [](long x) -> str { return \"a\"; }))", "['a', 'a']");
}

/* Regression (repl/lambda.c): `return -x;` was inferred as val (infer_expr
 * took a unary minus only inside a binary expression), so no static type
 * check downstream. */
static void repl_lambda_unary_minus_inference(void **state) {
  (void)state;
  begin(30);
  QUIET("ds neg = map(range(10), [](long x) { return -x; });");
  ERR("map(neg, [](str s) { return s; });", "TypeError",
      "map: the lambda's parameter 1 is str but the dataset's elements are long");
}

/* Regression (repl/lambda.c): a local declared first in a lambda's body was
 * not found by the inference (local_type stopped one token short of the
 * body's start), so `{ long y = x * 2; return y + 1; }` returned a val. */
static void repl_lambda_first_local_inference(void **state) {
  (void)state;
  begin(30);
  QUIET("ds m = map(range(10), [](long x) { long y = x * 2; return y + 1; });");
  ERR("map(m, [](str s) { return s; });", "TypeError",
      "map: the lambda's parameter 1 is str but the dataset's elements are long");
}

/* Regression (udf/prelude.h): `#include <limits.h>` failed ("function-like
 * macro '__GLIBC_USE' is not defined"): the end of glibc's header lies
 * outside its guard and needs <features.h>'s macro. */
static void repl_include_limits(void **state) {
  (void)state;
  begin(30);
  QUIET("#include <limits.h>");
  OK("CHAR_BIT", "8");
}

/* Regression (repl/eval.c): a function kept calling the functions it was
 * compiled against in the driver, while the source shipped with a lambda
 * takes the latest definition of each name: after f() was redefined, g()
 * computed different things in a cell and in a UDF. Session functions are
 * now called through trampolines (repl/tramp.c). */
static void repl_redefined_function_is_late_bound(void **state) {
  (void)state;
  begin(30);
  QUIET("long f(long x) { return x + 1; }");
  QUIET("long g(long x) { return f(x) * 10; }");
  QUIET("long f(long x) { return x + 2; }");
  OK("list(g(0), g(1))", "[20, 30]");
  OK("collect(map(range(2), [](long x) { return g(x); }))", "[20, 30]");
  /* Recursion, and a pointer taken before the redefinition. */
  QUIET("long fact(long n) { return n < 2 ? 1 : n * fact(n - 1); }");
  QUIET("long (*pf)(long) = f;");
  QUIET("long f(long x) { return x + 3; }");
  OK("list(fact(5), pf(0), g(0))", "[120, 3, 30]");
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "executor") == 0) return eng_executor_main(argc, argv);
  if (getenv("TH_FILTER")) cmocka_set_test_filter(getenv("TH_FILTER"));
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(repl_prints_python_repr),
      T(repl_semicolon_hides_value),
      T(repl_doubles_shortest_roundtrip),
      T(repl_action_results),
      T(repl_show_and_explain_display),
      T(repl_variables_persist),
      T(repl_declarations_persist),
      T(repl_redefinition_replaces),
      T(repl_shadowing_and_rollback),
      T(repl_reset),
      T(repl_lambda_captures),
      T(repl_lambda_types),
      T(repl_lambda_result_inference),
      T(repl_lambda_multiline),
      T(repl_lambda_flat_map_and_emit),
      T(repl_lambda_uses_session_functions),
      T(repl_accumulator_and_broadcast),
      T(repl_compile_error_caret),
      T(repl_type_error_before_tasks),
      T(repl_crash_in_cell),
      T(repl_crash_in_udf),
      T(repl_exit_refused),
      T(repl_interrupt_endless_udf),
      T(repl_interrupt_endless_cell),
      T(repl_interrupt_idle_is_harmless),
      T(repl_meta_help),
      T(repl_meta_time),
      T(repl_meta_status),
      T(repl_meta_history),
      T(repl_meta_unknown_and_quit),
      T(repl_cell_labels),
      T(repl_completion),
      T(repl_inspection),
      T(repl_regress_double_session_variables),
      T(repl_regress_struct_with_declarators),
      T(repl_regress_enum_redefinition),
      T(repl_regress_str_from_literal),
      T(repl_regress_names_that_are_not_types),
      T(repl_regress_empty_initializer),
      T(repl_regress_include_error_message),
      T(repl_regress_error_line_at_line_end),
      T(repl_regress_interrupt_between_jobs),
      T(repl_regress_history_trailing_newline),
      T(repl_lambda_explicit_str_result),
      T(repl_lambda_unary_minus_inference),
      T(repl_lambda_first_local_inference),
      T(repl_include_limits),
      T(repl_redefined_function_is_late_bound),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
