/* udf_tier.c -- the second tier (see udf_tier.h).
 *
 * One worker thread builds queued bodies one at a time: it writes the
 * module source and a linker version script exporting only the typed
 * kernels, runs the compiler (output to /dev/null or EMBER_TIER_LOG),
 * loads the object and looks the kernels up. A UDF takes its body's
 * kernels at its next udf_tier_note, on the task thread, before a batch: a
 * kernel pointer never changes under a running batch.
 * Unexported code is garbage-collected by the linker before -z defs looks
 * for undefined symbols, so the generic entry points, which call ember's
 * helpers, do not stop a pure kernel.
 */
#include "udf_tier.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../engine/mem.h"
#include "udf_int.h"

extern char **environ;

enum { T_COUNTING = 0, T_DONE, T_NEVER }; /* udf_fn.tier_state */

enum { B_COUNTING = 0, B_QUEUED, B_BUILDING, B_BUILT, B_FAILED };

/* One per lambda body: the same text in another cell (or a cell run
 * again) is another UDF with the same kernels, so rows are counted and
 * kernels built per body, and every UDF of that body takes them. */
typedef struct body {
  uint64_t key;
  int64_t rows;
  int state;
  udf_def *def; /* while queued: what to build (the worker takes it) */
  void *k[UDF_NKERN];
} body;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_enabled, g_stop, g_have_worker;
static pthread_t g_worker;
static char *g_dir, *g_cc;
static body *g_bodies;
static int g_nbodies, g_capbodies;
static void **g_objs; /* loaded objects, unloaded by udf_tier_disable */
static int g_nobj, g_capobj;
static pid_t g_child;

static int grow_array(void **p, int *cap, int n, size_t size) {
  if (n < *cap) return 0;
  int c = *cap ? *cap * 2 : 8;
  void *q = eng_realloc(*p, (size_t)c * size);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

/* Runs argv (the compiler), its output to EMBER_TIER_LOG or nowhere, with
 * posix_spawn (an executor may hold gigabytes: fork would copy their page
 * tables). Not niced: between back-to-back jobs a niced compile waited
 * through several; it costs about 35 ms of one core, once per lambda body.
 * Returns its exit status, or -1 if it could not be started. */
static int run_compiler(char *const *argv) {
  const char *log = getenv("EMBER_TIER_LOG");
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) return -1;
  const char *out = log && *log ? log : "/dev/null";
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  pthread_mutex_lock(&g_lock);
  g_child = pid;
  pthread_mutex_unlock(&g_lock);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  pthread_mutex_lock(&g_lock);
  g_child = 0;
  pthread_mutex_unlock(&g_lock);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  if (!fp) return -1;
  int ok = fputs(text, fp) >= 0;
  return fclose(fp) == 0 && ok ? 0 : -1;
}

/* Builds the kernels of def into k (those the object has). */
static int build(const udf_def *def, uint64_t key, void **k) {
  const char *names[UDF_NKERN];
  int nk = udf__gen_kernel_names(def, names, UDF_NKERN);
  if (nk <= 0) return -1;
  char src[1100], map[1100], obj[1100];
  snprintf(src, sizeof src, "%s/tier-%016llx.c", g_dir, (unsigned long long)key);
  snprintf(map, sizeof map, "%s/tier-%016llx.map", g_dir, (unsigned long long)key);
  snprintf(obj, sizeof obj, "%s/tier-%016llx.so", g_dir, (unsigned long long)key);
  eng_buf text, vs;
  eng_buf_init(&text);
  eng_buf_init(&vs);
  udf__gen_source(&text, def);
  eng_buf_puts(&vs, "{ global:");
  for (int i = 0; i < nk; i++) eng_buf_printf(&vs, " %s;", names[i]);
  eng_buf_puts(&vs, " local: *; };\n");
  int rc = text.oom || vs.oom || write_file(src, eng_buf_cstr(&text)) < 0 || write_file(map, eng_buf_cstr(&vs)) < 0 ? -1 : 0;
  eng_buf_free(&text);
  eng_buf_free(&vs);
  if (rc < 0) return -1;
  char vflag[1200];
  snprintf(vflag, sizeof vflag, "-Wl,--version-script=%s", map);
  char *argv[] = {g_cc, "-O2", "-fPIC", "-shared", "-w", "-std=gnu11", "-fwrapv", "-fno-strict-aliasing",
                  "-ffp-contract=off", "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
                  "-Wl,-z,defs", vflag, "-o", obj, src, "-lm", NULL};
  int st = run_compiler(argv);
  unlink(src);
  unlink(map);
  if (st < 0) {
    /* No compiler to run: the tier is off for good. */
    pthread_mutex_lock(&g_lock);
    g_enabled = 0;
    pthread_mutex_unlock(&g_lock);
    return -1;
  }
  if (st != 0) return -1;
  void *dl = dlopen(obj, RTLD_NOW | RTLD_LOCAL);
  unlink(obj); /* mapped now */
  if (!dl) return -1;
  int got = 0;
  for (int i = 0; i < UDF_NKERN; i++) got += (k[i] = dlsym(dl, udf__kernels[i].name)) != NULL;
  pthread_mutex_lock(&g_lock);
  int kept = got && grow_array((void **)&g_objs, &g_capobj, g_nobj, sizeof *g_objs) == 0;
  if (kept) g_objs[g_nobj++] = dl;
  pthread_mutex_unlock(&g_lock);
  if (!kept) {
    dlclose(dl);
    return -1;
  }
  return 0;
}

static body *body_in(int state) {
  for (int i = 0; i < g_nbodies; i++)
    if (g_bodies[i].state == state) return &g_bodies[i];
  return NULL;
}

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_lock);
  for (;;) {
    body *b;
    while (!g_stop && (!g_enabled || !(b = body_in(B_QUEUED)))) pthread_cond_wait(&g_cond, &g_lock);
    if (g_stop) break;
    udf_def *def = b->def;
    uint64_t key = b->key;
    b->def = NULL;
    b->state = B_BUILDING;
    pthread_mutex_unlock(&g_lock);
    void *k[UDF_NKERN] = {0};
    int ok = build(def, key, k) == 0;
    udf_def_free(def);
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nbodies; i++) /* g_bodies may have moved */
      if (g_bodies[i].key == key) {
        if (ok) memcpy(g_bodies[i].k, k, sizeof k);
        g_bodies[i].state = ok ? B_BUILT : B_FAILED;
      }
    pthread_cond_broadcast(&g_cond);
  }
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

void udf_tier_enable(const char *dir) {
  const char *cc = getenv("EMBER_CC");
  if (cc && !*cc) return;
  pthread_mutex_lock(&g_lock);
  eng_free(g_dir);
  eng_free(g_cc);
  g_dir = eng_strdup(dir);
  g_cc = eng_strdup(cc ? cc : "cc");
  g_enabled = g_dir && g_cc;
  g_stop = 0;
  pthread_mutex_unlock(&g_lock);
}

void udf_tier_disable(void) {
  pthread_mutex_lock(&g_lock);
  g_enabled = 0;
  g_stop = 1;
  if (g_child > 0) kill(g_child, SIGKILL);
  int joined = g_have_worker;
  g_have_worker = 0;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
  if (joined) pthread_join(g_worker, NULL);
  pthread_mutex_lock(&g_lock);
  for (int i = 0; i < g_nobj; i++) dlclose(g_objs[i]);
  for (int i = 0; i < g_nbodies; i++) udf_def_free(g_bodies[i].def);
  eng_free(g_objs);
  eng_free(g_bodies);
  eng_free(g_dir);
  eng_free(g_cc);
  g_objs = NULL;
  g_bodies = NULL;
  g_dir = g_cc = NULL;
  g_nobj = g_capobj = g_nbodies = g_capbodies = 0;
  g_stop = 0;
  pthread_mutex_unlock(&g_lock);
}

/* Can f's kernels be built by another compiler with the same meaning? */
static int eligible(const udf_fn *f) {
  const udf_def *d = f->def;
  if (d->builtin || d->ncaps || !d->source || !d->entry) return 0;
  /* A static variable would be two: one in tcc's code, one in the new. The
   * only `static` allowed is on the line that defines the lambda itself
   * (the REPL makes it a static function). */
  size_t elen = strlen(d->entry);
  for (const char *q = d->source; (q = strstr(q, "static")); q += 6) {
    const char *eol = strchr(q, '\n');
    const char *at = strstr(q, d->entry);
    if (!at || (eol && at > eol) || at[elen] != '(') return 0;
  }
  for (int i = 0; i < UDF_NKERN; i++)
    if (*udf__kernel_slot((udf_fn *)f, i)) return 1;
  return 0;
}

/* The body's key: source, entry and types, without what names the cell
 * (#line lines, the lambda's generated name), so the same lambda text in
 * another cell has the same key. */
static uint64_t body_key(const udf_def *d) {
  uint64_t h = 1469598103934665603ull;
  size_t elen = strlen(d->entry);
  for (const char *p = d->source; *p;) {
    if ((p == d->source || p[-1] == '\n') && strncmp(p, "#line", 5) == 0) {
      while (*p && *p != '\n') p++;
      continue;
    }
    if (elen && strncmp(p, d->entry, elen) == 0) {
      p += elen;
      continue;
    }
    h = (h ^ (unsigned char)*p++) * 1099511628211ull;
  }
  const unsigned char *t = (const unsigned char *)&d->ret;
  for (size_t i = 0; i < sizeof d->ret; i++) h = (h ^ t[i]) * 1099511628211ull;
  for (int j = 0; j < d->nparams; j++) {
    t = (const unsigned char *)&d->params[j];
    for (size_t i = 0; i < sizeof d->params[j]; i++) h = (h ^ t[i]) * 1099511628211ull;
  }
  return h | 1;
}

void udf_tier_note(udf_fn *f, int64_t rows) {
  if (f->tier_state != T_COUNTING) return;
  pthread_mutex_lock(&g_lock);
  if (!g_enabled) {
    pthread_mutex_unlock(&g_lock);
    return;
  }
  if (!f->tier_key) f->tier_key = eligible(f) ? body_key(f->def) : 0;
  if (!f->tier_key) {
    f->tier_state = T_NEVER;
    pthread_mutex_unlock(&g_lock);
    return;
  }
  body *b = NULL;
  for (int i = 0; i < g_nbodies && !b; i++)
    if (g_bodies[i].key == f->tier_key) b = &g_bodies[i];
  if (!b) {
    if (grow_array((void **)&g_bodies, &g_capbodies, g_nbodies, sizeof *g_bodies) < 0) {
      pthread_mutex_unlock(&g_lock);
      return;
    }
    b = &g_bodies[g_nbodies++];
    memset(b, 0, sizeof *b);
    b->key = f->tier_key;
  }
  if (b->state == B_BUILT) {
    for (int k = 0; k < UDF_NKERN; k++)
      if (b->k[k] && *udf__kernel_slot(f, k)) *udf__kernel_slot(f, k) = b->k[k];
    f->tier_state = T_DONE;
  } else if (b->state == B_FAILED) {
    f->tier_state = T_NEVER;
  } else if (b->state == B_COUNTING && (b->rows += rows) >= UDF_TIER_ROWS) {
    b->def = udf_def_copy(f->def);
    if (b->def && (g_have_worker || pthread_create(&g_worker, NULL, worker_main, NULL) == 0)) {
      g_have_worker = 1;
      b->state = B_QUEUED;
      pthread_cond_broadcast(&g_cond);
    } else {
      udf_def_free(b->def);
      b->def = NULL;
      b->state = B_FAILED;
    }
  }
  pthread_mutex_unlock(&g_lock);
}

void udf_tier_wait_idle(void) {
  pthread_mutex_lock(&g_lock);
  while (g_have_worker && g_enabled && (body_in(B_QUEUED) || body_in(B_BUILDING)))
    pthread_cond_wait(&g_cond, &g_lock);
  pthread_mutex_unlock(&g_lock);
}
