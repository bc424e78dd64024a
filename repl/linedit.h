/* linedit.h -- reading lines from a terminal with editing, history and completion.
 *
 * Ownership: led_new() returns an editor the caller frees with led_free(). The
 *   editor borrows the two file descriptors and never closes them. led_read()
 *   returns a string allocated with malloc() that the caller frees with free().
 *   Strings passed in (prompts, history entries, completion words) are copied or
 *   only read during the call. led_history_get() returns a pointer owned by the
 *   editor, valid until the next call that changes the history.
 * Thread-safety: an editor is used by one thread at a time. Only one editor per
 *   process may be inside led_read() at once, because the signal handlers that
 *   restore the terminal find it through a process-wide pointer; a second
 *   concurrent led_read() fails with LED_ERROR.
 * Errors: functions returning int return 0 or a negative errno value (-ENOMEM,
 *   -EIO, ...). led_new() returns NULL with errno set (ENOTTY when a descriptor
 *   is not a terminal or TERM is "dumb"). led_read() returns NULL and says why in
 *   *out_status.
 *
 * Terminal: led_read() puts the terminal in raw mode (no echo, no signals from
 * keys, so Ctrl-C and Ctrl-Z arrive as bytes) and restores the saved modes before
 * it returns, at exit(), on SIGTSTP (suspend and resume redraw), and on SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT whose disposition is the default. Handlers are only
 * installed during led_read() and only for signals the caller left at their
 * default disposition.
 *
 * Screen: on LED_OK the editor moves to a fresh line after the input. On
 * LED_INTERRUPT and LED_EOF the cursor is left just after the input, so the
 * caller prints what it wants ("^C\n", "\n", "KeyboardInterrupt\n").
 *
 * Completion words: the word that a candidate replaces is the run of letters,
 * digits, '_' and non-ASCII characters that ends at the cursor. So for
 * "df.sel" the callback offers "select", not "df.select".
 *
 * History: led_read() does not add to the history; the caller adds the entries
 * it wants with led_history_add(). The file format is one entry per line with
 * "\\" written as "\\\\" and newlines as "\\n", so multi-line entries survive.
 */
#ifndef LINEDIT_H
#define LINEDIT_H

#define LED_API __attribute__((visibility("default")))

typedef struct led led;

/* Completion: called with the whole buffer and the cursor; appends candidate words (each a full
   replacement for the word ending at the cursor) with led_add_completion. */
typedef void (*led_complete_fn)(void *ctx, const char *buf, int cursor, led *l);

/* Continuation: returns 1 if the text so far is incomplete (the editor then reads another line,
   showing the continuation prompt, and joins them with "\n"). */
typedef int (*led_incomplete_fn)(void *ctx, const char *text);

/* A terminal (tty) pair; NULL if not a tty. */
LED_API led *led_new(int in_fd, int out_fd);
LED_API void led_free(led *l);
LED_API void led_set_completion(led *l, led_complete_fn fn, void *ctx);
LED_API void led_set_incomplete(led *l, led_incomplete_fn fn, void *ctx);
LED_API void led_add_completion(led *l, const char *word);

/* Reads one input (possibly several lines). Returns a malloc'd string (caller frees), or NULL with
   *out_status set: LED_EOF (Ctrl-D on an empty line), LED_INTERRUPT (Ctrl-C: the current input is
   discarded; the caller decides what to print), LED_ERROR. A NULL prompt is "", a NULL
   cont_prompt is "". */
enum { LED_OK = 0, LED_EOF = 1, LED_INTERRUPT = 2, LED_ERROR = 3 };
LED_API char *led_read(led *l, const char *prompt, const char *cont_prompt,
                       int *out_status /* OUT: LED_* */);

/* History: in memory (most recent last, at most 1000 entries), persisted to a file. */
LED_API int led_history_add(led *l, const char *entry); /* skips empty and repeated-last entries */
LED_API int led_history_load(led *l, const char *path); /* missing file is fine */
LED_API int led_history_save(led *l, const char *path); /* atomic (tmp + rename), keeps the last 1000 */
LED_API int led_history_len(led *l);
LED_API const char *led_history_get(led *l, int i); /* 0 = oldest; NULL if out of range */

#endif
