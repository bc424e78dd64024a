/* test_faults.c -- fault tolerance of the engine, with real executor
 * processes (this program re-run as "executor", see th.h):
 *   - an executor killed with SIGKILL in the middle of a shuffle-heavy job
 *     (five times), during a map stage, during a result stage (also with 48
 *     reduce partitions waiting for lost map outputs), during sort_by's
 *     sampling job and its shuffle, and both executors at once: the job
 *     still returns the exact answer, with a one-line ExecutorLost warning;
 *     executors that die are always replaced;
 *   - a cached dataset whose executor died, or whose blocks vanished behind
 *     the driver's back, is recomputed from lineage (only the lost
 *     partitions), also while other executors were reading it;
 *   - a lambda that crashes (SIGSEGV, SIGABRT, SIGFPE) fails its job with
 *     "TaskFailed: SIG... in UDF <name> (partition N)" after 4 attempts, and
 *     the session, its executors and its cached data keep working;
 *   - an endless lambda is cancelled within about a second and the
 *     executors are usable at once; a cancelled shuffle completes on the
 *     next action;
 *   - a lambda that does not compile fails in eng_udf_new, naming the line,
 *     before any task runs;
 *   - retried tasks do not count accumulator updates twice; a broadcast
 *     travels to each executor once.
 * The 20-times, 1e7-row kill soak is tests/unit/slow_kill.c.
 *
 * Timing: kills are aimed with the session's listener (a helper thread waits
 * for a stage to start, then sleeps and kills), and each kill test checks
 * that the kill really landed while the stage it aims at was running.
 *
 * Under ASan (make MODE=asan build/asan/tests/test_faults) run it with
 *   ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:allow_user_segv_handler=1:detect_leaks=0
 * so that faults in lambdas reach udf_guard (see test_udf.c).
 */
#include "eng_th.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../../engine/session_int.h"

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

/* What the listener saw, read by killer threads while the job runs. */
#define MAX_STAGES 32
typedef struct watch {
  _Atomic int nstarted;      /* STAGE_START events of the current job */
  int stage_id[MAX_STAGES];  /* in order of starting */
  double start_ms[MAX_STAGES], end_ms[MAX_STAGES];
  double job_start, job_end;
  int job_ok;
  int nwarn;
  char warn[512];
} watch;

static void watch_reset(watch *w) {
  atomic_store(&w->nstarted, 0);
  for (int i = 0; i < MAX_STAGES; i++) w->start_ms[i] = w->end_ms[i] = 0, w->stage_id[i] = -1;
  w->job_start = w->job_end = 0;
  w->nwarn = 0;
  w->warn[0] = 0;
}

static void on_event(void *ctx, const eng_event *ev) {
  watch *w = ctx;
  int n = atomic_load(&w->nstarted);
  switch (ev->kind) {
    case ENG_EV_JOB_START:
      w->job_start = now_ms();
      break;
    case ENG_EV_JOB_END:
      w->job_end = now_ms();
      w->job_ok = ev->ok;
      break;
    case ENG_EV_STAGE_START:
      for (int i = 0; i < n; i++)
        if (w->stage_id[i] == ev->stage) return;
      if (n < MAX_STAGES) {
        w->stage_id[n] = ev->stage;
        w->start_ms[n] = now_ms();
        atomic_store(&w->nstarted, n + 1);
      }
      break;
    case ENG_EV_STAGE_END:
      for (int i = 0; i < n; i++)
        if (w->stage_id[i] == ev->stage) w->end_ms[i] = now_ms();
      break;
    case ENG_EV_WARNING:
      w->nwarn++;
      snprintf(w->warn, sizeof w->warn, "%s", ev->msg);
      break;
  }
}

/* A thread that kills `pid` with SIGKILL `delay_ms` after the stage that
 * started as number `stage_index` of the job (0: the first). */
typedef struct killer {
  pthread_t th;
  watch *w;
  int stage_index;
  double delay_ms;
  pid_t pid;
  double killed_ms; /* 0: did not kill */
  _Atomic int stop;
} killer;

static void *killer_main(void *arg) {
  killer *k = arg;
  while (atomic_load(&k->w->nstarted) <= k->stage_index)
    if (atomic_load(&k->stop)) return NULL;
    else sleep_ms(1);
  sleep_ms(k->delay_ms);
  if (atomic_load(&k->stop)) return NULL;
  kill(k->pid, SIGKILL);
  k->killed_ms = now_ms();
  return NULL;
}

static void killer_start(killer *k, watch *w, int stage_index, double delay_ms, pid_t pid) {
  memset(k, 0, sizeof *k);
  k->w = w;
  k->stage_index = stage_index;
  k->delay_ms = delay_ms;
  k->pid = pid;
  assert_int_equal(pthread_create(&k->th, NULL, killer_main, k), 0);
}

static void killer_join(killer *k) {
  atomic_store(&k->stop, 1);
  pthread_join(k->th, NULL);
}

static eng_session *fx_session(int n, watch *w) {
  eng_session *s = th_session(n);
  if (w) {
    watch_reset(w);
    eng_session_set_listener(s, on_event, w);
  }
  return s;
}

/* A UDF with captured values (names c0, c1, ... of type val). */
static eng_udf *fx_udf_caps(eng_session *s, const char *src, const char *fn, udf_type ret, int np,
                            udf_type p0, udf_type p1, int ncaps, const eng_val *caps) {
  udf_type ps[2] = {p0, p1};
  const char *names[] = {"c0", "c1", "c2"};
  udf_type types[] = {UDF_VAL, UDF_VAL, UDF_VAL};
  udf_def *d = udf_def_new(fn, src, fn, ret, np, ps, ncaps, names, types);
  eng_udf *f = eng_udf_new(s, d, caps);
  udf_def_free(d);
  if (!f) fail_msg("udf %s: %s", fn, eng_session_errmsg(s));
  return f;
}

/* Waits until the session has n live executors (runs small jobs so the
 * driver reads their registrations). */
static void wait_executors(eng_session *s, int n) {
  double deadline = now_ms() + 20000;
  for (;;) {
    int alive = 0;
    for (int i = 0; i < s->nexecs; i++) alive += s->execs[i].state == EX_ALIVE;
    if (alive >= n) return;
    if (now_ms() > deadline) fail_msg("only %d of %d executors came up", alive, n);
    int64_t c;
    TH_OK(s, eng_count(eng_range(s, 0, 10, 1, n), &c));
    sleep_ms(20);
  }
}

/* The status JSON's "cached" entry for dataset d. */
static json_t *cached_status(eng_session *s, eng_ds *d) {
  eng_buf b;
  eng_buf_init(&b);
  eng_session_status_json(s, &b);
  json_t *st = json_loads(eng_buf_cstr(&b), 0, NULL);
  eng_buf_free(&b);
  assert_non_null(st);
  json_t *found = NULL, *x;
  size_t i;
  json_array_foreach(json_object_get(st, "cached"), i, x) {
    if (json_integer_value(json_object_get(x, "id")) == eng_ds_id(d)) found = json_incref(x);
  }
  json_decref(st);
  return found;
}

static int cached_parts(eng_session *s, eng_ds *d) {
  json_t *x = cached_status(s, d);
  int n = x ? (int)json_integer_value(json_object_get(x, "cached_parts")) : 0;
  json_decref(x);
  return n;
}

static int64_t acc_long(eng_session *s, eng_val acc) {
  eng_val v;
  TH_OK(s, eng_acc_value(s, acc, &v));
  return eng_v_long(v);
}

/* ---- the shuffle-heavy job ---------------------------------------------------- */

/* range(0, n) -> (x % TH_KEYS, x) -> reduce_by_key(add), checked by
 * th_check_sum_by_key (eng_th.h). */
static eng_ds *sum_by_key_job(eng_session *s, int64_t n, int parts, const char *extra) {
  char src[512];
  snprintf(src, sizeof src, "val key_mod(long x) { %s return kv(x %% %d, x); }", extra ? extra : "",
           TH_KEYS);
  eng_udf *f = th_udf(s, src, "key_mod", UDF_VAL, 1, UDF_LONG, 0);
  return eng_reduce_by_key(eng_map(eng_range(s, 0, n, 1, parts), f), eng_udf_builtin(s, "add"), parts);
}

/* ---- kills -------------------------------------------------------------------------- */

/* Five times: SIGKILL one executor 60-180 ms into an 8e6-row reduce_by_key
 * (8 map and 8 reduce tasks on local[2], about 0.3 s here: the kill lands
 * while the job runs); the answer is exact every time. */
static void faults_kill_during_shuffle(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  const int64_t n = 8000000;
  /* A baseline run without a kill, for the recovery time. */
  watch_reset(&w);
  eng_val out;
  double t0 = now_ms();
  TH_OK(s, eng_collect(sum_by_key_job(s, n, 8, NULL), &out));
  double base = now_ms() - t0;
  th_check_sum_by_key(out, n);
  srand(12345);
  for (int rep = 0; rep < 5; rep++) {
    pid_t pids[8];
    int np = eng_session_executor_pids(s, pids, 8);
    assert_true(np >= 1);
    watch_reset(&w);
    eng_runstats before;
    eng_session_stats(s, &before);
    killer k;
    killer_start(&k, &w, 0, 60 + rand() % 120, pids[rep % np]);
    eng_ds *d = sum_by_key_job(s, n, 8, NULL);
    t0 = now_ms();
    int rc = eng_collect(d, &out);
    double took = now_ms() - t0;
    killer_join(&k);
    if (rc < 0) fail_msg("rep %d: %s", rep, eng_session_errmsg(s));
    th_check_sum_by_key(out, n);
    eng_runstats after;
    eng_session_stats(s, &after);
    print_message("kill %d: pid %d killed %.0f ms into the job, job took %.0f ms (%.0f ms without a kill), %ld tasks retried\n",
                  rep, (int)k.pid, k.killed_ms - w.job_start, took, base, after.task_retries - before.task_retries);
    /* The kill landed while the job ran, and the driver noticed it. Task
     * retries are not required: the victim may be between tasks (its map
     * outputs all fetched already, waiting for the other executor's last
     * task), and then nothing needs to run again. */
    assert_true(k.killed_ms > 0 && k.killed_ms < w.job_end);
    assert_int_equal(after.executors_lost - before.executors_lost, 1);
    assert_int_equal(w.nwarn, 1);
    assert_non_null(strstr(w.warn, "ExecutorLost: executor "));
    assert_non_null(strstr(w.warn, "killed by SIGKILL"));
  }
  eng_session_free(s);
}

/* A kill while the map stage runs: its lost outputs and running tasks are
 * redone, then the result stage runs once. */
static void faults_kill_during_map_stage(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  pid_t pids[8];
  eng_session_executor_pids(s, pids, 8);
  watch_reset(&w);
  /* Slow map side (a busy loop per row), 16 map tasks. */
  const int64_t n = 2000000;
  eng_ds *d = sum_by_key_job(s, n, 16, "volatile long h = x; for (int i = 0; i < 300; i++) h = h * 31 + i;");
  killer k;
  killer_start(&k, &w, 0, 250, pids[1]);
  eng_val out;
  double t0 = now_ms();
  int rc = eng_collect(d, &out);
  double took = now_ms() - t0;
  killer_join(&k);
  if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
  th_check_sum_by_key(out, n);
  print_message("map-stage kill %.0f ms into the stage (stage ended at %.0f ms), job took %.0f ms\n",
                k.killed_ms - w.start_ms[0], w.end_ms[0] - w.start_ms[0], took);
  assert_true(k.killed_ms > 0);
  assert_true(w.end_ms[0] > k.killed_ms); /* the map stage was running */
  assert_int_equal(atomic_load(&w.nstarted), 2);
  assert_non_null(strstr(w.warn, "ExecutorLost"));
  eng_session_free(s);
}

/* A kill while the result stage runs: the map outputs the dead executor
 * held are recomputed (fetch failures or the driver's own bookkeeping),
 * reduce tasks run again, and an accumulator updated in the result stage
 * counts every row exactly once. */
static void faults_kill_during_result_stage(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  pid_t pids[8];
  eng_session_executor_pids(s, pids, 8);
  watch_reset(&w);
  const int64_t n = 2000000;
  eng_val acc = eng_accumulator(s, eng_long(0));
  eng_ds *red = sum_by_key_job(s, n, 16, NULL);
  /* Slow result side: a busy loop per key, then count the key. */
  eng_udf *slow = fx_udf_caps(s,
                              "long slow(long v) { volatile long h = v; for (int i = 0; i < 3000; i++) h = h * 31 + i;"
                              " acc_add(c0, 1); return v; }",
                              "slow", UDF_LONG, 1, UDF_LONG, 0, 1, &acc);
  eng_ds *d = eng_map_values(red, slow);
  killer k;
  killer_start(&k, &w, 1, 150, pids[0]);
  eng_val out;
  double t0 = now_ms();
  int rc = eng_collect(d, &out);
  double took = now_ms() - t0;
  killer_join(&k);
  if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
  th_check_sum_by_key(out, n);
  print_message("result-stage kill %.0f ms into the stage, job took %.0f ms, %d stages started\n",
                k.killed_ms - w.start_ms[1], took, atomic_load(&w.nstarted));
  assert_true(k.killed_ms > 0);
  assert_true(w.job_end > k.killed_ms);
  assert_true(k.killed_ms > w.start_ms[1]);
  assert_non_null(strstr(w.warn, "ExecutorLost"));
  assert_int_equal(acc_long(s, acc), TH_KEYS);
  eng_session_free(s);
}

/* The same with 48 reduce partitions: the tasks waiting for the lost map
 * outputs must wait for them, not burn the job's fetch-failure allowance. */
static void faults_kill_during_result_stage_many_parts(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  pid_t pids[8];
  eng_session_executor_pids(s, pids, 8);
  watch_reset(&w);
  const int64_t n = 2000000;
  eng_ds *red = sum_by_key_job(s, n, 48, NULL);
  eng_udf *slow = th_udf(s, "long slow(long v) { volatile long h = v; for (int i = 0; i < 3000; i++) h = h * 31 + i; return v; }",
                         "slow", UDF_LONG, 1, UDF_LONG, 0);
  eng_ds *d = eng_map_values(red, slow);
  killer k;
  killer_start(&k, &w, 1, 150, pids[0]);
  eng_val out;
  double t0 = now_ms();
  int rc = eng_collect(d, &out);
  double took = now_ms() - t0;
  killer_join(&k);
  if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
  th_check_sum_by_key(out, n);
  print_message("result-stage kill (48 partitions) %.0f ms into the stage, job took %.0f ms\n",
                k.killed_ms - w.start_ms[1], took);
  assert_true(k.killed_ms > 0 && w.job_end > k.killed_ms);
  eng_session_free(s);
}

/* Both executors killed at once in the middle of a job: new ones start and
 * the job completes. */
static void faults_kill_all_executors(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  pid_t pids[8];
  int np = eng_session_executor_pids(s, pids, 8);
  assert_int_equal(np, 2);
  watch_reset(&w);
  const int64_t n = 4000000;
  killer k1, k2;
  /* 80 ms into the map stage: the whole job takes about 200-500 ms here
   * (it once ended before kills 200 ms in). */
  killer_start(&k1, &w, 0, 80, pids[0]);
  killer_start(&k2, &w, 0, 80, pids[1]);
  eng_val out;
  double t0 = now_ms();
  int rc = eng_collect(sum_by_key_job(s, n, 8, NULL), &out);
  double took = now_ms() - t0;
  killer_join(&k1);
  killer_join(&k2);
  if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
  th_check_sum_by_key(out, n);
  print_message("both executors killed %.0f ms in, job took %.0f ms\n", k1.killed_ms - w.job_start, took);
  assert_true(k1.killed_ms > 0 && k2.killed_ms > 0 && w.job_end > k2.killed_ms);
  eng_runstats st;
  eng_session_stats(s, &st);
  assert_int_equal(st.executors_lost, 2);
  eng_session_free(s);
}

/* sort_by runs a sampling job first (internal: no events of its own but
 * its stage's): a kill there, and one in the sort itself, still give a
 * total order, each with its warning. */
static void faults_kill_during_sort(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  const int64_t n = 3000000;
  eng_udf *perm = th_udf(s, "long perm(long x) { volatile long h = x; for (int i = 0; i < 100; i++) h += i; return (x * 7919) % 3000000; }",
                         "perm", UDF_LONG, 1, UDF_LONG, 0);
  eng_udf *ident = th_udf(s, "long ident(long x) { return x; }", "ident", UDF_LONG, 1, UDF_LONG, 0);
  /* Checks each partition is a run of consecutive numbers, in order. */
  eng_udf *runs = th_udf(s,
                         "val runs(long p, val rows) { long n = len(rows); if (!n) return list(tuple(p, -1L, -1L, 0L, 1L));"
                         " long first = as_long(at(rows, 0)), ok = 1;"
                         " for (long i = 1; i < n; i++) if (as_long(at(rows, i)) != first + i) ok = 0;"
                         " return list(tuple(p, first, first + n - 1, n, ok)); }",
                         "runs", UDF_VAL, 2, UDF_LONG, UDF_VAL);
  for (int stage = 0; stage < 2; stage++) {
    pid_t pids[8];
    int np = eng_session_executor_pids(s, pids, 8);
    watch_reset(&w);
    killer k;
    killer_start(&k, &w, stage, stage ? 100 : 150, pids[stage % np]);
    eng_ds *d = eng_map_partitions_with_index(eng_sort_by(eng_map(eng_range(s, 0, n, 1, 6), perm), ident, 1, 6), runs);
    eng_val out;
    int rc = eng_collect(d, &out);
    killer_join(&k);
    if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
    int64_t next = 0;
    for (long p = 0; p < ENG_VLEN(out); p++) {
      const eng_val *t = eng_v_items(eng_v_items(out)[p]);
      assert_int_equal(eng_v_long(t[4]), 1);
      if (eng_v_long(t[3]) == 0) continue;
      assert_int_equal(eng_v_long(t[1]), next);
      next = eng_v_long(t[2]) + 1;
    }
    assert_int_equal(next, n);
    print_message("sort: killed %.0f ms after stage %d started\n", k.killed_ms - w.start_ms[stage], stage);
    assert_true(k.killed_ms > 0 && k.killed_ms < w.job_end);
    assert_int_equal(w.nwarn, 1);
    assert_non_null(strstr(w.warn, "ExecutorLost"));
  }
  eng_session_free(s);
}

/* Executors that had registered are always replaced, however many die: 20
 * deaths in a few seconds (more than the limit on restarts of executors
 * that cannot start) leave a working session. */
static void faults_executors_always_replaced(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  for (int i = 0; i < 10; i++) {
    pid_t pids[8];
    int np = eng_session_executor_pids(s, pids, 8);
    assert_int_equal(np, 2);
    for (int k = 0; k < np; k++) kill(pids[k], SIGKILL);
    sleep_ms(20);
    eng_val sum;
    TH_OK(s, eng_sum(eng_range(s, 0, 1000, 1, 2), &sum));
    assert_int_equal(eng_v_long(sum), 499500);
    wait_executors(s, 2);
  }
  eng_runstats st;
  eng_session_stats(s, &st);
  assert_int_equal(st.executors_lost, 20);
  eng_session_free(s);
}

/* A cached dataset loses the partitions its executor held: the next action
 * recomputes just those from lineage (an accumulator in the cached map
 * counts the rows computed) and caches them again. */
static void faults_cached_partitions_recomputed(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  eng_val acc = eng_accumulator(s, eng_long(0));
  eng_udf *f = fx_udf_caps(s, "long sq(long x) { acc_add(c0, 1); return x * 2; }", "sq", UDF_LONG, 1,
                           UDF_LONG, 0, 1, &acc);
  const int64_t n = 400000;
  eng_ds *d = eng_cache(eng_map(eng_range(s, 0, n, 1, 8), f));
  eng_val sum;
  TH_OK(s, eng_sum(d, &sum));
  assert_int_equal(eng_v_long(sum), n * (n - 1));
  assert_int_equal(acc_long(s, acc), n);
  assert_int_equal(cached_parts(s, d), 8);
  /* Where the partitions are, and which executor to kill. */
  int victim = d->cached_on[0], lost = 0;
  for (int p = 0; p < 8; p++) lost += d->cached_on[p] == victim;
  assert_true(lost > 0 && lost < 8); /* spread over both executors */
  eng_execinfo *e = eng__exec_by_id(s, victim);
  assert_non_null(e);
  kill(e->pid, SIGKILL);
  sleep_ms(50);
  watch_reset(&w);
  TH_OK(s, eng_sum(d, &sum));
  assert_int_equal(eng_v_long(sum), n * (n - 1));
  /* Exactly the lost partitions were computed again. */
  assert_int_equal(acc_long(s, acc), n + n * lost / 8);
  assert_int_equal(cached_parts(s, d), 8);
  assert_non_null(strstr(w.warn, "ExecutorLost"));
  /* And now it is all cached again: no more computing. */
  TH_OK(s, eng_sum(d, &sum));
  assert_int_equal(acc_long(s, acc), n + n * lost / 8);
  eng_session_free(s);
}

/* Cached blocks that vanished from a live executor without the driver
 * knowing (dropped for memory just before a task reads them, before the
 * executor's report arrives): the reading task fails to fetch, the driver
 * stops counting the partition as cached, and it is computed again. */
static void faults_cached_block_missing(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  eng_val acc = eng_accumulator(s, eng_long(0));
  eng_udf *f = fx_udf_caps(s, "long twice(long x) { acc_add(c0, 1); return 2 * x; }", "twice", UDF_LONG,
                           1, UDF_LONG, 0, 1, &acc);
  const int64_t n = 80000;
  eng_ds *d = eng_cache(eng_map(eng_range(s, 0, n, 1, 8), f));
  eng_val sum;
  TH_OK(s, eng_sum(d, &sum));
  assert_int_equal(acc_long(s, acc), n);
  /* Drop every cached block of d on one executor behind the driver's back. */
  int victim = d->cached_on[0], lost = 0;
  for (int p = 0; p < 8; p++) lost += d->cached_on[p] == victim;
  eng_execinfo *e = eng__exec_by_id(s, victim);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "rdd_%d_", eng_ds_id(d));
  json_t *h = json_pack("{s:s, s:s}", "t", "drop", "prefix", prefix);
  assert_int_equal(eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, 0, NULL), 0);
  json_decref(h);
  sleep_ms(50);
  TH_OK(s, eng_sum(d, &sum));
  assert_int_equal(eng_v_long(sum), n * (n - 1));
  assert_int_equal(acc_long(s, acc), n + n * lost / 8);
  assert_int_equal(cached_parts(s, d), 8);
  eng_session_free(s);
}

/* An executor holding cached partitions dies while other executors' tasks
 * read those partitions from it: the readers give up on it at once (not
 * after a fetch timeout) and the partitions are recomputed. */
static void faults_kill_cache_holder_while_read(void **state) {
  (void)state;
  watch w;
  eng_session *s = fx_session(2, &w);
  wait_executors(s, 2);
  eng_udf *wide = th_udf(s, "str wide(long x) { return strf(\"%0200ld\", x); }", "wide", UDF_STR, 1,
                         UDF_LONG, 0);
  const int64_t n = 800000;
  eng_ds *d = eng_cache(eng_map(eng_range(s, 0, n, 1, 8), wide));
  int64_t c;
  TH_OK(s, eng_count(d, &c));
  assert_int_equal(c, n);
  assert_int_equal(cached_parts(s, d), 8);
  eng_udf *slow = th_udf(s, "long slowlen(str x) { volatile long h = 0; for (int i = 0; i < 2000; i++) h += i; return to_long(x); }",
                         "slowlen", UDF_LONG, 1, UDF_STR, 0);
  eng_val sum;
  double t0 = now_ms();
  TH_OK(s, eng_sum(eng_map(d, slow), &sum));
  double base = now_ms() - t0;
  pid_t pids[8];
  eng_session_executor_pids(s, pids, 8);
  watch_reset(&w);
  killer k;
  killer_start(&k, &w, 0, 300, pids[1]);
  t0 = now_ms();
  int rc = eng_sum(eng_map(d, slow), &sum);
  double took = now_ms() - t0;
  killer_join(&k);
  if (rc < 0) fail_msg("%s", eng_session_errmsg(s));
  assert_int_equal(eng_v_long(sum), n * (n - 1) / 2);
  print_message("cache holder killed %.0f ms in; job took %.0f ms (%.0f ms without a kill)\n",
                k.killed_ms - w.job_start, took, base);
  assert_true(k.killed_ms > 0 && k.killed_ms < w.job_end);
  assert_true(took < 8000);
  eng_session_free(s);
}

/* ---- crashing lambdas ----------------------------------------------------------------- */

/* A crash in partition 2 of 4 fails the job with exactly this message after
 * 4 attempts; the executors survive (their guard caught it), and the
 * session, with a dataset cached before, works on. */
static void crash_case(const char *src, const char *name, const char *sig) {
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  pid_t before_pids[8];
  int nb = eng_session_executor_pids(s, before_pids, 8);
  /* Something cached first. */
  eng_val acc = eng_accumulator(s, eng_long(0));
  eng_udf *ident = fx_udf_caps(s, "long ident(long x) { acc_add(c0, 1); return x; }", "ident",
                               UDF_LONG, 1, UDF_LONG, 0, 1, &acc);
  eng_ds *cached = eng_cache(eng_map(eng_range(s, 0, 100000, 1, 4), ident));
  int64_t c;
  TH_OK(s, eng_count(cached, &c));
  assert_int_equal(c, 100000);

  eng_udf *f = th_udf(s, src, name, UDF_LONG, 1, UDF_LONG, 0);
  eng_runstats st0, st1;
  eng_session_stats(s, &st0);
  int rc = eng_count(eng_map(eng_range(s, 0, 100000, 1, 4), f), &c);
  eng_session_stats(s, &st1);
  assert_int_equal(rc, ENG_ETASK);
  char want[256];
  snprintf(want, sizeof want, "TaskFailed: %s in UDF %s (partition 2)", sig, name);
  assert_string_equal(eng_session_errmsg(s), want);
  /* 4 attempts of partition 2: 3 retries. */
  assert_int_equal(st1.task_retries - st0.task_retries, 3);
  /* The executors caught the signal and live on. */
  pid_t after_pids[8];
  int na = eng_session_executor_pids(s, after_pids, 8);
  assert_int_equal(na, nb);
  for (int i = 0; i < na; i++) assert_int_equal(after_pids[i], before_pids[i]);
  assert_int_equal(st1.executors_lost, 0);

  /* Another job, then the cached dataset, without recomputing it. */
  eng_val sum;
  TH_OK(s, eng_sum(eng_range(s, 0, 1000, 1, 4), &sum));
  assert_int_equal(eng_v_long(sum), 499500);
  TH_OK(s, eng_sum(cached, &sum));
  assert_int_equal(eng_v_long(sum), 4999950000LL);
  assert_int_equal(acc_long(s, acc), 100000);
  eng_session_free(s);
}

static void faults_udf_segv(void **state) {
  (void)state;
  crash_case("long boom(long x) { if (x == 60000) { int *p = 0; return *p; } return x; }", "boom",
             "SIGSEGV");
}

static void faults_udf_abort(void **state) {
  (void)state;
  crash_case("long bail(long x) { if (x == 60000) abort(); return x; }", "bail", "SIGABRT");
}

static void faults_udf_fpe(void **state) {
  (void)state;
  crash_case("long divz(long x) { long d = x - 60000; return 1000 / d; }", "divz", "SIGFPE");
}

/* ---- cancel --------------------------------------------------------------------------- */

typedef struct canceller {
  pthread_t th;
  eng_session *s;
  double delay_ms, at;
} canceller;

static void *cancel_main(void *arg) {
  canceller *c = arg;
  sleep_ms(c->delay_ms);
  c->at = now_ms();
  eng_session_cancel(c->s);
  return NULL;
}

/* `while (1);` over a big range: a cancel from another thread 300 ms in
 * ends the action with "Cancelled: ..." within about a second; the same
 * executors then run the next job at once. */
static void faults_cancel_endless_udf(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  pid_t before[8], after[8];
  int nb = eng_session_executor_pids(s, before, 8);
  eng_udf *spin = th_udf(s, "long spin(long x) { while (1); return x; }", "spin", UDF_LONG, 1, UDF_LONG, 0);
  for (int rep = 0; rep < 2; rep++) {
    canceller c = {.s = s, .delay_ms = 300};
    pthread_create(&c.th, NULL, cancel_main, &c);
    int64_t n;
    int rc = eng_count(eng_map(eng_range(s, 0, 10000000, 1, 4), spin), &n);
    double ended = now_ms();
    pthread_join(c.th, NULL);
    assert_int_equal(rc, ENG_ECANCEL);
    assert_true(strncmp(eng_session_errmsg(s), "Cancelled: ", 11) == 0);
    print_message("cancel %d: returned %.0f ms after the cancel\n", rep, ended - c.at);
    assert_true(ended - c.at < 1200);
    /* Next job: quick and right, on the same executors. */
    double t0 = now_ms();
    eng_val sum;
    TH_OK(s, eng_sum(eng_range(s, 0, 100000, 1, 4), &sum));
    assert_int_equal(eng_v_long(sum), 4999950000LL);
    assert_true(now_ms() - t0 < 1000);
    int na = eng_session_executor_pids(s, after, 8);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) assert_int_equal(after[i], before[i]);
  }
  /* A cancel between jobs is forgotten by the next action... */
  eng_val sum;
  TH_OK(s, eng_sum(eng_range(s, 0, 10, 1, 2), &sum));
  assert_int_equal(eng_v_long(sum), 45);
  eng_session_free(s);
}

/* A shuffle job cancelled in its map stage, and one cancelled in its result
 * stage (at 30% and 80% of the time the same job takes uncancelled); each
 * time the next run of the same dataset gives the exact answer.
 * Regression: reduce tasks killed while they waited for a block left the
 * answer on the executor's socket to that peer, and the next task's fetch
 * took it for its own -- whole partitions of the rerun came out twice
 * (exec.c numbers fetch requests now). */
static void faults_cancel_shuffle_then_rerun(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  const int64_t n = 4000000;
  eng_val out;
  double t0 = now_ms();
  TH_OK(s, eng_collect(sum_by_key_job(s, n, 8, NULL), &out));
  double base = now_ms() - t0;
  const double at[] = {0.3, 0.8, 0.5, 0.9};
  int cancelled = 0;
  for (int round = 0; round < 4; round++) {
    eng_ds *d = sum_by_key_job(s, n, 8, NULL);
    canceller c = {.s = s, .delay_ms = base * at[round]};
    pthread_create(&c.th, NULL, cancel_main, &c);
    int rc = eng_collect(d, &out);
    double ended = now_ms();
    pthread_join(c.th, NULL);
    if (rc == ENG_ECANCEL) {
      cancelled++;
      assert_true(strncmp(eng_session_errmsg(s), "Cancelled: ", 11) == 0);
      print_message("shuffle cancelled %.0f ms in (of %.0f): returned %.0f ms after the cancel\n",
                    base * at[round], base, ended - c.at);
      assert_true(ended - c.at < 1200);
    } else {
      /* It ended before the cancel came: then the answer must be whole, and
       * the cancel, which came between jobs, would stop the next one (see
       * eng_session_cancel): it is dropped. */
      TH_OK(s, rc);
      th_check_sum_by_key(out, n);
      eng_session_clear_cancel(s);
    }
    TH_OK(s, eng_collect(d, &out));
    th_check_sum_by_key(out, n);
  }
  assert_true(cancelled >= 2);
  eng_runstats st;
  eng_session_stats(s, &st);
  assert_int_equal(st.executors_lost, 0);
  eng_session_free(s);
}

/* ---- compile errors ------------------------------------------------------------------- */

static void faults_udf_compile_error(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  const char *src = "#line 1 \"cell[4]\"\nlong bad(long x) {\n  return x + y;\n}\n";
  udf_type ps[1] = {UDF_LONG};
  udf_def *d = udf_def_new("bad", src, "bad", UDF_LONG, 1, ps, 0, NULL, NULL);
  eng_udf *f = eng_udf_new(s, d, NULL);
  udf_def_free(d);
  assert_null(f);
  const char *msg = eng_session_errmsg(s);
  print_message("compile error: %s\n", msg);
  assert_true(strncmp(msg, "CompileError: ", 14) == 0);
  assert_string_equal(msg, "CompileError: cell[4]:2: error: 'y' undeclared");
  assert_int_equal(eng_session_errcode(s), ENG_ECOMPILE);
  eng_runstats st;
  eng_session_stats(s, &st);
  assert_int_equal(st.jobs, 0);
  assert_int_equal(st.tasks, 0);
  /* An undefined function is a compile (link) error too. */
  const char *src2 = "#line 1 \"cell[5]\"\nlong bad2(long x) { return no_such_fn(x); }\n";
  d = udf_def_new("bad2", src2, "bad2", UDF_LONG, 1, ps, 0, NULL, NULL);
  f = eng_udf_new(s, d, NULL);
  udf_def_free(d);
  assert_null(f);
  assert_true(strncmp(eng_session_errmsg(s), "CompileError: ", 14) == 0);
  eng_session_stats(s, &st);
  assert_int_equal(st.tasks, 0);
  eng_session_free(s);
}

/* ---- accumulators and broadcasts ---------------------------------------------------------- */

/* A task of a foreach crashes once (first attempt only: a marker file) and
 * is retried; the accumulator still counts each row once. */
static void faults_retry_counts_accumulator_once(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  char marker[256];
  snprintf(marker, sizeof marker, "/tmp/ember-faults-%d-marker", (int)getpid());
  unlink(marker);
  char src[1024];
  snprintf(src, sizeof src,
           "void once(long x) { acc_add(c0, 1); acc_add(c1, x);"
           " if (x == 70000) { FILE *f = fopen(\"%s\", \"wx\"); if (f) { fclose(f); int *p = 0; *p = 1; } } }",
           marker);
  eng_val accs[2] = {eng_accumulator(s, eng_long(0)), eng_accumulator(s, eng_long(0))};
  eng_udf *f = fx_udf_caps(s, src, "once", UDF_VOID, 1, UDF_LONG, 0, 2, accs);
  eng_runstats st0, st1;
  eng_session_stats(s, &st0);
  TH_OK(s, eng_foreach(eng_range(s, 0, 100000, 1, 4), f));
  eng_session_stats(s, &st1);
  unlink(marker);
  assert_int_equal(st1.task_retries - st0.task_retries, 1);
  assert_int_equal(acc_long(s, accs[0]), 100000);
  assert_int_equal(acc_long(s, accs[1]), 4999950000LL);
  eng_session_free(s);
}

/* A broadcast goes to each executor once: the driver records one shipment
 * per executor, and every task on an executor sees the same decoded copy
 * (same address), not one decoded per task. */
static void faults_broadcast_once_per_executor(void **state) {
  (void)state;
  eng_session *s = fx_session(2, NULL);
  wait_executors(s, 2);
  eng_arena *a = eng_session_arena(s);
  enum { NB = 50000 };
  eng_val *items = eng_arena_alloc(a, NB * sizeof *items);
  for (int i = 0; i < NB; i++) items[i] = eng_long(i);
  eng_val b = eng_broadcast(s, eng_list(a, items, NB));
  eng_udf *f = fx_udf_caps(s,
                           "int getpid(void);\n"
                           "val where(val rows) { long sum = 0; for (long i = 0; i < len(c0); i++) sum += as_long(at(c0, i));"
                           " return list(tuple((long)getpid(), (long)((val *)c0.p)->p, sum, len(rows))); }",
                           "where", UDF_VAL, 1, UDF_VAL, 0, 1, &b);
  const int parts = 24;
  eng_val out;
  TH_OK(s, eng_collect(eng_map_partitions(eng_range(s, 0, 240000, 1, parts), f), &out));
  assert_int_equal(ENG_VLEN(out), parts);
  long pids[8] = {0}, addrs[8] = {0};
  int npids = 0;
  int64_t rows = 0;
  for (long i = 0; i < ENG_VLEN(out); i++) {
    const eng_val *t = eng_v_items(eng_v_items(out)[i]);
    long pid = (long)eng_v_long(t[0]), addr = (long)eng_v_long(t[1]);
    assert_int_equal(eng_v_long(t[2]), (int64_t)NB * (NB - 1) / 2);
    rows += eng_v_long(t[3]);
    int j = 0;
    while (j < npids && pids[j] != pid) j++;
    if (j == npids) {
      assert_true(npids < 8);
      pids[npids] = pid;
      addrs[npids++] = addr;
    }
    assert_int_equal(addrs[j], addr); /* the same copy in every task there */
  }
  assert_int_equal(rows, 240000);
  /* The driver shipped it once to each executor that ran tasks. */
  int shipped = 0;
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    int n = 0;
    for (int k = 0; k < e->nbcasts; k++) n += e->bcasts[k] == ENG_VLEN(b);
    assert_true(n <= 1);
    shipped += n;
  }
  assert_int_equal(shipped, npids);
  /* A second job sends nothing new and still sees it. */
  TH_OK(s, eng_collect(eng_map_partitions(eng_range(s, 0, 24000, 1, parts), f), &out));
  for (int i = 0; i < s->nexecs; i++) assert_true(s->execs[i].nbcasts <= 1);
  eng_session_free(s);
}

/* Ending a session whose executors are still starting (no job ran, or a
 * job done before the second registered) kills them at once instead of
 * waiting out the 2 s stop deadline: a quick `ember -e` exits quickly. */
static void faults_session_end_with_starting_executors(void **state) {
  (void)state;
  for (int round = 0; round < 3; round++) {
    eng_session *s = th_session(2);
    pid_t pids[4];
    int n = eng_session_executor_pids(s, pids, 4);
    assert_int_equal(n, 2);
    double t0 = now_ms();
    eng_session_free(s);
    double took = now_ms() - t0;
    print_message("session end with starting executors: %.0f ms\n", took);
    assert_true(took < 1000);
    for (int i = 0; i < n; i++) assert_true(kill(pids[i], 0) < 0); /* gone, and reaped */
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(faults_udf_compile_error),
    cmocka_unit_test(faults_session_end_with_starting_executors),
    cmocka_unit_test(faults_udf_segv),
    cmocka_unit_test(faults_udf_abort),
    cmocka_unit_test(faults_udf_fpe),
    cmocka_unit_test(faults_cancel_endless_udf),
    cmocka_unit_test(faults_cancel_shuffle_then_rerun),
    cmocka_unit_test(faults_retry_counts_accumulator_once),
    cmocka_unit_test(faults_broadcast_once_per_executor),
    cmocka_unit_test(faults_cached_partitions_recomputed),
    cmocka_unit_test(faults_kill_cache_holder_while_read),
    cmocka_unit_test(faults_cached_block_missing),
    cmocka_unit_test(faults_kill_during_map_stage),
    cmocka_unit_test(faults_kill_during_result_stage),
    cmocka_unit_test(faults_kill_during_result_stage_many_parts),
    cmocka_unit_test(faults_kill_all_executors),
    cmocka_unit_test(faults_kill_during_sort),
    cmocka_unit_test(faults_executors_always_replaced),
    cmocka_unit_test(faults_kill_during_shuffle),
};

TH_MAIN(tests)
