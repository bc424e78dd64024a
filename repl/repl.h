/* repl.h -- the session library: evaluating cells of C against a live
 * engine session (SPEC 2-4, 6). The terminal REPL (main.c, term.c) and the
 * Jupyter kernel (kernel/) are two thin clients of it.
 *
 * A cell is split into items (cell.h): declarations persist for later cells
 * (variables become session globals, functions and types stay declared),
 * statements run in order, and a final expression without ';' is shown.
 * Lambdas become UDFs (lambda.h). Each cell is compiled by libtcc into its
 * own module, which stays loaded: later cells link to its globals and
 * functions by address, and a name defined again shadows the old one.
 *
 * Ownership: repl_new() returns an owned session (repl_free). Texts handed
 *   to the output callbacks are valid during the call only.
 * Thread-safety: one thread evaluates (repl_eval); repl_interrupt() may be
 *   called from another thread or from a signal handler on any thread.
 * Errors: repl_eval reports errors through out->error (class, message,
 *   detail such as the source line with a caret) and returns REPL_ERROR;
 *   the session always survives: a crash or an endless loop in a cell or a
 *   UDF, a failed job, a compile error.
 */
#ifndef REPL_H
#define REPL_H

/* The version the binary, the kernel and `ember --version` report. */
#define EMBER_VERSION "0.1.0"

#include "../engine/dataset.h"
#include "../engine/session.h"

typedef struct repl repl;

enum { REPL_OK = 0, REPL_ERROR = 1, REPL_QUIT = 2 };

typedef struct repl_out {
  /* The value of the cell's last expression, as Python's repr ("[1, 4]"). */
  void (*result)(void *ctx, const char *text);
  /* Something the cell displays: show() tables (table set), explain() and
   * :status text (table NULL). Front ends render tables as they can. */
  void (*display)(void *ctx, const char *text, const eng_table *table);
  /* An error: class ("TypeError"), message, and detail lines (the source
   * line with a caret, or "" ). */
  void (*error)(void *ctx, const char *ename, const char *evalue, const char *detail);
  /* Text of meta commands (:help, :history, :time) meant for the user. */
  void (*info)(void *ctx, const char *text);
  void *ctx;
} repl_out;

repl *repl_new(const eng_conf *conf, eng_err *err);
void repl_free(repl *r);
eng_session *repl_engine(repl *r);

/* Evaluates one input: a cell, or a meta command (":help", "%time", ...). */
int repl_eval(repl *r, const char *input, const repl_out *out);
/* How many cells have been evaluated. */
int repl_cell_count(const repl *r);
/* Names the next cell cell[n] in messages (a front end with its own
 * numbering: Jupyter's In [n]); by default cells are numbered 1, 2, ... */
void repl_set_next_label(repl *r, int n);
/* The inputs evaluated so far, oldest first (for :history and Jupyter). */
int repl_history_len(const repl *r);
const char *repl_history_get(const repl *r, int i);

/* Cancels what is running: the job (within a second) or the cell's own
 * code. Async-signal-safe. */
void repl_interrupt(repl *r);

/* Is the text a complete input, or does it need more lines (open braces,
 * parentheses, a string or comment)? 1 complete, 0 incomplete. */
int repl_is_complete(const char *text);

/* Completion candidates for the word ending at `cursor`: API names, helpers,
 * session variables and functions, meta commands. */
typedef void (*repl_add_fn)(void *ctx, const char *word);
void repl_complete(repl *r, const char *buf, int cursor, repl_add_fn add, void *ctx);
/* The word (identifier) around `cursor`, for Jupyter's inspect; copied into
 * out (cap bytes). */
void repl_word_at(const char *buf, int cursor, char *out, size_t cap);
/* One-line documentation of an API name, helper or meta command, or NULL. */
const char *repl_doc(const char *name);
/* The documentation of a session name (its declaration), or NULL. */
const char *repl_doc_session(repl *r, const char *name);

#endif
