/* sched.c -- running a job: stages split at shuffles, one task per
 * partition, dispatched to executors, with retries and recovery.
 *
 * The loop, on the session's thread, repeats: notice dead executors; plan
 * (a map stage for every shuffle the result needs that has missing map
 * outputs and whose own inputs are complete; the result stage once its
 * shuffles are complete); dispatch pending tasks to idle executors; wait for
 * messages. Shuffle outputs and cached partitions outlive jobs, so a later
 * job skips stages whose outputs exist (Spark's "skipped stages").
 *
 * Failures: a task that crashed (a signal in user code) or whose executor
 * died is retried, up to 4 attempts; a task that raised an error (TypeError,
 * ValueError...) would raise it again, so the job fails at once; a task that
 * could not fetch a map output (or a cached partition) gets it recomputed and
 * runs again. When an executor dies, its map outputs and cached partitions
 * are forgotten (and recomputed from lineage when needed), tasks reading from
 * it are restarted, and a new executor is started in its place. Tasks are
 * only sent once the map outputs their stage reads all exist.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "session_int.h"
#include "val.h"

#define MAX_ATTEMPTS 4
#define MAX_FETCH_FAILS 16

enum { T_PENDING = 0, T_RUNNING = 1, T_DONE = 2, T_GONE = 3 };

typedef struct ttask {
  int stage;
  int part;
  int attempt;
  int state;
  int exec;
  int64_t tid;
  int resubmit; /* killed because an input was lost: failure does not count */
} ttask;

typedef struct jstage {
  int id;           /* user-facing */
  eng_shuffle *sh;  /* NULL: the result stage */
  eng_ds *ds;
  int ntasks, done, running;
  int announced, finished;
} jstage;

typedef struct job {
  eng_session *s;
  const eng_jobspec *spec;
  int id;
  jstage *stages;
  int nstages;
  ttask *tasks;
  int ntasks, captasks;
  int result_stage;
  int *result_done; /* per requested partition index */
  int nresult;
  int nresult_done;
  int failed;
  eng_err err;
  int cancelling;
  double start;
  double compile_max; /* the longest UDF compile of one of its tasks */
  int fetch_fails;
  char desc[256];
} job;

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

static void stage_event(job *j, jstage *st, int kind) {
  eng_event ev = {.kind = kind, .job = j->id, .stage = st->id, .tasks = st->ntasks,
                  .done = st->done, .running = st->running,
                  .elapsed_ms = eng_now_ms() - j->start, .desc = j->desc};
  eng__emit(j->s, &ev);
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                 */
/* ------------------------------------------------------------------------ */

static int shuffle_complete(eng_shuffle *sh) {
  for (int m = 0; m < sh->nmaps; m++)
    if (sh->map_exec[m] < 0) return 0;
  return 1;
}

static jstage *stage_for(job *j, eng_shuffle *sh, eng_ds *ds, int ntasks) {
  for (int i = 0; i < j->nstages; i++)
    if (j->stages[i].sh == sh && (sh || j->stages[i].ds == ds)) return &j->stages[i];
  jstage *v = eng_realloc(j->stages, (size_t)(j->nstages + 1) * sizeof *v);
  if (!v) return NULL;
  j->stages = v;
  jstage *st = &j->stages[j->nstages++];
  memset(st, 0, sizeof *st);
  st->id = j->s->next_stage++;
  st->sh = sh;
  st->ds = ds;
  st->ntasks = ntasks;
  if (sh) sh->stage_id = st->id;
  return st;
}

static int task_active(job *j, int stage, int part) {
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].stage == stage && j->tasks[i].part == part &&
        (j->tasks[i].state == T_PENDING || j->tasks[i].state == T_RUNNING))
      return 1;
  return 0;
}

static ttask *add_task(job *j, int stage, int part, int attempt) {
  if (j->ntasks == j->captasks) {
    int cap = j->captasks ? j->captasks * 2 : 64;
    ttask *v = eng_realloc(j->tasks, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    j->tasks = v;
    j->captasks = cap;
  }
  ttask *t = &j->tasks[j->ntasks++];
  memset(t, 0, sizeof *t);
  t->stage = stage;
  t->part = part;
  t->attempt = attempt;
  t->exec = -1;
  t->tid = -1;
  return t;
}

/* Adds tasks for the map outputs shuffle sh is missing, if its own inputs
 * are complete; otherwise plans those first. Returns <0 on out-of-memory. */
static int plan_shuffle(job *j, eng_shuffle *sh, int depth) {
  if (depth > 256) return 0;
  eng_shuffle *parents[64];
  int np = eng__direct_shuffles(sh->map_ds, parents, 64);
  int ready = 1;
  for (int i = 0; i < np; i++) {
    if (!shuffle_complete(parents[i])) {
      ready = 0;
      ENG_TRY(plan_shuffle(j, parents[i], depth + 1));
    }
  }
  if (!ready) return 0;
  jstage *st = stage_for(j, sh, sh->map_ds, sh->nmaps);
  if (!st) return ENG_ENOMEM;
  int si = (int)(st - j->stages);
  int missing = 0;
  for (int m = 0; m < sh->nmaps; m++) {
    if (sh->map_exec[m] >= 0) continue;
    missing++;
    if (!task_active(j, si, m) && !add_task(j, si, m, 0)) return ENG_ENOMEM;
  }
  if (missing && st->finished) st->finished = 0; /* a lost output: the stage runs again */
  st->ntasks = sh->nmaps;
  st->done = sh->nmaps - missing;
  return 0;
}

static int plan(job *j) {
  eng_shuffle *direct[64];
  int n = eng__direct_shuffles(j->spec->ds, direct, 64);
  int ready = 1;
  for (int i = 0; i < n; i++) {
    if (!shuffle_complete(direct[i])) {
      ready = 0;
      ENG_TRY(plan_shuffle(j, direct[i], 0));
    }
  }
  if (!ready) return 0;
  if (j->result_stage < 0) {
    jstage *st = stage_for(j, NULL, j->spec->ds, j->nresult);
    if (!st) return ENG_ENOMEM;
    j->result_stage = (int)(st - j->stages);
  }
  for (int i = 0; i < j->nresult; i++) {
    if (j->result_done[i] || task_active(j, j->result_stage, i)) continue;
    if (!add_task(j, j->result_stage, i, 0)) return ENG_ENOMEM;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

static int result_part(job *j, int idx) { return j->spec->parts ? j->spec->parts[idx] : idx; }

static void mark_exec_dead(eng_session *s, eng_execinfo *e, const char *why) {
  if (e->state == EX_DEAD) return;
  if (e->pid > 0) {
    kill(e->pid, SIGKILL);
  }
  snprintf(e->death, sizeof e->death, "%s", why);
}

static int send_task(job *j, ttask *t, eng_execinfo *e) {
  eng_session *s = j->s;
  jstage *st = &j->stages[t->stage];
  eng_taskgen g;
  eng__taskgen_init(&g, s, e);
  int part = st->sh ? t->part : result_part(j, t->part);
  if (j->spec->ckpt_ds >= 0 && !st->sh) g.ckpt_ds = j->spec->ckpt_ds;
  json_t *root = eng__taskgen_node(&g, st->ds, part);
  json_t *sink = st->sh ? eng__taskgen_shuffle_sink(&g, st->sh, t->part)
                        : j->spec->sink_fn(&g, part, j->spec->ctx);
  t->tid = s->next_tid++;
  json_t *h = json_pack("{s:s, s:I, s:i, s:i, s:i, s:i, s:O, s:O, s:o, s:o}", "t", "launch", "tid",
                        (json_int_t)t->tid, "job", j->id, "stage", st->id, "part", part, "attempt",
                        t->attempt, "udfs", g.udfs, "bcasts", g.bcasts, "root", root, "sink", sink);
  eng_err err;
  int rc = eng_msg_send(s->router, e->zid, e->zid_len, h, g.frames, g.nframes, ZMQ_DONTWAIT, &err);
  json_decref(h);
  eng__taskgen_free(&g);
  if (rc < 0) {
    /* Unroutable: the executor is gone (its process will be reaped). */
    mark_exec_dead(s, e, "unreachable");
    return rc;
  }
  t->state = T_RUNNING;
  t->exec = e->id;
  e->running_tid = t->tid;
  st->running++;
  s->stats.tasks++;
  if (!st->announced) {
    st->announced = 1;
    stage_event(j, st, ENG_EV_STAGE_START);
  }
  stage_event(j, st, ENG_EV_PROGRESS);
  return 0;
}

/* The executor holding this task's input cached, when there is one. */
static int preferred_exec(job *j, ttask *t) {
  jstage *st = &j->stages[t->stage];
  int part = st->sh ? t->part : result_part(j, t->part);
  for (eng_ds *d = st->ds; d; d = d->nparents == 1 && !eng__ds_is_wide(d) ? d->parents[0] : NULL) {
    if (d->storage && d->cached_on && part < d->nparts && d->cached_on[part] >= 0) return d->cached_on[part];
    if (d->op == ENG_OP_COALESCE || d->op == ENG_OP_UNION || d->op == ENG_OP_CARTESIAN) break;
  }
  return -1;
}

/* Are all the map outputs stage st reads there? A task sent before they are
 * (one planned earlier, or retried, while an executor's outputs were lost)
 * would only fail to fetch them, using up the job's fetch failures. */
static int stage_ready(jstage *st) {
  eng_shuffle *direct[64];
  int n = eng__direct_shuffles(st->ds, direct, 64);
  for (int i = 0; i < n; i++)
    if (!shuffle_complete(direct[i])) return 0;
  return 1;
}

static void dispatch(job *j) {
  eng_session *s = j->s;
  /* Per stage: 0 not known yet, 1 ready, -1 waiting for map outputs. */
  signed char *ready = eng_calloc((size_t)j->nstages + 1, 1);
  if (!ready) return;
  for (int i = 0; i < j->ntasks; i++) {
    ttask *t = &j->tasks[i];
    if (t->state != T_PENDING) continue;
    if (!ready[t->stage]) ready[t->stage] = stage_ready(&j->stages[t->stage]) ? 1 : -1;
    if (ready[t->stage] < 0) continue;
    eng_execinfo *pick = NULL;
    int pref = preferred_exec(j, t);
    for (int k = 0; k < s->nexecs; k++) {
      eng_execinfo *e = &s->execs[k];
      if (e->state != EX_ALIVE || e->running_tid >= 0) continue;
      if (e->id == pref) {
        pick = e;
        break;
      }
      if (!pick) pick = e;
    }
    if (!pick) break;
    send_task(j, t, pick);
  }
  eng_free(ready);
}

/* ------------------------------------------------------------------------ */
/* Results and failures                                                     */
/* ------------------------------------------------------------------------ */

static ttask *task_by_tid(job *j, int64_t tid) {
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].tid == tid) return &j->tasks[i];
  return NULL;
}

static void fail_job(job *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_job(job *j, int code, const char *fmt, ...) {
  if (j->failed) return;
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(&j->err, code, fmt, ap);
  va_end(ap);
  j->failed = 1;
}

/* Records blocks a task stored (cached partitions, checkpoint parts). */
static void note_stored(eng_session *s, eng_execinfo *e, json_t *stored) {
  size_t i;
  json_t *x;
  json_array_foreach(stored, i, x) {
    int ds = (int)json_integer_value(json_array_get(x, 0));
    int part = (int)json_integer_value(json_array_get(x, 1));
    int level = (int)json_integer_value(json_array_get(x, 2));
    if (ds < 0 || ds >= s->nds || level < 0) continue;
    eng_ds *d = s->ds[ds];
    if (!d->cached_on || part < 0 || part >= d->nparts) continue;
    d->cached_on[part] = e->id;
    d->cached_mem[part] = json_integer_value(json_array_get(x, 3));
    d->cached_disk[part] = json_integer_value(json_array_get(x, 4));
  }
}

static void merge_accs(eng_session *s, eng_msg *m) {
  json_t *aj = json_object_get(m->hdr, "accs");
  if (!aj) return;
  size_t len;
  const void *p = eng_msg_frame(m, (long)json_integer_value(aj), &len);
  if (!p) return;
  eng_rd r;
  eng_rd_init(&r, p, len);
  eng_arena *tmp = eng_arena_new(0);
  eng_val l;
  if (tmp && eng_val_read(&r, tmp, &l) == 0 && eng_is_seq(l)) {
    for (long i = 0; i < ENG_VLEN(l); i++) {
      eng_val pr = eng_v_items(l)[i];
      if (!eng_is_seq(pr) || ENG_VLEN(pr) != 2) continue;
      eng_accum *a = eng__acc_by_id(s, (long)eng_v_long(eng_v_items(pr)[0]));
      if (!a) continue;
      eng_val sum;
      if (eng_val_add(s->vals, *a->slot, eng_v_items(pr)[1], &sum, NULL) == 0)
        *a->slot = eng_val_copy(s->vals, sum);
    }
  }
  eng_arena_free(tmp);
}

static void task_done(job *j, eng_msg *m) {
  eng_session *s = j->s;
  int64_t tid = json_integer_value(json_object_get(m->hdr, "tid"));
  eng_execinfo *e = eng__exec_by_zid(s, m->peer, m->peer_len);
  if (e && e->running_tid == tid) e->running_tid = -1;
  if (e) e->tasks_done++;
  if (e) note_stored(s, e, json_object_get(m->hdr, "stored"));
  json_t *met = json_object_get(m->hdr, "metrics");
  double cms = json_number_value(json_object_get(met, "compile_ms"));
  s->stats.task_ms += json_number_value(json_object_get(met, "run_ms"));
  ttask *t = task_by_tid(j, tid);
  if (!t || t->state != T_RUNNING) return; /* stale: an earlier job's task */
  if (cms > j->compile_max) j->compile_max = cms;
  jstage *st = &j->stages[t->stage];
  st->running--;
  int ok = json_is_true(json_object_get(m->hdr, "ok"));
  if (ok) {
    if (st->sh) {
      json_t *ms = json_object_get(m->hdr, "map_sizes");
      int64_t *sz = eng_calloc((size_t)st->sh->nreduce + 1, sizeof *sz);
      for (int r = 0; sz && r < st->sh->nreduce; r++) sz[r] = json_integer_value(json_array_get(ms, (size_t)r));
      eng_free(st->sh->sizes[t->part]);
      st->sh->sizes[t->part] = sz;
      st->sh->map_exec[t->part] = e ? e->id : -1;
    } else if (!j->cancelling && !j->failed) {
      int rc = j->spec->on_result(s, result_part(j, t->part), m, j->spec->ctx);
      if (rc < 0) fail_job(j, rc, "%s", s->err.msg);
      j->result_done[t->part] = 1;
      j->nresult_done++;
    }
    merge_accs(s, m);
    t->state = T_DONE;
    st->done++;
    stage_event(j, st, ENG_EV_PROGRESS);
    return;
  }
  int code = (int)json_integer_value(json_object_get(m->hdr, "code"));
  const char *err = json_string_value(json_object_get(m->hdr, "err"));
  if (!err) err = "task failed";
  t->state = T_GONE;
  if (j->cancelling || j->failed) return;
  if (t->resubmit) {
    add_task(j, t - j->tasks < j->ntasks ? t->stage : 0, t->part, t->attempt);
    return;
  }
  json_t *ff = json_object_get(m->hdr, "ff");
  if (code == ENG_EFETCH || ff) {
    /* A map output is gone: forget it; planning recomputes it and the task
     * is planned again once it exists. */
    if (ff) {
      eng_shuffle *sh = eng__shuffle_by_id(s, (int)json_integer_value(json_object_get(ff, "shuffle")));
      int map = (int)json_integer_value(json_object_get(ff, "map"));
      if (sh && map >= 0 && map < sh->nmaps) sh->map_exec[map] = -1;
    }
    /* A cached partition that is gone (dropped before the holder said so):
     * no longer cached, so the task computes it again. */
    json_t *ffb = json_object_get(m->hdr, "ffb");
    int ds = (int)json_integer_value(json_array_get(ffb, 0));
    int part = (int)json_integer_value(json_array_get(ffb, 1));
    if (ffb && ds >= 0 && ds < s->nds && s->ds[ds]->cached_on && part >= 0 && part < s->ds[ds]->nparts) {
      s->ds[ds]->cached_on[part] = -1;
      s->ds[ds]->cached_mem[part] = s->ds[ds]->cached_disk[part] = 0;
    }
    if (++j->fetch_fails > MAX_FETCH_FAILS) fail_job(j, ENG_ETASK, "TaskFailed: %s", err);
    s->stats.task_retries++;
    return;
  }
  if (code == ENG_ECANCEL) {
    fail_job(j, ENG_ECANCEL, "Cancelled: job cancelled");
    return;
  }
  if (code == ENG_ECRASH || code == ENG_ELOST || code == ENG_EIO || code == ENG_ENOMEM) {
    if (t->attempt + 1 >= MAX_ATTEMPTS) {
      fail_job(j, ENG_ETASK, "TaskFailed: %s", err);
      return;
    }
    s->stats.task_retries++;
    int stage = t->stage, part = t->part, attempt = t->attempt + 1;
    add_task(j, stage, part, attempt); /* may move j->tasks: t is not used after */
    return;
  }
  /* Raised by user code or a helper: the same input raises again. */
  fail_job(j, ENG_ETASK, "TaskFailed: %s", err);
}

/* Handles executors found dead: their tasks run again elsewhere (counting an
 * attempt), tasks that read their outputs are restarted (not counting). */
static void executors_lost(job *j) {
  eng_session *s = j->s;
  for (int k = 0; k < s->nexecs; k++) {
    eng_execinfo *e = &s->execs[k];
    if (e->state != EX_DEAD || e->running_tid == -2) continue;
    e->running_tid = -2; /* handled */
    int requeued = 0;
    for (int i = 0; i < j->ntasks; i++) {
      ttask *t = &j->tasks[i];
      if (t->state != T_RUNNING || t->exec != e->id) continue;
      t->state = T_GONE;
      j->stages[t->stage].running--;
      requeued++;
      if (j->cancelling || j->failed) continue;
      if (t->attempt + 1 >= MAX_ATTEMPTS) {
        fail_job(j, ENG_ETASK, "TaskFailed: ExecutorLost: executor %d %s while running partition %d",
                 e->id, e->death, t->part);
        continue;
      }
      s->stats.task_retries++;
      int stage = t->stage, part = t->part, attempt = t->attempt + 1;
      add_task(j, stage, part, attempt);
    }
    /* Running tasks of stages that read shuffles: they may be fetching from
     * the lost executor; restart them once the outputs are recomputed. */
    for (int i = 0; i < j->ntasks; i++) {
      ttask *t = &j->tasks[i];
      if (t->state != T_RUNNING || t->resubmit) continue;
      eng_shuffle *direct[64];
      int nd = eng__direct_shuffles(j->stages[t->stage].ds, direct, 64);
      int lost = 0;
      for (int d = 0; d < nd; d++) lost |= !shuffle_complete(direct[d]);
      if (!lost) continue;
      t->resubmit = 1;
      eng_execinfo *te = eng__exec_by_id(s, t->exec);
      if (te && te->state == EX_ALIVE) {
        json_t *h = json_pack("{s:s, s:I}", "t", "kill", "tid", (json_int_t)t->tid);
        eng_msg_send(s->router, te->zid, te->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
        json_decref(h);
      }
    }
    /* Warned in preparing jobs too: the death is handled (and forgotten)
     * here, whichever job noticed it. */
    /* A cluster's executors run on other hosts: their pids mean nothing here. */
    char pid[32] = "";
    if (e->pid > 0) snprintf(pid, sizeof pid, " (pid %d)", (int)e->pid);
    eng__warn(s, "ExecutorLost: executor %d%s %s; %d task%s will run again and lost partitions are recomputed from lineage",
              e->id, pid, e->death, requeued, requeued == 1 ? "" : "s");
  }
}

/* Sends kill to every running task of the job. */
static void kill_running(job *j) {
  eng_session *s = j->s;
  for (int i = 0; i < j->ntasks; i++) {
    ttask *t = &j->tasks[i];
    if (t->state != T_RUNNING) continue;
    eng_execinfo *e = eng__exec_by_id(s, t->exec);
    if (!e || e->state != EX_ALIVE) continue;
    json_t *h = json_pack("{s:s, s:I}", "t", "kill", "tid", (json_int_t)t->tid);
    eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
    json_decref(h);
  }
}

static int running_count(job *j) {
  int n = 0;
  for (int i = 0; i < j->ntasks; i++) n += j->tasks[i].state == T_RUNNING;
  return n;
}

/* Receives and handles messages for up to timeout_ms. */
static void pump(job *j, int timeout_ms) {
  eng_session *s = j->s;
  zmq_pollitem_t it = {s->router, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, timeout_ms) <= 0) return;
  for (int k = 0; k < 1000; k++) {
    eng_msg m;
    eng_err err;
    if (eng_msg_recv(s->router, 1, &m, ZMQ_DONTWAIT, &err) < 0) {
      if (err.code == ENG_EPROTO) continue;
      break;
    }
    if (!eng__handle_exec_msg(s, &m) && strcmp(m.type, "done") == 0) task_done(j, &m);
    eng_msg_close(&m);
  }
}

static int alive_count(eng_session *s) {
  int n = 0;
  for (int i = 0; i < s->nexecs; i++) n += s->execs[i].state == EX_ALIVE;
  return n;
}

/* Ends a cancelled or failed job: kills its tasks, waits for them (a task in
 * an endless loop gets interrupted by its executor), and as a last resort
 * kills executors that do not stop (they are restarted). */
static void wind_down(job *j) {
  kill_running(j);
  double deadline = eng_now_ms() + 1500;
  while (running_count(j) > 0 && eng_now_ms() < deadline) {
    pump(j, 20);
    eng__reap_executors(j->s);
    executors_lost(j);
  }
  if (running_count(j) > 0) {
    for (int i = 0; i < j->ntasks; i++) {
      ttask *t = &j->tasks[i];
      if (t->state != T_RUNNING) continue;
      eng_execinfo *e = eng__exec_by_id(j->s, t->exec);
      if (e) mark_exec_dead(j->s, e, "did not stop when cancelled");
    }
    eng__reap_executors(j->s);
    executors_lost(j);
  }
}

/* ------------------------------------------------------------------------ */
/* Preparing: range bounds and zip offsets                                   */
/* ------------------------------------------------------------------------ */

typedef struct prep_ctx {
  eng_ds *d;
  int64_t *counts;
  eng_vlist samples; /* (weight, key) */
  eng_arena *a;
} prep_ctx;

static json_t *count_sink(eng_taskgen *g, int part, void *ctx) {
  (void)g;
  (void)part;
  (void)ctx;
  return json_pack("{s:s, s:s}", "kind", "result", "action", "count");
}

static int read_result(eng_msg *m, eng_arena *a, eng_val *out) {
  json_t *r = json_object_get(m->hdr, "result");
  size_t len;
  const void *p = r ? eng_msg_frame(m, (long)json_integer_value(r), &len) : NULL;
  if (!p) return ENG_EPROTO;
  eng_rd rd;
  eng_rd_init(&rd, p, len);
  return eng_val_read(&rd, a, out);
}

static int count_result(eng_session *s, int part, eng_msg *m, void *ctx) {
  prep_ctx *c = ctx;
  eng_val v;
  if (read_result(m, c->a, &v) < 0) return eng__fail(s, ENG_EPROTO, "ProtocolError: bad count");
  c->counts[part] = eng_v_long(v);
  return 0;
}

static json_t *sample_sink(eng_taskgen *g, int part, void *ctx) {
  (void)part;
  prep_ctx *c = ctx;
  int R = c->d->sh.nparts;
  double size = 20.0 * R;
  if (size > 1e6) size = 1e6;
  int per = (int)(3.0 * size / (c->d->parents[0]->nparts ? c->d->parents[0]->nparts : 1)) + 1;
  json_t *k = json_pack("{s:s, s:s, s:i}", "kind", "result", "action", "sample", "n", per);
  if (c->d->sh.keyfn) json_object_set_new(k, "key", eng__taskgen_udf(g, c->d->sh.keyfn));
  return k;
}

static int sample_result(eng_session *s, int part, eng_msg *m, void *ctx) {
  (void)part;
  prep_ctx *c = ctx;
  eng_val v;
  if (read_result(m, c->a, &v) < 0 || !eng_is_seq(v) || ENG_VLEN(v) != 2)
    return eng__fail(s, ENG_EPROTO, "ProtocolError: bad sample");
  int64_t n = eng_v_long(eng_v_items(v)[0]);
  eng_val l = eng_v_items(v)[1];
  long k = ENG_VLEN(l);
  double w = k ? (double)n / (double)k : 0;
  /* The keys point into the message, which is freed after this call. */
  for (long i = 0; i < k; i++)
    eng_vlist_push(&c->samples, eng_pair(c->a, eng_double(w), eng_val_copy(c->a, eng_v_items(l)[i])));
  return 0;
}

static int cmp_weighted(const void *x, const void *y, void *ctx) {
  int *bad = ctx;
  eng_val a = eng_v_items(*(const eng_val *)x)[1], b = eng_v_items(*(const eng_val *)y)[1];
  int c;
  if (eng_val_cmp(a, b, &c, NULL) < 0) {
    *bad = 1;
    c = eng_val_cmp_total(a, b);
  }
  return c;
}

/* Spark's RangePartitioner.determineBounds: weighted quantiles. */
static int choose_bounds(eng_session *s, eng_ds *d, prep_ctx *c) {
  long n = c->samples.n;
  eng_val *v = c->samples.items;
  int bad = 0;
  if (n > 1) qsort_r(v, (size_t)n, sizeof *v, cmp_weighted, &bad); /* v is NULL without samples */
  if (bad) {
    /* Find a pair to name in the error, as Python's sort would raise. */
    for (long i = 1; i < n; i++) {
      int x;
      eng_err e;
      if (eng_val_cmp(eng_v_items(v[i - 1])[1], eng_v_items(v[i])[1], &x, &e) < 0)
        return eng__fail(s, ENG_ETYPE, "%s", e.msg);
    }
  }
  int R = d->sh.nparts;
  double total = 0;
  for (long i = 0; i < n; i++) total += eng_v_double(eng_v_items(v[i])[0]);
  double step = total / R, cum = 0, target = step;
  eng_val *bounds = eng_calloc((size_t)R + 1, sizeof *bounds);
  if (!bounds) return eng__fail(s, ENG_ENOMEM, "MemoryError: bounds");
  int nb = 0;
  eng_val prev = eng_none();
  for (long i = 0; i < n && nb < R - 1; i++) {
    cum += eng_v_double(eng_v_items(v[i])[0]);
    eng_val key = eng_v_items(v[i])[1];
    if (cum >= target) {
      int cmpv = 1;
      if (nb > 0) eng_val_cmp(key, prev, &cmpv, NULL);
      if (nb == 0 || cmpv > 0) {
        bounds[nb++] = eng_val_copy(s->plan, key);
        prev = key;
        target += step;
      }
    }
  }
  eng_free(d->sh.bounds);
  d->sh.bounds = bounds;
  d->sh.nbounds = nb;
  d->sh.bounds_ready = 1;
  return 0;
}

static int prepare(eng_session *s, eng_ds *d, int depth);

static int prepare_node(eng_session *s, eng_ds *d) {
  int need_zip = d->op == ENG_OP_ZIP_INDEX && !d->offsets;
  int need_bounds = d->op == ENG_OP_SHUFFLED && d->sh.part_kind == ENG_PART_RANGE && !d->sh.bounds_ready;
  if (!need_zip && !need_bounds) return 0;
  eng_ds *parent = d->parents[0];
  prep_ctx c = {.d = d};
  c.a = eng_arena_new(0);
  c.counts = eng_calloc((size_t)parent->nparts + 1, sizeof *c.counts);
  if (!c.a || !c.counts) {
    eng_arena_free(c.a);
    eng_free(c.counts);
    return eng__fail(s, ENG_ENOMEM, "MemoryError: preparing");
  }
  eng_vlist_init(&c.samples, c.a);
  eng_jobspec spec = {.ds = parent, .nparts = parent->nparts, .ctx = &c, .internal = 1,
                      .ckpt_ds = -1};
  int rc;
  if (need_zip) {
    spec.action = "zip_with_index";
    spec.sink_fn = count_sink;
    spec.on_result = count_result;
    rc = parent->nparts ? eng__run_job(s, &spec) : 0;
    if (rc == 0) {
      d->offsets = eng_calloc((size_t)parent->nparts + 1, sizeof *d->offsets);
      if (!d->offsets) rc = eng__fail(s, ENG_ENOMEM, "MemoryError: offsets");
      for (int p = 0; rc == 0 && p < parent->nparts; p++)
        d->offsets[p + 1] = d->offsets[p] + c.counts[p];
    }
  } else {
    spec.action = "sort_by_key";
    spec.sink_fn = sample_sink;
    spec.on_result = sample_result;
    rc = parent->nparts ? eng__run_job(s, &spec) : 0;
    if (rc == 0) rc = choose_bounds(s, d, &c);
  }
  eng_arena_free(c.a);
  eng_free(c.counts);
  return rc;
}

static int prepare(eng_session *s, eng_ds *d, int depth) {
  if (depth > 10000) return 0;
  if (d->ckpt_done) return 0;
  int cached = d->storage && d->cached_on;
  for (int p = 0; cached && p < d->nparts; p++) cached = d->cached_on[p] >= 0;
  if (cached) return 0;
  for (int i = 0; i < d->nparents; i++) ENG_TRY(prepare(s, d->parents[i], depth + 1));
  return prepare_node(s, d);
}

/* ------------------------------------------------------------------------ */
/* The job loop                                                             */
/* ------------------------------------------------------------------------ */

static int wait_for_executors(job *j) {
  eng_session *s = j->s;
  double deadline = eng_now_ms() + 60000;
  while (alive_count(s) == 0) {
    if (atomic_load(&s->cancel_req)) return eng__fail(s, ENG_ECANCEL, "Cancelled: job cancelled");
    if (eng_now_ms() > deadline)
      return eng__fail(s, ENG_ELOST, "ExecutorLost: no executor started within 60 s (%s)",
                       s->nexecs && s->execs[s->nexecs - 1].death[0] ? s->execs[s->nexecs - 1].death : "check that the ember binary runs");
    pump(j, 20);
    eng__reap_executors(s);
    int live = 0;
    for (int i = 0; i < s->nexecs; i++) live += s->execs[i].state != EX_DEAD;
    if (!live && s->nlocal > 0)
      return eng__fail(s, ENG_ELOST, "ExecutorLost: executors cannot start (%s)",
                       s->nexecs ? s->execs[s->nexecs - 1].death : "none");
  }
  return 0;
}

int eng__run_job(eng_session *s, const eng_jobspec *spec) {
  eng_ds *ds = spec->ds;
  int rc = prepare(s, ds, 0);
  if (rc < 0) return rc;
  job j;
  memset(&j, 0, sizeof j);
  j.s = s;
  j.spec = spec;
  j.id = s->next_job++;
  j.result_stage = -1;
  j.start = eng_now_ms();
  j.nresult = spec->parts ? spec->nparts : ds->nparts;
  snprintf(j.desc, sizeof j.desc, "%s at %s", spec->action ? spec->action : "job",
           s->callsite ? s->callsite : "<api>");
  j.result_done = eng_calloc((size_t)j.nresult + 1, sizeof *j.result_done);
  if (!j.result_done) return eng__fail(s, ENG_ENOMEM, "MemoryError: job");
  if (!spec->internal) {
    eng_free(s->running_job);
    s->running_job = eng_strdup(j.desc);
    eng__update_status(s);
  }
  eng_event ev = {.kind = ENG_EV_JOB_START, .job = j.id, .desc = j.desc};
  eng__emit(s, &ev);
  s->stats.jobs++;
  /* Shuffles already complete: their stages are skipped. */
  {
    eng_shuffle *direct[64];
    int n = eng__direct_shuffles(ds, direct, 64);
    for (int i = 0; i < n; i++) s->stats.stages_skipped += shuffle_complete(direct[i]);
  }
  rc = j.nresult ? wait_for_executors(&j) : 0;
  while (rc == 0 && j.nresult_done < j.nresult) {
    if (atomic_load(&s->cancel_req)) {
      j.cancelling = 1;
      fail_job(&j, ENG_ECANCEL, "Cancelled: job cancelled");
    }
    if (eng__reap_executors(s)) executors_lost(&j);
    if (j.failed) break;
    if (plan(&j) < 0) {
      fail_job(&j, ENG_ENOMEM, "MemoryError: planning");
      break;
    }
    dispatch(&j);
    if (alive_count(s) == 0) {
      rc = wait_for_executors(&j);
      if (rc < 0) {
        eng_err_copy(&j.err, &s->err);
        j.failed = 1;
        break;
      }
    }
    for (int i = 0; i < j.nstages; i++) {
      jstage *st = &j.stages[i];
      if (st->announced && !st->finished && st->done >= st->ntasks && st->running == 0) {
        st->finished = 1;
        stage_event(&j, st, ENG_EV_STAGE_END);
      }
    }
    if (j.nresult_done >= j.nresult) break;
    pump(&j, 20);
  }
  if (j.failed) wind_down(&j);
  eng_event end = {.kind = ENG_EV_JOB_END, .job = j.id, .ok = !j.failed && rc == 0,
                   .elapsed_ms = eng_now_ms() - j.start, .desc = j.desc};
  eng__emit(s, &end);
  s->stats.last_job_ms = eng_now_ms() - j.start;
  s->stats.exec_compile_ms += j.compile_max;
  if (!spec->internal) {
    eng_free(s->running_job);
    s->running_job = NULL;
  }
  eng__update_status(s);
  eng_free(j.stages);
  eng_free(j.tasks);
  eng_free(j.result_done);
  if (rc < 0) return rc;
  if (j.failed) {
    eng_err_copy(&s->err, &j.err);
    return j.err.code ? j.err.code : ENG_ERROR;
  }
  return 0;
}
