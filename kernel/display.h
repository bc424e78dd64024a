/* display.h -- what the kernel shows in a notebook besides text: show()
 * tables as HTML, and the live job progress bar (text and HTML forms).
 *
 * Ownership: functions append to a caller-owned eng_buf; the table is
 *   borrowed (its values live in the session's arena).
 * Thread-safety: pure functions, any thread.
 * Errors: appends return 0 or ENG_ENOMEM (the buffer's sticky oom).
 */
#ifndef KRN_DISPLAY_H
#define KRN_DISPLAY_H

#include "../engine/buf.h"
#include "../engine/dataset.h"

/* An HTML table of t, cells as the text table shows them (None as null,
 * 20-character truncation with "...", right-aligned), HTML-escaped, with
 * Spark's "only showing top n rows" under it when there are more. */
int krn_table_html(const eng_table *t, eng_buf *out);

/* Appends s (n bytes) with & < > " ' escaped. */
void krn_html_escape(eng_buf *out, const char *s, size_t n);

/* A job as the progress bar shows it. */
enum { KRN_JOB_RUNNING = 0, KRN_JOB_OK = 1, KRN_JOB_FAILED = 2 };
typedef struct krn_job {
  int job;           /* engine job id */
  int stage;         /* current stage (Spark's number) */
  int tasks;         /* tasks of the current stage */
  int done, running; /* of the current stage */
  int stages;        /* stages started so far */
  long tasks_done;   /* tasks finished, all stages */
  double elapsed_ms; /* since the job started */
  int state;         /* KRN_JOB_* */
  char desc[160];    /* "collect at cell[3]:1" */
} krn_job;

/* The bar as text, Spark's console form "[Stage 1:=====>    (3 + 2) / 8]",
 * or the summary line once the job has ended. */
void krn_job_text(const krn_job *j, eng_buf *out);
/* The same as an HTML fragment (a <progress> element). */
void krn_job_html(const krn_job *j, eng_buf *out);

#endif
