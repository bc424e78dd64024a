/* exec.h -- an executor process's shared state (internal to engine/).
 *
 * Two threads: the comm thread owns the socket to the driver and the block
 * server socket (other executors fetch shuffle and cached blocks from it),
 * sends heartbeats, and turns "kill" into a cancel flag plus a signal to the
 * task thread; the task thread runs one task at a time (exec_task.c) and
 * fetches blocks from peers with its own sockets.
 *
 * Ownership: the process owns one eng_exec for its lifetime.
 * Thread-safety: fields are set before the threads start, except `cancel`
 *   (atomic), the block store (locked), the running tid (atomic) and the
 *   lost peers (lost_lock).
 */
#ifndef ENG_EXEC_H
#define ENG_EXEC_H

#include <pthread.h>
#include <stdatomic.h>

#include "../udf/udf.h"
#include "arena.h"
#include "blockstore.h"
#include "cluster.h"
#include "proto.h"

typedef struct eng_bcast_ent {
  long id;
  eng_val v;
} eng_bcast_ent;

struct eng_exec {
  int id;
  eng_secret sec;            /* cluster executors: CURVE on every socket */
  int driver_pid;            /* local mode: exit when it is gone */
  char driver_ep[512];
  char block_ep[1100];       /* where our block server listens */
  char dir[1024];            /* scratch: spills, shuffle files */
  int64_t budget;
  void *zctx;
  void *pair_task;           /* comm side of the inproc pair */
  eng_blockstore *bs;
  udf_cache *udfs;
  /* broadcasts received (task thread only) */
  eng_arena *bcast_arena;
  eng_bcast_ent *bcasts;
  int nbcasts, capbcasts;
  /* the running task (comm thread reads for kill) */
  _Atomic int64_t running_tid;
  _Atomic int cancel;
  pthread_t task_thread;
  /* peers' block servers (task thread only) */
  struct peer {
    char ep[512];
    void *sock;
  } *peers;
  int npeers;
  long tasks_run;
  /* Block servers of executors the driver says are lost ("peer_lost"):
   * written by the comm thread, read by fetches waiting on an answer. */
  pthread_mutex_t lost_lock;
  char (*lost_eps)[512];
  int nlost;
  _Atomic int lost_gen;
};

/* Is the executor serving blocks at ep known to be lost? */
int eng__exec_peer_lost(struct eng_exec *ex, const char *ep);

/* Runs a launch message on the task thread; sends the "done" message on
 * `out` (the task side of the inproc pair). */
void eng__exec_run_task(struct eng_exec *ex, eng_msg *launch, void *out);
/* The broadcast with this id, or NULL. */
eng_val *eng__exec_bcast(struct eng_exec *ex, long id);

#endif
