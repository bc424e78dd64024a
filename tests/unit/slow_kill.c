/* slow_kill.c -- the executor-kill soak (slow; not part of `make test`):
 * twenty times, an executor is killed with SIGKILL 100-300 ms into a
 * reduce_by_key over 1e7 rows with a lambda, and every job must return the
 * exact answer. Odd rounds kill on a timer from the job's start; even rounds
 * aim at the reduce stage, so both map-output loss while mapping and fetch
 * failures while reducing are covered. Also: a word count of a generated
 * 100 MB text file against `tr -s ' ' '\n' | sort | uniq -c`.
 *
 * Run it with:
 *   make build/tests/slow_kill && build/tests/slow_kill
 * (about a minute on 2 cores; ASan: make MODE=asan
 * build/asan/tests/slow_kill, with the ASAN_OPTIONS of test_faults.c).
 */
#include "eng_th.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
  nanosleep(&ts, NULL);
}

/* Stage starts seen by the listener, for aiming kills. */
typedef struct watch {
  _Atomic int nstarted;
  int stage_id[16];
  double job_start, job_end;
  int nwarn;
} watch;

static void on_event(void *ctx, const eng_event *ev) {
  watch *w = ctx;
  int n = atomic_load(&w->nstarted);
  if (ev->kind == ENG_EV_JOB_START) w->job_start = now_ms();
  if (ev->kind == ENG_EV_JOB_END) w->job_end = now_ms();
  if (ev->kind == ENG_EV_WARNING) w->nwarn++;
  if (ev->kind == ENG_EV_STAGE_START && n < 16) {
    for (int i = 0; i < n; i++)
      if (w->stage_id[i] == ev->stage) return;
    w->stage_id[n] = ev->stage;
    atomic_store(&w->nstarted, n + 1);
  }
}

typedef struct killer {
  pthread_t th;
  watch *w;
  int stage_index;
  double delay_ms, killed_ms;
  pid_t pid;
  _Atomic int stop;
} killer;

static void *killer_main(void *arg) {
  killer *k = arg;
  while (atomic_load(&k->w->nstarted) <= k->stage_index) {
    if (atomic_load(&k->stop)) return NULL;
    sleep_ms(1);
  }
  sleep_ms(k->delay_ms);
  if (atomic_load(&k->stop)) return NULL;
  kill(k->pid, SIGKILL);
  k->killed_ms = now_ms();
  return NULL;
}

static void slow_kill_20x_1e7(void **state) {
  (void)state;
  watch w;
  memset(&w, 0, sizeof w);
  eng_session *s = th_session(2);
  eng_session_set_listener(s, &on_event, &w);
  eng_udf *f = th_udf(s, "val key_mod(long x) { return kv(x % 100000, x); }", "key_mod", UDF_VAL, 1,
                      UDF_LONG, 0);
  eng_udf *add = eng_udf_builtin(s, "add");
  const int64_t n = 10000000;
  /* The same job without a kill, for the cost of recovering. */
  eng_val base_out;
  double t_base = now_ms();
  TH_OK(s, eng_collect(eng_reduce_by_key(eng_map(eng_range(s, 0, n, 1, 8), f), add, 8), &base_out));
  t_base = now_ms() - t_base;
  th_check_sum_by_key(base_out, n);
  srand(20240601);
  double worst = 0, total = 0;
  for (int rep = 0; rep < 20; rep++) {
    pid_t pids[8];
    int np = eng_session_executor_pids(s, pids, 8);
    assert_true(np >= 1);
    atomic_store(&w.nstarted, 0);
    w.nwarn = 0;
    killer k;
    memset(&k, 0, sizeof k);
    k.w = &w;
    k.stage_index = rep % 2 ? 0 : 1;
    /* Map-stage kills land 10-50% into the time the job takes without a
     * kill (the map stage is most of it); the reduce stage is short
     * (map-side combining leaves 8 x 1e5 rows): aim early in it, or the
     * kill may come after the job. */
    k.delay_ms = rep % 2 ? t_base * (0.1 + 0.4 * rand() / (double)RAND_MAX) : rand() % 10;
    k.pid = pids[rep % np];
    pthread_create(&k.th, NULL, killer_main, &k);
    eng_ds *d = eng_reduce_by_key(eng_map(eng_range(s, 0, n, 1, 8), f), add, 8);
    eng_val out;
    double t0 = now_ms();
    int rc = eng_collect(d, &out);
    double took = now_ms() - t0;
    atomic_store(&k.stop, 1);
    pthread_join(k.th, NULL);
    if (rc < 0) fail_msg("round %d: %s", rep, eng_session_errmsg(s));
    th_check_sum_by_key(out, n);
    print_message("round %2d: killed pid %d %s %.0f ms into the job; job took %.0f ms%s\n", rep,
                  (int)k.pid, rep % 2 ? "(map stage)" : "(reduce stage)",
                  k.killed_ms ? k.killed_ms - w.job_start : -1, took,
                  k.killed_ms && k.killed_ms < w.job_end ? "" : " (kill missed the job)");
    assert_true(k.killed_ms > 0 && k.killed_ms < w.job_end); /* the kill hit the job */
    if (took > worst) worst = took;
    total += took;
  }
  print_message("20 rounds: mean %.0f ms, worst %.0f ms (%.0f ms without a kill)\n", total / 20, worst,
                t_base);
  eng_session_free(s);
}

/* Word count of a 100 MB file of Zipf-distributed words equals the shell's. */
static void slow_wordcount_100mb(void **state) {
  (void)state;
  eng_session *s = th_session(2);
  long distinct;
  double ms = th_word_count_vs_shell(s, 100L << 20, 0, &distinct);
  print_message("word count of 100 MB: %.0f ms, %ld distinct words\n", ms, distinct);
  eng_session_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(slow_kill_20x_1e7),
    cmocka_unit_test(slow_wordcount_100mb),
};

TH_MAIN(tests)
