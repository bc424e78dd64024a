/* udf_guard.h -- running user code so that a crash, a raised error or a
 * cancel comes back to the caller as an error instead of ending the process.
 *
 * Usage, in the frame that must survive:
 *     udf_guard g;
 *     if (UDF_TRY(&g)) { ...call user code...; udf_guard_pop(&g); }
 *     else { ...g.err holds "Crash: SIGSEGV in UDF f", "TypeError: ...",
 *            or "Cancelled: ..."; g.sig the signal or 0; already popped... }
 * and around each call into user code udf_enter(name) / udf_leave(), which
 * names the code in crash messages and marks it interruptible.
 *
 * How: sigsetjmp without saving the signal mask (no system call, so a guard
 * per batch costs nanoseconds); the handlers of SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT (on an alternate stack, for stack overflows) and of the
 * cancel signal siglongjmp to the innermost guard of the faulting thread and
 * unblock the signal there. eng__raise (val.h) does the same for errors
 * raised by helpers. A fault outside any guard gets the default action.
 *
 * Ownership: a udf_guard lives in its caller's frame.
 * Thread-safety: guards are per thread. udf_guard_thread_init() must run on
 *   every thread that uses guards (it sets up the alternate signal stack).
 * Errors: udf_guard_install returns 0 or ENG_ERROR if signals cannot be set.
 */
#ifndef UDF_GUARD_H
#define UDF_GUARD_H

#include <pthread.h>
#include <setjmp.h>

#include "../engine/eng_types.h"

/* The signal used to interrupt user code on a thread (cancel). */
#define UDF_SIG_CANCEL SIGUSR2

typedef struct udf_guard {
  sigjmp_buf jb;
  struct udf_guard *prev;
  const char *saved_user; /* udf_enter state at push time, restored on unwind */
  int sig;                /* signal that unwound us, or 0 */
  const char *where;      /* udf_enter name when it happened (NULL: none) */
  eng_err err;
} udf_guard;

ENG_API int udf_guard_install(void);
ENG_API int udf_guard_thread_init(void);

void udf__guard_push(udf_guard *g);
void udf__guard_recover(udf_guard *g);
#define UDF_TRY(g) \
  (udf__guard_push(g), sigsetjmp((g)->jb, 0) == 0 ? 1 : (udf__guard_recover(g), 0))
ENG_API void udf_guard_pop(udf_guard *g);

/* Marks the thread as running user code named `name` (kept by pointer; it
 * must outlive the call). Nesting is not tracked: leave restores "none". */
ENG_API void udf_enter(const char *name);
ENG_API void udf_leave(void);
ENG_API const char *udf_current(void);

/* From another thread: interrupt `t` if it is running user code (it unwinds
 * with "Cancelled"); harmless otherwise. Repeat until the thread notices. */
ENG_API void udf_guard_interrupt(pthread_t t);
/* From a signal handler on the thread itself (the REPL's SIGINT): unwind
 * with "Cancelled" if user code is running under a guard; else return. */
ENG_API void udf_guard_cancel_here(void);

#endif
