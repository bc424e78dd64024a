/* kernel.c -- `ember kernel -f FILE`: set-up, the shell loop and its
 * request handlers, and the control and heartbeat threads.
 *
 * Invariants:
 * - Every request on shell or control is bracketed by status busy / idle on
 *   iopub, with the request's header as parent; the reply is sent before
 *   idle, and all output of an execute (the pipes included) is published
 *   before its reply (krn_pub_sync).
 * - Only the main thread calls into the session (repl_eval, completion,
 *   docs); other threads only call repl_interrupt(), which is thread-safe.
 * - The repl_out callbacks run on the main thread, sometimes inside the
 *   cell's user code: they block the asynchronous signals while they talk
 *   to zmq, so an interrupt cannot unwind through a half-sent message; the
 *   pending cancel takes effect when they return.
 * - execution_count counts execute requests with store_history (and not
 *   silent); execute_input, execute_result, the reply and the history all
 *   carry the same number.
 */
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../engine/mem.h"
#include "../repl/repl.h"
#include "display.h"
#include "iopub.h"
#include "wire.h"


enum { KRN_MAX_STAGES = 64 };
enum { CH_SHELL, CH_CONTROL, CH_STDIN, CH_IOPUB, CH_HB, NCH };
static const char *const ch_names[NCH] = {"shell", "control", "stdin", "iopub", "hb"};
static const char *const ch_keys[NCH] = {"shell_port", "control_port", "stdin_port", "iopub_port",
                                         "hb_port"};

typedef struct hist_entry {
  int line;
  char *input;
  char *output; /* text/plain of the result, or NULL */
} hist_entry;

typedef struct kernel {
  krn_wire *w;
  void *zctx;
  void *sock[NCH];
  int port[NCH];
  krn_io *io;
  krn_pub *pub; /* the main thread's */
  repl *r;
  char master[128];
  /* the execute request being run (main thread) */
  const krn_msg *cur;
  int silent, count;
  int had_error;
  json_t *error; /* {ename, evalue, traceback} of the last error */
  char *result;  /* text of the execute_result */
  json_t *payload;
  eng_buf *page; /* collects :help text for a pager payload, or NULL */
  krn_job job;
  int stage_id[KRN_MAX_STAGES], stage_done[KRN_MAX_STAGES], nstages; /* of the job */
  /* history of this session */
  hist_entry *hist;
  int nhist, caphist;
  /* shutdown */
  atomic_int stop, main_done, restart;
  pthread_t control_th, hb_th;
  int control_started, hb_started;
} kernel;

static repl *volatile g_repl;
static int g_verbose; /* EMBER_KERNEL_DEBUG: log start and shutdown too */
static volatile sig_atomic_t g_busy;

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t g_term; /* SIGTERM: shut down as on a request */

static void on_signal(int sig) {
  if (sig == SIGTERM) g_term = 1;
  if (g_busy && g_repl) repl_interrupt(g_repl);
}

/* Blocks the asynchronous signals on this thread (see the invariants). */
static void block_async(sigset_t *old) {
  sigset_t s;
  sigfillset(&s);
  sigdelset(&s, SIGSEGV);
  sigdelset(&s, SIGBUS);
  sigdelset(&s, SIGFPE);
  sigdelset(&s, SIGILL);
  sigdelset(&s, SIGABRT);
  pthread_sigmask(SIG_BLOCK, &s, old);
}

static void restore_signals(const sigset_t *old) {
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Byte offset of code point `cp` in UTF-8 text (Jupyter counts cursor
 * positions in code points). */
static int cp_to_byte(const char *s, long cp) {
  int i = 0;
  for (long c = 0; s[i] && c < cp; c++) {
    i++;
    while (s[i] && ((unsigned char)s[i] & 0xc0) == 0x80) i++;
  }
  return i;
}

static long byte_to_cp(const char *s, int b) {
  long c = 0;
  for (int i = 0; i < b && s[i]; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
  return c;
}

static int word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void reply(kernel *k, void *sock, const krn_msg *m, const char *type, json_t *content) {
  krn_wire_send(k->w, sock, m, NULL, type, NULL, NULL, content);
}

static json_t *kernel_info(kernel *k) {
  char banner[512];
  snprintf(banner, sizeof banner,
           "ember %s -- Apache Spark's model in C, on %s\n"
           "Type C; a last line without ';' shows its value. :help lists the API, name? shows one.",
           EMBER_VERSION, k->master);
  return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:b, s:[]}",
                   "status", "ok", "protocol_version", KRN_PROTOCOL_VERSION, "implementation",
                   "ember", "implementation_version", EMBER_VERSION, "language_info", "name", "c",
                   "version", "C11", "mimetype", "text/x-csrc", "file_extension", ".c",
                   "pygments_lexer", "c", "codemirror_mode", "text/x-csrc", "nbconvert_exporter",
                   "script", "banner", banner, "debugger", 0, "help_links");
}

/* ------------------------------------------------------------------------ */
/* Output of cells                                                          */
/* ------------------------------------------------------------------------ */

/* Before a cell's result, display or error goes out: async signals held
 * (restore_signals after), and what the cell printed sent first. */
static void begin_output(kernel *k, sigset_t *old) {
  block_async(old);
  fflush(stdout);
  fflush(stderr);
  krn_pub_sync(k->pub);
}

static void out_result(void *ctx, const char *text) {
  kernel *k = ctx;
  sigset_t old;
  begin_output(k, &old);
  eng_free(k->result);
  k->result = eng_strdup(text);
  if (k->cur && !k->silent) {
    json_t *data = json_object();
    json_object_set_new(data, "text/plain", krn_json_text(text, strlen(text)));
    krn_pub_send(
        k->pub, "execute_result", k->cur->header, NULL,
        json_pack("{s:i, s:o, s:{}}", "execution_count", k->count, "data", data, "metadata"));
  }
  restore_signals(&old);
}

static void out_display(void *ctx, const char *text, const eng_table *table) {
  kernel *k = ctx;
  sigset_t old;
  begin_output(k, &old);
  if (k->cur && !k->silent) {
    json_t *data = json_object();
    size_t n = strlen(text);
    if (n && text[n - 1] == '\n') n--; /* the notebook adds its own line end */
    json_object_set_new(data, "text/plain", krn_json_text(text, n));
    if (table) {
      eng_buf html;
      eng_buf_init(&html);
      krn_table_html(table, &html);
      if (!html.oom) json_object_set_new(data, "text/html", krn_json_text(html.data, html.len));
      eng_buf_free(&html);
    }
    krn_pub_send(k->pub, "display_data", k->cur->header, NULL,
                 json_pack("{s:o, s:{}}", "data", data, "metadata"));
  }
  restore_signals(&old);
}

static void out_error(void *ctx, const char *ename, const char *evalue, const char *detail) {
  kernel *k = ctx;
  sigset_t old;
  begin_output(k, &old);
  json_t *tb = json_array();
  eng_buf first;
  eng_buf_init(&first);
  eng_buf_printf(&first, "%s: %s", ename, evalue);
  json_array_append_new(tb, krn_json_text(first.data, first.len));
  eng_buf_free(&first);
  for (const char *p = detail ? detail : ""; *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    json_array_append_new(tb, krn_json_text(p, n));
    p += n + (nl ? 1 : 0);
  }
  json_decref(k->error);
  k->error = json_pack("{s:o, s:o, s:o}", "ename", krn_json_text(ename, strlen(ename)), "evalue",
                       krn_json_text(evalue, strlen(evalue)), "traceback", tb);
  k->had_error = 1;
  if (k->cur && !k->silent && k->error)
    krn_pub_send(k->pub, "error", k->cur->header, NULL, json_deep_copy(k->error));
  restore_signals(&old);
}

/* Meta command text (:history, :time) is ordinary stdout; :help's text is
 * paged instead (see do_execute), as IPython pages `name?`. */
static void out_info(void *ctx, const char *text) {
  kernel *k = ctx;
  if (k->page) {
    eng_buf_puts(k->page, text);
    return;
  }
  fputs(text, stdout);
  fflush(stdout);
}

/* Engine events, on the main thread while a job runs: warnings go to
 * stderr (hence a stream), progress to the iopub thread's bar. Stages may
 * interleave, so tasks done are summed over each stage's latest count. */
static void on_event(void *ctx, const eng_event *ev) {
  kernel *k = ctx;
  if (ev->kind == ENG_EV_WARNING) {
    fprintf(stderr, "%s\n", ev->msg ? ev->msg : "");
    return;
  }
  if (!k->cur || k->silent) return;
  krn_job *j = &k->job;
  if (ev->kind == ENG_EV_JOB_START) {
    memset(j, 0, sizeof *j);
    k->nstages = 0;
    j->job = ev->job;
    snprintf(j->desc, sizeof j->desc, "%s", ev->desc ? ev->desc : "job");
  } else if (j->job != ev->job) {
    return;
  } else if (ev->kind == ENG_EV_JOB_END) {
    j->state = ev->ok ? KRN_JOB_OK : KRN_JOB_FAILED;
  } else if (ev->kind == ENG_EV_STAGE_START || ev->kind == ENG_EV_PROGRESS ||
             ev->kind == ENG_EV_STAGE_END) {
    int i = 0;
    while (i < k->nstages && k->stage_id[i] != ev->stage) i++;
    if (i == k->nstages && i < KRN_MAX_STAGES) {
      k->stage_id[i] = ev->stage;
      k->nstages++;
    }
    if (i < KRN_MAX_STAGES) k->stage_done[i] = ev->done;
    j->stage = ev->stage;
    j->tasks = ev->tasks;
    j->done = ev->done;
    j->running = ev->kind == ENG_EV_STAGE_END ? 0 : ev->running;
    j->stages = k->nstages;
    j->tasks_done = 0;
    for (int s = 0; s < k->nstages; s++) j->tasks_done += k->stage_done[s];
  } else {
    return;
  }
  j->elapsed_ms = ev->elapsed_ms;
  sigset_t old;
  block_async(&old);
  krn_pub_job(k->pub, j);
  restore_signals(&old);
}

/* ------------------------------------------------------------------------ */
/* execute_request                                                          */
/* ------------------------------------------------------------------------ */

/* The :help command a cell stands for, written into out: "?name",
 * "name?" and "name??" (IPython's spelling) become ":help name"; ":help" and
 * "%help" (with or without a name) are kept. 0 if the cell is not one. */
static int help_command(const char *code, char *out, size_t cap) {
  while (*code == ' ' || *code == '\t' || *code == '\n') code++;
  size_t n = strlen(code);
  while (n && (code[n - 1] == ' ' || code[n - 1] == '\t' || code[n - 1] == '\n')) n--;
  const char *a = code, *b = code + n;
  if (b - a >= 5 && (*a == ':' || *a == '%') && strncmp(a + 1, "help", 4) == 0 &&
      (b - a == 5 || a[5] == ' ' || a[5] == '\t')) {
    if ((size_t)(b - a) >= cap) return 0;
    snprintf(out, cap, ":%.*s", (int)(b - a - 1), a + 1);
    return !memchr(a, '\n', (size_t)(b - a));
  }
  if (a < b && *a == '?') {
    while (a < b && *a == '?') a++;
  } else if (b > a && b[-1] == '?') {
    while (b > a && b[-1] == '?') b--;
  } else {
    return 0;
  }
  if (a == b || (size_t)(b - a) + 7 >= cap) return 0;
  for (const char *p = a; p < b; p++)
    if (!word_char(*p)) return 0;
  snprintf(out, cap, ":help %.*s", (int)(b - a), a);
  return 1;
}

static void history_add(kernel *k, int line, const char *input, const char *output) {
  if (k->nhist == k->caphist) {
    int cap = k->caphist ? 2 * k->caphist : 64;
    hist_entry *h = eng_realloc(k->hist, (size_t)cap * sizeof *h);
    if (!h) return;
    k->hist = h;
    k->caphist = cap;
  }
  hist_entry *e = &k->hist[k->nhist++];
  e->line = line;
  e->input = eng_strdup(input);
  e->output = output ? eng_strdup(output) : NULL;
}

static void send_aborted(kernel *k, const krn_msg *m) {
  krn_wire_send(k->w, k->sock[CH_SHELL], m, NULL, "execute_reply", NULL,
                json_pack("{s:s}", "status", "aborted"), json_pack("{s:s}", "status", "aborted"));
}

/* The shell requests already waiting, taken without blocking (at most 256):
 * after a failed cell with stop_on_error, those are what gets aborted. They
 * are taken before the failed cell's reply goes out, so a request a client
 * sends once it has the reply is never among them. */
typedef struct pending {
  krn_msg m[256];
  int n;
} pending;

static void take_pending(kernel *k, pending *q) {
  q->n = 0;
  while (q->n < 256) {
    int rc = krn_wire_recv(k->w, k->sock[CH_SHELL], ZMQ_DONTWAIT, &q->m[q->n]);
    if (rc == 0)
      q->n++;
    else if (rc != KRN_DROPPED && rc != -EINTR)
      break;
  }
}

/* Runs one execute request. When it fails with stop_on_error, the requests
 * queued behind it are taken (returned, for the caller to abort after its
 * idle status); else NULL. */
static pending *do_execute(kernel *k, const krn_msg *m) {
  const char *code = krn_msg_str(m, "code", "");
  int silent = krn_msg_bool(m, "silent", 0);
  int store = !silent && krn_msg_bool(m, "store_history", 1);
  int stop_on_error = krn_msg_bool(m, "stop_on_error", 1);
  if (store) k->count++;
  krn_pub_set_parent(k->pub, m->header, silent);
  if (!silent)
    krn_pub_send(k->pub, "execute_input", m->header, NULL,
                 json_pack("{s:o, s:i}", "code", krn_json_text(code, strlen(code)),
                           "execution_count", k->count));
  k->cur = m;
  k->silent = silent;
  k->had_error = 0;
  json_decref(k->error);
  k->error = NULL;
  eng_free(k->result);
  k->result = NULL;
  json_decref(k->payload);
  k->payload = json_array();
  char help[256];
  eng_buf page;
  eng_buf_init(&page);
  int paging = help_command(code, help, sizeof help);
  if (paging) k->page = &page;
  repl_out out = {out_result, out_display, out_error, out_info, k};
  /* Errors and explain() name cells as Jupyter numbers them (In [n]). */
  repl_set_next_label(k->r, k->count);
  g_busy = 1;
  int rc = repl_eval(k->r, paging ? help : code, &out);
  g_busy = 0;
  k->page = NULL;
  if (page.len && !page.oom)
    json_array_append_new(k->payload,
                          json_pack("{s:s, s:{s:o}, s:i}", "source", "page", "data", "text/plain",
                                    krn_json_text(page.data, page.len), "start", 0));
  eng_buf_free(&page);
  fflush(stdout);
  fflush(stderr);
  krn_pub_sync(k->pub);
  if (rc == REPL_ERROR && !k->had_error) out_error(k, "Error", "the cell failed", "");
  if (rc == REPL_QUIT)
    json_array_append_new(k->payload,
                          json_pack("{s:s, s:b}", "source", "ask_exit", "keepkernel", 0));
  pending *q = NULL;
  if (k->had_error && stop_on_error && !atomic_load(&k->stop) &&
      (q = eng_malloc(sizeof *q)) != NULL)
    take_pending(k, q);
  json_t *content;
  if (k->had_error) {
    content = json_deep_copy(k->error);
    json_object_set_new(content, "status", json_string("error"));
    json_object_set_new(content, "execution_count", json_integer(k->count));
  } else {
    content = json_pack("{s:s, s:i, s:O, s:{}}", "status", "ok", "execution_count", k->count,
                        "payload", k->payload, "user_expressions");
  }
  krn_wire_send(k->w, k->sock[CH_SHELL], m, NULL, "execute_reply", NULL,
                json_pack("{s:s}", "status", k->had_error ? "error" : "ok"), content);
  if (store) history_add(k, k->count, code, k->result);
  k->cur = NULL;
  return q;
}

/* ------------------------------------------------------------------------ */
/* Other shell requests                                                     */
/* ------------------------------------------------------------------------ */

typedef struct matches {
  json_t *arr;
} matches;

static void add_match(void *ctx, const char *word) {
  matches *ms = ctx;
  size_t i;
  json_t *v;
  json_array_foreach(ms->arr, i, v) {
    if (strcmp(json_string_value(v), word) == 0) return;
  }
  json_array_append_new(ms->arr, json_string(word));
}

static int cmp_json_str(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void do_complete(kernel *k, const krn_msg *m) {
  const char *code = krn_msg_str(m, "code", "");
  long cp = krn_msg_int(m, "cursor_pos", (long)strlen(code));
  int cur = cp_to_byte(code, cp < 0 ? 0 : cp);
  int start = cur;
  while (start > 0 && word_char(code[start - 1])) start--;
  matches ms = {json_array()};
  repl_complete(k->r, code, cur, add_match, &ms);
  /* Sorted: the order people scan a list of names in. */
  size_t n = json_array_size(ms.arr);
  json_t **items = n ? eng_malloc(n * sizeof *items) : NULL;
  json_t *sorted = json_array();
  if (items) {
    for (size_t i = 0; i < n; i++) items[i] = json_array_get(ms.arr, i);
    qsort(items, n, sizeof *items, cmp_json_str);
    for (size_t i = 0; i < n; i++) json_array_append(sorted, items[i]);
    eng_free(items);
  }
  json_decref(ms.arr);
  reply(k, k->sock[CH_SHELL], m, "complete_reply",
        json_pack("{s:s, s:o, s:I, s:I, s:{}}", "status", "ok", "matches", sorted, "cursor_start",
                  (json_int_t)byte_to_cp(code, start), "cursor_end",
                  (json_int_t)byte_to_cp(code, cur), "metadata"));
}

static void do_inspect(kernel *k, const krn_msg *m) {
  const char *code = krn_msg_str(m, "code", "");
  long cp = krn_msg_int(m, "cursor_pos", (long)strlen(code));
  char word[128];
  repl_word_at(code, cp_to_byte(code, cp < 0 ? 0 : cp), word, sizeof word);
  /* A meta command under the cursor (":time") is documented too. */
  const char *doc = word[0] ? repl_doc(word) : NULL;
  if (!doc && word[0]) doc = repl_doc_session(k->r, word);
  json_t *data = json_object();
  if (doc) json_object_set_new(data, "text/plain", krn_json_text(doc, strlen(doc)));
  reply(k, k->sock[CH_SHELL], m, "inspect_reply",
        json_pack("{s:s, s:b, s:o, s:{}}", "status", "ok", "found", doc != NULL, "data", data,
                  "metadata"));
}

/* complete / incomplete (open brackets, strings, comments) / invalid (a
 * closing bracket with nothing open); the indent for the next line. */
static void do_is_complete(kernel *k, const krn_msg *m) {
  const char *code = krn_msg_str(m, "code", "");
  int depth = 0, min_depth = 0;
  char q = 0;
  for (const char *p = code; *p; p++) {
    if (q) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == q || *p == '\n')
        q = 0;
      continue;
    }
    if (*p == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      if (!e) break;
      p = e + 1;
    } else if (*p == '/' && p[1] == '/') {
      while (p[1] && p[1] != '\n') p++;
    } else if (*p == '"' || *p == '\'') {
      q = *p;
    } else if (*p == '(' || *p == '[' || *p == '{') {
      depth++;
    } else if (*p == ')' || *p == ']' || *p == '}') {
      if (--depth < min_depth) min_depth = depth;
    }
  }
  const char *status = min_depth < 0            ? "invalid"
                       : repl_is_complete(code) ? "complete"
                                                : "incomplete";
  json_t *c = json_pack("{s:s}", "status", status);
  if (strcmp(status, "incomplete") == 0) {
    char indent[33];
    int n = depth > 0 ? (depth > 8 ? 8 : depth) * 4 : 0;
    memset(indent, ' ', (size_t)n);
    indent[n] = 0;
    json_object_set_new(c, "indent", json_string(indent));
  }
  reply(k, k->sock[CH_SHELL], m, "is_complete_reply", c);
}

/* One history row: [session, line, input] or [session, line, [input, output]]. */
static json_t *hist_row(const hist_entry *e, int output) {
  json_t *in = krn_json_text(e->input, strlen(e->input));
  if (!output) return json_pack("[i, i, o]", 1, e->line, in);
  json_t *out = e->output ? krn_json_text(e->output, strlen(e->output)) : json_null();
  return json_pack("[i, i, [o, o]]", 1, e->line, in, out);
}

static void do_history(kernel *k, const krn_msg *m) {
  const char *type = krn_msg_str(m, "hist_access_type", "tail");
  int output = krn_msg_bool(m, "output", 0);
  long n = krn_msg_int(m, "n", -1);
  json_t *rows = json_array();
  if (strcmp(type, "tail") == 0) {
    int from = n < 0 ? 0 : k->nhist > n ? k->nhist - (int)n : 0;
    for (int i = from; i < k->nhist; i++)
      json_array_append_new(rows, hist_row(&k->hist[i], output));
  } else if (strcmp(type, "range") == 0) {
    /* One session here (number 1); 0 and negative numbers mean this one. */
    long session = krn_msg_int(m, "session", 0);
    long start = krn_msg_int(m, "start", 0), stop = krn_msg_int(m, "stop", -1);
    if (session <= 1)
      for (int i = 0; i < k->nhist; i++) {
        const hist_entry *e = &k->hist[i];
        if (e->line >= start && (stop < 0 || e->line < stop))
          json_array_append_new(rows, hist_row(e, output));
      }
  } else if (strcmp(type, "search") == 0) {
    const char *pattern = krn_msg_str(m, "pattern", "*");
    int unique = krn_msg_bool(m, "unique", 0);
    /* Newest first while collecting, so n and unique keep the latest. */
    json_t *rev = json_array();
    for (int i = k->nhist - 1; i >= 0 && (n < 0 || (long)json_array_size(rev) < n); i--) {
      const hist_entry *e = &k->hist[i];
      if (fnmatch(pattern, e->input, 0) != 0) continue;
      int dup = 0;
      for (int j = i + 1; unique && j < k->nhist && !dup; j++)
        dup = strcmp(k->hist[j].input, e->input) == 0 && fnmatch(pattern, k->hist[j].input, 0) == 0;
      if (!dup) json_array_append_new(rev, hist_row(e, output));
    }
    for (size_t i = json_array_size(rev); i-- > 0;) json_array_append(rows, json_array_get(rev, i));
    json_decref(rev);
  }
  reply(k, k->sock[CH_SHELL], m, "history_reply",
        json_pack("{s:s, s:o}", "status", "ok", "history", rows));
}

static void request_stop(kernel *k, int restart) {
  atomic_store(&k->restart, restart);
  atomic_store(&k->stop, 1);
  /* A cell still running is interrupted, so the main thread comes back. */
  if (g_busy && g_repl) repl_interrupt(g_repl);
}

/* Requests both channels answer. Returns 1 if handled. */
static int common_request(kernel *k, void *sock, const krn_msg *m) {
  if (strcmp(m->type, "kernel_info_request") == 0) {
    reply(k, sock, m, "kernel_info_reply", kernel_info(k));
  } else if (strcmp(m->type, "shutdown_request") == 0) {
    int restart = krn_msg_bool(m, "restart", 0);
    reply(k, sock, m, "shutdown_reply",
          json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
    request_stop(k, restart);
  } else {
    return 0;
  }
  return 1;
}

/* One shell request, between busy and idle. When an execute fails with
 * stop_on_error, the execute requests queued behind it are answered
 * "aborted" (others are served), as ipykernel does. */
static void handle_shell(kernel *k, const krn_msg *m, int aborting) {
  pending *q = NULL;
  krn_pub_status(k->pub, m->header, "busy");
  void *sh = k->sock[CH_SHELL];
  if (strcmp(m->type, "execute_request") == 0) {
    if (aborting)
      send_aborted(k, m);
    else
      q = do_execute(k, m);
  } else if (common_request(k, sh, m)) {
  } else if (strcmp(m->type, "complete_request") == 0) {
    do_complete(k, m);
  } else if (strcmp(m->type, "inspect_request") == 0) {
    do_inspect(k, m);
  } else if (strcmp(m->type, "is_complete_request") == 0) {
    do_is_complete(k, m);
  } else if (strcmp(m->type, "history_request") == 0) {
    do_history(k, m);
  } else if (strcmp(m->type, "comm_info_request") == 0) {
    reply(k, sh, m, "comm_info_reply", json_pack("{s:s, s:{}}", "status", "ok", "comms"));
  } else if (strcmp(m->type, "comm_open") == 0) {
    /* No comm targets here: close it, as ipykernel does for unknown ones. */
    const char *id = krn_msg_str(m, "comm_id", "");
    krn_pub_send(k->pub, "comm_close", m->header, NULL,
                 json_pack("{s:s, s:{}}", "comm_id", id, "data"));
  } else if (strcmp(m->type, "comm_msg") == 0 || strcmp(m->type, "comm_close") == 0) {
  } else {
    krn_log("shell: ignored a %s", m->type);
  }
  krn_pub_status(k->pub, m->header, "idle");
  if (!q) return;
  for (int i = 0; i < q->n; i++) {
    handle_shell(k, &q->m[i], 1);
    krn_msg_free(&q->m[i]);
  }
  eng_free(q);
}

/* ------------------------------------------------------------------------ */
/* Control and heartbeat threads                                            */
/* ------------------------------------------------------------------------ */

static void *control_main(void *arg) {
  kernel *k = arg;
  krn_pub *pub = krn_pub_new(k->io);
  void *s = k->sock[CH_CONTROL];
  while (!atomic_load(&k->stop)) {
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    krn_msg m;
    if (krn_wire_recv(k->w, s, ZMQ_DONTWAIT, &m) != 0) continue;
    if (pub) krn_pub_status(pub, m.header, "busy");
    if (strcmp(m.type, "interrupt_request") == 0) {
      if (g_busy && g_repl) repl_interrupt(g_repl);
      reply(k, s, &m, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
    } else if (!common_request(k, s, &m)) {
      krn_log("control: ignored a %s", m.type);
    }
    if (pub) krn_pub_status(pub, m.header, "idle");
    krn_msg_free(&m);
  }
  krn_pub_free(pub);
  /* Shutting down: if the main thread cannot leave its cell, end anyway;
   * the executors die with the process (they watch their parent). */
  for (int i = 0; i < 80 && !atomic_load(&k->main_done); i++) usleep(50000);
  if (!atomic_load(&k->main_done)) {
    krn_log("the running cell did not stop; exiting");
    _exit(0);
  }
  return NULL;
}

static void *hb_main(void *arg) {
  kernel *k = arg;
  void *s = k->sock[CH_HB];
  while (!atomic_load(&k->stop)) {
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, 100);
    if (rc <= 0) {
      if (rc < 0 && errno != EINTR) break;
      continue;
    }
    /* REP: the whole ping first, then the same parts back. */
    zmq_msg_t part[16];
    int n = 0, more = 1, ok = 1;
    while (more) {
      zmq_msg_t scratch, *m = n < 16 ? &part[n] : &scratch;
      zmq_msg_init(m);
      if (zmq_msg_recv(m, s, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
        zmq_msg_close(m);
        ok = 0;
        break;
      }
      more = zmq_msg_more(m);
      if (m == &scratch)
        zmq_msg_close(m);
      else
        n++;
    }
    for (int i = 0; i < n; i++) {
      if (ok) zmq_msg_send(&part[i], s, i < n - 1 ? ZMQ_SNDMORE : 0);
      zmq_msg_close(&part[i]);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */
/* ------------------------------------------------------------------------ */

/* Reads the connection file and binds the five sockets. 0 or -1 (reason
 * logged). Ports given as 0 are chosen by the system and written back. */
static int bind_sockets(kernel *k, const char *path) {
  json_error_t je;
  json_t *cf = json_load_file(path, 0, &je);
  if (!cf || !json_is_object(cf)) {
    krn_log("cannot read connection file %s: %s (line %d)", path, je.text, je.line);
    json_decref(cf);
    return -1;
  }
  const char *transport = json_string_value(json_object_get(cf, "transport"));
  const char *ip = json_string_value(json_object_get(cf, "ip"));
  const char *key = json_string_value(json_object_get(cf, "key"));
  const char *scheme = json_string_value(json_object_get(cf, "signature_scheme"));
  if (!transport) transport = "tcp";
  if (!ip) ip = "127.0.0.1";
  if (strcmp(transport, "tcp") != 0 && strcmp(transport, "ipc") != 0) {
    krn_log("connection file %s: unknown transport '%s'", path, transport);
    json_decref(cf);
    return -1;
  }
  k->w = krn_wire_new(key ? key : "", scheme);
  if (!k->w) {
    krn_log("connection file %s: unsupported signature_scheme '%s' (hmac-sha256 only)", path,
            scheme ? scheme : "");
    json_decref(cf);
    return -1;
  }
  if (!key || !*key) krn_log("warning: no key in %s: messages are not signed", path);
  static const int types[NCH] = {ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_PUB, ZMQ_REP};
  int wrote_ports = 0;
  for (int i = 0; i < NCH; i++) {
    json_t *pv = json_object_get(cf, ch_keys[i]);
    int port = json_is_integer(pv) ? (int)json_integer_value(pv) : 0;
    void *s = zmq_socket(k->zctx, types[i]);
    if (!s) {
      krn_log("cannot create the %s socket: %s", ch_names[i], zmq_strerror(errno));
      json_decref(cf);
      return -1;
    }
    k->sock[i] = s;
    int linger = 1000, one = 1;
    int64_t maxsize = (int64_t)128 << 20;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (types[i] == ZMQ_ROUTER) {
      zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
      zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    } else if (types[i] == ZMQ_PUB) {
      int hwm = 100000;
      zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    } else {
      int64_t small = 1 << 16;
      zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &small, sizeof small);
    }
    char ep[512];
    if (strcmp(transport, "tcp") == 0) {
      if (port > 0)
        snprintf(ep, sizeof ep, "tcp://%s:%d", ip, port);
      else
        snprintf(ep, sizeof ep, "tcp://%s:*", ip);
    } else {
      snprintf(ep, sizeof ep, "ipc://%s-%d", ip, port);
    }
    if (zmq_bind(s, ep) < 0) {
      krn_log("cannot bind the %s socket to %s: %s", ch_names[i], ep, zmq_strerror(errno));
      json_decref(cf);
      return -1;
    }
    if (port <= 0 && strcmp(transport, "tcp") == 0) {
      char last[512];
      size_t len = sizeof last;
      zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &len);
      const char *colon = strrchr(last, ':');
      port = colon ? atoi(colon + 1) : 0;
      json_object_set_new(cf, ch_keys[i], json_integer(port));
      wrote_ports = 1;
    }
    k->port[i] = port;
  }
  if (wrote_ports && json_dump_file(cf, path, JSON_INDENT(2)) < 0)
    krn_log("cannot write the chosen ports back to %s", path);
  json_decref(cf);
  return 0;
}

/* Replaces fds 1 and 2 with pipes (read ends returned, non-blocking) and fd
 * 0 with /dev/null; keeps the original stderr for the log. Must run before
 * the session starts, so that executors inherit the pipes too. */
static int capture_stdio(int *out_fd, int *err_fd) {
  int logfd = fcntl(2, F_DUPFD_CLOEXEC, 3);
  krn_log_set_fd(logfd);
  int fds[2][2];
  for (int i = 0; i < 2; i++) {
    if (pipe2(fds[i], O_CLOEXEC) < 0) {
      krn_log("cannot create a pipe: %s", strerror(errno));
      return -1;
    }
    fcntl(fds[i][0], F_SETPIPE_SZ, 1 << 20);
    fcntl(fds[i][0], F_SETFL, fcntl(fds[i][0], F_GETFL) | O_NONBLOCK);
  }
  fflush(stdout);
  fflush(stderr);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 0);
    close(devnull);
  }
  dup2(fds[0][1], 1);
  dup2(fds[1][1], 2);
  close(fds[0][1]);
  close(fds[1][1]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  setvbuf(stderr, NULL, _IONBF, 0);
  *out_fd = fds[0][0];
  *err_fd = fds[1][0];
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: ember kernel -f CONNECTION_FILE [--master URL]\n");
  return 2;
}

int krn_kernel_main(int argc, char **argv) {
  const char *file = NULL, *master = NULL;
  for (int i = 2; i < argc; i++) {
    if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--f") == 0) && i + 1 < argc)
      file = argv[++i];
    else if (strncmp(argv[i], "--f=", 4) == 0)
      file = argv[i] + 4;
    else if (strcmp(argv[i], "--master") == 0 && i + 1 < argc)
      master = argv[++i];
    else if (strncmp(argv[i], "--master=", 9) == 0)
      master = argv[i] + 9;
    else
      return usage();
  }
  if (!file) return usage();
  signal(SIGPIPE, SIG_IGN);
  g_verbose = getenv("EMBER_KERNEL_DEBUG") != NULL;

  kernel *k = eng_calloc(1, sizeof *k);
  if (!k) return 1;
  int status = 1, out_fd = -1, err_fd = -1;
  k->zctx = zmq_ctx_new();
  if (capture_stdio(&out_fd, &err_fd) < 0 || bind_sockets(k, file) < 0) goto done;

  eng_conf conf = {.master = master, .app_name = "ember kernel"};
  eng_err err;
  k->r = repl_new(&conf, &err);
  if (!k->r) {
    krn_log("cannot start the session: %s", err.msg);
    goto done;
  }
  eng_session *s = repl_engine(k->r);
  snprintf(k->master, sizeof k->master, "%s, %d executor slot%s", eng_session_master(s),
           eng_session_default_parallelism(s), eng_session_default_parallelism(s) == 1 ? "" : "s");
  eng_session_set_listener(s, on_event, k);

  k->io = krn_io_start(k->zctx, k->w, k->sock[CH_IOPUB], out_fd, err_fd);
  if (!k->io) {
    krn_log("cannot start the iopub thread");
    goto done;
  }
  k->sock[CH_IOPUB] = NULL; /* the iopub thread's now */
  out_fd = err_fd = -1;
  k->pub = krn_pub_new(k->io);
  if (!k->pub || krn_thread_start(&k->control_th, control_main, k) < 0) goto done;
  k->control_started = 1;
  if (krn_thread_start(&k->hb_th, hb_main, k) < 0) goto done;
  k->hb_started = 1;

  g_repl = k->r;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  krn_pub_status(k->pub, NULL, "starting");
  if (g_verbose)
    krn_log("ember kernel %s ready (pid %d, %s)", EMBER_VERSION, (int)getpid(), k->master);
  /* Like ipykernel: a kernel whose launcher died (JPY_PARENT_PID, set by
   * jupyter_client) shuts down instead of living on as an orphan. */
  const char *ppid_env = getenv("JPY_PARENT_PID");
  pid_t parent = ppid_env ? (pid_t)atoi(ppid_env) : 0;
  if (parent <= 1 || getppid() != parent) parent = 0;

  while (!atomic_load(&k->stop)) {
    if (g_term) {
      krn_log("SIGTERM: shutting down");
      break;
    }
    if (parent && getppid() != parent) {
      krn_log("the process that started the kernel is gone: shutting down");
      break;
    }
    zmq_pollitem_t it[2] = {{k->sock[CH_SHELL], 0, ZMQ_POLLIN, 0},
                            {k->sock[CH_STDIN], 0, ZMQ_POLLIN, 0}};
    int rc = zmq_poll(it, 2, 100);
    if (rc < 0) {
      if (errno == EINTR) continue;
      krn_log("poll failed: %s", zmq_strerror(errno));
      break;
    }
    krn_msg m;
    if ((it[1].revents & ZMQ_POLLIN) &&
        krn_wire_recv(k->w, k->sock[CH_STDIN], ZMQ_DONTWAIT, &m) == 0) {
      krn_log("stdin: ignored a %s (cells read stdin as empty)", m.type);
      krn_msg_free(&m);
    }
    if ((it[0].revents & ZMQ_POLLIN) &&
        krn_wire_recv(k->w, k->sock[CH_SHELL], ZMQ_DONTWAIT, &m) == 0) {
      handle_shell(k, &m, 0);
      krn_msg_free(&m);
    }
  }
  status = 0;

done:
  atomic_store(&k->stop, 1);
  atomic_store(&k->main_done, 1);
  if (k->control_started) pthread_join(k->control_th, NULL);
  if (k->hb_started) pthread_join(k->hb_th, NULL);
  g_repl = NULL;
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  /* Stops the executors and waits for them. */
  if (k->r) repl_free(k->r);
  fflush(stdout);
  fflush(stderr);
  krn_pub_free(k->pub);
  krn_io_stop(k->io);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  for (int i = 0; i < NCH; i++)
    if (k->sock[i]) zmq_close(k->sock[i]);
  zmq_ctx_term(k->zctx);
  krn_wire_free(k->w);
  for (int i = 0; i < k->nhist; i++) {
    eng_free(k->hist[i].input);
    eng_free(k->hist[i].output);
  }
  eng_free(k->hist);
  json_decref(k->error);
  json_decref(k->payload);
  eng_free(k->result);
  if (g_verbose)
    krn_log("ember kernel %s",
            status == 0 ? (atomic_load(&k->restart) ? "restarting" : "shut down") : "failed");
  eng_free(k);
  return status;
}
