/* Minimal unit-test harness: each test_<module>.c defines test functions,
 * lists them with UNIT_TEST() in main via unit_run(). A failed CHECK reports
 * file:line and the expression, counts a failure and the test goes on. */
#ifndef DANESCAN_TESTS_UNIT_H
#define DANESCAN_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failures;
extern int unit_checks;

#define CHECK(expr)                                                            \
  do {                                                                         \
    unit_checks++;                                                             \
    if (!(expr)) {                                                             \
      unit_failures++;                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                          \
  } while (0)

#define CHECK_STR(got, want)                                                                                      \
  do {                                                                                                            \
    const char *unit_got_ = (got), *unit_want_ = (want);                                                          \
    unit_checks++;                                                                                                \
    if (unit_got_ == NULL || unit_want_ == NULL ? unit_got_ != unit_want_ : strcmp(unit_got_, unit_want_) != 0) { \
      unit_failures++;                                                                                            \
      fprintf(stderr, "%s:%d: CHECK_STR failed: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,           \
              unit_got_ ? unit_got_ : "(null)", unit_want_ ? unit_want_ : "(null)");                              \
    }                                                                                                             \
  } while (0)

#define CHECK_INT(got, want)                                                                                   \
  do {                                                                                                         \
    long long unit_got_ = (long long)(got), unit_want_ = (long long)(want);                                    \
    unit_checks++;                                                                                             \
    if (unit_got_ != unit_want_) {                                                                             \
      unit_failures++;                                                                                         \
      fprintf(stderr, "%s:%d: CHECK_INT failed: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, unit_got_, \
              unit_want_);                                                                                     \
    }                                                                                                          \
  } while (0)

struct unit_test {
  const char *name;
  void (*fn)(void);
};

/* Runs every test, prints "N passed, N failed" and returns the exit code. */
int unit_run(const struct unit_test *tests, size_t count);

#define UNIT_TEST(fn) \
  { #fn, fn }
#define UNIT_MAIN(...)                                                        \
  int main(void) {                                                            \
    static const struct unit_test unit_tests_[] = {__VA_ARGS__};              \
    return unit_run(unit_tests_, sizeof unit_tests_ / sizeof unit_tests_[0]); \
  }

#endif
