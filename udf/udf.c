/* udf.c -- UDF definitions, compiling them with libtcc, and the cache.
 *
 * This is the only file that talks to libtcc. The libtcc here (0.9.27,
 * 2020 snapshot) wants tcc_set_options before tcc_set_output_type, takes two
 * arguments in tcc_relocate, and serializes compiles with a global lock.
 * Compiled code cannot move between processes, so UDFs travel as source and
 * every process compiles its own copy, once per content hash.
 */
#include "udf.h"
#include "../engine/clock.h"

#include <jansson.h>
#include <libtcc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../engine/err.h"
#include "../engine/mem.h"
#include "udf_int.h"

#ifndef UDF_TCC_LIB
#define UDF_TCC_LIB "/usr/lib/x86_64-linux-gnu/tcc"
#endif

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const type_names[] = {"void", "long", "int", "double",
                                         "bool", "str",  "char *", "val"};

const char *udf_type_name(udf_type t) {
  return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?";
}

int udf_type_parse(const char *name) {
  for (int i = 0; i < (int)(sizeof type_names / sizeof type_names[0]); i++)
    if (strcmp(name, type_names[i]) == 0) return i;
  if (strcmp(name, "char*") == 0 || strcmp(name, "const char *") == 0) return UDF_CSTR;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Definitions                                                              */
/* ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
  h = fnv(h, s ? s : "", s ? strlen(s) : 0);
  return fnv(h, "\0", 1);
}

static void def_hash(udf_def *d) {
  uint64_t h = 1469598103934665603ull;
  h = fnv_str(h, d->source);
  h = fnv_str(h, d->entry);
  h = fnv_str(h, d->builtin);
  h = fnv(h, &d->ret, sizeof d->ret);
  h = fnv(h, &d->nparams, sizeof d->nparams);
  h = fnv(h, d->params, sizeof d->params[0] * (size_t)d->nparams);
  for (int i = 0; i < d->ncaps; i++) {
    h = fnv_str(h, d->cap_names[i]);
    h = fnv(h, &d->cap_types[i], sizeof d->cap_types[i]);
  }
  d->hash = h;
}

void udf_def_free(udf_def *d) {
  if (!d) return;
  eng_free(d->name);
  eng_free(d->source);
  eng_free(d->entry);
  eng_free(d->builtin);
  for (int i = 0; i < d->ncaps; i++) eng_free(d->cap_names[i]);
  eng_free(d->cap_names);
  eng_free(d->cap_types);
  eng_free(d);
}

udf_def *udf_def_new(const char *name, const char *source, const char *entry, udf_type ret,
                     int nparams, const udf_type *params, int ncaps,
                     const char *const *cap_names, const udf_type *cap_types) {
  if (nparams < 0 || nparams > UDF_MAX_PARAMS || ncaps < 0) return NULL;
  udf_def *d = eng_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->name = eng_strdup(name ? name : "lambda");
  d->source = source ? eng_strdup(source) : NULL;
  d->entry = entry ? eng_strdup(entry) : NULL;
  d->ret = ret;
  d->nparams = nparams;
  for (int i = 0; i < nparams; i++) d->params[i] = params[i];
  d->ncaps = ncaps;
  if (ncaps) {
    d->cap_names = eng_calloc((size_t)ncaps, sizeof *d->cap_names);
    d->cap_types = eng_calloc((size_t)ncaps, sizeof *d->cap_types);
    if (!d->cap_names || !d->cap_types) {
      udf_def_free(d);
      return NULL;
    }
    for (int i = 0; i < ncaps; i++) {
      d->cap_names[i] = eng_strdup(cap_names[i]);
      d->cap_types[i] = cap_types[i];
      if (!d->cap_names[i]) {
        udf_def_free(d);
        return NULL;
      }
    }
  }
  if (!d->name || (source && !d->source) || (entry && !d->entry)) {
    udf_def_free(d);
    return NULL;
  }
  def_hash(d);
  return d;
}

udf_def *udf_def_builtin(const char *name) {
  udf_type ret, params[UDF_MAX_PARAMS];
  int np;
  if (udf__builtin_sig(name, &ret, &np, params) < 0) return NULL;
  udf_def *d = udf_def_new(name, NULL, NULL, ret, np, params, 0, NULL, NULL);
  if (!d) return NULL;
  d->builtin = eng_strdup(name);
  if (!d->builtin) {
    udf_def_free(d);
    return NULL;
  }
  def_hash(d);
  return d;
}

udf_def *udf_def_copy(const udf_def *s) {
  udf_def *d = udf_def_new(s->name, s->source, s->entry, s->ret, s->nparams, s->params,
                           s->ncaps, (const char *const *)s->cap_names, s->cap_types);
  if (!d) return NULL;
  if (s->builtin) {
    d->builtin = eng_strdup(s->builtin);
    if (!d->builtin) {
      udf_def_free(d);
      return NULL;
    }
  }
  d->hash = s->hash;
  return d;
}

json_t *udf_def_to_json(const udf_def *d) {
  json_t *params = json_array(), *caps = json_array();
  for (int i = 0; i < d->nparams; i++) json_array_append_new(params, json_integer(d->params[i]));
  for (int i = 0; i < d->ncaps; i++)
    json_array_append_new(caps, json_pack("[si]", d->cap_names[i], (int)d->cap_types[i]));
  char hash[17];
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)d->hash);
  return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:i, s:o, s:o}", "hash", hash, "name",
                   d->name, "src", d->source, "entry", d->entry, "builtin", d->builtin,
                   "ret", (int)d->ret, "params", params, "caps", caps);
}

/* The string at an optional key: 0 with *out NULL when the key is absent or
 * null (udf_def_to_json writes null for a missing source, entry or builtin),
 * -1 when it holds something else. */
static int opt_string(json_t *v, const char **out) {
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) return -1;
  *out = json_string_value(v);
  return 0;
}

udf_def *udf_def_from_json(const json_t *j, eng_err *err) {
  const char *name = NULL, *src = NULL, *entry = NULL, *builtin = NULL;
  int ret = 0;
  json_t *params = NULL, *caps = NULL, *jsrc = NULL, *jentry = NULL, *jbuiltin = NULL;
  json_error_t je;
  if (json_unpack_ex((json_t *)j, &je, 0, "{s:s, s?o, s?o, s?o, s:i, s:o, s:o}", "name", &name,
                     "src", &jsrc, "entry", &jentry, "builtin", &jbuiltin, "ret", &ret, "params",
                     &params, "caps", &caps) < 0 ||
      opt_string(jsrc, &src) < 0 || opt_string(jentry, &entry) < 0 ||
      opt_string(jbuiltin, &builtin) < 0 || !json_is_array(params) || !json_is_array(caps) ||
      json_array_size(params) > UDF_MAX_PARAMS || ret < 0 || ret > UDF_VAL) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed UDF definition");
    return NULL;
  }
  if (builtin) {
    udf_def *d = udf_def_builtin(builtin);
    if (!d) eng_err_set(err, ENG_EPROTO, "ProtocolError: unknown builtin '%s'", builtin);
    return d;
  }
  if (!src || !entry) {
    eng_err_set(err, ENG_EPROTO, "ProtocolError: UDF without source");
    return NULL;
  }
  udf_type pt[UDF_MAX_PARAMS];
  int np = (int)json_array_size(params);
  for (int i = 0; i < np; i++) {
    json_t *jt = json_array_get(params, (size_t)i);
    json_int_t t = json_integer_value(jt);
    if (!json_is_integer(jt) || t < 0 || t > UDF_VAL) {
      eng_err_set(err, ENG_EPROTO, "ProtocolError: bad UDF parameter type");
      return NULL;
    }
    pt[i] = (udf_type)t;
  }
  int nc = (int)json_array_size(caps);
  const char **cn = eng_calloc((size_t)nc + 1, sizeof *cn);
  udf_type *ct = eng_calloc((size_t)nc + 1, sizeof *ct);
  udf_def *d = NULL;
  if (!cn || !ct) goto out;
  for (int i = 0; i < nc; i++) {
    const char *n = NULL;
    int t = 0;
    if (json_unpack(json_array_get(caps, (size_t)i), "[si]", &n, &t) < 0 || t < 0 ||
        t > UDF_VAL) {
      eng_err_set(err, ENG_EPROTO, "ProtocolError: bad UDF capture");
      goto out;
    }
    cn[i] = n;
    ct[i] = (udf_type)t;
  }
  d = udf_def_new(name, src, entry, (udf_type)ret, np, pt, nc, cn, ct);
  if (!d) eng_err_set(err, ENG_ENOMEM, "MemoryError: UDF definition");
out:
  eng_free(cn);
  eng_free(ct);
  return d;
}

/* ------------------------------------------------------------------------ */
/* Host symbols and the prelude                                             */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t g_sym_lock = PTHREAD_MUTEX_INITIALIZER;
static udf_symbol *g_host_syms;
static int g_nhost, g_caphost;

void udf_add_host_symbol(const char *name, const void *addr) {
  pthread_mutex_lock(&g_sym_lock);
  for (int i = 0; i < g_nhost; i++) {
    if (strcmp(g_host_syms[i].name, name) == 0) {
      g_host_syms[i].addr = addr;
      pthread_mutex_unlock(&g_sym_lock);
      return;
    }
  }
  if (g_nhost == g_caphost) {
    int cap = g_caphost ? g_caphost * 2 : 64;
    udf_symbol *s = eng_realloc(g_host_syms, (size_t)cap * sizeof *s);
    if (!s) {
      pthread_mutex_unlock(&g_sym_lock);
      return;
    }
    g_host_syms = s;
    g_caphost = cap;
  }
  g_host_syms[g_nhost].name = name;
  g_host_syms[g_nhost].addr = addr;
  g_nhost++;
  pthread_mutex_unlock(&g_sym_lock);
}

const char *udf_prelude(void) { return udf__prelude_text; }

/* ------------------------------------------------------------------------ */
/* Compiling                                                                */
/* ------------------------------------------------------------------------ */

typedef struct diag {
  eng_buf text;  /* error lines */
  int nerr;
} diag;

/* Keeps errors (not warnings) for the CompileError message. */
static void on_diag(void *opaque, const char *msg) {
  diag *d = opaque;
  if (strstr(msg, "warning:")) return;
  if (d->text.len) eng_buf_putc(&d->text, '\n');
  eng_buf_puts(&d->text, msg);
  d->nerr++;
}

/* Why: libtcc 0.9.27 sets its global `global_expr` while it parses a
 * constant initializer and restores it on the way out, but a compile error
 * there (`long b = ;`) leaves through longjmp with it still set, and every
 * later compile in the process then allocates compound literals -- which
 * list(), tuple() and lambdas are made of -- as static data: "initializer
 * element is not constant" for the rest of the session. tccgen_compile
 * resets its other flags but not this one, so we do, before each compile.
 * The symbol is global in Debian's static libtcc.a; compiles hold
 * g_compile_lock so that no other thread's compile is running meanwhile
 * (libtcc serializes compiles anyway). */
extern int global_expr;
static pthread_mutex_t g_compile_lock = PTHREAD_MUTEX_INITIALIZER;

void udf_dump_source(const char *env, const char *name, const char *text) {
  const char *dir = getenv(env);
  if (!dir || !*dir) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* Compiles and relocates source in s, under the compile lock. */
static int compile_locked(TCCState *s, const char *source) {
  pthread_mutex_lock(&g_compile_lock);
  global_expr = 0;
  int ok = tcc_compile_string(s, source) >= 0 && tcc_relocate(s, TCC_RELOCATE_AUTO) >= 0;
  global_expr = 0;
  pthread_mutex_unlock(&g_compile_lock);
  return ok;
}

static TCCState *new_state(diag *dg) {
  TCCState *s = tcc_new();
  if (!s) return NULL;
  tcc_set_error_func(s, dg, on_diag);
  tcc_set_lib_path(s, UDF_TCC_LIB);
  tcc_set_options(s, "-w"); /* warnings are noise in one-line lambdas */
  tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
  for (const udf_symbol *p = udf__helper_symbols; p->name; p++) tcc_add_symbol(s, p->name, p->addr);
  pthread_mutex_lock(&g_sym_lock);
  for (int i = 0; i < g_nhost; i++) tcc_add_symbol(s, g_host_syms[i].name, g_host_syms[i].addr);
  pthread_mutex_unlock(&g_sym_lock);
  return s;
}

/* Turns tcc's diagnostics into one CompileError message. Link errors
 * ("tcc: error: undefined symbol 'f'") get the UDF's name added, since tcc
 * cannot say which line used the symbol. */
static int compile_error(eng_err *err, diag *dg, const char *who) {
  const char *t = dg->text.len ? eng_buf_cstr(&dg->text) : "compilation failed";
  const char *link = strstr(t, "undefined symbol");
  if (link) {
    const char *q = strchr(link, '\'');
    const char *e = q ? strchr(q + 1, '\'') : NULL;
    if (q && e)
      return eng_err_set(err, ENG_ECOMPILE, "CompileError: undefined symbol '%.*s' in %s",
                         (int)(e - q - 1), q + 1, who);
  }
  if (strncmp(t, "tcc: ", 5) == 0) t += 5;
  return eng_err_set(err, ENG_ECOMPILE, "CompileError: %s", t);
}

static udf_fn *compile_udf(const udf_def *d, eng_err *err) {
  udf_fn *f = eng_calloc(1, sizeof *f);
  if (!f) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: UDF");
    return NULL;
  }
  f->def = udf_def_copy(d);
  if (!f->def) {
    eng_free(f);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: UDF");
    return NULL;
  }
  if (d->builtin) {
    if (udf__builtin_bind(f, d) < 0) {
      eng_err_set(err, ENG_EINVAL, "ValueError: unknown builtin '%s'", d->builtin);
      udf_def_free((udf_def *)f->def);
      eng_free(f);
      return NULL;
    }
    return f;
  }
  double t0 = eng_now_ms();
  diag dg = {0};
  eng_buf src;
  eng_buf_init(&src);
  udf__gen_source(&src, d);
  /* EMBER_UDF_DUMP=DIR keeps DIR/udf-<hash>.c, to read what the kernels became. */
  if (!src.oom) {
    char name[64];
    snprintf(name, sizeof name, "udf-%016llx.c", (unsigned long long)d->hash);
    udf_dump_source("EMBER_UDF_DUMP", name, eng_buf_cstr(&src));
  }
  TCCState *s = src.oom ? NULL : new_state(&dg);
  int ok = s && compile_locked(s, eng_buf_cstr(&src));
  eng_buf_free(&src);
  if (!ok) {
    compile_error(err, &dg, d->name);
    eng_buf_free(&dg.text);
    if (s) tcc_delete(s);
    udf_def_free((udf_def *)f->def);
    eng_free(f);
    return NULL;
  }
  eng_buf_free(&dg.text);
  f->tcc = s;
  f->call = (eng_val(*)(const eng_val *))tcc_get_symbol(s, "__ember_call");
  if (d->ncaps) f->setcaps = (void (*)(const eng_val *))tcc_get_symbol(s, "__ember_setcaps");
  f->call_kv = (void (*)(const eng_val *, eng_val *))tcc_get_symbol(s, "__ember_call_kv");
  f->map_l_kv = (void (*)(const int64_t *, int64_t, eng_val *, eng_val *))tcc_get_symbol(s, "__ember_map_l_kv");
  f->map_d_kv = (void (*)(const double *, int64_t, eng_val *, eng_val *))tcc_get_symbol(s, "__ember_map_d_kv");
  for (int i = 0; i < UDF_NKERN; i++) *udf__kernel_slot(f, i) = tcc_get_symbol(s, udf__kernels[i].name);
  if (d->nparams == 2 && d->params[0] == UDF_LONG && d->params[1] == UDF_LONG &&
      d->ret == UDF_LONG)
    f->f2_ll = (int64_t(*)(int64_t, int64_t))tcc_get_symbol(s, d->entry);
  if (d->nparams == 2 && d->params[0] == UDF_DOUBLE && d->params[1] == UDF_DOUBLE &&
      d->ret == UDF_DOUBLE)
    f->f2_dd = (double (*)(double, double))tcc_get_symbol(s, d->entry);
  f->compile_ms = eng_now_ms() - t0;
  if (!f->call) {
    eng_err_set(err, ENG_ECOMPILE, "CompileError: %s: entry point missing", d->name);
    tcc_delete(s);
    udf_def_free((udf_def *)f->def);
    eng_free(f);
    return NULL;
  }
  return f;
}

static void fn_free(udf_fn *f) {
  if (!f) return;
  if (f->tcc) tcc_delete(f->tcc);
  udf_def_free((udf_def *)f->def);
  eng_free(f);
}

/* ------------------------------------------------------------------------ */
/* The cache                                                                */
/* ------------------------------------------------------------------------ */

struct udf_cache {
  pthread_mutex_t lock;
  udf_fn **fns;
  int n, cap;
  long compiles;
  double compile_ms;
};

udf_cache *udf_cache_new(void) {
  udf_cache *c = eng_calloc(1, sizeof *c);
  if (c) pthread_mutex_init(&c->lock, NULL);
  return c;
}

void udf_cache_free(udf_cache *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) fn_free(c->fns[i]);
  eng_free(c->fns);
  pthread_mutex_destroy(&c->lock);
  eng_free(c);
}

static udf_fn *find_locked(udf_cache *c, uint64_t hash) {
  for (int i = c->n - 1; i >= 0; i--)
    if (c->fns[i]->def->hash == hash) return c->fns[i];
  return NULL;
}

udf_fn *udf_cache_find(udf_cache *c, uint64_t hash) {
  pthread_mutex_lock(&c->lock);
  udf_fn *f = find_locked(c, hash);
  pthread_mutex_unlock(&c->lock);
  return f;
}

udf_fn *udf_cache_get(udf_cache *c, const udf_def *def, eng_err *err) {
  pthread_mutex_lock(&c->lock);
  udf_fn *f = find_locked(c, def->hash);
  pthread_mutex_unlock(&c->lock);
  if (f) return f;
  f = compile_udf(def, err);
  if (!f) return NULL;
  pthread_mutex_lock(&c->lock);
  udf_fn *raced = find_locked(c, def->hash);
  if (raced) {
    pthread_mutex_unlock(&c->lock);
    fn_free(f);
    return raced;
  }
  if (c->n == c->cap) {
    int cap = c->cap ? c->cap * 2 : 32;
    udf_fn **fns = eng_realloc(c->fns, (size_t)cap * sizeof *fns);
    if (!fns) {
      pthread_mutex_unlock(&c->lock);
      fn_free(f);
      eng_err_set(err, ENG_ENOMEM, "MemoryError: UDF cache");
      return NULL;
    }
    c->fns = fns;
    c->cap = cap;
  }
  c->fns[c->n++] = f;
  if (!def->builtin) {
    c->compiles++;
    c->compile_ms += f->compile_ms;
  }
  pthread_mutex_unlock(&c->lock);
  return f;
}

void udf_cache_stats(udf_cache *c, long *out_compiles, double *out_ms) {
  pthread_mutex_lock(&c->lock);
  if (out_compiles) *out_compiles = c->compiles;
  if (out_ms) *out_ms = c->compile_ms;
  pthread_mutex_unlock(&c->lock);
}

/* ------------------------------------------------------------------------ */
/* Modules (cells)                                                          */
/* ------------------------------------------------------------------------ */

struct udf_module {
  TCCState *s;
};

udf_module *udf_module_compile(const char *extra_header, const char *source, eng_err *err) {
  return udf_module_compile_syms(extra_header, source, NULL, NULL, 0, err);
}

udf_module *udf_module_compile_syms(const char *extra_header, const char *source,
                                    const char *const *names, void *const *addrs, int nsyms,
                                    eng_err *err) {
  diag dg = {0};
  eng_buf src;
  eng_buf_init(&src);
  eng_buf_puts(&src, udf_prelude());
  eng_buf_puts(&src, "\n");
  if (extra_header) eng_buf_puts(&src, extra_header);
  eng_buf_puts(&src, "\n");
  eng_buf_puts(&src, source);
  TCCState *s = src.oom ? NULL : new_state(&dg);
  for (int i = 0; s && i < nsyms; i++) tcc_add_symbol(s, names[i], addrs[i]);
  int ok = s && compile_locked(s, eng_buf_cstr(&src));
  eng_buf_free(&src);
  if (!ok) {
    compile_error(err, &dg, "this cell");
    eng_buf_free(&dg.text);
    if (s) tcc_delete(s);
    return NULL;
  }
  eng_buf_free(&dg.text);
  udf_module *m = eng_calloc(1, sizeof *m);
  if (!m) {
    tcc_delete(s);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: module");
    return NULL;
  }
  m->s = s;
  return m;
}

void *udf_module_symbol(udf_module *m, const char *name) { return tcc_get_symbol(m->s, name); }

void udf_module_free(udf_module *m) {
  if (!m) return;
  tcc_delete(m->s);
  eng_free(m);
}
