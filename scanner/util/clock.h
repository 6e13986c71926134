/* Monotonic time and sleeping, for code that runs outside an event loop
 * (database threads, the supervisor). Inside a loop use the loop's clock. */
#ifndef DANESCAN_UTIL_CLOCK_H
#define DANESCAN_UTIL_CLOCK_H

/* Seconds and milliseconds on CLOCK_MONOTONIC. */
double clock_now_s(void);
double clock_now_ms(void);

/* Sleeps ms milliseconds, resuming after signals. */
void clock_sleep_ms(unsigned ms);

#endif
