/* main.c -- the ember binary: dispatches subcommands (SPEC 2).
 *
 *   ember executor ...       an executor process (started by sessions)
 *   ember --version / --help
 */
#include <stdio.h>
#include <string.h>

#include "../engine/session.h"

#define EMBER_VERSION "0.1.0"

static int usage(FILE *f) {
  fprintf(f,
          "usage: ember [--master URL] [FILE.c | -e CODE]\n"
          "       ember kernel -f CONNECTION_FILE\n"
          "       ember install-kernel [--user] [--prefix DIR]\n"
          "       ember master [--host H] [--port 7077]\n"
          "       ember worker ember://H:7077 [--cores N] [--memory SIZE]\n"
          "       ember --version | --help\n");
  return f == stderr ? 2 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "executor") == 0) return eng_executor_main(argc, argv);
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("ember %s\n", EMBER_VERSION);
    return 0;
  }
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) return usage(stdout);
  return usage(stderr);
}
