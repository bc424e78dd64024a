/* tramp.h -- late binding of the session's functions in the driver.
 *
 * A function compiled in one cell calls the functions of earlier cells at
 * the addresses libtcc was given for them. When a later cell defines one
 * of those again, the earlier function would go on calling the old code,
 * while the source shipped with lambdas holds the newest definitions: the
 * same call would compute different things in a cell and in a UDF. So each
 * session function is given to libtcc as a trampoline of its own (an
 * indirect jump through a slot), and a new definition only changes the
 * slot: every caller, old or new, runs the newest code, as in Python.
 *
 * Contract: the session thread only. Trampolines live until
 * repl_tramps_free (a name keeps its trampoline across :reset). Where the
 * architecture has no trampolines (not x86-64) or memory runs out,
 * repl_tramp_set returns the target itself (no late binding, still right
 * for functions that are not redefined).
 */
#ifndef REPL_TRAMP_H
#define REPL_TRAMP_H

typedef struct repl_tramps repl_tramps;

/* The trampoline of `name` (made on first use, in *t), now jumping to
 * `target`; returns the address to call. */
void *repl_tramp_set(repl_tramps **t, const char *name, void *target);

void repl_tramps_free(repl_tramps *t);

#endif
