/* eng_th.h -- helpers for engine tests: a session on local[N] whose
 * executors are this test program itself, and UDFs from C source. */
#ifndef ENG_TH_H
#define ENG_TH_H

#include <time.h>

#include "../../engine/dataset.h"
#include "../../engine/val.h"
#include "th.h"

static inline eng_session *th_session(int n) {
  char master[32];
  snprintf(master, sizeof master, "local[%d]", n);
  eng_conf c = {.master = master, .quiet = 1};
  eng_err e;
  eng_session *s = eng_session_new(&c, &e);
  if (!s) fail_msg("session: %s", e.msg);
  return s;
}

/* A UDF named `fn` from C source; types as udf_type values. */
static inline eng_udf *th_udf(eng_session *s, const char *src, const char *fn, udf_type ret, int np,
                              udf_type p0, udf_type p1) {
  udf_type ps[2] = {p0, p1};
  udf_def *d = udf_def_new(fn, src, fn, ret, np, ps, 0, NULL, NULL);
  eng_udf *f = eng_udf_new(s, d, NULL);
  udf_def_free(d);
  if (!f) fail_msg("udf %s: %s", fn, eng_session_errmsg(s));
  return f;
}

/* repr(v) as a C string (static buffer). */
static inline const char *th_repr(eng_val v) {
  static char out[1 << 16];
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b)); /* data is not NUL-terminated */
  eng_buf_free(&b);
  return out;
}

#define TH_OK(s, expr)                                                   \
  do {                                                                   \
    if ((expr) < 0) fail_msg("%s failed: %s", #expr, eng_session_errmsg(s)); \
  } while (0)

/* ---- jobs several programs check ------------------------------------------------ */

/* range(0, n) -> (x % TH_KEYS, x) -> reduce_by_key(add): key k sums the
 * x = k (mod TH_KEYS) below n. Checks every key of the collected result. */
#define TH_KEYS 100000

static inline void th_check_sum_by_key(eng_val out, int64_t n) {
  assert_int_equal(ENG_VKIND(out), ENG_V_LIST);
  assert_int_equal(ENG_VLEN(out), TH_KEYS);
  static unsigned char seen[TH_KEYS];
  memset(seen, 0, sizeof seen);
  for (long i = 0; i < ENG_VLEN(out); i++) {
    eng_val p = eng_v_items(out)[i];
    int64_t k = eng_v_long(eng_v_items(p)[0]), v = eng_v_long(eng_v_items(p)[1]);
    assert_true(k >= 0 && k < TH_KEYS);
    assert_false(seen[k]);
    seen[k] = 1;
    int64_t m = (n - k + TH_KEYS - 1) / TH_KEYS; /* x = k + j*TH_KEYS, j < m */
    int64_t want = m * k + (int64_t)TH_KEYS * (m * (m - 1) / 2);
    if (v != want) fail_msg("key %lld: got %lld, want %lld", (long long)k, (long long)v, (long long)want);
  }
}

/* Writes about `bytes` of Zipf-ish words (w<rank>, rank ~ 1/u), 12 per line. */
static inline void th_write_words(const char *path, long bytes) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  uint64_t x = 88172645463325252ULL;
  long n = 0;
  while (n < bytes) {
    for (int i = 0; i < 12; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      double u = (double)(x >> 11) / 9007199254740992.0;
      n += fprintf(fp, i ? " w%ld" : "w%ld", (long)(1.0 / (u + 1e-6)));
    }
    n += fprintf(fp, "\n");
  }
  fclose(fp);
}

/* Word count (text_file with min_parts, words(), kv(w, 1), add) of about
 * `bytes` of th_write_words text on session s equals the shell's
 * `tr -s ' ' '\n' | sort | uniq -c`, and has more than 1000 words. Returns
 * the job's time in ms; *distinct gets the number of words. The files are
 * kept (and named) when the counts differ. */
static inline double th_word_count_vs_shell(eng_session *s, long bytes, int min_parts, long *distinct) {
  char dir[] = "/tmp/ember-wc-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256], cmd[1024];
  snprintf(path, sizeof path, "%s/words.txt", dir);
  th_write_words(path, bytes);
  snprintf(cmd, sizeof cmd, "tr -s ' ' '\\n' < %s | sort | uniq -c | awk '{print $2, $1}' | LC_ALL=C sort > %s/want",
           path, dir);
  assert_int_equal(system(cmd), 0);
  eng_udf *split = th_udf(s, "val split_words(str line) { return words(line); }", "split_words", UDF_VAL, 1,
                          UDF_STR, 0);
  eng_udf *one = th_udf(s, "val one(val w) { return kv(w, 1); }", "one", UDF_VAL, 1, UDF_VAL, 0);
  eng_ds *d = eng_reduce_by_key(eng_map(eng_flat_map(eng_text_file(s, path, min_parts), split), one),
                                eng_udf_builtin(s, "add"), 0);
  eng_val out;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (eng_collect(d, &out) < 0) fail_msg("word count: %s", eng_session_errmsg(s));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  char got[256];
  snprintf(got, sizeof got, "%s/got", dir);
  FILE *fp = fopen(got, "w");
  assert_non_null(fp);
  for (long i = 0; i < ENG_VLEN(out); i++) {
    const eng_val *p = eng_v_items(eng_v_items(out)[i]);
    eng_str w = eng_v_str(p[0]);
    fprintf(fp, "%.*s %lld\n", (int)w.len, w.ptr, (long long)eng_v_long(p[1]));
  }
  fclose(fp);
  snprintf(cmd, sizeof cmd, "LC_ALL=C sort -o %s/got %s/got && cmp -s %s/got %s/want", dir, dir, dir, dir);
  int same = system(cmd) == 0;
  snprintf(cmd, sizeof cmd, "wc -l < %s/want", dir);
  FILE *pp = popen(cmd, "r");
  long want = 0;
  if (pp) {
    if (fscanf(pp, "%ld", &want) != 1) want = 0;
    pclose(pp);
  }
  if (same) {
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
  } else {
    print_message("word counts differ: see %s/got and %s/want\n", dir, dir);
  }
  assert_true(same);
  assert_int_equal(ENG_VLEN(out), want);
  assert_true(want > 1000);
  *distinct = want;
  return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

#endif
