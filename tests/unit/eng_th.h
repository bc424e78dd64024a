/* eng_th.h -- helpers for engine tests: a session on local[N] whose
 * executors are this test program itself, and UDFs from C source. */
#ifndef ENG_TH_H
#define ENG_TH_H

#include "../../engine/dataset.h"
#include "../../engine/val.h"
#include "th.h"

static inline eng_session *th_session(int n) {
  char master[32];
  snprintf(master, sizeof master, "local[%d]", n);
  eng_conf c = {.master = master, .quiet = 1};
  eng_err e;
  eng_session *s = eng_session_new(&c, &e);
  if (!s) fail_msg("session: %s", e.msg);
  return s;
}

/* A UDF named `fn` from C source; types as udf_type values. */
static inline eng_udf *th_udf(eng_session *s, const char *src, const char *fn, udf_type ret, int np,
                              udf_type p0, udf_type p1) {
  udf_type ps[2] = {p0, p1};
  udf_def *d = udf_def_new(fn, src, fn, ret, np, ps, 0, NULL, NULL);
  eng_udf *f = eng_udf_new(s, d, NULL);
  udf_def_free(d);
  if (!f) fail_msg("udf %s: %s", fn, eng_session_errmsg(s));
  return f;
}

/* repr(v) as a C string (static buffer). */
static inline const char *th_repr(eng_val v) {
  static char out[1 << 16];
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b)); /* data is not NUL-terminated */
  eng_buf_free(&b);
  return out;
}

#define TH_OK(s, expr)                                                   \
  do {                                                                   \
    if ((expr) < 0) fail_msg("%s failed: %s", #expr, eng_session_errmsg(s)); \
  } while (0)

#endif
