/* The peer of bench/bench_inputs.sh: a full parse of a zone file by Knot
 * DNS's zone scanner (libzscanner, Debian package libknot-dev), every record
 * converted to wire form, counting records and NS records. What danescan's
 * zone reader is measured against: it must be at least as fast while it
 * only needs owners and NS records. Usage: zscanner_count FILE [ORIGIN]
 * (ORIGIN default "."); prints "records N ns N errors N"; exit 1 on a
 * fatal error. Built by bench_inputs.sh (cc ... -lzscanner). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <libzscanner/scanner.h>

struct counts {
  uint64_t records;
  uint64_t ns;
  uint64_t errors;
};

static void on_record(zs_scanner_t *scanner) {
  struct counts *counts = scanner->process.data;
  counts->records++;
  if (scanner->r_type == 2) {
    counts->ns++;
  }
}

static void on_error(zs_scanner_t *scanner) {
  struct counts *counts = scanner->process.data;
  counts->errors++;
  if (counts->errors <= 5) {
    fprintf(stderr, "line %" PRIu64 ": %s\n", scanner->line_counter, zs_strerror(scanner->error.code));
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: zscanner_count FILE [ORIGIN]\n");
    return 2;
  }
  static zs_scanner_t scanner; /* large: not on the stack */
  struct counts counts = {0, 0, 0};
  if (zs_init(&scanner, argc > 2 ? argv[2] : ".", 1 /* IN */, 3600) != 0 || zs_set_input_file(&scanner, argv[1]) != 0 ||
      zs_set_processing(&scanner, on_record, on_error, &counts) != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], zs_strerror(scanner.error.code));
    zs_deinit(&scanner);
    return 1;
  }
  int rc = zs_parse_all(&scanner);
  printf("records %" PRIu64 " ns %" PRIu64 " errors %" PRIu64 "\n", counts.records, counts.ns, counts.errors);
  if (rc != 0 && scanner.error.fatal) {
    fprintf(stderr, "%s: %s\n", argv[1], zs_strerror(scanner.error.code));
    zs_deinit(&scanner);
    return 1;
  }
  zs_deinit(&scanner);
  return 0;
}
