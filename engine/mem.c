/* mem.c -- counted allocation with a size header, and fault injection.
 *
 * Invariant: every block handed out is preceded by a 16-byte header holding
 * its requested size, so frees can subtract exactly and alignment stays 16.
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HDR 16

static _Atomic int64_t g_in_use;
static _Atomic int64_t g_allocs;
static _Atomic long g_fail_after;

/* Returns 1 when fault injection says this allocation must fail. */
static int should_fail(void) {
  long n = atomic_load_explicit(&g_fail_after, memory_order_relaxed);
  if (n <= 0) return 0;
  long left = atomic_fetch_sub(&g_fail_after, 1);
  return left == 1;
}

void *eng_malloc(size_t n) {
  if (should_fail()) return NULL;
  unsigned char *p = malloc(n + HDR);
  if (!p) return NULL;
  *(size_t *)p = n;
  atomic_fetch_add_explicit(&g_in_use, (int64_t)n, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return p + HDR;
}

void *eng_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  void *p = eng_malloc(count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

void *eng__calloc_huge(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  unsigned char *p = eng_malloc(n);
  if (!p) return NULL;
#ifdef MADV_HUGEPAGE
  /* Before the first touch (the memset), so the kernel can back the range
   * with 2 MiB pages: with 4 KiB pages, random probes into a table of a few
   * MiB miss the TLB as often as the cache. Advice only: errors are moot. */
  if (n >= ((size_t)4 << 20)) {
    uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
  }
#endif
  memset(p, 0, n);
  return p;
}

void *eng_realloc(void *p, size_t n) {
  if (!p) return eng_malloc(n);
  if (should_fail()) return NULL;
  unsigned char *base = (unsigned char *)p - HDR;
  size_t old = *(size_t *)base;
  unsigned char *q = realloc(base, n + HDR);
  if (!q) return NULL;
  *(size_t *)q = n;
  atomic_fetch_add_explicit(&g_in_use, (int64_t)n - (int64_t)old, memory_order_relaxed);
  return q + HDR;
}

void eng_free(void *p) {
  if (!p) return;
  unsigned char *base = (unsigned char *)p - HDR;
  atomic_fetch_sub_explicit(&g_in_use, (int64_t) * (size_t *)base, memory_order_relaxed);
  free(base);
}

char *eng_strdup(const char *s) { return s ? eng_strndup(s, strlen(s)) : NULL; }

char *eng_strndup(const char *s, size_t n) {
  char *d = eng_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static void oom(size_t n) {
  fprintf(stderr, "MemoryError: cannot allocate %zu bytes\n", n);
  _Exit(70);
}

void *eng__xmalloc(size_t n) {
  void *p = eng_malloc(n);
  if (!p) oom(n);
  return p;
}

void *eng__xrealloc(void *p, size_t n) {
  void *q = eng_realloc(p, n);
  if (!q) oom(n);
  return q;
}

void *eng__xcalloc(size_t count, size_t size) {
  void *p = eng_calloc(count, size);
  if (!p) oom(count * size);
  return p;
}

int64_t eng_mem_in_use(void) { return atomic_load(&g_in_use); }
int64_t eng_mem_allocs(void) { return atomic_load(&g_allocs); }
void eng_mem_fail_after(long n) { atomic_store(&g_fail_after, n); }
