/* lex.h -- tokens of C source, enough to split cells and find lambdas.
 *
 * The REPL never compiles C itself (libtcc does); it only needs to see where
 * top-level items start and end, which items declare what, and where a
 * lambda is. So tokens are coarse: identifiers, numbers, string and char
 * literals, punctuators (multi-character operators kept whole), and whole
 * preprocessor lines (with their backslash continuations). Comments vanish.
 *
 * Ownership: repl_lex fills a caller-owned repl_toks (free with
 *   repl_toks_free); tokens point into the source by offset.
 * Thread-safety: pure.
 * Errors: unterminated comments/literals are tokenized up to the end of the
 *   source (the C compiler then reports them precisely); lexing never fails
 *   except for out-of-memory (ENG_ENOMEM).
 */
#ifndef REPL_LEX_H
#define REPL_LEX_H

#include "../engine/eng_types.h"

enum { TK_IDENT = 1, TK_NUMBER, TK_STRING, TK_CHAR, TK_PUNCT, TK_PP };

typedef struct repl_tok {
  int kind;
  int start, end; /* byte offsets [start, end) in the source */
  int line;       /* 1-based line of the first byte */
} repl_tok;

typedef struct repl_toks {
  const char *src;
  repl_tok *t;
  int n, cap;
} repl_toks;

int repl_lex(const char *src, repl_toks *out);
void repl_toks_free(repl_toks *t);

/* Does token i spell s exactly? */
int repl_tok_is(const repl_toks *t, int i, const char *s);
/* The token's text length and pointer. */
static inline int repl_tok_len(const repl_toks *t, int i) { return t->t[i].end - t->t[i].start; }
static inline const char *repl_tok_ptr(const repl_toks *t, int i) { return t->src + t->t[i].start; }

#endif
