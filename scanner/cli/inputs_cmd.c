/* `danescan inputs`: runs the input reader alone, with the options a scan
 * takes for its inputs, so a researcher can check what a scan would cover
 * (and measure the reader's speed with --count). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/inputs_cmd.h"
#include "input/input.h"

#define INPUTS_STDOUT_BUFFER_BYTES ((size_t)1 << 20)

static const char usage[] = "usage: danescan inputs [options] FILE...\n"
                            "Prints the names a scan of FILE... would scan (one per line, lower case).\n"
                            "FILE may be a zone file, a list or a rank,domain CSV, plain or gzip'd; - is stdin.\n"
                            "  --input-format zone|list|csv   do not detect the format\n"
                            "  --origin NAME                  apex of zone files (default: first SOA owner)\n"
                            "  --shard I/N                    keep the names with FNV-1a-64(name) % N == I\n"
                            "  --sample P                     keep a deterministic fraction P in (0,1]\n"
                            "  --limit N                      stop after N names\n"
                            "  --count                        print only the counts\n"
                            "  --ns                           after each name, a tab and its NS targets (zone\n"
                            "                                 inputs; space-separated; empty for lists)\n"
                            "  --dedup-memory MB              memory of the duplicate filter (default 48)\n"
                            "  --max-errors N                 problems reported in full (default 10)\n";

struct inputs_cmd {
  struct input_options options;
  bool count_only;
  bool show_ns;
  const char **paths;
  size_t path_count;
};

static void print_diagnostic(const char *message, void *arg) {
  (void)arg;
  fprintf(stderr, "danescan: %s\n", message);
}

static int parse_u64(const char *text, uint64_t *out) {
  char *end = NULL;
  if (text == NULL || text[0] < '0' || text[0] > '9') {
    return -1;
  }
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') {
    return -1;
  }
  *out = value;
  return 0;
}

static int parse_shard(const char *text, unsigned *index, unsigned *count) {
  unsigned long long i = 0, n = 0;
  char *end = NULL;
  if (text == NULL || text[0] < '0' || text[0] > '9') {
    return -1;
  }
  i = strtoull(text, &end, 10);
  if (*end != '/' || end[1] < '0' || end[1] > '9') {
    return -1;
  }
  n = strtoull(end + 1, &end, 10);
  if (*end != '\0' || n == 0 || i >= n || n > 1000000) {
    return -1;
  }
  *index = (unsigned)i;
  *count = (unsigned)n;
  return 0;
}

/* "0.25" or "25%". */
static int parse_fraction(const char *text, double *out) {
  char *end = NULL;
  if (text == NULL) {
    return -1;
  }
  double value = strtod(text, &end);
  if (end == text) {
    return -1;
  }
  if (*end == '%' && end[1] == '\0') {
    value /= 100.0;
  } else if (*end != '\0') {
    return -1;
  }
  if (!(value > 0.0 && value <= 1.0)) {
    return -1;
  }
  *out = value;
  return 0;
}

/* Returns 0, 1 for --help, -1 on a usage error (message printed). */
static int parse_args(struct inputs_cmd *cmd, int argc, char **argv) {
  input_options_defaults(&cmd->options);
  cmd->paths = calloc((size_t)argc + 1, sizeof *cmd->paths);
  if (cmd->paths == NULL) {
    fprintf(stderr, "danescan inputs: out of memory\n");
    return -1;
  }
  bool options_done = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
      cmd->paths[cmd->path_count++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      options_done = true;
      continue;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      return 1;
    }
    if (strcmp(arg, "--ns") == 0) {
      cmd->show_ns = true;
      continue;
    }
    if (strcmp(arg, "--count") == 0) {
      cmd->count_only = true;
      continue;
    }
    /* Options with a value: "--name value" or "--name=value". */
    char name[32];
    const char *value = NULL;
    const char *equals = strchr(arg, '=');
    size_t name_len = equals != NULL ? (size_t)(equals - arg) : strlen(arg);
    if (name_len >= sizeof name) {
      fprintf(stderr, "danescan inputs: unknown option %s\n", arg);
      return -1;
    }
    memcpy(name, arg, name_len);
    name[name_len] = '\0';
    if (equals != NULL) {
      value = equals + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    uint64_t number = 0;
    bool ok = value != NULL;
    if (strcmp(name, "--input-format") == 0) {
      if (ok && strcmp(value, "zone") == 0) {
        cmd->options.format = INPUT_FORMAT_ZONE;
      } else if (ok && strcmp(value, "list") == 0) {
        cmd->options.format = INPUT_FORMAT_LIST;
      } else if (ok && strcmp(value, "csv") == 0) {
        cmd->options.format = INPUT_FORMAT_CSV;
      } else if (!(ok && strcmp(value, "auto") == 0)) {
        ok = false;
      }
    } else if (strcmp(name, "--origin") == 0) {
      cmd->options.zone_origin = value;
    } else if (strcmp(name, "--shard") == 0) {
      ok = ok && parse_shard(value, &cmd->options.shard_index, &cmd->options.shard_count) == 0;
    } else if (strcmp(name, "--sample") == 0) {
      ok = ok && parse_fraction(value, &cmd->options.sample_fraction) == 0;
    } else if (strcmp(name, "--limit") == 0) {
      ok = ok && parse_u64(value, &number) == 0;
      cmd->options.limit = number;
    } else if (strcmp(name, "--dedup-memory") == 0) {
      ok = ok && parse_u64(value, &number) == 0 && number >= 1 && number <= (1u << 20);
      cmd->options.dedup_memory_bytes = (size_t)number << 20;
    } else if (strcmp(name, "--max-errors") == 0) {
      ok = ok && parse_u64(value, &number) == 0 && number <= UINT32_MAX;
      cmd->options.max_reported_errors = (unsigned)number;
    } else {
      fprintf(stderr, "danescan inputs: unknown option %s\n", name);
      return -1;
    }
    if (!ok) {
      fprintf(stderr, "danescan inputs: bad or missing value for %s\n", name);
      return -1;
    }
  }
  if (cmd->path_count == 0) {
    fprintf(stderr, "danescan inputs: no input files\n");
    return -1;
  }
  cmd->options.diagnostic = print_diagnostic;
  return 0;
}

static void print_counts(struct input_reader *reader, const struct inputs_cmd *cmd) {
  struct input_counts counts;
  input_reader_get_counts(reader, &counts);
  printf("names %llu\n", (unsigned long long)counts.names);
  printf("valid %llu\n", (unsigned long long)(counts.names - counts.invalid));
  printf("invalid %llu\n", (unsigned long long)counts.invalid);
  printf("duplicates %llu\n", (unsigned long long)counts.duplicates);
  printf("bad_lines %llu\n", (unsigned long long)counts.bad_lines);
  printf("skipped_by_shard_or_sample %llu\n", (unsigned long long)counts.skipped_by_shard_or_sample);
  printf("dedup_untracked %llu\n", (unsigned long long)counts.dedup_untracked);
  printf("bytes %llu\n", (unsigned long long)counts.bytes_read);
  for (size_t i = 0; i < cmd->path_count; i++) {
    const char *sum = input_reader_checksum(reader, i);
    if (sum != NULL) {
      printf("sha256 %s %s\n", sum, cmd->paths[i]);
    }
  }
}

int inputs_cmd_main(int argc, char **argv) {
  struct inputs_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  int parsed = parse_args(&cmd, argc, argv);
  if (parsed != 0) {
    fputs(usage, parsed > 0 ? stdout : stderr);
    free(cmd.paths);
    return parsed > 0 ? 0 : 2;
  }
  char why[512];
  struct input_reader *reader = input_reader_open(cmd.paths, cmd.path_count, &cmd.options, why, sizeof why);
  if (reader == NULL) {
    fprintf(stderr, "danescan inputs: %s\n", why);
    free(cmd.paths);
    return 1;
  }
  char *out_buffer = malloc(INPUTS_STDOUT_BUFFER_BYTES);
  if (out_buffer != NULL) {
    setvbuf(stdout, out_buffer, _IOFBF, INPUTS_STDOUT_BUFFER_BYTES);
  }
  struct input_name name;
  int rc;
  while ((rc = input_reader_next(reader, &name, why, sizeof why)) == 1) {
    if (!cmd.count_only && !name.invalid) {
      fputs_unlocked(name.name, stdout);
      if (cmd.show_ns) {
        fputc_unlocked('\t', stdout);
        fputs_unlocked(name.ns, stdout);
      }
      fputc_unlocked('\n', stdout);
    }
  }
  int status = 0;
  if (rc < 0) {
    fprintf(stderr, "danescan inputs: %s\n", why);
    status = 1;
  }
  if (cmd.count_only) {
    print_counts(reader, &cmd);
  }
  if (fflush(stdout) != 0) {
    status = 1;
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  free(out_buffer);
  input_reader_free(reader);
  free(cmd.paths);
  return status;
}
