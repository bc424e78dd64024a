/* term.c -- the REPL's front ends over the session library: the
 * interactive terminal (line editing, history, completion, Ctrl-C, the
 * progress bar) and the non-interactive modes (a script, stdin, -e).
 *
 * Output discipline (SPEC 6): results go to stdout; errors, warnings and
 * the progress bar go to stderr. Non-interactive runs print only results
 * and errors and exit 1 if any input failed.
 */
#include "term.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/buf.h"
#include "../engine/mem.h"
#include "linedit.h"
#include "repl.h"

static repl *g_repl;           /* for the SIGINT handler */
static volatile sig_atomic_t g_busy; /* an input is being evaluated */
static volatile sig_atomic_t g_interrupts;

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct term {
  int interactive;
  int color;
  int failed;
  /* progress bar */
  int bar_shown;
  double job_start;
  char bar[256];
} term;

static void out_result(void *ctx, const char *text) {
  (void)ctx;
  fputs(text, stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

static void clear_bar(term *t) {
  if (!t->bar_shown) return;
  fprintf(stderr, "\r%*s\r", (int)strlen(t->bar), "");
  fflush(stderr);
  t->bar_shown = 0;
}

static void out_display(void *ctx, const char *text, const eng_table *table) {
  (void)table;
  clear_bar(ctx);
  fputs(text, stdout);
  size_t n = strlen(text);
  if (n && text[n - 1] != '\n') fputc('\n', stdout);
  fflush(stdout);
}

static void out_error(void *ctx, const char *ename, const char *evalue, const char *detail) {
  term *t = ctx;
  clear_bar(t);
  fflush(stdout);
  if (t->color) fputs("\033[31m", stderr);
  fprintf(stderr, "%s: %s", ename, evalue);
  if (t->color) fputs("\033[0m", stderr);
  fputc('\n', stderr);
  if (detail && *detail) fprintf(stderr, "%s\n", detail);
  fflush(stderr);
  t->failed = 1;
}

static void out_info(void *ctx, const char *text) {
  clear_bar(ctx);
  fputs(text, stderr);
  fflush(stderr);
}

/* Spark's console progress bar: [Stage 1:=====>     (3 + 2) / 8], shown
 * for jobs running over half a second, on a terminal only, erased at the
 * end. */
static void on_event(void *ctx, const eng_event *ev) {
  term *t = ctx;
  if (ev->kind == ENG_EV_WARNING) {
    clear_bar(t);
    fprintf(stderr, "%s%s%s\n", t->color ? "\033[33m" : "", ev->msg, t->color ? "\033[0m" : "");
    fflush(stderr);
    return;
  }
  if (!t->interactive) return;
  if (ev->kind == ENG_EV_JOB_END) {
    clear_bar(t);
    return;
  }
  if (ev->kind != ENG_EV_PROGRESS && ev->kind != ENG_EV_STAGE_START) return;
  if (ev->elapsed_ms < 500 || ev->tasks <= 0) return;
  int width = 40;
  int done = ev->done, running = ev->running, total = ev->tasks;
  int fill = total ? width * done / total : 0;
  char header[64], tail[64], bar[128];
  snprintf(header, sizeof header, "[Stage %d:", ev->stage);
  snprintf(tail, sizeof tail, "(%d + %d) / %d]", done, running, total);
  int i = 0;
  for (; i < fill && i < width; i++) bar[i] = '=';
  if (i < width) bar[i++] = '>';
  for (; i < width; i++) bar[i] = ' ';
  bar[width] = 0;
  snprintf(t->bar, sizeof t->bar, "%s%s%s", header, bar, tail);
  fprintf(stderr, "\r%s", t->bar);
  fflush(stderr);
  t->bar_shown = 1;
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

static void on_sigint(int sig) {
  (void)sig;
  g_interrupts++;
  if (g_busy && g_repl) repl_interrupt(g_repl);
}

static void install_sigint(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

/* ------------------------------------------------------------------------ */
/* Running inputs                                                           */
/* ------------------------------------------------------------------------ */

static int eval_one(repl *r, term *t, const char *input) {
  repl_out out = {out_result, out_display, out_error, out_info, t};
  g_busy = 1;
  int rc = repl_eval(r, input, &out);
  g_busy = 0;
  clear_bar(t);
  return rc;
}

/* Runs a whole text as the REPL would take it: line by line, an input
 * being complete when its brackets balance. */
int repl_term_run_text(repl *r, const char *text, int *out_failed) {
  term t = {0};
  eng_session_set_listener(repl_engine(r), on_event, &t);
  g_repl = r;
  install_sigint();
  eng_buf cur;
  eng_buf_init(&cur);
  const char *p = text;
  int rc = REPL_OK;
  while (*p && rc != REPL_QUIT) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    eng_buf_append(&cur, p, len);
    eng_buf_putc(&cur, '\n');
    p = nl ? nl + 1 : p + len;
    const char *s = eng_buf_cstr(&cur);
    if (!repl_is_complete(s) && *p) continue;
    /* Skip inputs that are only blank lines or comments-free whitespace. */
    int blank = 1;
    for (const char *q = s; *q; q++) blank &= *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r';
    if (!blank) rc = eval_one(r, &t, s);
    cur.len = 0;
  }
  eng_buf_free(&cur);
  *out_failed = t.failed;
  return rc;
}

/* Runs one input as given (ember -e). */
int repl_term_run_one(repl *r, const char *input, int *out_failed) {
  term t = {0};
  eng_session_set_listener(repl_engine(r), on_event, &t);
  g_repl = r;
  install_sigint();
  int rc = eval_one(r, &t, input);
  *out_failed = t.failed;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The interactive terminal                                                 */
/* ------------------------------------------------------------------------ */

static void complete_cb(void *ctx, const char *buf, int cursor, repl_led *l) {
  repl_complete(ctx, buf, cursor, (repl_add_fn)repl_led_add_completion, l);
}

static int incomplete_cb(void *ctx, const char *text) {
  (void)ctx;
  return !repl_is_complete(text);
}

static void history_path(char *out, size_t cap) {
  const char *home = getenv("HOME");
  const char *f = getenv("EMBER_HISTORY");
  if (f && *f)
    snprintf(out, cap, "%s", f);
  else
    snprintf(out, cap, "%s/.ember_history", home && *home ? home : ".");
}

int repl_term_interactive(repl *r, const char *version) {
  repl_led *l = repl_led_new(0, 1);
  if (!l) {
    fprintf(stderr, "ember: the terminal cannot be used for line editing\n");
    return 1;
  }
  term t = {.interactive = isatty(2), .color = isatty(2) && !getenv("NO_COLOR")};
  eng_session_set_listener(repl_engine(r), on_event, &t);
  g_repl = r;
  install_sigint();
  repl_led_set_completion(l, complete_cb, r);
  repl_led_set_incomplete(l, incomplete_cb, r);
  char hist[4096];
  history_path(hist, sizeof hist);
  repl_led_history_load(l, hist);
  fprintf(stderr,
          "ember %s -- Spark's model in C, on %s (%d executor%s)\n"
          "Type C; a last line without ';' shows its value. :help for the API, :quit or Ctrl-D to leave.\n",
          version, eng_session_master(repl_engine(r)), eng_session_default_parallelism(repl_engine(r)),
          eng_session_default_parallelism(repl_engine(r)) == 1 ? "" : "s");
  int last_was_interrupt = 0;
  for (;;) {
    char prompt[32], cont[32];
    snprintf(prompt, sizeof prompt, "ember [%d]> ", repl_cell_count(r) + 1);
    snprintf(cont, sizeof cont, "%*s> ", (int)strlen(prompt) - 2, "...");
    int status;
    char *line = repl_led_read(l, prompt, cont, &status);
    if (!line) {
      if (status == REPL_LED_INTERRUPT) {
        if (last_was_interrupt) fprintf(stderr, "(to leave, type :quit or press Ctrl-D)\n");
        last_was_interrupt = 1;
        continue;
      }
      if (status == REPL_LED_EOF) fputc('\n', stderr);
      break;
    }
    last_was_interrupt = 0;
    repl_led_history_add(l, line);
    repl_led_history_save(l, hist);
    int rc = eval_one(r, &t, line);
    free(line);
    if (rc == REPL_QUIT) break;
  }
  repl_led_history_save(l, hist);
  repl_led_free(l);
  return 0;
}
