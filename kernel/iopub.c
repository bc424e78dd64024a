/* iopub.c -- the iopub thread: publishing, stdout/stderr capture, progress.
 *
 * Invariants: only this thread touches the PUB socket, the capture pipes,
 * the stream buffers and the progress state. Captured bytes wait in a
 * buffer at most FLUSH_MS (or until STREAM_MAX bytes), so a printf loop
 * becomes a few large stream messages rather than one per line. Commands
 * waiting on the PULL socket are handled before the pipes are read, so
 * bytes are published under the parent in force when they were written;
 * a sync drains the pipes completely. A job's bar appears once the job has run SHOW_MS, then
 * changes at most every UPDATE_MS, and ends as a one-line summary.
 */
#include "iopub.h"
#include "../engine/clock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../engine/buf.h"

#define FLUSH_MS 50.0
#define STREAM_MAX (64 * 1024)
#define DRAIN_MAX (16 * 1024 * 1024)
#define SHOW_MS 300.0
#define UPDATE_MS 200.0

struct krn_io {
  void *zctx;
  krn_wire *w;
  void *pub, *pull;
  char ep[64];
  pthread_t thread;
  int started;
  pthread_mutex_t lock; /* guards the krn_pub.synced fields */
  pthread_cond_t cond;
  /* -- the thread's own state -- */
  int fd[2];
  eng_buf sbuf[2];
  double deadline[2]; /* when buffered bytes must go out; 0: none */
  json_t *parent;     /* of stream output and new jobs */
  int silent;
  /* the job whose bar is live */
  int job_active, job_shown, job_silent;
  krn_job job;
  double job_t0, job_last;
  json_t *job_parent;
  char display_id[96];
  eng_buf job_text;
};

struct krn_pub {
  krn_io *io;
  void *push;
  unsigned long token, synced;
};

/* ------------------------------------------------------------------------ */
/* Publishing from the thread itself                                        */
/* ------------------------------------------------------------------------ */

static void publish(krn_io *io, const char *type, json_t *parent, json_t *content) {
  json_t *empty = json_object();
  krn_wire_send(io->w, io->pub, NULL, type, type, parent ? parent : empty, NULL, content);
  json_decref(empty);
}

/* Publishes buffered output of stream i (0 stdout, 1 stderr); unless
 * force, an incomplete UTF-8 sequence at the end waits for its rest. */
static void flush_stream(krn_io *io, int i, int force) {
  eng_buf *b = &io->sbuf[i];
  if (b->len == 0) return;
  size_t n = force ? b->len : krn_utf8_whole(b->data, b->len);
  if (n == 0) return;
  if (!io->silent) {
    json_t *text = krn_json_text(b->data, n);
    if (text)
      publish(io, "stream", io->parent,
              json_pack("{s:s, s:o}", "name", i ? "stderr" : "stdout", "text", text));
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  io->deadline[i] = b->len ? eng_now_ms() + FLUSH_MS : 0;
}

static void flush_streams(krn_io *io, int force) {
  flush_stream(io, 0, force);
  flush_stream(io, 1, force);
}

/* Reads what pipe i holds: one read, or (drain) until it is empty. */
static void read_pipe(krn_io *io, int i, int drain) {
  char tmp[65536];
  size_t total = 0;
  while (io->fd[i] >= 0) {
    ssize_t r = read(io->fd[i], tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      close(io->fd[i]);
      io->fd[i] = -1;
      break;
    }
    if (r < 0) break; /* EAGAIN: empty */
    /* The other stream's bytes came first: keep stdout/stderr in order. */
    if (io->sbuf[1 - i].len) flush_stream(io, 1 - i, 0);
    if (io->sbuf[i].len == 0) io->deadline[i] = eng_now_ms() + FLUSH_MS;
    eng_buf_append(&io->sbuf[i], tmp, (size_t)r);
    if (io->sbuf[i].oom) {
      io->sbuf[i].oom = 0; /* lose it rather than die */
      io->sbuf[i].len = 0;
    }
    if (io->sbuf[i].len >= STREAM_MAX) flush_stream(io, i, 0);
    total += (size_t)r;
    if (!drain || total >= DRAIN_MAX) break;
  }
}

/* ------------------------------------------------------------------------ */
/* The progress bar                                                         */
/* ------------------------------------------------------------------------ */

static void job_publish(krn_io *io, const krn_job *view, int update) {
  eng_buf text, html;
  eng_buf_init(&text);
  eng_buf_init(&html);
  krn_job_text(view, &text);
  krn_job_html(view, &html);
  io->job_text.len = 0;
  eng_buf_append(&io->job_text, text.data ? text.data : "", text.len);
  json_t *c =
      json_pack("{s:{s:s%, s:s%}, s:{}, s:{s:s}}", "data", "text/plain", text.data ? text.data : "",
                text.len, "text/html", html.data ? html.data : "", html.len, "metadata",
                "transient", "display_id", io->display_id);
  if (c) publish(io, update ? "update_display_data" : "display_data", io->job_parent, c);
  eng_buf_free(&text);
  eng_buf_free(&html);
  io->job_last = eng_now_ms();
}

static void job_clear(krn_io *io) {
  io->job_active = io->job_shown = 0;
  json_decref(io->job_parent);
  io->job_parent = NULL;
}

/* Ends the live job: its bar (if shown) becomes the summary. */
static void job_finish(krn_io *io, int state) {
  if (!io->job_active) return;
  if (io->job_shown && !io->job_silent) {
    krn_job view = io->job;
    if (view.state == KRN_JOB_RUNNING) {
      view.state = state;
      view.elapsed_ms = eng_now_ms() - io->job_t0;
    }
    job_publish(io, &view, 1);
  }
  job_clear(io);
}

static void job_event(krn_io *io, const krn_job *j) {
  double now = eng_now_ms();
  if (io->job_active && io->job.job != j->job) job_finish(io, KRN_JOB_FAILED);
  if (!io->job_active) {
    io->job_active = 1;
    io->job_shown = 0;
    io->job_silent = io->silent;
    io->job_t0 = now - j->elapsed_ms;
    io->job_parent = json_incref(io->parent);
    snprintf(io->display_id, sizeof io->display_id, "ember-job-%.12s-%d", krn_wire_session(io->w),
             j->job);
  }
  io->job = *j;
  if (j->state != KRN_JOB_RUNNING) job_finish(io, j->state);
}

/* Shows the bar once the job is old enough, then keeps it moving. */
static void job_tick(krn_io *io) {
  if (!io->job_active || io->job_silent) return;
  double now = eng_now_ms();
  krn_job view = io->job;
  view.elapsed_ms = now - io->job_t0;
  if (!io->job_shown) {
    if (view.elapsed_ms < SHOW_MS) return;
    flush_streams(io, 0);
    job_publish(io, &view, 0);
    io->job_shown = 1;
  } else if (now - io->job_last >= UPDATE_MS) {
    job_publish(io, &view, 1);
  }
}

/* ------------------------------------------------------------------------ */
/* The thread                                                               */
/* ------------------------------------------------------------------------ */

static int frame_is(zmq_msg_t *m, const char *s) {
  return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* One command from a krn_pub, if one is waiting: 0 none, 1 done, 2 "stop". */
static int command(krn_io *io) {
  zmq_msg_t f[8];
  int n = 0, more = 1;
  while (more) {
    zmq_msg_t scratch, *m = n < 8 ? &f[n] : &scratch;
    zmq_msg_init(m);
    if (zmq_msg_recv(m, io->pull, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
      int e = errno;
      zmq_msg_close(m);
      if (e == EINTR && n > 0) continue;
      for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
      return e == ETERM ? 2 : 0;
    }
    more = zmq_msg_more(m);
    if (m == &scratch)
      zmq_msg_close(m);
    else
      n++;
  }
  int stop = 0;
  if (n == 7 && frame_is(&f[0], "pub")) {
    /* Output read so far goes first (a sender that needs everything it
     * wrote before to go first syncs before sending). */
    flush_streams(io, 0);
    int rc = zmq_msg_send(&f[1], io->pub, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(io->pub, "<IDS|MSG>", 9, ZMQ_SNDMORE);
    for (int i = 2; i < 7 && rc >= 0; i++)
      rc = zmq_msg_send(&f[i], io->pub, i < 6 ? ZMQ_SNDMORE : 0);
    if (rc < 0) krn_log("iopub: cannot publish: %s", zmq_strerror(errno));
  } else if (n == 3 && frame_is(&f[0], "parent")) {
    /* The request before ended with a sync, which published its output;
     * bytes read since are the new request's (or late ones). */
    json_decref(io->parent);
    io->parent = json_loadb(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 0, NULL);
    io->silent = frame_is(&f[2], "1");
  } else if (n == 2 && frame_is(&f[0], "job") && zmq_msg_size(&f[1]) == sizeof(krn_job)) {
    krn_job j;
    memcpy(&j, zmq_msg_data(&f[1]), sizeof j);
    job_event(io, &j);
  } else if (n == 3 && frame_is(&f[0], "sync") && zmq_msg_size(&f[1]) == sizeof(krn_pub *)) {
    read_pipe(io, 0, 1);
    read_pipe(io, 1, 1);
    flush_streams(io, 1);
    /* Syncs come from the cell's thread between jobs or at the request's
     * end: a job still live here lost its end event. */
    job_finish(io, KRN_JOB_FAILED);
    krn_pub *p;
    unsigned long token;
    memcpy(&p, zmq_msg_data(&f[1]), sizeof p);
    memcpy(&token, zmq_msg_data(&f[2]), sizeof token);
    pthread_mutex_lock(&io->lock);
    p->synced = token;
    pthread_cond_broadcast(&io->cond);
    pthread_mutex_unlock(&io->lock);
  } else if (n >= 1 && frame_is(&f[0], "stop")) {
    stop = 1;
  } else {
    krn_log("iopub: unknown command (%d frames)", n);
  }
  for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
  return stop ? 2 : 1;
}

static void *io_main(void *arg) {
  krn_io *io = arg;
  for (;;) {
    zmq_pollitem_t it[3] = {{io->pull, 0, ZMQ_POLLIN, 0},
                            {NULL, io->fd[0], ZMQ_POLLIN, 0},
                            {NULL, io->fd[1], ZMQ_POLLIN, 0}};
    int nit = 1;
    int map[3] = {0, -1, -1};
    for (int i = 0; i < 2; i++)
      if (io->fd[i] >= 0) {
        it[nit] = (zmq_pollitem_t){NULL, io->fd[i], ZMQ_POLLIN, 0};
        map[nit++] = i;
      }
    double now = eng_now_ms(), wake = -1;
    for (int i = 0; i < 2; i++)
      if (io->deadline[i] > 0 && (wake < 0 || io->deadline[i] < wake)) wake = io->deadline[i];
    if (io->job_active && !io->job_silent) {
      double t = io->job_shown ? io->job_last + UPDATE_MS : io->job_t0 + SHOW_MS;
      if (wake < 0 || t < wake) wake = t;
    }
    long timeout = wake < 0 ? -1 : wake <= now ? 0 : (long)(wake - now) + 1;
    int rc = zmq_poll(it, nit, timeout);
    if (rc < 0) {
      if (errno == EINTR) continue;
      if (errno == ETERM) break;
      krn_log("iopub: poll failed: %s", zmq_strerror(errno));
      break;
    }
    /* Commands first: a "parent" sent before a cell wrote must be in force
     * before the cell's bytes are read. */
    int c;
    while ((c = command(io)) == 1) {
    }
    if (c == 2) break;
    for (int k = 1; k < nit; k++)
      if (it[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) read_pipe(io, map[k], 0);
    now = eng_now_ms();
    for (int i = 0; i < 2; i++)
      if (io->deadline[i] > 0 && now >= io->deadline[i]) flush_stream(io, i, 0);
    job_tick(io);
  }
  read_pipe(io, 0, 1);
  read_pipe(io, 1, 1);
  flush_streams(io, 1);
  job_finish(io, KRN_JOB_FAILED);
  return NULL;
}

int krn_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGABRT);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return -rc;
}

krn_io *krn_io_start(void *zctx, krn_wire *w, void *pub_sock, int out_fd, int err_fd) {
  static atomic_int seq;
  krn_io *io = calloc(1, sizeof *io);
  if (!io) return NULL;
  io->zctx = zctx;
  io->w = w;
  io->pub = pub_sock;
  io->fd[0] = out_fd;
  io->fd[1] = err_fd;
  eng_buf_init(&io->sbuf[0]);
  eng_buf_init(&io->sbuf[1]);
  eng_buf_init(&io->job_text);
  pthread_mutex_init(&io->lock, NULL);
  pthread_cond_init(&io->cond, NULL);
  snprintf(io->ep, sizeof io->ep, "inproc://krn-iopub-%d", atomic_fetch_add(&seq, 1));
  io->pull = zmq_socket(zctx, ZMQ_PULL);
  int hwm = 0;
  if (io->pull) zmq_setsockopt(io->pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (!io->pull || zmq_bind(io->pull, io->ep) < 0 ||
      krn_thread_start(&io->thread, io_main, io) < 0) {
    if (io->pull) zmq_close(io->pull);
    free(io);
    return NULL;
  }
  io->started = 1;
  return io;
}

void krn_io_stop(krn_io *io) {
  if (!io) return;
  if (io->started) {
    void *s = zmq_socket(io->zctx, ZMQ_PUSH);
    int linger = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, io->ep);
    zmq_send(s, "stop", 4, 0);
    pthread_join(io->thread, NULL);
    zmq_close(s);
  }
  zmq_close(io->pull);
  zmq_close(io->pub);
  for (int i = 0; i < 2; i++) {
    if (io->fd[i] >= 0) close(io->fd[i]);
    eng_buf_free(&io->sbuf[i]);
  }
  eng_buf_free(&io->job_text);
  json_decref(io->parent);
  json_decref(io->job_parent);
  pthread_mutex_destroy(&io->lock);
  pthread_cond_destroy(&io->cond);
  free(io);
}

/* ------------------------------------------------------------------------ */
/* Publishers                                                               */
/* ------------------------------------------------------------------------ */

krn_pub *krn_pub_new(krn_io *io) {
  krn_pub *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->io = io;
  p->push = zmq_socket(io->zctx, ZMQ_PUSH);
  int linger = 2000, hwm = 0;
  if (!p->push || zmq_setsockopt(p->push, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
      zmq_setsockopt(p->push, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
      zmq_connect(p->push, io->ep) < 0) {
    if (p->push) zmq_close(p->push);
    free(p);
    return NULL;
  }
  return p;
}

void krn_pub_free(krn_pub *p) {
  if (!p) return;
  zmq_close(p->push);
  free(p);
}

/* Sends frames as one message, retrying sends a signal interrupted. */
static int send_frames(void *s, const void *const *data, const size_t *len, int n) {
  for (int i = 0; i < n; i++) {
    int rc;
    do rc = zmq_send(s, data[i], len[i], i < n - 1 ? ZMQ_SNDMORE : 0);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) return -errno;
  }
  return 0;
}

int krn_pub_send(krn_pub *p, const char *msg_type, json_t *parent, json_t *metadata,
                 json_t *content) {
  krn_enc e;
  int rc = krn_wire_encode(p->io->w, msg_type, parent, metadata, content, &e);
  if (rc) return rc;
  const void *d[7] = {"pub", msg_type, e.sig, e.part[0], e.part[1], e.part[2], e.part[3]};
  size_t l[7] = {3, strlen(msg_type), strlen(e.sig), e.len[0], e.len[1], e.len[2], e.len[3]};
  rc = send_frames(p->push, d, l, 7);
  krn_enc_free(&e);
  return rc;
}

int krn_pub_status(krn_pub *p, json_t *parent, const char *state) {
  return krn_pub_send(p, "status", parent, NULL, json_pack("{s:s}", "execution_state", state));
}

int krn_pub_set_parent(krn_pub *p, json_t *parent, int silent) {
  json_t *empty = json_object();
  char *text = json_dumps(parent ? parent : empty, JSON_COMPACT);
  json_decref(empty);
  if (!text) return -ENOMEM;
  const void *d[3] = {"parent", text, silent ? "1" : "0"};
  size_t l[3] = {6, strlen(text), 1};
  int rc = send_frames(p->push, d, l, 3);
  free(text);
  return rc;
}

int krn_pub_job(krn_pub *p, const krn_job *job) {
  const void *d[2] = {"job", job};
  size_t l[2] = {3, sizeof *job};
  return send_frames(p->push, d, l, 2);
}

int krn_pub_sync(krn_pub *p) {
  krn_io *io = p->io;
  unsigned long token = ++p->token;
  const void *d[3] = {"sync", &p, &token};
  size_t l[3] = {4, sizeof p, sizeof token};
  int rc = send_frames(p->push, d, l, 3);
  if (rc) return rc;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 2;
  pthread_mutex_lock(&io->lock);
  while (p->synced != token && rc == 0) rc = -pthread_cond_timedwait(&io->cond, &io->lock, &dl);
  pthread_mutex_unlock(&io->lock);
  if (rc) krn_log("iopub: sync timed out");
  return rc;
}
