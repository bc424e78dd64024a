/* udf_guard.c -- turning faults, raises and cancels in user code into errors.
 *
 * Invariants: t_top is the innermost live guard of this thread; a handler
 * only jumps to t_top, and pops it before jumping, so a guard is never
 * jumped to twice. Handlers use only async-signal-safe operations (no stdio,
 * no allocation): messages are assembled by hand.
 */
#include "udf_guard.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/err.h"
#include "../engine/val.h"

static __thread udf_guard *t_top;
static __thread const char *t_user;
static const int fault_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NFAULT (int)(sizeof fault_sigs / sizeof fault_sigs[0])

static const char *sig_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

/* Appends s to the message at *len, async-signal-safely. */
static void msg_cat(eng_err *e, size_t *len, const char *s) {
  while (*s && *len + 1 < sizeof e->msg) e->msg[(*len)++] = *s++;
  e->msg[*len] = 0;
}

static void unwind(udf_guard *g) {
  g->where = t_user;
  t_top = g->prev;
  siglongjmp(g->jb, 1);
}

static void on_signal(int sig, siginfo_t *si, void *uc) {
  (void)si;
  (void)uc;
  udf_guard *g = t_top;
  size_t len = 0;
  if (sig == UDF_SIG_CANCEL) {
    if (!g || !t_user) return; /* not in user code: the engine polls its flag */
    g->sig = 0;
    g->err.code = ENG_ECANCEL;
    msg_cat(&g->err, &len, "Cancelled: interrupted in ");
    msg_cat(&g->err, &len, t_user);
    unwind(g);
  }
  if (!g) {
    /* Not ours to handle: restore the default action; returning re-executes
     * the fault (or abort() re-raises), so the process ends as it would. */
    signal(sig, SIG_DFL);
    return;
  }
  g->sig = sig;
  g->err.code = ENG_ECRASH;
  msg_cat(&g->err, &len, "Crash: ");
  msg_cat(&g->err, &len, sig_name(sig));
  msg_cat(&g->err, &len, " in ");
  msg_cat(&g->err, &len, t_user ? t_user : "ember");
  unwind(g);
}

static void raise_hook(const eng_err *e) {
  udf_guard *g = t_top;
  if (!g) return;
  g->sig = 0;
  eng_err_copy(&g->err, e);
  unwind(g);
}

int udf_guard_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < NFAULT; i++)
    if (sigaction(fault_sigs[i], &sa, NULL) < 0) return ENG_ERROR;
  sa.sa_flags |= SA_RESTART;
  if (sigaction(UDF_SIG_CANCEL, &sa, NULL) < 0) return ENG_ERROR;
  eng__set_raise_hook(raise_hook);
  return 0;
}

static pthread_key_t g_altstack_key;
static pthread_once_t g_altstack_once = PTHREAD_ONCE_INIT;

/* At thread exit: stop using the alternate stack, then free it, so that
 * threads that come and go do not leak their stacks. */
static void altstack_free(void *p) {
  stack_t st;
  memset(&st, 0, sizeof st);
  st.ss_flags = SS_DISABLE;
  sigaltstack(&st, NULL);
  free(p);
}

static void altstack_key_init(void) { pthread_key_create(&g_altstack_key, altstack_free); }

/* Gives this thread a 256 KB alternate signal stack (once), freed when the
 * thread exits. */
int udf_guard_thread_init(void) {
  static __thread char *altstack;
  if (altstack) return 0;
  size_t sz = 256 * 1024;
  char *p = malloc(sz);
  if (!p) return ENG_ENOMEM;
  stack_t st;
  memset(&st, 0, sizeof st);
  st.ss_sp = p;
  st.ss_size = sz;
  if (sigaltstack(&st, NULL) < 0) {
    free(p);
    return ENG_ERROR;
  }
  altstack = p;
  pthread_once(&g_altstack_once, altstack_key_init);
  pthread_setspecific(g_altstack_key, p);
  return 0;
}

void udf__guard_push(udf_guard *g) {
  g->prev = t_top;
  g->saved_user = t_user;
  g->sig = 0;
  g->where = NULL;
  g->err.code = 0;
  g->err.msg[0] = 0;
  t_top = g;
}

/* Runs after a jump: the handler's signal is still blocked (we jumped
 * without restoring the mask), so unblock every signal we handle. */
void udf__guard_recover(udf_guard *g) {
  sigset_t set;
  sigemptyset(&set);
  for (int i = 0; i < NFAULT; i++) sigaddset(&set, fault_sigs[i]);
  sigaddset(&set, UDF_SIG_CANCEL);
  sigaddset(&set, SIGINT); /* the REPL unwinds from its SIGINT handler */
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  t_user = g->saved_user;
}

void udf_guard_pop(udf_guard *g) {
  if (t_top == g) t_top = g->prev;
  t_user = g->saved_user;
}

void udf_enter(const char *name) { t_user = name; }
void udf_leave(void) { t_user = NULL; }
const char *udf_current(void) { return t_user; }

void udf_guard_interrupt(pthread_t t) { pthread_kill(t, UDF_SIG_CANCEL); }

void udf_guard_cancel_here(void) {
  udf_guard *g = t_top;
  if (!g || !t_user) return;
  size_t len = 0;
  g->sig = 0;
  g->err.code = ENG_ECANCEL;
  msg_cat(&g->err, &len, "Cancelled: interrupted in ");
  msg_cat(&g->err, &len, t_user);
  unwind(g);
}
