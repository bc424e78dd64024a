/* udf_builtin.c -- UDFs implemented in C inside ember: `add`, Python's
 * operator.add, usable wherever a lambda is (reduce, reduce_by_key, fold).
 *
 * Builtins go through the same udf_fn interface as compiled lambdas, with
 * native typed entries so that reduce_by_key(..., add) over longs runs the
 * same fast path a `[](long a, long b) { return a + b; }` lambda would.
 */
#include <string.h>

#include "../engine/arena.h"
#include "../engine/val.h"
#include "udf_int.h"

static eng_val add_call(const eng_val *a) {
  eng_val out;
  eng_err e;
  if (eng_val_add(eng_arena_current(), a[0], a[1], &out, &e) < 0) eng__raise(e.code, "%s", e.msg);
  return out;
}

static int64_t add_ll(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static double add_dd(double a, double b) { return a + b; }

int udf__builtin_sig(const char *name, udf_type *ret, int *nparams, udf_type *params) {
  if (strcmp(name, "add") == 0) {
    *ret = UDF_VAL;
    *nparams = 2;
    params[0] = params[1] = UDF_VAL;
    return 0;
  }
  return ENG_EINVAL;
}

int udf__builtin_bind(udf_fn *f, const udf_def *d) {
  if (strcmp(d->builtin, "add") == 0) {
    f->call = add_call;
    f->f2_ll = add_ll;
    f->f2_dd = add_dd;
    return 0;
  }
  return ENG_EINVAL;
}
