/* udf_int.h -- private to udf/: source generation and the helper table. */
#ifndef UDF_INT_H
#define UDF_INT_H

#include <stddef.h>

#include "../engine/buf.h"
#include "udf.h"

typedef struct udf_symbol {
  const char *name;
  const void *addr;
} udf_symbol;

/* The helpers user code may call (udf_helpers.c), NULL-terminated. */
extern const udf_symbol udf__helper_symbols[];

/* Appends the full C text of def's module (prelude, captures, source,
 * wrappers) to b. */
void udf__gen_source(eng_buf *b, const udf_def *d);
/* The typed numeric kernels udf__gen_source may generate: their symbols
 * and where a udf_fn keeps them (udf.c looks them up after tcc's compile,
 * udf_tier.c after cc's). */
#define UDF_NKERN 6
typedef struct udf_kernel {
  const char *name;
  size_t offset; /* of the function pointer in udf_fn */
} udf_kernel;
extern const udf_kernel udf__kernels[UDF_NKERN];
static inline void **udf__kernel_slot(udf_fn *f, int i) {
  return (void **)((char *)f + udf__kernels[i].offset);
}
/* Names of the typed kernels udf__gen_source generated for d. */
int udf__gen_kernel_names(const udf_def *d, const char **names, int max);

/* Builtins (udf_builtin.c): fills f for a builtin def; 0 or ENG_EINVAL. */
int udf__builtin_bind(udf_fn *f, const udf_def *d);
/* Known builtin names and their signatures. */
int udf__builtin_sig(const char *name, udf_type *ret, int *nparams, udf_type *params);

/* The embedded prelude (generated at build time from prelude.h). */
extern const char udf__prelude_text[];

#endif
