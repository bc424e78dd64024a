/* blockstore.h -- an executor's blocks: cached partitions and shuffle map
 * outputs, in memory within a budget, spilled to local disk past it.
 *
 * A block is a sequence of serialized batches. Cached partitions
 * ("rdd_<ds>_<part>") are one sequence; a shuffle map output
 * ("shuffle_<s>_<m>") holds one sequence per reduce partition, read as
 * "shuffle_<s>_<m>_<r>". Blocks are kept in memory (batches are shared, not
 * copied) until memory runs short; then the least recently used are dropped
 * (MEMORY_ONLY) or written to disk (MEMORY_AND_DISK, shuffle output), where
 * they remain readable. Dropped block ids are queued for the driver, which
 * recomputes them from lineage when needed.
 *
 * Ownership: eng_bs_new() returns an owned store (eng_bs_free). Put functions
 *   take the batch references / buffers they are given. Readers return new
 *   batch references (unref them) or copy bytes into caller buffers.
 * Thread-safety: all functions lock the store; the task thread writes and
 *   reads, the comm thread serves blocks to other executors.
 * Errors: 0 / ENG_E* with eng_err; a missing block is ENG_EFETCH
 *   ("FetchFailed: block rdd_3_1 not found").
 */
#ifndef ENG_BLOCKSTORE_H
#define ENG_BLOCKSTORE_H

#include <stdint.h>

#include "buf.h"
#include "col.h"
#include "eng_types.h"

typedef struct eng_blockstore eng_blockstore;

/* budget: bytes of eng_malloc'd memory the executor may use; dir: where
 * spills go (created if missing, removed with the store). */
eng_blockstore *eng_bs_new(int64_t budget, const char *dir, eng_err *err);
void eng_bs_free(eng_blockstore *bs);
const char *eng_bs_dir(eng_blockstore *bs);
int64_t eng_bs_budget(eng_blockstore *bs);

/* Stores a cached partition with a storage level (ENG_MEMORY_ONLY, ...):
 * DISK_ONLY writes at once. *out_mem / *out_disk get where it went. */
int eng_bs_put_rdd(eng_blockstore *bs, int ds, int part, eng_batch **batches, int n, int level,
                   int64_t *out_mem, int64_t *out_disk, eng_err *err);
/* The same, a batch at a time, as a task computes the partition: past
 * `limit` bytes (the task's share of memory) or when memory runs short, a
 * MEMORY_ONLY partition is given up on and the others continue on disk, so
 * caching a partition bigger than memory does not exhaust it. append takes
 * the batch reference; commit returns 1 (stored; sizes set) or 0 (not
 * cached) and frees the handle, as abort does. */
typedef struct eng_rdd_out eng_rdd_out;
eng_rdd_out *eng_bs_rdd_begin(eng_blockstore *bs, int ds, int part, int level, int64_t limit,
                              eng_err *err);
int eng_bs_rdd_append(eng_rdd_out *o, eng_batch *b, eng_err *err);
int eng_bs_rdd_commit(eng_rdd_out *o, int64_t *out_mem, int64_t *out_disk, eng_err *err);
void eng_bs_rdd_abort(eng_rdd_out *o);
/* The batches of a cached partition (new references, *out eng_malloc'd);
 * loads from disk if spilled. ENG_EFETCH if absent. */
int eng_bs_get_rdd(eng_blockstore *bs, int ds, int part, eng_batch ***out, int *out_n,
                   eng_err *err);
/* The same for a partition in memory; 1 (nothing loaded) when it is on
 * disk, to be streamed with eng_bs_read instead. */
int eng_bs_get_rdd_mem(eng_blockstore *bs, int ds, int part, eng_batch ***out, int *out_n,
                       eng_err *err);
int eng_bs_has_rdd(eng_blockstore *bs, int ds, int part);

/* A shuffle map output under construction, per reduce partition. */
typedef struct eng_shuf_out eng_shuf_out;
eng_shuf_out *eng_bs_shuffle_begin(eng_blockstore *bs, int shuffle, int map, int nreduce);
/* Appends serialized batches (whole, 8-aligned) for reducer r. */
int eng_bs_shuffle_append(eng_shuf_out *o, int r, const char *data, size_t len, eng_err *err);
/* Bytes held in memory by this output so far. */
int64_t eng_bs_shuffle_mem(eng_shuf_out *o);
/* Writes what is in memory to the output's spill file (zstd-compressed). */
int eng_bs_shuffle_spill(eng_shuf_out *o, eng_err *err);
/* Publishes the output; sizes[nreduce] gets each reducer's bytes. Replaces
 * an earlier output of the same (shuffle, map). */
int eng_bs_shuffle_commit(eng_shuf_out *o, int64_t *sizes, eng_err *err);
void eng_bs_shuffle_abort(eng_shuf_out *o);

/* Reads whole batches of block `id` ("rdd_3_1", "shuffle_2_5_0") starting at
 * byte `offset` of its sequence, appending at most about max bytes (at
 * least one batch) to out. *out_next: offset after them, or -1 at the end. */
int eng_bs_read(eng_blockstore *bs, const char *id, int64_t offset, size_t max, eng_buf *out,
                int64_t *out_next, eng_err *err);

/* Removes blocks whose id starts with prefix ("rdd_3_", "shuffle_2_"). */
void eng_bs_remove_prefix(eng_blockstore *bs, const char *prefix);

/* Frees at least `need` bytes of memory by dropping or spilling least
 * recently used blocks; returns bytes freed. */
int64_t eng_bs_evict(eng_blockstore *bs, int64_t need);
/* Ids of MEMORY_ONLY blocks dropped since the last call (driver report):
 * appends "rdd_<ds>_<part>" strings separated by NUL to out; returns count. */
int eng_bs_take_dropped(eng_blockstore *bs, eng_buf *out);
/* Cached (MEMORY_AND_DISK) blocks moved from memory to disk since the last
 * call, for the driver's sizes: appends "rdd_<ds>_<part> <disk bytes>"
 * strings separated by NUL to out; returns count. */
int eng_bs_take_spilled(eng_blockstore *bs, eng_buf *out);

typedef struct eng_bs_stats {
  int64_t mem, disk; /* bytes held */
  int rdd_blocks, shuffle_blocks;
} eng_bs_stats;
void eng_bs_stats_get(eng_blockstore *bs, eng_bs_stats *out);

#endif
