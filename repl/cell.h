/* cell.h -- a cell split into top-level items (SPEC 3): preprocessor lines,
 * type declarations, function definitions and prototypes, variable
 * declarations, statements, and a final expression without ';'.
 *
 * Ownership: repl_cell_split fills a caller-owned repl_cell (free with
 *   repl_cell_free); items refer to the cell's tokens by index.
 * Thread-safety: pure.
 * Errors: splitting never fails on bad C (the compiler reports it); only on
 *   out-of-memory. An item the splitter cannot classify is a statement.
 */
#ifndef REPL_CELL_H
#define REPL_CELL_H

#include "lex.h"

enum {
  IT_PP = 1, /* #include, #define, ... */
  IT_TYPE,   /* typedef, struct/union/enum definitions */
  IT_DECL,   /* prototypes and extern declarations */
  IT_FUNC,   /* function definitions */
  IT_VAR,    /* variable declarations (become session globals) */
  IT_STMT,   /* statements, run in order */
  IT_EXPR,   /* the final expression without ';' (its value is shown) */
};

#define REPL_MAX_DECLS 64

typedef struct repl_declarator {
  int t0, t1;   /* tokens of the declarator, initializer included */
  int name;     /* token of the declared name, or -1 */
  int eq;       /* token of '=' before the initializer, or -1 */
} repl_declarator;

typedef struct repl_item {
  int kind;
  int t0, t1;    /* tokens [t0, t1), including a trailing ';' */
  int line;      /* line of the first token */
  int name;      /* IT_FUNC/IT_DECL: the function's name token (-1 if none) */
  int body;      /* IT_FUNC: the token of the body's '{' */
  int spec_end;  /* IT_VAR/IT_TYPE/IT_DECL: specifiers are [t0, spec_end) */
  int ndecl;
  repl_declarator decl[REPL_MAX_DECLS];
} repl_item;

typedef struct repl_cell {
  repl_toks toks;
  repl_item *items;
  int n;
} repl_cell;

/* Names known to be types (typedefs) in this session, for telling
 * declarations from expressions: is_type(ctx, name, len) is 1 for a type,
 * -1 for a name known as something else (a variable, a function), 0 for a
 * name it does not know. */
typedef int (*repl_is_type_fn)(void *ctx, const char *name, int len);

int repl_cell_split(const char *src, repl_is_type_fn is_type, void *ctx, repl_cell *out);
void repl_cell_free(repl_cell *c);

/* Is the identifier at token i a C keyword? */
int repl_is_keyword(const repl_toks *t, int i);

#endif
