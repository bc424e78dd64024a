/* dataset.h -- the dataset API of SPEC 5 (Spark's RDD core) in C.
 *
 * Datasets are lazy, immutable and partitioned: transformations return a new
 * eng_ds describing how to compute it from its parents (its lineage), and
 * actions run a job over it. Names are PySpark's in snake_case; arguments a
 * PySpark default would fill are passed as 0 / NULL / -1 here ("default").
 *
 * Ownership: datasets and UDF instances belong to their session and live
 *   until eng_session_free()/eng_session_reset(); never free them yourself.
 *   Values passed in are copied into the session as needed; values returned
 *   by actions live in the session's value arena.
 * Thread-safety: as the session (one calling thread).
 * Errors: transformations return NULL and actions a negative ENG_E* code,
 *   with the session error set: a lambda whose parameter types do not fit
 *   the dataset is a TypeError before any task runs; a failing task gives
 *   "TaskFailed: ..." after its retries; "Cancelled" after a cancel.
 */
#ifndef ENG_DATASET_H
#define ENG_DATASET_H

#include <stdint.h>

#include "../udf/udf.h"
#include "buf.h"
#include "eng_types.h"
#include "session.h"

typedef struct eng_ds eng_ds;
typedef struct eng_udf eng_udf;

/* ---- UDF instances ------------------------------------------------------ */

/* A UDF with its captured values (copied), compiled in the driver at once so
 * that compile errors surface here. NULL + session error on failure. */
ENG_API eng_udf *eng_udf_new(eng_session *s, const udf_def *def, const eng_val *caps);
/* The builtin `add`. */
ENG_API eng_udf *eng_udf_builtin(eng_session *s, const char *name);
ENG_API const udf_def *eng_udf_def(const eng_udf *f);

/* ---- static element types ------------------------------------------------ */

/* What the elements of a dataset are known to be, used to reject lambdas
 * whose parameters cannot fit before any task runs. ANY = not known. */
typedef struct eng_dtype eng_dtype;
enum { ENG_DT_ANY = 0, ENG_DT_NONE, ENG_DT_BOOL, ENG_DT_LONG, ENG_DT_DOUBLE, ENG_DT_STR,
       ENG_DT_TUPLE, ENG_DT_LIST };
struct eng_dtype {
  int kind;
  int n;                   /* TUPLE: arity; LIST: 1 */
  const eng_dtype **items; /* TUPLE fields / LIST element */
};
ENG_API const eng_dtype *eng_ds_dtype(const eng_ds *d);
/* Appends "long", "(str, long)", "list[str]", "?" (unknown) to out. */
ENG_API void eng_dtype_format(const eng_dtype *t, eng_buf *out);
/* Declares the element type of a UDF's results when the caller knows more
 * than the C return type says (the REPL infers kv(str, long) -> (str, long)). */
ENG_API void eng_udf_set_result_dtype(eng_udf *f, const eng_dtype *t);
/* Builders for dtypes, allocated in the session. */
ENG_API const eng_dtype *eng_dtype_simple(int kind);
ENG_API const eng_dtype *eng_dtype_tuple(eng_session *s, int n, const eng_dtype *const *items);
ENG_API const eng_dtype *eng_dtype_list(eng_session *s, const eng_dtype *elem);
/* The dtype of a value (tuples/lists recursively; mixed lists are list[?]). */
ENG_API const eng_dtype *eng_dtype_of(eng_session *s, eng_val v);

/* ---- create ---------------------------------------------------------------- */

ENG_API eng_ds *eng_range(eng_session *s, int64_t start, int64_t end, int64_t step, int slices);
ENG_API eng_ds *eng_parallelize(eng_session *s, eng_val list, int slices);
ENG_API eng_ds *eng_text_file(eng_session *s, const char *path, int min_partitions);
ENG_API eng_ds *eng_empty(eng_session *s);

/* ---- transform ------------------------------------------------------------- */

ENG_API eng_ds *eng_map(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_flat_map(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_filter(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_map_partitions(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_map_partitions_with_index(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_distinct(eng_ds *d, int nparts);
ENG_API eng_ds *eng_union_all(eng_ds *a, eng_ds *b);
ENG_API eng_ds *eng_intersection(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_subtract(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_cartesian(eng_ds *a, eng_ds *b);
ENG_API eng_ds *eng_sample(eng_ds *d, int with_replacement, double fraction, int64_t seed);
ENG_API eng_ds *eng_sort_by(eng_ds *d, eng_udf *keyfn, int ascending, int nparts);
ENG_API eng_ds *eng_sort_by_key(eng_ds *d, int ascending, int nparts, eng_udf *keyfn);
ENG_API eng_ds *eng_group_by(eng_ds *d, eng_udf *f, int nparts);
ENG_API eng_ds *eng_group_by_key(eng_ds *d, int nparts);
ENG_API eng_ds *eng_reduce_by_key(eng_ds *d, eng_udf *f, int nparts);
ENG_API eng_ds *eng_fold_by_key(eng_ds *d, eng_val zero, eng_udf *f, int nparts);
ENG_API eng_ds *eng_aggregate_by_key(eng_ds *d, eng_val zero, eng_udf *seq, eng_udf *comb,
                                     int nparts);
ENG_API eng_ds *eng_combine_by_key(eng_ds *d, eng_udf *create, eng_udf *merge,
                                   eng_udf *merge_combiners, int nparts);
ENG_API eng_ds *eng_join(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_left_outer_join(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_right_outer_join(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_full_outer_join(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_cogroup(eng_ds *a, eng_ds *b, int nparts);
ENG_API eng_ds *eng_keys(eng_ds *d);
ENG_API eng_ds *eng_values(eng_ds *d);
ENG_API eng_ds *eng_map_values(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_flat_map_values(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_key_by(eng_ds *d, eng_udf *f);
ENG_API eng_ds *eng_zip_with_index(eng_ds *d);
ENG_API eng_ds *eng_glom(eng_ds *d);
ENG_API eng_ds *eng_repartition(eng_ds *d, int nparts);
ENG_API eng_ds *eng_coalesce(eng_ds *d, int nparts, int shuffle);
/* partfn: NULL for PySpark's portable hash; else a lambda key -> long. */
ENG_API eng_ds *eng_partition_by(eng_ds *d, int nparts, eng_udf *partfn);

/* ---- act -------------------------------------------------------------------- */

ENG_API int eng_collect(eng_ds *d, eng_val *out);
ENG_API int eng_count(eng_ds *d, int64_t *out);
ENG_API int eng_first(eng_ds *d, eng_val *out);
ENG_API int eng_take(eng_ds *d, int64_t n, eng_val *out);
ENG_API int eng_take_ordered(eng_ds *d, int64_t n, eng_udf *keyfn, eng_val *out);
ENG_API int eng_top(eng_ds *d, int64_t n, eng_udf *keyfn, eng_val *out);
ENG_API int eng_reduce(eng_ds *d, eng_udf *f, eng_val *out);
ENG_API int eng_fold(eng_ds *d, eng_val zero, eng_udf *f, eng_val *out);
ENG_API int eng_aggregate(eng_ds *d, eng_val zero, eng_udf *seq, eng_udf *comb, eng_val *out);
ENG_API int eng_sum(eng_ds *d, eng_val *out);
ENG_API int eng_mean(eng_ds *d, double *out);
ENG_API int eng_min(eng_ds *d, eng_udf *keyfn, eng_val *out);
ENG_API int eng_max(eng_ds *d, eng_udf *keyfn, eng_val *out);
ENG_API int eng_stdev(eng_ds *d, double *out);
ENG_API int eng_variance(eng_ds *d, double *out);
ENG_API int eng_sample_stdev(eng_ds *d, double *out);
ENG_API int eng_sample_variance(eng_ds *d, double *out);
/* A StatCounter record: (count, mean, stdev, max, min). */
ENG_API int eng_stats(eng_ds *d, eng_val *out);
/* buckets: a long (that many even buckets between min and max) or a sorted
 * list of bucket boundaries; result: (boundaries, counts). */
ENG_API int eng_histogram(eng_ds *d, eng_val buckets, eng_val *out);
/* Lists of (key, count), sorted by key. */
ENG_API int eng_count_by_key(eng_ds *d, eng_val *out);
ENG_API int eng_count_by_value(eng_ds *d, eng_val *out);
ENG_API int eng_foreach(eng_ds *d, eng_udf *f);
/* codec: NULL/"none", "gzip" or "zstd". */
ENG_API int eng_save_as_text_file(eng_ds *d, const char *path, const char *codec);
ENG_API int eng_num_partitions(eng_ds *d);
ENG_API int eng_is_empty(eng_ds *d, int *out);

/* ---- keep ------------------------------------------------------------------- */

enum { ENG_STORAGE_NONE = 0, ENG_MEMORY_ONLY = 1, ENG_MEMORY_AND_DISK = 2, ENG_DISK_ONLY = 3 };
ENG_API eng_ds *eng_cache(eng_ds *d);
ENG_API eng_ds *eng_persist(eng_ds *d, int level);
ENG_API eng_ds *eng_unpersist(eng_ds *d);
/* Marks d to be saved to the session's checkpoint directory by the next
 * job that computes it; afterwards its lineage is cut there. */
ENG_API eng_ds *eng_checkpoint(eng_ds *d);
ENG_API int eng_is_cached(const eng_ds *d);
ENG_API int eng_is_checkpointed(const eng_ds *d);

/* ---- share ------------------------------------------------------------------ */

ENG_API eng_val eng_broadcast(eng_session *s, eng_val v);
ENG_API eng_val eng_accumulator(eng_session *s, eng_val zero);
ENG_API int eng_acc_value(eng_session *s, eng_val acc, eng_val *out);
ENG_API int eng_acc_add(eng_session *s, eng_val acc, eng_val x);

/* ---- look ------------------------------------------------------------------- */

/* Spark's Dataset.show(n, truncate=20): the text table, appended to out. */
ENG_API int eng_show(eng_ds *d, int n, eng_buf *out);
/* The first n rows (n + 1 fetched, to know if there are more) as a table
 * model for front ends that render it themselves (HTML). */
typedef struct eng_table {
  int ncols;
  const char *colnames[2];
  int nrows;
  eng_val *cells; /* nrows x ncols, row-major */
  int more;       /* rows beyond nrows exist */
} eng_table;
ENG_API int eng_show_table(eng_ds *d, int n, eng_table *out);
ENG_API int eng_table_format(const eng_table *t, int truncate, eng_buf *out);
/* Spark's toDebugString: lineage with stage boundaries and cached parts. */
ENG_API int eng_explain(eng_ds *d, eng_buf *out);
/* "ds[3] map at cell[2]:1 (4 partitions)": how a ds handle prints. */
ENG_API int eng_ds_describe(eng_ds *d, eng_buf *out);
ENG_API int eng_ds_id(const eng_ds *d);
ENG_API eng_session *eng_ds_session(eng_ds *d);

#endif
