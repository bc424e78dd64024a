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

/* The C spelling of a UDF type (udf.h). */
const char *udf_type_c(udf_type t) {
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

/* Declares str `name` holding the val `v` converted (raising TypeError),
 * through a pointer: `str name = eng_fn_as_str(v)` made tcc copy the
 * returned struct with a memmove call, once per row. */
static void str_param(eng_buf *b, const char *name, const char *v) {
  eng_buf_printf(b, "  str %s;\n  eng_fn_as_str_to(&%s, &%s);\n", name, v, name);
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

static int ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* For a one-parameter function whose whole body is "return EXPR;", finds
 * the parameter's name and EXPR in its source, so the typed kernels can
 * evaluate EXPR in their loop instead of calling the function per row (tcc
 * does not inline; the call and its stack frame were most of a filter's
 * time). Conservative: anything unusual (comments, preprocessor lines,
 * several statements) returns 0 and the kernels call the function. */
static int inline_body(const udf_def *d, char *pname, size_t pcap, const char **expr, size_t *elen) {
  const char *src = d->source, *p = src;
  size_t el = strlen(d->entry);
  for (;;) {
    p = strstr(p, d->entry);
    if (!p) return 0;
    if ((p == src || !ident_char(p[-1])) && !ident_char(p[el]) && *skip_ws(p + el) == '(') break;
    p += el;
  }
  p = skip_ws(p + el) + 1;
  const char *close = strchr(p, ')');
  if (!close || memchr(p, ',', (size_t)(close - p)) || memchr(p, '(', (size_t)(close - p))) return 0;
  const char *ne = close;
  while (ne > p && !ident_char(ne[-1])) ne--;
  const char *nb = ne;
  while (nb > p && ident_char(nb[-1])) nb--;
  if (nb == ne || (size_t)(ne - nb) >= pcap) return 0;
  memcpy(pname, nb, (size_t)(ne - nb));
  pname[ne - nb] = 0;
  p = skip_ws(close + 1);
  if (*p != '{') return 0;
  p = skip_ws(p + 1);
  if (strncmp(p, "return", 6) != 0 || ident_char(p[6])) return 0;
  const char *e = p + 6, *q = e;
  int depth = 0;
  for (; *q && !(depth == 0 && *q == ';'); q++) {
    if (*q == '(' || *q == '[' || *q == '{') depth++;
    else if (*q == ')' || *q == ']' || *q == '}') depth--;
    else if (*q == '#' || (*q == '/' && (q[1] == '/' || q[1] == '*'))) return 0;
    else if (*q == '"' || *q == '\'') {
      char quote = *q;
      for (q++; *q && *q != quote; q++)
        if (*q == '\\' && q[1]) q++;
      if (!*q) return 0;
    }
    if (depth < 0) return 0;
  }
  if (*q != ';') return 0;
  const char *after = skip_ws(q + 1);
  if (*after != '}' || *skip_ws(after + 1) != 0) return 0;
  *expr = e;
  *elen = (size_t)(q - e);
  return 1;
}
/* Splits "kv(K, V)" (all of expr, blanks around) into K and V; 0 if expr
 * is anything else. */
static int split_kv(const char *e, size_t n, const char **k, size_t *kn, const char **v, size_t *vn) {
  const char *end = e + n;
  while (e < end && (*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r')) e++;
  while (end > e && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r')) end--;
  /* A lambda's return may be wrapped: EMBER_V(kv(K, V)). */
  if (end - e > 9 && strncmp(e, "EMBER_V", 7) == 0 && end[-1] == ')') {
    const char *q = e + 7;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (*q == '(') return split_kv(q + 1, (size_t)(end - 1 - (q + 1)), k, kn, v, vn);
  }
  if (end - e < 5 || strncmp(e, "kv", 2) != 0 || end[-1] != ')') return 0;
  const char *p = e + 2;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (*p != '(') return 0;
  const char *open = p, *comma = NULL;
  int depth = 0;
  for (p = open; p < end; p++) {
    if (*p == '"' || *p == '\'') {
      char quote = *p;
      for (p++; p < end && *p != quote; p++)
        if (*p == '\\') p++;
      continue;
    }
    if (*p == '(' || *p == '[' || *p == '{') depth++;
    else if (*p == ')' || *p == ']' || *p == '}') {
      if (--depth == 0 && p != end - 1) return 0; /* kv(...) is not the whole expression */
    } else if (*p == ',' && depth == 1) {
      if (comma) return 0;
      comma = p;
    }
  }
  if (!comma || depth != 0) return 0;
  *k = open + 1;
  *kn = (size_t)(comma - open - 1);
  *v = comma + 1;
  *vn = (size_t)(end - 1 - comma - 1);
  return 1;
}

static int is_truthish(udf_type t) { return t == UDF_LONG || t == UDF_INT || t == UDF_BOOL; }

/* One row of a typed kernel over one numeric parameter: the result of
 * element __ember_p[j], either the UDF's one-return expression with the
 * parameter declared (converted to the function's type, exactly as the call
 * would) or a call of the UDF. */
typedef struct row_kernel_ctx {
  const udf_def *d;
  const char *entry, *pname;
  const char *expr; /* NULL: call the entry */
  size_t elen;
  udf_type param;
} row_kernel_ctx;

static void row_expr(eng_buf *b, const row_kernel_ctx *rk, int j) {
  if (rk->expr)
    eng_buf_printf(b, "({ %s %s = (%s)__ember_p[%d]; (%s)(%.*s); })", udf_type_c(rk->param), rk->pname, udf_type_c(rk->param), j,
                   udf_type_c(rk->d->ret), (int)rk->elen, rk->expr);
  else
    eng_buf_printf(b, "%s((%s)__ember_p[%d])", rk->entry, udf_type_c(rk->param), j);
}

void udf__gen_source(eng_buf *b, const udf_def *d) {
  eng_buf_puts(b, udf_prelude());
  eng_buf_puts(b, "\n#line 1 \"<ember>\"\n");
  for (int i = 0; i < d->ncaps; i++) {
    udf_type t = d->cap_types[i];
    eng_buf_printf(b, "static %s %s;\n", t == UDF_CSTR ? "const char *" : udf_type_c(t),
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

  /* Generic entry: values in, value out. A str parameter is converted
   * into a local first (str_param): tcc copies a returned struct with a
   * memmove call, and these wrappers run once per row. */
  eng_buf_puts(b, "val __ember_call(const val *__ember_a) {\n");
  for (int i = 0; i < d->nparams; i++)
    if (d->params[i] == UDF_STR) {
      char name[32], arg[32];
      snprintf(name, sizeof name, "__ember_s%d", i);
      snprintf(arg, sizeof arg, "__ember_a[%d]", i);
      str_param(b, name, arg);
    }
  eng_buf_puts(b, "  ");
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
    if (d->params[i] == UDF_STR) eng_buf_printf(b, "__ember_s%d", i);
    else conv_in(b, d->params[i], arg);
  }
  if (d->ret == UDF_VOID)
    eng_buf_puts(b, ");\n  return NONE;\n}\n");
  else if (d->ret == UDF_VAL)
    eng_buf_puts(b, ");\n}\n");
  else
    eng_buf_puts(b, "));\n}\n");

  /* A body "return kv(K, V);": the pair's items without the tuple. */
  if (d->nparams == 1 && d->source) {
    char pname[128];
    const char *expr, *k, *v;
    size_t elen, kn, vn;
    if (inline_body(d, pname, sizeof pname, &expr, &elen) && split_kv(expr, elen, &k, &kn, &v, &vn)) {
      /* Only while kv is still the prelude's macro (not #undef'd). */
      eng_buf_puts(b, "#ifdef kv\nvoid __ember_call_kv(const val *__ember_a, val *__ember_kv) {\n");
      if (d->params[0] == UDF_STR) {
        str_param(b, pname, "__ember_a[0]");
      } else {
        eng_buf_printf(b, "  %s %s = ", d->params[0] == UDF_CSTR ? "const char *" : udf_type_c(d->params[0]), pname);
        conv_in(b, d->params[0], "__ember_a[0]");
        eng_buf_puts(b, ";\n");
      }
      eng_buf_printf(b, "  EMBER_VSET(&__ember_kv[0], %.*s);\n  EMBER_VSET(&__ember_kv[1], %.*s);\n}\n",
                     (int)kn, k, (int)vn, v);
      udf_type p = d->params[0];
      if (is_intish(p) || p == UDF_DOUBLE) {
        const char *in = p == UDF_DOUBLE ? "double" : "long";
        eng_buf_printf(b,
                       "void __ember_map_%c_kv(const %s *__ember_in, long __ember_n, val *__ember_k, val *__ember_v) {\n"
                       "  const %s *__ember_p = __ember_in, *__ember_end = __ember_in + __ember_n;\n"
                       "  for (; __ember_p < __ember_end; __ember_p++, __ember_k++, __ember_v++) {\n"
                       "    %s %s = (%s)*__ember_p;\n"
                       "    EMBER_VSET(__ember_k, %.*s);\n    EMBER_VSET(__ember_v, %.*s);\n  }\n}\n",
                       in[0], in, in, udf_type_c(p), pname, udf_type_c(p), (int)kn, k, (int)vn, v);
      }
      eng_buf_puts(b, "#endif\n");
    }
  }

  /* Typed kernels over one numeric parameter. Each row's result is
   * either a call, f((int)x), or, for a body that is one return, that
   * expression with the parameter declared in the loop and the result
   * converted to the function's type, exactly as the call would. Names in
   * the loop are reserved, so the expression sees its captures. */
  if (d->nparams == 1) {
    udf_type p = d->params[0];
    const char *in = is_intish(p) ? "long" : p == UDF_DOUBLE ? "double" : NULL;
    if (in) {
      char sfx = in[0];
      char pname[128];
      const char *expr = NULL;
      size_t elen = 0;
      /* Why the loops look like this: tcc does not optimize, so every
       * operation of the loop itself (index, bound, address) costs loads
       * and stores. Walking pointers and taking four rows per turn makes a
       * simple filter about 40% faster (11.5 -> 8.4 ms per 5e6 longs). The
       * row is written out for each element rather than through a macro: a
       * multi-line expression (or a comment in it) would end a #define. */
      row_kernel_ctx rk = {d, f, pname, NULL, 0, p};
      if (d->source && inline_body(d, pname, sizeof pname, &expr, &elen)) {
        rk.expr = expr;
        rk.elen = elen;
      }
      const char *walk =
          "  const %s *__ember_p = __ember_in, *__ember_e4 = __ember_in + (__ember_n & ~3L),"
          " *__ember_end = __ember_in + __ember_n;\n";
      if (is_intish(d->ret) || d->ret == UDF_DOUBLE) {
        const char *out = is_intish(d->ret) ? "long" : "double";
        eng_buf_printf(b, "void __ember_map_%c%c(const %s *__ember_in, %s *__ember_out, long __ember_n) {\n", sfx,
                       out[0], in, out);
        eng_buf_printf(b, walk, in);
        eng_buf_printf(b, "  %s *__ember_o = __ember_out;\n"
                          "  for (; __ember_p < __ember_e4; __ember_p += 4, __ember_o += 4) {\n", out);
        for (int j = 0; j < 4; j++) {
          eng_buf_printf(b, "    __ember_o[%d] = ", j);
          row_expr(b, &rk, j);
          eng_buf_puts(b, ";\n");
        }
        eng_buf_puts(b, "  }\n  for (; __ember_p < __ember_end; __ember_p++, __ember_o++)\n    __ember_o[0] = ");
        row_expr(b, &rk, 0);
        eng_buf_puts(b, ";\n}\n");
      }
      if (is_truthish(d->ret) || d->ret == UDF_DOUBLE) {
        eng_buf_printf(b, "long __ember_filter_%c(const %s *__ember_in, long __ember_n, unsigned char *__ember_sel) {\n",
                       sfx, in);
        eng_buf_printf(b, walk, in);
        eng_buf_puts(b, "  unsigned char *__ember_s = __ember_sel;\n  long __ember_c = 0;\n"
                        "  for (; __ember_p < __ember_e4; __ember_p += 4, __ember_s += 4) {\n");
        for (int j = 0; j < 4; j++) {
          eng_buf_printf(b, "    unsigned char __ember_t%d = ", j);
          row_expr(b, &rk, j);
          eng_buf_puts(b, " != 0;\n");
        }
        eng_buf_puts(b,
                     "    __ember_s[0] = __ember_t0;\n    __ember_s[1] = __ember_t1;\n"
                     "    __ember_s[2] = __ember_t2;\n    __ember_s[3] = __ember_t3;\n"
                     "    __ember_c += __ember_t0 + __ember_t1 + __ember_t2 + __ember_t3;\n  }\n"
                     "  for (; __ember_p < __ember_end; __ember_p++, __ember_s++) {\n"
                     "    unsigned char __ember_t = ");
        row_expr(b, &rk, 0);
        eng_buf_puts(b, " != 0;\n    __ember_s[0] = __ember_t;\n    __ember_c += __ember_t;\n  }\n"
                        "  return __ember_c;\n}\n");
      }
    }
  }
}

const udf_kernel udf__kernels[UDF_NKERN] = {
    {"__ember_map_ll", offsetof(udf_fn, map_ll)},     {"__ember_map_ld", offsetof(udf_fn, map_ld)},
    {"__ember_map_dd", offsetof(udf_fn, map_dd)},     {"__ember_map_dl", offsetof(udf_fn, map_dl)},
    {"__ember_filter_l", offsetof(udf_fn, filter_l)}, {"__ember_filter_d", offsetof(udf_fn, filter_d)},
};

int udf__gen_kernel_names(const udf_def *d, const char **names, int max) {
  (void)max;
  int n = 0;
  if (d->nparams == 1) {
    udf_type p = d->params[0];
    if (is_intish(p) || p == UDF_DOUBLE) {
      char in = is_intish(p) ? 'l' : 'd';
      /* Indices into udf__kernels: map_ll, map_ld, map_dd, map_dl, filter_l, filter_d. */
      if (is_intish(d->ret)) names[n++] = udf__kernels[in == 'l' ? 0 : 3].name;
      if (d->ret == UDF_DOUBLE) names[n++] = udf__kernels[in == 'l' ? 1 : 2].name;
      if (is_truthish(d->ret) || d->ret == UDF_DOUBLE) names[n++] = udf__kernels[in == 'l' ? 4 : 5].name;
    }
  }
  return n;
}
