/* session.c -- a session's life: configuration, executor processes, the
 * registries of datasets, UDFs, broadcasts, accumulators and shuffles,
 * events and status.
 *
 * Invariants: the session owns every dataset and UDF made in it (freed with
 * the session); executors are processes of ours in local mode, started with
 * the session (without waiting for them) and restarted when they die; the
 * scratch directory holds executors' spills and checkpoints and is removed
 * at the end.
 */
#include "session_int.h"
#include "clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../udf/udf_guard.h"
#include "err.h"
#include "mem.h"

int eng__fail(eng_session *s, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(&s->err, code, fmt, ap);
  va_end(ap);
  return code;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

/* "512m", "4g", "1073741824" -> bytes; -1 if malformed. */
static int64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return -1;
  switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': v *= 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
  }
  if (*end == 'b' || *end == 'B') end++;
  return *end ? -1 : (int64_t)v;
}

static int ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* Parses "local", "local[N]", "local[*]"; 0 and nlocal set, or -1. */
static int parse_master(const char *m, int *nlocal) {
  if (strcmp(m, "local") == 0) {
    *nlocal = 1;
    return 0;
  }
  if (strncmp(m, "local[", 6) == 0) {
    const char *p = m + 6;
    if (strcmp(p, "*]") == 0) {
      *nlocal = ncores();
      return 0;
    }
    char *end;
    long n = strtol(p, &end, 10);
    if (end != p && strcmp(end, "]") == 0 && n >= 1 && n <= 256) {
      *nlocal = (int)n;
      return 0;
    }
  }
  return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void eng__rm_rf(const char *dir) {
  if (dir && dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------------ */
/* Executors                                                                */
/* ------------------------------------------------------------------------ */

static eng_execinfo *add_exec(eng_session *s) {
  if (s->nexecs == s->capexecs) {
    int cap = s->capexecs ? s->capexecs * 2 : 8;
    eng_execinfo *v = eng_realloc(s->execs, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    s->execs = v;
    s->capexecs = cap;
  }
  eng_execinfo *e = &s->execs[s->nexecs++];
  memset(e, 0, sizeof *e);
  e->id = ++s->next_exec_id;
  e->running_tid = -1;
  e->started_ms = e->last_seen_ms = eng_now_ms();
  return e;
}

int eng__spawn_executor(eng_session *s) {
  eng_execinfo *e = add_exec(s);
  if (!e) return eng__fail(s, ENG_ENOMEM, "MemoryError: executor table");
  char id[32], mem[32], dir[1100], dpid[32];
  snprintf(id, sizeof id, "%d", e->id);
  snprintf(mem, sizeof mem, "%lld", (long long)s->exec_mem);
  snprintf(dir, sizeof dir, "%s/exec-%d", s->dir, e->id);
  snprintf(dpid, sizeof dpid, "%d", (int)getpid());
  char *argv[] = {s->exe, "executor", "--driver", s->router_ep, "--id", id, "--memory", mem,
                  "--dir", dir, "--driver-pid", dpid, NULL};
  pid_t pid = fork();
  if (pid < 0) {
    e->state = EX_DEAD;
    return eng__fail(s, ENG_ERROR, "ExecutorLost: cannot start an executor: %s", strerror(errno));
  }
  if (pid == 0) {
    /* Out of the terminal's process group: Ctrl-C is for the driver. */
    setpgid(0, 0);
    /* Unblock everything the parent may have blocked. */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    execv(s->exe, argv);
    _exit(127);
  }
  e->pid = pid;
  e->state = EX_STARTING;
  return 0;
}

eng_execinfo *eng__exec_by_id(eng_session *s, int id) {
  for (int i = 0; i < s->nexecs; i++)
    if (s->execs[i].id == id) return &s->execs[i];
  return NULL;
}

eng_execinfo *eng__exec_by_zid(eng_session *s, const char *zid, size_t len) {
  for (int i = 0; i < s->nexecs; i++)
    if (s->execs[i].state != EX_DEAD && s->execs[i].zid_len == len &&
        memcmp(s->execs[i].zid, zid, len) == 0)
      return &s->execs[i];
  return NULL;
}

void eng__forget_executor_data(eng_session *s, int id) {
  /* Tell the others: a task of theirs may be waiting on its blocks. */
  eng_execinfo *dead = eng__exec_by_id(s, id);
  for (int i = 0; dead && dead->ep[0] && s->router && i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state != EX_ALIVE || e->id == id) continue;
    json_t *h = json_pack("{s:s, s:s}", "t", "peer_lost", "ep", dead->ep);
    eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
    json_decref(h);
  }
  for (int i = 0; i < s->nshuffles; i++) {
    eng_shuffle *sh = s->shuffles[i];
    for (int m = 0; m < sh->nmaps; m++)
      if (sh->map_exec[m] == id) sh->map_exec[m] = -1;
  }
  for (int i = 0; i < s->nds; i++) {
    eng_ds *d = s->ds[i];
    if (!d->cached_on) continue;
    for (int p = 0; p < d->nparts; p++)
      if (d->cached_on[p] == id) {
        d->cached_on[p] = -1;
        d->cached_mem[p] = d->cached_disk[p] = 0;
      }
  }
}

/* "killed by SIGKILL", "exited with status 1". */
static void describe_death(int status, char *out, size_t cap) {
  if (WIFSIGNALED(status)) {
    const char *a = sigabbrev_np(WTERMSIG(status));
    snprintf(out, cap, "killed by SIG%s", a ? a : "?");
  } else if (WIFEXITED(status)) {
    snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
  } else {
    snprintf(out, cap, "died");
  }
}

int eng__reap_executors(eng_session *s) {
  int dead = 0;
  double now = eng_now_ms();
  /* Messages waiting unread mean nobody listened for a while (a long cell,
   * an idle prompt): executors' silence counts only once they are read. */
  int backlog = 0;
  size_t backlog_len = sizeof backlog;
  if (s->router && zmq_getsockopt(s->router, ZMQ_EVENTS, &backlog, &backlog_len) == 0)
    backlog &= ZMQ_POLLIN;
  /* A connection to us closed (an executor or its worker died): the
   * executor that no longer routes is the one, found now rather than at the
   * master's heartbeat timeout (the loop below takes it for dead). */
  for (int i = 0; s->cc && eng__cclient_disconnected_within(s->cc, 1000) && i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state != EX_ALIVE || e->pid > 0 || e->death[0]) continue;
    if (zmq_send(s->router, e->zid, e->zid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
      if (errno == EHOSTUNREACH) snprintf(e->death, sizeof e->death, "its connection closed");
      continue;
    }
    zmq_send(s->router, "{\"t\":\"ping\"}", 12, ZMQ_DONTWAIT);
  }
  if (s->cc) {
    /* Executors the master reports lost (worker dead or cut off). */
    int ids[64];
    char why[64][160];
    int n = eng__cclient_take_lost(s->cc, ids, why, 64);
    for (int k = 0; k < n; k++) {
      eng_execinfo *e = eng__exec_by_id(s, ids[k]);
      if (!e || e->state == EX_DEAD) continue;
      snprintf(e->death, sizeof e->death, "lost: %.200s", why[k]);
      e->state = EX_DEAD;
      dead++;
      s->stats.executors_lost++;
      eng__forget_executor_data(s, e->id);
    }
  }
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state == EX_DEAD) continue;
    int status = 0;
    int gone = 0;
    if (e->pid > 0) {
      pid_t r = waitpid(e->pid, &status, WNOHANG);
      if (r == e->pid) {
        describe_death(status, e->death, sizeof e->death);
        gone = 1;
      }
    }
    /* Executors send a heartbeat every second; remote ones may also be cut
     * off from us while their worker still answers the master. */
    if (!gone && !backlog && e->state == EX_ALIVE && now - e->last_seen_ms > (s->remote ? 6000 : 30000)) {
      snprintf(e->death, sizeof e->death, "silent for %.0f s", (now - e->last_seen_ms) / 1000);
      if (e->pid > 0) kill(e->pid, SIGKILL), waitpid(e->pid, NULL, 0);
      gone = 1;
    }
    if (!gone && e->state == EX_STARTING && now - e->started_ms > 60000) {
      snprintf(e->death, sizeof e->death, "did not start within 60 s");
      if (e->pid > 0) kill(e->pid, SIGKILL), waitpid(e->pid, NULL, 0);
      gone = 1;
    }
    /* A remote executor we could not send to (the scheduler wrote why). */
    if (!gone && s->remote && e->pid <= 0 && e->death[0]) gone = 1;
    if (!gone) continue;
    /* Given up on here: the master stops it and places a replacement. */
    if (s->cc) eng__cclient_exec_dead(s->cc, e->id, e->death);
    int was_alive = e->state == EX_ALIVE;
    e->state = EX_DEAD;
    dead++;
    s->stats.executors_lost++;
    eng__forget_executor_data(s, e->id);
    if (s->nlocal > 0) {
      /* Restart. One that had registered (then was killed or crashed) is
       * always replaced; ones dying before they register count against a
       * limit, so a binary that cannot start is not restarted in a tight
       * loop. */
      if (now - s->restart_window_ms > 60000) {
        s->restart_window_ms = now;
        s->restarts_in_window = 0;
      }
      if (was_alive || s->restarts_in_window++ < 4 * s->nlocal + 8) eng__spawn_executor(s);
    }
  }
  if (dead) eng__update_status(s);
  return dead;
}

int eng__handle_exec_msg(eng_session *s, eng_msg *m) {
  double now = eng_now_ms();
  if (strcmp(m->type, "reg") == 0) {
    int id = (int)json_integer_value(json_object_get(m->hdr, "id"));
    eng_execinfo *e = eng__exec_by_id(s, id);
    if (!e && s->remote) {
      /* Placed by the master: we learn of it when it registers. */
      e = add_exec(s);
      if (!e) return 1;
      e->id = id;
      if (id > s->next_exec_id) s->next_exec_id = id;
      e->pid = 0;
      eng__cclient_saw_exec(s->cc, id);
    }
    if (!e || e->state == EX_DEAD) return 1; /* an executor we gave up on */
    e->state = EX_ALIVE;
    memcpy(e->zid, m->peer, m->peer_len);
    e->zid_len = m->peer_len;
    const char *ep = json_string_value(json_object_get(m->hdr, "ep"));
    const char *host = json_string_value(json_object_get(m->hdr, "host"));
    snprintf(e->ep, sizeof e->ep, "%s", ep ? ep : "");
    snprintf(e->host, sizeof e->host, "%s", host ? host : "");
    e->budget = json_integer_value(json_object_get(m->hdr, "mem"));
    e->rpid = (int)json_integer_value(json_object_get(m->hdr, "pid"));
    e->last_seen_ms = now;
    eng__update_status(s);
    return 1;
  }
  eng_execinfo *e = eng__exec_by_zid(s, m->peer, m->peer_len);
  if (e) e->last_seen_ms = now;
  if (strcmp(m->type, "hb") == 0) {
    if (!e) return 1;
    e->cache_mem = json_integer_value(json_object_get(m->hdr, "mem"));
    e->cache_disk = json_integer_value(json_object_get(m->hdr, "disk"));
    e->used = json_integer_value(json_object_get(m->hdr, "used"));
    e->rss = json_integer_value(json_object_get(m->hdr, "rss"));
    /* Blocks the executor had to drop (memory): no longer cached there. */
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(m->hdr, "dropped"), i, j) {
      int ds, part;
      const char *id = json_string_value(j);
      if (!id || sscanf(id, "rdd_%d_%d", &ds, &part) != 2) continue;
      for (int k = 0; k < s->nds; k++) {
        eng_ds *d = s->ds[k];
        if (d->id == ds && d->cached_on && part >= 0 && part < d->nparts &&
            d->cached_on[part] == e->id) {
          d->cached_on[part] = -1;
          d->cached_mem[part] = d->cached_disk[part] = 0;
        }
      }
    }
    /* Blocks it moved to disk (MEMORY_AND_DISK past the budget). */
    json_array_foreach(json_object_get(m->hdr, "spilled"), i, j) {
      int ds, part;
      long long disk;
      const char *id = json_string_value(j);
      if (!id || sscanf(id, "rdd_%d_%d %lld", &ds, &part, &disk) != 3) continue;
      for (int k = 0; k < s->nds; k++) {
        eng_ds *d = s->ds[k];
        if (d->id == ds && d->cached_on && part >= 0 && part < d->nparts &&
            d->cached_on[part] == e->id) {
          d->cached_mem[part] = 0;
          d->cached_disk[part] = disk;
        }
      }
    }
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Events and status                                                        */
/* ------------------------------------------------------------------------ */

void eng__emit(eng_session *s, const eng_event *ev) {
  if (s->listener) s->listener(s->listener_ctx, ev);
}

void eng__warn(eng_session *s, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  eng_event ev = {.kind = ENG_EV_WARNING, .msg = msg};
  if (s->listener)
    eng__emit(s, &ev);
  else if (!s->quiet)
    fprintf(stderr, "%s\n", msg);
}

static void fmt_bytes(eng_buf *b, int64_t n) {
  if (n < 1024)
    eng_buf_printf(b, "%lld B", (long long)n);
  else if (n < 1024 * 1024)
    eng_buf_printf(b, "%.1f KiB", (double)n / 1024);
  else if (n < 1024LL * 1024 * 1024)
    eng_buf_printf(b, "%.1f MiB", (double)n / (1024 * 1024));
  else
    eng_buf_printf(b, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
}

/* The status as JSON (built on the session thread, read from any). */
void eng__update_status(eng_session *s) {
  json_t *ex = json_array();
  double now = eng_now_ms();
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state == EX_DEAD && now - e->last_seen_ms > 600000) continue;
    json_array_append_new(
        ex, json_pack("{s:i, s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s}", "id", e->id, "pid",
                      e->pid ? (int)e->pid : e->rpid, "host", e->host, "ep", e->ep, "state",
                      e->state == EX_ALIVE ? "alive" : e->state == EX_STARTING ? "starting" : "dead",
                      "budget", (json_int_t)e->budget, "used", (json_int_t)e->used, "rss", (json_int_t)e->rss, "cache_mem",
                      (json_int_t)e->cache_mem, "cache_disk", (json_int_t)e->cache_disk, "busy",
                      e->running_tid >= 0, "death", e->death));
  }
  json_t *cached = json_array();
  for (int i = 0; i < s->nds; i++) {
    eng_ds *d = s->ds[i];
    if (!d->storage && !d->ckpt_done) continue;
    int nparts = 0;
    int64_t mem = 0, disk = 0;
    for (int p = 0; d->cached_on && p < d->nparts; p++)
      if (d->cached_on[p] >= 0) {
        nparts++;
        mem += d->cached_mem[p];
        disk += d->cached_disk[p];
      }
    static const char *lv[] = {"NONE", "MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY"};
    json_array_append_new(
        cached, json_pack("{s:i, s:s, s:s, s:i, s:i, s:I, s:I, s:b}", "id", d->id, "origin",
                          d->origin ? d->origin : "", "level", lv[d->storage & 3], "cached_parts",
                          nparts, "parts", d->nparts, "mem", (json_int_t)mem, "disk",
                          (json_int_t)disk, "checkpointed", d->ckpt_done));
  }
  json_t *st = json_pack("{s:s, s:o, s:o, s:s?}", "master", s->master, "executors", ex, "cached",
                         cached, "running_job", s->running_job);
  if (s->cluster_status) {
    json_t *cs = json_loads(s->cluster_status, 0, NULL);
    if (cs) json_object_set_new(st, "cluster", cs);
  }
  char *text = json_dumps(st, JSON_COMPACT);
  json_decref(st);
  pthread_mutex_lock(&s->status_lock);
  free(s->status_json);
  s->status_json = text;
  pthread_mutex_unlock(&s->status_lock);
}

int eng_session_refresh(eng_session *s) {
  for (int k = 0; k < 10000; k++) {
    eng_msg m;
    eng_err err;
    if (eng_msg_recv(s->router, 1, &m, ZMQ_DONTWAIT, &err) < 0) {
      if (err.code == ENG_EPROTO) continue;
      break;
    }
    if (!eng__handle_exec_msg(s, &m) && strcmp(m.type, "done") == 0) {
      /* A result nobody waits for any more: the executor is free again. */
      eng_execinfo *e = eng__exec_by_zid(s, m.peer, m.peer_len);
      int64_t tid = json_integer_value(json_object_get(m.hdr, "tid"));
      if (e && e->running_tid == tid) e->running_tid = -1;
    }
    eng_msg_close(&m);
  }
  eng__reap_executors(s);
  if (s->cc) {
    json_t *st = eng__cclient_status(s->cc, 2000);
    free(s->cluster_status);
    s->cluster_status = st ? json_dumps(st, JSON_COMPACT) : NULL;
    json_decref(st);
  }
  eng__update_status(s);
  return 0;
}

int eng_session_status_json(eng_session *s, eng_buf *out) {
  pthread_mutex_lock(&s->status_lock);
  eng_buf_puts(out, s->status_json ? s->status_json : "{}");
  pthread_mutex_unlock(&s->status_lock);
  return out->oom ? ENG_ENOMEM : 0;
}

int eng_session_status_text(eng_session *s, eng_buf *out) {
  pthread_mutex_lock(&s->status_lock);
  json_t *st = s->status_json ? json_loads(s->status_json, 0, NULL) : NULL;
  pthread_mutex_unlock(&s->status_lock);
  if (!st) return eng_buf_puts(out, "no status yet\n");
  eng_buf_printf(out, "master: %s\n", json_string_value(json_object_get(st, "master")));
  json_t *ex = json_object_get(st, "executors"), *j;
  size_t i;
  int alive = 0;
  json_array_foreach(ex, i, j) alive += strcmp(json_string_value(json_object_get(j, "state")), "alive") == 0;
  eng_buf_printf(out, "executors: %d alive\n", alive);
  json_array_foreach(ex, i, j) {
    const char *state = json_string_value(json_object_get(j, "state"));
    eng_buf_printf(out, "  executor %lld  %-8s pid %-7lld %s  ", (long long)json_integer_value(json_object_get(j, "id")),
                   state, (long long)json_integer_value(json_object_get(j, "pid")),
                   json_string_value(json_object_get(j, "host")));
    if (strcmp(state, "dead") == 0) {
      eng_buf_printf(out, "(%s)\n", json_string_value(json_object_get(j, "death")));
      continue;
    }
    eng_buf_puts(out, "memory ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "used")));
    eng_buf_puts(out, " / ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "budget")));
    eng_buf_puts(out, " (RSS ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "rss")));
    eng_buf_puts(out, "), cache ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "cache_mem")));
    eng_buf_puts(out, " + disk ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "cache_disk")));
    eng_buf_puts(out, json_is_true(json_object_get(j, "busy")) ? ", busy\n" : ", idle\n");
  }
  json_t *cl = json_object_get(st, "cluster");
  if (cl) {
    json_t *ws = json_object_get(cl, "workers");
    eng_buf_printf(out, "cluster workers: %zu\n", json_array_size(ws));
    json_array_foreach(ws, i, j) {
      eng_buf_printf(out, "  worker %lld  %-15s %-5s %lld/%lld cores, %lld MiB, executors:",
                     (long long)json_integer_value(json_object_get(j, "worker")),
                     json_string_value(json_object_get(j, "host")),
                     json_string_value(json_object_get(j, "state")),
                     (long long)json_integer_value(json_object_get(j, "used")),
                     (long long)json_integer_value(json_object_get(j, "cores")),
                     (long long)(json_integer_value(json_object_get(j, "mem")) >> 20));
      size_t k;
      json_t *x;
      json_array_foreach(json_object_get(j, "executors"), k, x)
        eng_buf_printf(out, " %lld(session %lld)", (long long)json_integer_value(json_object_get(x, "id")),
                       (long long)json_integer_value(json_object_get(x, "app")));
      eng_buf_putc(out, '\n');
    }
  } else if (strncmp(json_string_value(json_object_get(st, "master")), "ember://", 8) == 0) {
    eng_buf_puts(out, "cluster workers: no answer from the master\n");
  }
  json_t *cached = json_object_get(st, "cached");
  eng_buf_printf(out, "cached datasets: %zu\n", json_array_size(cached));
  json_array_foreach(cached, i, j) {
    eng_buf_printf(out, "  ds[%lld] %s  %s  %lld/%lld partitions, ", (long long)json_integer_value(json_object_get(j, "id")),
                   json_string_value(json_object_get(j, "origin")),
                   json_is_true(json_object_get(j, "checkpointed")) ? "CHECKPOINT" : json_string_value(json_object_get(j, "level")),
                   (long long)json_integer_value(json_object_get(j, "cached_parts")),
                   (long long)json_integer_value(json_object_get(j, "parts")));
    fmt_bytes(out, json_integer_value(json_object_get(j, "mem")));
    eng_buf_puts(out, " in memory, ");
    fmt_bytes(out, json_integer_value(json_object_get(j, "disk")));
    eng_buf_puts(out, " on disk\n");
  }
  const char *rj = json_string_value(json_object_get(st, "running_job"));
  eng_buf_printf(out, "running job: %s\n", rj ? rj : "none");
  json_decref(st);
  return out->oom ? ENG_ENOMEM : 0;
}

/* ------------------------------------------------------------------------ */
/* Registries                                                               */
/* ------------------------------------------------------------------------ */

eng_bcast *eng__bcast_by_id(eng_session *s, long id) {
  for (int i = 0; i < s->nbcasts; i++)
    if (s->bcasts[i].id == id) return &s->bcasts[i];
  return NULL;
}

eng_accum *eng__acc_by_id(eng_session *s, long id) {
  for (int i = 0; i < s->naccs; i++)
    if (s->accs[i].id == id) return &s->accs[i];
  return NULL;
}

eng_shuffle *eng__shuffle_new(eng_session *s, eng_ds *d, int parent) {
  eng_shuffle *sh = eng_calloc(1, sizeof *sh);
  if (!sh) return NULL;
  if (s->nshuffles == s->capshuffles) {
    int cap = s->capshuffles ? s->capshuffles * 2 : 16;
    eng_shuffle **v = eng_realloc(s->shuffles, (size_t)cap * sizeof *v);
    if (!v) {
      eng_free(sh);
      return NULL;
    }
    s->shuffles = v;
    s->capshuffles = cap;
  }
  sh->id = s->nshuffles;
  sh->dep = d;
  sh->parent = parent;
  sh->map_ds = d->parents[parent];
  sh->nmaps = sh->map_ds->nparts;
  sh->nreduce = d->nparts;
  sh->map_exec = eng_malloc((size_t)(sh->nmaps + 1) * sizeof *sh->map_exec);
  sh->sizes = eng_calloc((size_t)sh->nmaps + 1, sizeof *sh->sizes);
  if (!sh->map_exec || !sh->sizes) {
    eng_free(sh->map_exec);
    eng_free(sh->sizes);
    eng_free(sh);
    return NULL;
  }
  for (int m = 0; m < sh->nmaps; m++) sh->map_exec[m] = -1;
  sh->stage_id = -1;
  s->shuffles[s->nshuffles++] = sh;
  return sh;
}

eng_shuffle *eng__shuffle_by_id(eng_session *s, int id) {
  return id >= 0 && id < s->nshuffles ? s->shuffles[id] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

static void free_graph(eng_session *s) {
  for (int i = 0; i < s->nds; i++) {
    eng_ds *d = s->ds[i];
    for (int p = 0; d->slices && p < d->nparts; p++) eng_batch_unref(d->slices[p]);
    eng_free(d->slices);
    eng_text_splits_free(d->splits, d->nsplits);
    eng_free(d->offsets);
    eng_free(d->coalesce_from);
    eng_free(d->cached_on);
    eng_free(d->cached_mem);
    eng_free(d->cached_disk);
    eng_free(d->sh.bounds);
    eng_free(d);
  }
  eng_free(s->ds);
  s->ds = NULL;
  s->nds = s->capds = 0;
  for (int i = 0; i < s->nudfs; i++) {
    udf_def_free(s->udfs[i]->def);
    eng_free(s->udfs[i]->caps_blob);
    eng_free(s->udfs[i]);
  }
  eng_free(s->udfs);
  s->udfs = NULL;
  s->nudfs = s->capudfs = 0;
  for (int i = 0; i < s->nshuffles; i++) {
    eng_shuffle *sh = s->shuffles[i];
    for (int m = 0; m < sh->nmaps; m++) eng_free(sh->sizes[m]);
    eng_free(sh->sizes);
    eng_free(sh->map_exec);
    eng_free(sh);
  }
  eng_free(s->shuffles);
  s->shuffles = NULL;
  s->nshuffles = s->capshuffles = 0;
  for (int i = 0; i < s->nbcasts; i++) eng_free(s->bcasts[i].blob);
  eng_free(s->bcasts);
  s->bcasts = NULL;
  s->nbcasts = s->capbcasts = 0;
  eng_free(s->accs);
  s->accs = NULL;
  s->naccs = s->capaccs = 0;
}

eng_session *eng_session_new(const eng_conf *conf, eng_err *err) {
  eng_conf dflt;
  memset(&dflt, 0, sizeof dflt);
  if (!conf) conf = &dflt;
  eng_session *s = eng_calloc(1, sizeof *s);
  if (!s) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: session");
    return NULL;
  }
  pthread_mutex_init(&s->status_lock, NULL);
  const char *master = conf->master ? conf->master : getenv("EMBER_MASTER");
  if (!master || !*master) master = "local[*]";
  s->master = eng_strdup(master);
  s->quiet = conf->quiet;
  char mhost[256] = "";
  int mport = 0;
  if (strncmp(master, "ember://", 8) == 0) {
    s->remote = 1;
    int rc = eng_master_url(master, mhost, sizeof mhost, &mport, err);
    if (rc == 0) {
      if (conf->secret)
        eng_secret_from_bytes(conf->secret, strlen(conf->secret), &s->secret);
      else
        rc = eng_secret_load(NULL, &s->secret, err);
    }
    if (rc == 0 && !s->secret.set)
      rc = eng_err_set(err, ENG_EAUTH,
                       "AuthError: a cluster session needs the cluster's secret (EMBER_SECRET or "
                       "EMBER_SECRET_FILE)");
    if (rc < 0) {
      eng_free(s->master);
      eng_free(s);
      return NULL;
    }
  } else if (parse_master(master, &s->nlocal) < 0) {
    eng_err_set(err, ENG_EINVAL,
                "ValueError: bad master '%s' (expected local, local[N], local[*] or ember://host:port)",
                master);
    eng_free(s->master);
    eng_free(s);
    return NULL;
  }
  /* Memory per executor: given, from the environment, or half the RAM
   * shared among the local executors (at least 256 MiB). */
  int64_t mem = conf->executor_memory;
  const char *env = getenv("EMBER_EXECUTOR_MEMORY");
  if (!mem && env && *env) {
    mem = parse_size(env);
    if (mem <= 0) {
      eng_err_set(err, ENG_EINVAL, "ValueError: bad EMBER_EXECUTOR_MEMORY '%s' (e.g. 1g, 512m)", env);
      eng_free(s->master);
      eng_free(s);
      return NULL;
    }
  }
  if (!mem && s->remote) mem = (int64_t)1 << 30; /* workers cap it by their own memory */
  if (!mem) {
    int64_t ram = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE);
    mem = ram / 2 / (s->nlocal > 0 ? s->nlocal : 1);
    if (mem < (256 << 20)) mem = 256 << 20;
  }
  s->exec_mem = mem;
  char exe[4096];
  if (conf->exe) {
    snprintf(exe, sizeof exe, "%s", conf->exe);
  } else {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
  }
  s->exe = eng_strdup(exe);
  const char *base = conf->local_dir ? conf->local_dir : getenv("EMBER_LOCAL_DIR");
  if (!base || !*base) base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/ember-%d-XXXXXX", base, (int)getpid());
  if (!mkdtemp(dir)) {
    eng_err_set(err, ENG_EIO, "IOError: cannot create a scratch directory in %s: %s", base,
                strerror(errno));
    eng_free(s->master);
    eng_free(s->exe);
    eng_free(s);
    return NULL;
  }
  s->dir = eng_strdup(dir);
  char ck[1100];
  snprintf(ck, sizeof ck, "%s/checkpoints", dir);
  s->ckpt_dir = eng_strdup(ck);
  mkdir(ck, 0700);
  s->vals = eng_arena_new(0);
  s->plan = eng_arena_new(0);
  s->udfc = udf_cache_new();
  s->zctx = zmq_ctx_new();
  s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
  if (!s->vals || !s->plan || !s->udfc || !s->router) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: session");
    eng_session_free(s);
    return NULL;
  }
  int one = 1, linger = 0, hwm = 0;
  zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
  eng_monitor *mon = NULL; /* remote: refusals logged, closed connections noted */
  if (s->remote) {
    /* Executors on other hosts connect here: the address that reaches the
     * master (or EMBER_DRIVER_HOST), a free port, CURVE with the secret. */
    char host[256];
    const char *dh = getenv("EMBER_DRIVER_HOST");
    if (dh && *dh)
      eng_listen_address(dh, host, sizeof host, "driver");
    else
      eng_local_address_for(mhost, host, sizeof host);
    eng_zap_start(s->zctx, &s->secret, "driver");
    eng_secure_server(s->router, &s->secret);
    mon = eng_monitor_start(s->zctx, s->router, "driver");
    snprintf(s->router_ep, sizeof s->router_ep, "tcp://%s:*", host);
  } else {
    snprintf(s->router_ep, sizeof s->router_ep, "ipc://%s/driver.sock", dir);
  }
  if (zmq_bind(s->router, s->router_ep) < 0) {
    eng_err_set(err, ENG_EIO, "IOError: cannot listen on %s: %s", s->router_ep, zmq_strerror(errno));
    eng_session_free(s);
    return NULL;
  }
  if (s->remote) {
    size_t len = sizeof s->router_ep;
    zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->router_ep, &len);
    const char *cm = getenv("EMBER_CORES_MAX");
    s->cc = eng__cclient_start(s->zctx, mhost, mport, &s->secret,
                               conf->app_name ? conf->app_name : "ember", s->router_ep,
                               cm && *cm ? atoi(cm) : 0, s->exec_mem, err);
    if (!s->cc) {
      eng_session_free(s);
      return NULL;
    }
    eng__cclient_watch(s->cc, mon);
  }
  udf_guard_install();
  udf_guard_thread_init();
  for (int i = 0; i < s->nlocal; i++) {
    if (eng__spawn_executor(s) < 0) {
      eng_err_copy(err, &s->err);
      eng_session_free(s);
      return NULL;
    }
  }
  eng__update_status(s);
  return s;
}

void eng_session_free(eng_session *s) {
  if (!s) return;
  /* Ask executors to stop, then make sure they have. */
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state == EX_ALIVE && s->router) {
      json_t *h = json_pack("{s:s}", "t", "stop");
      eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
      json_decref(h);
    }
  }
  /* One still starting has nothing to lose and cannot be told to stop:
   * waiting for it would hold a quick session's exit for the deadline. */
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->pid > 0 && e->state == EX_STARTING) kill(e->pid, SIGKILL);
  }
  double deadline = eng_now_ms() + 2000;
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->pid <= 0 || e->state == EX_DEAD) continue;
    while (waitpid(e->pid, NULL, WNOHANG) == 0) {
      if (eng_now_ms() > deadline) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        break;
      }
      usleep(2000);
    }
    e->state = EX_DEAD;
  }
  eng__cclient_stop(s->cc);
  s->cc = NULL;
  if (s->router) zmq_close(s->router);
  if (s->zctx) zmq_ctx_term(s->zctx);
  free(s->cluster_status);
  free_graph(s);
  for (int i = 0; i < s->nexecs; i++) {
    eng_free(s->execs[i].udfs);
    eng_free(s->execs[i].bcasts);
  }
  eng_free(s->execs);
  udf_cache_free(s->udfc);
  eng_arena_free(s->vals);
  eng_arena_free(s->plan);
  eng__rm_rf(s->dir);
  eng_free(s->dir);
  eng_free(s->ckpt_dir);
  eng_free(s->exe);
  eng_free(s->master);
  eng_free(s->callsite);
  free(s->status_json);
  eng_free(s->running_job);
  pthread_mutex_destroy(&s->status_lock);
  eng_free(s);
}

int eng_session_reset(eng_session *s) {
  for (int i = 0; i < s->nexecs; i++) {
    eng_execinfo *e = &s->execs[i];
    if (e->state != EX_ALIVE) continue;
    for (const char *p = "rdd_"; p; p = strcmp(p, "rdd_") == 0 ? "shuffle_" : NULL) {
      json_t *h = json_pack("{s:s, s:s}", "t", "drop", "prefix", p);
      eng_msg_send(s->router, e->zid, e->zid_len, h, NULL, 0, ZMQ_DONTWAIT, NULL);
      json_decref(h);
    }
  }
  free_graph(s);
  eng_arena_reset(s->vals);
  eng_arena_reset(s->plan);
  eng_err_clear(&s->err);
  eng__update_status(s);
  return 0;
}

const char *eng_session_errmsg(const eng_session *s) { return s->err.msg; }
int eng_session_errcode(const eng_session *s) { return s->err.code; }
const eng_err *eng_session_error(const eng_session *s) { return &s->err; }
void eng_session_clear_error(eng_session *s) { eng_err_clear(&s->err); }
eng_arena *eng_session_arena(eng_session *s) { return s->vals; }
const char *eng_session_master(const eng_session *s) { return s->master; }

void eng_session_set_callsite(eng_session *s, const char *site) {
  eng_free(s->callsite);
  s->callsite = site ? eng_strdup(site) : NULL;
}

/* local[N]: N. A cluster: the cores granted (Spark's default for a
 * standalone cluster), at least 2. */
int eng_session_default_parallelism(eng_session *s) {
  if (s->nlocal > 0) return s->nlocal;
  int n = 0;
  for (int i = 0; i < s->nexecs; i++) n += s->execs[i].state == EX_ALIVE;
  int granted = s->cc ? eng__cclient_cores(s->cc) : 0;
  if (granted > n) n = granted;
  return n > 2 ? n : 2;
}

void eng_session_cancel(eng_session *s) { atomic_store(&s->cancel_req, 1); }
void eng_session_clear_cancel(eng_session *s) { atomic_store(&s->cancel_req, 0); }

void eng_session_set_listener(eng_session *s, eng_listener_fn fn, void *ctx) {
  s->listener = fn;
  s->listener_ctx = ctx;
}

void eng_session_stats(eng_session *s, eng_runstats *out) {
  *out = s->stats;
  udf_cache_stats(s->udfc, &out->udf_compiles, &out->udf_compile_ms);
}

int eng_session_executor_pids(eng_session *s, int *pids, int max) {
  int n = 0;
  for (int i = 0; i < s->nexecs && n < max; i++)
    if (s->execs[i].state != EX_DEAD && s->execs[i].pid > 0) pids[n++] = s->execs[i].pid;
  return n;
}
