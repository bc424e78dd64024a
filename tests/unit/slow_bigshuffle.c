/* slow_bigshuffle.c -- the big-shuffle acceptance test (slow; not part of
 * `make test`): a 4 GB shuffle on local[2] executors with a 1 GB budget
 * each completes by spilling, with the right answer, no executor lost (the
 * OOM killer would show up as one) and each executor's peak RSS well under
 * what it shuffled.
 *
 * The job: 32e6 rows (key, 120-byte string of hashes) with 16e6 distinct keys, each
 * key's two rows in different map partitions (so map-side combining cannot
 * shrink anything), through group_by_key into 16 partitions; about 4.3 GB
 * of serialized rows cross the shuffle. Checks: 16e6 groups, each of two
 * values that belong to its key.
 *
 * Run it with:
 *   make build/tests/slow_bigshuffle && build/tests/slow_bigshuffle
 * (several minutes on 2 cores; needs ~10 GB free under $TMPDIR or /tmp).
 * It prints the time and the executors' peak RSS.
 */
#include "eng_th.h"

#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../../engine/session_int.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak resident set (VmHWM) of a live process, in bytes. */
static int64_t peak_rss(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  long long kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  fclose(f);
  return (int64_t)kb * 1024;
}

static void slow_bigshuffle_4g_1g_budget(void **state) {
  (void)state;
  setenv("EMBER_EXECUTOR_MEMORY", "1g", 1);
  eng_session *s = th_session(2);
  unsetenv("EMBER_EXECUTOR_MEMORY");
  pid_t pids[8];
  int np = eng_session_executor_pids(s, pids, 8);
  const int64_t n = 32000000, m = n / 2;
  char src[512];
  /* The value: x, then 107 hex digits of multiplicative hashes of x (zstd
   * cannot shrink them much, so spills really write gigabytes). */
  snprintf(src, sizeof src,
           "val row(long x) { long k = x %% %lld; unsigned long h = (unsigned long)x * 0x9E3779B97F4A7C15UL;"
           " return kv(k, strf(\"%%012ld-%%016lx%%016lx%%016lx%%016lx%%016lx%%016lx%%011lx\", x, h, h * 31, h * 37,"
           " h * 41, h * 43, h * 47, (h * 53) >> 20)); }",
           (long long)m);
  eng_udf *f = th_udf(s, src, "row", UDF_VAL, 1, UDF_LONG, 0);
  snprintf(src, sizeof src,
           "bool bad(val p) { long k = as_long(key(p)); val l = value(p); if (len(l) != 2) return 1;"
           " long a = strtol(as_str(at(l, 0)).ptr, 0, 10), b = strtol(as_str(at(l, 1)).ptr, 0, 10);"
           " return a %% %lld != k || b %% %lld != k || a == b; }",
           (long long)m, (long long)m);
  eng_udf *bad = th_udf(s, src, "bad", UDF_BOOL, 1, UDF_VAL, 0);
  eng_ds *g = eng_group_by_key(eng_map(eng_range(s, 0, n, 1, 16), f), 16);
  double t0 = now_ms();
  int64_t groups, wrong;
  TH_OK(s, eng_count(g, &groups));
  double t1 = now_ms();
  TH_OK(s, eng_count(eng_filter(g, bad), &wrong));
  double t2 = now_ms();
  int64_t rss = 0;
  for (int i = 0; i < np; i++) {
    int64_t r = peak_rss(pids[i]);
    if (r > rss) rss = r;
  }
  int64_t stored = 0;
  for (int i = 0; i < s->nshuffles; i++)
    for (int mp = 0; mp < s->shuffles[i]->nmaps; mp++)
      for (int r = 0; s->shuffles[i]->sizes[mp] && r < s->shuffles[i]->nreduce; r++)
        stored += s->shuffles[i]->sizes[mp][r];
  eng_runstats st;
  eng_session_stats(s, &st);
  /* A row: a long key, an offset and 120 bytes. */
  print_message("4 GB shuffle (%.2f GiB of rows, %.2f GiB stored) with a 1 GiB budget: map + reduce %.1f s,"
                " reduce again %.1f s; executors' peak RSS %.0f MiB; executors lost %ld\n",
                (double)n * 136 / (1 << 30), (double)stored / (1 << 30), (t1 - t0) / 1000,
                (t2 - t1) / 1000, (double)rss / (1 << 20), st.executors_lost);
  assert_int_equal(groups, m);
  assert_int_equal(wrong, 0);
  assert_int_equal(st.executors_lost, 0);
  assert_true(rss > 0 && rss < (1LL << 30) + (256LL << 20));
  eng_session_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(slow_bigshuffle_4g_1g_budget),
};

TH_MAIN(tests)
