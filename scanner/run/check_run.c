/* What `danescan check DOMAIN` runs once its options are parsed (see
 * check_run.h): the scan pipeline over an in-memory input of one name,
 * wired by run/scan_runtime.h like a scan's, into a sink that keeps the one
 * record's explanation (report/explain.h) or JSON (store/jsonl.h). */
#include "run/check_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "input/input.h"
#include "pipeline/scan.h"
#include "record/provider.h"
#include "report/explain.h"
#include "run/scan_runtime.h"
#include "store/jsonl.h"
#include "util/json.h"
#include "util/log.h"

/* The sink: turns the one record into text while it is valid. */
struct check_sink {
  bool json;
  const char *scan_id;
  struct explain_options explain;
  struct provider_list *providers; /* --ns-lookup without --json: explain.providers */
  char *text;                      /* malloc'd, NULL until written */
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
  log_warning("%s", message);
}

int run_check(struct scan_options *options, bool json) {
  char why[512] = "";
  options->scan.progress = false;
  options->scan.concurrency = 1;
  options->input.format = INPUT_FORMAT_LIST;
  options->input.diagnostic = print_diagnostic;

  const char *domain = options->inputs[0];
  size_t domain_len = strlen(domain);
  if (domain_len == 0 || strpbrk(domain, "\n\r") != NULL) {
    log_error("'%s' is not a domain name", domain);
    return 2;
  }
  char *input_text = malloc(domain_len + 2);
  if (input_text == NULL) {
    log_error("out of memory");
    return 1;
  }
  memcpy(input_text, domain, domain_len);
  input_text[domain_len] = '\n';
  input_text[domain_len + 1] = '\0';

  int exit_code = 1;
  struct check_sink state = {
      .json = json,
      .scan_id = options->scan_id != NULL ? options->scan_id : "check",
      .explain = {.now_unix = (int64_t)time(NULL), .smtp_port = options->probe_config.smtp_port}};
  struct result_sink sink = {.name = "check",
                             .state = &state,
                             .write = check_sink_write,
                             .flush = check_sink_flush,
                             .close = check_sink_close};
  struct input_reader *input = NULL;
  struct scan *scan = NULL;
  struct scan_runtime runtime;
  /* --ns-lookup: the explanation names the NS targets' DNS operators (the
   * JSON has the scan's ns, ns_source and ns_lookup). */
  if (options->scan.ns_lookup && !json) {
    state.providers = provider_list_new();
    if (state.providers == NULL) {
      log_error("out of memory");
      free(input_text);
      return 1;
    }
    state.explain.providers = state.providers;
  }
  options->scan.mta_sts = true; /* MTA-STS.md: check always judges MTA-STS and TLS-RPT too */
  scan_options_settle_probe(options);
  int opened = scan_runtime_open(&runtime, options, NULL, "check");
  if (opened != 0) {
    provider_list_free(state.providers);
    free(input_text);
    return opened;
  }
  input = input_reader_open_memory(input_text, domain_len + 1, "DOMAIN", &options->input, why, sizeof why);
  if (input == NULL) {
    log_error("%s", why);
    exit_code = 2;
    goto out;
  }
  scan = scan_new(runtime.base, &runtime.scan, runtime.dns, runtime.hosts, input, &sink, 1);
  if (scan == NULL) {
    log_error("out of memory");
    goto out;
  }
  int rc = scan_run(scan);
  struct scan_stats stats;
  scan_get_stats(scan, &stats);
  if (rc != 0 || state.records != 1 || state.text == NULL) {
    log_error("the check did not finish%s%s", stats.error[0] ? ": " : "", stats.error);
    if (state.records == 0) {
      struct input_counts counts;
      input_reader_get_counts(input, &counts);
      if (counts.bad_lines > 0) exit_code = 2;
    }
    goto out;
  }
  fputs(state.text, stdout);
  if (fflush(stdout) != 0) {
    log_error("cannot write the result");
    goto out;
  }
  exit_code = state.status == DOMAIN_DANE_VALID ? 0 : 1;

out:
  scan_free(scan);
  scan_runtime_close(&runtime, "check");
  input_reader_free(input);
  provider_list_free(state.providers);
  free(state.text);
  free(input_text);
  return exit_code;
}
