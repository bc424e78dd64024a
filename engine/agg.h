/* agg.h -- combining values by key (Spark's Aggregator), on both sides of a
 * shuffle: the map side combines before writing, the reduce side merges what
 * the maps wrote (internal to engine/).
 *
 * An aggregator keeps one entry per key in insertion order (htab.h). Raw
 * values go in with eng__agg_value (create or merge), partial results from
 * map sides with eng__agg_comb (merge combiners). When the table outgrows
 * the task's memory limit, a reduce-side aggregator spills: it writes its
 * entries to 16 files by a hash of the key, sends every later row there too,
 * and at the end aggregates each file on its own (Grace hash aggregation),
 * so no key's rows are ever split between two passes.
 *
 * Ownership: eng__agg_new() returns an owned aggregator (eng__agg_free).
 * Thread-safety: the task's thread.
 * Errors: 0 / ENG_E* with t->err; user code raising unwinds to the task guard.
 */
#ifndef ENG_AGG_H
#define ENG_AGG_H

#include <jansson.h>

#include "htab.h"
#include "task.h"

typedef struct eng_agg eng_agg;

/* spec: {"agg": kind, "f": [udf refs], "zero": blob, "key_whole": bool}. */
eng_agg *eng__agg_new(eng_task *t, json_t *spec, int can_spill, eng_err *err);
void eng__agg_free(eng_agg *a);
int eng__agg_value(eng_agg *a, eng_val key, eng_val v);
/* eng__agg_value over n rows (keys[i], vals[i]): the same result, with the
 * typed table's rows pushed in one loop. */
int eng__agg_values(eng_agg *a, const eng_val *keys, const eng_val *vals, int64_t n);
int eng__agg_comb(eng_agg *a, eng_val key, eng_val c);
/* Does the aggregator take whole rows as keys (distinct)? */
int eng__agg_key_whole(eng_agg *a);
/* Splits a row into key and value as the aggregator expects. */
int eng__agg_split_row(eng_agg *a, eng_val row, eng_val *key, eng_val *v);
/* Number of entries in memory and their approximate bytes. */
int64_t eng__agg_count(eng_agg *a);
int64_t eng__agg_bytes(eng_agg *a);
/* The row of entry i (after eng__agg_count, which finishes queued work):
 * the key (distinct) or (key, combined value). */
eng_val eng__agg_row(eng_agg *a, int64_t i);
/* Empties the table (map side, after flushing its rows to the writer). */
void eng__agg_clear(eng_agg *a);
/* A stream of the aggregated rows; the aggregator is consumed (taken). */
eng_stream *eng__agg_stream(eng_agg *a);

#endif
