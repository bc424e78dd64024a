/* cluster_client.h -- a session's link to a standalone master (internal).
 *
 * Ownership: eng__cclient_start() returns an owned client; eng__cclient_stop()
 *   ends the app at the master and frees it.
 * Thread-safety: all functions are for the session thread; the client's own
 *   thread owns the master socket.
 * Errors: start fails with "IOError: no answer from the master ..." when the
 *   master does not answer in 10 s (down, or the secret is wrong).
 */
#ifndef ENG_CLUSTER_CLIENT_H
#define ENG_CLUSTER_CLIENT_H

#include <jansson.h>

#include "cluster.h"

typedef struct eng_cclient eng_cclient;

eng_cclient *eng__cclient_start(void *zctx, const char *master_host, int master_port,
                                const eng_secret *sec, const char *name, const char *driver_ep,
                                int cores_max, int64_t mem, eng_err *err);
void eng__cclient_stop(eng_cclient *c);
/* Cores the master could grant when the app registered. */
int eng__cclient_cores(eng_cclient *c);
int eng__cclient_app(eng_cclient *c);
/* Notes an executor id seen, so a re-registration continues after it. */
void eng__cclient_saw_exec(eng_cclient *c, int id);
/* Tells the master that this driver gave up on executor `id` (silent or
 * unreachable): the master stops it and places a replacement. */
void eng__cclient_exec_dead(eng_cclient *c, int id, const char *why);
/* Gives the client the driver socket's monitor (eng_monitor_start), which
 * notes closed connections; borrowed, it outlives the client. */
void eng__cclient_watch(eng_cclient *c, eng_monitor *mon);
/* Did a connection to the driver close within the last `ms` ms (an executor
 * or its worker died)? */
int eng__cclient_disconnected_within(eng_cclient *c, double ms);
/* Executors the master reported lost since the last call. */
int eng__cclient_take_lost(eng_cclient *c, int *ids, char (*why)[160], int max);
/* The master's status ({workers, apps}), or NULL after timeout_ms. */
json_t *eng__cclient_status(eng_cclient *c, int timeout_ms);

#endif
