/* task.h -- running one task inside an executor (internal to engine/).
 *
 * A task computes one partition of a stage: it reads a source (a range, a
 * slice of parallelized data, a text split, a cached block, shuffle output),
 * passes rows through the stage's narrow operations, and hands them to a
 * sink (an action's partial result, or the shuffle writer).
 *
 * Execution model:
 *   - eng_stream: pulls batches. Sources, shuffle readers (which aggregate,
 *     sort or cogroup) and multi-input operators are streams.
 *   - eng_chain: a stream followed by a run of row-by-row operations (map,
 *     filter, flat_map, ...) fused together: each input batch is pushed
 *     through all steps without building intermediate batches. Steps with a
 *     typed kernel (a filter or map over longs/doubles) work on whole batches
 *     with a selection vector; the rest work on values.
 *   - eng_sink: receives rows (or batches with a selection) at the end.
 * A chain can itself act as a stream (its output collected into batches)
 * where an operator needs batches from several inputs (union, cartesian,
 * coalesce, cogroup).
 *
 * Memory: values flowing through a chain live in the task's scratch arena,
 * reset after each input batch; whatever outlives a batch (aggregation
 * tables, buffered partitions, sink state) is copied into its owner's
 * memory. Large state checks eng__task_pressure() and spills.
 *
 * Errors: functions return 0 (or 1 for "batch produced" / "stop early") or a
 * negative ENG_E* with t->err set. User code failing (raise, crash, cancel)
 * unwinds to the guard around the whole task; close() functions must then
 * be safe on half-updated state, which is why in-flight batches are kept in
 * the operators' structs rather than in locals.
 */
#ifndef ENG_TASK_H
#define ENG_TASK_H

#include <jansson.h>
#include <stdatomic.h>

#include "../udf/udf.h"
#include "arena.h"
#include "blockstore.h"
#include "col.h"
#include "val.h"

typedef struct eng_exec eng_exec;
typedef struct eng_task eng_task;
typedef struct eng_stream eng_stream;
typedef struct eng_sink eng_sink;
typedef struct eng_chain eng_chain;

/* Rows per batch produced by sources and builders, and bytes. */
#define ENG_BATCH_ROWS 65536
#define ENG_BATCH_BYTES (1 << 20)

struct eng_stream {
  /* Returns 1 with *out (a reference the caller owns), 0 at the end, <0 on error. */
  int (*next)(eng_stream *s, eng_batch **out);
  void (*close)(eng_stream *s);
  eng_task *t;
};

struct eng_sink {
  /* 0 to continue, 1 to stop early (enough rows), <0 on error. */
  int (*row)(eng_sink *k, eng_val v);
  /* Optional batch entry: rows of b whose sel[i] != 0 (all when sel is NULL). */
  int (*batch)(eng_sink *k, eng_batch *b, const uint8_t *sel);
  /* Optional: the row (key, value), given as its two items, for sinks that
   * take pairs apart anyway (by-key shuffles): no tuple is built. */
  int (*pair)(eng_sink *k, eng_val key, eng_val v);
  /* Optional: n such rows at once (keys[i], vals[i]). */
  int (*pairs)(eng_sink *k, const eng_val *keys, const eng_val *vals, int64_t n);
  int (*finish)(eng_sink *k);
  void (*close)(eng_sink *k);
  eng_task *t;
};

/* A UDF as a step holds it: compiled function, captures, display name. */
typedef struct eng_tudf {
  udf_fn *fn;
  eng_val *caps;
  char *who; /* "UDF lambda at cell[3]:1" for crash messages */
} eng_tudf;

/* An accumulator update made by this task, reported with its result. */
typedef struct eng_acc_delta {
  long id;
  eng_val v;
} eng_acc_delta;

/* A block this task stored (cache or checkpoint), reported to the driver. */
typedef struct eng_stored {
  int ds, part, level;
  int64_t mem, disk;
} eng_stored;

struct eng_task {
  eng_exec *ex;
  int64_t tid;
  int job, stage, partition, attempt;
  json_t *desc;          /* the task description (owned) */
  void **blobs;          /* binary frames of the launch message (borrowed) */
  size_t *blob_lens;
  int nblobs;
  eng_arena *arena;      /* lives as long as the task */
  eng_arena *scratch;    /* reset after every input batch */
  eng_err err;
  _Atomic int *cancel;   /* set by the comm thread */
  /* results */
  eng_buf result;        /* encoded result values (action sinks) */
  eng_batch **out_batches; /* collect(): batches to send back */
  int nout, capout;
  eng_acc_delta *accs;
  int naccs, capaccs;
  eng_stored *stored;
  int nstored, capstored;
  /* shuffle map output, reported as MapStatus */
  int64_t *map_sizes;
  int map_nparts;
  /* metrics */
  int64_t rows_in, rows_out, shuffle_read, shuffle_written, spilled;
  double compile_ms; /* compiling the UDFs shipped with the task */
  /* a fetch failure: which map output was missing (-1 if none) */
  int ff_shuffle, ff_map, ff_exec;
  /* or which cached partition (ds -1 if none) */
  int ff_ds, ff_part;
};

/* ---- the pieces, built from a task description (exec_task.c) ----------- */

/* Builds the operator tree for the description's root node. */
eng_stream *eng__build_stream(eng_task *t, json_t *node, eng_err *err);
eng_sink *eng__build_sink(eng_task *t, json_t *sink, eng_err *err);

/* ---- chains (pipe.c) ------------------------------------------------------ */

/* A chain over `in` (taken); steps are appended with eng__chain_add_*. */
eng_chain *eng__chain_new(eng_task *t, eng_stream *in);
/* Is s a chain (so steps can be appended to it)? */
eng_chain *eng__as_chain(eng_stream *s);
eng_stream *eng__chain_stream(eng_chain *c);
int eng__chain_add(eng_chain *c, json_t *node, eng_err *err);
/* A step that stores the chain's rows at this point as block (ds, part)
 * with the given storage level, or into a checkpoint file when ckpt_path. */
int eng__chain_add_store(eng_chain *c, int ds, int part, int level, const char *ckpt_path);
/* Runs the chain to the end into sink k (taken). */
int eng__chain_run(eng_chain *c, eng_sink *k);

/* ---- sources (pipe.c) ------------------------------------------------------ */

eng_stream *eng__src_range(eng_task *t, int64_t start, int64_t end, int64_t step);
eng_stream *eng__src_batches(eng_task *t, eng_batch **bs, int n); /* takes the refs */
eng_stream *eng__src_text(eng_task *t, const char *path, int64_t start, int64_t len,
                          int64_t file_size, int codec, eng_err *err);
eng_stream *eng__src_concat(eng_task *t, eng_stream **ins, int n);
eng_stream *eng__src_cartesian(eng_task *t, eng_stream *left, eng_stream *right);
eng_stream *eng__src_file(eng_task *t, const char *path, eng_err *err); /* batch file */

/* ---- shuffle (shuffle.c) -------------------------------------------------- */

eng_sink *eng__shuffle_writer(eng_task *t, json_t *spec, eng_err *err);
eng_stream *eng__shuffle_reader(eng_task *t, json_t *node, eng_err *err);
eng_stream *eng__cogroup_reader(eng_task *t, json_t *node, eng_err *err);

/* ---- sinks (sinks.c) -------------------------------------------------------- */

eng_sink *eng__result_sink(eng_task *t, json_t *spec, eng_err *err);

/* ---- task services (exec_task.c) --------------------------------------------- */

/* The compiled UDF and captures a node names ({"h": hash, "caps": blob}). */
int eng__task_udf(eng_task *t, json_t *ref, eng_tudf *out, eng_err *err);
/* Calls a UDF on args; unwinds on error (inside the task guard). */
eng_val eng__tudf_call(const eng_tudf *f, const void *owner, const eng_val *args);
/* Blob i of the launch message. */
int eng__task_blob(eng_task *t, json_int_t i, const void **p, size_t *n, eng_err *err);
/* 1 if the task was cancelled (checked between batches). */
int eng__task_cancelled(eng_task *t);
/* 1 when memory use is over the executor's budget after evicting what the
 * block store can; operators then spill. */
int eng__task_pressure(eng_task *t);
/* Bytes an operator may keep before spilling. */
int64_t eng__task_mem_limit(eng_task *t);
int eng__task_add_batch(eng_task *t, eng_batch *b); /* collect output (ref taken) */
int eng__task_stored(eng_task *t, int ds, int part, int level, int64_t mem, int64_t disk);
eng_blockstore *eng__task_store(eng_task *t);
const char *eng__task_dir(eng_task *t); /* the executor's scratch directory */

/* Reads block `id` ("shuffle_2_5_0", "rdd_3_1") from the executor at
 * endpoint `ep`, or from this executor's store when ep is NULL or our own,
 * chunk by chunk. eng__fetch_next gives 1 and a batch, 0 at the end, or
 * ENG_EFETCH when the peer or the block is gone. */
typedef struct eng_fetch eng_fetch;
eng_fetch *eng__fetch_open(eng_task *t, const char *ep, const char *id, eng_err *err);
int eng__fetch_next(eng_fetch *f, eng_batch **out, eng_err *err);
void eng__fetch_close(eng_fetch *f);
/* Records which map output a failed fetch needed, for the driver. */
void eng__task_fetch_failed(eng_task *t, int shuffle, int map, int exec_id);

#endif
