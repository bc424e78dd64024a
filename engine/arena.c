/* arena.c -- chunked bump allocator.
 *
 * Invariant: chunks form a list, newest first; allocations are 16-byte
 * aligned; a request larger than a quarter chunk gets a chunk of its own, so
 * big blocks do not waste the tail of the current chunk.
 */
#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

typedef struct chunk {
  struct chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  /* data follows, 16-aligned */
} chunk;

#define CHUNK_HDR ((sizeof(chunk) + 15) & ~(size_t)15)

struct eng_arena {
  chunk *head;
  size_t chunk_size;
  size_t footprint;
  size_t used;
};

static __thread eng_arena *t_current;

eng_arena *eng_arena_new(size_t chunk_size) {
  eng_arena *a = eng_calloc(1, sizeof *a);
  if (!a) return NULL;
  a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
  return a;
}

static void free_chunks(chunk *c) {
  while (c) {
    chunk *n = c->next;
    eng_free(c);
    c = n;
  }
}

void eng_arena_free(eng_arena *a) {
  if (!a) return;
  if (t_current == a) t_current = NULL;
  free_chunks(a->head);
  eng_free(a);
}

/* Keeps the oldest regular-size chunk so a reset arena does not go back to
 * the system for its next allocation. */
void eng_arena_reset(eng_arena *a) {
  chunk *keep = NULL, *c = a->head;
  while (c) {
    chunk *n = c->next;
    if (!keep && c->size == a->chunk_size) {
      keep = c;
    } else {
      eng_free(c);
    }
    c = n;
  }
  a->head = keep;
  a->footprint = 0;
  if (keep) {
    keep->next = NULL;
    keep->used = 0;
    a->footprint = keep->size + CHUNK_HDR;
  }
  a->used = 0;
}

void *eng_arena_alloc(eng_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  chunk *c = a->head;
  if (c && c->size - c->used >= n) {
    void *p = (char *)c + CHUNK_HDR + c->used;
    c->used += n;
    a->used += n;
    return p;
  }
  size_t sz = n > a->chunk_size / 4 ? n : a->chunk_size;
  chunk *nc = eng_malloc(CHUNK_HDR + sz);
  if (!nc) return NULL;
  nc->size = sz;
  nc->used = n;
  a->footprint += CHUNK_HDR + sz;
  a->used += n;
  if (sz != a->chunk_size && c) {
    /* A private big chunk goes behind the head so the head keeps filling. */
    nc->next = c->next;
    c->next = nc;
  } else {
    nc->next = c;
    a->head = nc;
  }
  return (char *)nc + CHUNK_HDR;
}

void *eng__arena_xalloc(eng_arena *a, size_t n) {
  void *p = eng_arena_alloc(a, n);
  if (!p) {
    fprintf(stderr, "MemoryError: arena cannot grow by %zu bytes\n", n);
    _Exit(70);
  }
  return p;
}

char *eng_arena_strndup(eng_arena *a, const char *s, size_t n) {
  char *d = eng_arena_alloc(a, n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

size_t eng_arena_footprint(const eng_arena *a) { return a->footprint; }
size_t eng_arena_used(const eng_arena *a) { return a->used; }

eng_arena *eng_arena_set_current(eng_arena *a) {
  eng_arena *old = t_current;
  t_current = a;
  return old;
}

eng_arena *eng_arena_current(void) { return t_current; }

void *eng__cur_alloc(size_t n) {
  if (!t_current) {
    /* A helper called with no arena set is a programming error in ember;
     * fall back to a thread arena that lives until the thread ends. */
    static __thread eng_arena *fallback;
    if (!fallback) fallback = eng_arena_new(0);
    t_current = fallback;
  }
  return eng__arena_xalloc(t_current, n);
}
