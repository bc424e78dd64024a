/* term.h -- the terminal and non-interactive front ends of the REPL.
 *
 * Ownership: the repl is the caller's. Thread-safety: main thread only
 *   (they install a SIGINT handler that interrupts the running input).
 * Errors: errors of inputs are printed to stderr; *out_failed says whether
 *   any input failed.
 */
#ifndef REPL_TERM_H
#define REPL_TERM_H

#include "repl.h"

/* Runs text as a sequence of inputs (each complete when brackets balance),
 * printing results to stdout and errors to stderr. */
int repl_term_run_text(repl *r, const char *text, int *out_failed);
/* Runs one input as given (ember -e CODE). */
int repl_term_run_one(repl *r, const char *input, int *out_failed);
/* The interactive REPL on the terminal (stdin/stdout). */
int repl_term_interactive(repl *r, const char *version);

#endif
