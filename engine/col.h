/* col.h -- columnar batches: the one representation of partition data, in
 * memory, in the cache, on the wire and on disk.
 *
 * A batch is a contiguous byte buffer in ember's batch format (below) plus a
 * decoded tree of column views pointing into it, so a received message, a
 * cached block and a spilled file are used without copying or parsing rows.
 * A plain dataset's batch has one root column; a pair dataset's root is a
 * TUPLE column of two children, the key and value columns.
 *
 * Ownership: eng_batch is reference counted. Constructors return a batch with
 *   one reference; eng_batch_unref drops it and frees at zero. Column views
 *   borrow from their batch and die with it.
 * Thread-safety: a finished batch is immutable; ref/unref are atomic, so a
 *   batch may be shared by the block store, a block server thread and tasks.
 *   A builder (eng_colb) belongs to one thread.
 * Errors: eng_batch_parse returns NULL with "ProtocolError: ..." for bytes
 *   that are not a well-formed batch (bounds and offsets are all checked);
 *   builders return ENG_ENOMEM when memory runs out.
 *
 * Format (all integers little-endian, every section 8-byte aligned):
 *   header   u32 magic "EMB1", u32 flags (bit 0: zstd-compressed body),
 *            i64 rows, i64 body length as stored, i64 body length raw
 *   column   u8 type, u8 has_validity, u16 children, u32 0, i64 rows,
 *            [validity: i64 len, bitmap, pad]
 *            LONG/DOUBLE: i64 len, data      BOOL: i64 len, bytes, pad
 *            STR/ANY: i64 len, offsets (rows+1 x i64), i64 len, bytes, pad
 *            LIST: offsets as STR, then the child column
 *            TUPLE: the children
 *   STR rows end with a NUL byte (counted in the offsets, not in the value's
 *   length) so user code gets C strings; ANY rows hold eng_val_write
 *   encodings; NULL columns have no buffers.
 */
#ifndef ENG_COL_H
#define ENG_COL_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "eng_types.h"

enum {
  ENG_T_NULL = 0, /* every row None */
  ENG_T_BOOL = 1,
  ENG_T_LONG = 2,
  ENG_T_DOUBLE = 3,
  ENG_T_STR = 4,
  ENG_T_TUPLE = 5,
  ENG_T_LIST = 6,
  ENG_T_ANY = 7, /* each row an encoded eng_val: mixed or irregular data */
};

typedef struct eng_col {
  uint8_t type;
  int nchildren;
  int64_t n;
  const uint8_t *valid;  /* bit i set = row i not None; NULL = all valid */
  const void *data;      /* LONG: int64_t[n]; DOUBLE: double[n]; BOOL: uint8_t[n] */
  const int64_t *off;    /* STR, ANY, LIST: n+1 offsets */
  const char *bytes;     /* STR, ANY: the row bytes */
  struct eng_col *child; /* LIST: 1 child; TUPLE: nchildren children */
} eng_col;

typedef struct eng_batch eng_batch;

struct eng_batch {
  int64_t n;            /* rows */
  eng_col *root;        /* decoded view */
  const char *buf;      /* the serialized batch */
  size_t len;           /* its length in bytes (a multiple of 8) */
  /* private */
  int refs;
  void (*release)(void *ctx, const char *buf);
  void *release_ctx;
  eng_col *cols;        /* storage of the view tree */
};

ENG_API void eng_batch_ref(eng_batch *b);
ENG_API void eng_batch_unref(eng_batch *b);

/* Decodes a serialized batch (one, starting at buf). If release is non-NULL
 * the batch takes ownership of buf and calls release(ctx, buf) when freed;
 * otherwise it copies the bytes. A compressed batch is decompressed into a
 * new buffer (and buf released at once). *out_used gets the bytes consumed,
 * so batches laid end to end can be read in sequence. */
ENG_API eng_batch *eng_batch_parse(const char *buf, size_t len,
                                   void (*release)(void *ctx, const char *buf), void *ctx,
                                   size_t *out_used, eng_err *err);
/* Releases with eng_free; a convenience for eng_batch_parse. */
ENG_API void eng_batch_release_free(void *ctx, const char *buf);

/* Length of the batch starting at buf (from its header), or 0 if malformed. */
ENG_API size_t eng_batch_peek_len(const char *buf, size_t len);

/* A new batch of n longs / doubles whose data the caller fills in through
 * *out_data before sharing the batch. */
ENG_API eng_batch *eng_batch_new_longs(int64_t n, int64_t **out_data);
ENG_API eng_batch *eng_batch_new_doubles(int64_t n, double **out_data);
/* An empty batch (zero rows, NULL column). */
ENG_API eng_batch *eng_batch_new_empty(void);

/* Appends the batch's bytes, zstd-compressed at `level` (0: as is), to out. */
ENG_API int eng_batch_write(eng_buf *out, const eng_batch *b, int level);

/* Row i of column c as a value: strings are views into the batch; tuples,
 * lists and ANY rows are built in arena a. */
ENG_API eng_val eng_col_get(const eng_col *c, int64_t i, eng_arena *a);
static inline int eng_col_is_valid(const eng_col *c, int64_t i) {
  return !c->valid || ((c->valid[i >> 3] >> (i & 7)) & 1);
}
/* Number of top-level columns users see: 2 for pairs, else 1. */
ENG_API int eng_batch_ncols(const eng_batch *b);

/* ---- builders ----------------------------------------------------------- */

/* An adaptive column builder: the column's type follows the values appended
 * (longs make a LONG column, pairs a TUPLE of two columns, ...), and falls
 * back to ANY when values of different shapes meet, so any sequence of values
 * can be appended and read back unchanged. */
typedef struct eng_colb eng_colb;

ENG_API eng_colb *eng_colb_new(void);
ENG_API void eng_colb_free(eng_colb *cb);
/* Appends a copy of v (its bytes are copied). */
ENG_API int eng_colb_append(eng_colb *cb, eng_val v);
/* Appends row i of column c (fast when types match). */
ENG_API int eng_colb_append_row(eng_colb *cb, const eng_col *c, int64_t i, eng_arena *scratch);
ENG_API int64_t eng_colb_rows(const eng_colb *cb);
/* Approximate bytes the finished batch will take. */
ENG_API size_t eng_colb_bytes(const eng_colb *cb);
/* Returns the rows appended so far as a new batch, and empties the builder
 * for reuse. NULL with ENG_ENOMEM on allocation failure. */
ENG_API eng_batch *eng_colb_finish(eng_colb *cb, eng_err *err);

/* A batch holding the rows of `in` whose sel[i] is non-zero (a filter). */
/* The number of nonzero bytes in sel[0..n), 8 at a time. */
int64_t eng_sel_count(const uint8_t *sel, int64_t n);
ENG_API eng_batch *eng_batch_select(const eng_batch *in, const uint8_t *sel, int64_t nsel,
                                    eng_err *err);
/* A batch of rows [from, from+n) of `in`. */
ENG_API eng_batch *eng_batch_slice(const eng_batch *in, int64_t from, int64_t n, eng_err *err);
/* A batch built from n values (copied). */
ENG_API eng_batch *eng_batch_from_vals(const eng_val *vals, int64_t n, eng_err *err);

#endif
