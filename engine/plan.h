/* plan.h -- the lineage graph inside the driver: dataset nodes, UDF
 * instances, shuffle dependencies (internal to engine/).
 *
 * Every transformation of dataset.h makes one eng_ds node (some make two or
 * three, as Spark's do: join is a cogroup plus a flattening step). Nodes are
 * immutable once made, except for what jobs learn about them: where their
 * cached partitions are, computed range-partition bounds, zip_with_index
 * offsets, and checkpoint state.
 *
 * Ownership: nodes, UDF instances and dtypes are allocated in the session
 *   (plan arena + session-owned arrays) and freed with it.
 * Thread-safety: the session's calling thread only.
 * Errors: builders return NULL and set the session error.
 */
#ifndef ENG_PLAN_H
#define ENG_PLAN_H

#include "col.h"
#include "dataset.h"
#include "textio.h"

typedef enum eng_op {
  /* sources */
  ENG_OP_RANGE,
  ENG_OP_PARALLELIZE,
  ENG_OP_TEXT,
  ENG_OP_EMPTY,
  /* narrow, one parent, row by row */
  ENG_OP_MAP,
  ENG_OP_FLAT_MAP,
  ENG_OP_FILTER,
  ENG_OP_KEYS,
  ENG_OP_VALUES,
  ENG_OP_MAP_VALUES,
  ENG_OP_FLAT_MAP_VALUES,
  ENG_OP_KEY_BY,
  ENG_OP_SAMPLE,
  ENG_OP_ZIP_INDEX,
  /* narrow, one parent, whole partition */
  ENG_OP_MAP_PARTS,
  ENG_OP_MAP_PARTS_IDX,
  ENG_OP_GLOM,
  /* after a cogroup: flatten groups into join rows (param: join kind) */
  ENG_OP_JOIN_ROWS,
  /* narrow, several parent partitions */
  ENG_OP_UNION,
  ENG_OP_CARTESIAN,
  ENG_OP_COALESCE,
  /* wide */
  ENG_OP_SHUFFLED,
  ENG_OP_COGROUP,
  ENG_OP__COUNT
} eng_op;

/* How a shuffle's map side assigns rows to reduce partitions. */
enum { ENG_PART_HASH = 0, ENG_PART_RANGE = 1, ENG_PART_RR = 2, ENG_PART_CUSTOM = 3 };

/* Aggregation of values by key across a shuffle (Spark's Aggregator). */
enum {
  ENG_AGG_NONE = 0,
  ENG_AGG_REDUCE,    /* f0(c, v) */
  ENG_AGG_FOLD,      /* create = f0(zero, v), merge = f0 */
  ENG_AGG_AGGREGATE, /* create = f0(zero, v), merge = f0, combine = f1 */
  ENG_AGG_COMBINE,   /* create = f0(v), merge = f1(c, v), combine = f2(c1, c2) */
  ENG_AGG_GROUP,     /* values into a list */
  ENG_AGG_DISTINCT,  /* whole rows are keys; one of each */
};

/* What follows a cogroup (ENG_OP_JOIN_ROWS). */
enum { ENG_JOIN_INNER = 0, ENG_JOIN_LEFT, ENG_JOIN_RIGHT, ENG_JOIN_FULL, ENG_JOIN_INTERSECT,
       ENG_JOIN_SUBTRACT };

struct eng_udf {
  eng_session *s;
  udf_def *def;        /* owned */
  eng_val *caps;       /* captured values, session arena */
  int ncaps;
  udf_fn *fn;          /* compiled in the driver (session cache) */
  const eng_dtype *ret_dtype;
  char *caps_blob;     /* serialized captures for tasks (eng_malloc) */
  size_t caps_len;
  int id;
};

typedef struct eng_shuffle_spec {
  int part_kind;        /* ENG_PART_* */
  int nparts;
  int ascending;        /* RANGE */
  eng_udf *keyfn;       /* RANGE: sort key of a key; CUSTOM: key -> partition */
  eng_val *bounds;      /* RANGE: nparts-1 upper bounds, computed by a sampling job */
  int nbounds;
  int bounds_ready;
  int key_whole;        /* the whole row is the key (distinct) */
  int agg;              /* ENG_AGG_* */
  eng_udf *f[3];
  eng_val zero;
  int map_side_combine;
  int sort;             /* reduce side sorts by key (sort_by_key) */
} eng_shuffle_spec;

struct eng_ds {
  eng_session *s;
  int id;
  eng_op op;
  int nparts;
  int nparents;
  eng_ds *parents[2];
  eng_udf *fn;              /* the lambda of map, filter, ... */
  const eng_dtype *dtype;
  char *origin;             /* "map at cell[3]:1" */

  /* sources */
  int64_t start, end, step; /* RANGE */
  eng_batch **slices;       /* PARALLELIZE: one batch per partition */
  eng_text_split *splits;   /* TEXT */
  int nsplits;
  char *path;               /* TEXT: as given */

  /* narrow parameters */
  int with_replacement;     /* SAMPLE */
  double fraction;
  int64_t seed;
  int64_t *offsets;         /* ZIP_INDEX: start index of each partition, once known */
  int join_kind;            /* JOIN_ROWS */
  int *coalesce_from;       /* COALESCE: partition i reads parent partitions [from[i], from[i+1]) */

  /* wide */
  eng_shuffle_spec sh;      /* SHUFFLED; COGROUP uses nparts/part_kind */
  int shuffle_id[2];        /* per parent: its shuffle, or -1 when read narrowly */
  int cogroup_whole[2];     /* COGROUP input rows are whole keys (intersection, subtract) */

  /* partitioning of the output, for co-partitioned joins (Spark's partitioner) */
  int part_kind;            /* -1 none, else ENG_PART_HASH with part_n partitions */
  int part_n;

  /* persistence, updated by jobs */
  int storage;              /* ENG_STORAGE_* */
  int *cached_on;           /* per partition: executor id holding it, or -1 */
  int64_t *cached_mem;      /* bytes in memory / on disk per partition */
  int64_t *cached_disk;
  int ckpt_requested, ckpt_done;
  char *ckpt_dir;
};

/* ---- internal API (plan.c) ------------------------------------------------ */

/* A new node with n partitions and the given parents, registered in the
 * session. NULL + session error on out-of-memory. */
eng_ds *eng__ds_new(eng_session *s, eng_op op, int nparts, int nparents, eng_ds *const *parents);
/* The node's Spark-style class name for explain ("MapPartitionsRDD"). */
const char *eng__op_class(eng_op op);
/* The user-facing operation name ("map", "reduce_by_key"). */
const char *eng__op_name(eng_op op);
/* True for sources and for nodes whose output is materialized elsewhere
 * (checkpointed). */
int eng__ds_is_source(const eng_ds *d);
/* Number of shuffle dependencies of d (its parents read through a shuffle). */
int eng__ds_is_wide(const eng_ds *d);

/* The common element type of a list value's items (parallelize). */
const eng_dtype *eng__dtype_of_items(eng_session *s, eng_val list);

/* Serializes a UDF instance's captures (broadcasts by id). */
int eng__udf_caps_blob(eng_udf *f);

/* ---- lambda checks (api_transform.c), for actions too ---------------------- */

/* A one-element lambda (one parameter, or key and value of a pair) over d:
 * 0, or a TypeError (ValueError without a function) in the session. */
int eng__check_elem_udf(eng_ds *d, eng_udf *f, const char *op);
/* Parameter i of f (when it has one) can take values of type t: 0, or a
 * TypeError in the session. */
int eng__check_param(eng_session *s, const char *op, eng_udf *f, int i, const eng_dtype *t);

#endif
