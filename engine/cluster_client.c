/* cluster_client.c -- a session's link to a standalone master.
 *
 * A thread owns the socket to the master: it registers the session (an
 * "app": its driver endpoint, the cores it wants, memory per executor),
 * sends a heartbeat every 500 ms (a silent app is ended by the master), and
 * queues what the master reports: executors lost (their worker died or was
 * cut off). It tells the master about executors the driver gave up on
 * (silent, unreachable), so they are stopped and replaced. When the master
 * restarts it answers "rereg" and the app registers again under the same
 * id, so its executors carry on. Nothing is queued for a master that is not
 * connected (ZMQ_IMMEDIATE): registration is retried until answered.
 *
 * The session thread reads the queue (eng__cclient_take_lost) and asks for
 * the master's status (eng__cclient_status) through an inproc pair; the
 * thread is the only user of the master socket, as ZeroMQ requires.
 */
#include "cluster_client.h"
#include "clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "proto.h"

#define MAX_LOST 256
#define MAX_DEAD 256

struct eng_cclient {
  void *zctx;
  void *pair_session; /* session side of the inproc pair */
  pthread_t thread;
  char master_ep[300];
  char name[128];
  char driver_ep[1200];
  int cores_max;
  int64_t mem;
  eng_secret sec;
  char pair_ep[64];
  /* shared with the session thread */
  pthread_mutex_t lock;
  int app_id;
  int cores_granted;
  int registered;
  _Atomic int next_exec;
  int lost[MAX_LOST];
  char lost_why[MAX_LOST][160];
  int nlost;
  /* Executors this driver gave up on (silent, unreachable): the master is
   * told at once (to stop them and place replacements), and again in every
   * registration, in case it was down then. */
  int dead[MAX_DEAD];
  char dead_why[MAX_DEAD][160];
  int ndead, dead_sent;
  eng_monitor *mon; /* the driver socket's monitor (closed connections) */
};

/* Registers the app (again, after a master restart: same id, and the
 * executors given up on since, so the master does not adopt them). */
static void send_app(eng_cclient *c, void *m) {
  json_t *dead = json_array();
  pthread_mutex_lock(&c->lock);
  int id = c->app_id;
  for (int i = 0; i < c->ndead; i++) json_array_append_new(dead, json_integer(c->dead[i]));
  pthread_mutex_unlock(&c->lock);
  json_t *h = json_pack("{s:s, s:s, s:s, s:i, s:I, s:i, s:i, s:o}", "t", "app", "name", c->name, "driver",
                        c->driver_ep, "cores", c->cores_max, "mem", (json_int_t)c->mem, "app", id,
                        "next_exec", atomic_load(&c->next_exec), "dead", dead);
  eng_msg_send(m, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
  json_decref(h);
}

/* Tells the master about executors given up on since the last call. */
static void send_dead(eng_cclient *c, void *m) {
  pthread_mutex_lock(&c->lock);
  int id = c->app_id;
  for (; c->dead_sent < c->ndead; c->dead_sent++) {
    json_t *h = json_pack("{s:s, s:i, s:i, s:s}", "t", "exec_dead", "app", id, "id", c->dead[c->dead_sent],
                          "why", c->dead_why[c->dead_sent]);
    eng_msg_send(m, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
    json_decref(h);
  }
  pthread_mutex_unlock(&c->lock);
}

static void *client_main(void *arg) {
  eng_cclient *c = arg;
  void *m = zmq_socket(c->zctx, ZMQ_DEALER);
  void *pair = zmq_socket(c->zctx, ZMQ_PAIR);
  int linger = 0, ivl = 200, one = 1;
  zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(m, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  /* Heartbeats are not queued while the master is down (a restarted master
   * would get them all, and answer each with "rereg"): a registration that
   * is dropped is asked for again by the first heartbeat it answers. */
  zmq_setsockopt(m, ZMQ_IMMEDIATE, &one, sizeof one);
  zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
  eng_secure_client(m, &c->sec);
  zmq_connect(m, c->master_ep);
  zmq_connect(pair, c->pair_ep);
  send_app(c, m);
  double last_hb = eng_now_ms(), last_app = eng_now_ms();
  int stop = 0, status_pending = 0;
  while (!stop) {
    zmq_pollitem_t it[2] = {{m, 0, ZMQ_POLLIN, 0}, {pair, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(it, 2, 100) < 0) break;
    if (it[0].revents & ZMQ_POLLIN) {
      eng_msg msg;
      eng_err err;
      if (eng_msg_recv(m, 0, &msg, ZMQ_DONTWAIT, &err) == 0) {
        const char *t = msg.type;
        if (strcmp(t, "app_ok") == 0) {
          pthread_mutex_lock(&c->lock);
          c->app_id = (int)json_integer_value(json_object_get(msg.hdr, "app"));
          c->cores_granted = (int)json_integer_value(json_object_get(msg.hdr, "cores"));
          c->registered = 1;
          pthread_mutex_unlock(&c->lock);
        } else if (strcmp(t, "rereg") == 0) {
          send_app(c, m);
        } else if (strcmp(t, "exec_lost") == 0) {
          pthread_mutex_lock(&c->lock);
          if (c->nlost < MAX_LOST) {
            c->lost[c->nlost] = (int)json_integer_value(json_object_get(msg.hdr, "id"));
            const char *why = json_string_value(json_object_get(msg.hdr, "why"));
            snprintf(c->lost_why[c->nlost], sizeof c->lost_why[0], "%s", why ? why : "lost");
            c->nlost++;
          }
          pthread_mutex_unlock(&c->lock);
        } else if (strcmp(t, "status") == 0 && status_pending) {
          /* Hand the master's answer to the waiting session thread. */
          eng_msg_send(pair, NULL, 0, msg.hdr, NULL, 0, ZMQ_DONTWAIT, NULL);
          status_pending = 0;
        }
        eng_msg_close(&msg);
      }
    }
    if (it[1].revents & ZMQ_POLLIN) {
      eng_msg req;
      eng_err err;
      if (eng_msg_recv(pair, 0, &req, ZMQ_DONTWAIT, &err) == 0) {
        if (strcmp(req.type, "stop") == 0) {
          pthread_mutex_lock(&c->lock);
          int id = c->app_id;
          pthread_mutex_unlock(&c->lock);
          json_t *h = json_pack("{s:s, s:i}", "t", "app_end", "app", id);
          eng_msg_send(m, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
          json_decref(h);
          stop = 1;
        } else if (strcmp(req.type, "status") == 0) {
          json_t *h = json_pack("{s:s}", "t", "status");
          eng_msg_send(m, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
          json_decref(h);
          status_pending = 1;
        }
        eng_msg_close(&req);
      }
    }
    send_dead(c, m);
    pthread_mutex_lock(&c->lock);
    int registered = c->registered;
    pthread_mutex_unlock(&c->lock);
    /* Not registered yet (the first try may leave before the connection is
     * up): try again; the master knows a repeat by its connection. */
    if (!registered && eng_now_ms() - last_app >= 250) {
      send_app(c, m);
      last_app = eng_now_ms();
    }
    if (registered && eng_now_ms() - last_hb >= 500) {
      pthread_mutex_lock(&c->lock);
      int id = c->app_id;
      pthread_mutex_unlock(&c->lock);
      json_t *h = json_pack("{s:s, s:i}", "t", "ahb", "app", id);
      eng_msg_send(m, NULL, 0, h, NULL, 0, ZMQ_DONTWAIT, NULL);
      json_decref(h);
      last_hb = eng_now_ms();
    }
  }
  /* Give the app_end a moment to leave before the socket closes. */
  int wait = 300;
  zmq_setsockopt(m, ZMQ_LINGER, &wait, sizeof wait);
  zmq_close(m);
  zmq_close(pair);
  return NULL;
}

eng_cclient *eng__cclient_start(void *zctx, const char *master_host, int master_port,
                                const eng_secret *sec, const char *name, const char *driver_ep,
                                int cores_max, int64_t mem, eng_err *err) {
  eng_cclient *c = eng_calloc(1, sizeof *c);
  if (!c) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: cluster client");
    return NULL;
  }
  pthread_mutex_init(&c->lock, NULL);
  c->zctx = zctx;
  snprintf(c->master_ep, sizeof c->master_ep, "tcp://%s:%d", master_host, master_port);
  snprintf(c->name, sizeof c->name, "%s", name);
  snprintf(c->driver_ep, sizeof c->driver_ep, "%s", driver_ep);
  c->cores_max = cores_max;
  c->mem = mem;
  c->sec = *sec;
  atomic_store(&c->next_exec, 1);
  static _Atomic int counter;
  snprintf(c->pair_ep, sizeof c->pair_ep, "inproc://ember-cclient-%d", atomic_fetch_add(&counter, 1));
  c->pair_session = zmq_socket(zctx, ZMQ_PAIR);
  int linger = 0;
  zmq_setsockopt(c->pair_session, ZMQ_LINGER, &linger, sizeof linger);
  zmq_bind(c->pair_session, c->pair_ep);
  if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
    zmq_close(c->pair_session);
    eng_free(c);
    eng_err_set(err, ENG_ERROR, "Error: cannot start the cluster client");
    return NULL;
  }
  /* Wait for the master's answer (it comes at once when it is up). */
  double deadline = eng_now_ms() + 10000;
  for (;;) {
    pthread_mutex_lock(&c->lock);
    int ok = c->registered;
    pthread_mutex_unlock(&c->lock);
    if (ok) break;
    if (eng_now_ms() > deadline) {
      eng__cclient_stop(c);
      eng_err_set(err, ENG_EIO,
                  "IOError: no answer from the master at ember://%s:%d within 10 s (is it running, "
                  "and does this session hold the cluster secret?)",
                  master_host, master_port);
      return NULL;
    }
    usleep(5000);
  }
  return c;
}

int eng__cclient_cores(eng_cclient *c) {
  pthread_mutex_lock(&c->lock);
  int n = c->cores_granted;
  pthread_mutex_unlock(&c->lock);
  return n;
}

int eng__cclient_app(eng_cclient *c) {
  pthread_mutex_lock(&c->lock);
  int n = c->app_id;
  pthread_mutex_unlock(&c->lock);
  return n;
}

void eng__cclient_saw_exec(eng_cclient *c, int id) {
  int cur = atomic_load(&c->next_exec);
  while (id + 1 > cur && !atomic_compare_exchange_weak(&c->next_exec, &cur, id + 1)) {
  }
}

void eng__cclient_exec_dead(eng_cclient *c, int id, const char *why) {
  pthread_mutex_lock(&c->lock);
  if (c->ndead == MAX_DEAD) {
    /* Forget the oldest: long stopped by now. */
    memmove(c->dead, c->dead + 1, (MAX_DEAD - 1) * sizeof c->dead[0]);
    memmove(c->dead_why, c->dead_why + 1, (MAX_DEAD - 1) * sizeof c->dead_why[0]);
    c->ndead--;
    if (c->dead_sent > 0) c->dead_sent--;
  }
  c->dead[c->ndead] = id;
  snprintf(c->dead_why[c->ndead], sizeof c->dead_why[0], "%s", why ? why : "lost");
  c->ndead++;
  pthread_mutex_unlock(&c->lock);
}

void eng__cclient_watch(eng_cclient *c, eng_monitor *mon) { c->mon = mon; }

int eng__cclient_disconnected_within(eng_cclient *c, double ms) {
  double t = eng_monitor_last_disconnect(c->mon);
  return t > 0 && eng_now_ms() - t < ms;
}

int eng__cclient_take_lost(eng_cclient *c, int *ids, char (*why)[160], int max) {
  pthread_mutex_lock(&c->lock);
  int n = c->nlost < max ? c->nlost : max;
  for (int i = 0; i < n; i++) {
    ids[i] = c->lost[i];
    memcpy(why[i], c->lost_why[i], sizeof why[i]);
  }
  memmove(c->lost, c->lost + n, (size_t)(c->nlost - n) * sizeof c->lost[0]);
  memmove(c->lost_why, c->lost_why + n, (size_t)(c->nlost - n) * sizeof c->lost_why[0]);
  c->nlost -= n;
  pthread_mutex_unlock(&c->lock);
  return n;
}

json_t *eng__cclient_status(eng_cclient *c, int timeout_ms) {
  /* An answer that came after an earlier call gave up is stale. */
  for (;;) {
    eng_msg old;
    eng_err err;
    if (eng_msg_recv(c->pair_session, 0, &old, ZMQ_DONTWAIT, &err) < 0) break;
    eng_msg_close(&old);
  }
  json_t *req = json_pack("{s:s}", "t", "status");
  eng_msg_send(c->pair_session, NULL, 0, req, NULL, 0, 0, NULL);
  json_decref(req);
  zmq_pollitem_t it = {c->pair_session, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, timeout_ms) <= 0) return NULL;
  eng_msg m;
  eng_err err;
  if (eng_msg_recv(c->pair_session, 0, &m, 0, &err) < 0) return NULL;
  json_t *h = json_incref(m.hdr);
  eng_msg_close(&m);
  return h;
}

void eng__cclient_stop(eng_cclient *c) {
  if (!c) return;
  json_t *req = json_pack("{s:s}", "t", "stop");
  eng_msg_send(c->pair_session, NULL, 0, req, NULL, 0, 0, NULL);
  json_decref(req);
  pthread_join(c->thread, NULL);
  zmq_close(c->pair_session);
  pthread_mutex_destroy(&c->lock);
  eng_free(c);
}
