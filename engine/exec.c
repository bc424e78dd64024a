/* exec.c -- the executor process: start-up, the comm thread (driver link,
 * heartbeats, block server, cancels), the task thread, and fetching blocks
 * from other executors.
 *
 * Started as "PROG executor --driver EP --id N --memory BYTES --dir DIR
 * [--bind ENDPOINT] [--driver-pid PID]". It connects to the driver, says
 * "reg", and runs what it is sent until "stop" or until the driver is gone.
 */
#include "exec.h"
#include "clock.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../udf/udf_guard.h"
#include "../udf/udf_tier.h"
#include "err.h"
#include "mem.h"
#include "session.h"
#include "task.h"

#define HEARTBEAT_MS 1000
#define FETCH_CHUNK (4 << 20)

/* ------------------------------------------------------------------------ */
/* Task thread                                                              */
/* ------------------------------------------------------------------------ */

static void *task_main(void *arg) {
  eng_exec *ex = arg;
  udf_guard_thread_init();
  void *pair = zmq_socket(ex->zctx, ZMQ_PAIR);
  zmq_connect(pair, "inproc://tasks");
  for (;;) {
    eng_msg m;
    eng_err err;
    if (eng_msg_recv(pair, 0, &m, 0, &err) < 0) {
      if (errno == ETERM) break;
      continue;
    }
    if (strcmp(m.type, "quit") == 0) {
      eng_msg_close(&m);
      break;
    }
    eng__exec_run_task(ex, &m, pair);
    eng_msg_close(&m);
    ex->tasks_run++;
  }
  for (int i = 0; i < ex->npeers; i++) zmq_close(ex->peers[i].sock);
  zmq_close(pair);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Comm thread (the main thread)                                            */
/* ------------------------------------------------------------------------ */

static void send_heartbeat(eng_exec *ex, void *drv) {
  eng_bs_stats st;
  eng_bs_stats_get(ex->bs, &st);
  eng_buf dropped;
  eng_buf_init(&dropped);
  int nd = eng_bs_take_dropped(ex->bs, &dropped);
  json_t *dl = json_array();
  for (size_t pos = 0; nd > 0 && pos < dropped.len; pos += strlen(dropped.data + pos) + 1)
    json_array_append_new(dl, json_string(dropped.data + pos));
  eng_buf_free(&dropped);
  eng_buf spilled;
  eng_buf_init(&spilled);
  int ns = eng_bs_take_spilled(ex->bs, &spilled);
  json_t *sl = json_array();
  for (size_t pos = 0; ns > 0 && pos < spilled.len; pos += strlen(spilled.data + pos) + 1)
    json_array_append_new(sl, json_string(spilled.data + pos));
  eng_buf_free(&spilled);
  /* Resident memory, as the kernel counts it (/proc/self/statm). */
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  json_t *h = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "t", "hb", "id", ex->id, "mem",
                        (json_int_t)st.mem, "disk", (json_int_t)st.disk, "used",
                        (json_int_t)eng_mem_in_use(), "rss", (json_int_t)resident * sysconf(_SC_PAGESIZE),
                        "tid", (json_int_t)atomic_load(&ex->running_tid), "dropped", dl, "spilled", sl);
  eng_msg_send(drv, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
  json_decref(h);
}

/* Serves a fetch request: whole batches of the block from the offset. */
static void serve_fetch(eng_exec *ex, void *srv, eng_msg *m) {
  const char *id = json_string_value(json_object_get(m->hdr, "id"));
  json_int_t off = json_integer_value(json_object_get(m->hdr, "off"));
  json_int_t max = json_integer_value(json_object_get(m->hdr, "max"));
  if (max <= 0 || max > (64 << 20)) max = FETCH_CHUNK;
  eng_buf out;
  eng_buf_init(&out);
  eng_err err;
  int64_t next = -1;
  int rc = id ? eng_bs_read(ex->bs, id, off, (size_t)max, &out, &next, &err)
              : eng_err_set(&err, ENG_EPROTO, "ProtocolError: fetch without id");
  json_t *h;
  /* The request's number goes back with the answer (see next_chunk). */
  json_int_t rq = json_integer_value(json_object_get(m->hdr, "rq"));
  if (rc < 0) {
    h = json_pack("{s:s, s:b, s:s, s:I}", "t", "chunk", "ok", 0, "err", err.msg, "rq", rq);
    eng_msg_send(srv, m->peer, m->peer_len, h, NULL, 0, 0, NULL);
  } else {
    h = json_pack("{s:s, s:b, s:I, s:I}", "t", "chunk", "ok", 1, "next", (json_int_t)next, "rq", rq);
    size_t len = out.len;
    char *data = eng_buf_take(&out, NULL);
    eng_frame f = {data, len, NULL, NULL};
    eng_msg_send(srv, m->peer, m->peer_len, h, &f, 1, 0, NULL);
    eng_free(data);
  }
  json_decref(h);
  eng_buf_free(&out);
}

static int parse_args(eng_exec *ex, int argc, char **argv) {
  const char *bind = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return -1;
    if (strcmp(a, "--driver") == 0)
      snprintf(ex->driver_ep, sizeof ex->driver_ep, "%s", v);
    else if (strcmp(a, "--id") == 0)
      ex->id = atoi(v);
    else if (strcmp(a, "--memory") == 0)
      ex->budget = strtoll(v, NULL, 10);
    else if (strcmp(a, "--dir") == 0)
      snprintf(ex->dir, sizeof ex->dir, "%s", v);
    else if (strcmp(a, "--bind") == 0)
      bind = v;
    else if (strcmp(a, "--driver-pid") == 0)
      ex->driver_pid = atoi(v);
    else
      return -1;
    i++;
  }
  if (!ex->driver_ep[0] || !ex->dir[0] || ex->budget <= 0) return -1;
  if (bind)
    snprintf(ex->block_ep, sizeof ex->block_ep, "%s", bind);
  else
    snprintf(ex->block_ep, sizeof ex->block_ep, "ipc://%s/blocks.sock", ex->dir);
  return 0;
}

int eng_executor_main(int argc, char **argv) {
  eng_exec ex_storage, *ex = &ex_storage;
  memset(ex, 0, sizeof *ex);
  pthread_mutex_init(&ex->lost_lock, NULL);
  if (parse_args(ex, argc, argv) < 0) {
    fprintf(stderr, "usage: ember executor --driver EP --id N --memory BYTES --dir DIR\n");
    return 2;
  }
  /* Local mode: die with the driver, whatever kills it. */
  if (ex->driver_pid) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != ex->driver_pid) return 0;
  }
  /* Tasks allocate and free tens of MiB (tables, batches); returning that
   * to the kernel after each use and faulting it in again (first touch)
   * cost a sixth of word count's time. So blocks up to 64 MiB come from one
   * heap and stay there while tasks run, and the comm thread gives free
   * memory back once the executor is idle (RSS then is what it holds:
   * its cache). */
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN); /* Ctrl-C is the driver's business */
  udf_guard_install();
  mkdir(ex->dir, 0700);
  udf_tier_enable(ex->dir); /* hot typed kernels get rebuilt by cc */
  eng_err err;
  char bsdir[1200];
  if (snprintf(bsdir, sizeof bsdir, "%s/blocks", ex->dir) >= (int)sizeof bsdir) bsdir[0] = 0;
  ex->bs = eng_bs_new(ex->budget, bsdir, &err);
  ex->udfs = udf_cache_new();
  ex->bcast_arena = eng_arena_new(0);
  if (!ex->bs || !ex->udfs || !ex->bcast_arena) {
    fprintf(stderr, "executor %d: %s\n", ex->id, ex->bs ? "out of memory" : err.msg);
    return 1;
  }
  ex->zctx = zmq_ctx_new();
  /* Started by a worker: the cluster key is in the environment, and every
   * socket (to the driver, to and from peers) uses it. */
  if (eng_cluster_key_load(&ex->sec, &err) < 0) {
    fprintf(stderr, "executor %d: %s\n", ex->id, err.msg);
    return 1;
  }
  unsetenv("EMBER_CLUSTER_KEY"); /* not for children of user code */
  if (ex->sec.set) eng_zap_start(ex->zctx, &ex->sec, "executor");
  void *drv = zmq_socket(ex->zctx, ZMQ_DEALER);
  void *srv = zmq_socket(ex->zctx, ZMQ_ROUTER);
  ex->pair_task = zmq_socket(ex->zctx, ZMQ_PAIR);
  char ident[64];
  snprintf(ident, sizeof ident, "x%d.%d", ex->id, (int)getpid());
  zmq_setsockopt(drv, ZMQ_ROUTING_ID, ident, strlen(ident));
  int linger = 0, hwm = 0;
  zmq_setsockopt(drv, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(srv, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(drv, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(drv, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_bind(ex->pair_task, "inproc://tasks");
  eng_secure_server(srv, &ex->sec);
  eng_secure_client(drv, &ex->sec);
  if (ex->sec.set) eng_monitor_refusals(ex->zctx, srv, "executor");
  if (zmq_bind(srv, ex->block_ep) < 0) {
    fprintf(stderr, "executor %d: cannot listen on %s: %s\n", ex->id, ex->block_ep,
            zmq_strerror(errno));
    return 1;
  }
  /* A tcp bind to port 0 ("tcp://h:*") picks a port: publish the real one. */
  size_t eplen = sizeof ex->block_ep;
  zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ex->block_ep, &eplen);
  if (zmq_connect(drv, ex->driver_ep) < 0) {
    fprintf(stderr, "executor %d: cannot connect to %s: %s\n", ex->id, ex->driver_ep,
            zmq_strerror(errno));
    return 1;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof host);
  json_t *reg = json_pack("{s:s, s:i, s:i, s:s, s:s, s:i, s:I}", "t", "reg", "id", ex->id, "pid",
                          (int)getpid(), "ep", ex->block_ep, "host", host, "slots", 1, "mem",
                          (json_int_t)ex->budget);
  eng_msg_send(drv, NULL, 0, reg, NULL, 0, 0, NULL);
  json_decref(reg);

  atomic_store(&ex->running_tid, -1);
  pthread_create(&ex->task_thread, NULL, task_main, ex);

  double last_hb = eng_now_ms(), last_driver = eng_now_ms(), last_kill = 0;
  double last_task_end = 0;
  int need_trim = 0;
  int64_t kill_tid = -1;
  int stop = 0;
  while (!stop) {
    zmq_pollitem_t items[3] = {{drv, 0, ZMQ_POLLIN, 0},
                               {srv, 0, ZMQ_POLLIN, 0},
                               {ex->pair_task, 0, ZMQ_POLLIN, 0}};
    int n = zmq_poll(items, 3, 100);
    if (n < 0 && errno != EINTR) break;
    double now = eng_now_ms();
    if (items[0].revents & ZMQ_POLLIN) {
      eng_msg m;
      if (eng_msg_recv(drv, 0, &m, 0, &err) == 0) {
        last_driver = now;
        if (strcmp(m.type, "launch") == 0) {
          atomic_store(&ex->cancel, 0);
          atomic_store(&ex->running_tid, json_integer_value(json_object_get(m.hdr, "tid")));
          /* Forward the whole message to the task thread. */
          eng_frame *fr = eng_calloc((size_t)m.nframes + 1, sizeof *fr);
          for (int i = 0; fr && i < m.nframes; i++) {
            fr[i].data = zmq_msg_data(&m.frames[i]);
            fr[i].len = zmq_msg_size(&m.frames[i]);
          }
          eng_msg_send(ex->pair_task, NULL, 0, m.hdr, fr, fr ? m.nframes : 0, 0, NULL);
          eng_free(fr);
        } else if (strcmp(m.type, "kill") == 0) {
          int64_t tid = json_integer_value(json_object_get(m.hdr, "tid"));
          if (tid == atomic_load(&ex->running_tid)) {
            atomic_store(&ex->cancel, 1);
            kill_tid = tid;
            last_kill = 0; /* signal now, then every 100 ms */
          }
        } else if (strcmp(m.type, "drop") == 0) {
          const char *p = json_string_value(json_object_get(m.hdr, "prefix"));
          if (p) eng_bs_remove_prefix(ex->bs, p);
        } else if (strcmp(m.type, "peer_lost") == 0) {
          const char *ep = json_string_value(json_object_get(m.hdr, "ep"));
          pthread_mutex_lock(&ex->lost_lock);
          char(*v)[512] = ep ? eng_realloc(ex->lost_eps, (size_t)(ex->nlost + 1) * sizeof *v) : NULL;
          if (v) {
            ex->lost_eps = v;
            snprintf(v[ex->nlost++], sizeof v[0], "%s", ep);
          }
          pthread_mutex_unlock(&ex->lost_lock);
          atomic_fetch_add(&ex->lost_gen, 1);
        } else if (strcmp(m.type, "stop") == 0) {
          stop = 1;
        }
        eng_msg_close(&m);
      }
    }
    if (items[1].revents & ZMQ_POLLIN) {
      eng_msg m;
      if (eng_msg_recv(srv, 1, &m, 0, &err) == 0) {
        if (strcmp(m.type, "fetch") == 0) serve_fetch(ex, srv, &m);
        eng_msg_close(&m);
      }
    }
    if (items[2].revents & ZMQ_POLLIN) {
      eng_msg m;
      if (eng_msg_recv(ex->pair_task, 0, &m, 0, &err) == 0) {
        atomic_store(&ex->running_tid, -1);
        last_task_end = now;
        need_trim = 1;
        eng_frame *fr = eng_calloc((size_t)m.nframes + 1, sizeof *fr);
        for (int i = 0; fr && i < m.nframes; i++) {
          fr[i].data = zmq_msg_data(&m.frames[i]);
          fr[i].len = zmq_msg_size(&m.frames[i]);
        }
        eng_msg_send(drv, NULL, 0, m.hdr, fr, fr ? m.nframes : 0, 0, NULL);
        eng_free(fr);
        eng_msg_close(&m);
        send_heartbeat(ex, drv); /* report dropped blocks promptly */
        last_hb = now;
      }
    }
    /* A cancelled task stuck in user code: interrupt it until it ends. */
    if (kill_tid >= 0) {
      if (atomic_load(&ex->running_tid) != kill_tid) {
        kill_tid = -1;
      } else if (now - last_kill >= 100) {
        udf_guard_interrupt(ex->task_thread);
        last_kill = now;
      }
    }
    /* Idle a moment after a task: give freed memory back (see mallopt). */
    if (need_trim && atomic_load(&ex->running_tid) == -1 && now - last_task_end > 150) {
      malloc_trim(0);
      need_trim = 0;
    }
    if (now - last_hb >= HEARTBEAT_MS) {
      send_heartbeat(ex, drv);
      last_hb = now;
    }
    if (ex->driver_pid && getppid() != ex->driver_pid) break;
    /* A remote driver silent for a minute is gone. */
    if (!ex->driver_pid && now - last_driver > 60000) break;
  }
  /* Leave at once: the task thread may be inside user code that never
   * returns; the process's end releases everything. */
  zmq_close(drv);
  zmq_close(srv);
  eng_bs_free(ex->bs);
  _exit(0);
}

int eng__exec_peer_lost(eng_exec *ex, const char *ep) {
  int lost = 0;
  pthread_mutex_lock(&ex->lost_lock);
  for (int i = 0; i < ex->nlost && !lost; i++) lost = strcmp(ex->lost_eps[i], ep) == 0;
  pthread_mutex_unlock(&ex->lost_lock);
  return lost;
}

/* ------------------------------------------------------------------------ */
/* Fetching blocks                                                          */
/* ------------------------------------------------------------------------ */

typedef struct chunk {
  int refs;
  char *data;
} chunk;

static void chunk_release(void *ctx, const char *buf) {
  (void)buf;
  chunk *c = ctx;
  if (--c->refs == 0) {
    eng_free(c->data);
    eng_free(c);
  }
}

struct eng_fetch {
  eng_task *t;
  int local;
  void *sock;
  char ep[512];
  char id[128];
  int64_t off;  /* next offset to ask for; -1: no more */
  chunk *cur;
  size_t len, pos;
};

static void *peer_socket(eng_exec *ex, const char *ep) {
  for (int i = 0; i < ex->npeers; i++)
    if (strcmp(ex->peers[i].ep, ep) == 0) return ex->peers[i].sock;
  struct peer *p = eng_realloc(ex->peers, (size_t)(ex->npeers + 1) * sizeof *p);
  if (!p) return NULL;
  ex->peers = p;
  void *s = zmq_socket(ex->zctx, ZMQ_DEALER);
  int linger = 0, one = 1;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
  eng_secure_client(s, &ex->sec);
  if (zmq_connect(s, ep) < 0) {
    zmq_close(s);
    return NULL;
  }
  snprintf(ex->peers[ex->npeers].ep, sizeof ex->peers[ex->npeers].ep, "%s", ep);
  ex->peers[ex->npeers].sock = s;
  ex->npeers++;
  return s;
}

/* Forgets a peer's socket (after a failure, so a restarted peer at the same
 * address gets a fresh connection and no stale replies arrive). */
static void drop_peer(eng_exec *ex, void *sock) {
  for (int i = 0; i < ex->npeers; i++)
    if (ex->peers[i].sock == sock) {
      zmq_close(sock);
      ex->peers[i] = ex->peers[--ex->npeers];
      return;
    }
}

eng_fetch *eng__fetch_open(eng_task *t, const char *ep, const char *id, eng_err *err) {
  eng_fetch *f = eng_calloc(1, sizeof *f);
  if (!f) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: fetch");
    return NULL;
  }
  f->t = t;
  snprintf(f->id, sizeof f->id, "%s", id);
  f->local = !ep || !ep[0] || strcmp(ep, t->ex->block_ep) == 0;
  if (!f->local) {
    snprintf(f->ep, sizeof f->ep, "%s", ep);
    f->sock = peer_socket(t->ex, ep);
    if (!f->sock) {
      eng_free(f);
      eng_err_set(err, ENG_EFETCH, "FetchFailed: cannot connect to %s", ep);
      return NULL;
    }
  }
  return f;
}

/* Gets the next chunk of whole batches into f->cur. 1: got one; 0: end. */
static int next_chunk(eng_fetch *f, eng_err *err) {
  if (f->off < 0) return 0;
  eng_task *t = f->t;
  eng_buf b;
  eng_buf_init(&b);
  int64_t next = -1;
  if (f->local) {
    int rc = eng_bs_read(t->ex->bs, f->id, f->off, FETCH_CHUNK, &b, &next, err);
    if (rc < 0) {
      eng_buf_free(&b);
      return rc;
    }
  } else {
    /* Each request is numbered and the answer names its number: a task
     * cancelled while it waited leaves its answer on this peer's socket,
     * and the next task's fetch must not take it for its own (it would
     * read another block's bytes). */
    static _Atomic int64_t next_rq;
    int64_t rq = atomic_fetch_add(&next_rq, 1) + 1;
    json_t *h = json_pack("{s:s, s:s, s:I, s:I, s:I}", "t", "fetch", "id", f->id, "off",
                          (json_int_t)f->off, "max", (json_int_t)FETCH_CHUNK, "rq", (json_int_t)rq);
    /* ZMQ_IMMEDIATE: the send waits for a live connection; a peer that
     * never answers the connect is gone. */
    double start = eng_now_ms();
    int rc;
    while ((rc = eng_msg_send(f->sock, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL)) < 0 &&
           errno == EAGAIN && eng_now_ms() - start < 3000 && !eng__task_cancelled(t))
      usleep(2000);
    json_decref(h);
    if (rc < 0) {
      drop_peer(t->ex, f->sock);
      f->sock = NULL;
      return eng_err_set(err, ENG_EFETCH, "FetchFailed: executor holding %s is unreachable",
                         f->id);
    }
    eng_msg m;
  wait_answer:
    for (;;) {
      zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
      zmq_poll(&it, 1, 100);
      if (it.revents & ZMQ_POLLIN) break;
      if (eng__task_cancelled(t)) return eng_err_set(err, ENG_ECANCEL, "Cancelled: job cancelled");
      /* The driver saw the holder die: fail now, so the block is
       * recomputed, rather than after the 30 s silence below. */
      if (atomic_load(&t->ex->lost_gen) && eng__exec_peer_lost(t->ex, f->ep)) {
        drop_peer(t->ex, f->sock);
        f->sock = NULL;
        return eng_err_set(err, ENG_EFETCH, "FetchFailed: executor holding %s was lost", f->id);
      }
      if (eng_now_ms() - start > 30000) {
        drop_peer(t->ex, f->sock);
        f->sock = NULL;
        return eng_err_set(err, ENG_EFETCH, "FetchFailed: no answer for block %s", f->id);
      }
    }
    if (eng_msg_recv(f->sock, 0, &m, 0, err) < 0) return ENG_EFETCH;
    if (json_integer_value(json_object_get(m.hdr, "rq")) != rq) {
      eng_msg_close(&m); /* an abandoned request's answer */
      goto wait_answer;
    }
    if (!json_is_true(json_object_get(m.hdr, "ok"))) {
      const char *e = json_string_value(json_object_get(m.hdr, "err"));
      eng_err_set(err, ENG_EFETCH, "%s", e ? e : "FetchFailed: block missing");
      eng_msg_close(&m);
      return ENG_EFETCH;
    }
    next = json_integer_value(json_object_get(m.hdr, "next"));
    size_t len;
    const void *d = eng_msg_frame(&m, 0, &len);
    if (d) eng_buf_append(&b, d, len);
    eng_msg_close(&m);
  }
  if (b.oom) {
    eng_buf_free(&b);
    return eng_err_set(err, ENG_ENOMEM, "MemoryError: fetch buffer");
  }
  f->off = next;
  if (f->cur) chunk_release(f->cur, NULL);
  f->cur = eng_calloc(1, sizeof *f->cur);
  if (!f->cur) {
    eng_buf_free(&b);
    return eng_err_set(err, ENG_ENOMEM, "MemoryError: fetch");
  }
  f->cur->refs = 1;
  f->len = b.len;
  f->cur->data = eng_buf_take(&b, NULL);
  f->pos = 0;
  return 1;
}

int eng__fetch_next(eng_fetch *f, eng_batch **out, eng_err *err) {
  for (;;) {
    if (f->cur && f->pos < f->len) {
      size_t used = 0;
      f->cur->refs++;
      eng_batch *b = eng_batch_parse(f->cur->data + f->pos, f->len - f->pos, chunk_release, f->cur,
                                     &used, err);
      if (!b) return ENG_EFETCH;
      f->pos += used;
      *out = b;
      return 1;
    }
    int rc = next_chunk(f, err);
    if (rc <= 0) return rc;
  }
}

void eng__fetch_close(eng_fetch *f) {
  if (!f) return;
  if (f->cur) chunk_release(f->cur, NULL);
  eng_free(f);
}
