/* udf_tier.h -- the second tier: typed kernels that run hot are compiled
 * again by the system C compiler, in the background, and replace tcc's.
 *
 * Why: tcc does not optimize. A filter `x % 7 == 0` spends most of its time
 * in a division instruction that gcc -O2 turns into a multiplication, and
 * tcc's loops keep every variable in memory. Spark leans on the JVM's JIT
 * tiers for the same reason.
 *
 * Which kernels: the typed numeric ones (map_ll, map_ld, map_dd, map_dl,
 * filter_l, filter_d) of UDFs without captures or `static` variables, once
 * lambdas of the same body (source and types: the same text in another
 * cell counts too) have run over UDF_TIER_ROWS rows in this process. Their source is the
 * one tcc compiled (prelude, the lambda, its kernels), built with -O2
 * -fwrapv -ffp-contract=off (tcc's arithmetic: integers wrap, no fused
 * multiply-add) into a shared object that may use nothing but libc and
 * libm: a kernel that calls an ember helper or a session function fails to
 * link and keeps tcc's code. That link is the check, not a parse.
 *
 * The compiler is $EMBER_CC, else cc; EMBER_CC set to nothing turns the tier
 * off, and so does a compiler that cannot be run (the first failure to
 * start one turns it off for the process). Compiles run one at a time, as
 * child processes of a worker thread.
 *
 * Ownership: objects stay loaded until udf_tier_disable (kernels point into
 *   them). Thread-safety: udf_tier_note is called by the thread that runs
 *   the UDF (an executor's task thread), which is then the only one to read
 *   or write its kernel pointers; the rest is locked. Errors: none reported; a kernel that cannot be built stays
 *   tcc's (EMBER_TIER_LOG=FILE writes the compiler's messages there).
 */
#ifndef UDF_TIER_H
#define UDF_TIER_H

#include <stdint.h>

#include "udf.h"

/* A build costs about 35 ms of one core; 1e7 rows through tcc's kernels
 * take 15-30 ms. So a build never costs much more than tcc's code has
 * already taken, and a kernel that keeps running pays it back soon. */
#define UDF_TIER_ROWS 10000000

/* Turns the tier on for this process; sources and objects go to dir. */
void udf_tier_enable(const char *dir);
/* Stops the worker (a running compile is killed) and unloads the objects.
 * Only once no UDF of this process will run again (tests, exit). */
void udf_tier_disable(void);
/* Before f's typed kernels run over rows more rows: gives f its body's
 * built kernels if there are any, else counts the rows and queues the body
 * for a build past UDF_TIER_ROWS. */
void udf_tier_note(udf_fn *f, int64_t rows);
/* Waits until no compile is queued or running (tests). */
void udf_tier_wait_idle(void);

#endif
