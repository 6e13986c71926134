#include "unit.h"

int unit_failures;
int unit_checks;

int unit_run(const struct unit_test *tests, size_t count) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < count; i++) {
    int before = unit_failures;
    tests[i].fn();
    if (unit_failures == before) {
      passed++;
    } else {
      failed++;
      fprintf(stderr, "FAIL %s\n", tests[i].name);
    }
  }
  printf("%d checks; %d passed, %d failed\n", unit_checks, passed, failed);
  return failed == 0 ? 0 : 1;
}
