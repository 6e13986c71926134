/* Monotonic time and sleeping (see clock.h). */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

double clock_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_now_ms(void) {
  return clock_now_s() * 1000.0;
}

void clock_sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
