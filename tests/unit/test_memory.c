/* test_memory.c -- partitioning rules and the executors' memory budget, with
 * real executor processes (this program re-run as "executor", see th.h):
 *   - partitioning: parallelize's and range's slices, default parallelism,
 *     PySpark's hash partitioning of ints, empty partitions kept, sort_by's
 *     total order across partitions, repartition and coalesce;
 *   - shuffles several times larger than a 64 MiB executor budget
 *     (reduce_by_key and group_by_key with many distinct keys, sort_by of a
 *     large permutation, repartition) complete with the right answer; the
 *     executors stay alive and their peak RSS stays bounded (they spilled);
 *   - cache() of more than the budget evicts (MEMORY_ONLY: partitions
 *     dropped, then recomputed, results still right), MEMORY_AND_DISK and
 *     DISK_ONLY keep everything, on disk past the budget (status shows it),
 *     and unpersist frees memory and disk;
 *   - word count of a generated text file equals the shell's
 *     `tr -s ' ' '\n' | sort | uniq -c`.
 * The 4 GB shuffle with a 1 GB budget is tests/unit/slow_bigshuffle.c; the
 * 100 MB word count is in tests/unit/slow_kill.c.
 *
 * Under ASan (make MODE=asan build/asan/tests/test_memory) run it with the
 * ASAN_OPTIONS given in test_faults.c; the peak-RSS bound is not checked
 * there (ASan's shadow memory and quarantine are not the engine's).
 */
#include "eng_th.h"

#include <dirent.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../../engine/session_int.h"

#define BUDGET (64LL << 20)

/* ---- helpers ---------------------------------------------------------------- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
  nanosleep(&ts, NULL);
}

/* A local[2] session whose executors have a budget of `budget` ("64m"),
 * given through EMBER_EXECUTOR_MEMORY as a user would. */
static eng_session *mem_session_of(const char *budget) {
  setenv("EMBER_EXECUTOR_MEMORY", budget, 1);
  eng_session *s = th_session(2);
  unsetenv("EMBER_EXECUTOR_MEMORY");
  return s;
}

static eng_session *mem_session(void) { return mem_session_of("64m"); }

static eng_udf *udf1(eng_session *s, const char *src, const char *fn, udf_type ret, udf_type p0) {
  return th_udf(s, src, fn, ret, 1, p0, 0);
}

/* A UDF with one captured value, named c0. */
static eng_udf *udf_cap(eng_session *s, const char *src, const char *fn, udf_type ret, udf_type p0,
                        eng_val cap) {
  udf_type ps[1] = {p0};
  const char *names[] = {"c0"};
  udf_type types[] = {UDF_VAL};
  udf_def *d = udf_def_new(fn, src, fn, ret, 1, ps, 1, names, types);
  eng_udf *f = eng_udf_new(s, d, &cap);
  udf_def_free(d);
  if (!f) fail_msg("udf %s: %s", fn, eng_session_errmsg(s));
  return f;
}

static int64_t count_of(eng_session *s, eng_ds *d) {
  int64_t n;
  TH_OK(s, eng_count(d, &n));
  return n;
}

static int64_t sum_of(eng_session *s, eng_ds *d) {
  eng_val v;
  TH_OK(s, eng_sum(d, &v));
  return eng_v_long(v);
}

static int64_t acc_long(eng_session *s, eng_val acc) {
  eng_val v;
  TH_OK(s, eng_acc_value(s, acc, &v));
  return eng_v_long(v);
}

/* Peak resident set (VmHWM) of a live process, in bytes; 0 if unknown. */
static int64_t peak_rss(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int64_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", (long long *)&kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

/* The largest peak RSS among the session's executors. */
static int64_t executors_peak_rss(eng_session *s) {
  pid_t pids[16];
  int n = eng_session_executor_pids(s, pids, 16);
  int64_t m = 0;
  for (int i = 0; i < n; i++) {
    int64_t r = peak_rss(pids[i]);
    if (r > m) m = r;
  }
  return m;
}

/* Bytes written by every shuffle of the session so far. */
static int64_t shuffle_bytes(eng_session *s) {
  int64_t n = 0;
  for (int i = 0; i < s->nshuffles; i++) {
    eng_shuffle *sh = s->shuffles[i];
    for (int m = 0; m < sh->nmaps; m++)
      for (int r = 0; sh->sizes[m] && r < sh->nreduce; r++) n += sh->sizes[m][r];
  }
  return n;
}

/* After a shuffle of `logical` bytes (its rows as serialized batches, known
 * from how the test builds them): that was at least 3 times the budget, the
 * executors are the ones the session started, and none came near holding
 * the data: each peaked under its budget plus 64 MiB of fixed costs (code,
 * libraries, sockets, one fetched chunk), so they spilled. */
static void assert_executors_intact(eng_session *s, const pid_t *pids, int n);
static void check_spilled(eng_session *s, const char *what, int64_t budget, int64_t logical,
                          double took, const pid_t *pids, int np) {
  int64_t rss = executors_peak_rss(s);
  print_message("%s: %.0f MiB shuffled (%.0f MiB stored) with a %.0f MiB budget in %.0f ms;"
                " executors' peak RSS %.0f MiB\n",
                what, (double)logical / (1 << 20), (double)shuffle_bytes(s) / (1 << 20),
                (double)budget / (1 << 20), took, (double)rss / (1 << 20));
  assert_true(logical >= 3 * budget);
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and quarantine add hundreds of MiB */
  assert_true(rss > 0 && rss < budget + (64 << 20));
#endif
  assert_executors_intact(s, pids, np);
}

/* The executors are the ones the session started, none was lost. */
static void assert_executors_intact(eng_session *s, const pid_t *pids, int n) {
  pid_t now[16];
  int k = eng_session_executor_pids(s, now, 16);
  assert_int_equal(k, n);
  for (int i = 0; i < n; i++) assert_int_equal(now[i], pids[i]);
  eng_runstats st;
  eng_session_stats(s, &st);
  assert_int_equal(st.executors_lost, 0);
}

/* The status JSON (parsed; json_decref it). */
static json_t *status(eng_session *s) {
  eng_buf b;
  eng_buf_init(&b);
  eng_session_status_json(s, &b);
  json_t *st = json_loads(eng_buf_cstr(&b), 0, NULL);
  eng_buf_free(&b);
  assert_non_null(st);
  return st;
}

/* Brings the driver's view up to date: executors report dropped and spilled
 * blocks with heartbeats (every second), which the driver reads while a
 * job runs. */
static void sync_status(eng_session *s) {
  sleep_ms(1100);
  int64_t c;
  TH_OK(s, eng_count(eng_range(s, 0, 2, 1, 2), &c));
}

/* Cached partitions, bytes in memory and on disk of dataset d per status. */
static void cache_status(eng_session *s, eng_ds *d, int *parts, int64_t *mem, int64_t *disk) {
  sync_status(s);
  json_t *st = status(s), *x;
  size_t i;
  *parts = 0;
  *mem = *disk = 0;
  json_array_foreach(json_object_get(st, "cached"), i, x) {
    if (json_integer_value(json_object_get(x, "id")) != eng_ds_id(d)) continue;
    *parts = (int)json_integer_value(json_object_get(x, "cached_parts"));
    *mem = json_integer_value(json_object_get(x, "mem"));
    *disk = json_integer_value(json_object_get(x, "disk"));
  }
  json_decref(st);
}

/* Files under the executors' block directories (cache and shuffle blocks
 * on disk). */
static int block_files(eng_session *s) {
  int n = 0;
  for (int i = 0; i < s->nexecs; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/exec-%d/blocks", s->dir, s->execs[i].id);
    DIR *dir = opendir(path);
    if (!dir) continue;
    struct dirent *e;
    while ((e = readdir(dir)))
      if (strncmp(e->d_name, "blk-rdd_", 8) == 0) n++;
    closedir(dir);
  }
  return n;
}

/* ---- partitioning rules -------------------------------------------------------- */

/* parallelize slices partition i as [i*n/k, (i+1)*n/k), keeping empty ones;
 * range does the same; the default is the engine's total cores. */
static void memory_partitioning_slices(void **state) {
  (void)state;
  eng_session *s = th_session(2);
  eng_arena *a = eng_session_arena(s);
  eng_val two[2] = {eng_long(1), eng_long(2)};
  eng_val out;
  TH_OK(s, eng_collect(eng_glom(eng_parallelize(s, eng_list(a, two, 2), 4)), &out));
  assert_string_equal(th_repr(out), "[[], [1], [], [2]]");
  eng_val ten[10];
  for (int i = 0; i < 10; i++) ten[i] = eng_long(i);
  TH_OK(s, eng_collect(eng_glom(eng_parallelize(s, eng_list(a, ten, 10), 3)), &out));
  assert_string_equal(th_repr(out), "[[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]");
  TH_OK(s, eng_collect(eng_glom(eng_range(s, 0, 10, 1, 4)), &out));
  assert_string_equal(th_repr(out), "[[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]");
  TH_OK(s, eng_collect(eng_glom(eng_range(s, 0, 3, 1, 5)), &out));
  assert_string_equal(th_repr(out), "[[], [0], [], [1], [2]]");
  assert_int_equal(eng_session_default_parallelism(s), 2);
  assert_int_equal(eng_num_partitions(eng_range(s, 0, 100, 1, 0)), 2);
  assert_int_equal(eng_num_partitions(eng_parallelize(s, eng_list(a, ten, 10), 0)), 2);
  eng_session_free(s);
}

/* Hash partitioning is PySpark's portable_hash(key) % n: an int hashes to
 * itself except -1, whose hash is -2; empty partitions stay. */
static void memory_partitioning_hash(void **state) {
  (void)state;
  eng_session *s = th_session(2);
  eng_arena *a = eng_session_arena(s);
  int64_t keys[] = {0, 1, 2, 3, 4, 5, 9, -1, -3, 100};
  eng_val pairs[10];
  for (int i = 0; i < 10; i++) pairs[i] = eng_pair(a, eng_long(keys[i]), eng_long(i));
  eng_val out;
  TH_OK(s, eng_collect(eng_glom(eng_keys(eng_partition_by(eng_parallelize(s, eng_list(a, pairs, 10), 3), 4, NULL))), &out));
  /* Python: [[k for k in keys if hash(k) % 4 == p] for p in range(4)],
   * map partitions read in order. */
  assert_string_equal(th_repr(out), "[[0, 4, 100], [1, 5, 9, -3], [2, -1], [3]]");
  /* A key-less reduce_by_key over 8 partitions, 3 keys: 5 empty ones. */
  eng_udf *kvf = udf1(s, "val kvf(long x) { return kv(x % 3, 1); }", "kvf", UDF_VAL, UDF_LONG);
  TH_OK(s, eng_collect(eng_glom(eng_reduce_by_key(eng_map(eng_range(s, 0, 30, 1, 2), kvf),
                                                  eng_udf_builtin(s, "add"), 8)),
                       &out));
  assert_string_equal(th_repr(out), "[[(0, 10)], [(1, 10)], [(2, 10)], [], [], [], [], []]");
  eng_session_free(s);
}

/* sort_by is a total order across partitions; repartition keeps every row
 * and spreads them; coalesce merges neighbours without a shuffle. */
static void memory_partitioning_order(void **state) {
  (void)state;
  eng_session *s = th_session(2);
  eng_udf *perm = udf1(s, "long perm(long x) { return (x * 7919) % 100000; }", "perm", UDF_LONG, UDF_LONG);
  eng_udf *ident = udf1(s, "long ident(long x) { return x; }", "ident", UDF_LONG, UDF_LONG);
  eng_ds *sorted = eng_sort_by(eng_map(eng_range(s, 0, 100000, 1, 4), perm), ident, 1, 5);
  eng_val out;
  TH_OK(s, eng_collect(eng_glom(sorted), &out));
  assert_int_equal(ENG_VLEN(out), 5);
  int64_t next = 0;
  for (long p = 0; p < 5; p++) {
    eng_val part = eng_v_items(out)[p];
    assert_true(ENG_VLEN(part) > 10000); /* sampled bounds balance them */
    for (long i = 0; i < ENG_VLEN(part); i++) assert_int_equal(eng_v_long(eng_v_items(part)[i]), next++);
  }
  assert_int_equal(next, 100000);
  /* Descending. */
  TH_OK(s, eng_take(eng_sort_by(eng_map(eng_range(s, 0, 100000, 1, 4), perm), ident, 0, 3), 3, &out));
  assert_string_equal(th_repr(out), "[99999, 99998, 99997]");
  /* repartition: every row once, spread evenly. */
  TH_OK(s, eng_collect(eng_glom(eng_repartition(eng_range(s, 0, 10000, 1, 3), 7)), &out));
  assert_int_equal(ENG_VLEN(out), 7);
  int64_t total = 0, sum = 0;
  for (long p = 0; p < 7; p++) {
    eng_val part = eng_v_items(out)[p];
    assert_true(ENG_VLEN(part) > 10000 / 7 - 10 && ENG_VLEN(part) < 10000 / 7 + 10);
    total += ENG_VLEN(part);
    for (long i = 0; i < ENG_VLEN(part); i++) sum += eng_v_long(eng_v_items(part)[i]);
  }
  assert_int_equal(total, 10000);
  assert_int_equal(sum, 49995000);
  /* coalesce(2) of 6 partitions: neighbours together, order kept. */
  TH_OK(s, eng_collect(eng_glom(eng_coalesce(eng_range(s, 0, 12, 1, 6), 2, 0)), &out));
  assert_string_equal(th_repr(out), "[[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]");
  eng_session_free(s);
}

/* ---- shuffles larger than the budget ------------------------------------------------- */

/* reduce_by_key over 8e6 distinct-ish keys (two rows each, in different map
 * partitions, so map-side combining cannot shrink it). */
static void memory_reduce_by_key_over_budget(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  const int64_t n = 8000000, m = n / 2;
  char src[256];
  snprintf(src, sizeof src, "val pairs(long x) { return kv(strf(\"key-%%09ld\", x %% %lld), x); }",
           (long long)m);
  eng_udf *f = udf1(s, src, "pairs", UDF_VAL, UDF_LONG);
  eng_ds *red = eng_reduce_by_key(eng_map(eng_range(s, 0, n, 1, 8), f), eng_udf_builtin(s, "add"), 8);
  double t0 = now_ms();
  assert_int_equal(count_of(s, red), m);
  double took = now_ms() - t0;
  /* Each key k sums k + (k + m). */
  eng_udf *bad = udf1(s, "bool bad(val p) { str k = as_str(key(p)); long i = to_long(k.ptr + 4);"
                      " return as_long(value(p)) != 2 * i + 4000000; }",
                      "bad", UDF_BOOL, UDF_VAL);
  assert_int_equal(count_of(s, eng_filter(red, bad)), 0);
  assert_int_equal(sum_of(s, eng_values(red)), n * (n - 1) / 2);
  /* A row: an offset and 13 bytes of key, a long. */
  check_spilled(s, "reduce_by_key", BUDGET, n * 29, took, pids, np);
  eng_session_free(s);
}

/* group_by_key of 8e6 rows into 1e6 groups: the reduce side's groups
 * outgrow the budget and spill (Grace hash), every group complete. */
static void memory_group_by_key_over_budget(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  const int64_t n = 8000000, m = 1000000;
  char src[1024];
  snprintf(src, sizeof src, "val pairs(long x) { return kv(x %% %lld, strf(\"value-%%010ld\", x)); }",
           (long long)m);
  eng_udf *f = udf1(s, src, "pairs", UDF_VAL, UDF_LONG);
  eng_ds *g = eng_group_by_key(eng_map(eng_range(s, 0, n, 1, 8), f), 8);
  /* Every group has its 8 values k, k+m, ...: check them in the tasks. */
  snprintf(src, sizeof src,
           "bool bad(val p) { long k = as_long(key(p)); val l = value(p); if (len(l) != 8) return 1;"
           " long seen = 0; for (long i = 0; i < 8; i++) { str v = as_str(at(l, i)); long x = to_long(v.ptr + 6);"
           " if (x %% %lld != k) return 1; seen |= 1L << (x / %lld); } return seen != 255; }",
           (long long)m, (long long)m);
  eng_udf *bad = udf1(s, src, "bad", UDF_BOOL, UDF_VAL);
  double t0 = now_ms();
  assert_int_equal(count_of(s, g), m);
  double took = now_ms() - t0;
  assert_int_equal(count_of(s, eng_filter(g, bad)), 0);
  /* A row: a long key, an offset and 16 bytes of value. */
  check_spilled(s, "group_by_key", BUDGET, n * 32, took, pids, np);
  eng_session_free(s);
}

/* sort_by of a 6.5e6-element permutation into 4 partitions with a 32 MiB
 * budget (1.6e6 rows each, more than a task may hold: external sort, runs
 * merged), checked in order. */
static void memory_sort_over_budget(void **state) {
  (void)state;
  eng_session *s = mem_session_of("32m");
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  const int64_t n = 6500000;
  eng_udf *perm = udf1(s, "long perm(long x) { return (x * 7919) % 6500000; }", "perm", UDF_LONG, UDF_LONG);
  eng_udf *neg = udf1(s, "long neg(long x) { return -x; }", "neg", UDF_LONG, UDF_LONG);
  eng_ds *sorted = eng_sort_by(eng_map(eng_range(s, 0, n, 1, 4), perm), neg, 1, 4);
  /* Descending by value: element i is n - 1 - i. */
  eng_udf *bad = udf1(s, "bool bad(val p) { return as_long(key(p)) + as_long(value(p)) != 6499999; }",
                      "bad", UDF_BOOL, UDF_VAL);
  double t0 = now_ms();
  assert_int_equal(count_of(s, eng_filter(eng_zip_with_index(sorted), bad)), 0);
  double took = now_ms() - t0;
  eng_val first;
  TH_OK(s, eng_first(sorted, &first));
  assert_int_equal(eng_v_long(first), n - 1);
  /* A row: (key, value), two longs. */
  check_spilled(s, "sort_by", 32LL << 20, n * 16, took, pids, np);
  eng_session_free(s);
}

/* repartition of 300 MB of strings. */
static void memory_repartition_over_budget(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  const int64_t n = 3000000;
  eng_udf *wide = udf1(s, "str wide(long x) { return strf(\"%090ld\", x); }", "wide", UDF_STR, UDF_LONG);
  eng_udf *back = udf1(s, "long back(str x) { return to_long(x); }", "back", UDF_LONG, UDF_STR);
  eng_ds *r = eng_repartition(eng_map(eng_range(s, 0, n, 1, 4), wide), 3);
  double t0 = now_ms();
  assert_int_equal(sum_of(s, eng_map(r, back)), n * (n - 1) / 2);
  double took = now_ms() - t0;
  /* A row: an offset and 90 bytes. */
  check_spilled(s, "repartition", BUDGET, n * 98, took, pids, np);
  eng_session_free(s);
}

/* join of two 3e6-row datasets: the cogroup under it holds both sides of
 * a partition, past the budget, and spills (Grace hash) like group_by_key. */
static void memory_join_over_budget(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  const int64_t n = 3000000;
  eng_udf *f = udf1(s, "val pairs(long x) { return kv(x, strf(\"%040ld\", x)); }", "pairs", UDF_VAL, UDF_LONG);
  eng_udf *h = udf1(s, "val pairs3(long x) { long y = 2999999 - x; return kv(y, y * 3); }", "pairs3", UDF_VAL, UDF_LONG);
  eng_ds *j = eng_join(eng_map(eng_range(s, 0, n, 1, 4), f), eng_map(eng_range(s, 0, n, 1, 3), h), 4);
  /* (k, (str(k) padded, 3k)) */
  eng_udf *bad = udf1(s, "bool bad(val p) { long k = as_long(key(p)); val v = value(p);"
                      " return to_long(as_str(at(v, 0))) != k || as_long(at(v, 1)) != 3 * k; }",
                      "bad", UDF_BOOL, UDF_VAL);
  double t0 = now_ms();
  assert_int_equal(count_of(s, eng_filter(j, bad)), 0);
  double took = now_ms() - t0;
  assert_int_equal(count_of(s, j), n);
  /* A left row: a long and 8 + 40 bytes; a right row: two longs. */
  check_spilled(s, "join", BUDGET, n * 56 + n * 16, took, pids, np);
  eng_session_free(s);
}

/* cogroup's groups: both sides, keys in first-seen order (one partition),
 * empty sides as []; intersection and subtract (whole rows) on top. */
static void memory_cogroup_groups(void **state) {
  (void)state;
  eng_session *s = th_session(2);
  eng_arena *a = eng_session_arena(s);
  eng_val l[3] = {eng_pair(a, eng_long(1), eng_strv("a", 1)), eng_pair(a, eng_long(2), eng_strv("b", 1)),
                  eng_pair(a, eng_long(1), eng_strv("c", 1))};
  eng_val r[2] = {eng_pair(a, eng_long(1), eng_strv("x", 1)), eng_pair(a, eng_long(3), eng_strv("y", 1))};
  eng_ds *left = eng_parallelize(s, eng_list(a, l, 3), 2), *right = eng_parallelize(s, eng_list(a, r, 2), 2);
  eng_val out;
  TH_OK(s, eng_collect(eng_cogroup(left, right, 1), &out));
  assert_string_equal(th_repr(out), "[(1, (['a', 'c'], ['x'])), (2, (['b'], [])), (3, ([], ['y']))]");
  TH_OK(s, eng_collect(eng_full_outer_join(left, right, 1), &out));
  assert_string_equal(th_repr(out), "[(1, ('a', 'x')), (1, ('c', 'x')), (2, ('b', None)), (3, (None, 'y'))]");
  eng_val xs[6], ys[3];
  for (int i = 0; i < 6; i++) xs[i] = eng_long(i % 4);
  for (int i = 0; i < 3; i++) ys[i] = eng_long(i + 2);
  eng_ds *dx = eng_parallelize(s, eng_list(a, xs, 6), 2), *dy = eng_parallelize(s, eng_list(a, ys, 3), 2);
  TH_OK(s, eng_collect(eng_intersection(dx, dy, 1), &out));
  assert_string_equal(th_repr(out), "[2, 3]");
  TH_OK(s, eng_collect(eng_subtract(dx, dy, 1), &out));
  assert_string_equal(th_repr(out), "[0, 0, 1, 1]");
  eng_session_free(s);
}

/* ---- cache ---------------------------------------------------------------------------- */

/* 16 partitions of ~20 MB of strings each (~320 MB; 64 MiB per executor).
 * rows counts the rows computed by the map (an accumulator). */
static eng_ds *big_strings(eng_session *s, eng_val rows) {
  eng_udf *f = udf_cap(s, "str wide(long x) { acc_add(c0, 1); return strf(\"%0100ld\", x); }", "wide",
                       UDF_STR, UDF_LONG, rows);
  return eng_map(eng_range(s, 0, 3200000, 1, 16), f);
}

static int64_t sum_back(eng_session *s, eng_ds *d) {
  eng_udf *back = udf1(s, "long back(str x) { return to_long(x); }", "back", UDF_LONG, UDF_STR);
  return sum_of(s, eng_map(d, back));
}

#define BIG_SUM (3200000LL * 3199999 / 2)

/* MEMORY_ONLY past the budget: partitions that do not fit are dropped and
 * recomputed when needed; answers stay right. */
static void memory_cache_evicts(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  eng_val rows = eng_accumulator(s, eng_long(0));
  eng_ds *d = eng_cache(big_strings(s, rows));
  assert_int_equal(sum_back(s, d), BIG_SUM);
  assert_int_equal(acc_long(s, rows), 3200000);
  int parts;
  int64_t mem, disk;
  cache_status(s, d, &parts, &mem, &disk);
  print_message("MEMORY_ONLY: %d of 16 partitions cached, %.1f MiB in memory\n", parts,
                (double)mem / (1 << 20));
  assert_true(parts < 16);
  assert_true(mem <= 2 * BUDGET);
  assert_int_equal(disk, 0);
  /* Again: right, with some partitions recomputed. */
  assert_int_equal(sum_back(s, d), BIG_SUM);
  assert_true(acc_long(s, rows) > 3200000);
  assert_executors_intact(s, pids, np);
  eng_session_free(s);
}

/* MEMORY_AND_DISK past the budget: what does not fit goes to disk and is
 * read back from there, never recomputed. */
static void memory_persist_memory_and_disk(void **state) {
  (void)state;
  eng_session *s = mem_session();
  eng_val rows = eng_accumulator(s, eng_long(0));
  eng_ds *d = eng_persist(big_strings(s, rows), ENG_MEMORY_AND_DISK);
  assert_int_equal(sum_back(s, d), BIG_SUM);
  int parts;
  int64_t mem, disk;
  cache_status(s, d, &parts, &mem, &disk);
  print_message("MEMORY_AND_DISK: %d of 16 partitions, %.1f MiB in memory, %.1f MiB on disk\n", parts,
                (double)mem / (1 << 20), (double)disk / (1 << 20));
  assert_int_equal(parts, 16);
  assert_true(disk > 0);
  assert_true(mem <= 2 * BUDGET);
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(s, eng_session_status_text(s, &b));
  assert_non_null(strstr(eng_buf_cstr(&b), "MEMORY_AND_DISK  16/16 partitions"));
  b.len = 0;
  TH_OK(s, eng_explain(d, &b));
  assert_non_null(strstr(eng_buf_cstr(&b), "CachedPartitions: 16; MemorySize: "));
  assert_null(strstr(eng_buf_cstr(&b), "DiskSize: 0.0 B"));
  eng_buf_free(&b);
  assert_int_equal(sum_back(s, d), BIG_SUM);
  assert_int_equal(count_of(s, d), 3200000);
  assert_int_equal(acc_long(s, rows), 3200000); /* never recomputed */
  /* unpersist frees memory and disk. */
  eng_unpersist(d);
  double deadline = now_ms() + 5000;
  while (block_files(s) > 0 && now_ms() < deadline) sleep_ms(50);
  assert_int_equal(block_files(s), 0);
  sync_status(s);
  sync_status(s);
  json_t *st = status(s), *x;
  size_t i;
  json_array_foreach(json_object_get(st, "executors"), i, x) {
    if (strcmp(json_string_value(json_object_get(x, "state")), "alive") != 0) continue;
    assert_int_equal(json_integer_value(json_object_get(x, "cache_mem")), 0);
    assert_int_equal(json_integer_value(json_object_get(x, "cache_disk")), 0);
  }
  json_decref(st);
  cache_status(s, d, &parts, &mem, &disk);
  assert_int_equal(parts, 0);
  assert_int_equal(sum_back(s, d), BIG_SUM);
  assert_int_equal(acc_long(s, rows), 2 * 3200000); /* computed again */
  eng_session_free(s);
}

/* A single partition bigger than the budget (2 partitions of ~165 MB with
 * 64 MiB): the cache step hands batches to the block store as they come,
 * so MEMORY_AND_DISK streams it to disk and MEMORY_ONLY gives up on it,
 * and in neither case does the executor hold the partition in memory. */
static void memory_cache_partition_bigger_than_budget(void **state) {
  (void)state;
  eng_session *s = mem_session();
  pid_t pids[16];
  int np = eng_session_executor_pids(s, pids, 16);
  eng_val rows = eng_accumulator(s, eng_long(0));
  eng_udf *f = udf_cap(s, "str wide(long x) { acc_add(c0, 1); return strf(\"%0100ld\", x); }", "wide",
                       UDF_STR, UDF_LONG, rows);
  eng_ds *disk_ds = eng_persist(eng_map(eng_range(s, 0, 3200000, 1, 2), f), ENG_MEMORY_AND_DISK);
  assert_int_equal(sum_back(s, disk_ds), BIG_SUM);
  int parts;
  int64_t mem, disk;
  cache_status(s, disk_ds, &parts, &mem, &disk);
  print_message("MEMORY_AND_DISK, 2 partitions: %d cached, %.1f MiB in memory, %.1f MiB on disk\n", parts,
                (double)mem / (1 << 20), (double)disk / (1 << 20));
  assert_int_equal(parts, 2);
  assert_true(disk > 0); /* compressed: these strings shrink 30-fold */
  assert_true(mem < BUDGET);
  assert_int_equal(sum_back(s, disk_ds), BIG_SUM);
  assert_int_equal(acc_long(s, rows), 3200000); /* read back from disk */
  eng_unpersist(disk_ds);
  eng_ds *mem_ds = eng_cache(eng_map(eng_range(s, 0, 3200000, 1, 2), f));
  assert_int_equal(sum_back(s, mem_ds), BIG_SUM);
  cache_status(s, mem_ds, &parts, &mem, &disk);
  print_message("MEMORY_ONLY, 2 partitions: %d cached\n", parts);
  assert_int_equal(parts, 0);
  assert_int_equal(sum_back(s, mem_ds), BIG_SUM); /* recomputed */
  assert_int_equal(acc_long(s, rows), 3 * 3200000);
  int64_t rss = executors_peak_rss(s);
  print_message("executors' peak RSS %.0f MiB with a %.0f MiB budget\n", (double)rss / (1 << 20),
                (double)BUDGET / (1 << 20));
#ifndef __SANITIZE_ADDRESS__ /* ASan's shadow memory and quarantine add hundreds of MiB */
  assert_true(rss > 0 && rss < BUDGET + (64 << 20));
#endif
  assert_executors_intact(s, pids, np);
  eng_session_free(s);
}

/* DISK_ONLY: everything on disk at once, nothing in memory. */
static void memory_persist_disk_only(void **state) {
  (void)state;
  eng_session *s = mem_session();
  eng_val rows = eng_accumulator(s, eng_long(0));
  eng_ds *d = eng_persist(big_strings(s, rows), ENG_DISK_ONLY);
  assert_int_equal(sum_back(s, d), BIG_SUM);
  int parts;
  int64_t mem, disk;
  cache_status(s, d, &parts, &mem, &disk);
  print_message("DISK_ONLY: %d of 16 partitions, %.1f MiB in memory, %.1f MiB on disk\n", parts,
                (double)mem / (1 << 20), (double)disk / (1 << 20));
  assert_int_equal(parts, 16);
  assert_int_equal(mem, 0);
  assert_true(disk > 0);
  assert_int_equal(block_files(s), 16);
  eng_buf b;
  eng_buf_init(&b);
  TH_OK(s, eng_explain(d, &b));
  assert_non_null(strstr(eng_buf_cstr(&b), "[Disk Serialized 1x Replicated]"));
  assert_non_null(strstr(eng_buf_cstr(&b), "CachedPartitions: 16; MemorySize: 0.0 B; DiskSize: "));
  assert_null(strstr(eng_buf_cstr(&b), "DiskSize: 0.0 B"));
  eng_buf_free(&b);
  assert_int_equal(sum_back(s, d), BIG_SUM);
  assert_int_equal(acc_long(s, rows), 3200000);
  eng_unpersist(d);
  double deadline = now_ms() + 5000;
  while (block_files(s) > 0 && now_ms() < deadline) sleep_ms(50);
  assert_int_equal(block_files(s), 0);
  eng_session_free(s);
}

/* ---- word count ------------------------------------------------------------------------ */

/* A word count equals the shell's, under a 64 MB budget (eng_th.h). */
static void memory_word_count_matches_shell(void **state) {
  (void)state;
  eng_session *s = mem_session();
  long distinct;
  th_word_count_vs_shell(s, 4L << 20, 3, &distinct);
  eng_session_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(memory_partitioning_slices),
    cmocka_unit_test(memory_partitioning_hash),
    cmocka_unit_test(memory_partitioning_order),
    cmocka_unit_test(memory_cogroup_groups),
    cmocka_unit_test(memory_word_count_matches_shell),
    cmocka_unit_test(memory_cache_evicts),
    cmocka_unit_test(memory_persist_memory_and_disk),
    cmocka_unit_test(memory_cache_partition_bigger_than_budget),
    cmocka_unit_test(memory_persist_disk_only),
    cmocka_unit_test(memory_reduce_by_key_over_budget),
    cmocka_unit_test(memory_group_by_key_over_budget),
    cmocka_unit_test(memory_sort_over_budget),
    cmocka_unit_test(memory_repartition_over_budget),
    cmocka_unit_test(memory_join_over_budget),
};

TH_MAIN(tests)
