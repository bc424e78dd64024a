/* tramp.c -- trampolines for the session's functions (see tramp.h). */
#include "tramp.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "../engine/mem.h"

/* One trampoline: `jmp *slot(%rip)`, two bytes of int3, then the 8-byte
 * slot, aligned so that it is written in one store. */
#define TRAMP_SIZE 16
#define PAGE_SIZE_BYTES 4096
#define PER_PAGE (PAGE_SIZE_BYTES / TRAMP_SIZE)

typedef struct tramp {
  char *name;
  unsigned char *code;
} tramp;

struct repl_tramps {
  tramp *t;
  int n, cap;
  unsigned char **pages;
  int npages;
  int used; /* trampolines in the last page */
};

static unsigned char *new_code(repl_tramps *ts) {
  if (ts->npages == 0 || ts->used == PER_PAGE) {
    /* Readable, writable and executable, as libtcc's own code memory is:
     * the slot is rewritten on redefinition. */
    void *p = mmap(NULL, PAGE_SIZE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    unsigned char **np = eng_realloc(ts->pages, (size_t)(ts->npages + 1) * sizeof *np);
    if (!np) {
      munmap(p, PAGE_SIZE_BYTES);
      return NULL;
    }
    ts->pages = np;
    ts->pages[ts->npages++] = p;
    ts->used = 0;
  }
  unsigned char *c = ts->pages[ts->npages - 1] + (size_t)ts->used++ * TRAMP_SIZE;
  static const unsigned char jmp[8] = {0xFF, 0x25, 0x02, 0x00, 0x00, 0x00, 0xCC, 0xCC};
  memcpy(c, jmp, sizeof jmp);
  return c;
}

void *repl_tramp_set(repl_tramps **pt, const char *name, void *target) {
#if defined(__x86_64__)
  if (!target) return NULL;
  if (!*pt && !(*pt = eng_calloc(1, sizeof **pt))) return target;
  repl_tramps *ts = *pt;
  tramp *found = NULL;
  for (int i = 0; i < ts->n && !found; i++)
    if (strcmp(ts->t[i].name, name) == 0) found = &ts->t[i];
  if (!found) {
    if (ts->n == ts->cap) {
      int cap = ts->cap ? ts->cap * 2 : 16;
      tramp *nt = eng_realloc(ts->t, (size_t)cap * sizeof *nt);
      if (!nt) return target;
      ts->t = nt;
      ts->cap = cap;
    }
    unsigned char *code = new_code(ts);
    char *copy = eng_strdup(name);
    if (!code || !copy) {
      eng_free(copy);
      return target;
    }
    found = &ts->t[ts->n++];
    found->name = copy;
    found->code = code;
  }
  __atomic_store_n((uintptr_t *)(found->code + 8), (uintptr_t)target, __ATOMIC_RELEASE);
  return found->code;
#else
  (void)pt;
  (void)name;
  return target;
#endif
}

void repl_tramps_free(repl_tramps *ts) {
  if (!ts) return;
  for (int i = 0; i < ts->n; i++) eng_free(ts->t[i].name);
  eng_free(ts->t);
  for (int i = 0; i < ts->npages; i++) munmap(ts->pages[i], PAGE_SIZE_BYTES);
  eng_free(ts->pages);
  eng_free(ts);
}
