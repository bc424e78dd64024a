/* test_linedit.c -- unit tests for repl/linedit.c: the terminal line editor.
 *
 * Each test opens a pseudo-terminal (posix_openpt) and runs repl_led_read() on the
 * slave side. A helper thread writes the keystrokes into the master side and
 * drains what the editor draws, so the editor never blocks on output. The
 * drawing is replayed through a tiny VT100 model (screen_*) to check what a
 * user would see, including wrapping at a narrow width. Every test is bounded
 * by alarm(): a hung read kills the program instead of stalling the run.
 */
#include "th.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../../repl/linedit.h"

/* ---- the pseudo-terminal fixture ----------------------------------------- */

#define OUT_MAX (1 << 18)
#define SROWS 24 /* Largest screen the VT100 model holds. */
#define SCOLS 100

typedef struct pty_fx {
  int master, slave;
  pthread_t th;
  const char *keys, *keys2; /* keys2 is written after a pause (lone Esc). */
  size_t nkeys, nkeys2;
  int wait_raw;             /* Write only once the slave is in raw mode. */
  atomic_int stop;
  size_t mark;              /* f->nout when keys2 was written. */
  char *out;                /* Everything the editor wrote. */
  size_t nout;
} pty_fx;

static int open_pty(pty_fx *f, int raw) {
  f->master = posix_openpt(O_RDWR | O_NOCTTY);
  if (f->master < 0 || grantpt(f->master) < 0 || unlockpt(f->master) < 0) return -1;
  f->slave = open(ptsname(f->master), O_RDWR | O_NOCTTY);
  if (f->slave < 0) return -1;
  if (raw) {
    struct termios t;
    tcgetattr(f->slave, &t);
    cfmakeraw(&t);
    tcsetattr(f->slave, TCSANOW, &t);
  }
  return 0;
}

static void set_size(pty_fx *f, int rows, int cols) {
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(f->master, TIOCSWINSZ, &ws);
}

static void set_cols(pty_fx *f, int cols) {
  struct winsize ws = {.ws_row = SROWS, .ws_col = (unsigned short)cols};
  ioctl(f->master, TIOCSWINSZ, &ws);
}

static int fx_setup_common(void **state, int raw) {
  pty_fx *f = calloc(1, sizeof *f);
  if (!f || open_pty(f, raw) < 0) return -1;
  f->out = malloc(OUT_MAX);
  setenv("TERM", "xterm", 1);
  alarm(20);
  *state = f;
  return 0;
}

static int fx_setup(void **state) { return fx_setup_common(state, 1); }

static int fx_setup_cooked(void **state) { return fx_setup_common(state, 0); }

static int fx_teardown(void **state) {
  pty_fx *f = *state;
  alarm(0);
  close(f->slave);
  close(f->master);
  free(f->out);
  free(f);
  return 0;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* Drains the master into f->out until told to stop and nothing is left. */
static void drain(pty_fx *f, int timeout_ms) {
  struct pollfd p = {.fd = f->master, .events = POLLIN};
  while (poll(&p, 1, timeout_ms) > 0) {
    char tmp[4096];
    ssize_t n = read(f->master, tmp, sizeof tmp);
    if (n <= 0) return;
    if (f->nout + (size_t)n <= OUT_MAX) {
      memcpy(f->out + f->nout, tmp, (size_t)n);
      f->nout += (size_t)n;
    }
  }
}

static void *keys_thread(void *arg) {
  pty_fx *f = arg;
  if (f->wait_raw) {
    struct termios t;
    for (;;) {
      if (tcgetattr(f->slave, &t) == 0 && !(t.c_lflag & ICANON)) break;
      usleep(1000);
    }
  }
  write_all(f->master, f->keys, f->nkeys);
  if (f->nkeys2) {
    drain(f, 150); /* Longer than the editor's wait for the rest of an escape. */
    f->mark = f->nout;
    write_all(f->master, f->keys2, f->nkeys2);
  }
  while (!atomic_load(&f->stop)) drain(f, 10);
  drain(f, 0);
  return NULL;
}

/* Runs repl_led_read() while the helper thread types keys; returns its result. */
static char *drive2(pty_fx *f, repl_led *l, const char *keys, const char *keys2, const char *prompt,
                    const char *cont, int *out_st) {
  f->keys = keys;
  f->nkeys = strlen(keys);
  f->keys2 = keys2;
  f->nkeys2 = keys2 ? strlen(keys2) : 0;
  atomic_store(&f->stop, 0);
  assert_int_equal(pthread_create(&f->th, NULL, keys_thread, f), 0);
  char *s = repl_led_read(l, prompt, cont, out_st);
  atomic_store(&f->stop, 1);
  pthread_join(f->th, NULL);
  return s;
}

static char *drive(pty_fx *f, repl_led *l, const char *keys, int *out_st) {
  return drive2(f, l, keys, NULL, "> ", "... ", out_st);
}

/* Types keys and checks that repl_led_read() returns want with REPL_LED_OK. */
static void expect_line(pty_fx *f, repl_led *l, const char *keys, const char *want) {
  int st = -1;
  char *s = drive(f, l, keys, &st);
  assert_int_equal(st, REPL_LED_OK);
  assert_non_null(s);
  assert_string_equal(s, want);
  free(s);
}

/* ---- a small VT100 model ----------------------------------------------- */


typedef struct screen {
  int rows, cols, row, col; /* col == cols: the row is full, the next character wraps. */
  char cell[SROWS][SCOLS][5];
} screen;

static void screen_clear_row(screen *s, int r, int from) {
  for (int c = from; c < SCOLS; c++) strcpy(s->cell[r][c], " ");
}

static void screen_lf(screen *s) {
  if (s->row < s->rows - 1) {
    s->row++;
    return;
  }
  memmove(s->cell[0], s->cell[1], sizeof s->cell[0] * (size_t)(s->rows - 1));
  screen_clear_row(s, s->rows - 1, 0);
}

static void screen_init(screen *s, int rows, int cols) {
  memset(s, 0, sizeof *s);
  s->rows = rows;
  s->cols = cols;
  for (int r = 0; r < SROWS; r++) screen_clear_row(s, r, 0);
}

static int test_width(unsigned long cp) {
  return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) ? 2 : 1;
}

/* Replays terminal output: text with autowrap, CR, LF, and the CSI
 * sequences A B C D H J K (others, such as ?25l and ?2004h, are ignored). */
static void screen_feed(screen *s, const char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)p[i];
    if (c == 27 && i + 1 < n && p[i + 1] == '[') {
      size_t j = i + 2;
      int num = 0, has = 0, priv = 0;
      while (j < n && !(p[j] >= 0x40 && p[j] <= 0x7E)) {
        if (p[j] >= '0' && p[j] <= '9') num = num * 10 + (p[j] - '0'), has = 1;
        if (p[j] == '?') priv = 1;
        j++;
      }
      char fin = j < n ? p[j] : 0;
      int k = has ? num : 1;
      if (s->col >= s->cols) s->col = s->cols - 1;
      if (!priv) switch (fin) {
          case 'A': s->row = s->row - k < 0 ? 0 : s->row - k; break;
          case 'B': s->row = s->row + k >= s->rows ? s->rows - 1 : s->row + k; break;
          case 'C': s->col = s->col + k >= s->cols ? s->cols - 1 : s->col + k; break;
          case 'D': s->col = s->col - k < 0 ? 0 : s->col - k; break;
          case 'H': s->row = s->col = 0; break;
          case 'K': screen_clear_row(s, s->row, s->col); break;
          case 'J':
            if (has && num == 2) {
              for (int r = 0; r < s->rows; r++) screen_clear_row(s, r, 0);
            } else {
              screen_clear_row(s, s->row, s->col);
              for (int r = s->row + 1; r < s->rows; r++) screen_clear_row(s, r, 0);
            }
            break;
          default: break;
        }
      i = j + 1;
    } else if (c == 27) {
      i += 2;
    } else if (c == '\r') {
      s->col = 0;
      i++;
    } else if (c == '\n') {
      if (s->col >= s->cols) s->col = s->cols - 1;
      screen_lf(s);
      i++;
    } else if (c < 0x20) {
      i++;
    } else {
      size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      unsigned long cp = c < 0x80 ? c : c < 0xE0 ? c & 0x1F : c < 0xF0 ? c & 0x0F : c & 0x07;
      for (size_t k = 1; k < len && i + k < n; k++) cp = (cp << 6) | ((unsigned char)p[i + k] & 0x3F);
      int w = test_width(cp);
      if (s->col + w > s->cols) {
        s->col = 0;
        screen_lf(s);
      }
      memcpy(s->cell[s->row][s->col], p + i, len);
      s->cell[s->row][s->col][len] = 0;
      if (w == 2) s->cell[s->row][s->col + 1][0] = 0;
      s->col += w;
      i += len;
    }
  }
}

/* Row r as a string without trailing blanks (static buffer). */
static const char *screen_row(screen *s, int r) {
  static char line[SCOLS * 5 + 1];
  line[0] = 0;
  for (int c = 0; c < s->cols; c++) strcat(line, s->cell[r][c]);
  size_t n = strlen(line);
  while (n > 0 && line[n - 1] == ' ') line[--n] = 0;
  return line;
}

static void screen_of(pty_fx *f, screen *s, int cols) {
  screen_init(s, SROWS, cols);
  screen_feed(s, f->out, f->nout);
}

/* ---- callbacks used by the tests ------------------------------------------ */

static const char *g_words[] = {"printf", "puts", "select", "selectExpr", "sample",
                                "\xc3\xa9t\xc3\xa9", NULL};

/* Offers every word starting with the identifier before the cursor. */
static void complete_words(void *ctx, const char *buf, int cursor, repl_led *l) {
  int *calls = ctx;
  int s = cursor;
  if (calls) (*calls)++;
  while (s > 0) {
    unsigned char c = (unsigned char)buf[s - 1];
    if (!(c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
      break;
    s--;
  }
  for (int i = 0; g_words[i]; i++)
    if (strncmp(g_words[i], buf + s, (size_t)(cursor - s)) == 0) repl_led_add_completion(l, g_words[i]);
}

/* Incomplete while there are more '{' than '}'. */
static int open_braces(void *ctx, const char *text) {
  int depth = 0;
  (void)ctx;
  for (const char *p = text; *p; p++) depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
  return depth > 0;
}

static repl_led *new_led(pty_fx *f) {
  repl_led *l = repl_led_new(f->slave, f->slave);
  assert_non_null(l);
  return l;
}

/* ---- tests ---------------------------------------------------------------- */

static void linedit_new_rejects_non_tty(void **state) {
  pty_fx *f = *state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  errno = 0;
  assert_null(repl_led_new(p[0], p[1]));
  assert_int_equal(errno, ENOTTY);
  assert_null(repl_led_new(f->slave, p[1]));
  setenv("TERM", "dumb", 1);
  assert_null(repl_led_new(f->slave, f->slave));
  setenv("TERM", "xterm", 1);
  repl_led *l = new_led(f);
  repl_led_free(l);
  repl_led_free(NULL);
  close(p[0]);
  close(p[1]);
}

static void linedit_plain_line(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  expect_line(f, l, "hello world\r", "hello world");
  expect_line(f, l, "ctrl-j ends too\n", "ctrl-j ends too");
  expect_line(f, l, "\r", "");
  repl_led_free(l);
}

static void linedit_editing_keys(void **state) {
  static const char *cases[][2] = {
      {"abc\x1b[D\x1b[DX\r", "aXbc"},          /* Left */
      {"abc\x1b[D\x1b[D\x1b[CX\r", "abXc"},    /* Right */
      {"abc\x1b[HX\x1b[FY\r", "XabcY"},        /* Home, End (CSI) */
      {"abc\x1bOHX\x1bOFY\r", "XabcY"},        /* Home, End (SS3) */
      {"abc\x1b[1~X\x1b[4~Y\r", "XabcY"},      /* Home, End (VT) */
      {"abc\x01X\x05Y\r", "XabcY"},            /* Ctrl-A, Ctrl-E */
      {"abc\x02\x02\x06X\r", "abXc"},          /* Ctrl-B, Ctrl-F */
      {"abc\x7f\r", "ab"},                     /* Backspace */
      {"abc\x08\x08\r", "a"},                  /* Ctrl-H */
      {"abc\x01\x1b[3~\r", "bc"},              /* Delete */
      {"abc\x01\x04\r", "bc"},                 /* Ctrl-D deletes on a non-empty line */
      {"abc\x04\r", "abc"},                    /* ...and does nothing at its end */
      {"hello world\x01\x06\x06\x0b\r", "he"}, /* Ctrl-K */
      {"hello world\x02\x02\x15\r", "ld"},     /* Ctrl-U */
      {"foo bar baz\x17\r", "foo bar "},       /* Ctrl-W */
      {"foo bar  \x17\r", "foo "},             /* Ctrl-W eats trailing blanks first */
      {"foo bar baz\x1b" "b\x1b" "bX\r", "foo Xbar baz"}, /* Alt-B */
      {"foo bar baz\x01\x1b" "fX\r", "fooX bar baz"},     /* Alt-F */
      {"foo bar\x1b[1;5DX\r", "foo Xbar"},     /* Ctrl-Left */
      {"foo bar\x01\x1b[1;5CX\r", "fooX bar"}, /* Ctrl-Right */
      {"foo.bar\x1b\x7f\r", "foo."},           /* Alt-Backspace */
      {"foo bar\x01\x1b" "d\r", " bar"},       /* Alt-D */
      {"abc\x14\r", "acb"},                    /* Ctrl-T at the end */
      {"abc\x02\x02\x14\r", "bac"},            /* Ctrl-T inside */
      {"foo bar\x17\x01\x19\r", "bar" "foo "}, /* Ctrl-W then Ctrl-Y */
      {"a\x0c" "b\r", "ab"},                   /* Ctrl-L redraws */
      {"a\x16\tb\r", "a\tb"},                  /* Ctrl-V inserts literally */
      {"a\x1b[5~\x1b[Zb\r", "ab"},             /* Unknown sequences are ignored */
  };
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_line(f, l, cases[i][0], cases[i][1]);
  repl_led_free(l);
}

static void linedit_ctrl_c_interrupts(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  int st = -1;
  assert_null(drive(f, l, "abc\x03", &st));
  assert_int_equal(st, REPL_LED_INTERRUPT);
  assert_null(drive(f, l, "\x03", &st));
  assert_int_equal(st, REPL_LED_INTERRUPT);
  /* Ctrl-C in a continuation and in a search also interrupt. */
  repl_led_set_incomplete(l, open_braces, NULL);
  assert_null(drive(f, l, "{\rx\x03", &st));
  assert_int_equal(st, REPL_LED_INTERRUPT);
  repl_led_history_add(l, "abc");
  assert_null(drive(f, l, "\x12" "ab\x03", &st));
  assert_int_equal(st, REPL_LED_INTERRUPT);
  /* The editor is usable again, and the discarded text is gone. */
  expect_line(f, l, "x\r", "x");
  repl_led_free(l);
}

static void linedit_ctrl_d_on_empty_is_eof(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  int st = -1;
  assert_null(drive(f, l, "\x04", &st));
  assert_int_equal(st, REPL_LED_EOF);
  /* A line emptied by editing counts as empty. */
  assert_null(drive(f, l, "ab\x7f\x7f\x04", &st));
  assert_int_equal(st, REPL_LED_EOF);
  expect_line(f, l, "ab\x01\x04\r", "b");
  repl_led_free(l);
}

static void linedit_utf8_moves_by_character(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  expect_line(f, l, "h\xc3\xa9llo\x01\x06\x06\x7f\r", "hllo");             /* é deleted whole */
  expect_line(f, l, "\xe6\x97\xa5\xe6\x9c\xac\x1b[Dx\r", "\xe6\x97\xa5x\xe6\x9c\xac"); /* 日x本 */
  expect_line(f, l, "a\xc3\xa9\x14\r", "\xc3\xa9" "a");                     /* Ctrl-T */
  expect_line(f, l, "\xf0\x9f\x98\x80!\x01\x1b[3~\r", "!");                /* 4-byte */
  expect_line(f, l, "\xc3\xa9t\xc3\xa9\x1b" "b\x1b[3~\r", "t\xc3\xa9");    /* Alt-B over UTF-8 */
  repl_led_free(l);
}

static void linedit_history_recall(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  assert_int_equal(repl_led_history_add(l, "one"), 0);
  assert_int_equal(repl_led_history_add(l, "two"), 0);
  assert_int_equal(repl_led_history_add(l, "three"), 0);
  expect_line(f, l, "\x1b[A\r", "three");
  expect_line(f, l, "\x1b[A\x1b[A\r", "two");
  expect_line(f, l, "\x1b[A\x1b[A\x1b[B\r", "three");
  expect_line(f, l, "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\r", "one"); /* stops at the oldest */
  expect_line(f, l, "\x10\x10\x0e\r", "three");                   /* Ctrl-P, Ctrl-N */
  expect_line(f, l, "\x1bOA\r", "three");                         /* SS3 Up */
  expect_line(f, l, "draft\x1b[A\x1b[B\r", "draft");              /* the draft comes back */
  expect_line(f, l, "\x1b[A!\r", "three!");                       /* recalled text is editable */
  expect_line(f, l, "\x1b[B\r", "");                              /* nothing newer */
  assert_int_equal(repl_led_history_len(l), 3);                        /* repl_led_read adds nothing */
  repl_led_free(l);
}

static void linedit_history_multiline_entry(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  const char *cell = "int f() {\n  return 1;\n}";
  repl_led_set_incomplete(l, open_braces, NULL);
  repl_led_history_add(l, cell);
  repl_led_history_add(l, "x");
  /* Up recalls a multi-line entry whole; more Ups keep walking back. */
  expect_line(f, l, "\x1b[A\x1b[A\r", cell);
  repl_led_history_add(l, "y");
  expect_line(f, l, "\x1b[A\x1b[A\x1b[A\r", cell);
  /* In a recalled entry Down first moves through its lines, then to newer. */
  expect_line(f, l, "\x1b[A\x1b[A\x1b[A\x1b[B\x1b[B\x1b[B\r", "x");
  /* Editing inside the entry: Down to line 2, End, type. */
  expect_line(f, l, "\x1b[A\x1b[A\x1b[A\x1b[B\x05 /* one */\r",
              "int f() {\n  return 1; /* one */\n}");
  repl_led_free(l);
}

static void linedit_up_down_move_between_lines(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  repl_led_history_add(l, "old");
  /* Column is kept (clamped) when moving between logical lines. */
  expect_line(f, l, "\x1b[200~abc\rde\x1b[201~\x1b[AX\r", "abX" "c\nde");
  expect_line(f, l, "\x1b[200~abcdef\rde\x1b[201~\x1b[A\x1b[BX\r", "abcdef\ndeX");
  expect_line(f, l, "\x1b[200~abc\rdefgh\x1b[201~\x1b[A\x1b[BX\r", "abc\ndefXgh");
  /* Up on the first line goes to history. */
  expect_line(f, l, "\x1b[200~abc\rde\x1b[201~\x1b[A\x1b[A\r", "old");
  repl_led_free(l);
}

static void linedit_history_add_skips(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  assert_int_equal(repl_led_history_add(l, ""), 0);
  assert_int_equal(repl_led_history_add(l, "  \n "), 0);
  assert_int_equal(repl_led_history_len(l), 0);
  assert_int_equal(repl_led_history_add(l, "a"), 0);
  assert_int_equal(repl_led_history_add(l, "a"), 0);
  assert_int_equal(repl_led_history_add(l, "b"), 0);
  assert_int_equal(repl_led_history_add(l, "a"), 0);
  assert_int_equal(repl_led_history_len(l), 3);
  assert_string_equal(repl_led_history_get(l, 0), "a");
  assert_string_equal(repl_led_history_get(l, 2), "a");
  assert_null(repl_led_history_get(l, 3));
  assert_null(repl_led_history_get(l, -1));
  repl_led_free(l);
}

static void linedit_reverse_search(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  int st;
  repl_led_history_add(l, "alpha");
  repl_led_history_add(l, "beta");
  repl_led_history_add(l, "alphabet");
  repl_led_history_add(l, "gamma");
  expect_line(f, l, "\x12" "alp\r", "alphabet");
  expect_line(f, l, "\x12" "alp\x12\r", "alpha");        /* Ctrl-R again: older */
  expect_line(f, l, "\x12" "alpz\x7f\r", "alphabet");    /* Backspace in the query */
  expect_line(f, l, "orig\x12" "alp\x07\r", "orig");     /* Ctrl-G cancels */
  expect_line(f, l, "\x12" "gam\x01X\r", "Xgamma");      /* other keys accept, then act */
  expect_line(f, l, "\x12" "bet\x1b[DX\r", "alphXabet"); /* the cursor is at the match */
  expect_line(f, l, "x\x12" "zzz\r", "x");                 /* no match: nothing changes */
  expect_line(f, l, "\x12" "bet\x12\x12\r", "beta");
  expect_line(f, l, "\x12\x12\r", "alphabet");           /* Ctrl-R Ctrl-R: last search */
  /* After accepting, Down walks to newer entries from the match. */
  expect_line(f, l, "\x12" "beta\x1b[B\x0e\r", "gamma");
  /* Esc cancels (it needs a pause to be told from an escape sequence). */
  char *s = drive2(f, l, "orig\x12" "alp\x1b", "\r", "> ", "... ", &st);
  assert_int_equal(st, REPL_LED_OK);
  assert_string_equal(s, "orig");
  free(s);
  repl_led_free(l);
}

static void linedit_complete_single(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  int calls = 0;
  repl_led_set_completion(l, complete_words, &calls);
  expect_line(f, l, "pri\t\r", "printf");
  assert_int_equal(calls, 1);
  /* The word ending at the cursor is replaced; the rest stays. */
  expect_line(f, l, "x = pri(1);\x1b[D\x1b[D\x1b[D\x1b[D\t\r", "x = printf(1);");
  expect_line(f, l, "s.sa\t\r", "s.sample");
  expect_line(f, l, "\xc3\xa9\t\r", "\xc3\xa9t\xc3\xa9");
  /* No candidate: nothing changes. */
  expect_line(f, l, "zz\t\r", "zz");
  /* Tab at the start of a line indents instead of completing. */
  calls = 0;
  expect_line(f, l, "\tx\r", "  x");
  assert_int_equal(calls, 0);
  repl_led_free(l);
}

static void linedit_complete_common_prefix(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  repl_led_set_completion(l, complete_words, NULL);
  expect_line(f, l, "sel\t\r", "select");  /* select, selectExpr */
  expect_line(f, l, "p\t\r", "p");         /* printf, puts: no longer prefix */
  expect_line(f, l, "p\tr\t\r", "printf"); /* narrowed by typing */
  /* A second Tab lists the candidates below the input, then redraws it. */
  f->nout = 0;
  expect_line(f, l, "s\t\t\r", "s");
  screen sc;
  screen_of(f, &sc, 80);
  assert_string_equal(screen_row(&sc, 0), "> s");
  assert_string_equal(screen_row(&sc, 1), "sample      select      selectExpr");
  assert_string_equal(screen_row(&sc, 2), "> s");
  assert_int_equal(sc.row, 3);
  /* In a narrow terminal the list has several rows, column by column. */
  set_cols(f, 20);
  f->nout = 0;
  expect_line(f, l, "s\t\t\r", "s");
  screen_of(f, &sc, 20);
  assert_string_equal(screen_row(&sc, 1), "sample");
  assert_string_equal(screen_row(&sc, 2), "select");
  assert_string_equal(screen_row(&sc, 3), "selectExpr");
  assert_string_equal(screen_row(&sc, 4), "> s");
  repl_led_free(l);
}

static void linedit_continuation_lines(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  repl_led_set_incomplete(l, open_braces, NULL);
  f->nout = 0;
  expect_line(f, l, "int f() {\r  return 1;\r}\r", "int f() {\n  return 1;\n}");
  screen sc;
  screen_of(f, &sc, 80);
  assert_string_equal(screen_row(&sc, 0), "> int f() {");
  assert_string_equal(screen_row(&sc, 1), "...   return 1;");
  assert_string_equal(screen_row(&sc, 2), "... }");
  assert_int_equal(sc.row, 3);
  assert_int_equal(sc.col, 0);
  /* Complete text returns at once; Backspace joins lines again. */
  expect_line(f, l, "int x;\r", "int x;");
  expect_line(f, l, "{\r\x7f}\r", "{}");
  repl_led_free(l);
}

static void linedit_bracketed_paste(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  repl_led_set_incomplete(l, open_braces, NULL);
  /* Newlines inside a paste are text; Enter after it submits the whole cell. */
  expect_line(f, l, "\x1b[200~int g() {\r  return 2;\r}\x1b[201~\r", "int g() {\n  return 2;\n}");
  expect_line(f, l, "\x1b[200~a;\r\nb;\nc;\x1b[201~\r", "a;\nb;\nc;");
  /* Keys inside a paste are not commands: Tab, Ctrl-C and escapes are text or dropped. */
  expect_line(f, l, "\x1b[200~x\ty\x03\x1b[Dz\x1b[201~\r", "x\tyz");
  /* An incomplete paste continues after Enter. */
  expect_line(f, l, "\x1b[200~{\x1b[201~\r}\r", "{\n}");
  /* Paste in the middle of a line. */
  expect_line(f, l, "ac\x1b[D\x1b[200~b\x1b[201~\r", "abc");
  repl_led_free(l);
}

static void linedit_type_ahead_is_kept(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  int st;
  char *s = drive(f, l, "one\rtwo\r", &st);
  assert_string_equal(s, "one");
  free(s);
  expect_line(f, l, "", "two");
  repl_led_free(l);
}

static void linedit_restores_terminal(void **state) {
  pty_fx *f = *state;
  struct termios before, after;
  repl_led *l = new_led(f);
  int st;
  assert_int_equal(tcgetattr(f->slave, &before), 0);
  assert_true(before.c_lflag & ICANON);
  assert_true(before.c_lflag & ISIG);
  f->wait_raw = 1;
  char *s = drive(f, l, "raw\r", &st);
  assert_string_equal(s, "raw");
  free(s);
  assert_int_equal(tcgetattr(f->slave, &after), 0);
  assert_int_equal(after.c_lflag, before.c_lflag);
  assert_int_equal(after.c_iflag, before.c_iflag);
  assert_int_equal(after.c_oflag, before.c_oflag);
  /* Ctrl-C arrives as a byte (ISIG is off while reading), not as SIGINT. */
  assert_null(drive(f, l, "x\x03", &st));
  assert_int_equal(st, REPL_LED_INTERRUPT);
  assert_int_equal(tcgetattr(f->slave, &after), 0);
  assert_int_equal(after.c_lflag, before.c_lflag);
  assert_null(drive(f, l, "\x04", &st));
  assert_int_equal(st, REPL_LED_EOF);
  assert_int_equal(tcgetattr(f->slave, &after), 0);
  assert_int_equal(after.c_lflag, before.c_lflag);
  /* Bracketed paste is switched on while reading and off afterwards. */
  assert_non_null(memmem(f->out, f->nout, "\x1b[?2004h", 8));
  assert_non_null(memmem(f->out, f->nout, "\x1b[?2004l", 8));
  repl_led_free(l);
}

static void linedit_wraps_long_lines(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  screen sc;
  set_cols(f, 20);
  /* 40 characters after a 2-column prompt: three rows; Home and insert redraws all. */
  f->nout = 0;
  expect_line(f, l, "0123456789abcdefghijklmnopqrstuvwxyzABCD\x01X\x05\r",
              "X0123456789abcdefghijklmnopqrstuvwxyzABCD");
  screen_of(f, &sc, 20);
  assert_string_equal(screen_row(&sc, 0), "> X0123456789abcdefg");
  assert_string_equal(screen_row(&sc, 1), "hijklmnopqrstuvwxyzA");
  assert_string_equal(screen_row(&sc, 2), "BCD");
  assert_int_equal(sc.row, 3);
  /* A line that exactly fills the row, then editing before its end. */
  f->nout = 0;
  expect_line(f, l, "0123456789abcdefgh\x1b[DZ\r", "0123456789abcdefgZh");
  screen_of(f, &sc, 20);
  assert_string_equal(screen_row(&sc, 0), "> 0123456789abcdefgZ");
  assert_string_equal(screen_row(&sc, 1), "h");
  assert_string_equal(screen_row(&sc, 2), "");
  assert_int_equal(sc.row, 2);
  /* Shrinking back clears the rows that are no longer used. */
  f->nout = 0;
  expect_line(f, l, "0123456789abcdefghijklmnopqrstuvwxyz\x15hi\r", "hi");
  screen_of(f, &sc, 20);
  assert_string_equal(screen_row(&sc, 0), "> hi");
  assert_string_equal(screen_row(&sc, 1), "");
  assert_int_equal(sc.row, 1);
  /* Wide characters take two columns and wrap whole. */
  f->nout = 0;
  expect_line(f, l, "0123456789abcdefg\xe6\x97\xa5\xe6\x9c\xac\r",
              "0123456789abcdefg\xe6\x97\xa5\xe6\x9c\xac");
  screen_of(f, &sc, 20);
  assert_string_equal(screen_row(&sc, 0), "> 0123456789abcdefg");
  assert_string_equal(screen_row(&sc, 1), "\xe6\x97\xa5\xe6\x9c\xac");
  repl_led_free(l);
}

/* Types keys1, lets the editor draw, and checks the screen and the cursor
 * while it still waits for keys2 (which must end the read). */
static void expect_cursor(pty_fx *f, repl_led *l, const char *keys1, const char *keys2, int cols,
                          const char *const *rows, int row, int col) {
  screen sc;
  int st;
  struct winsize ws;
  f->nout = 0;
  free(drive2(f, l, keys1, keys2, "> ", "... ", &st));
  ioctl(f->master, TIOCGWINSZ, &ws);
  screen_init(&sc, ws.ws_row, cols);
  screen_feed(&sc, f->out, f->mark);
  for (int r = 0; rows[r]; r++) assert_string_equal(screen_row(&sc, r), rows[r]);
  assert_int_equal(sc.row, row);
  assert_int_equal(sc.col, col);
}

static void linedit_cursor_position_when_wrapped(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  set_cols(f, 10);
  const char *wrapped[] = {"> abcdefgh", "ijklmnopqr", "stu", "", NULL};
  expect_cursor(f, l, "abcdefghijklmnopqrstu", "\r", 10, wrapped, 2, 3);
  expect_cursor(f, l, "abcdefghijklmnopqrstu\x01\x06\x06\x06", "\r", 10, wrapped, 0, 5);
  expect_cursor(f, l, "abcdefghijklmnopqrstu\x01\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C",
                "\r", 10, wrapped, 1, 0);
  expect_cursor(f, l, "abcdefghijklmnopqrstu\x01\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C",
                "\r", 10, wrapped, 0, 9);
  /* A row exactly full: the cursor at the end sits on the next row. */
  const char *full[] = {"> abcdefgh", "", NULL};
  expect_cursor(f, l, "abcdefgh", "\r", 10, full, 1, 0);
  expect_cursor(f, l, "abcdefgh\x02", "\r", 10, full, 0, 9);
  /* A multi-line buffer with wrapping: the cursor lands on the right row. */
  repl_led_set_incomplete(l, open_braces, NULL);
  const char *multi[] = {"> {0123456", "789", "... }", "", NULL};
  expect_cursor(f, l, "{0123456789\r}\x1b[A\x05", "\x03", 10, multi, 1, 3);
  expect_cursor(f, l, "{0123456789\r}\x1b[A\x01", "\x03", 10, multi, 0, 2);
  expect_cursor(f, l, "{0123456789\r}", "\x03", 10, multi, 2, 5);
  /* Wide characters. */
  const char *wide[] = {"> 0123456", "\xe6\x97\xa5\xe6\x9c\xacx", NULL};
  expect_cursor(f, l, "0123456\xe6\x97\xa5\xe6\x9c\xacx\x02\x02", "\r", 10, wide, 1, 2);
  repl_led_free(l);
}

static void linedit_tall_input_scrolls(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  const char *paste = "\x1b[200~l0\rl1\rl2\rl3\rl4\rl5\rl6\rl7\rl8\rl9\x1b[201~";
  char keys[256];
  set_size(f, 6, 20);
  /* Ten lines in a six-row terminal: the rows around the cursor are shown. */
  const char *tail[] = {"... l4", "... l5", "... l6", "... l7", "... l8", "... l9", NULL};
  expect_cursor(f, l, paste, "\x03", 20, tail, 5, 6);
  snprintf(keys, sizeof keys, "%s%s", paste, "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A");
  const char *head[] = {"> l0", "... l1", "... l2", "... l3", "... l4", "... l5", NULL};
  expect_cursor(f, l, keys, "\x03", 20, head, 0, 4);
  /* Moving back down scrolls one row at a time, and editing stays in place. */
  snprintf(keys, sizeof keys, "%s%s", paste,
           "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A"
           "\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B\x1b[BX");
  const char *mid[] = {"... l1", "... l2", "... l3", "... l4", "... l5", "... l6X", NULL};
  expect_cursor(f, l, keys, "\x03", 20, mid, 5, 7);
  /* Submitting shows the end of the input and moves below it. */
  screen sc;
  strcat(keys, "\r");
  f->nout = 0;
  expect_line(f, l, keys, "l0\nl1\nl2\nl3\nl4\nl5\nl6X\nl7\nl8\nl9");
  screen_init(&sc, 6, 20);
  screen_feed(&sc, f->out, f->nout);
  assert_string_equal(screen_row(&sc, 0), "... l5");
  assert_string_equal(screen_row(&sc, 3), "... l8");
  assert_string_equal(screen_row(&sc, 4), "... l9");
  assert_int_equal(sc.row, 5);
  set_size(f, SROWS, 80);
  repl_led_free(l);
}

static void linedit_ctrl_l_clears_screen(void **state) {
  pty_fx *f = *state;
  repl_led *l = new_led(f);
  screen sc;
  f->nout = 0;
  expect_line(f, l, "one\rtwo\x0c\r", "one");
  free(drive(f, l, "", &(int){0}));
  screen_of(f, &sc, 80);
  assert_string_equal(screen_row(&sc, 0), "> two");
  assert_string_equal(screen_row(&sc, 1), "");
  repl_led_free(l);
}

/* ---- history files ----------------------------------------------------- */

static char *tmp_path(char *dir_out, size_t n, const char *name) {
  char tmpl[] = "/tmp/ember_linedit_XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  snprintf(dir_out, n, "%s", d);
  size_t len = strlen(d) + strlen(name) + 2;
  char *p = malloc(len);
  snprintf(p, len, "%s/%s", d, name);
  return p;
}

static int count_files(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (p) {
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
  }
  return n;
}

static void rm_dir(const char *dir, const char *path) {
  unlink(path);
  rmdir(dir);
}

static void linedit_history_save_load_roundtrip(void **state) {
  pty_fx *f = *state;
  char dir[256];
  char *path = tmp_path(dir, sizeof dir, "history");
  const char *entries[] = {"select", "int f() {\n  return 1;\n}", "printf(\"a\\n\\\\\");",
                           "tab\there", "caf\xc3\xa9", "back\\nslash"};
  repl_led *l = new_led(f);
  for (int i = 0; i < 6; i++) assert_int_equal(repl_led_history_add(l, entries[i]), 0);
  assert_int_equal(repl_led_history_save(l, path), 0);
  assert_int_equal(count_files(dir), 1); /* no temporary left behind */
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  repl_led *l2 = new_led(f);
  assert_int_equal(repl_led_history_load(l2, path), 0);
  assert_int_equal(repl_led_history_len(l2), 6);
  for (int i = 0; i < 6; i++) assert_string_equal(repl_led_history_get(l2, i), entries[i]);
  /* Saving again replaces the file. */
  repl_led_history_add(l2, "new");
  assert_int_equal(repl_led_history_save(l2, path), 0);
  repl_led *l3 = new_led(f);
  assert_int_equal(repl_led_history_load(l3, path), 0);
  assert_int_equal(repl_led_history_len(l3), 7);
  assert_string_equal(repl_led_history_get(l3, 6), "new");
  /* Recalled from a loaded file, a multi-line entry comes back whole. */
  expect_line(f, l3, "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\r", entries[1]);
  repl_led_free(l);
  repl_led_free(l2);
  repl_led_free(l3);
  rm_dir(dir, path);
  free(path);
}

static void linedit_history_keeps_last_1000(void **state) {
  pty_fx *f = *state;
  char dir[256], e[32];
  char *path = tmp_path(dir, sizeof dir, "history");
  repl_led *l = new_led(f);
  for (int i = 0; i < 1200; i++) {
    snprintf(e, sizeof e, "entry %d", i);
    assert_int_equal(repl_led_history_add(l, e), 0);
  }
  assert_int_equal(repl_led_history_len(l), 1000);
  assert_string_equal(repl_led_history_get(l, 0), "entry 200");
  assert_string_equal(repl_led_history_get(l, 999), "entry 1199");
  assert_int_equal(repl_led_history_save(l, path), 0);
  repl_led *l2 = new_led(f);
  assert_int_equal(repl_led_history_load(l2, path), 0);
  assert_int_equal(repl_led_history_len(l2), 1000);
  assert_string_equal(repl_led_history_get(l2, 0), "entry 200");
  assert_string_equal(repl_led_history_get(l2, 999), "entry 1199");
  /* A longer file written by hand loads its last 1000 lines. */
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  for (int i = 0; i < 1500; i++) fprintf(fp, "line %d\n", i);
  fclose(fp);
  repl_led *l3 = new_led(f);
  assert_int_equal(repl_led_history_load(l3, path), 0);
  assert_int_equal(repl_led_history_len(l3), 1000);
  assert_string_equal(repl_led_history_get(l3, 0), "line 500");
  assert_string_equal(repl_led_history_get(l3, 999), "line 1499");
  repl_led_free(l);
  repl_led_free(l2);
  repl_led_free(l3);
  rm_dir(dir, path);
  free(path);
}

static void linedit_history_load_missing_is_ok(void **state) {
  pty_fx *f = *state;
  char dir[256];
  char *path = tmp_path(dir, sizeof dir, "none");
  repl_led *l = new_led(f);
  assert_int_equal(repl_led_history_load(l, path), 0);
  assert_int_equal(repl_led_history_len(l), 0);
  /* Saving into a missing directory fails with an errno and leaves nothing. */
  char bad[300];
  snprintf(bad, sizeof bad, "%s/nodir/h", dir);
  repl_led_history_add(l, "x");
  assert_int_equal(repl_led_history_save(l, bad), -ENOENT);
  assert_int_equal(count_files(dir), 0);
  repl_led_free(l);
  rm_dir(dir, path);
  free(path);
}

/* Regression: EMBER_HISTORY=/dev/null made the save rename a file over
 * /dev/null (found on a test machine with /dev/null a regular file). A path
 * that is not a regular file is left as it is (a FIFO stands in for the
 * device here), and a symbolic link stays a link to the updated file. */
static void linedit_history_save_keeps_special_files_and_links(void **state) {
  pty_fx *f = *state;
  char dir[256];
  char *fifo = tmp_path(dir, sizeof dir, "fifo");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  repl_led *l = new_led(f);
  assert_int_equal(repl_led_history_add(l, "one"), 0);
  assert_int_equal(repl_led_history_save(l, fifo), 0);
  struct stat st;
  assert_int_equal(lstat(fifo, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  assert_int_equal(count_files(dir), 1);
  unlink(fifo);
  /* A link: the target gets the entries, the link remains. */
  char target[300], link_path[300];
  snprintf(target, sizeof target, "%s/target", dir);
  snprintf(link_path, sizeof link_path, "%s/link", dir);
  FILE *fp = fopen(target, "w");
  assert_non_null(fp);
  fclose(fp);
  assert_int_equal(symlink(target, link_path), 0);
  assert_int_equal(repl_led_history_save(l, link_path), 0);
  assert_int_equal(lstat(link_path, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  repl_led *l2 = new_led(f);
  assert_int_equal(repl_led_history_load(l2, target), 0);
  assert_int_equal(repl_led_history_len(l2), 1);
  assert_string_equal(repl_led_history_get(l2, 0), "one");
  assert_int_equal(count_files(dir), 2);
  unlink(link_path);
  repl_led_free(l);
  repl_led_free(l2);
  rm_dir(dir, target);
  free(fifo);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

static const struct CMUnitTest tests[] = {
    T(linedit_new_rejects_non_tty),
    T(linedit_plain_line),
    T(linedit_editing_keys),
    T(linedit_ctrl_c_interrupts),
    T(linedit_ctrl_d_on_empty_is_eof),
    T(linedit_utf8_moves_by_character),
    T(linedit_history_recall),
    T(linedit_history_multiline_entry),
    T(linedit_up_down_move_between_lines),
    T(linedit_history_add_skips),
    T(linedit_reverse_search),
    T(linedit_complete_single),
    T(linedit_complete_common_prefix),
    T(linedit_continuation_lines),
    T(linedit_bracketed_paste),
    T(linedit_type_ahead_is_kept),
    cmocka_unit_test_setup_teardown(linedit_restores_terminal, fx_setup_cooked, fx_teardown),
    T(linedit_wraps_long_lines),
    T(linedit_cursor_position_when_wrapped),
    T(linedit_tall_input_scrolls),
    T(linedit_ctrl_l_clears_screen),
    T(linedit_history_save_load_roundtrip),
    T(linedit_history_save_keeps_special_files_and_links),
    T(linedit_history_keeps_last_1000),
    T(linedit_history_load_missing_is_ok),
};

TH_MAIN(tests)
