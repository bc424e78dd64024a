/* master.c -- `ember master`: the standalone cluster's master.
 *
 * It keeps the list of workers (registration, heartbeats every 500 ms,
 * loss after 3 s of silence, or at once when a worker's connection closes
 * and it no longer routes), accepts sessions (apps), and grants each app
 * executors on workers, one core each, up to the cores the app asked for.
 * Executors talk to their app's driver directly; the master only places
 * them and tells the app when one is lost (its worker died or vanished from
 * the network, or the process exited), stops the ones a driver gave up on,
 * and places replacements.
 *
 * A master restart loses nothing that runs: workers and drivers re-register
 * (listing their executors and app ids) when the new master answers their
 * heartbeats with "rereg"; executors whose app has not come back after a
 * grace period are stopped.
 *
 * Protocol (JSON headers over a CURVE-secured ROUTER):
 *   worker -> master   wreg {host, cores, mem, execs}   whb {execs}   exited {app, id, why}
 *   master -> worker   ack | rereg | launch {app, id, driver, mem} | kill {app, id} | kill_app {app}
 *   driver -> master   app {name, driver, cores, mem, app?, next_exec, dead}   ahb {app}
 *                      app_end {app}   exec_dead {app, id, why}
 *   master -> driver   app_ok {app, cores} | rereg | exec_lost {id, why}
 *   anyone -> master   status  ->  status {workers, apps}
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "clock.h"
#include "err.h"
#include "mem.h"
#include "proto.h"

#define WORKER_TIMEOUT_MS 3000
#define APP_TIMEOUT_MS 10000
#define ORPHAN_GRACE_MS 15000
/* Dead executors and ended apps are remembered this long (a cut-off worker
 * that comes back is told to stop what it still runs for them), lost
 * workers are listed this long; then they are forgotten. */
#define FORGET_MS 600000
/* After a start, workers re-register (with their executors) within a
 * heartbeat or two; placing executors before would over-grant apps whose
 * executors are not listed yet. */
#define REREG_GRACE_MS 1500

typedef struct mworker {
  char zid[128];
  size_t zlen;
  char host[256];
  int cores, used;
  int64_t mem;
  double last;
  int alive;
  int num; /* worker number for display */
} mworker;

typedef struct mapp {
  int id;
  char name[128];
  char zid[128];
  size_t zlen;
  char driver[512];
  int cores_max;
  int64_t mem;
  double last, started, ended;
  int alive;
  int next_exec;
  int dead[64]; /* executors its driver gave up on (latest registration) */
  int ndead;
} mapp;

enum { X_LAUNCHING = 0, X_RUNNING = 1, X_DEAD = 2 };

typedef struct mexec {
  int app, id;
  int worker; /* index into workers */
  int state;
  double since;
} mexec;

typedef struct master {
  void *sock;
  mworker *w;
  int nw, capw;
  mapp *a;
  int na, capa;
  mexec *x;
  int nx, capx;
  int next_app, next_worker;
  double started;
  int quiet;
} master;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mlog(const char *fmt, ...) {
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf(stderr, "%s master: ", ts);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}

static void send_to(master *m, const char *zid, size_t zlen, json_t *h) {
  eng_msg_send(m->sock, zid, zlen, h, NULL, 0, ZMQ_DONTWAIT, NULL);
  json_decref(h);
}

static mworker *worker_by_zid(master *m, const char *zid, size_t zlen) {
  for (int i = 0; i < m->nw; i++)
    if (m->w[i].zlen == zlen && memcmp(m->w[i].zid, zid, zlen) == 0) return &m->w[i];
  return NULL;
}

static mapp *app_by_id(master *m, int id) {
  for (int i = 0; i < m->na; i++)
    if (m->a[i].id == id) return &m->a[i];
  return NULL;
}

/* Did the app's driver give up on executor id (so it must not be adopted)? */
static int app_gave_up(mapp *a, int id) {
  for (int i = 0; a && i < a->ndead; i++)
    if (a->dead[i] == id) return 1;
  return 0;
}

static mexec *exec_find(master *m, int app, int id) {
  for (int i = 0; i < m->nx; i++)
    if (m->x[i].app == app && m->x[i].id == id) return &m->x[i];
  return NULL;
}

static mexec *exec_add(master *m, int app, int id, int worker, int state) {
  if (m->nx == m->capx) {
    int cap = m->capx ? m->capx * 2 : 32;
    mexec *v = eng_realloc(m->x, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    m->x = v;
    m->capx = cap;
  }
  mexec *x = &m->x[m->nx++];
  x->app = app;
  x->id = id;
  x->worker = worker;
  x->state = state;
  x->since = eng_now_ms();
  return x;
}

/* An executor is gone: free its core and tell its app. */
static void exec_lost(master *m, mexec *x, const char *why) {
  if (x->state == X_DEAD) return;
  if (x->worker >= 0 && x->worker < m->nw && m->w[x->worker].used > 0) m->w[x->worker].used--;
  x->state = X_DEAD;
  x->since = eng_now_ms();
  mapp *a = app_by_id(m, x->app);
  mlog("executor %d of app %d lost: %s", x->id, x->app, why);
  if (a && a->alive)
    send_to(m, a->zid, a->zlen, json_pack("{s:s, s:i, s:s}", "t", "exec_lost", "id", x->id, "why", why));
}

/* ---- scheduling ------------------------------------------------------------ */

static int app_cores(master *m, int app) {
  int n = 0;
  for (int i = 0; i < m->nx; i++) n += m->x[i].app == app && m->x[i].state != X_DEAD;
  return n;
}

/* Grants free cores to apps below their maximum, spreading an app's
 * executors over workers (one at a time per worker, round robin). */
static void schedule(master *m) {
  if (eng_now_ms() - m->started < REREG_GRACE_MS) return;
  for (int ai = 0; ai < m->na; ai++) {
    mapp *a = &m->a[ai];
    if (!a->alive) continue;
    int have = app_cores(m, a->id);
    int progress = 1;
    while (have < a->cores_max && progress) {
      progress = 0;
      for (int wi = 0; wi < m->nw && have < a->cores_max; wi++) {
        mworker *w = &m->w[wi];
        if (!w->alive || w->used >= w->cores) continue;
        int id = ++a->next_exec;
        w->used++;
        exec_add(m, a->id, id, wi, X_LAUNCHING);
        send_to(m, w->zid, w->zlen,
                json_pack("{s:s, s:i, s:i, s:s, s:I, s:s}", "t", "launch", "app", a->id, "id", id,
                          "driver", a->driver, "mem", (json_int_t)a->mem, "name", a->name));
        mlog("executor %d of app %d (%s) on worker %d (%s)", id, a->id, a->name, w->num, w->host);
        have++;
        progress = 1;
      }
    }
  }
}

/* ---- messages ------------------------------------------------------------------ */

/* Reconciles a worker's list of executors with ours. */
static void worker_execs(master *m, int wi, json_t *execs, int is_reg) {
  double now = eng_now_ms();
  /* Executors we placed there that the worker no longer has: gone. */
  for (int i = 0; i < m->nx; i++) {
    mexec *x = &m->x[i];
    if (x->worker != wi || x->state == X_DEAD) continue;
    int found = 0;
    size_t k;
    json_t *e;
    json_array_foreach(execs, k, e) found |= json_integer_value(json_object_get(e, "app")) == x->app &&
                                            json_integer_value(json_object_get(e, "id")) == x->id;
    if (!found && (x->state == X_RUNNING || now - x->since > 10000))
      exec_lost(m, x, "its process is gone");
  }
  size_t k;
  json_t *e;
  json_array_foreach(execs, k, e) {
    int app = (int)json_integer_value(json_object_get(e, "app"));
    int id = (int)json_integer_value(json_object_get(e, "id"));
    mexec *x = exec_find(m, app, id);
    mapp *a = app_by_id(m, app);
    if (x && x->state == X_DEAD) {
      /* Declared lost (e.g. its worker was cut off): stop it. */
      send_to(m, m->w[wi].zid, m->w[wi].zlen, json_pack("{s:s, s:i, s:i}", "t", "kill", "app", app, "id", id));
      continue;
    }
    if (!x) {
      /* After a master restart: adopt it if its app is known or may come
       * back; stop it once the grace period is over. */
      if (((a && a->alive) || now - m->started < ORPHAN_GRACE_MS) && !app_gave_up(a, id)) {
        x = exec_add(m, app, id, wi, X_RUNNING);
        if (x) m->w[wi].used++;
        if (!a && x) x->since = now;
      } else {
        send_to(m, m->w[wi].zid, m->w[wi].zlen, json_pack("{s:s, s:i, s:i}", "t", "kill", "app", app, "id", id));
      }
      continue;
    }
    x->state = X_RUNNING;
  }
  (void)is_reg;
}

static void on_worker_reg(master *m, eng_msg *msg) {
  mworker *w = worker_by_zid(m, msg->peer, msg->peer_len);
  int was_alive = w && w->alive;
  if (!w) {
    if (m->nw == m->capw) {
      int cap = m->capw ? m->capw * 2 : 8;
      mworker *v = eng_realloc(m->w, (size_t)cap * sizeof *v);
      if (!v) return;
      m->w = v;
      m->capw = cap;
    }
    w = &m->w[m->nw++];
    memset(w, 0, sizeof *w);
    memcpy(w->zid, msg->peer, msg->peer_len);
    w->zlen = msg->peer_len;
    w->num = ++m->next_worker;
  }
  const char *host = json_string_value(json_object_get(msg->hdr, "host"));
  snprintf(w->host, sizeof w->host, "%s", host ? host : "?");
  w->cores = (int)json_integer_value(json_object_get(msg->hdr, "cores"));
  w->mem = json_integer_value(json_object_get(msg->hdr, "mem"));
  w->used = 0;
  w->alive = 1;
  w->last = eng_now_ms();
  int wi = (int)(w - m->w);
  for (int i = 0; i < m->nx; i++)
    if (m->x[i].worker == wi && m->x[i].state != X_DEAD) w->used++;
  if (!was_alive)
    mlog("worker %d registered: %s, %d cores, %lld MiB", w->num, w->host, w->cores,
         (long long)(w->mem >> 20));
  worker_execs(m, wi, json_object_get(msg->hdr, "execs"), 1);
  send_to(m, w->zid, w->zlen, json_pack("{s:s}", "t", "ack"));
}

static void on_worker_hb(master *m, eng_msg *msg) {
  mworker *w = worker_by_zid(m, msg->peer, msg->peer_len);
  if (!w || !w->alive) {
    /* Unknown (we restarted) or declared lost: it must register again. */
    send_to(m, msg->peer, msg->peer_len, json_pack("{s:s}", "t", "rereg"));
    return;
  }
  w->last = eng_now_ms();
  worker_execs(m, (int)(w - m->w), json_object_get(msg->hdr, "execs"), 0);
}

/* The driver gave up on an executor (silent, unreachable): stop it where it
 * runs, free its core, and let schedule() place a replacement. */
static void exec_given_up(master *m, int app, int id, const char *why) {
  mexec *x = exec_find(m, app, id);
  if (!x || x->state == X_DEAD) return;
  mlog("executor %d of app %d given up by its driver: %s", id, app, why ? why : "lost");
  if (x->worker >= 0 && x->worker < m->nw && m->w[x->worker].alive)
    send_to(m, m->w[x->worker].zid, m->w[x->worker].zlen,
            json_pack("{s:s, s:i, s:i}", "t", "kill", "app", app, "id", id));
  exec_lost(m, x, why ? why : "given up by its driver");
}

static void on_exited(master *m, eng_msg *msg) {
  int app = (int)json_integer_value(json_object_get(msg->hdr, "app"));
  int id = (int)json_integer_value(json_object_get(msg->hdr, "id"));
  const char *why = json_string_value(json_object_get(msg->hdr, "why"));
  mexec *x = exec_find(m, app, id);
  if (x) {
    char reason[256];
    snprintf(reason, sizeof reason, "its process %s", why ? why : "exited");
    exec_lost(m, x, reason);
  }
}

static void on_app(master *m, eng_msg *msg) {
  json_t *h = msg->hdr;
  int id = (int)json_integer_value(json_object_get(h, "app"));
  mapp *a = id > 0 ? app_by_id(m, id) : NULL;
  /* A repeated first registration (its answer was still on the way):
   * the same connection, the same app. */
  for (int i = 0; !a && id <= 0 && i < m->na; i++)
    if (m->a[i].alive && m->a[i].zlen == msg->peer_len && memcmp(m->a[i].zid, msg->peer, msg->peer_len) == 0)
      a = &m->a[i];
  int was_alive = a && a->alive;
  if (!a) {
    if (m->na == m->capa) {
      int cap = m->capa ? m->capa * 2 : 8;
      mapp *v = eng_realloc(m->a, (size_t)cap * sizeof *v);
      if (!v) return;
      m->a = v;
      m->capa = cap;
    }
    a = &m->a[m->na++];
    memset(a, 0, sizeof *a);
    a->id = id > 0 ? id : ++m->next_app;
    if (a->id > m->next_app) m->next_app = a->id;
    a->started = eng_now_ms();
  }
  const char *name = json_string_value(json_object_get(h, "name"));
  const char *drv = json_string_value(json_object_get(h, "driver"));
  snprintf(a->name, sizeof a->name, "%s", name ? name : "ember");
  snprintf(a->driver, sizeof a->driver, "%s", drv ? drv : "");
  memcpy(a->zid, msg->peer, msg->peer_len);
  a->zlen = msg->peer_len;
  a->cores_max = (int)json_integer_value(json_object_get(h, "cores"));
  if (a->cores_max <= 0) a->cores_max = 1 << 20;
  a->mem = json_integer_value(json_object_get(h, "mem"));
  int next = (int)json_integer_value(json_object_get(h, "next_exec"));
  if (next > a->next_exec) a->next_exec = next;
  a->alive = 1;
  a->last = eng_now_ms();
  int total = 0;
  for (int i = 0; i < m->nw; i++) total += m->w[i].alive ? m->w[i].cores : 0;
  if (!was_alive) mlog("app %d (%s) registered from %s", a->id, a->name, a->driver);
  size_t k;
  json_t *d;
  json_t *dl = json_object_get(h, "dead");
  size_t keep = sizeof a->dead / sizeof a->dead[0], n = json_array_size(dl);
  a->ndead = 0;
  json_array_foreach(dl, k, d) {
    int x = (int)json_integer_value(d);
    if (k + keep >= n) a->dead[a->ndead++] = x; /* the latest ones */
    exec_given_up(m, a->id, x, "given up by its driver");
  }
  send_to(m, a->zid, a->zlen,
          json_pack("{s:s, s:i, s:i}", "t", "app_ok", "app", a->id, "cores",
                    total < a->cores_max ? total : a->cores_max));
  schedule(m);
}

static void end_app(master *m, mapp *a, const char *why) {
  if (!a->alive) return;
  a->alive = 0;
  a->ended = eng_now_ms();
  mlog("app %d (%s) ended: %s", a->id, a->name, why);
  for (int i = 0; i < m->nx; i++) {
    mexec *x = &m->x[i];
    if (x->app != a->id || x->state == X_DEAD) continue;
    if (x->worker >= 0 && x->worker < m->nw && m->w[x->worker].used > 0) m->w[x->worker].used--;
    x->state = X_DEAD;
    x->since = a->ended;
  }
  for (int i = 0; i < m->nw; i++)
    if (m->w[i].alive)
      send_to(m, m->w[i].zid, m->w[i].zlen, json_pack("{s:s, s:i}", "t", "kill_app", "app", a->id));
  schedule(m);
}

static void on_status(master *m, eng_msg *msg) {
  json_t *ws = json_array(), *as = json_array();
  double now = eng_now_ms();
  for (int i = 0; i < m->nw; i++) {
    mworker *w = &m->w[i];
    if (!w->alive && now - w->last > FORGET_MS) continue;
    json_t *ex = json_array();
    for (int k = 0; k < m->nx; k++)
      if (m->x[k].worker == i && m->x[k].state != X_DEAD)
        json_array_append_new(ex, json_pack("{s:i, s:i, s:s}", "app", m->x[k].app, "id", m->x[k].id,
                                             "state", m->x[k].state == X_RUNNING ? "running" : "launching"));
    json_array_append_new(ws, json_pack("{s:i, s:s, s:s, s:i, s:i, s:I, s:i, s:o}", "worker", w->num,
                                        "host", w->host, "state", w->alive ? "alive" : "lost", "cores",
                                        w->cores, "used", w->used, "mem", (json_int_t)w->mem,
                                        "silent_ms", (int)(now - w->last), "executors", ex));
  }
  for (int i = 0; i < m->na; i++) {
    mapp *a = &m->a[i];
    if (!a->alive) continue;
    json_array_append_new(as, json_pack("{s:i, s:s, s:s, s:i, s:i}", "app", a->id, "name", a->name,
                                        "driver", a->driver, "cores", app_cores(m, a->id),
                                        "cores_max", a->cores_max));
  }
  json_t *h = json_pack("{s:s, s:o, s:o}", "t", "status", "workers", ws, "apps", as);
  send_to(m, msg->peer, msg->peer_len, h);
}

/* Worker i is gone (`reason`: why we think so): its executors are lost,
 * their apps told, replacements placed on the other workers. */
static void worker_lost(master *m, int i, const char *reason) {
  mworker *w = &m->w[i];
  w->alive = 0;
  mlog("worker %d (%s) lost: %s", w->num, w->host, reason);
  char why[400];
  snprintf(why, sizeof why, "its worker %d (%s) is lost (%s)", w->num, w->host, reason);
  for (int k = 0; k < m->nx; k++)
    if (m->x[k].worker == i && m->x[k].state != X_DEAD) exec_lost(m, &m->x[k], why);
  w->used = 0;
  schedule(m);
}

/* Right after a connection closed: a worker that no longer routes is the
 * one that went (killed, crashed), known now rather than after 3 s. */
static void probe_workers(master *m) {
  for (int i = 0; i < m->nw; i++) {
    mworker *w = &m->w[i];
    if (!w->alive) continue;
    if (zmq_send(m->sock, w->zid, w->zlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
      if (errno == EHOSTUNREACH) worker_lost(m, i, "its connection closed");
      continue;
    }
    zmq_send(m->sock, "{\"t\":\"ping\"}", 12, ZMQ_DONTWAIT);
  }
}

static void check_timeouts(master *m) {
  double now = eng_now_ms();
  for (int i = 0; i < m->nw; i++) {
    mworker *w = &m->w[i];
    if (!w->alive || now - w->last < WORKER_TIMEOUT_MS) continue;
    char reason[64];
    snprintf(reason, sizeof reason, "no heartbeat for %.1f s", (now - w->last) / 1000);
    worker_lost(m, i, reason);
  }
  for (int i = 0; i < m->na; i++)
    if (m->a[i].alive && now - m->a[i].last > APP_TIMEOUT_MS) end_app(m, &m->a[i], "its driver went silent");
  /* Orphans adopted after a restart whose app never came back. */
  for (int k = 0; k < m->nx; k++) {
    mexec *x = &m->x[k];
    if (x->state == X_DEAD || app_by_id(m, x->app) || now - x->since < ORPHAN_GRACE_MS) continue;
    if (x->worker >= 0 && x->worker < m->nw && m->w[x->worker].alive)
      send_to(m, m->w[x->worker].zid, m->w[x->worker].zlen,
              json_pack("{s:s, s:i, s:i}", "t", "kill", "app", x->app, "id", x->id));
    exec_lost(m, x, "its app is gone");
  }
  /* Forget long-dead executors and long-ended apps (a long-running master
   * would otherwise keep every one). Nothing holds pointers into them here. */
  int k = 0;
  for (int i = 0; i < m->nx; i++)
    if (m->x[i].state != X_DEAD || now - m->x[i].since < FORGET_MS) m->x[k++] = m->x[i];
  m->nx = k;
  k = 0;
  for (int i = 0; i < m->na; i++)
    if (m->a[i].alive || now - m->a[i].ended < FORGET_MS) m->a[k++] = m->a[i];
  m->na = k;
}

int eng_master_main(int argc, char **argv) {
  const char *host = "127.0.0.1", *secret_file = NULL;
  int port = 7077;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
      host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--secret-file") == 0 && i + 1 < argc)
      secret_file = argv[++i];
    else {
      fprintf(stderr, "usage: ember master [--host H] [--port 7077] [--secret-file FILE]\n");
      return 2;
    }
  }
  eng_secret sec;
  eng_err err;
  if (eng_secret_load(secret_file, &sec, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  if (!sec.set) {
    fprintf(stderr,
            "AuthError: the master needs the cluster's secret: --secret-file FILE, EMBER_SECRET or "
            "EMBER_SECRET_FILE\n");
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  master m;
  memset(&m, 0, sizeof m);
  m.started = eng_now_ms();
  void *zctx = zmq_ctx_new();
  eng_zap_start(zctx, &sec, "master");
  m.sock = zmq_socket(zctx, ZMQ_ROUTER);
  int linger = 0, one = 1;
  zmq_setsockopt(m.sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(m.sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
  /* Sends to a peer that is gone fail (EHOSTUNREACH): probe_workers. */
  zmq_setsockopt(m.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  eng_secure_server(m.sock, &sec);
  eng_monitor *mon = eng_monitor_start(zctx, m.sock, "master");
  char addr[256], ep[300];
  eng_listen_address(host, addr, sizeof addr, "master");
  snprintf(ep, sizeof ep, "tcp://%s:%d", addr, port);
  if (zmq_bind(m.sock, ep) < 0) {
    fprintf(stderr, "IOError: cannot listen on %s: %s\n", ep, zmq_strerror(errno));
    return 1;
  }
  mlog("listening on ember://%s:%d", addr, port);
  double last_check = eng_now_ms();
  while (!g_stop) {
    zmq_pollitem_t it = {m.sock, 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, 200);
    for (int k = 0; k < 256 && (it.revents & ZMQ_POLLIN); k++) {
      eng_msg msg;
      if (eng_msg_recv(m.sock, 1, &msg, ZMQ_DONTWAIT, &err) < 0) {
        if (err.code == ENG_EPROTO) continue;
        break;
      }
      const char *t = msg.type;
      if (strcmp(t, "wreg") == 0) on_worker_reg(&m, &msg);
      else if (strcmp(t, "whb") == 0) on_worker_hb(&m, &msg);
      else if (strcmp(t, "exited") == 0) on_exited(&m, &msg);
      else if (strcmp(t, "app") == 0) on_app(&m, &msg);
      else if (strcmp(t, "ahb") == 0) {
        mapp *a = app_by_id(&m, (int)json_integer_value(json_object_get(msg.hdr, "app")));
        if (a && a->alive) {
          a->last = eng_now_ms();
          memcpy(a->zid, msg.peer, msg.peer_len);
          a->zlen = msg.peer_len;
        } else {
          send_to(&m, msg.peer, msg.peer_len, json_pack("{s:s}", "t", "rereg"));
        }
      } else if (strcmp(t, "exec_dead") == 0) {
        exec_given_up(&m, (int)json_integer_value(json_object_get(msg.hdr, "app")),
                      (int)json_integer_value(json_object_get(msg.hdr, "id")),
                      json_string_value(json_object_get(msg.hdr, "why")));
      } else if (strcmp(t, "app_end") == 0) {
        mapp *a = app_by_id(&m, (int)json_integer_value(json_object_get(msg.hdr, "app")));
        if (a) end_app(&m, a, "the session ended");
      } else if (strcmp(t, "status") == 0) {
        on_status(&m, &msg);
      }
      eng_msg_close(&msg);
    }
    double closed = eng_monitor_last_disconnect(mon);
    if (closed > 0 && eng_now_ms() - closed < 1000) probe_workers(&m);
    if (eng_now_ms() - last_check > 250) {
      check_timeouts(&m);
      schedule(&m);
      last_check = eng_now_ms();
    }
  }
  mlog("stopping");
  zmq_close(m.sock);
  zmq_ctx_term(zctx);
  eng_free(m.w);
  eng_free(m.a);
  eng_free(m.x);
  return 0;
}
