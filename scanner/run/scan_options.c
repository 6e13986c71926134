/* Option parsing for `scan`. Every number is range-checked: a typo must not
 * turn into a scan with a silly concurrency. */
#include "run/scan_options.h"

#include "queue/queue_db.h"
#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  OPT_RESOLVER = 1000,
  OPT_INSECURE_OK,
  OPT_CHECK_SIGNED,
  OPT_CHECK_BOGUS,
  OPT_QUERY_TIMEOUT,
  OPT_ATTEMPTS,
  OPT_MAX_QUERIES,
  OPT_ISLANDS,
  OPT_NS_LOOKUP,
  OPT_DNSSEC_HYGIENE,
  OPT_CONCURRENCY,
  OPT_HOST_CACHE,
  OPT_PROBE,
  OPT_SCAN_ID,
  OPT_INPUT_FORMAT,
  OPT_SHARD,
  OPT_SAMPLE,
  OPT_LIMIT,
  OPT_OUTPUT,
  OPT_METADATA,
  OPT_PROGRESS,
  OPT_NO_PROGRESS,
  OPT_QUIET,
  OPT_VERBOSE,
  OPT_DB,
  OPT_RESUME,
  OPT_ORIGIN,
  OPT_DEDUP_MEMORY,
  OPT_ALLOW_RESERVED,
  OPT_SMTP_PORT,
  OPT_EHLO,
  OPT_CONTACT,
  OPT_METRICS_FILE,
  OPT_RATE,
  OPT_PER_IP,
  OPT_PER_IP_GAP,
  OPT_BLOCKLIST,
  OPT_CONNECT_TIMEOUT,
  OPT_GREETING_TIMEOUT,
  OPT_EHLO_TIMEOUT,
  OPT_STARTTLS_TIMEOUT,
  OPT_HANDSHAKE_TIMEOUT,
  OPT_MAX_PROBES,
  OPT_EXPIRY_WARN,
  OPT_CERTS,
  OPT_NO_KEY_TYPES,
  OPT_PER_IP_GIVE_UP,
  OPT_PROBE_RETRY_DELAY,
  OPT_NO_PROBE_RETRY,
  OPT_WORKERS,
  OPT_CHUNK_SIZE,
  OPT_LEASE_TTL,
  OPT_WORKER_PROCESS,
  OPT_WORKER_ID,
  OPT_JOIN,
  OPT_MTA_STS,
  OPT_CA_FILE,
  OPT_HELP,
};

static const struct option long_options[] = {
    {"resolver", required_argument, NULL, OPT_RESOLVER},
    {"insecure-resolver-ok", no_argument, NULL, OPT_INSECURE_OK},
    {"check-signed-name", required_argument, NULL, OPT_CHECK_SIGNED},
    {"check-bogus-name", required_argument, NULL, OPT_CHECK_BOGUS},
    {"query-timeout-ms", required_argument, NULL, OPT_QUERY_TIMEOUT},
    {"attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"max-queries", required_argument, NULL, OPT_MAX_QUERIES},
    {"islands", no_argument, NULL, OPT_ISLANDS},
    {"ns-lookup", no_argument, NULL, OPT_NS_LOOKUP},
    {"dnssec-hygiene", required_argument, NULL, OPT_DNSSEC_HYGIENE},
    {"mta-sts", no_argument, NULL, OPT_MTA_STS},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"host-cache", required_argument, NULL, OPT_HOST_CACHE},
    {"probe", required_argument, NULL, OPT_PROBE},
    {"scan-id", required_argument, NULL, OPT_SCAN_ID},
    {"input-format", required_argument, NULL, OPT_INPUT_FORMAT},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"metadata", required_argument, NULL, OPT_METADATA},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"db", required_argument, NULL, OPT_DB},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"dedup-memory", required_argument, NULL, OPT_DEDUP_MEMORY},
    {"allow-reserved", no_argument, NULL, OPT_ALLOW_RESERVED},
    {"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
    {"ehlo", required_argument, NULL, OPT_EHLO},
    {"ehlo-name", required_argument, NULL, OPT_EHLO},
    {"contact", required_argument, NULL, OPT_CONTACT},
    {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"per-ip", required_argument, NULL, OPT_PER_IP},
    {"per-ip-gap-ms", required_argument, NULL, OPT_PER_IP_GAP},
    {"blocklist", required_argument, NULL, OPT_BLOCKLIST},
    {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"greeting-timeout-ms", required_argument, NULL, OPT_GREETING_TIMEOUT},
    {"ehlo-timeout-ms", required_argument, NULL, OPT_EHLO_TIMEOUT},
    {"starttls-timeout-ms", required_argument, NULL, OPT_STARTTLS_TIMEOUT},
    {"handshake-timeout-ms", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
    {"max-probes", required_argument, NULL, OPT_MAX_PROBES},
    {"expiry-warn-days", required_argument, NULL, OPT_EXPIRY_WARN},
    {"certs", required_argument, NULL, OPT_CERTS},
    {"no-key-types", no_argument, NULL, OPT_NO_KEY_TYPES},
    {"per-ip-give-up", required_argument, NULL, OPT_PER_IP_GIVE_UP},
    {"probe-retry-delay-ms", required_argument, NULL, OPT_PROBE_RETRY_DELAY},
    {"no-probe-retry", no_argument, NULL, OPT_NO_PROBE_RETRY},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
    {"lease-ttl-s", required_argument, NULL, OPT_LEASE_TTL},
    {"worker-process", no_argument, NULL, OPT_WORKER_PROCESS},
    {"worker-id", required_argument, NULL, OPT_WORKER_ID},
    {"join", no_argument, NULL, OPT_JOIN},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int parse_unsigned(const char *text, const char *option, unsigned long long min, unsigned long long max,
                          unsigned long long *out, char *why, size_t why_len) {
  char *end = NULL;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < min || value > max) {
    snprintf(why, why_len, "%s: '%s' is not a number from %llu to %llu", option, text, min, max);
    return -1;
  }
  *out = value;
  return 0;
}

int scan_options_parse(struct scan_options *options, int argc, char **argv, char *why, size_t why_len) {
  memset(options, 0, sizeof *options);
  dns_client_config_defaults(&options->dns);
  resolver_check_config_defaults(&options->check);
  input_options_defaults(&options->input);
  scan_config_defaults(&options->scan);
  options->scan.progress = isatty(STDERR_FILENO);
  options->host_cache = 50000; /* about 0.75 KB each without probes: ~40 MB */
  options->probe_mode = "dane";
  options->dnssec_hygiene = "dane";
  options->probe = PROBE_MODE_DANE;
  probe_config_defaults(&options->probe_config);
  options->output = "-";
  bool progress_set = false;
  unsigned long long value;

  optind = 1;
  opterr = 0;
  int option;
  while ((option = getopt_long(argc, argv, "v", long_options, NULL)) != -1) {
    switch (option) {
    case OPT_RESOLVER:
      if (dns_client_config_add_resolver(&options->dns, optarg, why, why_len) != 0) return -1;
      break;
    case OPT_INSECURE_OK:
      options->insecure_resolver_ok = true;
      break;
    case OPT_CHECK_SIGNED:
      options->check.signed_name = optarg;
      break;
    case OPT_CHECK_BOGUS:
      options->check.bogus_name = optarg;
      break;
    case OPT_QUERY_TIMEOUT:
      if (parse_unsigned(optarg, "--query-timeout-ms", 50, 60000, &value, why, why_len) != 0) return -1;
      options->dns.query_timeout_ms = (uint32_t)value;
      if (options->dns.max_query_timeout_ms < value) options->dns.max_query_timeout_ms = (uint32_t)value;
      break;
    case OPT_ATTEMPTS:
      if (parse_unsigned(optarg, "--attempts", 1, 20, &value, why, why_len) != 0) return -1;
      options->dns.max_attempts = (unsigned)value;
      break;
    case OPT_MAX_QUERIES:
      if (parse_unsigned(optarg, "--max-queries", 1, 1000000, &value, why, why_len) != 0) return -1;
      options->dns.max_inflight = (unsigned)value;
      if (options->dns.initial_inflight > value) options->dns.initial_inflight = (unsigned)value;
      break;
    case OPT_ISLANDS:
      options->scan.islands = true;
      break;
    case OPT_NS_LOOKUP:
      options->scan.ns_lookup = true;
      break;
    case OPT_DNSSEC_HYGIENE:
      if (strcmp(optarg, "dane") != 0 && strcmp(optarg, "all") != 0 && strcmp(optarg, "none") != 0) {
        snprintf(why, why_len, "--dnssec-hygiene: expected dane, all or none, got \"%s\"", optarg);
        return -1;
      }
      options->dnssec_hygiene = optarg;
      break;
    case OPT_MTA_STS:
      options->scan.mta_sts = true;
      break;
    case OPT_CA_FILE: /* one WebPKI store: MTA-STS (fetch, MX pkix) and ta-public-intermediate */
      options->probe_config.pkix_ca_file = optarg;
      options->ca_file = optarg;
      break;
    case OPT_CONCURRENCY:
      if (parse_unsigned(optarg, "--concurrency", 1, 1000000, &value, why, why_len) != 0) return -1;
      options->scan.concurrency = (unsigned)value;
      break;
    case OPT_HOST_CACHE:
      if (parse_unsigned(optarg, "--host-cache", 1, 100000000, &value, why, why_len) != 0) return -1;
      options->host_cache = (size_t)value;
      break;
    case OPT_PROBE:
      if (probe_mode_parse(optarg, &options->probe) != 0) {
        snprintf(why, why_len, "--probe: '%s' is not one of none, dane, all", optarg);
        return -1;
      }
      options->probe_mode = optarg;
      options->probe_given = true;
      break;
    case OPT_SCAN_ID:
      if (strlen(optarg) == 0 || strlen(optarg) > 60) {
        snprintf(why, why_len, "--scan-id: must be 1 to 60 characters");
        return -1;
      }
      options->scan_id = optarg;
      break;
    case OPT_INPUT_FORMAT:
      if (strcmp(optarg, "zone") == 0) options->input.format = INPUT_FORMAT_ZONE;
      else if (strcmp(optarg, "list") == 0) options->input.format = INPUT_FORMAT_LIST;
      else if (strcmp(optarg, "csv") == 0) options->input.format = INPUT_FORMAT_CSV;
      else {
        snprintf(why, why_len, "--input-format: '%s' is not one of zone, list, csv", optarg);
        return -1;
      }
      break;
    case OPT_SHARD: {
      unsigned index = 0, count = 0;
      char extra;
      if (sscanf(optarg, "%u/%u%c", &index, &count, &extra) != 2 || count == 0 || index >= count) {
        snprintf(why, why_len, "--shard: '%s' is not I/N with 0 <= I < N", optarg);
        return -1;
      }
      options->input.shard_index = index;
      options->input.shard_count = count;
      break;
    }
    case OPT_SAMPLE: {
      char *end = NULL;
      double fraction = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(fraction > 0.0 && fraction <= 1.0)) {
        snprintf(why, why_len, "--sample: '%s' is not a fraction in (0, 1]", optarg);
        return -1;
      }
      options->input.sample_fraction = fraction;
      break;
    }
    case OPT_LIMIT:
      if (parse_unsigned(optarg, "--limit", 1, UINT64_MAX, &value, why, why_len) != 0) return -1;
      options->input.limit = value;
      break;
    case OPT_OUTPUT:
      options->output = optarg;
      options->output_given = true;
      break;
    case OPT_DB:
      options->db_url = optarg;
      break;
    case OPT_RESUME:
      options->resume = true;
      break;
    case OPT_ORIGIN:
      options->input.zone_origin = optarg;
      break;
    case OPT_DEDUP_MEMORY:
      if (parse_unsigned(optarg, "--dedup-memory", 1, 1u << 20, &value, why, why_len) != 0) return -1;
      options->input.dedup_memory_bytes = (size_t)value << 20;
      break;
    case OPT_METADATA:
      options->metadata = optarg;
      break;
    case OPT_PROGRESS:
      options->scan.progress = true;
      progress_set = true;
      break;
    case OPT_NO_PROGRESS:
      options->scan.progress = false;
      progress_set = true;
      break;
    case OPT_QUIET:
      options->quiet = true;
      if (!progress_set) options->scan.progress = false;
      break;
    case 'v':
    case OPT_VERBOSE:
      options->verbose++;
      break;
    case OPT_ALLOW_RESERVED:
      options->probe_config.allow_reserved = true;
      break;
    case OPT_SMTP_PORT:
      if (parse_unsigned(optarg, "--smtp-port", 1, 65535, &value, why, why_len) != 0) return -1;
      options->probe_config.smtp_port = (uint16_t)value;
      break;
    case OPT_EHLO:
      options->probe_config.ehlo_name = optarg;
      break;
    case OPT_METRICS_FILE:
      options->metrics_file = optarg;
      break;
    case OPT_CONTACT:
      /* The page that explains the scan and offers the opt-out: recorded
       * with the scan (its parameters), for whoever reads them. */
      if ((strncmp(optarg, "https://", 8) != 0 && strncmp(optarg, "http://", 7) != 0) ||
          strpbrk(optarg, " \t\r\n\"") != NULL) {
        snprintf(why, why_len, "--contact: '%s' is not an http(s) URL", optarg);
        return -1;
      }
      options->contact = optarg;
      break;
    case OPT_RATE: {
      char *end = NULL;
      double rate = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(rate > 0.0 && rate <= 1e6)) {
        snprintf(why, why_len, "--rate: '%s' is not a rate in (0, 1000000] connections/s", optarg);
        return -1;
      }
      options->probe_config.rate_per_second = rate;
      break;
    }
    case OPT_PER_IP:
      if (parse_unsigned(optarg, "--per-ip", 1, 1000, &value, why, why_len) != 0) return -1;
      options->probe_config.per_ip = (unsigned)value;
      break;
    case OPT_PER_IP_GAP:
      if (parse_unsigned(optarg, "--per-ip-gap-ms", 0, 3600000, &value, why, why_len) != 0) return -1;
      options->probe_config.per_ip_gap_ms = (uint32_t)value;
      break;
    case OPT_BLOCKLIST:
      options->blocklist = optarg;
      break;
    case OPT_CONNECT_TIMEOUT:
    case OPT_GREETING_TIMEOUT:
    case OPT_EHLO_TIMEOUT:
    case OPT_STARTTLS_TIMEOUT:
    case OPT_HANDSHAKE_TIMEOUT: {
      if (parse_unsigned(optarg, argv[optind - 1], 10, 600000, &value, why, why_len) != 0) return -1;
      uint32_t ms = (uint32_t)value;
      if (option == OPT_CONNECT_TIMEOUT) options->probe_config.connect_timeout_ms = ms;
      if (option == OPT_GREETING_TIMEOUT) options->probe_config.greeting_timeout_ms = ms;
      if (option == OPT_EHLO_TIMEOUT) options->probe_config.ehlo_timeout_ms = ms;
      if (option == OPT_STARTTLS_TIMEOUT) options->probe_config.starttls_timeout_ms = ms;
      if (option == OPT_HANDSHAKE_TIMEOUT) options->probe_config.handshake_timeout_ms = ms;
      break;
    }
    case OPT_MAX_PROBES:
      if (parse_unsigned(optarg, "--max-probes", 1, 100000, &value, why, why_len) != 0) return -1;
      options->probe_config.max_concurrent = (unsigned)value;
      break;
    case OPT_EXPIRY_WARN:
      if (parse_unsigned(optarg, "--expiry-warn-days", 0, 3650, &value, why, why_len) != 0) return -1;
      options->probe_config.expiry_warn_days = (unsigned)value;
      break;
    case OPT_CERTS:
      options->certs_path = optarg;
      break;
    case OPT_NO_KEY_TYPES:
      options->probe_config.probe_each_key_type = false;
      break;
    case OPT_PER_IP_GIVE_UP:
      if (parse_unsigned(optarg, "--per-ip-give-up", 0, 1000000, &value, why, why_len) != 0) return -1;
      options->probe_config.per_ip_give_up = (unsigned)value;
      break;
    case OPT_PROBE_RETRY_DELAY:
      if (parse_unsigned(optarg, "--probe-retry-delay-ms", 0, 3600000, &value, why, why_len) != 0) return -1;
      options->probe_config.retry_delay_ms = (uint32_t)value;
      break;
    case OPT_NO_PROBE_RETRY:
      options->probe_config.retry_transient = false;
      break;
    case OPT_WORKERS:
      if (parse_unsigned(optarg, "--workers", 0, 1024, &value, why, why_len) != 0) return -1;
      options->workers = (unsigned)value;
      options->workers_given = true;
      break;
    case OPT_CHUNK_SIZE:
      if (parse_unsigned(optarg, "--chunk-size", 1, 1000000, &value, why, why_len) != 0) return -1;
      options->chunk_size = (uint32_t)value;
      break;
    case OPT_LEASE_TTL:
      if (parse_unsigned(optarg, "--lease-ttl-s", 2, 86400, &value, why, why_len) != 0) return -1;
      options->lease_ttl_ms = (uint32_t)value * 1000;
      break;
    case OPT_WORKER_PROCESS:
      options->worker_process = true;
      break;
    case OPT_WORKER_ID:
      if (strlen(optarg) == 0 || strlen(optarg) > 200) {
        snprintf(why, why_len, "--worker-id: must be 1 to 200 characters");
        return -1;
      }
      options->worker_id = optarg;
      break;
    case OPT_JOIN:
      options->join = true;
      break;
    case OPT_HELP:
      return 1;
    default:
      snprintf(why, why_len, "unknown or incomplete option '%s'", argv[optind - 1]);
      return -1;
    }
  }
  if (options->dns.resolver_count == 0 &&
      dns_client_config_add_resolver(&options->dns, "127.0.0.1", why, why_len) != 0) {
    return -1;
  }
  bool queue_member = options->worker_process || options->join; /* the queue holds the input */
  if (queue_member && (options->scan_id == NULL || options->db_url == NULL)) {
    snprintf(why, why_len, "a worker needs --scan-id and --db (use `danescan worker --db URL --scan ID`)");
    return -1;
  }
  if (optind >= argc && !queue_member) {
    snprintf(why, why_len, "no input given (a file, or '-' for standard input)");
    return -1;
  }
  if (options->chunk_size == 0) options->chunk_size = QUEUE_DEFAULT_CHUNK_DOMAINS;
  if (options->lease_ttl_ms == 0) options->lease_ttl_ms = QUEUE_DEFAULT_LEASE_TTL_MS;
  if (!options->workers_given) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    options->workers = cores > 0 ? (unsigned)cores : 1;
  }
  if (options->resume && (options->scan_id == NULL || options->db_url == NULL)) {
    snprintf(why, why_len, "--resume needs --scan-id and --db (use `danescan resume SCAN_ID`)");
    return -1;
  }
  options->inputs = argv + optind;
  options->input_count = (size_t)(argc - optind);
  scan_options_settle_probe(options);
  log_set_verbosity(options->verbose, options->quiet);
  return 0;
}

void scan_options_settle_probe(struct scan_options *options) {
  if (options->scan.mta_sts && options->probe == PROBE_MODE_DANE && !options->probe_given) {
    options->probe = PROBE_MODE_ALL;
    options->probe_mode = "all";
  }
}

void scan_options_free(struct scan_options *options) {
  (void)options;
}
