/* th.h -- the unit-test harness: cmocka, plus what every test program needs.
 *
 * Each tests/unit/test_<module>.c is one program (one cmocka group) whose
 * tests are named <module>_<behaviour>. Programs that start sessions also
 * act as their own executors: the engine starts executor processes by
 * re-running the current program with "executor" as first argument, which
 * TH_MAIN hands to the engine (as build/ember does).
 *
 * TH_FILTER=pattern (cmocka's wildcards: memory_cache_*) runs only the
 * tests whose names match.
 *
 * Leak checks: TH_MEM_BEGIN()/TH_MEM_END() bracket a test body and fail if
 * eng_mem_in_use() did not return to where it was.
 */
#ifndef TH_H
#define TH_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../engine/mem.h"

int eng_executor_main(int argc, char **argv);

#define TH_MEM_BEGIN() int64_t th_mem_start_ = eng_mem_in_use()
#define TH_MEM_END()                                                            \
  do {                                                                          \
    int64_t th_leak_ = eng_mem_in_use() - th_mem_start_;                        \
    if (th_leak_ != 0) fail_msg("leaked %lld bytes", (long long)th_leak_);      \
  } while (0)

#define TH_MAIN(tests)                                                          \
  int main(int argc, char **argv) {                                             \
    if (argc > 1 && strcmp(argv[1], "executor") == 0)                         \
      return eng_executor_main(argc, argv);                                     \
    if (getenv("TH_FILTER")) cmocka_set_test_filter(getenv("TH_FILTER"));      \
    return cmocka_run_group_tests(tests, NULL, NULL);                           \
  }

#endif
