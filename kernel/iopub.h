/* iopub.h -- the iopub thread: the one owner of the kernel's PUB socket.
 *
 * Other threads publish through a krn_pub (a PUSH socket of their own into
 * the thread), so messages from one thread keep their order. The thread
 * also reads the pipes that replace the kernel's stdout and stderr (cell
 * printf, executors' UDF output) and publishes them as `stream` messages
 * under the current request, and it runs the live progress bar of jobs
 * (display_data, then update_display_data at most 5 times a second, then a
 * done marker), so the bar moves even while no engine event arrives.
 *
 * Ordering: before it publishes anything a krn_pub sent, the thread first
 * publishes the pipe output read so far, so "printf then show()" reads in
 * that order. krn_pub_sync() returns once everything written to the pipes
 * and sent through that krn_pub before the call has been published.
 *
 * Ownership: krn_io_start() takes the bound PUB socket and the pipes' read
 *   ends; krn_io_stop() publishes what is left, joins the thread and closes
 *   them. A krn_pub belongs to the thread that made it (krn_pub_free there).
 * Thread-safety: krn_pub_* from the owning thread only; krn_io_* from the
 *   thread that started it.
 * Errors: functions return 0 or -errno; a failed publish is logged.
 */
#ifndef KRN_IOPUB_H
#define KRN_IOPUB_H

#include <jansson.h>
#include <pthread.h>

#include "display.h"
#include "wire.h"

typedef struct krn_io krn_io;
typedef struct krn_pub krn_pub;

/* out_fd, err_fd: read ends of the capture pipes, or -1. */
krn_io *krn_io_start(void *zctx, krn_wire *w, void *pub_sock, int out_fd, int err_fd);
void krn_io_stop(krn_io *io);

krn_pub *krn_pub_new(krn_io *io);
void krn_pub_free(krn_pub *p);

/* Publishes msg_type under parent (borrowed; NULL: {}); metadata and
 * content are stolen (NULL: {}). */
int krn_pub_send(krn_pub *p, const char *msg_type, json_t *parent, json_t *metadata,
                 json_t *content);
/* status busy / idle / starting. */
int krn_pub_status(krn_pub *p, json_t *parent, const char *state);
/* Pipe output and progress bars from now on belong to this request
 * (borrowed); silent: drop them instead. */
int krn_pub_set_parent(krn_pub *p, json_t *parent, int silent);
/* The state of a job, from the engine's events (see krn_job). */
int krn_pub_job(krn_pub *p, const krn_job *job);
/* Waits (at most 2 s) until all earlier output is published. */
int krn_pub_sync(krn_pub *p);

/* Starts a thread with the asynchronous signals blocked (all but the fault
 * signals), so that SIGINT and the cell-cancel signal reach the thread
 * that runs cells. 0 or -errno. */
int krn_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
