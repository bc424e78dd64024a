/* lambda.h -- finding lambdas in a cell and turning them into UDF sources.
 *
 * `[caps](params) [-> T] { body }` inside an expression becomes a call that
 * makes the UDF at run time, eng_repl_lambda(id, ncaps, values, types), and
 * the lambda's own text becomes a function in the UDF's source:
 *     #line L "cell[N]"
 *     static RET __ember_lambda_N_K(PARAMS) { body }
 * The result type RET is `-> T` when given, else inferred from the return
 * statements when they are plain enough to be sure (comparisons are bool,
 * arithmetic on long parameters is long, kv(...) is a val...). When unsure,
 * the lambda returns `val` and each `return e;` becomes
 * `return EMBER_V(e);`, which picks the conversion from e's C type at
 * compile time: always right, just without the typed fast paths.
 *
 * Ownership: results are eng_malloc'd strings owned by the caller.
 * Thread-safety: pure.
 * Errors: a malformed lambda (bad parameter type, nested lambda) returns
 *   ENG_ECOMPILE with "CompileError: cell[N]:L: ..." in err.
 */
#ifndef REPL_LAMBDA_H
#define REPL_LAMBDA_H

#include "../engine/buf.h"
#include "../udf/udf.h"
#include "lex.h"

#define REPL_MAX_CAPS 32

typedef struct repl_lambda {
  int t0, t1;           /* tokens [t0, t1): from '[' to the body's '}' */
  int ncaps;
  int cap_tok[REPL_MAX_CAPS];
  int nparams;
  udf_type params[UDF_MAX_PARAMS];
  int param_name[UDF_MAX_PARAMS]; /* tokens */
  udf_type ret;         /* inferred or declared */
  int ret_is_val_wrap;  /* returns were wrapped in EMBER_V */
  /* The element type of what it returns, for the engine's checks: a small
   * type expression such as "(str,long)" or "list[str]" ("" = unknown). */
  char ret_dtype[128];
  int line;             /* line of the '[' */
} repl_lambda;

/* What the inference knows about names outside the lambda. */
typedef struct repl_names {
  /* Type (udf_type) of a session variable or capture, -1 if unknown. */
  int (*var_type)(void *ctx, const char *name, int len);
  /* Return type (udf_type) of a session function, -1 if unknown. */
  int (*fn_type)(void *ctx, const char *name, int len);
  void *ctx;
} repl_names;

/* Finds the lambdas in tokens [t0, t1) (outermost only). *out is eng_malloc'd. */
int repl_find_lambdas(const repl_toks *t, int t0, int t1, const repl_names *names,
                      const char *cell_name, repl_lambda **out, int *out_n, eng_err *err);

/* The udf_type spelled by tokens [a, b) ("long", "char *", "str"...), or -1. */
int repl_type_of_tokens(const repl_toks *t, int a, int b, int allow_void);

/* Appends the C function for lambda l, named `fname`, to b (with #line). */
void repl_lambda_source(const repl_toks *t, const repl_lambda *l, const char *cell_name,
                        const char *fname, eng_buf *b);

/* Appends the call that replaces the lambda in the cell's code. */
void repl_lambda_call(const repl_toks *t, const repl_lambda *l, long id, eng_buf *b);

#endif
