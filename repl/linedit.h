/* linedit.h -- reading lines from a terminal with editing, history and completion.
 *
 * Ownership: repl_led_new() returns an editor the caller frees with repl_led_free(). The
 *   editor borrows the two file descriptors and never closes them. repl_led_read()
 *   returns a string allocated with malloc() that the caller frees with free().
 *   Strings passed in (prompts, history entries, completion words) are copied or
 *   only read during the call. repl_led_history_get() returns a pointer owned by the
 *   editor, valid until the next call that changes the history.
 * Thread-safety: an editor is used by one thread at a time. Only one editor per
 *   process may be inside repl_led_read() at once, because the signal handlers that
 *   restore the terminal find it through a process-wide pointer; a second
 *   concurrent repl_led_read() fails with REPL_LED_ERROR.
 * Errors: functions returning int return 0 or a negative errno value (-ENOMEM,
 *   -EIO, ...). repl_led_new() returns NULL with errno set (ENOTTY when a descriptor
 *   is not a terminal or TERM is "dumb"). repl_led_read() returns NULL and says why in
 *   *out_status.
 *
 * Terminal: repl_led_read() puts the terminal in raw mode (no echo, no signals from
 * keys, so Ctrl-C and Ctrl-Z arrive as bytes) and restores the saved modes before
 * it returns, at exit(), on SIGTSTP (suspend and resume redraw), and on SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT whose disposition is the default. Handlers are only
 * installed during repl_led_read() and only for signals the caller left at their
 * default disposition.
 *
 * Screen: on REPL_LED_OK the editor moves to a fresh line after the input. On
 * REPL_LED_INTERRUPT and REPL_LED_EOF the cursor is left just after the input, so the
 * caller prints what it wants ("^C\n", "\n", "KeyboardInterrupt\n"). A
 * terminal that hangs up also gives REPL_LED_EOF. Input taller than the terminal
 * scrolls within it. Keys typed ahead (after the Enter that ends an input)
 * are kept for the next repl_led_read().
 *
 * Completion words: the word that a candidate replaces is the run of letters,
 * digits, '_' and non-ASCII characters that ends at the cursor. So for
 * "df.sel" the callback offers "select", not "df.select".
 *
 * History: repl_led_read() does not add to the history; the caller adds the entries
 * it wants with repl_led_history_add(). The file format is one entry per line with
 * "\\" written as "\\\\" and newlines as "\\n", so multi-line entries survive.
 */
#ifndef LINEDIT_H
#define LINEDIT_H

#define REPL_LED_API __attribute__((visibility("default")))

typedef struct repl_led repl_led;

/* Completion: called with the whole buffer and the cursor; appends candidate words (each a full
   replacement for the word ending at the cursor) with repl_led_add_completion. */
typedef void (*repl_led_complete_fn)(void *ctx, const char *buf, int cursor, repl_led *l);

/* Continuation: returns 1 if the text so far is incomplete (the editor then reads another line,
   showing the continuation prompt, and joins them with "\n"). */
typedef int (*repl_led_incomplete_fn)(void *ctx, const char *text);

/* A terminal (tty) pair; NULL if not a tty. */
REPL_LED_API repl_led *repl_led_new(int in_fd, int out_fd);
REPL_LED_API void repl_led_free(repl_led *l);
REPL_LED_API void repl_led_set_completion(repl_led *l, repl_led_complete_fn fn, void *ctx);
REPL_LED_API void repl_led_set_incomplete(repl_led *l, repl_led_incomplete_fn fn, void *ctx);
REPL_LED_API void repl_led_add_completion(repl_led *l, const char *word);

/* Reads one input (possibly several lines). Returns a malloc'd string (caller frees), or NULL with
   *out_status set: REPL_LED_EOF (Ctrl-D on an empty line), REPL_LED_INTERRUPT (Ctrl-C: the current input is
   discarded; the caller decides what to print), REPL_LED_ERROR. A NULL prompt is "", a NULL
   cont_prompt is "". */
enum { REPL_LED_OK = 0, REPL_LED_EOF = 1, REPL_LED_INTERRUPT = 2, REPL_LED_ERROR = 3 };
REPL_LED_API char *repl_led_read(repl_led *l, const char *prompt, const char *cont_prompt,
                       int *out_status /* OUT: REPL_LED_* */);

/* History: in memory (most recent last, at most 1000 entries), persisted to a file. */
REPL_LED_API int repl_led_history_add(repl_led *l, const char *entry); /* skips empty and repeated-last entries */
REPL_LED_API int repl_led_history_load(repl_led *l, const char *path); /* missing file is fine */
REPL_LED_API int repl_led_history_save(repl_led *l, const char *path); /* atomic (tmp + rename), keeps the last 1000 */
REPL_LED_API int repl_led_history_len(repl_led *l);
REPL_LED_API const char *repl_led_history_get(repl_led *l, int i); /* 0 = oldest; NULL if out of range */

#endif
