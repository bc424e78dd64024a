/* test_textio.c -- input splits, line reading and part-file writing.
 *
 * Every test works in a fresh mkdtemp directory that it removes, and checks
 * (in the teardown) that ember's allocation counter is back where it was.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* nftw */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "textio.h"

#define MIB ((int64_t)1 << 20)

/* ---- fixtures and helpers ------------------------------------------------ */

static int64_t g_mem_start;

static int setup(void **state) {
  (void)state;
  eng__textio_set_buffer_size(0);
  g_mem_start = eng_mem_in_use();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  eng__textio_set_buffer_size(0);
  assert_int_equal(eng_mem_in_use(), g_mem_start);
  return 0;
}

static char *make_tmpdir(void) {
  char tmpl[] = "/tmp/ember_textio_XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  chmod(p, 0700);
  return remove(p);
}

static void rm_rf(char *dir) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

/* dir + "/" + name, malloc'd. */
static char *path_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len) assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    size_t k = fread(b + n, 1, cap - n, f);
    if (k == 0) break;
    n += k;
  }
  fclose(f);
  *len = n;
  return b;
}

/* A malloc'd byte string, for building contents and serialized line lists. */
typedef struct bytes {
  char *p;
  size_t n, cap;
} bytes;

static void bytes_add(bytes *b, const void *p, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
    b->p = realloc(b->p, b->cap);
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void bytes_str(bytes *b, const char *s) { bytes_add(b, s, strlen(s)); }

static void bytes_free(bytes *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* Lines are serialized as (8-byte length, bytes) so lists compare with memcmp. */
static void add_line(bytes *out, const char *p, size_t n) {
  uint64_t len = n;
  bytes_add(out, &len, sizeof len);
  bytes_add(out, p, n);
}

/* The reference line splitter: "\n", "\r\n" and lone "\r" end lines; a final
 * line without terminator counts; no trailing empty line. */
static long ref_lines(const char *d, size_t n, bytes *out) {
  size_t i = 0, start = 0;
  long count = 0;
  while (i < n) {
    if (d[i] == '\n' || d[i] == '\r') {
      add_line(out, d + start, i - start);
      count++;
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') i++;
      start = ++i;
    } else {
      i++;
    }
  }
  if (start < n) {
    add_line(out, d + start, n - start);
    count++;
  }
  return count;
}

/* Appends the lines of one split to out; returns the count. */
static long split_lines(const eng_text_split *s, bytes *out) {
  eng_err err = {0};
  eng_line_reader *r = eng_line_reader_open(s, &err);
  if (!r) fail_msg("open %s: %s", s->path, err.msg);
  const char *l;
  long n, count = 0;
  int rc;
  while ((rc = eng_line_reader_next(r, &l, &n, &err)) == 1) {
    add_line(out, l, (size_t)n);
    count++;
  }
  if (rc != 0) fail_msg("read %s: %s", s->path, err.msg);
  eng_line_reader_close(r);
  return count;
}

/* Appends the lines of every split of spec to out. */
static long spec_lines(const char *spec, int minp, bytes *out, int *nsplits) {
  eng_text_split *s;
  int n;
  eng_err err = {0};
  int rc = eng_text_splits(spec, minp, &s, &n, &err);
  if (rc != 0) fail_msg("splits %s: %s", spec, err.msg);
  long count = 0;
  for (int i = 0; i < n; i++) count += split_lines(&s[i], out);
  if (nsplits) *nsplits = n;
  eng_text_splits_free(s, n);
  return count;
}

static eng_text_split mk_split(char *path, int64_t start, int64_t len, int64_t size) {
  eng_text_split s = {path, start, len, size, ENG_CODEC_NONE};
  return s;
}

static uint64_t g_rng = 88172645463325252ull;

static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Random text: short, empty and occasionally long lines, ended by "\n",
 * "\r\n" or a lone "\r", with or without a final terminator. */
static void random_text(bytes *b, size_t lines, size_t long_len) {
  for (size_t i = 0; i < lines; i++) {
    size_t len;
    switch (rnd_below(8)) {
    case 0: len = 0; break;
    case 1: len = long_len ? rnd_below(long_len) : 1; break;
    default: len = rnd_below(20); break;
    }
    for (size_t k = 0; k < len; k++) {
      char c = (char)('a' + rnd_below(26));
      if (rnd_below(10) == 0) c = ' ';
      bytes_add(b, &c, 1);
    }
    int last = i + 1 == lines;
    if (last && rnd_below(2)) break;
    switch (rnd_below(5)) {
    case 0: bytes_str(b, "\r\n"); break;
    case 1: bytes_str(b, "\r"); break;
    default: bytes_str(b, "\n"); break;
    }
  }
}

static void assert_same_lines(const bytes *got, const bytes *want, const char *what) {
  if (got->n != want->n || (want->n && memcmp(got->p, want->p, want->n) != 0))
    fail_msg("%s: lines differ (%zu vs %zu serialized bytes)", what, got->n, want->n);
}

/* Reads file through manual splits of every chunk size in 1..max_chunk and
 * checks that the lines come out exactly once, in order. */
static void check_all_chunkings(char *path, const bytes *content, size_t max_chunk) {
  bytes want = {0};
  ref_lines(content->p, content->n, &want);
  int64_t size = (int64_t)content->n;
  for (size_t cs = 1; cs <= max_chunk; cs++) {
    bytes got = {0};
    if (size == 0) {
      eng_text_split s = mk_split(path, 0, 0, 0);
      split_lines(&s, &got);
    }
    for (int64_t off = 0; off < size; off += (int64_t)cs) {
      int64_t len = size - off < (int64_t)cs ? size - off : (int64_t)cs;
      eng_text_split s = mk_split(path, off, len, size);
      split_lines(&s, &got);
    }
    char what[64];
    snprintf(what, sizeof what, "chunk size %zu", cs);
    assert_same_lines(&got, &want, what);
    bytes_free(&got);
  }
  bytes_free(&want);
}

static void write_with(const char *path, eng_codec codec, const char *data, size_t n) {
  eng_err err = {0};
  eng_text_writer *w = eng_text_writer_open(path, codec, &err);
  if (!w) fail_msg("writer open: %s", err.msg);
  size_t off = 0;
  while (off < n) {
    /* Mixed write sizes: single bytes, lines' worth, and big blocks. */
    size_t k;
    switch (rnd_below(4)) {
    case 0: k = 1; break;
    case 1: k = rnd_below(100); break;
    case 2: k = rnd_below(4000); break;
    default: k = rnd_below(3 * (size_t)MIB); break;
    }
    if (k > n - off) k = n - off;
    assert_int_equal(eng_text_writer_write(w, data + off, k, &err), 0);
    off += k;
  }
  assert_int_equal(eng_text_writer_close(w, &err), 0);
}

/* Runs `tool -dc path` and checks it prints exactly want. */
static void check_tool_reads(const char *tool, const char *path, const char *dir,
                             const bytes *want) {
  char *out = path_in(dir, "tool.out");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s -dc '%s' > '%s'", tool, path, out);
  assert_int_equal(system(cmd), 0);
  size_t n;
  char *got = read_file(out, &n);
  assert_int_equal(n, want->n);
  if (n) assert_memory_equal(got, want->p, n);
  free(got);
  unlink(out);
  free(out);
}

static void append_file(const char *dst, const char *src) {
  size_t n;
  char *d = read_file(src, &n);
  FILE *f = fopen(dst, "ab");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(d, 1, n, f), n);
  fclose(f);
  free(d);
}

/* ---- codec names --------------------------------------------------------- */

static void textio_codec_names(void **state) {
  (void)state;
  assert_int_equal(eng_codec_parse(NULL), ENG_CODEC_NONE);
  assert_int_equal(eng_codec_parse(""), ENG_CODEC_NONE);
  assert_int_equal(eng_codec_parse("none"), ENG_CODEC_NONE);
  assert_int_equal(eng_codec_parse("gzip"), ENG_CODEC_GZIP);
  assert_int_equal(eng_codec_parse("gz"), ENG_CODEC_GZIP);
  assert_int_equal(eng_codec_parse("zstd"), ENG_CODEC_ZSTD);
  assert_int_equal(eng_codec_parse("zst"), ENG_CODEC_ZSTD);
  assert_int_equal(eng_codec_parse("bzip2"), -1);
  assert_int_equal(eng_codec_parse("GZIP"), -1);
  assert_string_equal(eng_codec_suffix(ENG_CODEC_NONE), "");
  assert_string_equal(eng_codec_suffix(ENG_CODEC_GZIP), ".gz");
  assert_string_equal(eng_codec_suffix(ENG_CODEC_ZSTD), ".zst");
}

/* ---- splitting ----------------------------------------------------------- */

typedef struct want_split {
  int64_t start, len;
} want_split;

static void check_splits(const char *spec, int minp, const want_split *want, int n) {
  eng_text_split *s;
  int got;
  eng_err err = {0};
  if (eng_text_splits(spec, minp, &s, &got, &err) != 0) fail_msg("%s", err.msg);
  if (got != n) fail_msg("%s minPartitions %d: %d splits, want %d", spec, minp, got, n);
  for (int i = 0; i < n; i++) {
    assert_int_equal(s[i].start, want[i].start);
    assert_int_equal(s[i].len, want[i].len);
  }
  eng_text_splits_free(s, got);
}

static void textio_splits_small_file_sizes(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "data.txt");
  char data[100];
  memset(data, 'x', sizeof data);
  write_file(f, data, sizeof data);

  const want_split one[] = {{0, 100}};
  check_splits(f, 0, one, 1);
  check_splits(f, 1, one, 1);
  const want_split two[] = {{0, 50}, {50, 50}};
  check_splits(f, 2, two, 2);
  const want_split three[] = {{0, 33}, {33, 33}, {66, 34}}; /* 34/33 <= 1.1 */
  check_splits(f, 3, three, 3);
  /* goal 14: 16 bytes left is more than 1.1 splits, so 8 splits for 7. */
  const want_split seven[] = {{0, 14},  {14, 14}, {28, 14}, {42, 14},
                              {56, 14}, {70, 14}, {84, 14}, {98, 2}};
  check_splits(f, 7, seven, 8);
  /* More partitions than bytes: split size 1. */
  eng_text_split *s;
  int n;
  eng_err err = {0};
  assert_int_equal(eng_text_splits(f, 1000, &s, &n, &err), 0);
  assert_int_equal(n, 100);
  for (int i = 0; i < n; i++) {
    assert_string_equal(s[i].path, f);
    assert_int_equal(s[i].start, i);
    assert_int_equal(s[i].len, 1);
    assert_int_equal(s[i].file_size, 100);
    assert_int_equal(s[i].codec, ENG_CODEC_NONE);
  }
  eng_text_splits_free(s, n);
  free(f);
  rm_rf(dir);
}

static void textio_splits_block_size_caps_split(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f100 = path_in(dir, "a100"), *f70 = path_in(dir, "b70"), *f35 = path_in(dir, "c35");
  /* Sparse files: sizes without the bytes. */
  assert_int_equal(truncate((write_file(f100, "", 0), f100), 100 * MIB), 0);
  assert_int_equal(truncate((write_file(f70, "", 0), f70), 70 * MIB), 0);
  assert_int_equal(truncate((write_file(f35, "", 0), f35), 35 * MIB), 0);

  const want_split w100[] = {{0, 32 * MIB}, {32 * MIB, 32 * MIB}, {64 * MIB, 32 * MIB},
                             {96 * MIB, 4 * MIB}};
  check_splits(f100, 1, w100, 4);
  check_splits(f100, 2, w100, 4);
  const want_split w100_4[] = {{0, 25 * MIB}, {25 * MIB, 25 * MIB}, {50 * MIB, 25 * MIB},
                               {75 * MIB, 25 * MIB}};
  check_splits(f100, 4, w100_4, 4);
  const want_split w70[] = {{0, 32 * MIB}, {32 * MIB, 32 * MIB}, {64 * MIB, 6 * MIB}};
  check_splits(f70, 1, w70, 3);
  const want_split w35[] = {{0, 35 * MIB}}; /* 35/32 < 1.1: one split */
  check_splits(f35, 1, w35, 1);
  free(f100);
  free(f70);
  free(f35);
  rm_rf(dir);
}

static void textio_splits_goal_spans_files(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *a = path_in(dir, "a"), *b = path_in(dir, "b"), *e = path_in(dir, "e");
  char data[60];
  memset(data, 'y', sizeof data);
  write_file(a, data, 60);
  write_file(b, data, 40);
  write_file(e, "", 0);
  /* total 100, 4 partitions: goal 25 for every file. */
  eng_text_split *s;
  int n;
  eng_err err = {0};
  assert_int_equal(eng_text_splits(dir, 4, &s, &n, &err), 0);
  assert_int_equal(n, 6);
  const struct {
    const char *path;
    int64_t start, len;
  } want[] = {{a, 0, 25}, {a, 25, 25}, {a, 50, 10}, {b, 0, 25}, {b, 25, 15}, {e, 0, 0}};
  for (int i = 0; i < n; i++) {
    assert_string_equal(s[i].path, want[i].path);
    assert_int_equal(s[i].start, want[i].start);
    assert_int_equal(s[i].len, want[i].len);
  }
  eng_text_splits_free(s, n);
  free(a);
  free(b);
  free(e);
  rm_rf(dir);
}

static void textio_splits_empty_file(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "empty.txt");
  write_file(f, "", 0);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  for (int minp = 1; minp <= 4; minp++) {
    assert_int_equal(eng_text_splits(f, minp, &s, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].start, 0);
    assert_int_equal(s[0].len, 0);
    assert_int_equal(s[0].file_size, 0);
    bytes got = {0};
    assert_int_equal(split_lines(&s[0], &got), 0);
    bytes_free(&got);
    eng_text_splits_free(s, n);
  }
  free(f);
  rm_rf(dir);
}

/* Splits of many files, created in shuffled order, against the Hadoop rule
 * computed here independently. */
static void textio_splits_many_files(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  enum { NF = 120 };
  int order[NF];
  int64_t sizes[NF], total = 0;
  for (int i = 0; i < NF; i++) order[i] = i;
  for (int i = NF - 1; i > 0; i--) {
    int j = (int)rnd_below((size_t)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  char data[500];
  memset(data, 'z', sizeof data);
  for (int k = 0; k < NF; k++) {
    int i = order[k];
    char name[32];
    snprintf(name, sizeof name, "part-%05d", i);
    sizes[i] = (int64_t)((i * 37) % 500);
    total += sizes[i];
    char *p = path_in(dir, name);
    write_file(p, data, (size_t)sizes[i]);
    free(p);
  }
  for (int minp = 1; minp <= 300; minp += 37) {
    eng_text_split *s;
    int n;
    eng_err err = {0};
    assert_int_equal(eng_text_splits(dir, minp, &s, &n, &err), 0);
    int64_t goal = total / minp, ss = goal < 32 * MIB ? goal : 32 * MIB;
    if (ss < 1) ss = 1;
    int k = 0;
    for (int i = 0; i < NF; i++) {
      char name[32];
      snprintf(name, sizeof name, "part-%05d", i);
      char *p = path_in(dir, name);
      int64_t left = sizes[i];
      do {
        int64_t len = (double)left / (double)ss > 1.1 ? ss : left;
        assert_true(k < n);
        assert_string_equal(s[k].path, p);
        assert_int_equal(s[k].start, sizes[i] - left);
        assert_int_equal(s[k].len, len);
        left -= len;
        k++;
      } while (left > 0);
      free(p);
    }
    assert_int_equal(k, n);
    eng_text_splits_free(s, n);
  }
  rm_rf(dir);
}

static void textio_splits_dir_skips_hidden(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  const char *names[] = {"part-00001", "_SUCCESS", ".part-00000.crc", "part-00000", "_temporary"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char *p = path_in(dir, names[i]);
    write_file(p, "x\n", 2);
    free(p);
  }
  char *sub = path_in(dir, "subdir");
  assert_int_equal(mkdir(sub, 0700), 0);
  char *inner = path_in(sub, "part-00000");
  write_file(inner, "inner\n", 6);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  /* With and without a trailing slash. */
  for (int slash = 0; slash < 2; slash++) {
    char spec[512];
    snprintf(spec, sizeof spec, "%s%s", dir, slash ? "/" : "");
    assert_int_equal(eng_text_splits(spec, 1, &s, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_non_null(strstr(s[0].path, "/part-00000"));
    assert_non_null(strstr(s[1].path, "/part-00001"));
    assert_null(strstr(s[0].path, "//"));
    eng_text_splits_free(s, n);
  }
  /* A file named explicitly is taken even if its name looks hidden. */
  char *succ = path_in(dir, "_SUCCESS");
  assert_int_equal(eng_text_splits(succ, 1, &s, &n, &err), 0);
  assert_int_equal(n, 1);
  eng_text_splits_free(s, n);
  free(succ);
  free(inner);
  free(sub);
  rm_rf(dir);
}

static void textio_splits_glob(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  const char *names[] = {"b.txt", "a2.txt", "a1.txt", "_a3.txt", "c.log"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char *p = path_in(dir, names[i]);
    write_file(p, "line\n", 5);
    free(p);
  }
  char *adir = path_in(dir, "adir");
  assert_int_equal(mkdir(adir, 0700), 0);
  char *ax = path_in(adir, "x"), *ah = path_in(adir, ".hidden");
  write_file(ax, "x\n", 2);
  write_file(ah, "h\n", 2);

  struct {
    const char *pattern;
    const char *want[6];
  } cases[] = {
      {"%s/*.txt", {"a1.txt", "a2.txt", "b.txt"}},
      {"%s/a*", {"a1.txt", "a2.txt", "adir/x"}},
      {"%s/{b,a1}.txt", {"a1.txt", "b.txt"}},
      {"%s/{b,a1}.txt,%s/c.log", {"a1.txt", "b.txt", "c.log"}},
      {"%s/c.log,%s/a?.txt", {"c.log", "a1.txt", "a2.txt"}},
      {"%s/[ab]*.txt", {"a1.txt", "a2.txt", "b.txt"}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char spec[1024];
    snprintf(spec, sizeof spec, cases[c].pattern, dir, dir);
    eng_text_split *s;
    int n;
    eng_err err = {0};
    if (eng_text_splits(spec, 1, &s, &n, &err) != 0) fail_msg("%s: %s", spec, err.msg);
    int nwant = 0;
    while (nwant < 6 && cases[c].want[nwant]) nwant++;
    if (n != nwant) fail_msg("%s: %d splits, want %d", spec, n, nwant);
    for (int i = 0; i < n; i++) {
      char *p = path_in(dir, cases[c].want[i]);
      assert_string_equal(s[i].path, p);
      free(p);
    }
    eng_text_splits_free(s, n);
  }
  free(ax);
  free(ah);
  free(adir);
  rm_rf(dir);
}

static void textio_splits_comma_list_keeps_order(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *a = path_in(dir, "a"), *b = path_in(dir, "b"), *d = path_in(dir, "d");
  write_file(a, "a\n", 2);
  write_file(b, "b\n", 2);
  assert_int_equal(mkdir(d, 0700), 0);
  char *d1 = path_in(d, "1"), *d2 = path_in(d, "2");
  write_file(d2, "d2\n", 3);
  write_file(d1, "d1\n", 3);
  char spec[1024];
  snprintf(spec, sizeof spec, "%s,%s,file://%s,%s", b, d, a, a);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  assert_int_equal(eng_text_splits(spec, 1, &s, &n, &err), 0);
  assert_int_equal(n, 5);
  assert_string_equal(s[0].path, b);
  assert_string_equal(s[1].path, d1);
  assert_string_equal(s[2].path, d2);
  assert_string_equal(s[3].path, a);
  assert_string_equal(s[4].path, a);
  eng_text_splits_free(s, n);
  bytes got = {0}, want = {0};
  spec_lines(spec, 3, &got, NULL);
  ref_lines("b\nd1\nd2\na\na\n", 12, &want);
  assert_same_lines(&got, &want, "comma list");
  bytes_free(&got);
  bytes_free(&want);
  free(a);
  free(b);
  free(d);
  free(d1);
  free(d2);
  rm_rf(dir);
}

static void textio_splits_missing_path_error(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *a = path_in(dir, "a");
  write_file(a, "a\n", 2);
  char *nope = path_in(dir, "nope"), *pat = path_in(dir, "zz*"), *under = path_in(a, "x");
  const char *specs[] = {nope, pat, under};
  for (size_t i = 0; i < 3; i++) {
    eng_text_split *s = (eng_text_split *)1;
    int n = 7;
    eng_err err = {0};
    assert_int_equal(eng_text_splits(specs[i], 1, &s, &n, &err), ENG_EIO);
    assert_int_equal(err.code, ENG_EIO);
    char want[1024];
    snprintf(want, sizeof want, "IOError: Input path does not exist: %s", specs[i]);
    assert_string_equal(err.msg, want);
    assert_null(s);
    assert_int_equal(n, 0);
  }
  /* One missing element fails the whole list, naming that element. */
  char spec[1024], want[1024];
  snprintf(spec, sizeof spec, "%s,%s", a, nope);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  assert_int_equal(eng_text_splits(spec, 1, &s, &n, &err), ENG_EIO);
  snprintf(want, sizeof want, "IOError: Input path does not exist: %s", nope);
  assert_string_equal(err.msg, want);
  assert_int_equal(eng_err_code_of(err.msg), ENG_EIO);
  free(a);
  free(nope);
  free(pat);
  free(under);
  rm_rf(dir);
}

static void textio_splits_unreadable_file_error(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "secret");
  write_file(f, "s\n", 2);
  assert_int_equal(chmod(f, 0), 0);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  int rc = eng_text_splits(f, 1, &s, &n, &err);
  if (geteuid() == 0) {
    /* root reads anything; the error path cannot be provoked this way. */
    assert_int_equal(rc, 0);
    eng_text_splits_free(s, n);
  } else {
    assert_int_equal(rc, ENG_EIO);
    assert_true(strncmp(err.msg, "IOError: ", 9) == 0);
    assert_non_null(strstr(err.msg, f));
    assert_non_null(strstr(err.msg, "Permission denied"));
  }
  /* The reader reports errno text too: a split of a vanished file. */
  char *gone = path_in(dir, "gone");
  eng_text_split sp = mk_split(gone, 0, 10, 10);
  assert_null(eng_line_reader_open(&sp, &err));
  assert_int_equal(err.code, ENG_EIO);
  assert_non_null(strstr(err.msg, gone));
  assert_non_null(strstr(err.msg, "No such file or directory"));
  free(gone);
  free(f);
  rm_rf(dir);
}

static void textio_splits_compressed_whole(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  bytes content = {0};
  random_text(&content, 3000, 200);
  char *gz = path_in(dir, "a.gz"), *zst = path_in(dir, "b.zst"), *plain = path_in(dir, "c.txt");
  write_with(gz, ENG_CODEC_GZIP, content.p, content.n);
  write_with(zst, ENG_CODEC_ZSTD, content.p, content.n);
  write_file(plain, content.p, 1000);
  struct stat st;
  assert_int_equal(stat(gz, &st), 0);
  eng_text_split *s;
  int n;
  eng_err err = {0};
  /* Plain total 1000 / 10: split size 100; compressed files stay whole. */
  assert_int_equal(eng_text_splits(dir, 10, &s, &n, &err), 0);
  assert_int_equal(n, 12);
  assert_string_equal(s[0].path, gz);
  assert_int_equal(s[0].codec, ENG_CODEC_GZIP);
  assert_int_equal(s[0].start, 0);
  assert_int_equal(s[0].len, st.st_size);
  assert_int_equal(s[0].file_size, st.st_size);
  assert_string_equal(s[1].path, zst);
  assert_int_equal(s[1].codec, ENG_CODEC_ZSTD);
  assert_int_equal(s[2].codec, ENG_CODEC_NONE);
  assert_int_equal(s[2].len, 100);
  bytes got = {0}, want = {0};
  split_lines(&s[0], &got);
  ref_lines(content.p, content.n, &want);
  assert_same_lines(&got, &want, "gzip split");
  eng_text_splits_free(s, n);
  bytes_free(&got);
  bytes_free(&want);
  bytes_free(&content);
  free(gz);
  free(zst);
  free(plain);
  rm_rf(dir);
}

/* ---- line reading -------------------------------------------------------- */

static void textio_lines_exactly_once_random(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "rand.txt");
  const size_t bufsizes[] = {1, 2, 3, 7, 64, 0};
  for (int round = 0; round < 40; round++) {
    bytes content = {0};
    random_text(&content, rnd_below(120), round % 4 == 0 ? 300 : 0);
    if (round == 0) content.n = 0; /* the empty file */
    write_file(f, content.p, content.n);
    bytes want = {0};
    ref_lines(content.p, content.n, &want);
    for (size_t b = 0; b < sizeof bufsizes / sizeof bufsizes[0]; b++) {
      eng__textio_set_buffer_size(bufsizes[b]);
      /* The whole file as one split. */
      bytes whole = {0};
      eng_text_split ws = mk_split(f, 0, (int64_t)content.n, (int64_t)content.n);
      split_lines(&ws, &whole);
      assert_same_lines(&whole, &want, "whole file");
      bytes_free(&whole);
      for (int minp = 1; minp <= 13; minp++) {
        bytes got = {0};
        spec_lines(f, minp, &got, NULL);
        char what[96];
        snprintf(what, sizeof what, "round %d buffer %zu minPartitions %d", round, bufsizes[b],
                 minp);
        assert_same_lines(&got, &want, what);
        bytes_free(&got);
      }
    }
    eng__textio_set_buffer_size(round % 2 ? 3 : 0);
    check_all_chunkings(f, &content, 24);
    bytes_free(&want);
    bytes_free(&content);
  }
  free(f);
  rm_rf(dir);
}

static void textio_lines_terminators(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "t.txt");
  const char *cases[] = {"a\r\nb\rc\r\r\nd\n\re", "\n", "\r", "\r\n", "\n\n\r\r\n\r", "x",
                         "x\n", "x\r", "x\r\n", "\r\r\n\n"};
  const long counts[] = {7, 1, 1, 1, 5, 1, 1, 1, 1, 3};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    bytes content = {0};
    bytes_str(&content, cases[c]);
    write_file(f, content.p, content.n);
    bytes want = {0};
    assert_int_equal(ref_lines(content.p, content.n, &want), counts[c]);
    for (size_t bs = 1; bs <= 12; bs++) {
      eng__textio_set_buffer_size(bs);
      check_all_chunkings(f, &content, content.n + 1);
    }
    eng__textio_set_buffer_size(0);
    bytes got = {0};
    eng_text_split s = mk_split(f, 0, (int64_t)content.n, (int64_t)content.n);
    assert_int_equal(split_lines(&s, &got), counts[c]);
    assert_same_lines(&got, &want, cases[c]);
    bytes_free(&got);
    bytes_free(&want);
    bytes_free(&content);
  }
  /* The exact lines of the first case. */
  write_file(f, cases[0], strlen(cases[0]));
  eng_text_split s = mk_split(f, 0, (int64_t)strlen(cases[0]), (int64_t)strlen(cases[0]));
  eng_err err = {0};
  eng_line_reader *r = eng_line_reader_open(&s, &err);
  assert_non_null(r);
  const char *want[] = {"a", "b", "c", "", "d", "", "e"};
  const char *l;
  long n;
  for (int i = 0; i < 7; i++) {
    assert_int_equal(eng_line_reader_next(r, &l, &n, &err), 1);
    assert_int_equal(n, (long)strlen(want[i]));
    assert_memory_equal(l, want[i], (size_t)n);
  }
  assert_int_equal(eng_line_reader_next(r, &l, &n, &err), 0);
  assert_int_equal(eng_line_reader_next(r, &l, &n, &err), 0);
  eng_line_reader_close(r);
  free(f);
  rm_rf(dir);
}

/* Which split owns a boundary line, as Hadoop decides: a split reads every
 * line starting at or before its end, and a split not at offset 0 skips
 * through its first terminator. */
static void textio_lines_split_ownership_like_hadoop(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "own.txt");
  const struct {
    const char *data;
    int64_t cut;
    const char *first, *second; /* lines joined with '|' */
  } cases[] = {
      {"ab\ncd\n", 3, "ab|cd", ""},     /* "cd" starts at the end of the first */
      {"ab\ncd\n", 2, "ab", "cd"},      /* the second skips just "\n" */
      {"ab\ncd\n", 4, "ab|cd", ""},     /* the second skips the rest of "cd" */
      {"ab\r\ncd", 3, "ab", "cd"},      /* cut inside "\r\n" */
      {"ab\rcd\ref", 3, "ab|cd", "ef"}, /* lone "\r" */
      {"ab\n\ncd", 3, "ab|", "cd"},     /* the empty line starts at the cut */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t n = strlen(cases[c].data);
    write_file(f, cases[c].data, n);
    eng_text_split parts[2] = {mk_split(f, 0, cases[c].cut, (int64_t)n),
                               mk_split(f, cases[c].cut, (int64_t)n - cases[c].cut, (int64_t)n)};
    const char *want[2] = {cases[c].first, cases[c].second};
    for (int k = 0; k < 2; k++) {
      eng_err err = {0};
      eng_line_reader *r = eng_line_reader_open(&parts[k], &err);
      assert_non_null(r);
      char joined[64] = "";
      const char *l;
      long len;
      int count = 0;
      while (eng_line_reader_next(r, &l, &len, &err) == 1) {
        if (count++) strcat(joined, "|");
        strncat(joined, l, (size_t)len);
      }
      eng_line_reader_close(r);
      if (strcmp(joined, want[k]) != 0)
        fail_msg("case %zu split %d: got \"%s\", want \"%s\"", c, k, joined, want[k]);
    }
  }
  free(f);
  rm_rf(dir);
}

static void textio_lines_longer_than_buffer(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "long.txt"), *gz = path_in(dir, "long.txt.gz");
  bytes content = {0};
  bytes_str(&content, "short\n");
  for (int i = 0; i < 3 * (1 << 20) + 17; i++) bytes_add(&content, "x", 1);
  bytes_str(&content, "\r\nafter\r");
  for (int i = 0; i < 5 * (1 << 19); i++) bytes_add(&content, "y", 1);
  write_file(f, content.p, content.n);
  write_with(gz, ENG_CODEC_GZIP, content.p, content.n);
  bytes want = {0};
  assert_int_equal(ref_lines(content.p, content.n, &want), 4);
  for (int minp = 1; minp <= 8; minp++) {
    bytes got = {0};
    spec_lines(f, minp, &got, NULL);
    assert_same_lines(&got, &want, "long lines");
    bytes_free(&got);
  }
  /* Splits starting inside the long lines, at their ends, and mid-"\r\n". */
  int64_t size = (int64_t)content.n;
  int64_t cuts[] = {1, 6, 7, 3 * MIB, 3 * MIB + 23, 3 * MIB + 24, 3 * MIB + 30, 4 * MIB, size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    bytes got = {0};
    eng_text_split a = mk_split(f, 0, cuts[i], size), b = mk_split(f, cuts[i], size - cuts[i], size);
    split_lines(&a, &got);
    split_lines(&b, &got);
    assert_same_lines(&got, &want, "two splits");
    bytes_free(&got);
  }
  bytes got = {0};
  spec_lines(gz, 1, &got, NULL);
  assert_same_lines(&got, &want, "long lines gzip");
  bytes_free(&got);
  bytes_free(&want);
  bytes_free(&content);
  free(f);
  free(gz);
  rm_rf(dir);
}

static void textio_lines_utf8_bom_dropped(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "bom.txt"), *gz = path_in(dir, "bom.gz");
  const char data[] = "\xEF\xBB\xBF" "ab\ncd\n";
  write_file(f, data, sizeof data - 1);
  write_with(gz, ENG_CODEC_GZIP, data, sizeof data - 1);
  bytes want = {0};
  ref_lines("ab\ncd\n", 6, &want);
  for (int minp = 1; minp <= 9; minp++) {
    bytes got = {0};
    spec_lines(f, minp, &got, NULL);
    assert_same_lines(&got, &want, "bom");
    bytes_free(&got);
  }
  bytes got = {0};
  spec_lines(gz, 1, &got, NULL);
  assert_same_lines(&got, &want, "bom gzip");
  bytes_free(&got);
  bytes_free(&want);
  /* A file that is only a BOM has no lines; BOM + "\n" has one empty line. */
  write_file(f, "\xEF\xBB\xBF", 3);
  spec_lines(f, 1, &got, NULL);
  assert_int_equal(got.n, 0);
  write_file(f, "\xEF\xBB\xBF\n", 4);
  assert_int_equal(spec_lines(f, 1, &got, NULL), 1);
  ref_lines("\n", 1, &want);
  assert_same_lines(&got, &want, "bom newline");
  bytes_free(&got);
  bytes_free(&want);
  free(f);
  free(gz);
  rm_rf(dir);
}

/* ---- compressed round trips ------------------------------------------------ */

static void roundtrip(eng_codec codec, const char *tool) {
  char *dir = make_tmpdir();
  const char *suffix = eng_codec_suffix(codec);
  char name[32];
  snprintf(name, sizeof name, "part-00000%s", suffix);
  char *f = path_in(dir, name);
  const size_t bufsizes[] = {0, 1, 7, 4096};
  for (int round = 0; round < 6; round++) {
    bytes content = {0};
    random_text(&content, round == 5 ? 200000 : rnd_below(3000), round % 2 ? 5000 : 0);
    if (round == 0) content.n = 0;
    write_with(f, codec, content.p, content.n);
    check_tool_reads(tool, f, dir, &content);
    bytes want = {0};
    ref_lines(content.p, content.n, &want);
    for (size_t b = 0; b < sizeof bufsizes / sizeof bufsizes[0]; b++) {
      if (round == 5 && b > 0 && bufsizes[b] < 4096) continue; /* slow, and covered */
      eng__textio_set_buffer_size(bufsizes[b]);
      bytes got = {0};
      int ns;
      spec_lines(f, 5, &got, &ns);
      assert_int_equal(ns, 1);
      assert_same_lines(&got, &want, tool);
      bytes_free(&got);
    }
    eng__textio_set_buffer_size(0);
    bytes_free(&want);
    bytes_free(&content);
  }
  free(f);
  rm_rf(dir);
}

static void textio_gzip_roundtrip(void **state) {
  (void)state;
  roundtrip(ENG_CODEC_GZIP, "gzip");
}

static void textio_zstd_roundtrip(void **state) {
  (void)state;
  roundtrip(ENG_CODEC_ZSTD, "zstd -q");
}

/* Two members (gzip) or frames (zstd) back to back read as one stream, even
 * when a "\r" ends the first and a "\n" starts the second. */
static void concatenated(eng_codec codec, const char *tool) {
  char *dir = make_tmpdir();
  char name[32];
  snprintf(name, sizeof name, "joined%s", eng_codec_suffix(codec));
  char *joined = path_in(dir, name), *one = path_in(dir, "one"), *two = path_in(dir, "two");
  for (int round = 0; round < 4; round++) {
    bytes a = {0}, b = {0}, all = {0};
    random_text(&a, rnd_below(2000), 100);
    random_text(&b, rnd_below(2000), 100);
    if (round == 1) bytes_str(&a, "tail\r");
    if (round == 1) bytes_str(&b, "\nnext");
    if (round == 2) b.n = 0; /* an empty second member */
    bytes_add(&all, a.p, a.n);
    bytes_add(&all, b.p, b.n);
    write_with(one, codec, a.p, a.n);
    write_with(two, codec, b.p, b.n);
    write_file(joined, "", 0);
    append_file(joined, one);
    append_file(joined, two);
    if (round == 3) append_file(joined, one); /* three members */
    if (round == 3) bytes_add(&all, a.p, a.n);
    check_tool_reads(tool, joined, dir, &all);
    bytes want = {0};
    ref_lines(all.p, all.n, &want);
    const size_t bufsizes[] = {0, 1, 5, 333};
    for (size_t k = 0; k < 4; k++) {
      eng__textio_set_buffer_size(bufsizes[k]);
      bytes got = {0};
      spec_lines(joined, 1, &got, NULL);
      assert_same_lines(&got, &want, "concatenated");
      bytes_free(&got);
    }
    eng__textio_set_buffer_size(0);
    bytes_free(&want);
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&all);
  }
  free(joined);
  free(one);
  free(two);
  rm_rf(dir);
}

static void textio_gzip_concatenated_members(void **state) {
  (void)state;
  concatenated(ENG_CODEC_GZIP, "gzip");
}

static void textio_zstd_concatenated_frames(void **state) {
  (void)state;
  concatenated(ENG_CODEC_ZSTD, "zstd -q");
}

static void textio_compressed_empty_files(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *gz = path_in(dir, "e.gz"), *zst = path_in(dir, "e.zst");
  /* Zero-byte compressed files hold no lines. */
  write_file(gz, "", 0);
  write_file(zst, "", 0);
  bytes got = {0};
  assert_int_equal(spec_lines(gz, 1, &got, NULL), 0);
  assert_int_equal(spec_lines(zst, 1, &got, NULL), 0);
  /* A writer that wrote nothing makes a valid, empty stream. */
  write_with(gz, ENG_CODEC_GZIP, "", 0);
  write_with(zst, ENG_CODEC_ZSTD, "", 0);
  struct stat st;
  assert_int_equal(stat(gz, &st), 0);
  assert_true(st.st_size > 0);
  check_tool_reads("gzip", gz, dir, &got);
  check_tool_reads("zstd -q", zst, dir, &got);
  assert_int_equal(spec_lines(gz, 1, &got, NULL), 0);
  assert_int_equal(spec_lines(zst, 1, &got, NULL), 0);
  bytes_free(&got);
  free(gz);
  free(zst);
  rm_rf(dir);
}

/* Reads a split to its end; returns the final code (0 or an error). */
static int drain(const char *path, eng_err *err) {
  eng_text_split *s;
  int n;
  int rc = eng_text_splits(path, 1, &s, &n, err);
  if (rc != 0) return rc;
  eng_line_reader *r = eng_line_reader_open(&s[0], err);
  eng_text_splits_free(s, n);
  if (!r) return err->code;
  const char *l;
  long len;
  while ((rc = eng_line_reader_next(r, &l, &len, err)) == 1) {
  }
  if (rc < 0) {
    /* The error sticks. */
    eng_err again = {0};
    assert_int_equal(eng_line_reader_next(r, &l, &len, &again), rc);
    assert_string_equal(again.msg, err->msg);
  }
  eng_line_reader_close(r);
  return rc;
}

static void check_corrupt(const char *path) {
  eng_err err = {0};
  assert_int_equal(drain(path, &err), ENG_EIO);
  assert_int_equal(err.code, ENG_EIO);
  if (strncmp(err.msg, "IOError: ", 9) != 0 || !strstr(err.msg, path))
    fail_msg("bad error message: %s", err.msg);
}

static void textio_corrupt_compressed_errors(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  bytes content = {0};
  random_text(&content, 20000, 50);
  const eng_codec codecs[] = {ENG_CODEC_GZIP, ENG_CODEC_ZSTD};
  for (int c = 0; c < 2; c++) {
    char name[32];
    snprintf(name, sizeof name, "bad%s", eng_codec_suffix(codecs[c]));
    char *f = path_in(dir, name);
    write_with(f, codecs[c], content.p, content.n);
    size_t n;
    char *good = read_file(f, &n);
    eng_err err = {0};
    assert_int_equal(drain(f, &err), 0);
    /* Bytes flipped in the middle. */
    char *bad = malloc(n);
    memcpy(bad, good, n);
    for (size_t i = n / 2; i < n / 2 + 16; i++) bad[i] ^= 0x5a;
    write_file(f, bad, n);
    check_corrupt(f);
    /* Cut short. */
    write_file(f, good, n / 2);
    check_corrupt(f);
    write_file(f, good, n - 1);
    check_corrupt(f);
    /* Not compressed at all. */
    write_file(f, "hello world\n", 12);
    check_corrupt(f);
    /* Garbage after a good member or frame. */
    memcpy(bad, good, n);
    write_file(f, bad, n);
    FILE *fp = fopen(f, "ab");
    fputs("garbage", fp);
    fclose(fp);
    check_corrupt(f);
    free(bad);
    free(good);
    free(f);
  }
  bytes_free(&content);
  rm_rf(dir);
}

/* ---- writer -------------------------------------------------------------- */

static void textio_writer_plain_truncates(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *f = path_in(dir, "part-00000");
  write_file(f, "old and much longer content\n", 28);
  bytes content = {0};
  random_text(&content, 40000, 3000);
  write_with(f, ENG_CODEC_NONE, content.p, content.n);
  size_t n;
  char *got = read_file(f, &n);
  assert_int_equal(n, content.n);
  assert_memory_equal(got, content.p, n);
  free(got);
  write_with(f, ENG_CODEC_NONE, "new\n", 4);
  got = read_file(f, &n);
  assert_int_equal(n, 4);
  assert_memory_equal(got, "new\n", 4);
  free(got);
  bytes_free(&content);
  free(f);
  rm_rf(dir);
}

static void textio_writer_open_error(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char *missing = path_in(dir, "no/such/dir/part-00000");
  const eng_codec codecs[] = {ENG_CODEC_NONE, ENG_CODEC_GZIP, ENG_CODEC_ZSTD};
  for (int c = 0; c < 3; c++) {
    eng_err err = {0};
    assert_null(eng_text_writer_open(missing, codecs[c], &err));
    assert_int_equal(err.code, ENG_EIO);
    assert_true(strncmp(err.msg, "IOError: ", 9) == 0);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "No such file or directory"));
  }
  /* A directory in the way. */
  eng_err err = {0};
  assert_null(eng_text_writer_open(dir, ENG_CODEC_NONE, &err));
  assert_non_null(strstr(err.msg, "Is a directory"));
  assert_int_equal(eng_text_writer_close(NULL, &err), 0);
  free(missing);
  rm_rf(dir);
}

static void textio_writer_write_error(void **state) {
  (void)state;
  if (access("/dev/full", W_OK) != 0) skip();
  eng_err err = {0};
  eng_text_writer *w = eng_text_writer_open("/dev/full", ENG_CODEC_NONE, &err);
  assert_non_null(w);
  static char block[3 << 20];
  int rc = eng_text_writer_write(w, block, sizeof block, &err);
  assert_int_equal(rc, ENG_EIO);
  assert_non_null(strstr(err.msg, "/dev/full"));
  assert_non_null(strstr(err.msg, "No space left on device"));
  eng_err again = {0};
  assert_int_equal(eng_text_writer_write(w, "x", 1, &again), ENG_EIO);
  assert_int_equal(eng_text_writer_close(w, &again), ENG_EIO);
  assert_string_equal(again.msg, err.msg);
  /* An error found only when flushing at close. */
  w = eng_text_writer_open("/dev/full", ENG_CODEC_GZIP, &err);
  assert_non_null(w);
  assert_int_equal(eng_text_writer_write(w, "line\n", 5, &err), 0);
  assert_int_equal(eng_text_writer_close(w, &err), ENG_EIO);
  assert_non_null(strstr(err.msg, "/dev/full"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(textio_codec_names, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_small_file_sizes, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_block_size_caps_split, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_goal_spans_files, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_empty_file, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_many_files, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_dir_skips_hidden, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_glob, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_comma_list_keeps_order, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_missing_path_error, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_unreadable_file_error, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_splits_compressed_whole, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_lines_exactly_once_random, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_lines_terminators, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_lines_split_ownership_like_hadoop, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_lines_longer_than_buffer, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_lines_utf8_bom_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_gzip_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_zstd_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_gzip_concatenated_members, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_zstd_concatenated_frames, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_compressed_empty_files, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_corrupt_compressed_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_writer_plain_truncates, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_writer_open_error, setup, teardown),
      cmocka_unit_test_setup_teardown(textio_writer_write_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
