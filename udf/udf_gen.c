/* udf_gen.c -- the C text around a UDF: capture globals, the generic entry
 * and typed batch kernels, generated from the UDF's signature.
 *
 * Why generated kernels: tcc does not inline, so calling a lambda through the
 * generic entry costs value boxing per row. A loop compiled next to the
 * lambda calls it directly on raw longs or doubles, which is what makes
 * filter/map over cached numeric columns run near memory speed.
 */
#include "udf_int.h"

#include <stdio.h>
#include <string.h>

#include "../engine/buf.h"

/* The C spelling of a UDF type. */
static const char *ctype(udf_type t) {
  switch (t) {
    case UDF_VOID: return "void";
    case UDF_LONG: return "long";
    case UDF_INT: return "int";
    case UDF_DOUBLE: return "double";
    case UDF_BOOL: return "bool";
    case UDF_STR: return "str";
    case UDF_CSTR: return "const char *";
    case UDF_VAL: return "val";
  }
  return "val";
}

/* An expression converting the val `v` to type t (raising TypeError). */
static void conv_in(eng_buf *b, udf_type t, const char *v) {
  switch (t) {
    case UDF_LONG: eng_buf_printf(b, "eng_fn_as_long(%s)", v); break;
    case UDF_INT: eng_buf_printf(b, "(int)eng_fn_as_long(%s)", v); break;
    case UDF_DOUBLE: eng_buf_printf(b, "eng_fn_as_double(%s)", v); break;
    case UDF_BOOL: eng_buf_printf(b, "eng_fn_as_bool(%s)", v); break;
    case UDF_STR: eng_buf_printf(b, "eng_fn_as_str(%s)", v); break;
    case UDF_CSTR: eng_buf_printf(b, "eng_fn_as_str(%s).ptr", v); break;
    default: eng_buf_puts(b, v); break;
  }
}

/* The function converting a result of type t to a val. */
static const char *conv_out(udf_type t) {
  switch (t) {
    case UDF_LONG:
    case UDF_INT: return "eng_fn_v_long";
    case UDF_DOUBLE: return "eng_fn_v_double";
    case UDF_BOOL: return "eng_fn_v_bool";
    case UDF_STR: return "eng_fn_v_str";
    case UDF_CSTR: return "eng_fn_v_cstr";
    default: return "";
  }
}

static int is_intish(udf_type t) { return t == UDF_LONG || t == UDF_INT; }
static int is_truthish(udf_type t) { return t == UDF_LONG || t == UDF_INT || t == UDF_BOOL; }

void udf__gen_source(eng_buf *b, const udf_def *d) {
  eng_buf_puts(b, udf_prelude());
  eng_buf_puts(b, "\n#line 1 \"<ember>\"\n");
  for (int i = 0; i < d->ncaps; i++) {
    udf_type t = d->cap_types[i];
    eng_buf_printf(b, "static %s %s;\n", t == UDF_CSTR ? "const char *" : ctype(t),
                   d->cap_names[i]);
  }
  eng_buf_puts(b, d->source);
  eng_buf_puts(b, "\n#line 1 \"<ember>\"\n");
  const char *f = d->entry;

  /* Captures. The wrappers' parameters have reserved names, since a
   * capture called `c` or `a` would otherwise shadow them. */
  if (d->ncaps) {
    eng_buf_puts(b, "void __ember_setcaps(const val *__ember_c) {\n");
    for (int i = 0; i < d->ncaps; i++) {
      char arg[32];
      snprintf(arg, sizeof arg, "__ember_c[%d]", i);
      eng_buf_printf(b, "  %s = ", d->cap_names[i]);
      conv_in(b, d->cap_types[i], arg);
      eng_buf_puts(b, ";\n");
    }
    eng_buf_puts(b, "}\n");
  }

  /* Generic entry: values in, value out. */
  eng_buf_puts(b, "val __ember_call(const val *__ember_a) {\n  ");
  if (d->ret == UDF_VOID)
    eng_buf_printf(b, "%s(", f);
  else if (d->ret == UDF_VAL)
    eng_buf_printf(b, "return %s(", f);
  else
    eng_buf_printf(b, "return %s(%s(", conv_out(d->ret), f);
  for (int i = 0; i < d->nparams; i++) {
    char arg[32];
    snprintf(arg, sizeof arg, "__ember_a[%d]", i);
    if (i) eng_buf_puts(b, ", ");
    conv_in(b, d->params[i], arg);
  }
  if (d->ret == UDF_VOID)
    eng_buf_puts(b, ");\n  return NONE;\n}\n");
  else if (d->ret == UDF_VAL)
    eng_buf_puts(b, ");\n}\n");
  else
    eng_buf_puts(b, "));\n}\n");

  /* Typed kernels over one numeric parameter. */
  if (d->nparams == 1) {
    udf_type p = d->params[0];
    const char *in = is_intish(p) ? "long" : p == UDF_DOUBLE ? "double" : NULL;
    const char *cast = p == UDF_INT ? "(int)" : "";
    if (in) {
      char sfx = in[0];
      if (is_intish(d->ret) || d->ret == UDF_DOUBLE) {
        const char *out = is_intish(d->ret) ? "long" : "double";
        eng_buf_printf(b,
                       "void __ember_map_%c%c(const %s *in, %s *out, long n) {\n"
                       "  for (long i = 0; i < n; i++) out[i] = %s(%sin[i]);\n}\n",
                       sfx, out[0], in, out, f, cast);
      }
      if (is_truthish(d->ret) || d->ret == UDF_DOUBLE) {
        eng_buf_printf(b,
                       "long __ember_filter_%c(const %s *in, long n, unsigned char *sel) {\n"
                       "  long c = 0;\n"
                       "  for (long i = 0; i < n; i++) {\n"
                       "    unsigned char t = %s(%sin[i]) != 0;\n"
                       "    sel[i] = t;\n    c += t;\n  }\n  return c;\n}\n",
                       sfx, in, f, cast);
      }
    }
  }
}

int udf__gen_kernel_names(const udf_def *d, const char **names, int max) {
  (void)max;
  int n = 0;
  if (d->nparams == 1) {
    udf_type p = d->params[0];
    if (is_intish(p) || p == UDF_DOUBLE) {
      char in = is_intish(p) ? 'l' : 'd';
      if (is_intish(d->ret)) names[n++] = in == 'l' ? "__ember_map_ll" : "__ember_map_dl";
      if (d->ret == UDF_DOUBLE) names[n++] = in == 'l' ? "__ember_map_ld" : "__ember_map_dd";
      if (is_truthish(d->ret) || d->ret == UDF_DOUBLE)
        names[n++] = in == 'l' ? "__ember_filter_l" : "__ember_filter_d";
    }
  }
  return n;
}
