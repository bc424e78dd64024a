/* main.c -- the ember binary: dispatches subcommands (SPEC 2).
 *
 *   ember [--master URL] [FILE.c | -e CODE]   the REPL (terminal, script, stdin)
 *   ember executor ...                        an executor process (started by sessions)
 *   ember --version / --help
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/buf.h"
#include "../engine/mem.h"
#include "../engine/cluster.h"
#include "../engine/session.h"
#include "../kernel/kernel.h"
#include "repl.h"
#include "term.h"


static int usage(FILE *f) {
  fprintf(f,
          "usage: ember [--master URL] [FILE.c | -e CODE]\n"
          "       ember kernel -f CONNECTION_FILE\n"
          "       ember install-kernel [--user] [--prefix DIR]\n"
          "       ember master [--host H] [--port 7077]\n"
          "       ember worker ember://H:7077 [--cores N] [--memory SIZE] [--work-dir DIR]\n"
          "       ember status ember://H:7077\n"
          "       ember --version | --help\n"
          "\n"
          "  --master URL   local, local[N], local[*] (default), ember://host:port; or EMBER_MASTER\n"
          "  -e CODE        run CODE as one input, print its result, exit\n"
          "  FILE.c         run the file input by input, as the REPL would, then exit\n"
          "  With standard input not a terminal, ember reads the session from it.\n"
          "  Exit status: 1 if any input failed.\n");
  return f == stderr ? 2 : 0;
}

static char *read_all(FILE *f) {
  eng_buf b;
  eng_buf_init(&b);
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) eng_buf_append(&b, tmp, n);
  return eng_buf_take(&b, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "executor") == 0) return eng_executor_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "master") == 0) return eng_master_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "worker") == 0) return eng_worker_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "status") == 0) return eng_status_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "kernel") == 0) return krn_kernel_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "install-kernel") == 0) return krn_install_main(argc, argv);
  const char *master = NULL, *code = NULL, *file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--version") == 0) {
      printf("ember %s\n", EMBER_VERSION);
      return 0;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout);
    if (strcmp(a, "--master") == 0 && i + 1 < argc) {
      master = argv[++i];
    } else if (strncmp(a, "--master=", 9) == 0) {
      master = a + 9;
    } else if (strcmp(a, "-e") == 0 && i + 1 < argc) {
      code = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ember: unknown option %s\n", a);
      return usage(stderr);
    } else if (!file) {
      file = a;
    } else {
      return usage(stderr);
    }
  }
  char *text = NULL;
  if (file) {
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!f) {
      fprintf(stderr, "IOError: cannot open %s: %s\n", file, strerror(errno));
      return 1;
    }
    text = read_all(f);
    if (f != stdin) fclose(f);
  }
  eng_conf conf = {.master = master};
  eng_err err;
  repl *r = repl_new(&conf, &err);
  if (!r) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int failed = 0, rc = 0;
  if (code) {
    /* -e: one input, whatever its lines. */
    rc = repl_term_run_one(r, code, &failed);
    (void)rc;
  } else if (text) {
    repl_term_run_text(r, text, &failed);
  } else if (!isatty(0)) {
    text = read_all(stdin);
    repl_term_run_text(r, text, &failed);
  } else {
    repl_term_interactive(r, EMBER_VERSION);
  }
  eng_free(text);
  repl_free(r);
  return failed ? 1 : 0;
}
