/* lex.c -- a coarse C tokenizer (see lex.h). */
#include "lex.h"

#include <ctype.h>
#include <string.h>

#include "../engine/mem.h"

static int push(repl_toks *t, int kind, int start, int end, int line) {
  if (t->n == t->cap) {
    int cap = t->cap ? t->cap * 2 : 256;
    repl_tok *v = eng_realloc(t->t, (size_t)cap * sizeof *v);
    if (!v) return ENG_ENOMEM;
    t->t = v;
    t->cap = cap;
  }
  t->t[t->n++] = (repl_tok){kind, start, end, line};
  return 0;
}

/* Longest punctuators first: C's operators that matter to us stay whole. */
static const char *const puncts[] = {
    "...", "<<=", ">>=", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "+=",  "-=",  "*=",  "/=", "%=", "&=", "^=", "|=", "##", NULL,
};

int repl_lex(const char *src, repl_toks *out) {
  memset(out, 0, sizeof *out);
  out->src = src;
  int i = 0, line = 1, n = (int)strlen(src);
  int at_line_start = 1;
  while (i < n) {
    char c = src[i];
    if (c == '\n') {
      line++;
      i++;
      at_line_start = 1;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      i++;
      continue;
    }
    if (c == '/' && src[i + 1] == '/') {
      while (i < n && src[i] != '\n') i++;
      continue;
    }
    if (c == '/' && src[i + 1] == '*') {
      i += 2;
      while (i < n && !(src[i] == '*' && src[i + 1] == '/')) {
        if (src[i] == '\n') line++;
        i++;
      }
      i = i < n ? i + 2 : n;
      continue;
    }
    int start = i, l0 = line;
    if (c == '#' && at_line_start) {
      /* A preprocessor line, with backslash continuations. */
      while (i < n && src[i] != '\n') {
        if (src[i] == '\\' && src[i + 1] == '\n') {
          i += 2;
          line++;
          continue;
        }
        if (src[i] == '/' && src[i + 1] == '*') {
          /* A comment inside a directive may span lines. */
          i += 2;
          while (i < n && !(src[i] == '*' && src[i + 1] == '/')) {
            if (src[i] == '\n') line++;
            i++;
          }
          i = i < n ? i + 2 : n;
          continue;
        }
        i++;
      }
      if (push(out, TK_PP, start, i, l0) < 0) return ENG_ENOMEM;
      continue;
    }
    at_line_start = 0;
    if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
      while (i < n && (isalnum((unsigned char)src[i]) || src[i] == '_' || (unsigned char)src[i] >= 0x80))
        i++;
      /* String prefixes: L"..", u8"..". */
      if (i < n && (src[i] == '"' || src[i] == '\'') && i - start <= 2) {
        c = src[i];
      } else {
        if (push(out, TK_IDENT, start, i, l0) < 0) return ENG_ENOMEM;
        continue;
      }
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)src[i + 1]))) {
      while (i < n && (isalnum((unsigned char)src[i]) || src[i] == '.' || src[i] == '_' ||
                       ((src[i] == '+' || src[i] == '-') && (src[i - 1] == 'e' || src[i - 1] == 'E' ||
                                                             src[i - 1] == 'p' || src[i - 1] == 'P'))))
        i++;
      if (push(out, TK_NUMBER, start, i, l0) < 0) return ENG_ENOMEM;
      continue;
    }
    if (c == '"' || c == '\'') {
      char q = c;
      i++;
      while (i < n && src[i] != q && src[i] != '\n') {
        if (src[i] == '\\' && i + 1 < n) i++;
        i++;
      }
      if (i < n && src[i] == q) i++;
      if (push(out, q == '"' ? TK_STRING : TK_CHAR, start, i, l0) < 0) return ENG_ENOMEM;
      continue;
    }
    int len = 1;
    for (int k = 0; puncts[k]; k++) {
      int pl = (int)strlen(puncts[k]);
      if (strncmp(src + i, puncts[k], (size_t)pl) == 0) {
        len = pl;
        break;
      }
    }
    i += len;
    if (push(out, TK_PUNCT, start, i, l0) < 0) return ENG_ENOMEM;
  }
  return 0;
}

void repl_toks_free(repl_toks *t) {
  eng_free(t->t);
  memset(t, 0, sizeof *t);
}

int repl_tok_is(const repl_toks *t, int i, const char *s) {
  if (i < 0 || i >= t->n) return 0;
  size_t n = strlen(s);
  return (size_t)repl_tok_len(t, i) == n && memcmp(repl_tok_ptr(t, i), s, n) == 0;
}
