/* textio.c -- input splits, line reading and part-file writing for text.
 *
 * Invariant (line reader): the bytes of the file (or of the decompressed
 * stream) from file offset `base` are in buf[0, lim); the next line starts at
 * buf[pos]. nl_at caches the search for '\n': there is no '\n' in
 * buf[pos, nl_at), and nl_at < lim means buf[nl_at] is that '\n'. cr_at does
 * the same for '\r'. The caches make every byte be searched at most once per
 * character, however lines and refills fall.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "textio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "err.h"
#include "mem.h"

#define LINE_BUF_DEFAULT ((size_t)1 << 20)
#define IN_BUF_DEFAULT ((size_t)256 << 10)
#define SMALL_BUF ((size_t)64 << 10)
#define OUT_BUF_SIZE ((size_t)256 << 10)
#define PLAIN_STAGE_SIZE ((size_t)1 << 20)
#define LOCAL_BLOCK_SIZE ((int64_t)32 << 20)
#define SPLIT_SLOP 1.1
/* Past the end of its split a reader needs one more line at most, so it reads
 * in pieces this small there instead of whole buffers. */
#define TAIL_READ ((size_t)64 << 10)

static size_t g_buffer_size; /* 0: defaults */

void eng__textio_set_buffer_size(size_t n) { g_buffer_size = n; }

/* ---- helpers ----------------------------------------------------------- */

/* The text of errno value e, never a bare number. Works with either flavour
 * of strerror_r. */
static const char *errtext(int e, char *buf, size_t n) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return strerror_r(e, buf, n);
#else
  if (strerror_r(e, buf, n) != 0) snprintf(buf, n, "unknown error %d", e);
  return buf;
#endif
}

static int io_err(eng_err *err, const char *what, const char *path, int e) {
  char eb[256];
  return eng_err_set(err, ENG_EIO, "IOError: %s %s: %s", what, path, errtext(e, eb, sizeof eb));
}

static int oom_err(eng_err *err, const char *path) {
  return eng_err_set(err, ENG_ENOMEM, "MemoryError: out of memory for %s", path);
}

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static eng_codec codec_of_path(const char *path) {
  if (has_suffix(path, ".gz")) return ENG_CODEC_GZIP;
  if (has_suffix(path, ".zst")) return ENG_CODEC_ZSTD;
  return ENG_CODEC_NONE;
}

int eng_codec_parse(const char *name) {
  if (!name || !*name || strcmp(name, "none") == 0) return ENG_CODEC_NONE;
  if (strcmp(name, "gzip") == 0 || strcmp(name, "gz") == 0) return ENG_CODEC_GZIP;
  if (strcmp(name, "zstd") == 0 || strcmp(name, "zst") == 0) return ENG_CODEC_ZSTD;
  return -1;
}

const char *eng_codec_suffix(eng_codec c) {
  switch (c) {
  case ENG_CODEC_GZIP: return ".gz";
  case ENG_CODEC_ZSTD: return ".zst";
  default: return "";
  }
}

/* zlib allocates through ember's allocator, so its memory is accounted. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return eng_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  eng_free(p);
}

/* ---- splits ------------------------------------------------------------ */

typedef struct file_ent {
  char *path;
  int64_t size;
} file_ent;

typedef struct file_vec {
  file_ent *v;
  size_t n, cap;
} file_vec;

static void file_vec_free(file_vec *fv) {
  for (size_t i = 0; i < fv->n; i++) eng_free(fv->v[i].path);
  eng_free(fv->v);
  fv->v = NULL;
  fv->n = fv->cap = 0;
}

/* Takes ownership of path (freed on failure). */
static int file_vec_push(file_vec *fv, char *path, int64_t size, eng_err *err) {
  if (fv->n == fv->cap) {
    size_t nc = fv->cap ? fv->cap * 2 : 16;
    file_ent *nv = eng_realloc(fv->v, nc * sizeof *nv);
    if (!nv) {
      eng_free(path);
      return oom_err(err, "the input file list");
    }
    fv->v = nv;
    fv->cap = nc;
  }
  fv->v[fv->n].path = path;
  fv->v[fv->n].size = size;
  fv->n++;
  return 0;
}

static int cmp_file_ent(const void *a, const void *b) {
  return strcmp(((const file_ent *)a)->path, ((const file_ent *)b)->path);
}

static int is_hidden_name(const char *name) { return name[0] == '_' || name[0] == '.'; }

static const char *base_name(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--; /* "dir/" names "dir" */
  const char *p = path + n;
  while (p > path && p[-1] != '/') p--;
  return p;
}

/* Adds a regular file, checking that it can be opened for reading: a
 * textFile over an unreadable file should fail when the job is planned, with
 * the reason, not later inside a task. */
static int add_file(file_vec *fv, const char *path, int64_t size, eng_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return io_err(err, "cannot read", path, errno);
  close(fd);
  char *p = eng_strdup(path);
  if (!p) return oom_err(err, path);
  return file_vec_push(fv, p, size, err);
}

/* Adds the regular files of a directory whose names are not hidden. */
static int add_dir(file_vec *fv, const char *dir, eng_err *err) {
  DIR *d = opendir(dir);
  if (!d) return io_err(err, "cannot read", dir, errno);
  size_t dl = strlen(dir);
  int slash = dl > 0 && dir[dl - 1] == '/';
  int rc = 0;
  struct dirent *de;
  for (;;) {
    errno = 0;
    de = readdir(d);
    if (!de) {
      if (errno) rc = io_err(err, "cannot read", dir, errno);
      break;
    }
    if (is_hidden_name(de->d_name)) continue; /* also "." and ".." */
    size_t nl = strlen(de->d_name);
    char *p = eng_malloc(dl + 1 + nl + 1);
    if (!p) {
      rc = oom_err(err, dir);
      break;
    }
    memcpy(p, dir, dl);
    size_t o = dl;
    if (!slash) p[o++] = '/';
    memcpy(p + o, de->d_name, nl + 1);
    struct stat st;
    if (stat(p, &st) != 0) {
      rc = io_err(err, "cannot read", p, errno);
      eng_free(p);
      break;
    }
    if (S_ISREG(st.st_mode)) rc = add_file(fv, p, (int64_t)st.st_size, err);
    eng_free(p);
    if (rc < 0) break;
  }
  closedir(d);
  return rc;
}

/* Adds what one existing path names: a file, or a directory's files. */
static int add_path(file_vec *fv, const char *path, const struct stat *st, eng_err *err) {
  if (S_ISDIR(st->st_mode)) return add_dir(fv, path, err);
  if (S_ISREG(st->st_mode)) return add_file(fv, path, (int64_t)st->st_size, err);
  return eng_err_set(err, ENG_EIO, "IOError: not a regular file or directory: %s", path);
}

static int not_found(eng_err *err, const char *elem) {
  return eng_err_set(err, ENG_EIO, "IOError: Input path does not exist: %s", elem);
}

/* Strips a "file:" URI scheme: "file:///a" and "file:/a" name "/a". */
static const char *strip_file_scheme(const char *p) {
  if (strncmp(p, "file://", 7) == 0 && p[7] == '/') return p + 7;
  if (strncmp(p, "file:", 5) == 0 && p[5] == '/' && p[6] != '/') return p + 5;
  return p;
}

/* Expands one comma-separated element into files, sorted by path. */
static int expand_element(file_vec *out, const char *elem, eng_err *err) {
  const char *path = strip_file_scheme(elem);
  file_vec fv = {0};
  int rc = 0;
  if (!*path) return eng_err_set(err, ENG_EIO, "IOError: Input path does not exist: \"%s\"", elem);
  if (!strpbrk(path, "*?[{\\")) {
    struct stat st;
    if (stat(path, &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return not_found(err, elem);
      return io_err(err, "cannot read", path, errno);
    }
    rc = add_path(&fv, path, &st, err);
  } else {
    glob_t g;
    memset(&g, 0, sizeof g);
    int gr = glob(path, GLOB_BRACE, NULL, &g);
    if (gr == GLOB_NOSPACE) {
      globfree(&g);
      return oom_err(err, elem);
    }
    if (gr != 0 && gr != GLOB_NOMATCH) {
      globfree(&g);
      return eng_err_set(err, ENG_EIO, "IOError: cannot read the directories of %s", elem);
    }
    size_t kept = 0;
    for (size_t i = 0; gr == 0 && i < g.gl_pathc && rc == 0; i++) {
      const char *m = g.gl_pathv[i];
      if (is_hidden_name(base_name(m))) continue;
      struct stat st;
      if (stat(m, &st) != 0) {
        rc = io_err(err, "cannot read", m, errno);
        break;
      }
      kept++;
      rc = add_path(&fv, m, &st, err);
    }
    globfree(&g);
    if (rc == 0 && kept == 0) rc = not_found(err, elem);
  }
  if (rc < 0) {
    file_vec_free(&fv);
    return rc;
  }
  if (fv.n > 1) qsort(fv.v, fv.n, sizeof *fv.v, cmp_file_ent);
  for (size_t i = 0; i < fv.n; i++) {
    rc = file_vec_push(out, fv.v[i].path, fv.v[i].size, err);
    fv.v[i].path = NULL;
    if (rc < 0) break;
  }
  file_vec_free(&fv);
  return rc;
}

typedef struct split_vec {
  eng_text_split *v;
  int n, cap;
} split_vec;

/* Appends a split of file f; the split gets its own copy of the path. */
static int split_push(split_vec *sv, const file_ent *f, eng_codec codec, int64_t start,
                      int64_t len, eng_err *err) {
  if (sv->n == sv->cap) {
    if (sv->cap > (1 << 29)) return eng_err_set(err, ENG_EIO, "IOError: too many input splits");
    int nc = sv->cap ? sv->cap * 2 : 16;
    eng_text_split *nv = eng_realloc(sv->v, (size_t)nc * sizeof *nv);
    if (!nv) return oom_err(err, "the input splits");
    sv->v = nv;
    sv->cap = nc;
  }
  char *p = eng_strdup(f->path);
  if (!p) return oom_err(err, f->path);
  eng_text_split *s = &sv->v[sv->n++];
  s->path = p;
  s->start = start;
  s->len = len;
  s->file_size = f->size;
  s->codec = codec;
  return 0;
}

/* Splits the elements of spec at commas outside {...}, like Hadoop's
 * FileInputFormat.getPathStrings, and expands each in turn. */
static int expand_spec(file_vec *files, const char *spec, eng_err *err) {
  size_t n = strlen(spec), from = 0;
  int curly = 0;
  for (size_t i = 0; i <= n; i++) {
    char c = spec[i];
    if (c == '{') {
      curly++;
    } else if (c == '}') {
      if (curly > 0) curly--;
    } else if ((c == ',' && curly == 0) || c == 0) {
      char *elem = eng_strndup(spec + from, i - from);
      if (!elem) return oom_err(err, "the input path list");
      int rc = expand_element(files, elem, err);
      eng_free(elem);
      if (rc < 0) return rc;
      from = i + 1;
    }
  }
  return 0;
}

int eng_text_splits(const char *spec, int min_partitions, eng_text_split **out, int *out_n,
                    eng_err *err) {
  *out = NULL;
  *out_n = 0;
  if (!spec) return eng_err_set(err, ENG_EIO, "IOError: Input path does not exist: (null)");
  file_vec files = {0};
  int rc = expand_spec(&files, spec, err);
  if (rc < 0) {
    file_vec_free(&files);
    return rc;
  }
  /* Hadoop FileInputFormat.getSplits, with the local file system's 32 MiB
   * block size. The total counts plain (splittable) files only, as ember
   * specifies; Hadoop's own total includes compressed files too. */
  int64_t total = 0;
  for (size_t i = 0; i < files.n; i++)
    if (codec_of_path(files.v[i].path) == ENG_CODEC_NONE) total += files.v[i].size;
  int64_t goal = total / (min_partitions > 1 ? min_partitions : 1);
  int64_t split_size = goal < LOCAL_BLOCK_SIZE ? goal : LOCAL_BLOCK_SIZE;
  if (split_size < 1) split_size = 1;

  split_vec sv = {0};
  for (size_t i = 0; i < files.n && rc == 0; i++) {
    const file_ent *f = &files.v[i];
    eng_codec codec = codec_of_path(f->path);
    if (f->size == 0 || codec != ENG_CODEC_NONE) {
      rc = split_push(&sv, f, codec, 0, f->size, err);
      continue;
    }
    int64_t left = f->size;
    while (rc == 0 && (double)left / (double)split_size > SPLIT_SLOP) {
      rc = split_push(&sv, f, codec, f->size - left, split_size, err);
      left -= split_size;
    }
    if (rc == 0 && left != 0) rc = split_push(&sv, f, codec, f->size - left, left, err);
  }
  file_vec_free(&files);
  if (rc < 0) {
    eng_text_splits_free(sv.v, sv.n);
    return rc;
  }
  *out = sv.v;
  *out_n = sv.n;
  return 0;
}

void eng_text_splits_free(eng_text_split *splits, int n) {
  if (!splits) return;
  for (int i = 0; i < n; i++) eng_free(splits[i].path);
  eng_free(splits);
}

/* ---- line reader --------------------------------------------------------- */

struct eng_line_reader {
  int fd;
  char *path;
  eng_codec codec;
  char *buf;
  size_t cap, pos, lim;
  size_t nl_at, cr_at;
  int64_t base; /* file offset of buf[0] (plain files) */
  int64_t end;  /* lines starting after this offset belong to the next split */
  int eof;      /* buf[lim] is the end of the data */
  int first;    /* the next line is the first of the file (BOM check) */
  int done;
  int failed;
  eng_err saved; /* the error that made the reader fail */
  /* compressed input */
  unsigned char *in;
  size_t in_cap, in_pos, in_len;
  int in_eof;
  int64_t in_total;
  z_stream z;
  int z_ready;
  int member_done;
  ZSTD_DStream *zd;
  int frame_done;
};

static int rd_fail(eng_line_reader *r, eng_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the reader's error (so later calls repeat it) and reports it. */
static int rd_fail(eng_line_reader *r, eng_err *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(&r->saved, code, fmt, ap);
  va_end(ap);
  r->failed = code;
  eng_err_copy(err, &r->saved);
  return code;
}

static int rd_fail_errno(eng_line_reader *r, eng_err *err, int e) {
  char eb[256];
  return rd_fail(r, err, ENG_EIO, "IOError: cannot read %s: %s", r->path, errtext(e, eb, sizeof eb));
}

static int rd_oom(eng_line_reader *r, eng_err *err) {
  return rd_fail(r, err, ENG_ENOMEM, "MemoryError: out of memory reading %s", r->path);
}

static ssize_t read_full(int fd, void *p, size_t n) {
  for (;;) {
    ssize_t k = read(fd, p, n);
    if (k >= 0 || errno != EINTR) return k;
  }
}

/* Reads compressed bytes into the (empty) input buffer. */
static int read_in(eng_line_reader *r, eng_err *err) {
  ssize_t k = read_full(r->fd, r->in, r->in_cap);
  if (k < 0) return rd_fail_errno(r, err, errno);
  if (k == 0) r->in_eof = 1;
  r->in_pos = 0;
  r->in_len = (size_t)k;
  r->in_total += k;
  return 0;
}

static int fill_plain(eng_line_reader *r, eng_err *err) {
  size_t want = r->cap - r->lim;
  int64_t off = r->base + (int64_t)r->lim;
  /* Read whole buffers up to the split end and a bit past it, then small
   * pieces: only the line straddling the end is still needed. */
  int64_t tail_from = r->end + 1 + (int64_t)TAIL_READ;
  if (off < tail_from) {
    if ((int64_t)want > tail_from - off) want = (size_t)(tail_from - off);
  } else if (want > TAIL_READ) {
    want = TAIL_READ;
  }
  ssize_t k = read_full(r->fd, r->buf + r->lim, want);
  if (k < 0) return rd_fail_errno(r, err, errno);
  if (k == 0) r->eof = 1;
  r->lim += (size_t)k;
  return 0;
}

static int gzip_corrupt(eng_line_reader *r, eng_err *err, const char *why) {
  return rd_fail(r, err, ENG_EIO, "IOError: corrupt gzip data in %s: %s", r->path,
                 why ? why : "invalid data");
}

/* Inflates into the free space of the buffer until it is full or the data
 * ends. Concatenated members are read one after another; zero bytes after a
 * member (padding some tools add) are skipped. */
static int fill_gzip(eng_line_reader *r, eng_err *err) {
  while (r->lim < r->cap) {
    if (r->z.avail_in == 0 && !r->in_eof) {
      int rc = read_in(r, err);
      if (rc < 0) return rc;
      r->z.next_in = r->in;
      r->z.avail_in = (uInt)r->in_len;
    }
    if (r->member_done) {
      while (r->z.avail_in > 0 && *r->z.next_in == 0) {
        r->z.next_in++;
        r->z.avail_in--;
      }
      if (r->z.avail_in == 0) {
        if (r->in_eof) {
          r->eof = 1;
          return 0;
        }
        continue;
      }
      if (inflateReset(&r->z) != Z_OK) return gzip_corrupt(r, err, r->z.msg);
      r->member_done = 0;
    }
    if (r->z.avail_in == 0 && r->in_eof && r->in_total == 0) {
      r->eof = 1; /* an empty file holds no lines */
      return 0;
    }
    size_t room = r->cap - r->lim;
    if (room > UINT_MAX) room = UINT_MAX;
    r->z.next_out = (Bytef *)r->buf + r->lim;
    r->z.avail_out = (uInt)room;
    int zr = inflate(&r->z, Z_NO_FLUSH);
    r->lim += room - r->z.avail_out;
    if (zr == Z_STREAM_END) {
      r->member_done = 1;
    } else if (zr == Z_BUF_ERROR) {
      /* No progress possible: it needs input that will never come. */
      if (r->in_eof && r->z.avail_in == 0)
        return rd_fail(r, err, ENG_EIO, "IOError: corrupt gzip data in %s: unexpected end of file",
                       r->path);
    } else if (zr == Z_MEM_ERROR) {
      return rd_oom(r, err);
    } else if (zr != Z_OK) {
      return gzip_corrupt(r, err, r->z.msg);
    }
  }
  return 0;
}

/* Decompresses into the free space of the buffer until it is full or the
 * data ends; zstd continues across frames by itself. */
static int fill_zstd(eng_line_reader *r, eng_err *err) {
  while (r->lim < r->cap) {
    if (r->in_pos == r->in_len && !r->in_eof) {
      int rc = read_in(r, err);
      if (rc < 0) return rc;
    }
    int no_input = r->in_pos == r->in_len && r->in_eof;
    if (no_input && (r->frame_done || r->in_total == 0)) {
      r->eof = 1;
      return 0;
    }
    ZSTD_inBuffer ib = {r->in, r->in_len, r->in_pos};
    ZSTD_outBuffer ob = {r->buf + r->lim, r->cap - r->lim, 0};
    size_t ret = ZSTD_decompressStream(r->zd, &ob, &ib);
    r->in_pos = ib.pos;
    r->lim += ob.pos;
    if (ZSTD_isError(ret))
      return rd_fail(r, err, ENG_EIO, "IOError: corrupt zstd data in %s: %s", r->path,
                     ZSTD_getErrorName(ret));
    r->frame_done = ret == 0;
    if (no_input && ob.pos == 0 && !r->frame_done)
      return rd_fail(r, err, ENG_EIO, "IOError: corrupt zstd data in %s: unexpected end of file",
                     r->path);
  }
  return 0;
}

/* Makes room and appends more data: moves the partial line to the front of
 * the buffer, grows the buffer when the partial line fills it, then reads. */
static int refill(eng_line_reader *r, eng_err *err) {
  if (r->pos > 0) {
    size_t keep = r->lim - r->pos;
    if (keep) memmove(r->buf, r->buf + r->pos, keep);
    r->base += (int64_t)r->pos;
    r->nl_at = r->nl_at >= r->pos ? r->nl_at - r->pos : 0;
    r->cr_at = r->cr_at >= r->pos ? r->cr_at - r->pos : 0;
    r->lim = keep;
    r->pos = 0;
  }
  if (r->lim == r->cap) {
    if (r->cap > SIZE_MAX / 2) return rd_oom(r, err);
    char *nb = eng_realloc(r->buf, r->cap * 2);
    if (!nb) return rd_oom(r, err);
    r->buf = nb;
    r->cap *= 2;
  }
  switch (r->codec) {
  case ENG_CODEC_GZIP: return fill_gzip(r, err);
  case ENG_CODEC_ZSTD: return fill_zstd(r, err);
  default: return fill_plain(r, err);
  }
}

/* The first '\n' at or after pos, or lim. */
static size_t find_nl(eng_line_reader *r) {
  if (r->nl_at < r->pos) r->nl_at = r->pos;
  if (r->nl_at < r->lim && r->buf[r->nl_at] != '\n') {
    const char *p = memchr(r->buf + r->nl_at, '\n', r->lim - r->nl_at);
    r->nl_at = p ? (size_t)(p - r->buf) : r->lim;
  }
  return r->nl_at;
}

/* The first '\r' at or after pos, or lim. Text without '\r' costs one
 * search per buffer fill, not one per line. */
static size_t find_cr(eng_line_reader *r) {
  if (r->cr_at < r->pos) r->cr_at = r->pos;
  if (r->cr_at < r->lim && r->buf[r->cr_at] != '\r') {
    const char *p = memchr(r->buf + r->cr_at, '\r', r->lim - r->cr_at);
    r->cr_at = p ? (size_t)(p - r->buf) : r->lim;
  }
  return r->cr_at;
}

/* Reads the next line of the data: 1 with the line and the bytes consumed
 * (line plus terminator), 0 at the end of the data, or an error. */
static int read_line(eng_line_reader *r, const char **line, size_t *len, size_t *used,
                     eng_err *err) {
  size_t t, tlen;
  for (;;) {
    size_t nl = find_nl(r);
    size_t cr = find_cr(r);
    if (cr < nl) {
      /* "\r\n" or a lone "\r"; telling them apart needs the next byte. */
      if (cr + 1 < r->lim) {
        t = cr;
        tlen = r->buf[cr + 1] == '\n' ? 2 : 1;
        break;
      }
      if (r->eof) {
        t = cr;
        tlen = 1;
        break;
      }
    } else if (nl < r->lim) {
      t = nl;
      tlen = 1;
      break;
    } else if (r->eof) {
      if (r->pos == r->lim) return 0;
      t = r->lim;
      tlen = 0;
      break;
    }
    int rc = refill(r, err);
    if (rc < 0) return rc;
  }
  *line = r->buf + r->pos;
  *len = t - r->pos;
  *used = t + tlen - r->pos;
  r->pos = t + tlen;
  return 1;
}

/* A buffer no bigger than the data needs, so that small files (many part
 * files of a job) do not cost a full buffer each; it grows if needed. */
static size_t small_buffer(size_t full, const eng_text_split *split) {
  int64_t left = split->file_size - split->start + 1;
  if (split->codec != ENG_CODEC_NONE && left < INT64_MAX / 4) left *= 4; /* expands */
  if (left < (int64_t)SMALL_BUF) left = (int64_t)SMALL_BUF;
  return (uint64_t)left < full ? (size_t)left : full;
}

eng_line_reader *eng_line_reader_open(const eng_text_split *split, eng_err *err) {
  if (!split || !split->path || split->start < 0 || split->len < 0) {
    eng_err_set(err, ENG_EIO, "IOError: invalid input split");
    return NULL;
  }
  if (split->codec != ENG_CODEC_NONE && split->start != 0) {
    eng_err_set(err, ENG_EIO, "IOError: cannot start reading compressed file %s at offset %lld",
                split->path, (long long)split->start);
    return NULL;
  }
  eng_line_reader *r = eng_calloc(1, sizeof *r);
  if (!r) {
    oom_err(err, split->path);
    return NULL;
  }
  r->fd = -1;
  r->codec = split->codec;
  r->path = eng_strdup(split->path);
  r->cap = g_buffer_size ? g_buffer_size : small_buffer(LINE_BUF_DEFAULT, split);
  r->buf = r->path ? eng_malloc(r->cap) : NULL;
  if (!r->buf) {
    oom_err(err, split->path);
    eng_line_reader_close(r);
    return NULL;
  }
  r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) {
    io_err(err, "cannot read", r->path, errno);
    eng_line_reader_close(r);
    return NULL;
  }
  r->first = split->start == 0;
  if (r->codec == ENG_CODEC_NONE) {
    r->base = split->start;
    r->end = split->start + split->len;
    if (split->start > 0 && lseek(r->fd, split->start, SEEK_SET) < 0) {
      io_err(err, "cannot read", r->path, errno);
      eng_line_reader_close(r);
      return NULL;
    }
  } else {
    r->end = INT64_MAX;
    r->in_cap = g_buffer_size ? g_buffer_size : small_buffer(IN_BUF_DEFAULT, split);
    r->in = eng_malloc(r->in_cap);
    if (!r->in) {
      oom_err(err, split->path);
      eng_line_reader_close(r);
      return NULL;
    }
    if (r->codec == ENG_CODEC_GZIP) {
      r->z.zalloc = z_alloc;
      r->z.zfree = z_free;
      int zr = inflateInit2(&r->z, 15 + 32); /* gzip or zlib, detected */
      if (zr != Z_OK) {
        if (zr == Z_MEM_ERROR) oom_err(err, split->path);
        else eng_err_set(err, ENG_EIO, "IOError: cannot start inflating %s", split->path);
        eng_line_reader_close(r);
        return NULL;
      }
      r->z_ready = 1;
    } else {
      r->zd = ZSTD_createDStream();
      if (!r->zd || ZSTD_isError(ZSTD_initDStream(r->zd))) {
        oom_err(err, split->path);
        eng_line_reader_close(r);
        return NULL;
      }
    }
  }
  (void)posix_fadvise(r->fd, split->start, 0, POSIX_FADV_SEQUENTIAL);
  if (split->start != 0) {
    /* Hadoop: a split that does not start the file skips its first
     * (partial or whole) line; the previous split reads that one. */
    const char *l;
    size_t n, used;
    int rc = read_line(r, &l, &n, &used, err);
    if (rc < 0) {
      eng_line_reader_close(r);
      return NULL;
    }
  }
  return r;
}

int eng_line_reader_next(eng_line_reader *r, const char **out_line, long *out_len, eng_err *err) {
  if (r->failed) {
    eng_err_copy(err, &r->saved);
    return r->failed;
  }
  if (r->done) return 0;
  /* The line starting at this offset, if any, belongs to this split only if
   * the offset is <= end (the previous split's last line ends at or after
   * this split's start, which is why the first line was skipped). */
  if (r->base + (int64_t)r->pos > r->end) {
    r->done = 1;
    return 0;
  }
  const char *l;
  size_t n, used;
  int rc = read_line(r, &l, &n, &used, err);
  if (rc <= 0) {
    if (rc == 0) r->done = 1;
    return rc;
  }
  if (r->first) {
    r->first = 0;
    if (n >= 3 && (unsigned char)l[0] == 0xEF && (unsigned char)l[1] == 0xBB &&
        (unsigned char)l[2] == 0xBF) {
      l += 3;
      n -= 3;
      /* Hadoop returns no record when the BOM is all the data there is. */
      if (used == 3) {
        r->done = 1;
        return 0;
      }
    }
  }
  *out_line = l;
  *out_len = (long)n;
  return 1;
}

void eng_line_reader_close(eng_line_reader *r) {
  if (!r) return;
  if (r->fd >= 0) close(r->fd);
  if (r->z_ready) inflateEnd(&r->z);
  if (r->zd) ZSTD_freeDStream(r->zd);
  eng_free(r->in);
  eng_free(r->buf);
  eng_free(r->path);
  eng_free(r);
}

/* ---- writer ------------------------------------------------------------ */

struct eng_text_writer {
  int fd;
  char *path;
  eng_codec codec;
  char *stage; /* bytes written by the caller, not yet encoded */
  size_t slen, scap;
  char *out; /* encoded bytes, compressed codecs only */
  z_stream z;
  int z_ready;
  ZSTD_CCtx *zc;
  int failed;
  eng_err saved;
};

static int wr_fail(eng_text_writer *w, eng_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int wr_fail(eng_text_writer *w, eng_err *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(&w->saved, code, fmt, ap);
  va_end(ap);
  w->failed = code;
  eng_err_copy(err, &w->saved);
  return code;
}

static int write_all(eng_text_writer *w, const char *p, size_t n, eng_err *err) {
  while (n > 0) {
    ssize_t k = write(w->fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      char eb[256];
      return wr_fail(w, err, ENG_EIO, "IOError: cannot write %s: %s", w->path,
                     errtext(errno, eb, sizeof eb));
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Encodes n bytes (or, with finish, the end of the stream) and writes the
 * result to the file. */
static int encode(eng_text_writer *w, const char *p, size_t n, int finish, eng_err *err) {
  if (w->codec == ENG_CODEC_NONE) return write_all(w, p, n, err);
  if (w->codec == ENG_CODEC_GZIP) {
    w->z.next_in = (Bytef *)p;
    for (;;) {
      uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;
      w->z.avail_in = chunk;
      w->z.next_out = (Bytef *)w->out;
      w->z.avail_out = (uInt)OUT_BUF_SIZE;
      int last = finish && chunk == n;
      int zr = deflate(&w->z, last ? Z_FINISH : Z_NO_FLUSH);
      if (zr == Z_STREAM_ERROR)
        return wr_fail(w, err, ENG_EIO, "IOError: cannot compress %s", w->path);
      n -= chunk - w->z.avail_in;
      int rc = write_all(w, w->out, OUT_BUF_SIZE - w->z.avail_out, err);
      if (rc < 0) return rc;
      if (last ? zr == Z_STREAM_END : (n == 0 && w->z.avail_out != 0)) return 0;
    }
  }
  ZSTD_inBuffer ib = {p, n, 0};
  for (;;) {
    ZSTD_outBuffer ob = {w->out, OUT_BUF_SIZE, 0};
    size_t ret = ZSTD_compressStream2(w->zc, &ob, &ib, finish ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(ret))
      return wr_fail(w, err, ENG_EIO, "IOError: cannot compress %s: %s", w->path,
                     ZSTD_getErrorName(ret));
    int rc = write_all(w, w->out, ob.pos, err);
    if (rc < 0) return rc;
    if (finish ? ret == 0 : ib.pos == ib.size) return 0;
  }
}

eng_text_writer *eng_text_writer_open(const char *path, eng_codec codec, eng_err *err) {
  if (!path || (codec != ENG_CODEC_NONE && codec != ENG_CODEC_GZIP && codec != ENG_CODEC_ZSTD)) {
    eng_err_set(err, ENG_EIO, "IOError: invalid output file or codec");
    return NULL;
  }
  eng_text_writer *w = eng_calloc(1, sizeof *w);
  if (!w) {
    oom_err(err, path);
    return NULL;
  }
  w->fd = -1;
  w->codec = codec;
  w->path = eng_strdup(path);
  w->scap = codec == ENG_CODEC_NONE ? PLAIN_STAGE_SIZE : OUT_BUF_SIZE;
  w->stage = w->path ? eng_malloc(w->scap) : NULL;
  if (w->stage && codec != ENG_CODEC_NONE) w->out = eng_malloc(OUT_BUF_SIZE);
  if (!w->stage || (codec != ENG_CODEC_NONE && !w->out)) {
    oom_err(err, path);
    eng_text_writer_close(w, NULL);
    return NULL;
  }
  if (codec == ENG_CODEC_GZIP) {
    w->z.zalloc = z_alloc;
    w->z.zfree = z_free;
    if (deflateInit2(&w->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      oom_err(err, path);
      eng_text_writer_close(w, NULL);
      return NULL;
    }
    w->z_ready = 1;
  } else if (codec == ENG_CODEC_ZSTD) {
    w->zc = ZSTD_createCCtx();
    if (!w->zc || ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, 3)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1))) {
      oom_err(err, path);
      eng_text_writer_close(w, NULL);
      return NULL;
    }
  }
  w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (w->fd < 0) {
    io_err(err, "cannot create", path, errno);
    eng_text_writer_close(w, NULL);
    return NULL;
  }
  return w;
}

int eng_text_writer_write(eng_text_writer *w, const char *p, size_t n, eng_err *err) {
  if (w->failed) {
    eng_err_copy(err, &w->saved);
    return w->failed;
  }
  if (n == 0) return 0;
  if (n <= w->scap - w->slen) {
    memcpy(w->stage + w->slen, p, n);
    w->slen += n;
    return 0;
  }
  if (w->slen) {
    int rc = encode(w, w->stage, w->slen, 0, err);
    if (rc < 0) return rc;
    w->slen = 0;
  }
  if (n >= w->scap) return encode(w, p, n, 0, err);
  memcpy(w->stage, p, n);
  w->slen = n;
  return 0;
}

int eng_text_writer_close(eng_text_writer *w, eng_err *err) {
  if (!w) return 0;
  int rc = 0;
  if (w->failed) {
    eng_err_copy(err, &w->saved);
    rc = w->failed;
  } else if (w->fd >= 0) {
    if (w->slen || w->codec != ENG_CODEC_NONE) rc = encode(w, w->stage, w->slen, 1, err);
  }
  if (w->fd >= 0 && close(w->fd) != 0 && rc == 0) rc = io_err(err, "cannot write", w->path, errno);
  if (w->z_ready) deflateEnd(&w->z);
  if (w->zc) ZSTD_freeCCtx(w->zc);
  eng_free(w->out);
  eng_free(w->stage);
  eng_free(w->path);
  eng_free(w);
  return rc;
}
