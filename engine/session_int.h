/* session_int.h -- the driver's state (internal to engine/): executors,
 * shuffles, datasets, UDFs, broadcasts, accumulators, and the job runner.
 *
 * Jobs run on the session's calling thread (sched.c): it owns the ROUTER
 * socket all executors connect to, dispatches tasks, and receives results.
 * Between jobs nothing reads the socket; heartbeats queue up and executor
 * deaths are noticed when the next job starts.
 */
#ifndef ENG_SESSION_INT_H
#define ENG_SESSION_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "../udf/udf.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_client.h"
#include "plan.h"
#include "proto.h"
#include "session.h"

enum { EX_STARTING = 0, EX_ALIVE = 1, EX_DEAD = 2 };

typedef struct eng_execinfo {
  int id;
  pid_t pid;          /* local executors: ours to watch and kill */
  int rpid;           /* its pid on its own host (display) */
  char zid[64];       /* ZeroMQ routing id, from "reg" */
  size_t zid_len;
  char ep[512];       /* its block server */
  char host[256];
  int state;
  double started_ms, last_seen_ms;
  int64_t budget, used, rss, cache_mem, cache_disk;
  int64_t running_tid; /* -1: idle */
  uint64_t *udfs;      /* UDF hashes it has been sent */
  int nudfs, capudfs;
  long *bcasts;        /* broadcast ids it has */
  int nbcasts, capbcasts;
  long tasks_done;
  char death[256];     /* why it died */
} eng_execinfo;

typedef struct eng_shuffle {
  int id;
  eng_ds *dep;      /* the wide node reading it */
  int parent;       /* which parent of dep writes it */
  eng_ds *map_ds;   /* dep->parents[parent] */
  int nmaps, nreduce;
  int *map_exec;    /* per map: executor holding its output, -1 missing */
  int64_t **sizes;  /* per map: bytes per reducer */
  int stage_id;     /* user-facing number of its map stage, once run */
} eng_shuffle;

typedef struct eng_bcast {
  long id;
  eng_val v;        /* session arena */
  char *blob;       /* encoded, shipped once per executor */
  size_t len;
} eng_bcast;

typedef struct eng_accum {
  long id;
  eng_val *slot;    /* the running total (session arena; ACC values point here) */
} eng_accum;

struct eng_session {
  eng_err err;
  char *master;
  int nlocal;                /* local[N] executors */
  int remote;                /* ember://host:port: executors come from a cluster */
  eng_secret secret;
  eng_cclient *cc;
  char *cluster_status;      /* the master's last answer (JSON), for :status */
  int64_t exec_mem;
  char *exe;
  char *dir;                 /* session scratch directory */
  char *ckpt_dir;
  int quiet;
  eng_arena *vals;           /* values returned to the user */
  eng_arena *plan;           /* dtypes, origins, node parameters */
  eng_ds **ds;
  int nds, capds;
  eng_udf **udfs;
  int nudfs, capudfs;
  udf_cache *udfc;
  eng_bcast *bcasts;
  int nbcasts, capbcasts;
  eng_accum *accs;
  int naccs, capaccs;
  eng_shuffle **shuffles;
  int nshuffles, capshuffles;
  char *callsite;
  eng_listener_fn listener;
  void *listener_ctx;
  _Atomic int cancel_req;
  /* executors and their socket */
  void *zctx, *router;
  char router_ep[1200];
  eng_execinfo *execs;
  int nexecs, capexecs;
  int next_exec_id;
  int64_t next_tid;
  int next_job, next_stage;
  double restart_window_ms;
  int restarts_in_window;
  eng_runstats stats;
  /* cross-thread status */
  pthread_mutex_t status_lock;
  char *status_json;
  char *running_job;
};

/* ---- session.c -------------------------------------------------------------- */

/* Sets the session error and returns code. */
int eng__fail(eng_session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Removes a directory tree (best effort). */
void eng__rm_rf(const char *dir);
/* Starts a local executor process (or replaces a dead one). */
int eng__spawn_executor(eng_session *s);
/* Notices dead executors (waitpid, heartbeat silence) and handles them:
 * returns how many were found dead. */
int eng__reap_executors(eng_session *s);
eng_execinfo *eng__exec_by_id(eng_session *s, int id);
eng_execinfo *eng__exec_by_zid(eng_session *s, const char *zid, size_t len);
void eng__emit(eng_session *s, const eng_event *ev);
void eng__warn(eng_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eng__update_status(eng_session *s);
eng_bcast *eng__bcast_by_id(eng_session *s, long id);
eng_accum *eng__acc_by_id(eng_session *s, long id);
/* Registers a shuffle dependency for parent `parent` of wide node d. */
eng_shuffle *eng__shuffle_new(eng_session *s, eng_ds *d, int parent);
eng_shuffle *eng__shuffle_by_id(eng_session *s, int id);
/* Forgets every map output / cached block held by executor `id`. */
void eng__forget_executor_data(eng_session *s, int id);
/* Handles messages that are not task results (reg, hb); 1 if handled. */
int eng__handle_exec_msg(eng_session *s, eng_msg *m);

/* ---- sched.c ------------------------------------------------------------------ */

/* A job: compute partitions `parts` of d and hand each task's result to
 * `on_result`. sink_fn builds the task sink JSON for a partition (it may add
 * blobs through the builder). */
typedef struct eng_jobspec eng_jobspec;
typedef struct eng_taskgen eng_taskgen;
struct eng_jobspec {
  eng_ds *ds;
  const int *parts; /* NULL: all partitions */
  int nparts;
  const char *action; /* for the job description: "collect" */
  json_t *(*sink_fn)(eng_taskgen *g, int part, void *ctx);
  int (*on_result)(eng_session *s, int part, eng_msg *done, void *ctx);
  void *ctx;
  int internal;      /* a preparation job (sampling, counting): no events */
  int ckpt_ds;       /* >= 0: write this ds's partitions as checkpoint files */
};
int eng__run_job(eng_session *s, const eng_jobspec *job);

/* ---- taskgen.c ----------------------------------------------------------------- */

/* Collects what a task message needs besides its JSON: binary frames, UDF
 * definitions and broadcasts the target executor lacks. */
struct eng_taskgen {
  eng_session *s;
  eng_execinfo *ex; /* target executor */
  eng_frame *frames;
  int nframes, capframes;
  char **owned;     /* frame data to free after sending */
  int nowned;
  json_t *udfs;     /* defs to ship */
  json_t *bcasts;   /* {id, blob} to ship */
  int ckpt_ds;
};
void eng__taskgen_init(eng_taskgen *g, eng_session *s, eng_execinfo *ex);
void eng__taskgen_free(eng_taskgen *g);
/* Adds a frame (copied) and returns its index. */
int eng__taskgen_blob(eng_taskgen *g, const void *data, size_t len);
/* A value as an encoded frame; returns its index. */
int eng__taskgen_val(eng_taskgen *g, eng_val v);
/* {"h": hash, "caps": blob}, shipping the definition if needed. */
json_t *eng__taskgen_udf(eng_taskgen *g, eng_udf *f);
/* The node tree computing partition p of d. */
json_t *eng__taskgen_node(eng_taskgen *g, eng_ds *d, int p);
/* The shuffle writer sink for map task `map` of shuffle sh. */
json_t *eng__taskgen_shuffle_sink(eng_taskgen *g, eng_shuffle *sh, int map);
/* Aggregation spec of a SHUFFLED node ({agg, f, zero, key_whole}). */
json_t *eng__taskgen_agg(eng_taskgen *g, eng_ds *d);
/* The shuffles d's partitions read directly (through narrow dependencies). */
int eng__direct_shuffles(eng_ds *d, eng_shuffle **out, int max);

#endif
