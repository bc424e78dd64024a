/* col.c -- the batch format: decoding views, reading rows, adaptive builders.
 *
 * Invariants: a parsed batch's views point only inside its buffer, and every
 * offset has been checked against the buffer's bounds, so reading rows never
 * goes out of bounds even for bytes that came from the network. A builder's
 * type only ever widens (NULL -> a concrete type -> ANY), so values appended
 * earlier are never lost.
 */
#include "col.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "err.h"
#include "mem.h"
#include "val.h"

#define MAGIC 0x31424d45u /* "EMB1" */
#define HDR_LEN 32
#define F_ZSTD 1u

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ------------------------------------------------------------------------ */
/* Reference counting                                                       */
/* ------------------------------------------------------------------------ */

void eng_batch_ref(eng_batch *b) {
  if (b) atomic_fetch_add_explicit((_Atomic int *)&b->refs, 1, memory_order_relaxed);
}

void eng_batch_unref(eng_batch *b) {
  if (!b) return;
  if (atomic_fetch_sub_explicit((_Atomic int *)&b->refs, 1, memory_order_acq_rel) != 1) return;
  if (b->release) b->release(b->release_ctx, b->buf);
  eng_free(b->cols);
  eng_free(b);
}

void eng_batch_release_free(void *ctx, const char *buf) {
  (void)ctx;
  eng_free((void *)buf);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct parser {
  eng_rd r;
  const char *base;
  eng_col *cols;
  int ncols, cap;
  eng_err *err;
} parser;

static int bad(parser *p, const char *what) {
  return eng_err_set(p->err, ENG_EPROTO, "ProtocolError: malformed batch (%s)", what);
}

/* Reads one length-prefixed, 8-aligned buffer. */
static const char *read_buffer(parser *p, size_t expect, size_t *out_len) {
  int64_t len = eng_rd_i64(&p->r);
  if (p->r.bad || len < 0 || (expect != (size_t)-1 && (size_t)len != expect)) {
    p->r.bad = 1;
    return NULL;
  }
  const char *d = eng_rd_bytes(&p->r, (size_t)len);
  eng_rd_align(&p->r, p->base, 8);
  if (out_len) *out_len = (size_t)len;
  return d;
}

static int check_offsets(const int64_t *off, int64_t n, int64_t limit) {
  if (off[0] != 0) return 0;
  for (int64_t i = 0; i < n; i++)
    if (off[i + 1] < off[i]) return 0;
  return off[n] <= limit;
}

/* Every non-None STR row must end with its NUL, so that its bytes read as a
 * C string that stays inside the batch (offsets are checked already). */
static int check_nuls(const eng_col *c) {
  for (int64_t i = 0; i < c->n; i++)
    if (eng_col_is_valid(c, i) && (c->off[i + 1] == c->off[i] || c->bytes[c->off[i + 1] - 1]))
      return 0;
  return 1;
}

/* Parses the column at the reader into p->cols[idx] and its subtree. The
 * column array was sized by a first pass (count_cols), so it never moves. */
static int parse_col(parser *p, int idx, int depth) {
  if (depth > 64) return bad(p, "nesting too deep");
  if (idx >= p->cap) return bad(p, "column count");
  eng_col *c = &p->cols[idx];
  memset(c, 0, sizeof *c);
  c->type = eng_rd_u8(&p->r);
  int has_valid = eng_rd_u8(&p->r);
  uint16_t nch = 0;
  const char *nchp = eng_rd_bytes(&p->r, 2);
  if (nchp) memcpy(&nch, nchp, 2);
  eng_rd_u32(&p->r);
  c->n = eng_rd_i64(&p->r);
  if (p->r.bad || c->n < 0 || c->type > ENG_T_ANY) return bad(p, "column header");
  size_t n = (size_t)c->n;
  if (has_valid) c->valid = (const uint8_t *)read_buffer(p, (n + 7) / 8, NULL);
  switch (c->type) {
    case ENG_T_NULL:
      break;
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
      c->data = read_buffer(p, n * 8, NULL);
      break;
    case ENG_T_BOOL:
      c->data = read_buffer(p, n, NULL);
      break;
    case ENG_T_STR:
    case ENG_T_ANY: {
      size_t blen = 0;
      c->off = (const int64_t *)read_buffer(p, (n + 1) * 8, NULL);
      c->bytes = read_buffer(p, (size_t)-1, &blen);
      if (p->r.bad) break;
      if (!check_offsets(c->off, c->n, (int64_t)blen)) return bad(p, "string offsets");
      if (c->type == ENG_T_STR && !check_nuls(c)) return bad(p, "string without NUL");
      break;
    }
    case ENG_T_LIST: {
      c->off = (const int64_t *)read_buffer(p, (n + 1) * 8, NULL);
      if (p->r.bad) break;
      c->nchildren = 1;
      c->child = &p->cols[p->ncols++];
      ENG_TRY(parse_col(p, (int)(c->child - p->cols), depth + 1));
      if (!check_offsets(c->off, c->n, c->child->n)) return bad(p, "list offsets");
      break;
    }
    case ENG_T_TUPLE: {
      c->nchildren = nch;
      c->child = &p->cols[p->ncols];
      p->ncols += nch;
      if (p->ncols > p->cap) return bad(p, "column count");
      for (int i = 0; i < nch; i++) {
        ENG_TRY(parse_col(p, (int)(c->child - p->cols) + i, depth + 1));
        if (c->child[i].n != c->n) return bad(p, "tuple field length");
      }
      break;
    }
  }
  if (p->r.bad) return bad(p, "truncated");
  return 0;
}

/* First pass: counts columns (bounded by the buffer size) without checks
 * beyond what is needed to walk; parse_col validates everything. */
static int count_cols(eng_rd *r, const char *base, int depth) {
  if (depth > 64 || r->bad) return -1;
  int type = eng_rd_u8(r);
  int has_valid = eng_rd_u8(r);
  uint16_t nch = 0;
  const char *nchp = eng_rd_bytes(r, 2);
  if (nchp) memcpy(&nch, nchp, 2);
  eng_rd_u32(r);
  eng_rd_i64(r);
  int nbuf = 0;
  switch (type) {
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
    case ENG_T_BOOL: nbuf = 1; break;
    case ENG_T_STR:
    case ENG_T_ANY: nbuf = 2; break;
    case ENG_T_LIST: nbuf = 1; break;
    default: break;
  }
  nbuf += has_valid ? 1 : 0;
  for (int i = 0; i < nbuf; i++) {
    int64_t len = eng_rd_i64(r);
    if (len < 0 || r->bad) return -1;
    eng_rd_bytes(r, (size_t)len);
    eng_rd_align(r, base, 8);
  }
  if (r->bad) return -1;
  int total = 1;
  if (type == ENG_T_LIST) nch = 1;
  if (type == ENG_T_LIST || type == ENG_T_TUPLE) {
    for (int i = 0; i < nch; i++) {
      int k = count_cols(r, base, depth + 1);
      if (k < 0) return -1;
      total += k;
    }
  }
  return total;
}

size_t eng_batch_peek_len(const char *buf, size_t len) {
  if (len < HDR_LEN) return 0;
  uint32_t magic;
  int64_t body;
  memcpy(&magic, buf, 4);
  memcpy(&body, buf + 16, 8);
  if (magic != MAGIC || body < 0 || (uint64_t)body > len - HDR_LEN) return 0;
  return HDR_LEN + pad8((size_t)body);
}

static eng_batch *parse_raw(const char *buf, size_t len, void (*release)(void *, const char *),
                            void *ctx, eng_err *err) {
  parser p = {.base = buf, .err = err};
  eng_rd_init(&p.r, buf + HDR_LEN, len - HDR_LEN);
  int nc = count_cols(&p.r, buf, 0);
  if (nc <= 0) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed batch (structure)");
    return NULL;
  }
  eng_batch *b = eng_calloc(1, sizeof *b);
  eng_col *cols = eng_calloc((size_t)nc, sizeof *cols);
  if (!b || !cols) {
    eng_free(b);
    eng_free(cols);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: batch view");
    return NULL;
  }
  p.cols = cols;
  p.cap = nc;
  p.ncols = 1;
  eng_rd_init(&p.r, buf + HDR_LEN, len - HDR_LEN);
  int rc = parse_col(&p, 0, 0);
  /* The body is exactly the columns: bytes left over mean a wrong count. */
  if (rc == 0 && eng_rd_left(&p.r)) rc = bad(&p, "trailing bytes");
  if (rc < 0) {
    eng_free(b);
    eng_free(cols);
    return NULL;
  }
  memcpy(&b->n, buf + 8, 8);
  if (b->n != cols[0].n) {
    eng_free(b);
    eng_free(cols);
    eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed batch (row count)");
    return NULL;
  }
  b->root = cols;
  b->cols = cols;
  b->buf = buf;
  b->len = len;
  b->refs = 1;
  b->release = release;
  b->release_ctx = ctx;
  return b;
}

eng_batch *eng_batch_parse(const char *buf, size_t len, void (*release)(void *, const char *),
                           void *ctx, size_t *out_used, eng_err *err) {
  size_t total = eng_batch_peek_len(buf, len);
  if (!total || total > len) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed batch (header)");
    if (release) release(ctx, buf);
    return NULL;
  }
  if (out_used) *out_used = total;
  uint32_t flags;
  memcpy(&flags, buf + 4, 4);
  if (flags & F_ZSTD) {
    int64_t raw_len, body_len;
    memcpy(&body_len, buf + 16, 8);
    memcpy(&raw_len, buf + 24, 8);
    /* Trust raw_len only when the zstd frame declares the same size, so a
     * corrupted header cannot make us allocate terabytes. */
    unsigned long long declared = ZSTD_getFrameContentSize(buf + HDR_LEN, (size_t)body_len);
    char *raw = raw_len >= 0 && raw_len < ((int64_t)1 << 40) && declared == (uint64_t)raw_len
                    ? eng_malloc(HDR_LEN + (size_t)raw_len)
                    : NULL;
    if (!raw) {
      if (release) release(ctx, buf);
      eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed batch (compressed size)");
      return NULL;
    }
    size_t got = ZSTD_decompress(raw + HDR_LEN, (size_t)raw_len, buf + HDR_LEN, (size_t)body_len);
    memcpy(raw, buf, HDR_LEN);
    if (release) release(ctx, buf);
    if (ZSTD_isError(got) || got != (size_t)raw_len) {
      eng_free(raw);
      eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed batch (zstd)");
      return NULL;
    }
    uint32_t f0 = 0;
    memcpy(raw + 4, &f0, 4);
    memcpy(raw + 16, &raw_len, 8);
    eng_batch *b = parse_raw(raw, HDR_LEN + (size_t)raw_len, eng_batch_release_free, NULL, err);
    if (!b) eng_free(raw);
    return b;
  }
  /* The views read int64 offsets in place, so bytes that are not 8-aligned
   * are copied (and released at once), like bytes we may not keep. */
  if (!release || ((uintptr_t)buf & 7)) {
    char *copy = eng_malloc(total);
    if (copy) memcpy(copy, buf, total);
    if (release) release(ctx, buf);
    if (!copy) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: batch copy");
      return NULL;
    }
    eng_batch *b = parse_raw(copy, total, eng_batch_release_free, NULL, err);
    if (!b) eng_free(copy);
    return b;
  }
  eng_batch *b = parse_raw(buf, total, release, ctx, err);
  if (!b) release(ctx, buf);
  return b;
}

int eng_batch_write(eng_buf *out, const eng_batch *b, int level) {
  if (level <= 0) return eng_buf_append(out, b->buf, b->len);
  size_t raw = b->len - HDR_LEN;
  size_t bound = ZSTD_compressBound(raw);
  ENG_TRY(eng_buf_reserve(out, HDR_LEN + bound + 8));
  char *hdr = out->data + out->len;
  size_t got = ZSTD_compress(hdr + HDR_LEN, bound, b->buf + HDR_LEN, raw, level);
  if (ZSTD_isError(got)) return eng_buf_append(out, b->buf, b->len);
  memcpy(hdr, b->buf, HDR_LEN);
  uint32_t flags = F_ZSTD;
  int64_t body = (int64_t)got, rawl = (int64_t)raw;
  memcpy(hdr + 4, &flags, 4);
  memcpy(hdr + 16, &body, 8);
  memcpy(hdr + 24, &rawl, 8);
  out->len += HDR_LEN + got;
  return eng_buf_align(out, 8);
}

/* ------------------------------------------------------------------------ */
/* Direct constructors                                                      */
/* ------------------------------------------------------------------------ */

static void put_col_header(char **w, int type, int has_valid, int nch, int64_t n) {
  char *p = *w;
  memset(p, 0, 16);
  p[0] = (char)type;
  p[1] = (char)has_valid;
  uint16_t c = (uint16_t)nch;
  memcpy(p + 2, &c, 2);
  memcpy(p + 8, &n, 8);
  *w = p + 16;
}

static void put_header(char *buf, int64_t rows, size_t body) {
  uint32_t magic = MAGIC, flags = 0;
  int64_t bl = (int64_t)body;
  memcpy(buf, &magic, 4);
  memcpy(buf + 4, &flags, 4);
  memcpy(buf + 8, &rows, 8);
  memcpy(buf + 16, &bl, 8);
  memcpy(buf + 24, &bl, 8);
}

/* A flat fixed-width batch whose data the caller fills after return; the
 * view is built now since the layout does not depend on the values. */
static eng_batch *new_fixed(int type, int64_t n, void **out_data) {
  size_t body = 16 + 8 + (size_t)n * 8;
  char *buf = eng_malloc(HDR_LEN + body);
  if (!buf) return NULL;
  put_header(buf, n, body);
  char *w = buf + HDR_LEN;
  put_col_header(&w, type, 0, 0, n);
  int64_t len = n * 8;
  memcpy(w, &len, 8);
  *out_data = w + 8;
  eng_batch *b = eng_calloc(1, sizeof *b);
  eng_col *c = eng_calloc(1, sizeof *c);
  if (!b || !c) {
    eng_free(buf);
    eng_free(b);
    eng_free(c);
    return NULL;
  }
  c->type = (uint8_t)type;
  c->n = n;
  c->data = w + 8;
  b->n = n;
  b->root = b->cols = c;
  b->buf = buf;
  b->len = HDR_LEN + body;
  b->refs = 1;
  b->release = eng_batch_release_free;
  return b;
}

eng_batch *eng_batch_new_longs(int64_t n, int64_t **out_data) {
  void *d;
  eng_batch *b = new_fixed(ENG_T_LONG, n, &d);
  *out_data = d;
  return b;
}

eng_batch *eng_batch_new_doubles(int64_t n, double **out_data) {
  void *d;
  eng_batch *b = new_fixed(ENG_T_DOUBLE, n, &d);
  *out_data = d;
  return b;
}

eng_batch *eng_batch_new_empty(void) {
  eng_colb *cb = eng_colb_new();
  if (!cb) return NULL;
  eng_batch *b = eng_colb_finish(cb, NULL);
  eng_colb_free(cb);
  return b;
}

int eng_batch_ncols(const eng_batch *b) {
  return b->root->type == ENG_T_TUPLE && b->root->nchildren == 2 ? 2 : 1;
}

/* ------------------------------------------------------------------------ */
/* Reading rows                                                             */
/* ------------------------------------------------------------------------ */

eng_val eng_col_get(const eng_col *c, int64_t i, eng_arena *a) {
  if (!eng_col_is_valid(c, i)) return eng_none();
  switch (c->type) {
    case ENG_T_NULL:
      return eng_none();
    case ENG_T_BOOL:
      return eng_bool(((const uint8_t *)c->data)[i]);
    case ENG_T_LONG:
      return eng_long(((const int64_t *)c->data)[i]);
    case ENG_T_DOUBLE:
      return eng_double(((const double *)c->data)[i]);
    case ENG_T_STR: {
      /* Each string is stored with a trailing NUL (not part of its length). */
      long len = (long)(c->off[i + 1] - c->off[i]) - 1;
      return eng_strv(c->bytes + c->off[i], len < 0 ? 0 : len);
    }
    case ENG_T_ANY: {
      eng_rd r;
      eng_val v;
      eng_rd_init(&r, c->bytes + c->off[i], (size_t)(c->off[i + 1] - c->off[i]));
      if (eng_val_read(&r, a, &v) < 0) return eng_none();
      return v;
    }
    case ENG_T_TUPLE: {
      int k = c->nchildren;
      eng_val *items = k ? eng__arena_xalloc(a, (size_t)k * sizeof *items) : NULL;
      for (int j = 0; j < k; j++) items[j] = eng_col_get(&c->child[j], i, a);
      return eng_seqv(ENG_V_TUPLE, items, k);
    }
    case ENG_T_LIST: {
      int64_t from = c->off[i], to = c->off[i + 1];
      eng_val *items = to > from ? eng__arena_xalloc(a, (size_t)(to - from) * sizeof *items) : NULL;
      for (int64_t j = from; j < to; j++) items[j - from] = eng_col_get(c->child, j, a);
      return eng_seqv(ENG_V_LIST, items, (long)(to - from));
    }
  }
  return eng_none();
}

/* ------------------------------------------------------------------------ */
/* Builders                                                                 */
/* ------------------------------------------------------------------------ */

struct eng_colb {
  int type;       /* ENG_T_*; NULL until the first non-None value */
  int64_t n;      /* rows */
  int has_valid;  /* a validity bitmap is kept (some row was None) */
  eng_buf valid;  /* bitmap bytes */
  eng_buf data;   /* fixed-width values, or offsets for STR/ANY/LIST */
  eng_buf bytes;  /* STR/ANY payload */
  int nch;
  eng_colb **ch;  /* TUPLE fields / LIST element (ch[0]) */
  int depth;      /* nesting level of this column (root 0) */
  int oom;
};

/* Tuples and lists nested deeper than this are stored whole as ANY rows,
 * well inside the 64 levels eng_batch_parse accepts. */
#define COLB_MAX_DEPTH 32

eng_colb *eng_colb_new(void) {
  eng_colb *cb = eng_calloc(1, sizeof *cb);
  return cb;
}

static void colb_clear(eng_colb *cb, int keep_buffers) {
  for (int i = 0; i < cb->nch; i++) eng_colb_free(cb->ch[i]);
  eng_free(cb->ch);
  cb->ch = NULL;
  cb->nch = 0;
  if (keep_buffers) {
    cb->valid.len = cb->data.len = cb->bytes.len = 0;
  } else {
    eng_buf_free(&cb->valid);
    eng_buf_free(&cb->data);
    eng_buf_free(&cb->bytes);
  }
  cb->type = ENG_T_NULL;
  cb->n = 0;
  cb->has_valid = 0;
  cb->oom = 0;
}

void eng_colb_free(eng_colb *cb) {
  if (!cb) return;
  colb_clear(cb, 0);
  eng_free(cb);
}

int64_t eng_colb_rows(const eng_colb *cb) { return cb->n; }

size_t eng_colb_bytes(const eng_colb *cb) {
  size_t s = 16 + cb->valid.len + cb->data.len + cb->bytes.len;
  for (int i = 0; i < cb->nch; i++) s += eng_colb_bytes(cb->ch[i]);
  return s;
}

/* Sets the validity bit of the row being appended (row cb->n). */
static void set_valid(eng_colb *cb, int ok) {
  if (!ok && !cb->has_valid) {
    /* First None: materialize a bitmap with every earlier row valid. */
    cb->has_valid = 1;
    size_t nb = (size_t)(cb->n + 8) / 8;
    if (eng_buf_reserve(&cb->valid, nb) < 0) {
      cb->oom = 1;
      return;
    }
    memset(cb->valid.data, 0xff, nb);
    cb->valid.len = (size_t)(cb->n + 7) / 8;
  }
  if (!cb->has_valid) return;
  int64_t i = cb->n;
  if ((size_t)(i / 8) >= cb->valid.len) {
    if (eng_buf_u8(&cb->valid, 0) < 0) cb->oom = 1;
  }
  if (cb->oom) return;
  uint8_t *bm = (uint8_t *)cb->valid.data;
  if (ok)
    bm[i / 8] |= (uint8_t)(1u << (i & 7));
  else
    bm[i / 8] &= (uint8_t)~(1u << (i & 7));
}

static void push_offset(eng_colb *cb, int64_t off) {
  if (eng_buf_i64(&cb->data, off) < 0) cb->oom = 1;
}

/* Sets up an empty typed state for a builder that so far holds only Nones
 * (n of them), adding their placeholders. */
static int start_type(eng_colb *cb, int type, int nch) {
  int64_t n = cb->n;
  cb->type = type;
  if (n > 0 && !cb->has_valid) {
    /* All earlier rows were None: build the bitmap of zeros. */
    cb->has_valid = 1;
    if (eng_buf_reserve(&cb->valid, (size_t)(n + 7) / 8 + 1) < 0) return ENG_ENOMEM;
    memset(cb->valid.data, 0, (size_t)(n + 7) / 8 + 1);
    cb->valid.len = (size_t)(n + 7) / 8;
  }
  switch (type) {
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
      if (eng_buf_reserve(&cb->data, (size_t)n * 8) < 0) return ENG_ENOMEM;
      memset(cb->data.data, 0, (size_t)n * 8);
      cb->data.len = (size_t)n * 8;
      break;
    case ENG_T_BOOL:
      if (eng_buf_reserve(&cb->data, (size_t)n) < 0) return ENG_ENOMEM;
      memset(cb->data.data, 0, (size_t)n);
      cb->data.len = (size_t)n;
      break;
    case ENG_T_STR:
    case ENG_T_ANY:
    case ENG_T_LIST:
      if (eng_buf_reserve(&cb->data, (size_t)(n + 1) * 8) < 0) return ENG_ENOMEM;
      memset(cb->data.data, 0, (size_t)(n + 1) * 8);
      cb->data.len = (size_t)(n + 1) * 8;
      break;
  }
  if (type == ENG_T_LIST) nch = 1;
  if (nch) {
    cb->ch = eng_calloc((size_t)nch, sizeof *cb->ch);
    if (!cb->ch) return ENG_ENOMEM;
    cb->nch = nch;
    for (int i = 0; i < nch; i++) {
      cb->ch[i] = eng_colb_new();
      if (!cb->ch[i]) return ENG_ENOMEM;
      cb->ch[i]->depth = cb->depth + 1;
      if (type == ENG_T_TUPLE)
        for (int64_t r = 0; r < n; r++) ENG_TRY(eng_colb_append(cb->ch[i], eng_none()));
    }
  }
  return 0;
}

/* A view over the builder's current buffers, for reading rows back when the
 * column must change to ANY. cols is scratch storage for children. */
static void colb_view(eng_colb *cb, eng_col *out, eng_arena *a) {
  memset(out, 0, sizeof *out);
  out->type = (uint8_t)cb->type;
  out->n = cb->n;
  out->valid = cb->has_valid ? (const uint8_t *)cb->valid.data : NULL;
  switch (cb->type) {
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
    case ENG_T_BOOL:
      out->data = cb->data.data;
      break;
    case ENG_T_STR:
    case ENG_T_ANY:
      out->off = (const int64_t *)cb->data.data;
      out->bytes = cb->bytes.data ? cb->bytes.data : "";
      break;
    case ENG_T_LIST:
    case ENG_T_TUPLE:
      if (cb->type == ENG_T_LIST) out->off = (const int64_t *)cb->data.data;
      out->nchildren = cb->nch;
      out->child = eng__arena_xalloc(a, (size_t)(cb->nch ? cb->nch : 1) * sizeof(eng_col));
      for (int i = 0; i < cb->nch; i++) colb_view(cb->ch[i], &out->child[i], a);
      break;
  }
}

static int append_any(eng_colb *cb, eng_val v);

/* Re-encodes every row so far as ANY; used when a value of another shape
 * arrives. Rows are read back through a view and written as encodings. */
static int widen_to_any(eng_colb *cb) {
  eng_arena *a = eng_arena_new(0);
  if (!a) return ENG_ENOMEM;
  eng_col view;
  colb_view(cb, &view, a);
  eng_colb *fresh = eng_colb_new();
  if (!fresh) {
    eng_arena_free(a);
    return ENG_ENOMEM;
  }
  fresh->type = ENG_T_ANY;
  push_offset(fresh, 0);
  int rc = 0;
  for (int64_t i = 0; i < view.n && rc == 0; i++) rc = append_any(fresh, eng_col_get(&view, i, a));
  eng_arena_free(a);
  if (rc < 0 || fresh->oom) {
    eng_colb_free(fresh);
    return ENG_ENOMEM;
  }
  colb_clear(cb, 0);
  fresh->depth = cb->depth;
  *cb = *fresh;
  eng_free(fresh);
  return 0;
}

static int append_any(eng_colb *cb, eng_val v) {
  set_valid(cb, 1);
  if (eng_val_write(&cb->bytes, v) < 0) cb->oom = 1;
  push_offset(cb, (int64_t)cb->bytes.len);
  cb->n++;
  return cb->oom ? ENG_ENOMEM : 0;
}

static int type_for(eng_val v, int *nch) {
  *nch = 0;
  switch (ENG_VKIND(v)) {
    case ENG_V_BOOL: return ENG_T_BOOL;
    case ENG_V_LONG: return ENG_T_LONG;
    case ENG_V_DOUBLE: return ENG_T_DOUBLE;
    case ENG_V_STR: return ENG_T_STR;
    case ENG_V_TUPLE: *nch = (int)ENG_VLEN(v); return ENG_T_TUPLE;
    case ENG_V_LIST: return ENG_T_LIST;
    default: return ENG_T_ANY;
  }
}

int eng_colb_append(eng_colb *cb, eng_val v) {
  if (cb->oom) return ENG_ENOMEM;
  v = eng_deref(v);
  int kind = ENG_VKIND(v);
  if (kind == ENG_V_NONE) {
    if (cb->type == ENG_T_ANY) return append_any(cb, v);
    set_valid(cb, 0);
    switch (cb->type) {
      case ENG_T_NULL: break;
      case ENG_T_LONG:
      case ENG_T_DOUBLE:
        if (eng_buf_i64(&cb->data, 0) < 0) cb->oom = 1;
        break;
      case ENG_T_BOOL:
        if (eng_buf_u8(&cb->data, 0) < 0) cb->oom = 1;
        break;
      case ENG_T_STR:
        push_offset(cb, (int64_t)cb->bytes.len);
        break;
      case ENG_T_LIST:
        push_offset(cb, eng_colb_rows(cb->ch[0]));
        break;
      case ENG_T_TUPLE:
        for (int i = 0; i < cb->nch; i++)
          if (eng_colb_append(cb->ch[i], eng_none()) < 0) cb->oom = 1;
        break;
    }
    cb->n++;
    return cb->oom ? ENG_ENOMEM : 0;
  }
  int nch;
  int t = type_for(v, &nch);
  /* Tuples wider than a column header can count, and containers nested
   * too deep for the parser, are stored whole as ANY rows. */
  if ((t == ENG_T_TUPLE && nch > 65535) ||
      ((t == ENG_T_TUPLE || t == ENG_T_LIST) && cb->depth >= COLB_MAX_DEPTH)) {
    t = ENG_T_ANY;
    nch = 0;
  }
  if (cb->type == ENG_T_NULL) {
    /* A failure here or in widening leaves the builder half-changed, so it
     * is sticky: later appends and eng_colb_finish report it. */
    if (start_type(cb, t, nch) < 0) cb->oom = 1;
    if (cb->oom) return ENG_ENOMEM;
  } else if (cb->type != t || (t == ENG_T_TUPLE && cb->nch != nch)) {
    if (cb->type != ENG_T_ANY && widen_to_any(cb) < 0) cb->oom = 1;
    if (cb->oom) return ENG_ENOMEM;
    return append_any(cb, v);
  }
  set_valid(cb, 1);
  switch (cb->type) {
    case ENG_T_BOOL:
      if (eng_buf_u8(&cb->data, (uint8_t)v.p) < 0) cb->oom = 1;
      break;
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
      if (eng_buf_append(&cb->data, &v.p, 8) < 0) cb->oom = 1;
      break;
    case ENG_T_STR:
      if (eng_buf_append(&cb->bytes, eng_v_ptr(v), (size_t)ENG_VLEN(v)) < 0 ||
          eng_buf_putc(&cb->bytes, 0) < 0)
        cb->oom = 1;
      push_offset(cb, (int64_t)cb->bytes.len);
      break;
    case ENG_T_ANY:
      return append_any(cb, v);
    case ENG_T_TUPLE: {
      const eng_val *it = eng_v_items(v);
      for (int i = 0; i < cb->nch; i++)
        if (eng_colb_append(cb->ch[i], it[i]) < 0) cb->oom = 1;
      break;
    }
    case ENG_T_LIST: {
      const eng_val *it = eng_v_items(v);
      long n = ENG_VLEN(v);
      for (long i = 0; i < n; i++)
        if (eng_colb_append(cb->ch[0], it[i]) < 0) cb->oom = 1;
      push_offset(cb, eng_colb_rows(cb->ch[0]));
      break;
    }
  }
  cb->n++;
  return cb->oom ? ENG_ENOMEM : 0;
}

int eng_colb_append_row(eng_colb *cb, const eng_col *c, int64_t i, eng_arena *scratch) {
  /* Fast paths for the common flat cases; everything else via a value. */
  if (cb->type == c->type && !c->valid && !cb->has_valid && !cb->oom) {
    switch (c->type) {
      case ENG_T_LONG:
      case ENG_T_DOUBLE:
        /* Failures are sticky here too, so finish cannot return a batch
         * that silently lacks this row. */
        if (eng_buf_append(&cb->data, (const int64_t *)c->data + i, 8) < 0) {
          cb->oom = 1;
          return ENG_ENOMEM;
        }
        cb->n++;
        return 0;
      case ENG_T_STR: {
        int64_t from = c->off[i], to = c->off[i + 1];
        if (eng_buf_append(&cb->bytes, c->bytes + from, (size_t)(to - from)) < 0) {
          cb->oom = 1;
          return ENG_ENOMEM;
        }
        push_offset(cb, (int64_t)cb->bytes.len);
        cb->n++;
        return cb->oom ? ENG_ENOMEM : 0;
      }
      default:
        break;
    }
  }
  return eng_colb_append(cb, eng_col_get(c, i, scratch));
}

/* ---- finishing ---------------------------------------------------------- */

static size_t col_size(const eng_colb *cb) {
  size_t s = 16;
  if (cb->has_valid) s += 8 + pad8((size_t)(cb->n + 7) / 8);
  switch (cb->type) {
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
    case ENG_T_BOOL:
      s += 8 + pad8(cb->data.len);
      break;
    case ENG_T_STR:
    case ENG_T_ANY:
      s += 8 + cb->data.len + 8 + pad8(cb->bytes.len);
      break;
    case ENG_T_LIST:
      s += 8 + cb->data.len;
      break;
  }
  for (int i = 0; i < cb->nch; i++) s += col_size(cb->ch[i]);
  return s;
}

static void put_buffer(char **w, const void *p, size_t n) {
  int64_t len = (int64_t)n;
  memcpy(*w, &len, 8);
  if (n) memcpy(*w + 8, p, n);
  size_t padded = pad8(n);
  if (padded > n) memset(*w + 8 + n, 0, padded - n);
  *w += 8 + padded;
}

static void write_col(char **w, const eng_colb *cb) {
  put_col_header(w, cb->type, cb->has_valid, cb->type == ENG_T_TUPLE ? cb->nch : 0, cb->n);
  if (cb->has_valid) put_buffer(w, cb->valid.data, (size_t)(cb->n + 7) / 8);
  switch (cb->type) {
    case ENG_T_LONG:
    case ENG_T_DOUBLE:
    case ENG_T_BOOL:
      put_buffer(w, cb->data.data, cb->data.len);
      break;
    case ENG_T_STR:
    case ENG_T_ANY:
      put_buffer(w, cb->data.data, cb->data.len);
      put_buffer(w, cb->bytes.data, cb->bytes.len);
      break;
    case ENG_T_LIST:
      put_buffer(w, cb->data.data, cb->data.len);
      break;
  }
  for (int i = 0; i < cb->nch; i++) write_col(w, cb->ch[i]);
}

eng_batch *eng_colb_finish(eng_colb *cb, eng_err *err) {
  if (cb->oom) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: column builder");
    return NULL;
  }
  /* The valid bitmap may have one byte too many reserved; col_size and
   * write_col use the exact (n+7)/8. Empty offset buffers of STR/ANY/LIST
   * hold the leading 0 already (start_type). */
  size_t body = col_size(cb);
  char *buf = eng_malloc(HDR_LEN + body);
  if (!buf) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: batch of %zu bytes", body);
    return NULL;
  }
  put_header(buf, cb->n, body);
  char *w = buf + HDR_LEN;
  write_col(&w, cb);
  eng_batch *b = parse_raw(buf, HDR_LEN + body, eng_batch_release_free, NULL, err);
  if (!b) {
    eng_free(buf);
    return NULL;
  }
  colb_clear(cb, 1);
  return b;
}

/* ------------------------------------------------------------------------ */
/* Derived batches                                                          */
/* ------------------------------------------------------------------------ */

int64_t eng_sel_count(const uint8_t *sel, int64_t n) {
  const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
  int64_t k = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, sel + i, 8);
    uint64_t nz = (((w & lo7) + lo7) | w) >> 7 & ones; /* 1 per nonzero byte */
    k += (int64_t)((nz * ones) >> 56);
  }
  for (; i < n; i++) k += sel[i] != 0;
  return k;
}

eng_batch *eng_batch_select(const eng_batch *in, const uint8_t *sel, int64_t nsel, eng_err *err) {
  const eng_col *c = in->root;
  if ((c->type == ENG_T_LONG || c->type == ENG_T_DOUBLE) && !c->valid) {
    int64_t *out;
    eng_batch *b = new_fixed(c->type, nsel, (void **)&out);
    if (!b) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: filter output");
      return NULL;
    }
    const int64_t *src = c->data;
    int64_t k = 0;
    /* Branch-free: every row is stored at out[k] and kept by advancing k;
     * the loop stops once nsel rows are kept, as out has no slot beyond. */
    for (int64_t i = 0; i < c->n && k < nsel; i++) {
      out[k] = src[i];
      k += sel[i] != 0;
    }
    return b;
  }
  eng_colb *cb = eng_colb_new();
  eng_arena *a = eng_arena_new(0);
  if (!cb || !a) {
    eng_colb_free(cb);
    eng_arena_free(a);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: filter output");
    return NULL;
  }
  for (int64_t i = 0; i < c->n; i++) {
    if (!sel[i]) continue;
    eng_colb_append_row(cb, c, i, a);
    if ((i & 1023) == 1023) eng_arena_reset(a);
  }
  eng_batch *b = eng_colb_finish(cb, err);
  eng_colb_free(cb);
  eng_arena_free(a);
  return b;
}

eng_batch *eng_batch_slice(const eng_batch *in, int64_t from, int64_t n, eng_err *err) {
  const eng_col *c = in->root;
  if (from < 0) from = 0;
  if (from > c->n) from = c->n;
  if (n > c->n - from) n = c->n - from; /* not from + n, which may overflow */
  if (n < 0) n = 0;
  if ((c->type == ENG_T_LONG || c->type == ENG_T_DOUBLE) && !c->valid) {
    int64_t *out;
    eng_batch *b = new_fixed(c->type, n, (void **)&out);
    if (!b) {
      eng_err_set(err, ENG_ENOMEM, "MemoryError: slice");
      return NULL;
    }
    memcpy(out, (const int64_t *)c->data + from, (size_t)n * 8);
    return b;
  }
  eng_colb *cb = eng_colb_new();
  eng_arena *a = eng_arena_new(0);
  if (!cb || !a) {
    eng_colb_free(cb);
    eng_arena_free(a);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: slice");
    return NULL;
  }
  for (int64_t i = from; i < from + n; i++) {
    eng_colb_append_row(cb, c, i, a);
    if ((i & 1023) == 1023) eng_arena_reset(a);
  }
  eng_batch *b = eng_colb_finish(cb, err);
  eng_colb_free(cb);
  eng_arena_free(a);
  return b;
}

eng_batch *eng_batch_from_vals(const eng_val *vals, int64_t n, eng_err *err) {
  eng_colb *cb = eng_colb_new();
  if (!cb) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: batch");
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) eng_colb_append(cb, vals[i]);
  eng_batch *b = eng_colb_finish(cb, err);
  eng_colb_free(cb);
  return b;
}
