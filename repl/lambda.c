/* lambda.c -- lambdas: recognizing them, inferring result types, and
 * writing their UDF functions and the calls that replace them.
 *
 * A '[' starts a lambda when it cannot be a subscript (it does not follow
 * a name, a literal, ')' or ']') and is followed by ']' '(' ... ')' and a
 * body in braces, with an optional "-> T" in between.
 */
#include "lambda.h"

#include <stdio.h>
#include <string.h>

#include "../engine/err.h"
#include "../engine/mem.h"

static int match(const repl_toks *t, int i, int limit) {
  char o = repl_tok_ptr(t, i)[0], c = o == '(' ? ')' : o == '[' ? ']' : '}';
  int depth = 0;
  for (int k = i; k < limit; k++) {
    if (t->t[k].kind != TK_PUNCT || repl_tok_len(t, k) != 1) continue;
    char x = repl_tok_ptr(t, k)[0];
    if (x == o) depth++;
    if (x == c && --depth == 0) return k;
  }
  return -1;
}

static int tok_eq(const repl_toks *t, int i, const char *s) { return repl_tok_is(t, i, s); }

static int can_precede_subscript(const repl_toks *t, int i) {
  if (i < 0) return 0;
  int k = t->t[i].kind;
  if (k == TK_NUMBER || k == TK_STRING || k == TK_CHAR) return 1;
  if (k == TK_IDENT) return !tok_eq(t, i, "return") && !tok_eq(t, i, "case");
  return tok_eq(t, i, ")") || tok_eq(t, i, "]");
}

/* The udf_type of a parameter/result type spelled by tokens [a, b), or -1. */
int repl_type_of_tokens(const repl_toks *t, int a, int b, int allow_void) {
  char buf[128];
  size_t n = 0;
  for (int k = a; k < b && n < sizeof buf - 16; k++) {
    if (tok_eq(t, k, "const") || tok_eq(t, k, "signed")) continue;
    if (n) buf[n++] = ' ';
    int l = repl_tok_len(t, k);
    if (n + (size_t)l >= sizeof buf - 1) return -1;
    memcpy(buf + n, repl_tok_ptr(t, k), (size_t)l);
    n += (size_t)l;
  }
  buf[n] = 0;
  static const struct {
    const char *spelling;
    int type;
  } map[] = {
      {"long", UDF_LONG},       {"long long", UDF_LONG},    {"long int", UDF_LONG},
      {"unsigned long", UDF_LONG}, {"unsigned", UDF_LONG},  {"unsigned int", UDF_LONG},
      {"short", UDF_LONG},      {"int64_t", UDF_LONG},      {"size_t", UDF_LONG},
      {"int", UDF_INT},         {"int32_t", UDF_INT},       {"char", UDF_INT},
      {"double", UDF_DOUBLE},   {"float", UDF_DOUBLE},      {"bool", UDF_BOOL},
      {"_Bool", UDF_BOOL},      {"str", UDF_STR},           {"val", UDF_VAL},
      {"char *", UDF_CSTR},     {"void", UDF_VOID},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(buf, map[i].spelling) == 0) return map[i].type == UDF_VOID && !allow_void ? -1 : map[i].type;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Result type inference                                                    */
/* ------------------------------------------------------------------------ */

typedef struct infer {
  const repl_toks *t;
  const repl_lambda *l;
  const repl_names *names;
  int body0, body1; /* the body's tokens, for local declarations */
} infer;

/* Helpers and libc functions whose result type is certain. */
static int known_call(const repl_toks *t, int i) {
  static const struct {
    const char *name;
    int type;
  } fns[] = {
      {"kv", UDF_VAL},        {"tuple", UDF_VAL},       {"list", UDF_VAL},
      {"split", UDF_VAL},     {"words", UDF_VAL},       {"at", UDF_VAL},
      {"key", UDF_VAL},       {"value", UDF_VAL},       {"add", UDF_VAL},
      {"strf", UDF_STR},      {"lower", UDF_STR},       {"upper", UDF_STR},
      {"trim", UDF_STR},      {"as_str", UDF_STR},      {"repr", UDF_STR},
      {"len", UDF_LONG},      {"as_long", UDF_LONG},    {"to_long", UDF_LONG},
      {"strlen", UDF_LONG},   {"labs", UDF_LONG},       {"abs", UDF_LONG},
      {"atol", UDF_LONG},     {"atoi", UDF_LONG},       {"strtol", UDF_LONG},
      {"strcmp", UDF_LONG},   {"lround", UDF_LONG},
      {"as_double", UDF_DOUBLE}, {"to_double", UDF_DOUBLE}, {"sqrt", UDF_DOUBLE},
      {"pow", UDF_DOUBLE},    {"exp", UDF_DOUBLE},      {"log", UDF_DOUBLE},
      {"log2", UDF_DOUBLE},   {"log10", UDF_DOUBLE},    {"sin", UDF_DOUBLE},
      {"cos", UDF_DOUBLE},    {"tan", UDF_DOUBLE},      {"floor", UDF_DOUBLE},
      {"ceil", UDF_DOUBLE},   {"round", UDF_DOUBLE},    {"fabs", UDF_DOUBLE},
      {"fmin", UDF_DOUBLE},   {"fmax", UDF_DOUBLE},     {"fmod", UDF_DOUBLE},
      {"atof", UDF_DOUBLE},   {"strtod", UDF_DOUBLE},   {"hypot", UDF_DOUBLE},
      {"str_eq", UDF_BOOL},   {"starts_with", UDF_BOOL}, {"ends_with", UDF_BOOL},
      {"contains", UDF_BOOL}, {"is_none", UDF_BOOL},    {"as_bool", UDF_BOOL},
      {"val_eq", UDF_BOOL},   {"isdigit", UDF_BOOL},    {"isalpha", UDF_BOOL},
  };
  for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++)
    if (tok_eq(t, i, fns[k].name)) return fns[k].type;
  return -2; /* not a known helper */
}

/* Type of a local declared in the body as `TYPE name`. */
static int local_type(infer *in, int name_tok) {
  const repl_toks *t = in->t;
  for (int k = in->body0; k < in->body1; k++) {
    if (t->t[k].kind == TK_IDENT && repl_tok_len(t, k) == repl_tok_len(t, name_tok) &&
        memcmp(repl_tok_ptr(t, k), repl_tok_ptr(t, name_tok), (size_t)repl_tok_len(t, k)) == 0 &&
        k > in->body0 && (tok_eq(t, k + 1, "=") || tok_eq(t, k + 1, ";") || tok_eq(t, k + 1, ","))) {
      /* Walk back over the type's tokens. */
      int a = k;
      while (a - 1 >= in->body0 && t->t[a - 1].kind == TK_IDENT &&
             repl_type_of_tokens(t, a - 1, k, 0) >= 0)
        a--;
      if (a < k) return repl_type_of_tokens(t, a, k, 0);
    }
  }
  return -1;
}

static int unify(int a, int b) {
  if (a == b) return a;
  if ((a == UDF_LONG && b == UDF_INT) || (a == UDF_INT && b == UDF_LONG)) return UDF_LONG;
  if ((a == UDF_STR && b == UDF_CSTR) || (a == UDF_CSTR && b == UDF_STR)) return UDF_STR;
  return -1;
}

static int infer_expr(infer *in, int a, int b);

/* Splits [a, b) at top-level tokens for which pred holds; returns count. */
static int top_level_has(const repl_toks *t, int a, int b, const char *const *ops) {
  int depth = 0;
  for (int k = a; k < b; k++) {
    if (tok_eq(t, k, "(") || tok_eq(t, k, "[") || tok_eq(t, k, "{")) depth++;
    else if (tok_eq(t, k, ")") || tok_eq(t, k, "]") || tok_eq(t, k, "}")) depth--;
    else if (depth == 0)
      for (int j = 0; ops[j]; j++)
        if (tok_eq(t, k, ops[j])) return k;
  }
  return -1;
}

/* The type of an operand [a, b). `part` says the range is a strict part of
 * the expression being inferred (an operand between operators), so any
 * operand -- "(i * 7919)", "abs(x)", "(long)y" -- may be inferred as an
 * expression of its own; otherwise only single tokens and unary prefixes
 * are, so recursion always shrinks the range. */
static int operand_type(infer *in, int a, int b, int part) {
  const repl_toks *t = in->t;
  int a0 = a;
  while (a < b && (tok_eq(t, a, "-") || tok_eq(t, a, "+") || tok_eq(t, a, "~"))) a++;
  if (a >= b) return -1;
  if (b - a == 1) {
    int k = t->t[a].kind;
    if (k == TK_NUMBER) {
      const char *p = repl_tok_ptr(t, a);
      int n = repl_tok_len(t, a);
      int hex = n > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
      for (int j = 0; j < n; j++)
        if (p[j] == '.' || (!hex && (p[j] == 'e' || p[j] == 'E'))) return UDF_DOUBLE;
      return UDF_LONG;
    }
    if (k == TK_CHAR) return UDF_LONG;
    if (k == TK_STRING) return UDF_CSTR;
    if (k == TK_IDENT) {
      if (tok_eq(t, a, "true") || tok_eq(t, a, "false")) return UDF_BOOL;
      if (tok_eq(t, a, "NONE")) return UDF_VAL;
      for (int i = 0; i < in->l->nparams; i++) {
        int pn = in->l->param_name[i];
        if (pn >= 0 && repl_tok_len(t, pn) == repl_tok_len(t, a) &&
            memcmp(repl_tok_ptr(t, pn), repl_tok_ptr(t, a), (size_t)repl_tok_len(t, a)) == 0)
          return in->l->params[i];
      }
      int lt = local_type(in, a);
      if (lt >= 0) return lt;
      if (in->names && in->names->var_type)
        return in->names->var_type(in->names->ctx, repl_tok_ptr(t, a), repl_tok_len(t, a));
      return -1;
    }
    return -1;
  }
  /* Only a strictly smaller range may go back to infer_expr. */
  return a > a0 || part ? infer_expr(in, a, b) : -1;
}

static int infer_expr(infer *in, int a, int b) {
  const repl_toks *t = in->t;
  if (a >= b) return -1;
  /* (e) */
  if (tok_eq(t, a, "(") && match(t, a, b) == b - 1) {
    /* A cast: (type) expr. */
    int ty = repl_type_of_tokens(t, a + 1, b - 1, 0);
    if (ty >= 0) return -1; /* "(long)" alone is not an expression */
    return infer_expr(in, a + 1, b - 1);
  }
  if (tok_eq(t, a, "(")) {
    int close = match(t, a, b);
    if (close > a) {
      int ty = repl_type_of_tokens(t, a + 1, close, 0);
      if (ty >= 0) return ty;
    }
  }
  static const char *const tern[] = {"?", NULL};
  int q = top_level_has(t, a, b, tern);
  if (q >= 0) {
    static const char *const colon[] = {":", NULL};
    int c = top_level_has(t, q + 1, b, colon);
    if (c < 0) return -1;
    return unify(infer_expr(in, q + 1, c), infer_expr(in, c + 1, b));
  }
  static const char *const logic[] = {"==", "!=", "<", ">", "<=", ">=", "&&", "||", NULL};
  if (top_level_has(t, a, b, logic) >= 0) return UDF_BOOL;
  static const char *const assign[] = {"=", "+=", "-=", "*=", "/=", "%=", NULL};
  if (top_level_has(t, a, b, assign) >= 0) return -1;
  if (tok_eq(t, a, "!")) return UDF_BOOL;
  static const char *const arith[] = {"+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", NULL};
  /* Binary arithmetic: every operand's type must be known. */
  int depth = 0, start = a, result = -3, any = 0;
  for (int k = a; k <= b; k++) {
    int is_op = 0;
    if (k < b) {
      if (tok_eq(t, k, "(") || tok_eq(t, k, "[")) depth++;
      else if (tok_eq(t, k, ")") || tok_eq(t, k, "]")) depth--;
      else if (depth == 0 && k > start) {
        /* After an operator, "-" is unary ("x * -1"): not a split. */
        int after_operand = t->t[k - 1].kind != TK_PUNCT || tok_eq(t, k - 1, ")") ||
                            tok_eq(t, k - 1, "]");
        for (int j = 0; arith[j] && after_operand; j++)
          if (tok_eq(t, k, arith[j])) is_op = 1;
      }
    }
    if (k == b || is_op) {
      if (k == b && !any) break;
      int ot = operand_type(in, start, k, 1);
      if (ot != UDF_LONG && ot != UDF_INT && ot != UDF_DOUBLE && ot != UDF_BOOL) return -1;
      int num = ot == UDF_DOUBLE ? UDF_DOUBLE : UDF_LONG;
      result = result == -3 ? num : (result == UDF_DOUBLE || num == UDF_DOUBLE ? UDF_DOUBLE : UDF_LONG);
      start = k + 1;
      any = 1;
    }
  }
  if (any) return result;
  /* name(args) */
  if (t->t[a].kind == TK_IDENT && tok_eq(t, a + 1, "(") && match(t, a + 1, b) == b - 1) {
    int k = known_call(t, a);
    if (k != -2) return k;
    if (in->names && in->names->fn_type)
      return in->names->fn_type(in->names->ctx, repl_tok_ptr(t, a), repl_tok_len(t, a));
    return -1;
  }
  /* A single token, or a unary prefix ("-x", "-(x * 2)"). */
  return operand_type(in, a, b, 0);
}

/* A small type expression for an expression's value ("long", "(str,long)",
 * "list[str]"), "?" when unknown. */
static void dtype_expr(infer *in, int a, int b, char *out, size_t cap) {
  const repl_toks *t = in->t;
  snprintf(out, cap, "?");
  if (a >= b) return;
  if (t->t[a].kind == TK_IDENT && tok_eq(t, a + 1, "(") && match(t, a + 1, b) == b - 1) {
    int is_kv = tok_eq(t, a, "kv"), is_tuple = tok_eq(t, a, "tuple");
    if (tok_eq(t, a, "split") || tok_eq(t, a, "words")) {
      snprintf(out, cap, "list[str]");
      return;
    }
    if (is_kv || is_tuple) {
      /* Arguments split at top-level commas. */
      char acc[256] = "(";
      int depth = 0, start = a + 2, nargs = 0;
      for (int k = a + 2; k < b; k++) {
        if (tok_eq(t, k, "(") || tok_eq(t, k, "[") || tok_eq(t, k, "{")) depth++;
        else if ((tok_eq(t, k, ")") || tok_eq(t, k, "]") || tok_eq(t, k, "}")) && depth > 0) depth--;
        else if (depth == 0 && (tok_eq(t, k, ",") || k == b - 1)) {
          char sub[128];
          dtype_expr(in, start, k, sub, sizeof sub);
          if (nargs++) strncat(acc, ",", sizeof acc - strlen(acc) - 1);
          strncat(acc, sub, sizeof acc - strlen(acc) - 1);
          start = k + 1;
        }
      }
      strncat(acc, nargs == 1 ? ",)" : ")", sizeof acc - strlen(acc) - 1);
      snprintf(out, cap, "%s", acc);
      return;
    }
  }
  int ty = infer_expr(in, a, b);
  switch (ty) {
    case UDF_LONG:
    case UDF_INT: snprintf(out, cap, "long"); break;
    case UDF_DOUBLE: snprintf(out, cap, "double"); break;
    case UDF_BOOL: snprintf(out, cap, "bool"); break;
    case UDF_STR:
    case UDF_CSTR: snprintf(out, cap, "str"); break;
    default: break;
  }
}

/* Infers the lambda's result type from its return statements. */
static void infer_result(const repl_toks *t, repl_lambda *l, int body0, int body1,
                         const repl_names *names) {
  infer in = {t, l, names, body0, body1};
  int type = -3, nret = 0;
  char dt[128] = "", first_dt[128] = "";
  int dt_same = 1;
  for (int k = body0; k < body1; k++) {
    if (!tok_eq(t, k, "return")) continue;
    int e = k + 1, depth = 0;
    while (e < body1 && !(depth == 0 && tok_eq(t, e, ";"))) {
      if (tok_eq(t, e, "(") || tok_eq(t, e, "[") || tok_eq(t, e, "{")) depth++;
      if (tok_eq(t, e, ")") || tok_eq(t, e, "]") || tok_eq(t, e, "}")) depth--;
      e++;
    }
    if (e == k + 1) continue; /* return; */
    nret++;
    int ty = infer_expr(&in, k + 1, e);
    type = type == -3 ? ty : unify(type, ty);
    dtype_expr(&in, k + 1, e, dt, sizeof dt);
    if (nret == 1)
      snprintf(first_dt, sizeof first_dt, "%s", dt);
    else if (strcmp(dt, first_dt) != 0)
      dt_same = 0;
  }
  if (nret == 0) {
    l->ret = UDF_VOID;
    return;
  }
  if (type < 0 || type == UDF_VAL) {
    l->ret = UDF_VAL;
    l->ret_is_val_wrap = type < 0;
  } else {
    l->ret = (udf_type)(type == UDF_CSTR ? UDF_STR : type);
    /* A string literal returned as str needs the conversion. */
    l->ret_is_val_wrap = 0;
    if (type == UDF_CSTR || type == UDF_STR) {
      l->ret = UDF_VAL;
      l->ret_is_val_wrap = 1;
    }
  }
  if (dt_same && strcmp(first_dt, "?") != 0) snprintf(l->ret_dtype, sizeof l->ret_dtype, "%s", first_dt);
}

/* ------------------------------------------------------------------------ */
/* Finding lambdas                                                          */
/* ------------------------------------------------------------------------ */

static int lambda_error(eng_err *err, const char *cell, int line, const char *fmt, const char *arg) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, arg);
  return eng_err_set(err, ENG_ECOMPILE, "CompileError: %s:%d: error: %s", cell, line, msg);
}

/* Parses a lambda starting at '[' token i; returns 1 and fills l, 0 if it
 * is not a lambda, <0 on a malformed one. */
static int parse_lambda(const repl_toks *t, int i, int limit, const repl_names *names,
                        const char *cell, repl_lambda *l, eng_err *err) {
  memset(l, 0, sizeof *l);
  int close_caps = match(t, i, limit);
  if (close_caps < 0 || !tok_eq(t, close_caps + 1, "(")) return 0;
  int close_params = match(t, close_caps + 1, limit);
  if (close_params < 0) return 0;
  int k = close_params + 1, ret0 = -1, ret1 = -1;
  if (tok_eq(t, k, "->")) {
    ret0 = k + 1;
    while (k < limit && !tok_eq(t, k, "{")) k++;
    ret1 = k;
  }
  if (!tok_eq(t, k, "{")) return 0;
  int body_close = match(t, k, limit);
  if (body_close < 0) return 0;
  l->t0 = i;
  l->t1 = body_close + 1;
  l->line = t->t[i].line;
  /* captures */
  for (int c = i + 1; c < close_caps; c++) {
    if (tok_eq(t, c, ",")) continue;
    if (t->t[c].kind != TK_IDENT)
      return lambda_error(err, cell, l->line, "lambda captures are variable names, as in [k, n]%s", "");
    if (l->ncaps == REPL_MAX_CAPS)
      return lambda_error(err, cell, l->line, "too many captures (at most 32)%s", "");
    l->cap_tok[l->ncaps++] = c;
  }
  /* parameters */
  int p0 = close_caps + 2;
  if (!(close_params == p0 || (close_params == p0 + 1 && tok_eq(t, p0, "void")))) {
    int start = p0;
    for (int c = p0; c <= close_params; c++) {
      if (c < close_params && !tok_eq(t, c, ",")) continue;
      if (l->nparams == UDF_MAX_PARAMS)
        return lambda_error(err, cell, l->line, "a lambda takes at most 4 parameters%s", "");
      int name = c - 1;
      if (name < start || t->t[name].kind != TK_IDENT)
        return lambda_error(err, cell, l->line, "lambda parameters need a type and a name, as in (long x)%s", "");
      int ty = repl_type_of_tokens(t, start, name, 0);
      if (ty < 0) {
        char pname[64];
        snprintf(pname, sizeof pname, "%.*s", repl_tok_len(t, name), repl_tok_ptr(t, name));
        return lambda_error(err, cell, t->t[name].line,
                            "lambda parameter '%s' must be long, int, double, bool, str, char * or val",
                            pname);
      }
      l->params[l->nparams] = (udf_type)ty;
      l->param_name[l->nparams] = name;
      l->nparams++;
      start = c + 1;
    }
  }
  /* nested lambdas cannot run on executors */
  for (int c = k + 1; c < body_close; c++)
    if (tok_eq(t, c, "[") && !can_precede_subscript(t, c - 1) && tok_eq(t, match(t, c, body_close) + 1, "("))
      return lambda_error(err, cell, t->t[c].line, "a lambda cannot contain another lambda%s", "");
  if (ret0 >= 0) {
    int ty = repl_type_of_tokens(t, ret0, ret1, 1);
    if (ty < 0)
      return lambda_error(err, cell, l->line,
                          "a lambda's result type (-> T) must be long, int, double, bool, str, char *, val or void%s", "");
    l->ret = (udf_type)ty;
  } else {
    infer_result(t, l, k + 1, body_close, names);
  }
  return 1;
}

int repl_find_lambdas(const repl_toks *t, int t0, int t1, const repl_names *names,
                      const char *cell_name, repl_lambda **out, int *out_n, eng_err *err) {
  *out = NULL;
  *out_n = 0;
  int cap = 0;
  for (int i = t0; i < t1; i++) {
    if (!tok_eq(t, i, "[") || (i > t0 && can_precede_subscript(t, i - 1))) continue;
    repl_lambda l;
    int rc = parse_lambda(t, i, t1, names, cell_name, &l, err);
    if (rc < 0) {
      eng_free(*out);
      *out = NULL;
      return rc;
    }
    if (rc == 0) continue;
    if (*out_n == cap) {
      cap = cap ? cap * 2 : 4;
      repl_lambda *v = eng_realloc(*out, (size_t)cap * sizeof *v);
      if (!v) {
        eng_free(*out);
        *out = NULL;
        return eng_err_set(err, ENG_ENOMEM, "MemoryError: lambdas");
      }
      *out = v;
    }
    (*out)[(*out_n)++] = l;
    i = l.t1 - 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

void repl_lambda_source(const repl_toks *t, const repl_lambda *l, const char *cell_name,
                        const char *fname, eng_buf *b) {
  int params_open = match(t, l->t0, l->t1) + 1;
  eng_buf_printf(b, "#line %d \"%s\"\nstatic %s %s", t->t[params_open].line, cell_name,
                 udf_type_c(l->ret), fname);
  /* Copy from '(' to the body's end, skipping "-> T", wrapping returns. */
  int body_open = params_open;
  while (body_open < l->t1 && !tok_eq(t, body_open, "{")) body_open++;
  int close_params = match(t, params_open, l->t1);
  eng_buf_append(b, t->src + t->t[params_open].start,
                 (size_t)(t->t[close_params].end - t->t[params_open].start));
  /* Keep line structure between ')' and '{' (an arrow may span lines). */
  for (int p = t->t[close_params].end; p < t->t[body_open].start; p++)
    if (t->src[p] == '\n') eng_buf_putc(b, '\n');
  eng_buf_putc(b, ' ');
  int pos = t->t[body_open].start;
  /* Returned values converted to the result type: to val for inferred
   * results of mixed or unknown type, to str for `-> str` (a literal, a
   * char * or a val returned as str). */
  const char *wrap = l->ret_is_val_wrap ? " EMBER_V(" : l->ret == UDF_STR ? " EMBER_S(" : NULL;
  if (wrap) {
    for (int k = body_open; k < l->t1; k++) {
      if (!tok_eq(t, k, "return") || tok_eq(t, k + 1, ";")) continue;
      eng_buf_append(b, t->src + pos, (size_t)(t->t[k].end - pos));
      eng_buf_puts(b, wrap);
      pos = t->t[k].end;
      int e = k + 1, depth = 0;
      while (e < l->t1 && !(depth == 0 && tok_eq(t, e, ";"))) {
        if (tok_eq(t, e, "(") || tok_eq(t, e, "[") || tok_eq(t, e, "{")) depth++;
        if (tok_eq(t, e, ")") || tok_eq(t, e, "]") || tok_eq(t, e, "}")) depth--;
        e++;
      }
      eng_buf_append(b, t->src + pos, (size_t)(t->t[e].start - pos));
      eng_buf_puts(b, ")");
      pos = t->t[e].start;
      k = e;
    }
  }
  eng_buf_append(b, t->src + pos, (size_t)(t->t[l->t1 - 1].end - pos));
  eng_buf_putc(b, '\n');
}

void repl_lambda_call(const repl_toks *t, const repl_lambda *l, long id, eng_buf *b) {
  eng_buf_printf(b, "eng_repl_lambda(%ld, %d, (val[%d]){NONE", id, l->ncaps, l->ncaps + 1);
  for (int i = 0; i < l->ncaps; i++)
    eng_buf_printf(b, ", EMBER_V(%.*s)", repl_tok_len(t, l->cap_tok[i]), repl_tok_ptr(t, l->cap_tok[i]));
  eng_buf_printf(b, "} + 1, (int[%d]){0", l->ncaps + 1);
  for (int i = 0; i < l->ncaps; i++)
    eng_buf_printf(b, ", EMBER_UDFTYPE(%.*s)", repl_tok_len(t, l->cap_tok[i]), repl_tok_ptr(t, l->cap_tok[i]));
  eng_buf_puts(b, "} + 1)");
  /* Keep the lines after the lambda where they were. */
  for (int p = t->t[l->t0].start; p < t->t[l->t1 - 1].end; p++)
    if (t->src[p] == '\n') eng_buf_putc(b, '\n');
}
