/* udf.h -- user-defined functions: C source in, callable functions out.
 *
 * A UDF is C source plus an entry symbol, a signature (parameter and result
 * types) and the names and types of captured variables. udf_compile() wraps
 * the source with the prelude (prelude.h), a global per capture, a generic
 * entry (values in, value out) and, where the signature allows, typed batch
 * kernels (map/filter/reduce over arrays of longs or doubles); libtcc compiles
 * it in memory. A udf_cache keeps each compiled UDF by content hash, so one
 * process compiles a UDF once however many tasks use it.
 *
 * Ownership: udf_def_new()/udf_def_copy()/udf_def_from_json() return owned
 *   defs (udf_def_free). udf_cache_get() returns a udf_fn owned by the cache,
 *   valid until udf_cache_free().
 * Thread-safety: a udf_cache may be used from several threads (a mutex guards
 *   it; libtcc itself serializes compiles). Calling a udf_fn is thread-safe
 *   except for captures: udf_set_caps() sets process-wide globals of that UDF,
 *   so one udf_fn must not run with different captures on two threads at once
 *   (executors run one task per process, so they never do).
 * Errors: compile and link errors return NULL with "CompileError: <file>:<line>:
 *   error: <what>" naming the UDF's own line (the source carries #line). Calls
 *   must happen inside a udf_guard (udf_guard.h): a runtime error in a helper
 *   (TypeError, ValueError), a crash or a cancel unwinds to it.
 */
#ifndef UDF_H
#define UDF_H

#include <stdint.h>

#include "../engine/eng_types.h"

typedef enum udf_type {
  UDF_VOID = 0, /* result only: the lambda emit()s its outputs */
  UDF_LONG = 1,
  UDF_INT = 2,
  UDF_DOUBLE = 3,
  UDF_BOOL = 4,
  UDF_STR = 5,
  UDF_CSTR = 6, /* char * */
  UDF_VAL = 7,
} udf_type;

#define UDF_MAX_PARAMS 4

/* The C spelling of a UDF type in UDF and cell source ("long", "const char *"). */
ENG_API const char *udf_type_c(udf_type t);

typedef struct udf_def {
  char *name;    /* shown in errors: "lambda at cell[3]:1", "add" */
  char *source;  /* C source defining `entry` (NULL for builtins) */
  char *entry;   /* the function's name in source */
  char *builtin; /* the builtin's name, or NULL for compiled UDFs */
  udf_type ret;
  int nparams;
  udf_type params[UDF_MAX_PARAMS];
  int ncaps;
  char **cap_names;
  udf_type *cap_types;
  uint64_t hash; /* of everything above except name */
} udf_def;

/* Copies every argument. Returns NULL on out-of-memory. */
ENG_API udf_def *udf_def_new(const char *name, const char *source, const char *entry,
                             udf_type ret, int nparams, const udf_type *params, int ncaps,
                             const char *const *cap_names, const udf_type *cap_types);
/* A builtin: "add" (Python's operator.add on two values). NULL if unknown. */
ENG_API udf_def *udf_def_builtin(const char *name);
ENG_API udf_def *udf_def_copy(const udf_def *d);
ENG_API void udf_def_free(udf_def *d);
ENG_API const char *udf_type_name(udf_type t); /* "long", "str", ... */
ENG_API int udf_type_parse(const char *name);   /* inverse, or -1 */

/* JSON form, for shipping a UDF to executors (jansson json_t *). */
struct json_t;
ENG_API struct json_t *udf_def_to_json(const udf_def *d);
ENG_API udf_def *udf_def_from_json(const struct json_t *j, eng_err *err);

typedef struct udf_fn {
  const udf_def *def;
  /* Generic entry: args[nparams] in, result out (None for VOID UDFs). */
  eng_val (*call)(const eng_val *args);
  /* Sets the captured globals from caps[ncaps]; NULL when nothing is captured. */
  void (*setcaps)(const eng_val *caps);
  /* Typed batch kernels; NULL when the signature does not fit. */
  void (*map_ll)(const int64_t *in, int64_t *out, int64_t n);
  void (*map_ld)(const int64_t *in, double *out, int64_t n);
  void (*map_dd)(const double *in, double *out, int64_t n);
  void (*map_dl)(const double *in, int64_t *out, int64_t n);
  int64_t (*filter_l)(const int64_t *in, int64_t n, uint8_t *sel);
  int64_t (*filter_d)(const double *in, int64_t n, uint8_t *sel);
  /* For a one-parameter UDF whose body is "return kv(K, V);": the pair's
   * items written to kv[0], kv[1] without building the tuple (a map feeding
   * a by-key operation hands them on as they are). */
  void (*call_kv)(const eng_val *args, eng_val *kv);
  /* The same over a column of longs / doubles: keys to k[n], values to v[n]. */
  void (*map_l_kv)(const int64_t *in, int64_t n, eng_val *k, eng_val *v);
  void (*map_d_kv)(const double *in, int64_t n, eng_val *k, eng_val *v);
  /* Two-argument functions on longs / doubles (reduce, reduce_by_key). */
  int64_t (*f2_ll)(int64_t a, int64_t b);
  double (*f2_dd)(double a, double b);
  /* The op instance whose captures are set now (see udf_set_caps). */
  const void *caps_owner;
  /* private */
  void *tcc;
  double compile_ms;
  uint64_t tier_key; /* its body, for the second tier (udf_tier.c) */
  int tier_state;    /* 0 counting, else done with the tier */
} udf_fn;

/* Makes `owner`'s captures current before calls; cheap when they already are. */
static inline void udf_set_caps(udf_fn *f, const void *owner, const eng_val *caps) {
  if (f->setcaps && f->caps_owner != owner) {
    f->setcaps(caps);
    f->caps_owner = owner;
  }
}
/* Forgets `owner` (call when the captures it set are freed). */
static inline void udf_drop_caps(udf_fn *f, const void *owner) {
  if (f->caps_owner == owner) f->caps_owner = 0;
}

typedef struct udf_cache udf_cache;

ENG_API udf_cache *udf_cache_new(void);
ENG_API void udf_cache_free(udf_cache *c);
/* The compiled form of def (compiling it on first use), owned by the cache. */
ENG_API udf_fn *udf_cache_get(udf_cache *c, const udf_def *def, eng_err *err);
/* The compiled UDF with this hash, if the cache has it. */
ENG_API udf_fn *udf_cache_find(udf_cache *c, uint64_t hash);
/* Compiles, statistics: number of compiles done and their total time. */
ENG_API void udf_cache_stats(udf_cache *c, long *out_compiles, double *out_ms);

/* Compiles `source` (with the prelude in front, `extra_header` after it)
 * into a fresh libtcc state, without the UDF wrappers: the session uses this
 * for cells. Returns an opaque handle (udf_module_free) or NULL + err. */
typedef struct udf_module udf_module;
ENG_API udf_module *udf_module_compile(const char *extra_header, const char *source,
                                       eng_err *err);
/* For ember's developers: when the environment variable `env` names a
 * directory, writes text there as file `name` (EMBER_UDF_DUMP keeps each
 * UDF's generated C, EMBER_CELL_DUMP each cell's). Best effort. */
ENG_API void udf_dump_source(const char *env, const char *name, const char *text);
/* The same, with extra symbols for this compile only (names[i] at addrs[i];
 * the session's globals and functions, which later cells shadow). */
ENG_API udf_module *udf_module_compile_syms(const char *extra_header, const char *source,
                                            const char *const *names, void *const *addrs,
                                            int nsyms, eng_err *err);
ENG_API void *udf_module_symbol(udf_module *m, const char *name);
ENG_API void udf_module_free(udf_module *m);
/* Registers more host symbols for all later compiles (the session's API). */
ENG_API void udf_add_host_symbol(const char *name, const void *addr);

/* The prelude text (prelude.h) embedded in the binary. */
ENG_API const char *udf_prelude(void);

/* ---- the helpers' view of the running task (udf_helpers.c) -------------- */

/* Where emit() sends values on this thread; NULL fn makes emit() an error. */
typedef void (*udf_emit_fn)(void *ctx, eng_val v);
ENG_API void udf_set_emit(udf_emit_fn fn, void *ctx);
/* Where acc_add() adds on this thread (executors: the task's deltas; the
 * session: the accumulator itself). */
typedef void (*udf_acc_fn)(void *ctx, eng_val acc, eng_val x);
ENG_API void udf_set_acc(udf_acc_fn fn, void *ctx);

#endif
