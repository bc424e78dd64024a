/* eval.c -- evaluating a cell: split, desugar lambdas, generate C, compile
 * with libtcc, link to earlier cells, run under a guard, show the result.
 *
 * The C generated for cell N:
 *     <earlier cells' #includes, #defines, types, prototypes>
 *     <extern declarations of earlier cells' globals and functions>
 *     <this cell's preprocessor lines, types and prototypes>
 *     <prototypes of this cell's functions>
 *     <this cell's globals, without non-constant initializers>
 *     <this cell's functions>
 *     void __ember_cell(void) { <initializers and statements in order>;
 *                               EMBER_SHOW(<last expression>); }
 * with #line directives throughout, so that every diagnostic names the cell
 * and line the user wrote (even for declarations repeated from old cells).
 * Earlier cells' symbols are given to libtcc by address; names this cell
 * defines are left out, so a redefinition shadows instead of clashing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/err.h"
#include "../engine/clock.h"
#include "../engine/mem.h"
#include "../engine/val.h"
#include "../udf/udf_guard.h"
#include "repl_int.h"
#include "tramp.h"

repl *repl__current;

static char *tok_dup(const repl_toks *t, int i) {
  return eng_strndup(repl_tok_ptr(t, i), (size_t)repl_tok_len(t, i));
}

static int grow(void **v, int *cap, int n, size_t size) {
  if (n < *cap) return 0;
  int nc = *cap ? *cap * 2 : 16;
  void *p = eng_realloc(*v, (size_t)nc * size);
  if (!p) return ENG_ENOMEM;
  *v = p;
  *cap = nc;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const builtin_types[] = {
    "val", "str", "ds", "udf", "size_t", "ssize_t", "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intptr_t", "uintptr_t", "intmax_t",
    "uintmax_t", "FILE", "bool", "va_list", "ptrdiff_t", "wchar_t", NULL,
};

static int is_type(void *ctx, const char *name, int len) {
  repl *r = ctx;
  for (int i = 0; builtin_types[i]; i++)
    if ((int)strlen(builtin_types[i]) == len && memcmp(builtin_types[i], name, (size_t)len) == 0) return 1;
  for (int i = 0; i < r->ntypes; i++)
    if ((int)strlen(r->typenames[i]) == len && memcmp(r->typenames[i], name, (size_t)len) == 0) return 1;
  return 0;
}

static repl_sym *find_sym(repl *r, const char *name, int len);

/* is_type for the cell splitter: also says which names are known not to be
 * types (the session's variables and functions). */
static int split_is_type(void *ctx, const char *name, int len) {
  if (is_type(ctx, name, len)) return 1;
  return find_sym(ctx, name, len) ? -1 : 0;
}

static void add_typename(repl *r, const char *name) {
  for (int i = 0; i < r->ntypes; i++)
    if (strcmp(r->typenames[i], name) == 0) return;
  if (grow((void **)&r->typenames, &r->captypes, r->ntypes, sizeof *r->typenames) < 0) return;
  r->typenames[r->ntypes++] = eng_strdup(name);
}

static repl_sym *find_sym(repl *r, const char *name, int len) {
  for (int i = r->nsyms - 1; i >= 0; i--)
    if ((int)strlen(r->syms[i].name) == len && memcmp(r->syms[i].name, name, (size_t)len) == 0)
      return &r->syms[i];
  return NULL;
}

static int var_type(void *ctx, const char *name, int len) {
  repl_sym *s = find_sym(ctx, name, len);
  return s && s->kind == SYM_VAR ? s->utype : -1;
}

static int fn_type(void *ctx, const char *name, int len) {
  repl_sym *s = find_sym(ctx, name, len);
  return s && s->kind == SYM_FUNC ? s->utype : -1;
}

/* The udf_type of a declaration whose specifiers are [a, spec_end) and
 * whose declarator has `stars` leading '*'. */
static int decl_utype(const repl_toks *t, int a, int spec_end, int stars) {
  int k = a;
  while (k < spec_end && (repl_tok_is(t, k, "static") || repl_tok_is(t, k, "extern") ||
                          repl_tok_is(t, k, "inline") || repl_tok_is(t, k, "const")))
    k++;
  if (stars == 0) return repl_type_of_tokens(t, k, spec_end, 1);
  if (stars == 1 && repl_type_of_tokens(t, k, spec_end, 0) == UDF_INT &&
      repl_tok_is(t, spec_end - 1, "char"))
    return UDF_CSTR;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* The session's declarations                                               */
/* ------------------------------------------------------------------------ */

/* Does the list of names `a` ('\n'-separated) share one with list `b`? */
static int names_overlap(const char *a, const char *b) {
  for (const char *p = a; *p;) {
    size_t n = strcspn(p, "\n");
    for (const char *q = b; *q;) {
      size_t m = strcspn(q, "\n");
      if (n && n == m && memcmp(p, q, n) == 0) return 1;
      q += m;
      if (*q) q++;
    }
    p += n;
    if (*p) p++;
  }
  return 0;
}

static void hdr_remove(repl *r, int i) {
  eng_free(r->hdr[i].key);
  eng_free(r->hdr[i].text);
  memmove(&r->hdr[i], &r->hdr[i + 1], (size_t)(r->nhdr - i - 1) * sizeof *r->hdr);
  r->nhdr--;
}

static void sym_free(repl_sym *s);

/* Puts a declaration into the session header. `key` lists the names it
 * defines ('\n'-separated: "point", "struct node", an enum's constants, a
 * macro's name); the first entry defining one of them is replaced in place
 * and any other such entry dropped, so a name defined again is never a
 * redefinition. Session variables and functions of those names are
 * forgotten too (a later cell sees the new meaning), unless the entry only
 * declares (decl_only: a prototype of a function defined later). */
static void hdr_put(repl *r, const char *key, const char *text, int decl_only) {
  if (key && *key) {
    int at = -1;
    for (int i = 0; i < r->nhdr; i++) {
      if (!r->hdr[i].key || !names_overlap(r->hdr[i].key, key)) continue;
      if (at < 0) {
        at = i;
      } else {
        hdr_remove(r, i);
        i--;
      }
    }
    if (!decl_only)
      for (int i = 0; i < r->nsyms; i++) {
        if (!names_overlap(r->syms[i].name, key)) continue;
        sym_free(&r->syms[i]);
        memmove(&r->syms[i], &r->syms[i + 1], (size_t)(r->nsyms - i - 1) * sizeof *r->syms);
        r->nsyms--;
        i--;
      }
    if (at >= 0) {
      eng_free(r->hdr[at].key);
      eng_free(r->hdr[at].text);
      r->hdr[at].key = eng_strdup(key);
      r->hdr[at].text = eng_strdup(text);
      return;
    }
  }
  if (grow((void **)&r->hdr, &r->caphdr, r->nhdr, sizeof *r->hdr) < 0) return;
  r->hdr[r->nhdr].key = key && *key ? eng_strdup(key) : NULL;
  r->hdr[r->nhdr].text = eng_strdup(text);
  r->nhdr++;
}

static int is_typename(repl *r, const char *name) {
  for (int i = 0; i < r->ntypes; i++)
    if (strcmp(r->typenames[i], name) == 0) return 1;
  return 0;
}

static void sym_free(repl_sym *s) {
  eng_free(s->name);
  eng_free(s->decl);
  eng_free(s->src);
  for (int i = 0; i < s->nuses; i++) eng_free(s->uses[i]);
  eng_free(s->uses);
}

/* The entry of a session variable or function `name`, replacing an older
 * one. A macro, enum constant or prototype of that name in the session
 * header goes (a typedef stays: the cell splitter knows it as a type). */
static repl_sym *sym_put(repl *r, const char *name) {
  if (!is_typename(r, name))
    for (int i = 0; i < r->nhdr; i++)
      if (r->hdr[i].key && names_overlap(r->hdr[i].key, name)) {
        hdr_remove(r, i);
        i--;
      }
  for (int i = 0; i < r->nsyms; i++)
    if (strcmp(r->syms[i].name, name) == 0) {
      sym_free(&r->syms[i]);
      memset(&r->syms[i], 0, sizeof r->syms[i]);
      r->syms[i].name = eng_strdup(name);
      return &r->syms[i];
    }
  if (grow((void **)&r->syms, &r->capsyms, r->nsyms, sizeof *r->syms) < 0) return NULL;
  repl_sym *s = &r->syms[r->nsyms++];
  memset(s, 0, sizeof *s);
  s->name = eng_strdup(name);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Generating a cell's C                                                    */
/* ------------------------------------------------------------------------ */

typedef struct gen {
  repl *r;
  repl_cell *c;
  const repl_toks *t;
  repl_lambda *lams; /* per item, all lambdas found */
  int nlams;
  int *lam_ids;      /* lambda -> repl_lam index */
  char **defined;    /* names this cell defines */
  int ndefined, capdefined;
  eng_buf file, body;
  int show_final;    /* wrap the last expression in EMBER_SHOW */
  /* Per item: a type hoisted out of a variable declaration (hoist_type). */
  char **hoist;
  int *hoist_a, *hoist_z;
  /* Per token: an earlier cell's variable read through a pointer
   * (plan_indirect); the names, for the pointers' definitions. */
  unsigned char *ind;
  char **ind_names;
  int nind, capind;
  eng_err err;
} gen;

static void line_dir(eng_buf *b, int line, const char *cell) {
  eng_buf_printf(b, "\n#line %d \"%s\"\n", line, cell);
}

/* Appends tokens [a, b) as written (layout kept), with lambdas replaced by
 * their calls and, optionally, some tokens left out (skip returns 1). */
static void emit_tokens(gen *g, eng_buf *b, int a, int z, int (*skip)(const repl_toks *, int), int indirect) {
  const repl_toks *t = g->t;
  if (a >= z) return;
  int pos = t->t[a].start;
  for (int k = a; k < z; k++) {
    int li = -1;
    for (int j = 0; j < g->nlams; j++)
      if (g->lams[j].t0 == k) li = j;
    if (li >= 0) {
      eng_buf_append(b, t->src + pos, (size_t)(t->t[k].start - pos));
      repl_lambda_call(t, &g->lams[li], g->lam_ids[li], b);
      k = g->lams[li].t1 - 1;
      pos = t->t[k].end;
      continue;
    }
    if (skip && skip(t, k)) {
      eng_buf_append(b, t->src + pos, (size_t)(t->t[k].start - pos));
      pos = t->t[k].end;
    } else if (indirect && g->ind && g->ind[k]) {
      eng_buf_append(b, t->src + pos, (size_t)(t->t[k].start - pos));
      eng_buf_printf(b, "(*__ember_gv_%.*s)", repl_tok_len(t, k), repl_tok_ptr(t, k));
      pos = t->t[k].end;
    }
  }
  eng_buf_append(b, t->src + pos, (size_t)(t->t[z - 1].end - pos));
}

/* The cell's own code: earlier cells' variables through their pointers. */
static void emit_range(gen *g, eng_buf *b, int a, int z, int (*skip)(const repl_toks *, int)) {
  emit_tokens(g, b, a, z, skip, 1);
}

/* Tokens as the user wrote them: sources shipped with lambdas (executors
 * have none of the session's variables) and prototypes. */
static void emit_as_written(gen *g, eng_buf *b, int a, int z, int (*skip)(const repl_toks *, int)) {
  emit_tokens(g, b, a, z, skip, 0);
}

static int skip_storage(const repl_toks *t, int k) {
  return repl_tok_is(t, k, "static") || repl_tok_is(t, k, "inline") || repl_tok_is(t, k, "extern");
}


static void define_name(gen *g, const char *name) {
  if (grow((void **)&g->defined, &g->capdefined, g->ndefined, sizeof *g->defined) < 0) return;
  g->defined[g->ndefined++] = eng_strdup(name);
}

static int cell_defines(gen *g, const char *name) {
  for (int i = 0; i < g->ndefined; i++)
    if (strcmp(g->defined[i], name) == 0) return 1;
  return 0;
}

/* An initializer is constant when it has only literals and operators (and
 * may stay at file scope, which const and arrays need). */
static int constant_init(const repl_toks *t, int a, int z) {
  for (int k = a; k < z; k++) {
    int kind = t->t[k].kind;
    if (kind == TK_IDENT && !repl_tok_is(t, k, "sizeof") && !repl_tok_is(t, k, "NULL") &&
        !repl_tok_is(t, k, "true") && !repl_tok_is(t, k, "false"))
      return 0;
  }
  return 1;
}

/* Elements of a brace initializer's top level ({1, 2, 3} -> 3). */
static int brace_count(const repl_toks *t, int a, int z) {
  int depth = 0, n = 0, any = 0;
  for (int k = a; k < z; k++) {
    if (repl_tok_is(t, k, "{") || repl_tok_is(t, k, "(") || repl_tok_is(t, k, "[")) {
      if (depth == 1) any = 1;
      depth++;
      continue;
    }
    if (repl_tok_is(t, k, "}") || repl_tok_is(t, k, ")") || repl_tok_is(t, k, "]")) {
      depth--;
      continue;
    }
    if (depth == 1) {
      if (repl_tok_is(t, k, ",")) {
        if (any) n++;
        any = 0;
      } else {
        any = 1;
      }
    }
  }
  return n + any;
}

/* One declarator of a variable declaration: a global, its initialization
 * in the cell body, and its extern declaration for later cells. Item
 * `index`'s specifiers may stand for a hoisted type (hoist_type). */
static void gen_var(gen *g, repl_item *it, int index, repl_declarator *d) {
  const repl_toks *t = g->t;
  repl *r = g->r;
  if (d->name < 0) return;
  char *name = tok_dup(t, d->name);
  int decl_end = d->eq >= 0 ? d->eq : d->t1;
  int has_init = d->eq >= 0 && d->eq + 1 < d->t1;
  int init0 = d->eq + 1, init1 = d->t1;
  int brace = has_init && repl_tok_is(t, init0, "{");
  int stars = 0, array = 0;
  for (int k = d->t0; k < decl_end; k++) {
    stars += repl_tok_is(t, k, "*");
    array |= repl_tok_is(t, k, "[") || repl_tok_is(t, k, "(");
  }
  int utype = g->hoist[index] ? -1 : decl_utype(t, it->t0, it->spec_end, stars);
  /* A str from a string literal, a char * or a val (SPEC 4): converted by
   * EMBER_S at run time. */
  int to_str = has_init && !brace && !array && utype == UDF_STR;
  int keep_init = has_init && !to_str && constant_init(t, init0, init1);
  /* Specifiers and declarator text. */
  eng_buf specs, decl;
  eng_buf_init(&specs);
  eng_buf_init(&decl);
  for (int k = it->t0; k < it->spec_end; k++) {
    if (g->hoist[index] && k == g->hoist_a[index]) {
      eng_buf_printf(&specs, "%s ", g->hoist[index]);
      k = g->hoist_z[index] - 1;
      continue;
    }
    if (skip_storage(t, k) || (!keep_init && repl_tok_is(t, k, "const"))) continue;
    eng_buf_append(&specs, repl_tok_ptr(t, k), (size_t)repl_tok_len(t, k));
    eng_buf_putc(&specs, ' ');
  }
  for (int k = d->t0; k < decl_end; k++) {
    /* int a[] = {..} with a non-constant initializer needs its size. */
    if (repl_tok_is(t, k, "[") && repl_tok_is(t, k + 1, "]") && has_init && !keep_init) {
      eng_buf_printf(&decl, "[%d]", brace ? brace_count(t, init0, init1) : 1);
      k++;
      continue;
    }
    if (!keep_init && repl_tok_is(t, k, "const")) continue;
    eng_buf_append(&decl, repl_tok_ptr(t, k), (size_t)repl_tok_len(t, k));
    eng_buf_putc(&decl, ' ');
  }
  line_dir(&g->file, t->t[d->t0].line, r->cell_name);
  eng_buf_printf(&g->file, "%s%s", eng_buf_cstr(&specs), eng_buf_cstr(&decl));
  if (keep_init) {
    eng_buf_puts(&g->file, "= ");
    emit_range(g, &g->file, init0, init1, NULL);
  } else if (d->eq >= 0 && !has_init) {
    eng_buf_puts(&g->file, "= "); /* `long b = ;` is the compiler's error to report */
  }
  eng_buf_puts(&g->file, "; ;\n");
  if (has_init && !keep_init) {
    line_dir(&g->body, t->t[init0].line, r->cell_name);
    if (brace) {
      /* A brace initializer goes through a temporary of the same type. */
      eng_buf_printf(&g->body, "{ %s", eng_buf_cstr(&specs));
      for (int k = d->t0; k < decl_end; k++) {
        if (k == d->name) {
          eng_buf_puts(&g->body, "__ember_tmp ");
          continue;
        }
        if (repl_tok_is(t, k, "const")) continue;
        if (repl_tok_is(t, k, "[") && repl_tok_is(t, k + 1, "]")) {
          eng_buf_printf(&g->body, "[%d]", brace_count(t, init0, init1));
          k++;
          continue;
        }
        eng_buf_append(&g->body, repl_tok_ptr(t, k), (size_t)repl_tok_len(t, k));
        eng_buf_putc(&g->body, ' ');
      }
      eng_buf_puts(&g->body, "= ");
      emit_range(g, &g->body, init0, init1, NULL);
      eng_buf_printf(&g->body, "; memcpy(&%s, &__ember_tmp, sizeof %s); }\n", name, name);
    } else {
      eng_buf_printf(&g->body, "%s = %s(", name, to_str ? "EMBER_S" : "");
      emit_range(g, &g->body, init0, init1, NULL);
      eng_buf_puts(&g->body, ");\n");
    }
  }
  define_name(g, name);
  repl_sym *s = sym_put(r, name);
  if (s) {
    s->kind = SYM_VAR;
    eng_buf ex;
    eng_buf_init(&ex);
    eng_buf_printf(&ex, "extern %s%s;", eng_buf_cstr(&specs), eng_buf_cstr(&decl));
    s->decl = eng_buf_take(&ex, NULL);
    s->utype = utype;
    s->cell = r->cell;
    s->line = t->t[d->t0].line;
    s->addr = NULL; /* set once compiled */
  }
  eng_buf_free(&specs);
  eng_buf_free(&decl);
  eng_free(name);
}

/* A function definition: its text now, its prototype and source for later. */
static void gen_func(gen *g, repl_item *it) {
  const repl_toks *t = g->t;
  repl *r = g->r;
  char *name = tok_dup(t, it->name);
  line_dir(&g->file, it->line, r->cell_name);
  emit_range(g, &g->file, it->t0, it->t1, skip_storage);
  eng_buf_puts(&g->file, " ;\n");
  /* The source shipped with lambdas names variables as written: executors
   * have none of the session's variables anyway. */
  eng_buf fn;
  eng_buf_init(&fn);
  line_dir(&fn, it->line, r->cell_name);
  emit_as_written(g, &fn, it->t0, it->t1, skip_storage);
  eng_buf_putc(&fn, '\n');
  define_name(g, name);
  repl_sym *s = sym_put(r, name);
  if (s) {
    s->kind = SYM_FUNC;
    eng_buf proto;
    eng_buf_init(&proto);
    line_dir(&proto, it->line, r->cell_name);
    emit_as_written(g, &proto, it->t0, it->body, skip_storage);
    eng_buf_puts(&proto, ";");
    s->decl = eng_buf_take(&proto, NULL);
    s->src = eng_buf_take(&fn, NULL);
    int stars = 0;
    for (int k = it->spec_end; k < it->name; k++) stars += repl_tok_is(t, k, "*");
    s->utype = decl_utype(t, it->t0, it->spec_end, stars);
    s->cell = r->cell;
    s->line = it->line;
    /* Names the body mentions, to ship functions a lambda needs. */
    for (int k = it->body; k < it->t1; k++) {
      if (t->t[k].kind != TK_IDENT || !repl_tok_is(t, k + 1, "(")) continue;
      char **v = eng_realloc(s->uses, (size_t)(s->nuses + 1) * sizeof *v);
      if (!v) break;
      s->uses = v;
      s->uses[s->nuses++] = tok_dup(t, k);
    }
  }
  eng_buf_free(&fn);
  eng_free(name);
}

/* ------------------------------------------------------------------------ */
/* Earlier cells' variables, through pointers                               */
/* ------------------------------------------------------------------------ */

/* Why: a cell reaches earlier cells' variables as externs whose addresses
 * are given to libtcc (tcc_add_symbol). libtcc 0.9.27 lets floating-point
 * instructions read such an extern straight from memory with a PC-relative
 * operand, and sends PC-relative references to those symbols through a PLT
 * stub: `x + d` read the stub's code as the double d. Loads through a
 * pointer held in a register are right, so a cell reads each earlier
 * variable it uses as (*__ember_gv_NAME), a static pointer to it defined in
 * the cell.
 *
 * The rewriting is token-level, without C's scopes, so it stays away from
 * any name the cell might also declare (a local, a parameter, a member, an
 * enum constant, a label, a macro): such a name keeps the plain extern.
 * Member names after '.' and '->' are left as they are, and so are the
 * cell's header items and prototypes. */

static const char *const c_type_words[] = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "bool", "const", "volatile", "restrict", "__restrict", "static", "extern", "register",
    "auto", "typedef", "inline", "_Complex", "_Thread_local", "struct", "union", "enum", NULL,
};

/* Names before which an identifier is an operand, not a declarator. */
static const char *const c_expr_words[] = {
    "return", "sizeof", "case", "else", "do", "_Alignof", "__alignof__", NULL,
};

static int tok_in(const repl_toks *t, int k, const char *const *words) {
  for (int i = 0; words[i]; i++)
    if (repl_tok_is(t, k, words[i])) return 1;
  return 0;
}

/* A type name: a keyword of one, a typedef of the session or a builtin one
 * (is_type), or a tag after struct/union/enum. */
static int type_word(gen *g, int k) {
  const repl_toks *t = g->t;
  if (t->t[k].kind != TK_IDENT) return 0;
  if (tok_in(t, k, c_type_words)) return 1;
  if (is_type(g->r, repl_tok_ptr(t, k), repl_tok_len(t, k))) return 1;
  return k > 0 && (repl_tok_is(t, k - 1, "struct") || repl_tok_is(t, k - 1, "union") ||
                   repl_tok_is(t, k - 1, "enum"));
}

/* The bracket opening the one that closes at k, searching back to lo. */
static int match_back(const repl_toks *t, int k, int lo) {
  char c = repl_tok_ptr(t, k)[0], o = c == ')' ? '(' : c == ']' ? '[' : '{';
  int depth = 0;
  for (int j = k; j >= lo; j--) {
    if (t->t[j].kind != TK_PUNCT || repl_tok_len(t, j) != 1) continue;
    char x = repl_tok_ptr(t, j)[0];
    if (x == c) depth++;
    if (x == o && --depth == 0) return j;
  }
  return -1;
}

/* Does '}' at k close a struct/union/enum body (`struct {...} NAME`)? */
static int closes_tag_body(const repl_toks *t, int k, int lo) {
  int o = match_back(t, k, lo);
  if (o <= lo) return 0;
  int j = o - 1;
  if (t->t[j].kind == TK_IDENT && j > lo && !tok_in(t, j, c_type_words)) j--;
  return repl_tok_is(t, j, "struct") || repl_tok_is(t, j, "union") || repl_tok_is(t, j, "enum");
}

/* Does ')' at k end __typeof__(...) or an attribute (a declarator follows)? */
static int closes_typeof(const repl_toks *t, int k, int lo) {
  int o = match_back(t, k, lo);
  if (o <= lo) return 0;
  return repl_tok_is(t, o - 1, "typeof") || repl_tok_is(t, o - 1, "__typeof__") ||
         repl_tok_is(t, o - 1, "__typeof") || repl_tok_is(t, o - 1, "__attribute__") ||
         repl_tok_is(t, o - 1, "_Alignas");
}

typedef struct names_seen {
  const char **p;
  int *len;
  int n, cap;
} names_seen;

static int seen_has(const names_seen *s, const char *p, int len) {
  for (int i = 0; i < s->n; i++)
    if (s->len[i] == len && memcmp(s->p[i], p, (size_t)len) == 0) return 1;
  return 0;
}

static void seen_add(names_seen *s, const char *p, int len) {
  if (seen_has(s, p, len)) return;
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 16;
    const char **np = eng_realloc((void *)s->p, (size_t)cap * sizeof *np);
    if (np) s->p = np;
    int *nl = eng_realloc(s->len, (size_t)cap * sizeof *nl);
    if (nl) s->len = nl;
    if (!np || !nl) return;
    s->cap = cap;
  }
  s->p[s->n] = p;
  s->len[s->n++] = len;
}

/* Is the identifier at k known as a variable (a session variable, or one
 * the cell declares with a type keyword), so that `k * NAME` multiplies? */
static int known_var(gen *g, const names_seen *locals, int k) {
  const repl_toks *t = g->t;
  if (t->t[k].kind != TK_IDENT) return 0;
  repl_sym *s = find_sym(g->r, repl_tok_ptr(t, k), repl_tok_len(t, k));
  return (s && s->kind == SYM_VAR) || seen_has(locals, repl_tok_ptr(t, k), repl_tok_len(t, k));
}

/* Is token c, a ',' in [lo, c), inside a declaration's list of declarators
 * (`double a, NAME`), an enum body or a parameter list? */
static int comma_declares(gen *g, const names_seen *locals, int c, int lo) {
  const repl_toks *t = g->t;
  int j = c - 1;
  for (; j >= lo; j--) {
    if (repl_tok_is(t, j, ")") || repl_tok_is(t, j, "]") || repl_tok_is(t, j, "}")) {
      int o = match_back(t, j, lo);
      if (o < 0) return 1;
      j = o;
      continue;
    }
    if (repl_tok_is(t, j, ";") || repl_tok_is(t, j, "(") || repl_tok_is(t, j, "[") || repl_tok_is(t, j, "{"))
      break;
  }
  if (j >= lo && repl_tok_is(t, j, "{")) {
    int k = j - 1;
    if (k >= lo && t->t[k].kind == TK_IDENT && !repl_tok_is(t, k, "enum")) k--;
    if (k >= lo && repl_tok_is(t, k, "enum")) return 1;
  }
  int s0 = j + 1;
  if (s0 >= c) return 0;
  if (type_word(g, s0)) return 1;
  if (t->t[s0].kind == TK_IDENT && !tok_in(t, s0, c_expr_words)) {
    if (s0 + 1 < c && t->t[s0 + 1].kind == TK_IDENT) return 1; /* `time_t a, NAME` */
    if (s0 + 1 < c && repl_tok_is(t, s0 + 1, "*") && !known_var(g, locals, s0)) return 1;
  }
  return 0;
}

/* Could the identifier at k, in tokens [lo, hi), be declared there (or be
 * a label, or a macro's call) rather than used? Errs towards yes. */
static int may_declare(gen *g, const names_seen *locals, int k, int lo, int hi) {
  const repl_toks *t = g->t;
  if (k + 1 < hi && (repl_tok_is(t, k + 1, ":") || repl_tok_is(t, k + 1, "("))) return 1;
  if (k == lo) return 0;
  int p = k - 1;
  if (t->t[p].kind == TK_IDENT) return !tok_in(t, p, c_expr_words);
  if (repl_tok_is(t, p, "}")) return closes_tag_body(t, p, lo);
  int j = p, star = 0;
  while (j >= lo && (repl_tok_is(t, j, "*") || repl_tok_is(t, j, "(") || repl_tok_is(t, j, "const") ||
                     repl_tok_is(t, j, "volatile") || repl_tok_is(t, j, "restrict"))) {
    star |= repl_tok_is(t, j, "*");
    j--;
  }
  if (j < lo) return 0;
  if (j < p) { /* crossed stars, parentheses or qualifiers */
    if (t->t[j].kind == TK_IDENT) {
      if (tok_in(t, j, c_expr_words)) return 0;
      if (j > lo && (repl_tok_is(t, j - 1, ".") || repl_tok_is(t, j - 1, "->"))) return 0; /* p.b * NAME */
      if (type_word(g, j)) return 1;
      return star && !known_var(g, locals, j);
    }
    if (repl_tok_is(t, j, "}")) return closes_tag_body(t, j, lo);
    if (repl_tok_is(t, j, ")")) return closes_typeof(t, j, lo);
    if (repl_tok_is(t, j, ",")) return comma_declares(g, locals, j, lo);
    return 0;
  }
  if (repl_tok_is(t, p, ")")) return closes_typeof(t, p, lo);
  if (repl_tok_is(t, p, ",") || repl_tok_is(t, p, "{")) return comma_declares(g, locals, k, lo);
  return 0;
}

/* The tokens of the cell's code that may read earlier variables: the
 * bodies (and parameters) of functions, statements, the last expression,
 * and variables' initializers; not inside lambdas (their bodies become UDF
 * sources). 1 code, 0 other (header items, declarators), -1 in a lambda. */
static int token_context(gen *g, const repl_item *it, int k) {
  for (int j = 0; j < g->nlams; j++)
    if (k >= g->lams[j].t0 && k < g->lams[j].t1) return -1;
  switch (it->kind) {
    case IT_FUNC:
    case IT_STMT:
    case IT_EXPR: return 1;
    case IT_VAR:
      for (int d = 0; d < it->ndecl; d++)
        if (it->decl[d].eq >= 0 && k > it->decl[d].eq && k < it->decl[d].t1) return 1;
      return 0;
    default: return 0;
  }
}

/* Decides which tokens of the cell read an earlier cell's variable through
 * its pointer (g->ind) and which pointers the cell defines (g->ind_names). */
static int plan_indirect(gen *g) {
  const repl_toks *t = g->t;
  repl *r = g->r;
  repl_cell *c = g->c;
  int any = 0;
  for (int i = 0; i < r->nsyms && !any; i++) any = r->syms[i].kind == SYM_VAR && r->syms[i].addr;
  if (!any || t->n == 0) return 0;
  g->ind = eng_calloc((size_t)t->n, 1);
  if (!g->ind) return eng_err_set(&g->err, ENG_ENOMEM, "MemoryError: cell");
  /* Names the cell declares with a type keyword: variables for known_var. */
  names_seen locals = {0}, unsafe = {0};
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    for (int k = it->t0; k < it->t1; k++) {
      if (t->t[k].kind != TK_IDENT || k == it->t0) continue;
      int j = k - 1;
      while (j > it->t0 && (repl_tok_is(t, j, "*") || repl_tok_is(t, j, "const"))) j--;
      if (type_word(g, j) && !tok_in(t, k, c_type_words)) seen_add(&locals, repl_tok_ptr(t, k), repl_tok_len(t, k));
    }
  }
  /* Names the cell's macros define or undefine are the preprocessor's. */
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    if (it->kind != IT_PP) continue;
    const char *p = repl_tok_ptr(t, it->t0), *e = p + repl_tok_len(t, it->t0);
    p++;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (!((e - p > 6 && strncmp(p, "define", 6) == 0) || (e - p > 5 && strncmp(p, "undef", 5) == 0))) continue;
    while (p < e && isalpha((unsigned char)*p)) p++;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    const char *q = p;
    while (q < e && (isalnum((unsigned char)*q) || *q == '_')) q++;
    if (q > p) seen_add(&unsafe, p, (int)(q - p));
  }
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    for (int k = it->t0; k < it->t1; k++) {
      if (t->t[k].kind != TK_IDENT) continue;
      const char *p = repl_tok_ptr(t, k);
      int len = repl_tok_len(t, k);
      repl_sym *s = find_sym(r, p, len);
      if (!s || s->kind != SYM_VAR || !s->addr) continue;
      int ctx = token_context(g, it, k);
      if (ctx < 0) continue;
      if (k > it->t0 && (repl_tok_is(t, k - 1, ".") || repl_tok_is(t, k - 1, "->"))) continue;
      if (ctx == 0 || may_declare(g, &locals, k, it->t0, it->t1)) {
        seen_add(&unsafe, p, len);
        continue;
      }
      g->ind[k] = 1;
    }
  }
  /* Unsafe names keep their plain extern everywhere in the cell; a name
   * that is also a macro of the session header is the preprocessor's. */
  for (int k = 0; k < t->n; k++) {
    if (!g->ind[k]) continue;
    const char *p = repl_tok_ptr(t, k);
    int len = repl_tok_len(t, k);
    int macro = 0;
    char name[256];
    snprintf(name, sizeof name, "%.*s", len, p);
    for (int i = 0; i < r->nhdr && !macro; i++)
      macro = r->hdr[i].key && names_overlap(r->hdr[i].key, name) && strstr(r->hdr[i].text, "#define") != NULL;
    if (macro || seen_has(&unsafe, p, len)) {
      g->ind[k] = 0;
      continue;
    }
    int known = 0;
    for (int i = 0; i < g->nind && !known; i++) known = strcmp(g->ind_names[i], name) == 0;
    if (known) continue;
    if (grow((void **)&g->ind_names, &g->capind, g->nind, sizeof *g->ind_names) < 0) break;
    g->ind_names[g->nind++] = eng_strdup(name);
  }
  eng_free((void *)locals.p);
  eng_free(locals.len);
  eng_free((void *)unsafe.p);
  eng_free(unsafe.len);
  return 0;
}

/* Adds function `name` (and what it uses) to the UDF source, once. */
static void add_fn_dep(repl *r, const char *name, eng_buf *protos, eng_buf *defs, char ***seen,
                       int *nseen, int depth) {
  if (depth > 64) return;
  for (int i = 0; i < *nseen; i++)
    if (strcmp((*seen)[i], name) == 0) return;
  repl_sym *s = find_sym(r, name, (int)strlen(name));
  if (!s || s->kind != SYM_FUNC || !s->src) return;
  char **v = eng_realloc(*seen, (size_t)(*nseen + 1) * sizeof *v);
  if (!v) return;
  *seen = v;
  (*seen)[(*nseen)++] = s->name;
  for (int i = 0; i < s->nuses; i++) add_fn_dep(r, s->uses[i], protos, defs, seen, nseen, depth + 1);
  eng_buf_puts(protos, s->decl);
  eng_buf_putc(protos, '\n');
  eng_buf_puts(defs, s->src);
}

/* Registers lambda j of the cell: its UDF source (declarations, functions
 * it calls, the lambda itself) and signature. */
static int register_lambda(gen *g, int j) {
  repl *r = g->r;
  const repl_toks *t = g->t;
  repl_lambda *l = &g->lams[j];
  if (grow((void **)&r->lams, &r->caplams, r->nlams, sizeof *r->lams) < 0) return ENG_ENOMEM;
  int id = r->nlams;
  repl_lam *m = &r->lams[id];
  memset(m, 0, sizeof *m);
  char buf[128];
  snprintf(buf, sizeof buf, "lambda at %s:%d", r->cell_name, l->line);
  m->name = eng_strdup(buf);
  snprintf(buf, sizeof buf, "__ember_lambda_%d_%d", r->cell, j);
  m->entry = eng_strdup(buf);
  m->ret = l->ret;
  m->nparams = l->nparams;
  for (int i = 0; i < l->nparams; i++) m->params[i] = l->params[i];
  m->ncaps = l->ncaps;
  m->cap_names = eng_calloc((size_t)l->ncaps + 1, sizeof *m->cap_names);
  for (int i = 0; m->cap_names && i < l->ncaps; i++) m->cap_names[i] = tok_dup(t, l->cap_tok[i]);
  m->ret_dtype = eng_strdup(l->ret_dtype);
  m->cell = r->cell;
  m->line = l->line;
  /* Source: session declarations (not globals: they do not exist on
   * executors), the functions it calls, then the lambda. */
  eng_buf src, protos, defs;
  eng_buf_init(&src);
  eng_buf_init(&protos);
  eng_buf_init(&defs);
  for (int i = 0; i < r->nhdr; i++) eng_buf_puts(&src, r->hdr[i].text);
  char **seen = NULL;
  int nseen = 0;
  for (int k = l->t0; k < l->t1; k++) {
    if (t->t[k].kind != TK_IDENT || !repl_tok_is(t, k + 1, "(")) continue;
    char *nm = tok_dup(t, k);
    add_fn_dep(r, nm, &protos, &defs, &seen, &nseen, 0);
    eng_free(nm);
  }
  eng_free(seen);
  eng_buf_append(&src, protos.data, protos.len);
  eng_buf_append(&src, defs.data, defs.len);
  repl_lambda_source(t, l, r->cell_name, m->entry, &src);
  m->src = eng_buf_take(&src, NULL);
  eng_buf_free(&protos);
  eng_buf_free(&defs);
  r->nlams++;
  g->lam_ids[j] = id;
  return 0;
}

static void key_add(eng_buf *key, const char *p, size_t n) {
  if (key->len) eng_buf_putc(key, '\n');
  eng_buf_append(key, p, n);
}

/* The names tokens [a, z) of a type definition define, into key: tags
 * of struct/union/enum bodies ("struct node"; a tag alone declares nothing
 * new) and the constants of enum bodies. */
static void type_names(const repl_toks *t, int a, int z, eng_buf *key) {
  for (int k = a; k < z; k++) {
    int is_enum = repl_tok_is(t, k, "enum");
    if (!is_enum && !repl_tok_is(t, k, "struct") && !repl_tok_is(t, k, "union")) continue;
    int open = k + 1;
    if (open < z && t->t[open].kind == TK_IDENT) open++;
    if (open >= z || !repl_tok_is(t, open, "{")) continue;
    if (open == k + 2) {
      char buf[256];
      int n = snprintf(buf, sizeof buf, "%.*s %.*s", repl_tok_len(t, k), repl_tok_ptr(t, k),
                       repl_tok_len(t, k + 1), repl_tok_ptr(t, k + 1));
      key_add(key, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    if (!is_enum) continue;
    int depth = 0;
    for (int j = open; j < z; j++) {
      if (repl_tok_is(t, j, "{") || repl_tok_is(t, j, "(") || repl_tok_is(t, j, "[")) depth++;
      else if (repl_tok_is(t, j, "}") || repl_tok_is(t, j, ")") || repl_tok_is(t, j, "]")) {
        if (--depth == 0) break;
      } else if (depth == 1 && t->t[j].kind == TK_IDENT &&
                 (repl_tok_is(t, j - 1, "{") || repl_tok_is(t, j - 1, ","))) {
        key_add(key, repl_tok_ptr(t, j), (size_t)repl_tok_len(t, j));
      }
    }
  }
}

/* The names a header item defines, '\n'-separated (see hdr_put): a
 * macro's name, an #include's text (so including again adds nothing),
 * typedef names, tags and enum constants, a prototype's name. */
static void item_key(const repl_toks *t, repl_item *it, eng_buf *key) {
  if (it->kind == IT_PP) {
    const char *p = repl_tok_ptr(t, it->t0), *e = p + repl_tok_len(t, it->t0);
    p++; /* '#' */
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (e - p > 7 && strncmp(p, "define", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
      p += 7;
      while (p < e && (*p == ' ' || *p == '\t')) p++;
      const char *q = p;
      while (q < e && (isalnum((unsigned char)*q) || *q == '_')) q++;
      key_add(key, p, (size_t)(q - p));
    } else if (e - p > 7 && strncmp(p, "include", 7) == 0) {
      while (e > p && isspace((unsigned char)e[-1])) e--;
      key_add(key, "#", 1);
      eng_buf_append(key, p, (size_t)(e - p));
    }
    return;
  }
  if (it->kind == IT_DECL && it->name >= 0) {
    key_add(key, repl_tok_ptr(t, it->name), (size_t)repl_tok_len(t, it->name));
    return;
  }
  if (it->kind == IT_DECL || repl_tok_is(t, it->t0, "typedef"))
    for (int d = 0; d < it->ndecl; d++)
      if (it->decl[d].name >= 0)
        key_add(key, repl_tok_ptr(t, it->decl[d].name), (size_t)repl_tok_len(t, it->decl[d].name));
  if (it->kind == IT_TYPE) type_names(t, it->t0, it->t1, key);
}

/* A variable declaration whose specifiers define a struct, union or enum
 * (`struct P { long a; } p1, p2;`): the type goes to the session header on
 * its own -- anonymous ones get a tag -- and the declarators use its name,
 * so each declarator and each later cell does not define it again. Returns
 * the replacement ("struct P") and the tokens [*out_a, *out_z) it stands
 * for, or NULL. */
static char *hoist_type(gen *g, repl_item *it, int index, int *out_a, int *out_z) {
  const repl_toks *t = g->t;
  for (int k = it->t0; k < it->spec_end; k++) {
    if (!repl_tok_is(t, k, "struct") && !repl_tok_is(t, k, "union") && !repl_tok_is(t, k, "enum")) continue;
    int tagged = k + 1 < it->spec_end && t->t[k + 1].kind == TK_IDENT;
    int open = k + 1 + tagged;
    if (open >= it->spec_end || !repl_tok_is(t, open, "{")) continue;
    int close = open, depth = 0;
    for (; close < it->spec_end; close++) {
      if (repl_tok_is(t, close, "{")) depth++;
      if (repl_tok_is(t, close, "}") && --depth == 0) break;
    }
    if (close >= it->spec_end) return NULL;
    char spec[256];
    if (tagged)
      snprintf(spec, sizeof spec, "%.*s %.*s", repl_tok_len(t, k), repl_tok_ptr(t, k), repl_tok_len(t, k + 1),
               repl_tok_ptr(t, k + 1));
    else
      snprintf(spec, sizeof spec, "%.*s __ember_anon_%d_%d", repl_tok_len(t, k), repl_tok_ptr(t, k),
               g->r->cell, index);
    eng_buf text, key;
    eng_buf_init(&text);
    eng_buf_init(&key);
    line_dir(&text, t->t[k].line, g->r->cell_name);
    eng_buf_printf(&text, "%s ", spec);
    emit_range(g, &text, open, close + 1, NULL);
    eng_buf_puts(&text, "; ;\n");
    if (tagged) key_add(&key, spec, strlen(spec));
    type_names(t, k, close + 1, &key);
    hdr_put(g->r, eng_buf_cstr(&key), eng_buf_cstr(&text), 0);
    eng_buf_free(&text);
    eng_buf_free(&key);
    *out_a = k;
    *out_z = close + 1;
    return eng_strdup(spec);
  }
  return NULL;
}

/* Is this "#include <ember.h>" (or "ember.h")? The API is always there. */
static int is_ember_include(const repl_toks *t, int i) {
  const char *p = repl_tok_ptr(t, i), *e = p + repl_tok_len(t, i);
  p++; /* '#' */
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  if (e - p < 7 || strncmp(p, "include", 7) != 0) return 0;
  p += 7;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  return e - p >= 9 && (strncmp(p, "<ember.h>", 9) == 0 || strncmp(p, "\"ember.h\"", 9) == 0);
}

/* Builds the cell's C in g->file (with the run function). */
static int generate(gen *g) {
  repl *r = g->r;
  repl_cell *c = g->c;
  const repl_toks *t = g->t;
  repl_names names = {var_type, fn_type, r};
  /* Lambdas first: their ids appear in the code. */
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    if (it->kind == IT_PP || it->kind == IT_TYPE || it->kind == IT_DECL) continue;
    repl_lambda *ls;
    int nl;
    if (repl_find_lambdas(t, it->t0, it->t1, &names, r->cell_name, &ls, &nl, &g->err) < 0) return g->err.code;
    if (nl) {
      repl_lambda *v = eng_realloc(g->lams, (size_t)(g->nlams + nl) * sizeof *v);
      int *ids = eng_realloc(g->lam_ids, (size_t)(g->nlams + nl) * sizeof *ids);
      if (v) g->lams = v;
      if (ids) g->lam_ids = ids;
      if (!v || !ids) {
        eng_free(ls);
        return eng_err_set(&g->err, ENG_ENOMEM, "MemoryError: lambdas");
      }
      memcpy(g->lams + g->nlams, ls, (size_t)nl * sizeof *ls);
      g->nlams += nl;
    }
    eng_free(ls);
  }
  /* Declarations of this cell go to the session header (types, macros,
   * prototypes) before the functions that may need them. */
  g->hoist = eng_calloc((size_t)c->n + 1, sizeof *g->hoist);
  g->hoist_a = eng_calloc((size_t)c->n + 1, sizeof *g->hoist_a);
  g->hoist_z = eng_calloc((size_t)c->n + 1, sizeof *g->hoist_z);
  if (!g->hoist || !g->hoist_a || !g->hoist_z) return eng_err_set(&g->err, ENG_ENOMEM, "MemoryError: cell");
  eng_buf own;
  eng_buf_init(&own);
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    if (it->kind == IT_VAR) g->hoist[i] = hoist_type(g, it, i, &g->hoist_a[i], &g->hoist_z[i]);
    if (it->kind != IT_PP && it->kind != IT_TYPE && it->kind != IT_DECL) continue;
    if (it->kind == IT_PP && is_ember_include(t, it->t0)) continue; /* already included */
    eng_buf text, key;
    eng_buf_init(&text);
    eng_buf_init(&key);
    line_dir(&text, it->line, r->cell_name);
    emit_range(g, &text, it->t0, it->t1, NULL);
    /* A second ';' on the same line: tcc names the line of the token after
     * an error, which should be this one (see end_item). */
    eng_buf_puts(&text, it->kind == IT_PP ? "\n" : " ;\n");
    item_key(t, it, &key);
    if (it->kind == IT_TYPE && repl_tok_is(t, it->t0, "typedef"))
      for (int d = 0; d < it->ndecl; d++)
        if (it->decl[d].name >= 0) {
          char *tn = tok_dup(t, it->decl[d].name);
          add_typename(r, tn);
          eng_free(tn);
        }
    eng_buf_append(&own, text.data, text.len);
    hdr_put(r, eng_buf_cstr(&key), eng_buf_cstr(&text), it->kind == IT_DECL);
    eng_buf_free(&key);
    eng_buf_free(&text);
  }
  for (int j = 0; j < g->nlams; j++) ENG_TRY(register_lambda(g, j));
  if (plan_indirect(g) < 0) {
    eng_buf_free(&own);
    return g->err.code;
  }
  /* Globals and functions; statements into the body. Each item ends with
   * a second ';' on its last line: tcc reports a syntax error at the line
   * of the token after it, which is then still the item's. */
  eng_buf protos;
  eng_buf_init(&protos);
  for (int i = 0; i < c->n; i++) {
    repl_item *it = &c->items[i];
    switch (it->kind) {
      case IT_VAR:
        for (int d = 0; d < it->ndecl; d++) gen_var(g, it, i, &it->decl[d]);
        break;
      case IT_FUNC: {
        eng_buf one;
        eng_buf_init(&one);
        line_dir(&one, it->line, r->cell_name);
        emit_as_written(g, &one, it->t0, it->body, skip_storage);
        eng_buf_puts(&one, ";\n");
        eng_buf_append(&protos, one.data, one.len);
        eng_buf_free(&one);
        gen_func(g, it);
        break;
      }
      case IT_STMT:
        line_dir(&g->body, it->line, r->cell_name);
        emit_range(g, &g->body, it->t0, it->t1, NULL);
        eng_buf_puts(&g->body, " ;\n");
        break;
      case IT_EXPR:
        line_dir(&g->body, it->line, r->cell_name);
        if (g->show_final && i == c->n - 1) {
          eng_buf_puts(&g->body, "EMBER_SHOW((");
          emit_range(g, &g->body, it->t0, it->t1, NULL);
          eng_buf_puts(&g->body, ")); ;\n");
        } else {
          emit_range(g, &g->body, it->t0, it->t1, NULL);
          eng_buf_puts(&g->body, "; ;\n");
        }
        break;
    }
  }
  /* Assemble: session declarations, then this cell. */
  eng_buf all;
  eng_buf_init(&all);
  for (int i = 0; i < r->nhdr; i++) {
    /* This cell's own header items are appended below in its order. */
    eng_buf_puts(&all, r->hdr[i].text);
  }
  for (int i = 0; i < r->nsyms; i++) {
    repl_sym *s = &r->syms[i];
    if (!s->addr || cell_defines(g, s->name)) continue;
    eng_buf_putc(&all, '\n');
    eng_buf_puts(&all, s->decl);
    eng_buf_putc(&all, '\n');
  }
  for (int i = 0; i < g->nind; i++)
    eng_buf_printf(&all, "static __typeof__(%s) *const __ember_gv_%s = &%s;\n", g->ind_names[i], g->ind_names[i],
                   g->ind_names[i]);
  eng_buf_append(&all, protos.data, protos.len);
  eng_buf_append(&all, g->file.data, g->file.len);
  eng_buf_puts(&all, "\nvoid __ember_cell(void) {\n");
  eng_buf_append(&all, g->body.data, g->body.len);
  eng_buf_puts(&all, "\n}\n");
  eng_buf_free(&g->file);
  g->file = all;
  eng_buf_free(&protos);
  eng_buf_free(&own);
  return g->file.oom ? eng_err_set(&g->err, ENG_ENOMEM, "MemoryError: cell") : 0;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Line `line` of the input text of cell `cell` (1-based), or NULL. */
/* Line `line` of the latest input shown as cell[label]. */
static const char *source_line(repl *r, int label, int line, size_t *len) {
  int i = r->ninputs - 1;
  while (i >= 0 && r->labels[i] != label) i--;
  if (i < 0) return NULL;
  const char *p = r->inputs[i];
  for (int l = 1; l < line && p; l++) {
    p = strchr(p, '\n');
    if (p) p++;
  }
  if (!p) return NULL;
  const char *e = strchr(p, '\n');
  *len = e ? (size_t)(e - p) : strlen(p);
  return p;
}

/* The last line with code of the latest input shown as cell[label], or 0. */
static int last_line(repl *r, int label) {
  int i = r->ninputs - 1;
  while (i >= 0 && r->labels[i] != label) i--;
  if (i < 0) return 0;
  int line = 1, last = 0;
  for (const char *p = r->inputs[i]; *p; p++) {
    if (*p == '\n') line++;
    else if (!isspace((unsigned char)*p)) last = line;
  }
  return last;
}

/* Formats "the source line, and a caret under `word` (or the first
 * non-blank)" for cell:line. */
static void caret_detail(repl *r, int cell, int line, const char *word, eng_buf *out) {
  size_t len;
  const char *p = source_line(r, cell, line, &len);
  if (!p) return;
  eng_buf_puts(out, "    ");
  eng_buf_append(out, p, len);
  eng_buf_puts(out, "\n    ");
  size_t col = 0;
  while (col < len && isspace((unsigned char)p[col])) col++;
  if (word && *word) {
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++) {
      if (memcmp(p + i, word, wl) != 0) continue;
      int left = i == 0 || !(isalnum((unsigned char)p[i - 1]) || p[i - 1] == '_');
      int right = i + wl == len || !(isalnum((unsigned char)p[i + wl]) || p[i + wl] == '_');
      if (left && right) {
        col = i;
        break;
      }
    }
  }
  for (size_t i = 0; i < col; i++) eng_buf_putc(out, p[i] == '\t' ? '\t' : ' ');
  eng_buf_puts(out, "^");
}

/* The first quoted word of a message ('y' in "'y' undeclared"). */
static void quoted_word(const char *msg, char *out, size_t cap) {
  out[0] = 0;
  const char *a = strchr(msg, '\'');
  const char *b = a ? strchr(a + 1, '\'') : NULL;
  if (a && b && (size_t)(b - a - 1) < cap) {
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = 0;
  }
}

static void report(repl *r, const char *ename, const char *evalue, const char *detail) {
  if (r->out && r->out->error) r->out->error(r->out->ctx, ename, evalue, detail ? detail : "");
}

/* Reports an error message "Class: text" with a caret where it can: a
 * compile error names cell[N]:L; a link error names a symbol, found in the
 * cell's text. */
static void report_err(repl *r, const eng_err *e) {
  const char *msg = e->msg;
  char ename[64] = "Error";
  const char *colon = strchr(msg, ':');
  if (colon && colon - msg < (long)sizeof ename && colon[1] == ' ') {
    memcpy(ename, msg, (size_t)(colon - msg));
    ename[colon - msg] = 0;
    msg = colon + 2;
  }
  eng_buf detail;
  eng_buf_init(&detail);
  int cell, line;
  /* An error in an #included file comes after "In file included from
   * cell[N]:L:" lines: the error line is the message, the caret goes under
   * the cell's #include. */
  const char *included = NULL;
  while (strncmp(msg, "In file included from ", 22) == 0 && strchr(msg, '\n')) {
    if (!included && strncmp(msg + 22, "cell[", 5) == 0) included = msg + 22;
    msg = strchr(msg, '\n') + 1;
  }
  const char *at = included ? NULL : strstr(msg, "cell[");
  char word[128];
  quoted_word(msg, word, sizeof word);
  /* Keep only the first diagnostic line in the message; tcc may add more. */
  char first[ENG_ERR_MAX];
  snprintf(first, sizeof first, "%s", msg);
  char *nl = strchr(first, '\n');
  if (nl) *nl = 0;
  if (included && sscanf(included, "cell[%d]:%d", &cell, &line) == 2) {
    caret_detail(r, cell, line, NULL, &detail);
  } else if (at && sscanf(at, "cell[%d]:%d", &cell, &line) == 2) {
    /* tcc names the line of the token after an error; past the cell's
     * end (the code ember adds), the error is on its last line. */
    int last = last_line(r, cell);
    if (last > 0 && line > last && at == msg) {
      const char *rest = strchr(at, ':');
      rest = rest ? strchr(rest + 1, ':') : NULL;
      char fixed[ENG_ERR_MAX];
      snprintf(fixed, sizeof fixed, "cell[%d]:%d%s", cell, last, rest ? rest : "");
      snprintf(first, sizeof first, "%s", fixed);
      nl = strchr(first, '\n');
      if (nl) *nl = 0;
      line = last;
    }
    caret_detail(r, cell, line, word, &detail);
  } else if (strcmp(ename, "CompileError") == 0 && strstr(first, "undefined symbol") && word[0]) {
    /* A link error: find the line of this cell that uses the name. */
    const char *src = r->inputs[r->ninputs - 1];
    int ln = 1;
    for (const char *p = src; *p; p++) {
      if (*p == '\n') ln++;
      size_t wl = strlen(word);
      if (strncmp(p, word, wl) == 0 && (p == src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
          !(isalnum((unsigned char)p[wl]) || p[wl] == '_')) {
        snprintf(first, sizeof first, "%s:%d: undefined name '%s' (declared but never defined?)",
                 r->cell_name, ln, word);
        caret_detail(r, r->ninputs ? r->labels[r->ninputs - 1] : 0, ln, word, &detail);
        break;
      }
    }
  }
  report(r, ename, first, eng_buf_cstr(&detail));
  eng_buf_free(&detail);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

static void acc_cb(void *ctx, eng_val acc, eng_val x) {
  repl *r = ctx;
  if (eng_acc_add(r->s, acc, x) < 0) eng__raise(eng_session_errcode(r->s), "%s", eng_session_errmsg(r->s));
}

/* Compiles the generated source with every earlier symbol not shadowed. */
static udf_module *compile_gen(repl *r, gen *g, eng_err *err) {
  const char *const *api_names;
  void *const *api_addrs;
  int napi = repl__api_symbols(&api_names, &api_addrs);
  int n = 0;
  const char **names = eng_calloc((size_t)(napi + r->nsyms + 1), sizeof *names);
  void **addrs = eng_calloc((size_t)(napi + r->nsyms + 1), sizeof *addrs);
  if (!names || !addrs) {
    eng_free(names);
    eng_free(addrs);
    eng_err_set(err, ENG_ENOMEM, "MemoryError: compile");
    return NULL;
  }
  for (int i = 0; i < napi; i++) {
    if (cell_defines(g, api_names[i])) continue;
    names[n] = api_names[i];
    addrs[n++] = api_addrs[i];
  }
  for (int i = 0; i < r->nsyms; i++) {
    if (!r->syms[i].addr || cell_defines(g, r->syms[i].name)) continue;
    names[n] = r->syms[i].name;
    addrs[n++] = r->syms[i].addr;
  }
  /* EMBER_CELL_DUMP=DIR keeps DIR/cell-N.c (the last attempt). */
  char dump_name[64];
  snprintf(dump_name, sizeof dump_name, "cell-%d.c", r->cell);
  udf_dump_source("EMBER_CELL_DUMP", dump_name, eng_buf_cstr(&g->file));
  udf_module *m = udf_module_compile_syms(repl__cellapi_text, eng_buf_cstr(&g->file), names,
                                          (void *const *)addrs, n, err);
  eng_free(names);
  eng_free(addrs);
  return m;
}

/* Snapshots of the session tables, to undo a cell that does not compile. */
typedef struct snapshot {
  int nsyms, nhdr, nlams, ntypes;
  repl_sym *syms;
  repl_hdr *hdr;
} snapshot;

static void take_snapshot(repl *r, snapshot *sn) {
  sn->nsyms = r->nsyms;
  sn->nhdr = r->nhdr;
  sn->nlams = r->nlams;
  sn->ntypes = r->ntypes;
  sn->syms = eng_malloc((size_t)(r->nsyms + 1) * sizeof *sn->syms);
  sn->hdr = eng_malloc((size_t)(r->nhdr + 1) * sizeof *sn->hdr);
  for (int i = 0; sn->syms && i < r->nsyms; i++) {
    repl_sym *s = &r->syms[i];
    sn->syms[i] = *s;
    sn->syms[i].name = eng_strdup(s->name);
    sn->syms[i].decl = s->decl ? eng_strdup(s->decl) : NULL;
    sn->syms[i].src = s->src ? eng_strdup(s->src) : NULL;
    sn->syms[i].uses = s->nuses ? eng_calloc((size_t)s->nuses, sizeof(char *)) : NULL;
    for (int k = 0; k < s->nuses && sn->syms[i].uses; k++) sn->syms[i].uses[k] = eng_strdup(s->uses[k]);
  }
  for (int i = 0; sn->hdr && i < r->nhdr; i++) {
    sn->hdr[i].key = r->hdr[i].key ? eng_strdup(r->hdr[i].key) : NULL;
    sn->hdr[i].text = eng_strdup(r->hdr[i].text);
  }
}

static void lam_free(repl_lam *m) {
  eng_free(m->name);
  eng_free(m->entry);
  eng_free(m->src);
  for (int i = 0; m->cap_names && i < m->ncaps; i++) eng_free(m->cap_names[i]);
  eng_free(m->cap_names);
  eng_free(m->ret_dtype);
  udf_def_free(m->def);
}

static void restore_snapshot(repl *r, snapshot *sn, int restore) {
  if (restore && sn->syms && sn->hdr) {
    for (int i = 0; i < r->nsyms; i++) sym_free(&r->syms[i]);
    for (int i = 0; i < sn->nsyms; i++) r->syms[i] = sn->syms[i];
    r->nsyms = sn->nsyms;
    for (int i = 0; i < r->nhdr; i++) {
      eng_free(r->hdr[i].key);
      eng_free(r->hdr[i].text);
    }
    for (int i = 0; i < sn->nhdr; i++) r->hdr[i] = sn->hdr[i];
    r->nhdr = sn->nhdr;
    for (int i = sn->nlams; i < r->nlams; i++) lam_free(&r->lams[i]);
    r->nlams = sn->nlams;
    for (int i = sn->ntypes; i < r->ntypes; i++) eng_free(r->typenames[i]);
    r->ntypes = sn->ntypes;
  } else if (sn->syms && sn->hdr) {
    for (int i = 0; i < sn->nsyms; i++) sym_free(&sn->syms[i]);
    for (int i = 0; i < sn->nhdr; i++) {
      eng_free(sn->hdr[i].key);
      eng_free(sn->hdr[i].text);
    }
  }
  eng_free(sn->syms);
  eng_free(sn->hdr);
}

static void gen_free(gen *g) {
  for (int i = 0; g->hoist && i < g->c->n; i++) eng_free(g->hoist[i]);
  eng_free(g->hoist);
  eng_free(g->hoist_a);
  eng_free(g->hoist_z);
  eng_free(g->ind);
  for (int i = 0; i < g->nind; i++) eng_free(g->ind_names[i]);
  eng_free(g->ind_names);
  eng_free(g->lams);
  eng_free(g->lam_ids);
  for (int i = 0; i < g->ndefined; i++) eng_free(g->defined[i]);
  eng_free(g->defined);
  eng_buf_free(&g->file);
  eng_buf_free(&g->body);
}

/* Compiles a cell: 0 and *out_mod, or an error already reported. A last
 * expression that cannot be shown (void, a struct) runs as a statement. */
/* ":time"'s line: the wall time, and where it went when jobs ran, e.g.
 * "Time: 4.210 ms (1 job, 2 tasks; new UDFs compiled in 1.10 ms by the
 * driver, 0.95 ms by executors)". */
static void time_line(repl *r, eng_buf *b, double t0, const eng_runstats *before) {
  eng_runstats now;
  eng_session_stats(r->s, &now);
  eng_buf_printf(b, "Time: %.3f ms", eng_now_ms() - t0);
  long jobs = now.jobs - before->jobs, tasks = now.tasks - before->tasks;
  if (jobs > 0) {
    eng_buf_printf(b, " (%ld job%s, %ld task%s", jobs, jobs == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s");
    if (now.udf_compiles > before->udf_compiles)
      eng_buf_printf(b, "; new UDFs compiled in %.2f ms by the driver, %.2f ms by executors",
                     now.udf_compile_ms - before->udf_compile_ms, now.exec_compile_ms - before->exec_compile_ms);
    eng_buf_printf(b, ")");
  }
  eng_buf_printf(b, "\n");
}

static int compile_cell(repl *r, const char *src, udf_module **out_mod) {
  repl_cell c;
  if (repl_cell_split(src, split_is_type, r, &c) < 0) {
    eng_err e;
    eng_err_set(&e, ENG_ENOMEM, "MemoryError: cell");
    report_err(r, &e);
    return ENG_ENOMEM;
  }
  eng_err first;
  eng_err_clear(&first);
  int rc = ENG_ERROR;
  for (int attempt = 0; attempt < 2; attempt++) {
    int has_final = c.n > 0 && c.items[c.n - 1].kind == IT_EXPR;
    if (attempt == 1 && !has_final) break;
    snapshot sn;
    take_snapshot(r, &sn);
    gen g;
    memset(&g, 0, sizeof g);
    g.r = r;
    g.c = &c;
    g.t = &c.toks;
    g.show_final = attempt == 0;
    eng_buf_init(&g.file);
    eng_buf_init(&g.body);
    eng_err err;
    eng_err_clear(&err);
    rc = generate(&g);
    if (rc < 0) eng_err_copy(&err, &g.err);
    udf_module *m = rc == 0 ? compile_gen(r, &g, &err) : NULL;
    if (m) {
      /* Symbols this cell defined, by address. */
      for (int i = 0; i < g.ndefined; i++) {
        repl_sym *s = find_sym(r, g.defined[i], (int)strlen(g.defined[i]));
        if (!s) continue;
        s->addr = udf_module_symbol(m, s->name);
        /* Later cells, and earlier functions, call it through its
         * trampoline: a new definition replaces it everywhere. */
        if (s->kind == SYM_FUNC) s->addr = repl_tramp_set(&r->tramps, s->name, s->addr);
      }
      restore_snapshot(r, &sn, 0);
      gen_free(&g);
      *out_mod = m;
      repl_cell_free(&c);
      return 0;
    }
    restore_snapshot(r, &sn, 1);
    gen_free(&g);
    if (attempt == 0) eng_err_copy(&first, &err);
    if (rc < 0 && attempt == 0 && err.code != ENG_ECOMPILE) break;
    rc = err.code ? err.code : ENG_ECOMPILE;
    if (attempt == 1) {
      /* Both failed: the plain statement's error is about the user's code
       * alone, so it is the one to show. */
      report_err(r, &err);
      repl_cell_free(&c);
      return rc;
    }
  }
  report_err(r, &first);
  repl_cell_free(&c);
  return rc;
}

static void add_module(repl *r, udf_module *m) {
  if (grow((void **)&r->mods, &r->capmods, r->nmods, sizeof *r->mods) < 0) return;
  r->mods[r->nmods++] = m;
}

static int run_cell(repl *r, udf_module *m) {
  void (*fn)(void) = (void (*)(void))udf_module_symbol(m, "__ember_cell");
  if (!fn) {
    eng_err e;
    eng_err_set(&e, ENG_ERROR, "Error: cell entry point missing");
    report_err(r, &e);
    return REPL_ERROR;
  }
  eng_arena *old = eng_arena_set_current(eng_session_arena(r->s));
  udf_set_acc(acc_cb, r);
  r->has_result = 0;
  r->result.len = 0;
  int rc = REPL_OK;
  udf_guard g;
  r->thread = pthread_self();
  r->in_cell = 1;
  if (UDF_TRY(&g)) {
    udf_enter(r->cell_name);
    /* Interrupted while it compiled: it does not start. */
    if (r->interrupted) eng__raise(ENG_ECANCEL, "Cancelled: interrupted in %s", r->cell_name);
    fn();
    udf_leave();
    udf_guard_pop(&g);
  } else {
    rc = REPL_ERROR;
    eng_err e;
    if (g.sig) {
      const char *sig = g.err.msg + strlen("Crash: ");
      char signame[32];
      snprintf(signame, sizeof signame, "%.*s", (int)strcspn(sig, " "), sig);
      eng_err_set(&e, ENG_ECRASH, "Crash: %s in %s", signame,
                  g.where && strncmp(g.where, "UDF ", 4) == 0 ? g.where : r->cell_name);
    } else {
      eng_err_copy(&e, &g.err);
    }
    report_err(r, &e);
  }
  r->in_cell = 0;
  r->in_engine = 0;
  udf_set_acc(NULL, NULL);
  udf_set_emit(NULL, NULL);
  eng_arena_set_current(old);
  if (rc == REPL_OK && r->has_result && r->out && r->out->result)
    r->out->result(r->out->ctx, eng_buf_cstr(&r->result));
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Meta commands                                                            */
/* ------------------------------------------------------------------------ */

static void info(repl *r, const char *text) {
  if (r->out && r->out->info) r->out->info(r->out->ctx, text);
}

static int meta(repl *r, const char *cmd) {
  while (*cmd == ' ' || *cmd == '\t') cmd++;
  char word[32];
  int n = 0;
  while (cmd[n] && !isspace((unsigned char)cmd[n]) && n < 31) {
    word[n] = cmd[n];
    n++;
  }
  word[n] = 0;
  const char *arg = cmd + n;
  while (*arg && isspace((unsigned char)*arg)) arg++;
  eng_buf b;
  eng_buf_init(&b);
  int rc = REPL_OK;
  if (strcmp(word, "quit") == 0 || strcmp(word, "q") == 0 || strcmp(word, "exit") == 0) {
    rc = REPL_QUIT;
  } else if (strcmp(word, "help") == 0 || strcmp(word, "h") == 0) {
    if (*arg) {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, " \t\n("), arg);
      const char *d = repl_doc(name[0] == ':' || name[0] == '%' ? name + 1 : name);
      if (!d) d = repl_doc_session(r, name);
      if (d)
        eng_buf_printf(&b, "%s\n", d);
      else
        eng_buf_printf(&b, "no help for '%s' (try :help for the list)\n", name);
    } else {
      repl__help_all(&b);
    }
    info(r, eng_buf_cstr(&b));
  } else if (strcmp(word, "status") == 0) {
    eng_session_refresh(r->s);
    eng_session_status_text(r->s, &b);
    if (r->out && r->out->display) r->out->display(r->out->ctx, eng_buf_cstr(&b), NULL);
  } else if (strcmp(word, "time") == 0) {
    if (*arg) {
      eng_runstats st;
      eng_session_stats(r->s, &st);
      double t0 = eng_now_ms();
      rc = repl_eval(r, arg, r->out);
      time_line(r, &b, t0, &st);
      info(r, eng_buf_cstr(&b));
    } else {
      r->time_next = 1;
    }
  } else if (strcmp(word, "reset") == 0) {
    for (int i = 0; i < r->nsyms; i++) sym_free(&r->syms[i]);
    r->nsyms = 0;
    for (int i = 0; i < r->nhdr; i++) {
      eng_free(r->hdr[i].key);
      eng_free(r->hdr[i].text);
    }
    r->nhdr = 0;
    for (int i = 0; i < r->ntypes; i++) eng_free(r->typenames[i]);
    r->ntypes = 0;
    eng_session_reset(r->s);
    r->add = eng_udf_builtin(r->s, "add");
    info(r, "session reset: variables, functions, types and datasets are gone\n");
  } else if (strcmp(word, "history") == 0) {
    for (int i = 0; i < r->ninputs; i++) {
      /* Inputs may end with their newline (scripts hand over lines). */
      int len = (int)strlen(r->inputs[i]);
      while (len > 0 && isspace((unsigned char)r->inputs[i][len - 1])) len--;
      eng_buf_printf(&b, "[%d] %.*s\n", r->labels[i], len, r->inputs[i]);
    }
    info(r, eng_buf_cstr(&b));
  } else {
    eng_err e;
    eng_err_set(&e, ENG_EINVAL, "ValueError: unknown command :%s (try :help)", word);
    report_err(r, &e);
    rc = REPL_ERROR;
  }
  eng_buf_free(&b);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                   */
/* ------------------------------------------------------------------------ */

repl *repl_new(const eng_conf *conf, eng_err *err) {
  repl *r = eng_calloc(1, sizeof *r);
  if (!r) {
    eng_err_set(err, ENG_ENOMEM, "MemoryError: session");
    return NULL;
  }
  r->s = eng_session_new(conf, err);
  if (!r->s) {
    eng_free(r);
    return NULL;
  }
  r->add = eng_udf_builtin(r->s, "add");
  eng_buf_init(&r->result);
  return r;
}

void repl_free(repl *r) {
  if (!r) return;
  if (repl__current == r) repl__current = NULL;
  eng_session_free(r->s);
  for (int i = 0; i < r->nmods; i++) udf_module_free(r->mods[i]);
  eng_free(r->mods);
  repl_tramps_free(r->tramps);
  for (int i = 0; i < r->nsyms; i++) sym_free(&r->syms[i]);
  eng_free(r->syms);
  for (int i = 0; i < r->nhdr; i++) {
    eng_free(r->hdr[i].key);
    eng_free(r->hdr[i].text);
  }
  eng_free(r->hdr);
  for (int i = 0; i < r->ntypes; i++) eng_free(r->typenames[i]);
  eng_free(r->typenames);
  for (int i = 0; i < r->nlams; i++) lam_free(&r->lams[i]);
  eng_free(r->lams);
  for (int i = 0; i < r->ninputs; i++) eng_free(r->inputs[i]);
  eng_free(r->labels);
  eng_free(r->inputs);
  eng_buf_free(&r->result);
  eng_free(r);
}

eng_session *repl_engine(repl *r) { return r->s; }
int repl_cell_count(const repl *r) { return r->cell; }
void repl_set_next_label(repl *r, int n) { r->next_label = n; }
int repl_history_len(const repl *r) { return r->ninputs; }
const char *repl_history_get(const repl *r, int i) {
  return i >= 0 && i < r->ninputs ? r->inputs[i] : NULL;
}

int repl_eval(repl *r, const char *input, const repl_out *out) {
  const repl_out *saved = r->out;
  r->out = out;
  repl__current = r;
  const char *p = input;
  while (*p && isspace((unsigned char)*p)) p++;
  int rc;
  if (*p == ':' || *p == '%') {
    rc = meta(r, p + 1);
    r->out = saved ? saved : out;
    return rc;
  }
  if (!*p) {
    r->out = saved ? saved : out;
    return REPL_OK;
  }
  int timing = r->time_next;
  r->time_next = 0;
  r->interrupted = 0; /* one that came while idle is for nothing */
  eng_runstats st0;
  eng_session_stats(r->s, &st0);
  double t0 = eng_now_ms();
  r->cell++;
  int label = r->next_label > 0 ? r->next_label : r->cell;
  r->next_label = 0;
  snprintf(r->cell_name, sizeof r->cell_name, "cell[%d]", label);
  int cap = r->capinputs;
  if (grow((void **)&r->inputs, &r->capinputs, r->ninputs, sizeof *r->inputs) == 0) {
    int *l = r->capinputs != cap || !r->labels ? eng_realloc(r->labels, (size_t)r->capinputs * sizeof *l) : r->labels;
    if (l) {
      r->labels = l;
      r->labels[r->ninputs] = label;
      r->inputs[r->ninputs++] = eng_strdup(input);
    }
  }
  eng_session_clear_error(r->s);
  udf_module *m = NULL;
  rc = compile_cell(r, input, &m) == 0 ? REPL_OK : REPL_ERROR;
  if (rc == REPL_OK) {
    add_module(r, m);
    rc = run_cell(r, m);
  }
  if (timing) {
    eng_buf t;
    eng_buf_init(&t);
    time_line(r, &t, t0, &st0);
    info(r, eng_buf_cstr(&t));
    eng_buf_free(&t);
  }
  r->out = saved ? saved : out;
  return rc;
}

/* The interrupt is remembered first (api.c checks it around every engine
 * call, where a cancel of the engine alone could be lost: between jobs, or
 * as a job ends), then acts on what runs: the engine's job for an action,
 * else the cell's own code, unwound by a signal. */
void repl_interrupt(repl *r) {
  if (!r) return;
  r->interrupted = 1;
  if (r->in_engine) {
    if (r->in_action) eng_session_cancel(r->s);
  } else if (r->in_cell) {
    if (pthread_equal(pthread_self(), r->thread))
      udf_guard_cancel_here();
    else
      udf_guard_interrupt(r->thread);
  }
}

/* Complete when brackets balance outside strings and comments. */
int repl_is_complete(const char *text) {
  int depth = 0;
  char q = 0;
  for (const char *p = text; *p; p++) {
    if (q) {
      if (*p == '\\' && p[1]) p++;
      else if (*p == q) q = 0;
      else if (*p == '\n' && q != '*') q = 0;
      continue;
    }
    if (*p == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      if (!e) return 0;
      p = e + 1;
      continue;
    }
    if (*p == '/' && p[1] == '/') {
      while (p[1] && p[1] != '\n') p++;
      continue;
    }
    if (*p == '"' || *p == '\'') q = *p;
    else if (*p == '(' || *p == '[' || *p == '{') depth++;
    else if (*p == ')' || *p == ']' || *p == '}') depth--;
  }
  /* A line ending in a backslash continues. */
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n')) n--;
  if (n > 0 && text[n - 1] == '\\') return 0;
  return depth <= 0 && !q;
}

const char *repl_doc_session(repl *r, const char *name) {
  repl_sym *s = find_sym(r, name, (int)strlen(name));
  if (!s) return NULL;
  /* The declaration without its #line. */
  const char *d = s->decl;
  const char *nl = strrchr(d, '\n');
  return nl ? nl + 1 : d;
}
