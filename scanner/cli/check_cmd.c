/* `danescan check [options] DOMAIN`: wires the scan pipeline (DNS client,
 * resolver self-check, in-memory input of one name, probe engine and stage,
 * host resolver, scan driver) to a sink that keeps the one record's
 * explanation (or JSON). The wiring repeats scan_cmd.c's on purpose, until
 * both share one function. */
#include "cli/check_cmd.h"
#include "run/scan_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "run/scan_options.h"
#include "dns/dns_client.h"
#include "dns/resolver_check.h"
#include "input/input.h"
#include "pipeline/host_resolver.h"
#include "pipeline/probe_stage.h"
#include "pipeline/scan.h"
#include "report/explain.h"
#include "store/jsonl.h"
#include "util/json.h"

#define CHECK_MAX_ARGS 256

static void usage(FILE *out) {
  fprintf(out,
          "usage: danescan check [options] DOMAIN\n"
          "  Resolves DOMAIN's MX, A/AAAA and TLSA records with DNSSEC, probes STARTTLS on\n"
          "  every MX address that publishes DANE, and explains what works and what to fix.\n"
          "  Exit code: 0 dane-valid, 1 anything else, 2 usage error, 3 resolver does not validate.\n"
          "  --json                      print the JSON record (docs/output.md) instead\n"
          "  --resolver IP[:PORT]        validating resolver (default 127.0.0.1)\n"
          "  --probe dane|all|none       which hosts to probe (default dane)\n"
          "  --allow-reserved, --smtp-port N, --ehlo NAME, --no-key-types,\n"
          "  --connect-timeout-ms, --greeting-timeout-ms, --ehlo-timeout-ms,\n"
          "  --starttls-timeout-ms, --handshake-timeout-ms, --query-timeout-ms, --attempts N\n"
          "                              as for `danescan scan` (see `danescan scan --help`)\n");
}

/* The sink: turns the one record into text while it is valid. */
struct check_sink {
  bool json;
  const char *scan_id;
  struct explain_options explain;
  char *text;                 /* malloc'd, NULL until written */
  size_t records;
  enum domain_status status;
};

static int check_sink_write(void *state, const struct domain_result *result, char *why, size_t why_len) {
  struct check_sink *sink = state;
  sink->records++;
  sink->status = result->status;
  free(sink->text);
  sink->text = NULL;
  if (sink->json) {
    struct json_buf buf;
    json_buf_init(&buf);
    jsonl_format_domain(&buf, result, sink->scan_id);
    json_raw(&buf, "\n", 1);
    if (!json_buf_failed(&buf)) sink->text = strndup(buf.data, buf.len);
    json_buf_free(&buf);
  } else {
    sink->text = explain_domain(result, &sink->explain);
  }
  if (sink->text == NULL) {
    snprintf(why, why_len, "out of memory formatting the result");
    return -1;
  }
  return 0;
}

static int check_sink_flush(void *state, char *why, size_t why_len) {
  (void)state;
  (void)why;
  (void)why_len;
  return 0;
}

static int check_sink_close(void *state, char *why, size_t why_len) {
  (void)state;
  (void)why;
  (void)why_len;
  return 0;
}

static void print_diagnostic(const char *message, void *arg) {
  (void)arg;
  fprintf(stderr, "danescan check: %s\n", message);
}

int check_cmd_main(int argc, char **argv) {
  /* --json is check's own; the rest goes to the scan option parser. */
  char *args[CHECK_MAX_ARGS];
  int arg_count = 0;
  bool json = false;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && strcmp(argv[i], "--json") == 0) {
      json = true;
      continue;
    }
    if (arg_count >= CHECK_MAX_ARGS - 1) {
      fprintf(stderr, "danescan check: too many arguments\n");
      return 2;
    }
    args[arg_count++] = argv[i];
  }
  args[arg_count] = NULL;

  struct scan_options options;
  char why[512] = "";
  int parsed = scan_options_parse(&options, arg_count, args, why, sizeof why);
  if (parsed > 0) {
    usage(stdout);
    return 0;
  }
  if (parsed == 0 && options.input_count != 1) {
    snprintf(why, sizeof why, "give exactly one domain");
    parsed = -1;
  }
  if (parsed == 0 && (options.db_url != NULL || options.resume || options.metadata != NULL ||
                      options.output_given || options.certs_path != NULL)) {
    snprintf(why, sizeof why, "--db, --resume, --metadata, --output and --certs are options of `scan`");
    parsed = -1;
  }
  if (parsed != 0) {
    fprintf(stderr, "danescan check: %s\n", why);
    usage(stderr);
    return 2;
  }
  options.scan.progress = false;
  options.scan.concurrency = 1;
  options.input.format = INPUT_FORMAT_LIST;
  options.input.diagnostic = print_diagnostic;

  const char *domain = options.inputs[0];
  size_t domain_len = strlen(domain);
  if (domain_len == 0 || strpbrk(domain, "\n\r") != NULL) {
    fprintf(stderr, "danescan check: '%s' is not a domain name\n", domain);
    return 2;
  }
  char *input_text = malloc(domain_len + 2);
  if (input_text == NULL) {
    fprintf(stderr, "danescan check: out of memory\n");
    return 1;
  }
  memcpy(input_text, domain, domain_len);
  input_text[domain_len] = '\n';
  input_text[domain_len + 1] = '\0';

  int exit_code = 1;
  struct check_sink state = {.json = json,
                             .scan_id = options.scan_id != NULL ? options.scan_id : "check",
                             .explain = {.now_unix = (int64_t)time(NULL),
                                         .smtp_port = options.probe_config.smtp_port}};
  struct result_sink sink = {.name = "check", .state = &state, .write = check_sink_write,
                             .flush = check_sink_flush, .close = check_sink_close};
  struct input_reader *input = NULL;
  struct scan *scan = NULL;
  struct scan_runtime runtime;
  int opened = scan_runtime_open(&runtime, &options, NULL, "check");
  if (opened != 0) {
    scan_options_free(&options);
    free(input_text);
    return opened;
  }
  input = input_reader_open_memory(input_text, domain_len + 1, "DOMAIN", &options.input, why, sizeof why);
  if (input == NULL) {
    fprintf(stderr, "danescan check: %s\n", why);
    exit_code = 2;
    goto out;
  }
  scan = scan_new(runtime.base, &options.scan, runtime.dns, runtime.hosts, input, &sink, 1);
  if (scan == NULL) {
    fprintf(stderr, "danescan check: out of memory\n");
    goto out;
  }
  int rc = scan_run(scan);
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  if (rc != 0 || state.records != 1 || state.text == NULL) {
    fprintf(stderr, "danescan check: the check did not finish%s%s\n", stats.error[0] ? ": " : "", stats.error);
    if (state.records == 0) {
      struct input_counts counts;
      input_reader_get_counts(input, &counts);
      if (counts.bad_lines > 0) exit_code = 2;
    }
    goto out;
  }
  fputs(state.text, stdout);
  if (fflush(stdout) != 0) {
    fprintf(stderr, "danescan check: cannot write the result\n");
    goto out;
  }
  exit_code = state.status == DOMAIN_DANE_VALID ? 0 : 1;

out:
  scan_free(scan);
  scan_runtime_close(&runtime, "check");
  input_reader_free(input);
  scan_options_free(&options);
  free(state.text);
  free(input_text);
  return exit_code;
}
