/* mem.h -- the one allocator of ember, with accounting and fault injection.
 *
 * Ownership: eng_malloc/eng_calloc/eng_realloc/eng_strdup return memory the
 *   caller owns and frees with eng_free (NULL-safe).
 * Thread-safety: all functions are thread-safe; counters are atomic.
 * Errors: allocation failure returns NULL (never aborts). Tests can make the
 *   Nth allocation from now fail with eng_mem_fail_after(n).
 *
 * Every allocation carries a 16-byte header recording its size, so that
 * eng_mem_in_use() is exact: tests check it returns to its starting value.
 */
#ifndef ENG_MEM_H
#define ENG_MEM_H

#include <stddef.h>
#include <stdint.h>
#include "eng_types.h"

ENG_API void *eng_malloc(size_t n);
ENG_API void *eng_calloc(size_t count, size_t size);
ENG_API void *eng_realloc(void *p, size_t n);
ENG_API void eng_free(void *p);
ENG_API char *eng_strdup(const char *s);
ENG_API char *eng_strndup(const char *s, size_t n);

/* Like eng_malloc but never returns NULL: on failure the process exits with
 * "MemoryError" on stderr. Used only where a failure cannot be reported
 * (executors, whose death the driver survives by retrying). */
void *eng__xmalloc(size_t n);
void *eng__xrealloc(void *p, size_t n);
void *eng__xcalloc(size_t count, size_t size);

/* eng_calloc for big tables probed at random: asks for huge pages. */
void *eng__calloc_huge(size_t count, size_t size);

/* Bytes currently allocated through this module, and allocations made. */
ENG_API int64_t eng_mem_in_use(void);
ENG_API int64_t eng_mem_allocs(void);

/* Make the n-th allocation from now (1 = the next) fail; 0 turns it off. */
ENG_API void eng_mem_fail_after(long n);

#endif
