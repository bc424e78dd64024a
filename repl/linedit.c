/* linedit.c -- a small terminal line editor for the REPL (see linedit.h).
 *
 * Design invariants:
 * - The edit buffer l->buf holds l->len bytes of UTF-8 text followed by a NUL;
 *   l->pos is a byte offset on a character boundary. Newlines in the buffer
 *   separate logical lines. Each logical line starts on its own terminal row,
 *   after the prompt (first line) or the continuation prompt (the others), and
 *   wraps at the terminal width.
 * - Screen model: rows are counted from the row where the prompt starts (row 0).
 *   After each render l->cursor_row is the row the terminal cursor is on and
 *   l->rows the number of rows drawn, so the next render moves up to row 0,
 *   clears to the end of the screen and draws everything again. A row that is
 *   exactly full is always followed by an explicit "\r\n", so the terminal is
 *   never left in its "pending wrap" state and positions are unambiguous.
 *   Input taller than the terminal is drawn through a window of rows
 *   [l->top, l->top + height) that follows the cursor; cursor_row and rows
 *   are then relative to the window's first row.
 * - Drawing is deferred while more input is already waiting (typing ahead,
 *   pastes without bracketed paste), so a burst of keys costs one redraw.
 * - Character widths: 1 per code point, 2 for East Asian wide characters and
 *   common emoji, 0 for combining marks. The cursor moves by code points.
 * - The terminal is in raw mode only inside repl_led_read(). Every way out of it
 *   (return, exit(), a fatal signal at its default disposition, SIGTSTP)
 *   restores the saved modes. The saved modes live in globals because signal
 *   handlers need them; hence one repl_led_read() per process at a time.
 * - Bytes read from the terminal but not yet used stay in l->in for the next
 *   repl_led_read(), so type-ahead and the rest of a paste are not lost.
 * - Memory comes from malloc(): the editor is self-contained, and the caller
 *   frees repl_led_read()'s result with free().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "linedit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define HISTORY_MAX 1000
#define ESC_TIMEOUT_MS 50 /* How long to wait for the rest of an escape sequence. */
#define LIST_MAX 400      /* Most completion candidates listed at once. */
#define INDENT "  "       /* What Tab inserts at the start of a line. */

/* Keys beyond the byte range, as returned by read_key(). */
enum {
  K_NONE = 0x100,
  K_LEFT,
  K_RIGHT,
  K_UP,
  K_DOWN,
  K_HOME,
  K_END,
  K_DEL,
  K_WORD_LEFT,
  K_WORD_RIGHT,
  K_KILL_WORD_RIGHT,
  K_KILL_WORD_LEFT,
  K_PASTE_BEGIN,
  K_PASTE_END,
  K_ESC,
  K_REDRAW,
  K_EOF,
  K_ERR
};

/* Results of read_byte() that are not bytes. */
enum { RB_TIMEOUT = -1, RB_EOF = -2, RB_ERR = -3, RB_REDRAW = -4 };

/* A growable byte string, always NUL-terminated once anything was added. */
typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

struct repl_led {
  int in_fd, out_fd;
  repl_led_complete_fn complete;
  void *complete_ctx;
  repl_led_incomplete_fn incomplete;
  void *incomplete_ctx;
  char **hist; /* Entries, oldest first. */
  int nhist, hist_cap;
  char **comp; /* Candidates collected by repl_led_add_completion(). */
  int ncomp, comp_cap, comp_oom;
  unsigned char in[256]; /* Input read but not used yet. */
  int in_len, in_pos;
  char *kill;       /* The last killed text, for Ctrl-Y. */
  char *last_query; /* The last Ctrl-R search, reused by Ctrl-R Ctrl-R. */

  /* State of the current repl_led_read(). */
  char *buf;
  size_t len, cap, pos;
  const char *prompt, *cont;
  int cursor_row, rows; /* Screen rows relative to the first drawn row. */
  int top;              /* First row drawn when the input is taller than the terminal. */
  int hidx;    /* History position; nhist means the line being edited. */
  char *hsave; /* The line being edited, kept while walking the history. */
  int last_tab;
  int searching; /* In a Ctrl-R search. */
  sbuf query;
  int sidx, sfail; /* Matched entry (-1: none yet); whether the last search failed. */
  size_t spos;     /* Byte offset of the match in the entry. */
  char *sorig;     /* The buffer before the search, restored on cancel. */
  size_t sorig_pos;
};

/* ---- terminal modes and signals ----------------------------------------- */

static struct termios g_orig, g_raw;
static int g_fd = -1, g_out_fd = -1;
static volatile sig_atomic_t g_raw_active; /* The terminal is in raw mode. */
static volatile sig_atomic_t g_resumed;    /* SIGCONT after SIGTSTP: redraw from scratch. */
static int g_reading;                      /* A repl_led_read() is running. */
static pthread_once_t g_atexit_once = PTHREAD_ONCE_INIT;

static const int g_sigs[] = {SIGTSTP, SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIGS ((int)(sizeof g_sigs / sizeof g_sigs[0]))
static struct sigaction g_old_sa[NSIGS];
static int g_sig_installed[NSIGS];

/* Writes to the terminal and ignores failures: safe in signal handlers. */
static void raw_write(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Puts the terminal back in the modes saved by raw_on(). Async-signal-safe. */
static void term_restore(void) {
  if (!g_raw_active) return;
  g_raw_active = 0;
  raw_write(g_out_fd, "\x1b[?2004l", 8);
  tcsetattr(g_fd, TCSANOW, &g_orig);
}

/* Puts the terminal back in raw mode after a suspend. Async-signal-safe. */
static void term_reraw(void) {
  g_raw_active = 1;
  tcsetattr(g_fd, TCSANOW, &g_raw);
  raw_write(g_out_fd, "\x1b[?2004h", 8);
}

static void at_exit_restore(void) { term_restore(); }

static void register_atexit(void) { atexit(at_exit_restore); }

/* Saves the terminal modes and switches to raw mode with bracketed paste on.
 * Returns 0 or a negative errno value (the terminal is then unchanged). */
static int raw_on(repl_led *l) {
  struct termios t;
  if (tcgetattr(l->in_fd, &g_orig) < 0) return -errno;
  t = g_orig;
  t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INLCR | IGNCR | INPCK | ISTRIP | IXON);
  t.c_oflag &= ~(tcflag_t)OPOST;
  t.c_cflag |= CS8;
  t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  g_raw = t;
  g_fd = l->in_fd;
  g_out_fd = l->out_fd;
  g_raw_active = 1;
  if (tcsetattr(l->in_fd, TCSADRAIN, &t) < 0) {
    int e = errno;
    g_raw_active = 0;
    return -e;
  }
  raw_write(l->out_fd, "\x1b[?2004h", 8);
  return 0;
}

/* A fatal signal arrived while in raw mode: restore the terminal, then let the
 * default action happen. */
static void on_fatal(int sig) {
  struct sigaction dfl;
  sigset_t s;
  term_restore();
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  raise(sig);
}

/* SIGTSTP: restore the terminal, stop, and on SIGCONT go back to raw mode and
 * ask the editor to redraw. */
static void on_tstp(int sig) {
  int saved = errno, was_raw = g_raw_active;
  struct sigaction dfl, mine;
  sigset_t s;
  term_restore();
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, &mine);
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  raise(sig);
  /* Continued. */
  sigprocmask(SIG_BLOCK, &s, NULL);
  sigaction(sig, &mine, NULL);
  if (was_raw) term_reraw();
  g_resumed = 1;
  errno = saved;
}

/* Installs handlers for the signals the caller left at their default.
 * SA_RESTART keeps them from failing other threads' system calls. There is
 * no SIGWINCH handler for the same reason: the width is read at each redraw. */
static void signals_install(void) {
  for (int i = 0; i < NSIGS; i++) {
    struct sigaction sa;
    g_sig_installed[i] = 0;
    if (sigaction(g_sigs[i], NULL, &g_old_sa[i]) < 0) continue;
    if ((g_old_sa[i].sa_flags & SA_SIGINFO) || g_old_sa[i].sa_handler != SIG_DFL) continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = g_sigs[i] == SIGTSTP ? on_tstp : on_fatal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(g_sigs[i], &sa, NULL) == 0) g_sig_installed[i] = 1;
  }
}

static void signals_restore(void) {
  for (int i = 0; i < NSIGS; i++)
    if (g_sig_installed[i]) sigaction(g_sigs[i], &g_old_sa[i], NULL);
}

/* Whether our SIGTSTP handler is in place (Ctrl-Z then suspends). */
static int tstp_installed(void) {
  for (int i = 0; i < NSIGS; i++)
    if (g_sigs[i] == SIGTSTP) return g_sig_installed[i];
  return 0;
}

static int term_cols(repl_led *l) {
  struct winsize ws;
  if (ioctl(l->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

/* ---- small strings ------------------------------------------------------- */

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Appends a CSI sequence with one number, e.g. "\x1b[3A". */
static void sb_csi(sbuf *b, int n, char final) {
  char tmp[32];
  int k = snprintf(tmp, sizeof tmp, "\x1b[%d%c", n, final);
  sb_put(b, tmp, (size_t)k);
}

static void sb_free(sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static char *str_dup(const char *s) {
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (p) memcpy(p, s, n + 1);
  return p;
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Decodes the character at s[i] (s has n bytes). Returns its length in bytes,
 * 1 for a byte that does not start a valid character (then *out_cp is -1). */
static size_t u8_decode(const char *s, size_t n, size_t i, long *out_cp) {
  const unsigned char *u = (const unsigned char *)s;
  unsigned char c = u[i];
  size_t len;
  long cp;
  *out_cp = -1;
  if (c < 0x80) {
    *out_cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
  else return 1;
  if (i + len > n) return 1;
  for (size_t k = 1; k < len; k++) {
    if ((u[i + k] & 0xC0) != 0x80) return 1;
    cp = (cp << 6) | (u[i + k] & 0x3F);
  }
  *out_cp = cp;
  return len;
}

/* Columns a code point takes: 0 for combining marks, 2 for wide characters. */
static int cp_width(long cp) {
  static const long zero[][2] = {{0x0300, 0x036F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
                                 {0x200B, 0x200F}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
                                 {0xFE20, 0xFE2F}};
  static const long wide[][2] = {
      {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
      {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
      {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
      {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
  if (cp < 0x300) return 1;
  for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
    if (cp >= zero[i][0] && cp <= zero[i][1]) return 0;
  for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
    if (cp >= wide[i][0] && cp <= wide[i][1]) return 2;
  return 1;
}

/* ---- the edit buffer ------------------------------------------------------ */

static int buf_reserve(repl_led *l, size_t extra) {
  if (l->len + extra + 1 <= l->cap) return 0;
  size_t cap = l->cap ? l->cap : 128;
  while (cap < l->len + extra + 1) cap *= 2;
  char *p = realloc(l->buf, cap);
  if (!p) return -ENOMEM;
  l->buf = p;
  l->cap = cap;
  return 0;
}

static int buf_insert(repl_led *l, size_t at, const char *s, size_t n) {
  if (buf_reserve(l, n) < 0) return -ENOMEM;
  memmove(l->buf + at + n, l->buf + at, l->len - at + 1);
  memcpy(l->buf + at, s, n);
  l->len += n;
  if (l->pos >= at) l->pos += n;
  return 0;
}

static void buf_delete(repl_led *l, size_t from, size_t to) {
  if (to <= from) return;
  memmove(l->buf + from, l->buf + to, l->len - to + 1);
  l->len -= to - from;
  if (l->pos >= to) l->pos -= to - from;
  else if (l->pos > from) l->pos = from;
}

/* Replaces the whole buffer with s; the cursor goes to the end. */
static int buf_set(repl_led *l, const char *s) {
  size_t n = strlen(s);
  l->len = 0;
  if (buf_reserve(l, n) < 0) return -ENOMEM;
  memcpy(l->buf, s, n + 1);
  l->len = l->pos = n;
  return 0;
}

/* Deletes [from, to) and keeps it for Ctrl-Y. */
static void buf_kill(repl_led *l, size_t from, size_t to) {
  if (to <= from) return;
  char *k = malloc(to - from + 1);
  if (k) {
    memcpy(k, l->buf + from, to - from);
    k[to - from] = 0;
    free(l->kill);
    l->kill = k;
  }
  buf_delete(l, from, to);
}

static size_t prev_char(const char *s, size_t pos) {
  if (pos == 0) return 0;
  pos--;
  for (int k = 0; k < 3 && pos > 0 && ((unsigned char)s[pos] & 0xC0) == 0x80; k++) pos--;
  return pos;
}

static size_t next_char(const char *s, size_t len, size_t pos) {
  if (pos >= len) return len;
  pos++;
  for (int k = 0; k < 3 && pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80; k++) pos++;
  return pos;
}

static int is_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n'; }

static size_t line_start(repl_led *l, size_t pos) {
  while (pos > 0 && l->buf[pos - 1] != '\n') pos--;
  return pos;
}

static size_t line_end(repl_led *l, size_t pos) {
  while (pos < l->len && l->buf[pos] != '\n') pos++;
  return pos;
}

static size_t word_left(repl_led *l, size_t pos) {
  while (pos > 0 && !is_word((unsigned char)l->buf[pos - 1])) pos--;
  while (pos > 0 && is_word((unsigned char)l->buf[pos - 1])) pos--;
  return pos;
}

static size_t word_right(repl_led *l, size_t pos) {
  while (pos < l->len && !is_word((unsigned char)l->buf[pos])) pos++;
  while (pos < l->len && is_word((unsigned char)l->buf[pos])) pos++;
  return pos;
}

/* Moves the cursor to the logical line above (dir < 0) or below, keeping the
 * column in characters. Returns 0 if there is no such line. */
static int move_vertical(repl_led *l, int dir) {
  size_t ls = line_start(l, l->pos), target, end;
  size_t col = 0;
  for (size_t i = ls; i < l->pos; i = next_char(l->buf, l->len, i)) col++;
  if (dir < 0) {
    if (ls == 0) return 0;
    target = line_start(l, ls - 1);
    end = ls - 1;
  } else {
    size_t le = line_end(l, l->pos);
    if (le == l->len) return 0;
    target = le + 1;
    end = line_end(l, target);
  }
  while (col > 0 && target < end) {
    target = next_char(l->buf, l->len, target);
    col--;
  }
  l->pos = target;
  return 1;
}

/* Swaps the character before the cursor with the one under it (or the two
 * before it at the end of a line), as Ctrl-T does in readline. */
static void transpose(repl_led *l) {
  size_t b = l->pos;
  if (b == l->len || l->buf[b] == '\n') b = prev_char(l->buf, b);
  if (b == 0) return;
  size_t a = prev_char(l->buf, b), c = next_char(l->buf, l->len, b);
  if (l->buf[a] == '\n' || l->buf[b] == '\n') return;
  char tmp[8];
  size_t n1 = b - a, n2 = c - b;
  memcpy(tmp, l->buf + b, n2);
  memcpy(tmp + n2, l->buf + a, n1);
  memcpy(l->buf + a, tmp, n1 + n2);
  l->pos = c;
}

/* ---- input ---------------------------------------------------------------- */

/* Returns the next input byte, waiting at most timeout_ms (forever if < 0).
 * Returns RB_TIMEOUT, RB_EOF (end of file or hang-up), RB_ERR, or, when
 * waiting forever, RB_REDRAW after a suspend (the screen needs a redraw). */
static int read_byte(repl_led *l, int timeout_ms) {
  if (l->in_pos < l->in_len) return l->in[l->in_pos++];
  for (;;) {
    struct pollfd p = {.fd = l->in_fd, .events = POLLIN};
    if (timeout_ms < 0 && g_resumed) return RB_REDRAW;
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return RB_ERR;
    }
    if (r == 0) return RB_TIMEOUT;
    ssize_t n = read(l->in_fd, l->in, sizeof l->in);
    if (n > 0) {
      l->in_len = (int)n;
      l->in_pos = 1;
      return l->in[0];
    }
    if (n == 0 || errno == EIO) return RB_EOF;
    if (errno == EINTR || errno == EAGAIN) continue;
    return RB_ERR;
  }
}

/* Gives back the byte read_byte() just returned. */
static void unread_byte(repl_led *l) {
  if (l->in_pos > 0) l->in_pos--;
}

static int input_pending(repl_led *l) {
  struct pollfd p = {.fd = l->in_fd, .events = POLLIN};
  return l->in_pos < l->in_len || poll(&p, 1, 0) > 0;
}

/* Reads the continuation bytes of a UTF-8 character whose first byte is c into
 * out (room for 4). Returns the number of bytes stored. */
static size_t read_char(repl_led *l, int c, char *out) {
  size_t n = 1, need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  out[0] = (char)c;
  while (need-- > 0) {
    int d = read_byte(l, ESC_TIMEOUT_MS);
    if (d < 0) break;
    if ((d & 0xC0) != 0x80) {
      unread_byte(l);
      break;
    }
    out[n++] = (char)d;
  }
  return n;
}

/* Decodes the rest of a CSI sequence ("\x1b[" already read). */
static int read_csi(repl_led *l) {
  char params[16];
  size_t n = 0;
  int final;
  for (;;) {
    int c = read_byte(l, ESC_TIMEOUT_MS);
    if (c < 0) return K_NONE;
    if (c >= 0x40 && c <= 0x7E) {
      final = c;
      break;
    }
    if (n < sizeof params - 1) params[n++] = (char)c;
  }
  params[n] = 0;
  int p1 = atoi(params);
  const char *semi = strchr(params, ';');
  int mod = semi ? atoi(semi + 1) : 0; /* 2 shift, 3 alt, 5 ctrl. */
  switch (final) {
    case 'A': return K_UP;
    case 'B': return K_DOWN;
    case 'C': return mod >= 3 ? K_WORD_RIGHT : K_RIGHT;
    case 'D': return mod >= 3 ? K_WORD_LEFT : K_LEFT;
    case 'H': return K_HOME;
    case 'F': return K_END;
    case '~':
      switch (p1) {
        case 1: case 7: return K_HOME;
        case 4: case 8: return K_END;
        case 3: return K_DEL;
        case 200: return K_PASTE_BEGIN;
        case 201: return K_PASTE_END;
        default: return K_NONE;
      }
    default: return K_NONE;
  }
}

/* Reads one key: a byte (control characters included) or a K_* value. An
 * escape byte not followed quickly by more input is K_ESC. */
static int read_key(repl_led *l) {
  int c = read_byte(l, -1);
  if (c == RB_REDRAW) return K_REDRAW;
  if (c == RB_EOF) return K_EOF;
  if (c < 0) return K_ERR;
  if (c != 27) return c;
  int c1 = read_byte(l, ESC_TIMEOUT_MS);
  if (c1 < 0) return K_ESC;
  if (c1 == '[') return read_csi(l);
  if (c1 == 'O') {
    switch (read_byte(l, ESC_TIMEOUT_MS)) {
      case 'A': return K_UP;
      case 'B': return K_DOWN;
      case 'C': return K_RIGHT;
      case 'D': return K_LEFT;
      case 'H': return K_HOME;
      case 'F': return K_END;
      default: return K_NONE;
    }
  }
  switch (c1) {
    case 'b': case 'B': return K_WORD_LEFT;
    case 'f': case 'F': return K_WORD_RIGHT;
    case 'd': case 'D': return K_KILL_WORD_RIGHT;
    case 127: case 8: return K_KILL_WORD_LEFT;
    case 27: unread_byte(l); return K_ESC;
    default: return K_NONE;
  }
}

/* ---- rendering ------------------------------------------------------------ */

/* A painter that follows where the terminal puts each character. col == cols
 * means the row is full: the next character starts the next row. Rows are
 * counted from the prompt's first row; only rows in [top, bottom) are drawn
 * (into b; with b NULL nothing is drawn and the pass only measures). */
typedef struct {
  sbuf *b;
  int cols, row, col;
  int top, bottom;
  int phys; /* The row the terminal cursor is on. */
} sim;

static int sim_visible(const sim *s, int row) { return row >= s->top && row < s->bottom; }

/* Places n bytes that take w columns, wrapping first if they do not fit. */
static void sim_put(sim *s, const char *p, size_t n, int w) {
  if (w > 0 && s->col + w > s->cols) {
    s->row++;
    s->col = 0;
  }
  if (s->b && sim_visible(s, s->row)) {
    sb_put(s->b, p, n);
    s->phys = s->row;
  }
  s->col += w;
}

/* Moves to the start of the next row; "\r\n" is sent only between two drawn
 * rows (drawing starts on row top, wherever the rows above went). */
static void sim_nl(sim *s) {
  if (s->b && sim_visible(s, s->row) && sim_visible(s, s->row + 1)) {
    sb_puts(s->b, "\r\n");
    s->phys = s->row + 1;
  }
  s->row++;
  s->col = 0;
}

/* Ends a logical line: a full row first gets its own "\r\n", so the cursor
 * can sit after its last character. */
static void sim_newline(sim *s) {
  if (s->col >= s->cols) sim_nl(s);
  sim_nl(s);
}

/* Places the character at t[i] as it appears on screen: control characters
 * and invalid bytes take one cell ('?', or ' ' for a tab). Returns its length. */
static size_t sim_char(sim *s, const char *t, size_t n, size_t i) {
  long cp;
  size_t k = u8_decode(t, n, i, &cp);
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) sim_put(s, cp == '\t' ? " " : "?", 1, 1);
  else sim_put(s, t + i, k, cp_width(cp));
  return k;
}

/* Places a prompt. Escape sequences, and bytes between \001 and \002 (the
 * readline convention), take no room; newlines start new rows. */
static void sim_prompt(sim *s, const char *p) {
  size_t n = strlen(p);
  int hidden = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)p[i];
    if (c == 1 || c == 2) {
      hidden = c == 1;
      i++;
    } else if (c == 27 || hidden) {
      size_t j = i + 1;
      if (c == 27 && j < n && p[j] == '[') {
        j++;
        while (j < n && !(p[j] >= 0x40 && p[j] <= 0x7E)) j++;
      }
      if (c == 27 && j < n) j++;
      sim_put(s, p + i, j - i, 0);
      i = j;
    } else if (c == '\n') {
      sim_newline(s);
      i++;
    } else {
      i += sim_char(s, p, n, i);
    }
  }
}

/* Lays out prompt and text (logical lines after the first get l->cont) and
 * reports the row and column of byte offset cursor. Ends with the painter
 * at column 0 of the row after the text's last full row. */
static void sim_text(repl_led *l, sim *s, const char *prompt, const char *text, size_t len, size_t cursor,
                     int *out_r, int *out_c) {
  sim_prompt(s, prompt);
  for (size_t i = 0;;) {
    if (i == cursor) {
      *out_r = s->col >= s->cols ? s->row + 1 : s->row;
      *out_c = s->col >= s->cols ? 0 : s->col;
    }
    if (i >= len) break;
    if (text[i] == '\n') {
      sim_newline(s);
      sim_prompt(s, l->cont);
      i++;
    } else {
      i += sim_char(s, text, len, i);
    }
  }
  if (s->col >= s->cols) sim_nl(s);
}

static int term_rows(repl_led *l) {
  struct winsize ws;
  if (ioctl(l->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
  return 24;
}

/* Draws prompt and text with the cursor at byte offset cursor, replacing what
 * the last render drew. Input taller than the terminal is shown through a
 * window of rows that follows the cursor. */
static void render(repl_led *l, const char *prompt, const char *text, size_t len, size_t cursor) {
  sbuf b = {0};
  int cols = term_cols(l), height = term_rows(l), cur_r = 0, cur_c = 0, top = 0;
  sim m = {NULL, cols, 0, 0, 0, INT_MAX, 0};
  sim_text(l, &m, prompt, text, len, cursor, &cur_r, &cur_c);
  int total = m.row + 1;
  if (total > height) {
    top = l->top;
    if (cur_r < top) top = cur_r;
    if (cur_r >= top + height) top = cur_r - height + 1;
    if (top > total - height) top = total - height;
  }
  l->top = top;
  sim s = {&b, cols, 0, 0, top, top + height, top};
  sb_puts(&b, "\x1b[?25l");
  if (l->cursor_row > 0) sb_csi(&b, l->cursor_row, 'A');
  sb_puts(&b, "\r\x1b[J");
  sim_text(l, &s, prompt, text, len, cursor, &cur_r, &cur_c);
  if (s.phys > cur_r) sb_csi(&b, s.phys - cur_r, 'A');
  sb_puts(&b, "\r");
  if (cur_c > 0) sb_csi(&b, cur_c, 'C');
  sb_puts(&b, "\x1b[?25h");
  l->cursor_row = cur_r - top;
  l->rows = (total < top + height ? total : top + height) - top;
  if (!b.oom) raw_write(l->out_fd, b.p, b.n);
  sb_free(&b);
}

/* Redraws the current state: the edit buffer, or the Ctrl-R search. */
static void refresh(repl_led *l) {
  if (!l->searching) {
    render(l, l->prompt, l->buf, l->len, l->pos);
    return;
  }
  sbuf p = {0};
  sb_puts(&p, l->sfail ? "(failed reverse-i-search)`" : "(reverse-i-search)`");
  if (l->query.p) sb_puts(&p, l->query.p);
  sb_puts(&p, "': ");
  const char *t = l->sidx >= 0 ? l->hist[l->sidx] : l->buf;
  size_t pos = l->sidx >= 0 ? l->spos : l->pos;
  render(l, p.oom ? "" : p.p, t, strlen(t), pos);
  sb_free(&p);
}

/* Moves the terminal cursor below the last drawn row, at column 0. */
static void goto_below(repl_led *l, sbuf *b) {
  if (l->rows - 1 > l->cursor_row) sb_csi(b, l->rows - 1 - l->cursor_row, 'B');
  sb_puts(b, "\r\n");
}

/* ---- completion ----------------------------------------------------------- */

static void comp_clear(repl_led *l) {
  for (int i = 0; i < l->ncomp; i++) free(l->comp[i]);
  l->ncomp = 0;
  l->comp_oom = 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the candidates in columns below the input, then redraws it. */
static void comp_list(repl_led *l) {
  sbuf b = {0};
  int cols = term_cols(l), n = l->ncomp < LIST_MAX ? l->ncomp : LIST_MAX, maxw = 0;
  for (int i = 0; i < n; i++) {
    sim m = {NULL, INT_MAX, 0, 0, 0, INT_MAX, 0};
    sim_prompt(&m, l->comp[i]);
    if (m.col > maxw) maxw = m.col;
  }
  int colw = maxw + 2, ncols = (cols + 2) / colw;
  if (ncols < 1) ncols = 1;
  int nrows = (n + ncols - 1) / ncols;
  render(l, l->prompt, l->buf, l->len, l->pos); /* Drawing may have been deferred. */
  goto_below(l, &b);
  for (int r = 0; r < nrows; r++) {
    for (int c = 0; c < ncols; c++) {
      int i = c * nrows + r;
      if (i >= n) break;
      sim s = {&b, INT_MAX, 0, 0, 0, INT_MAX, 0};
      size_t wn = strlen(l->comp[i]);
      for (size_t k = 0; k < wn;) k += sim_char(&s, l->comp[i], wn, k);
      if (i + nrows < n)
        for (; s.col < colw; s.col++) sb_put(&b, " ", 1);
    }
    sb_puts(&b, "\r\n");
  }
  if (l->ncomp > n) {
    char tmp[64];
    int k = snprintf(tmp, sizeof tmp, "... and %d more\r\n", l->ncomp - n);
    sb_put(&b, tmp, (size_t)k);
  }
  if (!b.oom) raw_write(l->out_fd, b.p, b.n);
  sb_free(&b);
  l->cursor_row = 0;
  render(l, l->prompt, l->buf, l->len, l->pos);
}

/* Replaces [from, l->pos) with n bytes of s. */
static int replace_word(repl_led *l, size_t from, const char *s, size_t n) {
  buf_delete(l, from, l->pos);
  l->pos = from;
  return buf_insert(l, from, s, n);
}

/* Tab: indents at the start of a line, otherwise asks the callback for
 * candidates, completes a single one or the common prefix, and lists them on
 * a second Tab. Returns 0 or -ENOMEM. */
static int complete(repl_led *l, int was_tab) {
  size_t ls = line_start(l, l->pos), i = ls;
  while (i < l->pos && (l->buf[i] == ' ' || l->buf[i] == '\t')) i++;
  if (i == l->pos || !l->complete) return buf_insert(l, l->pos, INDENT, strlen(INDENT));
  size_t ws = l->pos;
  while (ws > 0 && is_word((unsigned char)l->buf[ws - 1])) ws--;
  comp_clear(l);
  l->complete(l->complete_ctx, l->buf, (int)l->pos, l);
  if (l->ncomp == 0) return l->comp_oom ? -ENOMEM : 0;
  qsort(l->comp, (size_t)l->ncomp, sizeof l->comp[0], cmp_str);
  int n = 1;
  for (int k = 1; k < l->ncomp; k++) {
    if (strcmp(l->comp[k], l->comp[n - 1]) == 0) free(l->comp[k]);
    else l->comp[n++] = l->comp[k];
  }
  l->ncomp = n;
  if (n == 1) return replace_word(l, ws, l->comp[0], strlen(l->comp[0]));
  size_t p = strlen(l->comp[0]);
  for (int k = 1; k < n; k++) {
    size_t j = 0;
    while (j < p && l->comp[k][j] == l->comp[0][j]) j++;
    p = j;
  }
  while (p > 0 && ((unsigned char)l->comp[0][p] & 0xC0) == 0x80) p--;
  l->last_tab = 1;
  if (p > l->pos - ws) return replace_word(l, ws, l->comp[0], p);
  if (was_tab) comp_list(l);
  return 0;
}

/* ---- history -------------------------------------------------------------- */

/* Shows history entry hidx + dir. Going back puts the cursor at the end of the
 * entry's first line (so Up keeps walking back through multi-line entries),
 * going forward at its end. Returns 0, or -ENOMEM. */
static int history_move(repl_led *l, int dir) {
  int to = l->hidx + dir;
  if (to < 0 || to > l->nhist) return 0;
  if (l->hidx == l->nhist) {
    free(l->hsave);
    if (!(l->hsave = str_dup(l->buf))) return -ENOMEM;
  }
  l->hidx = to;
  if (buf_set(l, to == l->nhist ? l->hsave : l->hist[to]) < 0) return -ENOMEM;
  if (dir < 0) l->pos = line_end(l, 0);
  return 0;
}

static void search_find(repl_led *l, int from) {
  if (!l->query.p || !l->query.n) {
    l->sidx = -1;
    l->sfail = 0;
    return;
  }
  for (int i = from; i >= 0; i--) {
    const char *m = strstr(l->hist[i], l->query.p);
    if (m) {
      l->sidx = i;
      l->spos = (size_t)(m - l->hist[i]);
      l->sfail = 0;
      return;
    }
  }
  l->sfail = 1;
}

static int search_begin(repl_led *l) {
  if (!(l->sorig = str_dup(l->buf))) return -ENOMEM;
  l->sorig_pos = l->pos;
  l->searching = 1;
  l->sidx = -1;
  l->sfail = 0;
  sb_free(&l->query);
  return 0;
}

/* Leaves the search; accept keeps the match in the buffer, otherwise the
 * buffer from before the search comes back. */
static void search_end(repl_led *l, int accept) {
  if (l->query.n) {
    free(l->last_query);
    l->last_query = str_dup(l->query.p);
  }
  if (accept && l->sidx >= 0 && buf_set(l, l->hist[l->sidx]) == 0) {
    l->pos = l->spos;
    if (l->hidx == l->nhist) {
      free(l->hsave);
      l->hsave = l->sorig;
      l->sorig = NULL;
    }
    l->hidx = l->sidx;
  } else if (!accept && buf_set(l, l->sorig) == 0) {
    l->pos = l->sorig_pos;
  }
  free(l->sorig);
  l->sorig = NULL;
  sb_free(&l->query);
  l->searching = 0;
  l->sidx = -1;
  l->sfail = 0;
}

/* Handles a key during Ctrl-R. Returns 0 when the key was used, 1 when the
 * search ended and the key should be handled as a normal key. */
static int search_key(repl_led *l, int k) {
  char ch[4];
  if (k == 18) { /* Ctrl-R: older match, or the last search again. */
    if (!l->query.n && l->last_query) {
      sb_puts(&l->query, l->last_query);
      search_find(l, l->nhist - 1);
    } else if (l->query.n) {
      search_find(l, l->sidx >= 0 ? l->sidx - 1 : l->nhist - 1);
    }
  } else if (k == 7 || k == K_ESC) { /* Ctrl-G, Esc: cancel. */
    search_end(l, 0);
  } else if (k == 127 || k == 8) {
    if (l->query.n) {
      l->query.n = prev_char(l->query.p, l->query.n);
      l->query.p[l->query.n] = 0;
      search_find(l, l->nhist - 1);
    }
  } else if (k >= 0x20 && k < 0x100 && k != 127) {
    sb_put(&l->query, ch, read_char(l, k, ch));
    search_find(l, l->sidx >= 0 ? l->sidx : l->nhist - 1);
  } else if (k != K_NONE) { /* Any other key accepts (Ctrl-C cancels), then acts. */
    search_end(l, k != 3);
    return 1;
  }
  return 0;
}

/* ---- the edit loop -------------------------------------------------------- */

/* Bracketed paste: inserts everything up to ESC[201~ literally, with "\r\n"
 * and "\r" turned into "\n" and other control characters dropped. Returns
 * -1 to go on editing or an REPL_LED_* status. */
static int paste(repl_led *l) {
  sbuf b = {0};
  int prev_cr = 0, st = -1;
  for (;;) {
    int c = read_byte(l, -1);
    if (c == RB_REDRAW) {
      g_resumed = 0;
      l->cursor_row = 0;
      continue;
    }
    if (c < 0) {
      st = c == RB_EOF ? REPL_LED_EOF : REPL_LED_ERROR;
      break;
    }
    if (c == 27) {
      unread_byte(l);
      if (read_key(l) == K_PASTE_END) break;
      continue;
    }
    if (c == '\n' && prev_cr) {
      prev_cr = 0;
      continue;
    }
    prev_cr = c == '\r';
    if (c == '\r' || c == '\n') sb_put(&b, "\n", 1);
    else if (c == '\t' || (c >= 0x20 && c != 127)) {
      char ch = (char)c;
      sb_put(&b, &ch, 1);
    }
  }
  if (b.oom || (b.n && buf_insert(l, l->pos, b.p, b.n) < 0)) st = REPL_LED_ERROR;
  sb_free(&b);
  return st;
}

/* Handles one key in normal editing. Returns -1 to go on, or an REPL_LED_* status
 * when the input is finished. */
static int edit_key(repl_led *l, int k) {
  int was_tab = l->last_tab, rc = 0;
  char ch[4];
  l->last_tab = 0;
  switch (k) {
    case 1: case K_HOME: l->pos = line_start(l, l->pos); break;
    case 5: case K_END: l->pos = line_end(l, l->pos); break;
    case 2: case K_LEFT: l->pos = prev_char(l->buf, l->pos); break;
    case 6: case K_RIGHT: l->pos = next_char(l->buf, l->len, l->pos); break;
    case K_WORD_LEFT: l->pos = word_left(l, l->pos); break;
    case K_WORD_RIGHT: l->pos = word_right(l, l->pos); break;
    case 3: return REPL_LED_INTERRUPT;
    case 4:
      if (l->len == 0) return REPL_LED_EOF;
      /* fall through */
    case K_DEL: buf_delete(l, l->pos, next_char(l->buf, l->len, l->pos)); break;
    case 8: case 127: buf_delete(l, prev_char(l->buf, l->pos), l->pos); break;
    case 9: rc = complete(l, was_tab); break;
    case 10: case 13:
      if (l->incomplete && l->incomplete(l->incomplete_ctx, l->buf)) {
        rc = buf_insert(l, l->pos, "\n", 1);
        break;
      }
      return REPL_LED_OK;
    case 11: {
      size_t e = line_end(l, l->pos);
      buf_kill(l, l->pos, e == l->pos && e < l->len ? e + 1 : e);
      break;
    }
    case 21: {
      size_t s = line_start(l, l->pos);
      buf_kill(l, s == l->pos && s > 0 ? s - 1 : s, l->pos);
      break;
    }
    case 23: {
      size_t s = l->pos;
      while (s > 0 && is_space((unsigned char)l->buf[s - 1])) s--;
      while (s > 0 && !is_space((unsigned char)l->buf[s - 1])) s--;
      buf_kill(l, s, l->pos);
      break;
    }
    case K_KILL_WORD_LEFT: buf_kill(l, word_left(l, l->pos), l->pos); break;
    case K_KILL_WORD_RIGHT: buf_kill(l, l->pos, word_right(l, l->pos)); break;
    case 25:
      if (l->kill) rc = buf_insert(l, l->pos, l->kill, strlen(l->kill));
      break;
    case 20: transpose(l); break;
    case 12:
      raw_write(l->out_fd, "\x1b[H\x1b[2J", 7);
      l->cursor_row = 0;
      refresh(l);
      break;
    case 16: case K_UP:
      if (!move_vertical(l, -1)) rc = history_move(l, -1);
      break;
    case 14: case K_DOWN:
      if (!move_vertical(l, 1)) rc = history_move(l, 1);
      break;
    case 18: rc = search_begin(l); break;
    case 22: { /* Ctrl-V: the next byte literally. */
      int c = read_byte(l, -1);
      if (c >= 0 && c != 27) rc = buf_insert(l, l->pos, ch, read_char(l, c, ch));
      break;
    }
    case 26:
      if (tstp_installed()) {
        size_t pos = l->pos;
        l->pos = l->len;
        refresh(l);
        raw_write(l->out_fd, "\r\n", 2);
        l->pos = pos;
        raise(SIGTSTP);
      }
      break;
    case K_PASTE_BEGIN: return paste(l);
    default:
      if (k >= 0x20 && k < 0x100 && k != 127) rc = buf_insert(l, l->pos, ch, read_char(l, k, ch));
      break;
  }
  return rc < 0 ? REPL_LED_ERROR : -1;
}

/* Reads keys until the input is finished; returns its REPL_LED_* status. */
static int edit_loop(repl_led *l) {
  for (;;) {
    int k = read_key(l), st;
    if (k == K_EOF) return REPL_LED_EOF;
    if (k == K_ERR) return REPL_LED_ERROR;
    if (k == K_REDRAW) {
      l->cursor_row = 0;
      g_resumed = 0;
      refresh(l);
      continue;
    }
    if (l->searching && search_key(l, k) == 0) {
      st = -1;
    } else {
      st = edit_key(l, k);
    }
    if (st >= 0) return st;
    if (!input_pending(l)) refresh(l);
  }
}

/* ---- public API ----------------------------------------------------------- */

/* Creates an editor on a terminal pair. Returns NULL with errno ENOTTY if
 * either descriptor is not a terminal or TERM is "dumb", ENOMEM if out of
 * memory. The caller frees the editor with repl_led_free(). */
repl_led *repl_led_new(int in_fd, int out_fd) {
  const char *term = getenv("TERM");
  if (!isatty(in_fd) || !isatty(out_fd) || (term && strcmp(term, "dumb") == 0)) {
    errno = ENOTTY;
    return NULL;
  }
  repl_led *l = calloc(1, sizeof *l);
  if (!l) {
    errno = ENOMEM;
    return NULL;
  }
  l->in_fd = in_fd;
  l->out_fd = out_fd;
  l->sidx = -1;
  pthread_once(&g_atexit_once, register_atexit);
  return l;
}

void repl_led_free(repl_led *l) {
  if (!l) return;
  comp_clear(l);
  free(l->comp);
  for (int i = 0; i < l->nhist; i++) free(l->hist[i]);
  free(l->hist);
  free(l->buf);
  free(l->hsave);
  free(l->sorig);
  free(l->kill);
  free(l->last_query);
  sb_free(&l->query);
  free(l);
}

void repl_led_set_completion(repl_led *l, repl_led_complete_fn fn, void *ctx) {
  l->complete = fn;
  l->complete_ctx = ctx;
}

void repl_led_set_incomplete(repl_led *l, repl_led_incomplete_fn fn, void *ctx) {
  l->incomplete = fn;
  l->incomplete_ctx = ctx;
}

/* Adds a candidate (copied). Meant for the completion callback; out of memory
 * is remembered and drops the candidate. */
void repl_led_add_completion(repl_led *l, const char *word) {
  if (!l || !word) return;
  if (l->ncomp == l->comp_cap) {
    int cap = l->comp_cap ? l->comp_cap * 2 : 16;
    char **p = realloc(l->comp, (size_t)cap * sizeof *p);
    if (!p) {
      l->comp_oom = 1;
      return;
    }
    l->comp = p;
    l->comp_cap = cap;
  }
  if (!(l->comp[l->ncomp] = str_dup(word))) l->comp_oom = 1;
  else l->ncomp++;
}

/* Reads one input with editing. Returns the text (without the final newline)
 * in a malloc'd string the caller frees, or NULL with *out_status REPL_LED_EOF,
 * REPL_LED_INTERRUPT or REPL_LED_ERROR. The terminal modes are restored before it
 * returns in every case. */
char *repl_led_read(repl_led *l, const char *prompt, const char *cont_prompt, int *out_status) {
  int st, dummy;
  char *res = NULL;
  if (!out_status) out_status = &dummy;
  *out_status = REPL_LED_ERROR;
  if (!l || g_reading) return NULL;
  l->prompt = prompt ? prompt : "";
  l->cont = cont_prompt ? cont_prompt : "";
  l->len = l->pos = 0;
  if (buf_reserve(l, 0) < 0) return NULL;
  l->buf[0] = 0;
  l->cursor_row = 0;
  l->rows = 1;
  l->top = 0;
  l->hidx = l->nhist;
  l->last_tab = 0;
  l->searching = 0;
  l->sidx = -1;
  g_resumed = 0;
  if (raw_on(l) < 0) return NULL;
  g_reading = 1;
  signals_install();
  refresh(l);
  st = edit_loop(l);
  if (l->searching) search_end(l, st == REPL_LED_OK);
  if (st != REPL_LED_ERROR) {
    l->pos = l->len;
    render(l, l->prompt, l->buf, l->len, l->pos);
  }
  if (st == REPL_LED_OK || st == REPL_LED_ERROR) raw_write(l->out_fd, "\r\n", 2);
  term_restore();
  signals_restore();
  g_reading = 0;
  free(l->hsave);
  l->hsave = NULL;
  comp_clear(l);
  if (st == REPL_LED_OK) {
    res = l->buf; /* Hand the buffer over; the next call allocates a new one. */
    l->buf = NULL;
    l->cap = l->len = l->pos = 0;
  }
  *out_status = st;
  return res;
}

/* Adds a copy of entry as the newest. Empty (all white space) entries and
 * repeats of the newest are skipped; the oldest goes beyond HISTORY_MAX.
 * Returns 0 or -ENOMEM. */
int repl_led_history_add(repl_led *l, const char *entry) {
  const char *p = entry;
  if (!l || !entry) return -EINVAL;
  while (*p && is_space((unsigned char)*p)) p++;
  if (!*p) return 0;
  if (l->nhist > 0 && strcmp(l->hist[l->nhist - 1], entry) == 0) return 0;
  char *e = str_dup(entry);
  if (!e) return -ENOMEM;
  if (l->nhist == HISTORY_MAX) {
    free(l->hist[0]);
    memmove(l->hist, l->hist + 1, (size_t)(l->nhist - 1) * sizeof *l->hist);
    l->nhist--;
  }
  if (l->nhist == l->hist_cap) {
    int cap = l->hist_cap ? l->hist_cap * 2 : 64;
    if (cap > HISTORY_MAX) cap = HISTORY_MAX;
    char **h = realloc(l->hist, (size_t)cap * sizeof *h);
    if (!h) {
      free(e);
      return -ENOMEM;
    }
    l->hist = h;
    l->hist_cap = cap;
  }
  l->hist[l->nhist++] = e;
  return 0;
}

/* Appends the entries of a history file (see linedit.h for the format). A
 * missing file is not an error. Returns 0 or a negative errno value. */
int repl_led_history_load(repl_led *l, const char *path) {
  FILE *f = fopen(path, "re");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  if (!f) return errno == ENOENT ? 0 : -errno;
  while ((n = getline(&line, &cap, f)) >= 0) {
    size_t j = 0;
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    for (ssize_t i = 0; i < n; i++) {
      if (line[i] == '\\' && i + 1 < n) {
        char c = line[i + 1];
        if (c == 'n' || c == 'r' || c == '\\') {
          line[j++] = c == 'n' ? '\n' : c == 'r' ? '\r' : '\\';
          i++;
          continue;
        }
      }
      line[j++] = line[i];
    }
    line[j] = 0;
    if ((rc = repl_led_history_add(l, line)) < 0) break;
  }
  if (rc == 0 && ferror(f)) rc = -EIO;
  free(line);
  fclose(f);
  return rc;
}

/* Writes the newest HISTORY_MAX entries to path through a temporary file in
 * the same directory and rename(), so a crash never leaves half a file. The
 * file is created with mode 0600. A path that is not a regular file is left
 * alone -- EMBER_HISTORY=/dev/null means "keep none", and renaming over it
 * would replace the machine's /dev/null with a file -- and a symbolic link
 * is followed, so that the link stays. Returns 0 or a negative errno value. */
int repl_led_history_save(repl_led *l, const char *path) {
  struct stat st;
  char *real = NULL;
  if (stat(path, &st) == 0) {
    if (!S_ISREG(st.st_mode)) return 0;
    real = realpath(path, NULL);
    if (real) path = real;
  }
  size_t n = strlen(path);
  char *tmp = malloc(n + 32);
  int rc = 0, fd;
  FILE *f;
  if (!tmp) {
    free(real);
    return -ENOMEM;
  }
  snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || !(f = fdopen(fd, "w"))) {
    rc = -errno;
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    free(real);
    return rc;
  }
  for (int i = l->nhist > HISTORY_MAX ? l->nhist - HISTORY_MAX : 0; i < l->nhist; i++) {
    for (const char *p = l->hist[i]; *p; p++) {
      if (*p == '\\') fputs("\\\\", f);
      else if (*p == '\n') fputs("\\n", f);
      else if (*p == '\r') fputs("\\r", f);
      else fputc(*p, f);
    }
    fputc('\n', f);
  }
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = -errno;
  if (fclose(f) != 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc != 0) unlink(tmp);
  free(tmp);
  free(real);
  return rc;
}

int repl_led_history_len(repl_led *l) { return l ? l->nhist : 0; }

const char *repl_led_history_get(repl_led *l, int i) {
  if (!l || i < 0 || i >= l->nhist) return NULL;
  return l->hist[i];
}
