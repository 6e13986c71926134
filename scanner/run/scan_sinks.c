/* Sink selection for `scan`: JSON Lines (--output; standard output unless
 * --db is given without --output) and PostgreSQL (--db). With --resume the
 * database sink's committed input ordinals become the scan's skip hook. */
#include "run/scan_sinks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/jsonl.h"
#include "store/pg_sink.h"
#include "util/json.h"
#include "util/log.h"

char *scan_sinks_parameters_json(const struct scan_options *options) {
  struct json_buf buf;
  json_buf_init(&buf);
  json_object_begin(&buf);
  json_key(&buf, "probe_mode");
  json_string(&buf, options->probe_mode);
  json_key(&buf, "concurrency");
  json_uint(&buf, options->scan.concurrency);
  json_key(&buf, "islands");
  json_bool(&buf, options->scan.islands);
  json_key(&buf, "dnssec_hygiene");
  json_string(&buf, options->dnssec_hygiene);
  json_key(&buf, "mta_sts");
  json_bool(&buf, options->scan.mta_sts);
  json_key(&buf, "host_cache");
  json_uint(&buf, options->host_cache);
  json_key(&buf, "workers");
  json_uint(&buf, options->db_url != NULL ? options->workers : 0);
  json_key(&buf, "chunk_size");
  json_uint(&buf, options->chunk_size);
  if (options->probe_config.ehlo_name != NULL) {
    json_key(&buf, "ehlo_name");
    json_string(&buf, options->probe_config.ehlo_name);
  }
  if (options->contact != NULL) {
    json_key(&buf, "contact");
    json_string(&buf, options->contact);
  }
  json_object_end(&buf);
  json_raw(&buf, "", 1);
  if (json_buf_failed(&buf)) {
    json_buf_free(&buf);
    return NULL;
  }
  return buf.data;
}

int scan_sinks_open(const struct scan_options *options, const char *scan_id, int argc, char **argv,
                    struct input_reader *input, struct result_sink *sinks, size_t *count,
                    struct scan_config *scan_config, char *why, size_t why_len) {
  *count = 0;
  if (options->resume && options->db_url == NULL) {
    snprintf(why, why_len, "--resume needs --db (the progress of a scan is kept in the database)");
    return -1;
  }
  if (options->db_url == NULL || options->output_given) {
    if (jsonl_sink_open(&sinks[*count], options->output, scan_id, why, why_len) != 0) return -1;
    (*count)++;
  }
  if (options->db_url != NULL) {
    char *parameters = scan_sinks_parameters_json(options);
    struct pg_sink_config config = {
        .conninfo = options->db_url,
        .scan_id = scan_id,
        .resume = options->resume,
        .argc = argc,
        .argv = argv,
        .parameters_json = parameters,
        .input = input,
        .input_names = (const char *const *)options->inputs,
        .input_count = options->input_count,
        .log = stderr,
    };
    int rc = pg_sink_open(&sinks[*count], &config, why, why_len);
    free(parameters);
    if (rc != 0) {
      char ignored[64];
      for (size_t i = 0; i < *count; i++) sinks[i].close(sinks[i].state, ignored, sizeof ignored);
      *count = 0;
      return -1;
    }
    if (options->resume) {
      scan_config->skip_seq = pg_sink_skip_seq;
      scan_config->skip_ctx = sinks[*count].state;
      if (!options->quiet) {
        log_notice("resuming scan %s: %llu names already stored are skipped", scan_id,
                   (unsigned long long)pg_sink_committed_count(sinks[*count].state));
      }
    }
    (*count)++;
  }
  return 0;
}
