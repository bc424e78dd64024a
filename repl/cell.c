/* cell.c -- splitting a cell into top-level items and classifying them.
 *
 * An item ends at a ';' outside parentheses and braces, or at a '}' that
 * closes a function body, a compound statement or a control statement
 * (unless an 'else', a 'while' of a do-loop, or declarators follow). An item
 * is a declaration when it starts with declaration specifiers: C keywords,
 * struct/union/enum, or a name known to be a type (the session's typedefs,
 * or any identifier directly followed by another identifier, as in
 * `time_t t;`, which no expression can start with).
 */
#include "cell.h"

#include <string.h>

#include "../engine/mem.h"

static const char *const keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex", "_Generic",
    "_Static_assert", "_Alignas", "_Alignof", "_Noreturn", "_Thread_local", "__attribute__",
    "typeof", "__typeof__", NULL,
};

int repl_is_keyword(const repl_toks *t, int i) {
  if (i < 0 || i >= t->n || t->t[i].kind != TK_IDENT) return 0;
  for (int k = 0; keywords[k]; k++)
    if (repl_tok_is(t, i, keywords[k])) return 1;
  return 0;
}

static int is_spec_keyword(const repl_toks *t, int i) {
  static const char *const specs[] = {
      "typedef", "extern", "static", "auto", "register", "const", "volatile", "restrict",
      "inline", "signed", "unsigned", "short", "long", "int", "char", "float", "double",
      "void", "_Bool", "bool", "_Complex", "_Noreturn", "__inline", "__restrict", NULL,
  };
  for (int k = 0; specs[k]; k++)
    if (repl_tok_is(t, i, specs[k])) return 1;
  return 0;
}

static int is_base_type_keyword(const repl_toks *t, int i) {
  static const char *const base[] = {"signed", "unsigned", "short", "long", "int", "char",
                                     "float", "double", "void", "_Bool", "bool", NULL};
  for (int k = 0; base[k]; k++)
    if (repl_tok_is(t, i, base[k])) return 1;
  return 0;
}

/* Index of the token matching the bracket at i, or t->n. */
static int match(const repl_toks *t, int i) {
  const char *open = repl_tok_ptr(t, i);
  char o = open[0], c = o == '(' ? ')' : o == '[' ? ']' : '}';
  int depth = 0;
  for (int k = i; k < t->n; k++) {
    if (t->t[k].kind != TK_PUNCT || repl_tok_len(t, k) != 1) continue;
    char x = repl_tok_ptr(t, k)[0];
    if (x == o) depth++;
    if (x == c && --depth == 0) return k;
  }
  return t->n;
}

/* ------------------------------------------------------------------------ */
/* Specifiers and declarators                                               */
/* ------------------------------------------------------------------------ */

/* Returns the end of the declaration specifiers starting at i, or i when
 * there are none. A typedef name counts only before any base type. */
static int parse_specs(const repl_toks *t, int i, int end, repl_is_type_fn is_type, void *ctx) {
  int k = i, seen_type = 0;
  while (k < end) {
    if (t->t[k].kind != TK_IDENT) break;
    if (repl_tok_is(t, k, "__attribute__") || repl_tok_is(t, k, "_Alignas")) {
      if (k + 1 < end && repl_tok_is(t, k + 1, "(")) {
        k = match(t, k + 1) + 1;
        continue;
      }
      break;
    }
    if (repl_tok_is(t, k, "typeof") || repl_tok_is(t, k, "__typeof__")) {
      if (k + 1 < end && repl_tok_is(t, k + 1, "(")) {
        k = match(t, k + 1) + 1;
        seen_type = 1;
        continue;
      }
      break;
    }
    if (repl_tok_is(t, k, "struct") || repl_tok_is(t, k, "union") || repl_tok_is(t, k, "enum")) {
      k++;
      if (k < end && t->t[k].kind == TK_IDENT) k++;
      if (k < end && repl_tok_is(t, k, "{")) k = match(t, k) + 1;
      seen_type = 1;
      continue;
    }
    if (is_spec_keyword(t, k)) {
      if (is_base_type_keyword(t, k)) seen_type = 1;
      k++;
      continue;
    }
    int known = is_type ? is_type(ctx, repl_tok_ptr(t, k), repl_tok_len(t, k)) : 0;
    if (!seen_type && known > 0) {
      seen_type = 1;
      k++;
      continue;
    }
    /* An unknown identifier followed by a declarator is a type from a
     * header we have not seen: `time_t t;` (two names in a row start no
     * expression) or `foo_t *p = ...` (a pointer with an initializer). A
     * name known as a variable is not: `a * b` multiplies. */
    if (!seen_type && known == 0 && !repl_is_keyword(t, k) && k + 1 < end) {
      int j = k + 1, stars = 0;
      while (j < end && repl_tok_is(t, j, "*")) j++, stars++;
      int after = j + 1;
      if (j < end && t->t[j].kind == TK_IDENT && !repl_is_keyword(t, j) &&
          (stars == 0 || after >= end || repl_tok_is(t, after, "=") || repl_tok_is(t, after, ";") ||
           repl_tok_is(t, after, ",") || repl_tok_is(t, after, "["))) {
        seen_type = 1;
        k++;
        continue;
      }
    }
    break;
  }
  return seen_type || k > i ? k : i;
}

/* Splits [i, end) into declarators at top-level commas. */
static void parse_declarators(const repl_toks *t, int i, int end, repl_item *it) {
  it->ndecl = 0;
  int start = i;
  for (int k = i; k <= end; k++) {
    int stop = k == end || repl_tok_is(t, k, ";") || repl_tok_is(t, k, ",");
    if (!stop && (repl_tok_is(t, k, "(") || repl_tok_is(t, k, "[") || repl_tok_is(t, k, "{"))) {
      k = match(t, k);
      continue;
    }
    if (!stop) continue;
    if (k > start && it->ndecl < REPL_MAX_DECLS) {
      repl_declarator *d = &it->decl[it->ndecl++];
      d->t0 = start;
      d->t1 = k;
      d->name = -1;
      d->eq = -1;
      for (int j = start; j < k; j++) {
        if (repl_tok_is(t, j, "=")) {
          d->eq = j;
          break;
        }
        if (repl_tok_is(t, j, "[")) {
          j = match(t, j);
          continue;
        }
        if (d->name < 0 && t->t[j].kind == TK_IDENT && !repl_is_keyword(t, j)) d->name = j;
        if (repl_tok_is(t, j, "(") && d->name >= 0) {
          j = match(t, j);
          continue;
        }
      }
    }
    start = k + 1;
    if (k == end || repl_tok_is(t, k, ";")) break;
  }
}

/* ------------------------------------------------------------------------ */
/* Splitting                                                                */
/* ------------------------------------------------------------------------ */

static int push_item(repl_cell *c, repl_item *it, int *cap) {
  if (c->n == *cap) {
    int nc = *cap ? *cap * 2 : 16;
    repl_item *v = eng_realloc(c->items, (size_t)nc * sizeof *v);
    if (!v) return ENG_ENOMEM;
    c->items = v;
    *cap = nc;
  }
  c->items[c->n++] = *it;
  return 0;
}

static int starts_control(const repl_toks *t, int i) {
  static const char *const ctl[] = {"if", "for", "while", "do", "switch", "return", "break",
                                    "continue", "goto", "case", "default", NULL};
  for (int k = 0; ctl[k]; k++)
    if (repl_tok_is(t, i, ctl[k])) return 1;
  return repl_tok_is(t, i, "{");
}

/* Finds where the item starting at i ends (one past its last token). */
static int item_end(const repl_toks *t, int i, int *out_terminated) {
  int k = i;
  int is_do = repl_tok_is(t, i, "do");
  int has_eq = 0;
  int starts_tag = repl_tok_is(t, i, "struct") || repl_tok_is(t, i, "union") ||
                   repl_tok_is(t, i, "enum") || repl_tok_is(t, i, "typedef");
  *out_terminated = 0;
  while (k < t->n) {
    if (repl_tok_is(t, k, ";")) {
      *out_terminated = 1;
      return k + 1;
    }
    if (repl_tok_is(t, k, "=")) has_eq = 1;
    if (repl_tok_is(t, k, "(") || repl_tok_is(t, k, "[")) {
      k = match(t, k) + 1;
      continue;
    }
    if (repl_tok_is(t, k, "{")) {
      int close = match(t, k);
      if (close >= t->n) return t->n; /* unbalanced: let the compiler say so */
      k = close + 1;
      if (k < t->n && repl_tok_is(t, k, ";")) {
        *out_terminated = 1;
        return k + 1;
      }
      /* Declarators, a do-loop's while, or an else may follow the block. */
      if (has_eq || is_do || starts_tag) continue;
      if (k < t->n && repl_tok_is(t, k, "else")) continue;
      *out_terminated = 1;
      return k;
    }
    k++;
  }
  return k;
}

int repl_cell_split(const char *src, repl_is_type_fn is_type, void *ctx, repl_cell *out) {
  memset(out, 0, sizeof *out);
  if (repl_lex(src, &out->toks) < 0) return ENG_ENOMEM;
  repl_toks *t = &out->toks;
  int cap = 0, i = 0;
  while (i < t->n) {
    repl_item it;
    memset(&it, 0, sizeof it);
    it.t0 = i;
    it.line = t->t[i].line;
    it.name = -1;
    it.body = -1;
    if (t->t[i].kind == TK_PP) {
      it.kind = IT_PP;
      it.t1 = i + 1;
      if (push_item(out, &it, &cap) < 0) return ENG_ENOMEM;
      i++;
      continue;
    }
    if (repl_tok_is(t, i, ";")) { /* a stray ';' */
      i++;
      continue;
    }
    int spec_end = starts_control(t, i) ? i : parse_specs(t, i, t->n, is_type, ctx);
    int terminated;
    int end = item_end(t, i, &terminated);
    it.t1 = end;
    it.spec_end = spec_end;
    if (spec_end > i) {
      int is_typedef = repl_tok_is(t, i, "typedef");
      int decl_end = terminated && repl_tok_is(t, end - 1, ";") ? end - 1 : end;
      /* A function: NAME ( ... ) { directly after the specifiers/stars. */
      int k = spec_end;
      while (k < end && (repl_tok_is(t, k, "*") || repl_tok_is(t, k, "const"))) k++;
      if (!is_typedef && k + 1 < end && t->t[k].kind == TK_IDENT && repl_tok_is(t, k + 1, "(")) {
        int close = match(t, k + 1);
        if (close + 1 < t->n && repl_tok_is(t, close + 1, "{")) {
          it.kind = IT_FUNC;
          it.name = k;
          it.body = close + 1;
          it.t1 = match(t, close + 1) + 1;
          if (it.t1 > t->n) it.t1 = t->n;
          end = it.t1;
        } else {
          it.kind = IT_DECL;
          it.name = k;
        }
      } else if (is_typedef) {
        it.kind = IT_TYPE;
        parse_declarators(t, spec_end, decl_end, &it);
      } else if (spec_end == decl_end) {
        it.kind = IT_TYPE; /* struct/enum definition without declarators */
      } else if (repl_tok_is(t, i, "extern")) {
        it.kind = IT_DECL;
        parse_declarators(t, spec_end, decl_end, &it);
      } else {
        it.kind = IT_VAR;
        parse_declarators(t, spec_end, decl_end, &it);
        if (it.ndecl == 0) it.kind = IT_TYPE;
      }
    } else {
      it.kind = terminated ? IT_STMT : IT_EXPR;
      /* A trailing block statement without ';' is still a statement. */
      if (!terminated && starts_control(t, i)) it.kind = IT_STMT;
    }
    if (push_item(out, &it, &cap) < 0) return ENG_ENOMEM;
    i = end > i ? end : i + 1;
  }
  return 0;
}

void repl_cell_free(repl_cell *c) {
  repl_toks_free(&c->toks);
  eng_free(c->items);
  memset(c, 0, sizeof *c);
}
