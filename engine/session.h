/* session.h -- a session: the driver side of ember (SparkContext).
 *
 * A session owns an engine (executor processes, local or on a cluster), the
 * datasets built in it, UDF instances, broadcasts and accumulators, and one
 * error slot read with eng_session_errmsg() after a call fails (as SQLite's
 * sqlite3_errmsg). Jobs run on the calling thread: an action blocks until
 * its job is done, delivering progress events to the listener meanwhile.
 *
 * Ownership: eng_session_new() returns an owned session; eng_session_free()
 *   stops its executors and frees every dataset, UDF and value made in it.
 *   Values returned by actions live in the session's value arena until
 *   eng_session_free() (or eng_session_reset()).
 * Thread-safety: one thread at a time calls into a session (the REPL's main
 *   thread, the kernel's shell thread). eng_session_cancel() may be called
 *   from any thread and from signal handlers. eng_session_status() may be
 *   called from any thread.
 * Errors: functions return 0 / ENG_E* (or NULL) and set the session error,
 *   whose message starts with its class: "TaskFailed: ...", "Cancelled".
 */
#ifndef ENG_SESSION_H
#define ENG_SESSION_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "eng_types.h"

typedef struct eng_session eng_session;

typedef struct eng_conf {
  const char *master;        /* "local", "local[N]", "local[*]", "ember://h:p"; NULL: EMBER_MASTER or local[*] */
  int64_t executor_memory;   /* bytes per executor; 0: EMBER_EXECUTOR_MEMORY or a share of RAM */
  const char *exe;           /* program started as executor ("PROG executor ..."); NULL: this one */
  const char *local_dir;     /* scratch (spills); NULL: EMBER_LOCAL_DIR or /tmp */
  const char *app_name;      /* shown by the master; NULL: "ember" */
  const char *secret;        /* cluster secret; NULL: EMBER_SECRET / EMBER_SECRET_FILE */
  int quiet;                 /* no warnings on stderr (the listener still gets them) */
} eng_conf;

/* Starts a session. Local executors are started at once but not waited for:
 * the first job waits for them, so a session starts in milliseconds. */
ENG_API eng_session *eng_session_new(const eng_conf *conf, eng_err *err);
ENG_API void eng_session_free(eng_session *s);
/* Forgets every dataset, UDF, broadcast and value, and drops cached data on
 * the executors, keeping the executors themselves. */
ENG_API int eng_session_reset(eng_session *s);

ENG_API const char *eng_session_errmsg(const eng_session *s);
ENG_API int eng_session_errcode(const eng_session *s);
ENG_API const eng_err *eng_session_error(const eng_session *s);
ENG_API void eng_session_clear_error(eng_session *s);

/* The arena that holds values returned to the user. */
ENG_API eng_arena *eng_session_arena(eng_session *s);

/* Where the next datasets are said to come from ("cell[3]:2"), for explain()
 * and the progress bar; copied. */
ENG_API void eng_session_set_callsite(eng_session *s, const char *site);

/* Total task slots of the engine (default parallelism). */
ENG_API int eng_session_default_parallelism(eng_session *s);
ENG_API const char *eng_session_master(const eng_session *s);

/* Cancels the running job (or the next one, if called just before it
 * starts); safe from other threads and signal handlers. The job ends with
 * "Cancelled: ..." within about a second, even inside an endless UDF loop. */
ENG_API void eng_session_cancel(eng_session *s);
/* Drops a cancel request no job has taken yet: one that came after the job
 * it was meant for had ended, and would otherwise stop the next. */
ENG_API void eng_session_clear_cancel(eng_session *s);

/* ---- events ------------------------------------------------------------- */

enum {
  ENG_EV_JOB_START = 1,
  ENG_EV_JOB_END = 2,
  ENG_EV_STAGE_START = 3,
  ENG_EV_STAGE_END = 4,
  ENG_EV_PROGRESS = 5, /* a task started or ended */
  ENG_EV_WARNING = 6,  /* msg: e.g. "ExecutorLost: executor 2 died (SIGKILL); recomputing" */
};

typedef struct eng_event {
  int kind;
  int job;
  int stage;         /* user-facing stage number (Spark's) */
  int tasks;         /* tasks in the stage */
  int done;          /* tasks finished */
  int running;       /* tasks running */
  double elapsed_ms; /* since the job started */
  int ok;            /* JOB_END: 1 if the job succeeded */
  const char *desc;  /* job: "collect at cell[3]:1" */
  const char *msg;   /* WARNING text */
} eng_event;

typedef void (*eng_listener_fn)(void *ctx, const eng_event *ev);
/* Events are delivered on the thread that runs the action. */
ENG_API void eng_session_set_listener(eng_session *s, eng_listener_fn fn, void *ctx);

/* ---- status ------------------------------------------------------------- */

/* Reads what executors sent while no job ran (registrations, heartbeats,
 * late results), notices dead executors, and refreshes the status. Session
 * thread only; cheap (no waiting). */
ENG_API int eng_session_refresh(eng_session *s);

/* Appends a human-readable status (executors and their health, cached
 * datasets with sizes in memory and on disk, the running job) to out. */
ENG_API int eng_session_status_text(eng_session *s, eng_buf *out);
/* The same as JSON text. */
ENG_API int eng_session_status_json(eng_session *s, eng_buf *out);

/* Statistics (cumulative since the session started), for :time and the
 * benchmarks: jobs and tasks run, and where the time went. */
typedef struct eng_stats {
  long jobs, tasks, stages_skipped, task_retries, executors_lost;
  double last_job_ms;
  long udf_compiles;     /* UDFs compiled in the driver */
  double udf_compile_ms; /* ... and the time they took */
  /* Executors compile a job's new UDFs at its first tasks, in parallel:
   * for each job, the longest such compile in one task, summed over jobs. */
  double exec_compile_ms;
  double task_ms; /* executor time running tasks, all tasks summed */
} eng_runstats;
ENG_API void eng_session_stats(eng_session *s, eng_runstats *out);

/* ---- executors ------------------------------------------------------------ */

/* Entry point of an executor process ("PROG executor --driver EP ..."). */
ENG_API int eng_executor_main(int argc, char **argv);
/* PIDs of the local executor processes (for tests that kill them). */
ENG_API int eng_session_executor_pids(eng_session *s, int *pids, int max);

#endif
