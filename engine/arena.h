/* arena.h -- bump allocation for one task, one batch, or one session.
 *
 * Ownership: eng_arena_new() returns an owned arena; eng_arena_free() drops it
 *   and everything allocated from it. eng_arena_reset() keeps the first chunk
 *   and forgets every allocation. Nothing allocated from an arena may outlive it.
 * Thread-safety: an arena belongs to one thread at a time.
 * Errors: eng_arena_alloc returns NULL when memory runs out (the task then
 *   fails with ENG_ENOMEM); eng__arena_xalloc exits the process instead, for
 *   helpers called from compiled user code, which cannot check.
 *
 * The "current arena" is per thread: helpers called from user code (split,
 * strf, kv, ...) allocate from it. The executor points it at the task's batch
 * arena; the session points it at the session's value arena.
 */
#ifndef ENG_ARENA_H
#define ENG_ARENA_H

#include <stddef.h>
#include "eng_types.h"

typedef struct eng_arena eng_arena;

ENG_API eng_arena *eng_arena_new(size_t chunk_size);
ENG_API void eng_arena_free(eng_arena *a);
ENG_API void eng_arena_reset(eng_arena *a);
ENG_API void *eng_arena_alloc(eng_arena *a, size_t n);
void *eng__arena_xalloc(eng_arena *a, size_t n);
ENG_API char *eng_arena_strndup(eng_arena *a, const char *s, size_t n);
/* Bytes reserved from the system by this arena (its footprint). */
ENG_API size_t eng_arena_footprint(const eng_arena *a);
/* Bytes handed out since creation or the last reset. */
ENG_API size_t eng_arena_used(const eng_arena *a);

/* The calling thread's current arena (NULL if none); returns the old one. */
ENG_API eng_arena *eng_arena_set_current(eng_arena *a);
ENG_API eng_arena *eng_arena_current(void);
/* Allocate from the current arena; exits with MemoryError if impossible. */
void *eng__cur_alloc(size_t n);

#endif
