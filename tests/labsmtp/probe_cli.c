/* danescan-probe: drives the probe engine from the command line for the
 * integration tests and the benchmark. Prints one line of key=value pairs
 * per report on stdout and a summary (probes/s, CPU, peak RSS) on stderr.
 *
 * Usage: danescan-probe [options] ADDRESS...
 *   --port N  --host NAME  --tlsa-base NAME  --ref NAME...  --tlsa "U S M HEX"...
 *   --allow-reserved  --ehlo NAME  --timeout-ms N (every step)  --greeting-timeout-ms N
 *   --connect-timeout-ms N  --ehlo-timeout-ms N  --starttls-timeout-ms N
 *   --handshake-timeout-ms N  --quit-timeout-ms N  (after --timeout-ms, which sets them all)
 *   --deadline-ms N  --no-key-types  --rate R  --burst N  --per-ip N  --gap-ms N
 *   --backoff-max-ms N  --max-concurrent N  --blocklist FILE  --max-line N
 *   --max-total N  --max-lines N  --repeat N  --quiet
 *   --pkix (the MTA-STS WebPKI check of the session for --host; prints
 *   pkix= and pkix_reason=)  --ca-file FILE (its trust store)
 *   --retry-delay-ms N (a second session after a transient failure, N ms
 *   later; without it every probe is one session, as --gap-ms and --rate
 *   default to none: the tests ask for each policy they check)
 * Test tool: exits 2 on bad arguments. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "record/status.h"
#include "record/tlsa.h"
#include "probe/probe.h"

#define MAX_ITEMS 64

struct run {
  bool quiet;
  size_t done;
  size_t results[PROBE_RESULT_COUNT];
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_hex(const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) printf("%02x", data[i]);
}

static void print_key_type(const char *label, const struct probe_key_type_result *k) {
  if (!k->probed) {
    printf(" %s=unprobed", label);
  } else if (!k->present) {
    printf(" %s=absent", label);
  } else {
    printf(" %s=%s:%d:%d", label, probe_result_name(k->result), k->matched_tlsa_index, k->match_depth);
  }
}

static void on_done(const struct probe_report *r, void *arg) {
  struct run *run = arg;
  run->done++;
  if ((unsigned)r->result < PROBE_RESULT_COUNT) run->results[r->result]++;
  if (run->quiet) return;
  printf("address=%s result=%s tlsrpt=%s step=%s code=%d index=%d depth=%d", r->address_text,
         probe_result_name(r->result), tlsrpt_result_name(r->tlsrpt), probe_step_name(r->last_step), r->smtp_code,
         r->matched_tlsa_index, r->match_depth);
  printf(" tls=%d version=%s cipher=%s group=%s sigalg=%s key=%s", r->tls_up, r->tls_version[0] ? r->tls_version : "-",
         r->tls_cipher[0] ? r->tls_cipher : "-", r->tls_group[0] ? r->tls_group : "-",
         r->peer_signature_algorithm[0] ? r->peer_signature_algorithm : "-",
         r->leaf_key_type[0] ? r->leaf_key_type : "-");
  printf(" expires_soon=%d chain=%zu chain_sent=%zu leaf_sha256=", r->expires_soon, r->chain_count, r->chain_sent);
  if (r->chain_count > 0) print_hex(r->chain[0].sha256, 32);
  else printf("-");
  printf(" starttls=%d keywords=%zu banner_len=%zu", r->starttls_offered, r->ehlo_keyword_count, r->banner_len);
  print_key_type("rsa", &r->key_types[PROBE_KEY_RSA]);
  print_key_type("ecdsa", &r->key_types[PROBE_KEY_ECDSA]);
  printf(" partial=%d ms=%d/%d/%d/%d/%d attempts=%u", r->partial_algorithm_coverage, r->connect_ms, r->banner_ms,
         r->ehlo_ms, r->starttls_ms, r->handshake_ms, r->attempts);
  if (r->attempts > 1) {
    printf(" first=%s@%s first_ms=%d pause_ms=%d first_reason=\"%s\"", probe_result_name(r->first.result),
           probe_step_name(r->first.step), r->first.elapsed_ms, r->first.pause_ms, r->first_reason);
  }
  if (r->pkix != PROBE_PKIX_NOT_CHECKED)
    printf(" pkix=%s pkix_reason=\"%s\"", probe_pkix_name(r->pkix), r->pkix_reason);
  printf(" reason=\"%s\"\n", r->reason);
  fflush(stdout);
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int parse_tlsa(const char *text, struct tlsa_record *record) {
  unsigned usage, selector, mtype;
  int offset = 0;
  memset(record, 0, sizeof *record);
  if (sscanf(text, "%u %u %u %n", &usage, &selector, &mtype, &offset) != 3 || offset == 0) return -1;
  const char *hex = text + offset;
  size_t len = strlen(hex);
  if (len % 2 != 0 || len / 2 > TLSA_DATA_MAX_BYTES) return -1;
  record->usage = (uint8_t)usage;
  record->selector = (uint8_t)selector;
  record->matching_type = (uint8_t)mtype;
  record->data_len = (uint16_t)(len / 2);
  record->data = malloc(len / 2 + 1);
  for (size_t i = 0; i < len / 2; i++) {
    int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return -1;
    record->data[i] = (uint8_t)(high * 16 + low);
  }
  tlsa_record_classify(record);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: danescan-probe [options] ADDRESS... (see the file header)\n");
  exit(2);
}

int main(int argc, char **argv) {
  struct probe_config config;
  probe_config_defaults(&config);
  config.rate_per_second = 0; /* unlimited unless --rate */
  config.per_ip_gap_ms = 0;
  config.retry_transient = false; /* unless --retry-delay-ms */
  const char *host = "mx.lab.example", *tlsa_base = NULL, *blocklist = NULL;
  const char *refs[MAX_ITEMS];
  size_t ref_count = 0;
  struct tlsa_record tlsa[MAX_ITEMS];
  size_t tlsa_count = 0;
  const char *addresses[MAX_ITEMS];
  size_t address_count = 0;
  unsigned repeat = 1;
  bool pkix = false;
  struct run run = {0};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      if (address_count < MAX_ITEMS) addresses[address_count++] = arg;
      continue;
    }
    if (strcmp(arg, "--allow-reserved") == 0) {
      config.allow_reserved = true;
      continue;
    }
    if (strcmp(arg, "--no-key-types") == 0) {
      config.probe_each_key_type = false;
      continue;
    }
    if (strcmp(arg, "--pkix") == 0) {
      pkix = true;
      continue;
    }
    if (strcmp(arg, "--quiet") == 0) {
      run.quiet = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    unsigned long number = strtoul(value, NULL, 10);
    if (strcmp(arg, "--port") == 0) config.smtp_port = (uint16_t)number;
    else if (strcmp(arg, "--host") == 0) host = value;
    else if (strcmp(arg, "--tlsa-base") == 0) tlsa_base = value;
    else if (strcmp(arg, "--ref") == 0 && ref_count < MAX_ITEMS) refs[ref_count++] = value;
    else if (strcmp(arg, "--tlsa") == 0 && tlsa_count < MAX_ITEMS) {
      if (parse_tlsa(value, &tlsa[tlsa_count++]) != 0) usage();
    } else if (strcmp(arg, "--ehlo") == 0) config.ehlo_name = value;
    else if (strcmp(arg, "--timeout-ms") == 0) {
      config.connect_timeout_ms = config.greeting_timeout_ms = config.ehlo_timeout_ms = config.starttls_timeout_ms =
          config.handshake_timeout_ms = config.quit_timeout_ms = (uint32_t)number;
    } else if (strcmp(arg, "--greeting-timeout-ms") == 0) config.greeting_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--connect-timeout-ms") == 0) config.connect_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--ehlo-timeout-ms") == 0) config.ehlo_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--starttls-timeout-ms") == 0) config.starttls_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--handshake-timeout-ms") == 0) config.handshake_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--quit-timeout-ms") == 0) config.quit_timeout_ms = (uint32_t)number;
    else if (strcmp(arg, "--deadline-ms") == 0) config.session_deadline_ms = (uint32_t)number;
    else if (strcmp(arg, "--rate") == 0) config.rate_per_second = strtod(value, NULL);
    else if (strcmp(arg, "--burst") == 0) config.rate_burst = (unsigned)number;
    else if (strcmp(arg, "--per-ip") == 0) config.per_ip = (unsigned)number;
    else if (strcmp(arg, "--gap-ms") == 0) config.per_ip_gap_ms = (uint32_t)number;
    else if (strcmp(arg, "--backoff-max-ms") == 0) config.per_ip_backoff_max_ms = (uint32_t)number;
    else if (strcmp(arg, "--give-up") == 0) config.per_ip_give_up = (unsigned)number;
    else if (strcmp(arg, "--retry-delay-ms") == 0) {
      config.retry_transient = true;
      config.retry_delay_ms = (uint32_t)number;
    } else if (strcmp(arg, "--max-concurrent") == 0) config.max_concurrent = (unsigned)number;
    else if (strcmp(arg, "--blocklist") == 0) blocklist = value;
    else if (strcmp(arg, "--max-line") == 0) config.max_reply_line_bytes = number;
    else if (strcmp(arg, "--max-total") == 0) config.max_reply_total_bytes = number;
    else if (strcmp(arg, "--max-lines") == 0) config.max_reply_lines = (unsigned)number;
    else if (strcmp(arg, "--repeat") == 0) repeat = (unsigned)number;
    else if (strcmp(arg, "--ca-file") == 0) config.pkix_ca_file = value;
    else usage();
  }
  if (address_count == 0) usage();
  signal(SIGPIPE, SIG_IGN); /* probe.h: the process must ignore SIGPIPE */
  struct event_base *base = event_base_new();
  char why[512];
  struct probe_engine *engine = probe_engine_new(base, &config, why, sizeof why);
  if (engine == NULL) {
    fprintf(stderr, "danescan-probe: %s\n", why);
    return 1;
  }
  if (blocklist != NULL && probe_engine_load_blocklist(engine, blocklist, why, sizeof why) != 0) {
    fprintf(stderr, "danescan-probe: %s\n", why);
    return 1;
  }
  struct probe_request request;
  memset(&request, 0, sizeof request);
  request.host_name = host;
  request.tlsa_base = tlsa_base;
  request.reference_names = refs;
  request.reference_count = ref_count;
  request.tlsa = tlsa;
  request.tlsa_count = tlsa_count;
  request.pkix = pkix;
  double start = now_seconds();
  size_t submitted = 0;
  for (unsigned r = 0; r < repeat; r++) {
    for (size_t i = 0; i < address_count; i++) {
      memset(&request.address, 0, sizeof request.address);
      struct sockaddr_in *in = (struct sockaddr_in *)&request.address;
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&request.address;
      if (inet_pton(AF_INET, addresses[i], &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        request.address_len = sizeof *in;
      } else if (inet_pton(AF_INET6, addresses[i], &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        request.address_len = sizeof *in6;
      } else {
        fprintf(stderr, "danescan-probe: bad address %s\n", addresses[i]);
        return 2;
      }
      if (probe_engine_submit(engine, &request, on_done, &run) != 0) {
        fprintf(stderr, "danescan-probe: submit failed\n");
        return 1;
      }
      submitted++;
    }
  }
  event_base_dispatch(base);
  double elapsed = now_seconds() - start;
  struct probe_stats stats;
  probe_engine_get_stats(engine, &stats);
  struct rusage usage_self;
  getrusage(RUSAGE_SELF, &usage_self);
  double cpu = (double)usage_self.ru_utime.tv_sec + usage_self.ru_utime.tv_usec / 1e6 +
      (double)usage_self.ru_stime.tv_sec + usage_self.ru_stime.tv_usec / 1e6;
  fprintf(stderr,
          "summary probes=%zu done=%zu connections=%llu elapsed_s=%.3f probes_per_s=%.1f "
          "cpu_s=%.3f cpu_ms_per_probe=%.3f maxrss_kb=%ld",
          submitted, run.done, (unsigned long long)stats.connections, elapsed,
          elapsed > 0 ? (double)run.done / elapsed : 0.0, cpu, run.done > 0 ? cpu * 1000.0 / (double)run.done : 0.0,
          usage_self.ru_maxrss);
  for (int i = 0; i < PROBE_RESULT_COUNT; i++) {
    if (run.results[i] > 0) fprintf(stderr, " %s=%zu", probe_result_name((enum probe_result)i), run.results[i]);
  }
  fputc('\n', stderr);
  probe_engine_free(engine);
  event_base_free(base);
  for (size_t i = 0; i < tlsa_count; i++) tlsa_record_clear(&tlsa[i]);
  return run.done == submitted ? 0 : 1;
}
