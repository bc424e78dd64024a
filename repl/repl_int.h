/* repl_int.h -- the session library's state (internal to repl/). */
#ifndef REPL_INT_H
#define REPL_INT_H

#include <pthread.h>
#include <signal.h>

#include "../udf/udf.h"
#include "cell.h"
#include "lambda.h"
#include "repl.h"
#include "tramp.h"

enum { SYM_VAR = 1, SYM_FUNC = 2 };

/* A global or function some cell defined; the latest definition of a name
 * is the one later cells see. */
typedef struct repl_sym {
  char *name;
  int kind;
  void *addr;
  char *decl;  /* "extern long k;" or "int sq(int x);" for later cells */
  char *src;   /* functions: full source with #line, shipped with lambdas */
  char **uses; /* functions: names of session functions the body mentions */
  int nuses;
  int utype;   /* udf_type of the variable / the function's result, or -1 */
  int cell, line;
} repl_sym;

/* A declaration every later cell repeats: #include/#define, types,
 * prototypes. `key` names what it defines, so a redefinition replaces it. */
typedef struct repl_hdr {
  char *key;
  char *text; /* with its #line */
} repl_hdr;

/* A lambda, made into a UDF each time its expression runs. */
typedef struct repl_lam {
  char *name;       /* "lambda at cell[3]:1" */
  char *entry;      /* __ember_lambda_3_0 */
  char *src;        /* header declarations, functions it uses, the lambda */
  udf_type ret;
  int nparams;
  udf_type params[UDF_MAX_PARAMS];
  int ncaps;
  char **cap_names;
  char *ret_dtype;  /* "(str,long)", "" */
  int cell, line;
  /* the last UDF definition made for it (captures' types may vary) */
  udf_def *def;
} repl_lam;

struct repl {
  eng_session *s;
  udf_module **mods;
  int nmods, capmods;
  repl_tramps *tramps; /* session functions' trampolines (tramp.h) */
  repl_sym *syms;
  int nsyms, capsyms;
  repl_hdr *hdr;
  int nhdr, caphdr;
  char **typenames;
  int ntypes, captypes;
  repl_lam *lams;
  int nlams, caplams;
  char **inputs; /* history, one per evaluated input */
  int *labels;    /* the number each input was shown as: cell[label] */
  int ninputs, capinputs;
  int cell;       /* number of the cell being evaluated (internal, 1, 2, ...) */
  int next_label; /* set by repl_set_next_label: the next cell's number */
  char cell_name[32];
  /* running state, read by repl_interrupt */
  volatile sig_atomic_t in_engine, in_cell;
  volatile sig_atomic_t in_action;   /* the engine call is an action (runs jobs) */
  volatile sig_atomic_t interrupted; /* repl_interrupt came during this input */
  pthread_t thread;
  const repl_out *out;
  eng_buf result;
  int has_result;
  int time_next;
  eng_udf *add;
};

/* The repl whose cell is running (the cell API reaches the session here). */
extern repl *repl__current;

/* api.c: the cell API's host symbols, for each compile. */
int repl__api_symbols(const char *const **names, void *const **addrs);
/* Converts a type expression like "(str,long)" into an engine dtype. */
const eng_dtype *repl__parse_dtype(eng_session *s, const char *text);
/* doc.c: the :help listing. */
void repl__help_all(eng_buf *b);
/* The cell API header text (cellapi.h, embedded). */
extern const char repl__cellapi_text[];

#endif
