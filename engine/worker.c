/* worker.c -- `ember worker ember://H:P`: runs executors for sessions.
 *
 * A worker registers with the master (its host, cores and memory), sends a
 * heartbeat every 500 ms listing its executors, starts an executor process
 * when the master says "launch" (an `ember executor` connecting to the
 * app's driver, serving blocks on this host), reports executors that exit,
 * and stops an app's executors and removes their files when the app ends.
 * Executors die with their worker (PR_SET_PDEATHSIG), and a worker whose
 * master restarts keeps its executors and registers again (registration is
 * retried every 200 ms until acknowledged; nothing is queued for a master
 * that is not connected, so a restarted one gets no backlog).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "clock.h"
#include "err.h"
#include "mem.h"
#include "proto.h"

typedef struct wexec {
  int app, id;
  pid_t pid;
  int alive;
} wexec;

typedef struct wstate {
  void *sock;
  char host[256];
  char dir[1024];
  char exe[4096];
  char bind_host[256];
  int cores;
  int64_t mem;
  wexec *x;
  int nx, capx;
  eng_secret sec;
} wstate;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void wlog(const char *fmt, const char *a, long b) {
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf(stderr, "%s worker: ", ts);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  fflush(stderr);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)flag;
  (void)f;
  remove(path);
  return 0;
}

static void send_json(wstate *w, json_t *h) {
  eng_msg_send(w->sock, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
  json_decref(h);
}

static json_t *exec_list(wstate *w) {
  json_t *l = json_array();
  for (int i = 0; i < w->nx; i++)
    if (w->x[i].alive)
      json_array_append_new(l, json_pack("{s:i, s:i, s:i}", "app", w->x[i].app, "id", w->x[i].id, "pid",
                                         (int)w->x[i].pid));
  return l;
}

static void register_with_master(wstate *w) {
  send_json(w, json_pack("{s:s, s:s, s:i, s:I, s:o}", "t", "wreg", "host", w->host, "cores", w->cores,
                         "mem", (json_int_t)w->mem, "execs", exec_list(w)));
}

/* Starts `ember executor` for (app, id), connecting to the driver. */
static void launch(wstate *w, json_t *h) {
  int app = (int)json_integer_value(json_object_get(h, "app"));
  int id = (int)json_integer_value(json_object_get(h, "id"));
  const char *driver = json_string_value(json_object_get(h, "driver"));
  json_int_t mem = json_integer_value(json_object_get(h, "mem"));
  if (!driver) return;
  if (mem <= 0 || mem > w->mem) mem = w->mem / (w->cores ? w->cores : 1);
  char appdir[1100], dir[1200], sid[32], smem[32], bind[320], ppid[32];
  snprintf(appdir, sizeof appdir, "%s/app-%d", w->dir, app);
  mkdir(appdir, 0700);
  snprintf(dir, sizeof dir, "%s/exec-%d", appdir, id);
  snprintf(sid, sizeof sid, "%d", id);
  snprintf(smem, sizeof smem, "%lld", (long long)mem);
  snprintf(bind, sizeof bind, "tcp://%s:*", w->bind_host);
  snprintf(ppid, sizeof ppid, "%d", (int)getpid());
  pid_t pid = fork();
  if (pid < 0) {
    wlog("cannot start an executor: %s (%ld)", strerror(errno), id);
    return;
  }
  if (pid == 0) {
    setenv("EMBER_CLUSTER_KEY", w->sec.secret_z85, 1);
    unsetenv("EMBER_SECRET");
    unsetenv("EMBER_SECRET_FILE");
    char *argv[] = {w->exe, "executor", "--driver", (char *)driver, "--id", sid, "--memory", smem,
                    "--dir", dir, "--bind", bind, "--driver-pid", ppid, NULL};
    execv(w->exe, argv);
    _exit(127);
  }
  if (w->nx == w->capx) {
    int cap = w->capx ? w->capx * 2 : 16;
    wexec *v = eng_realloc(w->x, (size_t)cap * sizeof *v);
    if (!v) return;
    w->x = v;
    w->capx = cap;
  }
  w->x[w->nx++] = (wexec){app, id, pid, 1};
  char what[64];
  snprintf(what, sizeof what, "app %d", app);
  wlog("started executor for %s (pid %ld)", what, (long)pid);
}

static void kill_exec(wexec *x) {
  if (!x->alive) return;
  kill(x->pid, SIGKILL);
  waitpid(x->pid, NULL, 0);
  x->alive = 0;
}

/* Executors that exited: tell the master. */
static void reap(wstate *w) {
  for (int i = 0; i < w->nx; i++) {
    wexec *x = &w->x[i];
    if (!x->alive) continue;
    int status;
    if (waitpid(x->pid, &status, WNOHANG) != x->pid) continue;
    x->alive = 0;
    char why[128];
    if (WIFSIGNALED(status))
      snprintf(why, sizeof why, "was killed by SIG%s", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
      snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
    send_json(w, json_pack("{s:s, s:i, s:i, s:s}", "t", "exited", "app", x->app, "id", x->id, "why", why));
  }
  /* Forget dead entries. */
  int k = 0;
  for (int i = 0; i < w->nx; i++)
    if (w->x[i].alive) w->x[k++] = w->x[i];
  w->nx = k;
}

static int64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  switch (*end) {
    case 'k': case 'K': v *= 1024; break;
    case 'm': case 'M': v *= 1048576; break;
    case 'g': case 'G': v *= 1073741824.0; break;
    default: break;
  }
  return (int64_t)v;
}

int eng_worker_main(int argc, char **argv) {
  wstate w;
  memset(&w, 0, sizeof w);
  const char *url = NULL, *secret_file = NULL, *workdir = NULL, *host = NULL;
  w.cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  w.mem = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE) / 2;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--cores") == 0 && v) w.cores = atoi(argv[++i]);
    else if (strcmp(a, "--memory") == 0 && v) w.mem = parse_size(argv[++i]);
    else if (strcmp(a, "--work-dir") == 0 && v) workdir = argv[++i];
    else if (strcmp(a, "--secret-file") == 0 && v) secret_file = argv[++i];
    else if (strcmp(a, "--host") == 0 && v) host = argv[++i];
    else if (!url && strncmp(a, "ember://", 8) == 0) url = a;
    else {
      fprintf(stderr, "usage: ember worker ember://H:7077 [--cores N] [--memory SIZE] [--work-dir DIR] "
                      "[--host H] [--secret-file FILE]\n");
      return 2;
    }
  }
  eng_err err;
  char mhost[256];
  int mport;
  if (!url || eng_master_url(url, mhost, sizeof mhost, &mport, &err) < 0) {
    fprintf(stderr, "%s\n", url ? err.msg : "usage: ember worker ember://H:7077 [options]");
    return 2;
  }
  if (eng_secret_load(secret_file, &w.sec, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  if (!w.sec.set) {
    fprintf(stderr, "AuthError: the worker needs the cluster's secret: --secret-file FILE, EMBER_SECRET or "
                    "EMBER_SECRET_FILE\n");
    return 1;
  }
  if (w.cores < 1 || w.mem < (64 << 20)) {
    fprintf(stderr, "ValueError: a worker needs at least 1 core and 64 MiB\n");
    return 2;
  }
  /* Executors listen on the address that reaches the master: loopback for
   * a local master, the host's address otherwise; --host overrides. */
  if (host)
    eng_listen_address(host, w.bind_host, sizeof w.bind_host, "worker");
  else
    eng_local_address_for(mhost, w.bind_host, sizeof w.bind_host);
  snprintf(w.host, sizeof w.host, "%s", w.bind_host);
  ssize_t n = readlink("/proc/self/exe", w.exe, sizeof w.exe - 1);
  w.exe[n > 0 ? n : 0] = 0;
  if (workdir) {
    snprintf(w.dir, sizeof w.dir, "%s", workdir);
    mkdir(w.dir, 0700);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(w.dir, sizeof w.dir, "%s/ember-worker-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (!mkdtemp(w.dir)) {
      fprintf(stderr, "IOError: cannot create a work directory: %s\n", strerror(errno));
      return 1;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  void *zctx = zmq_ctx_new();
  w.sock = zmq_socket(zctx, ZMQ_DEALER);
  int linger = 0, ivl = 200, one = 1;
  zmq_setsockopt(w.sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(w.sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  /* Nothing is queued while the master is unreachable: a restarted master
   * would get every heartbeat sent meanwhile. Registration is retried until
   * the master acknowledges it. */
  zmq_setsockopt(w.sock, ZMQ_IMMEDIATE, &one, sizeof one);
  char ident[300];
  snprintf(ident, sizeof ident, "w-%s-%d", w.host, (int)getpid());
  zmq_setsockopt(w.sock, ZMQ_ROUTING_ID, ident, strlen(ident));
  eng_secure_client(w.sock, &w.sec);
  char ep[300];
  snprintf(ep, sizeof ep, "tcp://%s:%d", mhost, mport);
  zmq_connect(w.sock, ep);
  wlog("connecting to master %s (%ld cores)", url, w.cores);
  register_with_master(&w);
  double last_hb = eng_now_ms();
  int registered = 0;
  while (!g_stop) {
    zmq_pollitem_t it = {w.sock, 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, 100);
    if (it.revents & ZMQ_POLLIN) {
      eng_msg m;
      if (eng_msg_recv(w.sock, 0, &m, ZMQ_DONTWAIT, &err) == 0) {
        const char *t = m.type;
        if (strcmp(t, "launch") == 0) {
          launch(&w, m.hdr);
          last_hb = 0; /* the master learns at once that it runs */
        } else if (strcmp(t, "ack") == 0) {
          registered = 1;
        } else if (strcmp(t, "rereg") == 0) {
          registered = 0;
          register_with_master(&w);
          last_hb = eng_now_ms();
        } else if (strcmp(t, "kill") == 0 || strcmp(t, "kill_app") == 0) {
          int app = (int)json_integer_value(json_object_get(m.hdr, "app"));
          int id = (int)json_integer_value(json_object_get(m.hdr, "id"));
          int whole = strcmp(t, "kill_app") == 0;
          for (int i = 0; i < w.nx; i++)
            if (w.x[i].app == app && (whole || w.x[i].id == id)) kill_exec(&w.x[i]);
          if (whole) {
            char appdir[1100];
            snprintf(appdir, sizeof appdir, "%s/app-%d", w.dir, app);
            nftw(appdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            wlog("app %s ended: its executors stopped, files removed (%ld)", "", app);
          }
          reap(&w);
        }
        eng_msg_close(&m);
      }
    }
    reap(&w);
    if (!registered && eng_now_ms() - last_hb >= 200) {
      register_with_master(&w);
      last_hb = eng_now_ms();
    } else if (registered && eng_now_ms() - last_hb >= 500) {
      send_json(&w, json_pack("{s:s, s:o}", "t", "whb", "execs", exec_list(&w)));
      last_hb = eng_now_ms();
    }
  }
  for (int i = 0; i < w.nx; i++) kill_exec(&w.x[i]);
  if (!workdir) nftw(w.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  zmq_close(w.sock);
  zmq_ctx_term(zctx);
  eng_free(w.x);
  return 0;
}

/* `ember status ember://H:P`: the master's view, printed. */
int eng_status_main(int argc, char **argv) {
  const char *url = argc > 2 ? argv[2] : NULL, *secret_file = NULL;
  for (int i = 3; i < argc; i++)
    if (strcmp(argv[i], "--secret-file") == 0 && i + 1 < argc) secret_file = argv[++i];
  eng_err err;
  char host[256];
  int port;
  if (!url || eng_master_url(url, host, sizeof host, &port, &err) < 0) {
    fprintf(stderr, "usage: ember status ember://H:7077 [--secret-file FILE]\n");
    return 2;
  }
  eng_secret sec;
  if (eng_secret_load(secret_file, &sec, &err) < 0 || !sec.set) {
    fprintf(stderr, "%s\n", sec.set ? err.msg : "AuthError: status needs the cluster's secret (EMBER_SECRET or --secret-file)");
    return 1;
  }
  void *zctx = zmq_ctx_new();
  void *s = zmq_socket(zctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  eng_secure_client(s, &sec);
  char ep[300];
  snprintf(ep, sizeof ep, "tcp://%s:%d", host, port);
  zmq_connect(s, ep);
  json_t *req = json_pack("{s:s}", "t", "status");
  eng_msg_send(s, NULL, 0, req, NULL, 0, 0, NULL);
  json_decref(req);
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  int rc = 1;
  if (zmq_poll(&it, 1, 5000) > 0) {
    eng_msg m;
    if (eng_msg_recv(s, 0, &m, 0, &err) == 0) {
      json_t *ws = json_object_get(m.hdr, "workers"), *as = json_object_get(m.hdr, "apps"), *j;
      size_t i;
      printf("master %s: %zu workers, %zu sessions\n", url, json_array_size(ws), json_array_size(as));
      json_array_foreach(ws, i, j) {
        printf("  worker %lld  %-15s %-5s %lld/%lld cores  %lld MiB\n",
               (long long)json_integer_value(json_object_get(j, "worker")),
               json_string_value(json_object_get(j, "host")), json_string_value(json_object_get(j, "state")),
               (long long)json_integer_value(json_object_get(j, "used")),
               (long long)json_integer_value(json_object_get(j, "cores")),
               (long long)(json_integer_value(json_object_get(j, "mem")) >> 20));
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(j, "executors"), k, x)
          printf("    executor %lld of session %lld (%s)\n", (long long)json_integer_value(json_object_get(x, "id")),
                 (long long)json_integer_value(json_object_get(x, "app")),
                 json_string_value(json_object_get(x, "state")));
      }
      json_array_foreach(as, i, j)
        printf("  session %lld  %s  driver %s  %lld executors\n", (long long)json_integer_value(json_object_get(j, "app")),
               json_string_value(json_object_get(j, "name")), json_string_value(json_object_get(j, "driver")),
               (long long)json_integer_value(json_object_get(j, "cores")));
      eng_msg_close(&m);
      rc = 0;
    }
  } else {
    fprintf(stderr, "IOError: no answer from %s in 5 s (is it running, and is the secret right?)\n", url);
  }
  zmq_close(s);
  zmq_ctx_term(zctx);
  return rc;
}
