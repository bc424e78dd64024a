/* clock.h -- the monotonic clock in milliseconds, for timeouts, heartbeats
 * and the timings that :time and the benchmarks report.
 * Thread-safety: pure. Errors: none.
 */
#ifndef ENG_CLOCK_H
#define ENG_CLOCK_H

#include <time.h>

static inline double eng_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
