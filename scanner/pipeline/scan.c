/* A domain's journey. Each admitted input name becomes a domain_task:
 *   1. invalid names are written at once as `invalid-name`, and names the
 *      blocklist opts out (config.opted_out) as `skipped`: no DNS query is
 *      ever sent for them, so nothing under them is contacted either;
 *   2. MX lookup; failed/bogus/NXDOMAIN/null MX end the journey here;
 *      no MX RRset means the implicit MX (the domain itself, preference 0);
 *   3. every distinct MX host is held from the host resolver (shared,
 *      resolved once per scan, probed there when the probe stage wants it);
 *   4. the DNSSEC hygiene of the zones that matter (a DANE domain's MX zone
 *      and its hosts' TLSA zones, found as the RRSIG signers of answers
 *      already there) is held from the zone cache (once per zone per scan);
 *      optionally (--islands) a DNSKEY lookup tells unsigned from signed
 *      without DS for insecure domains;
 *   5. the domain status is decided (rules.c), the record goes to every
 *      sink, the hosts are released and the task is freed.
 * With ns_lookup, a name whose input gave no NS targets also gets an NS
 * lookup, sent with its MX lookup (ns_lookup.h); step 5 waits for it.
 * With mta_sts, a domain with mail also runs sts_stage.c's lookups and
 * policy fetch beside step 3; its MTA-STS verdict is made when both are
 * back, before step 4.
 * Admission stops while `concurrency` tasks are in flight or a sink pushes
 * back, so memory does not grow with the input. */
#include "pipeline/scan.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/answer.h"
#include "pipeline/rules.h"
#include "util/log.h"
#include "record/zone_hygiene.h"

struct domain_task {
  struct scan *scan;
  struct domain_result result;
  unsigned pending; /* hosts or lookups still awaited */
  bool hosts_done;  /* every MX host is ready */
  bool sts_started; /* sts holds MTA-STS work (freed with the task) */
  bool sts_running; /* its lookups or fetch are still out */
  struct sts_domain sts;
  unsigned zones_pending; /* zone cache entries still awaited (plus a guard while holding) */
  char mx_zone[256];      /* signer of the secure MX RRset, "" when none */
  bool ns_pending;        /* the NS lookup (--ns-lookup) is still out */
  bool decided;           /* the journey is done: written as soon as ns_pending is not */
  struct timespec started;
  struct domain_task *next_free;
};

struct scan {
  struct event_base *base;
  struct scan_config config;
  struct dns_client *dns;
  struct host_resolver *hosts;
  struct input_reader *input; /* NULL with a source */
  bool has_source;
  struct scan_source source;
  bool source_waiting; /* the source said "not yet": wait for its wake */
  struct result_sink *sinks;
  size_t sink_count;
  struct scan_stats stats;
  bool input_done;
  bool stopping; /* no more admissions (signal or fatal error) */
  unsigned signals_seen;
  struct event *admit_event; /* deferred admission */
  struct event *tick_event;  /* progress, flush, backpressure recheck */
  struct event *sigint_event, *sigterm_event;
  struct domain_task *free_tasks;
  struct timespec started;
  struct timespec last_flush;
  struct timespec last_progress;
  uint64_t last_progress_done;
  uint64_t last_progress_queries;
  bool progress_line_shown;
};

static double seconds_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int64_t unix_ms_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void scan_config_defaults(struct scan_config *config) {
  memset(config, 0, sizeof *config);
  config->concurrency = 2000;
  config->progress_stream = stderr;
  config->progress_interval_ms = 1000;
  config->flush_interval_ms = 1000;
}

static void schedule_admission(struct scan *scan) {
  if (!scan->stopping && !scan->input_done && !scan->source_waiting) event_active(scan->admit_event, EV_TIMEOUT, 0);
}

static void on_source_wake(void *arg) {
  struct scan *scan = arg;
  scan->source_waiting = false;
  schedule_admission(scan);
}

/* The next name: 1, 0 at the end, 2 not yet (source only), -1 error. */
static int next_name(struct scan *scan, struct input_name *name, char *why, size_t why_len) {
  if (scan->has_source) return scan->source.next(scan->source.state, name, why, why_len);
  return input_reader_next(scan->input, name, why, why_len);
}

static void check_finished(struct scan *scan) {
  if ((scan->input_done || scan->stopping) && scan->stats.in_flight == 0) {
    event_base_loopbreak(scan->base);
  }
}

static void fatal(struct scan *scan, const char *message) {
  if (scan->stats.error[0] == '\0') {
    snprintf(scan->stats.error, sizeof scan->stats.error, "%s", message);
  }
  scan->stopping = true;
}

/* ---- finishing a domain ---- */

static void task_free(struct scan *scan, struct domain_task *task) {
  for (size_t i = 0; i < task->result.link_count; i++) {
    if (task->result.links[i].host != NULL) host_resolver_release(scan->hosts, task->result.links[i].host);
  }
  for (size_t i = 0; i < task->result.zone_count; i++)
    zone_cache_release(scan->config.zones, task->result.zones[i].zone);
  dns_fact_clear(&task->result.mx);
  dns_fact_clear(&task->result.dnskey);
  dns_fact_clear(&task->result.ns_lookup);
  if (task->sts_started) sts_domain_clear(&task->sts);
  task->next_free = scan->free_tasks;
  scan->free_tasks = task;
}

/* Decides the status and writes the record (the journey and the NS lookup are done). */
static void task_write(struct domain_task *task) {
  struct scan *scan = task->scan;
  struct domain_result *result = &task->result;
  result->status = rules_domain_status(result);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  result->elapsed_ms = (uint32_t)(seconds_between(&task->started, &now) * 1000.0);
  for (size_t i = 0; i < scan->sink_count; i++) {
    char why[512] = "";
    if (scan->sinks[i].write(scan->sinks[i].state, result, why, sizeof why) != 0) {
      scan->stats.sink_error = true;
      fatal(scan, why);
    }
  }
  scan->stats.domains_done++;
  scan->stats.by_status[result->status]++;
  scan->stats.mx_hosts_total += result->link_count;
  scan->stats.in_flight--;
  task_free(scan, task);
  schedule_admission(scan);
  check_finished(scan);
}

/* The end of the journey: written now, or when the NS lookup is back. */
static void task_finish(struct domain_task *task) {
  task->decided = true;
  if (!task->ns_pending) task_write(task);
}

static void on_ns(const struct dns_answer *answer, void *arg) {
  struct domain_task *task = arg;
  struct domain_result *result = &task->result;
  answer_fact(&result->ns_lookup, answer);
  if (answer->packet == NULL && answer->state != DNSSEC_BOGUS) result->ns_lookup.state = DNSSEC_FAILED;
  enum ns_lookup_outcome outcome = ns_lookup_read(answer, result->name, result->ns, sizeof result->ns);
  if (outcome == NS_LOOKUP_FOUND) result->ns_source = NS_SOURCE_LOOKUP;
  ns_lookup_count(task->scan->config.ns_stats, outcome);
  task->ns_pending = false;
  if (task->decided) task_write(task);
}

static void on_dnskey(const struct dns_answer *answer, void *arg) {
  struct domain_task *task = arg;
  answer_fact(&task->result.dnskey, answer);
  if (answer->state == DNSSEC_FAILED || answer->state == DNSSEC_BOGUS) {
    task->result.island = ISLAND_CHECK_FAILED;
  } else {
    bool has_dnskey = false;
    if (answer->packet != NULL && answer->rcode == LDNS_RCODE_NOERROR) {
      const ldns_rr_list *rrs = ldns_pkt_answer(answer->packet);
      for (size_t i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
        if (ldns_rr_get_type(ldns_rr_list_rr(rrs, i)) == LDNS_RR_TYPE_DNSKEY) has_dnskey = true;
      }
    }
    task->result.island = has_dnskey ? ISLAND_SIGNED_NO_DS : ISLAND_UNSIGNED;
  }
  task_finish(task);
}

/* The zones are back (or none was wanted): the optional island check, then the decision. */
static void zones_ready(struct domain_task *task) {
  struct scan *scan = task->scan;
  struct domain_result *result = &task->result;
  int64_t now = (int64_t)time(NULL);
  for (size_t i = 0; i < result->zone_count; i++) {
    struct domain_zone *zone = &result->zones[i];
    zone->flags = zone_hygiene_flags_at(zone->zone, zone->rrsig_expires, now, scan->config.hygiene_warn_days,
                                        &zone->rrsig_expires);
  }
  if (scan->config.islands && result->mx_dnssec == DNSSEC_INSECURE) {
    if (dns_lookup(scan->dns, result->name, LDNS_RR_TYPE_DNSKEY, -1, on_dnskey, task) == 0) return;
    result->island = ISLAND_CHECK_FAILED;
  }
  task_finish(task);
}

static void on_zone_ready(const struct zone_hygiene *zone, void *arg) {
  (void)zone;
  struct domain_task *task = arg;
  if (--task->zones_pending == 0) zones_ready(task);
}

static void earliest(int64_t *into, int64_t expires) {
  if (expires > 0 && (*into == 0 || expires < *into)) *into = expires;
}

/* Adds zone name to the domain's list (once), noting which RRsets of the
 * domain it signed and their earliest RRSIG expiration. */
static void want_zone(struct domain_task *task, char names[][256], const char *name, bool mx, int64_t expires) {
  struct domain_result *result = &task->result;
  size_t i = 0;
  while (i < result->zone_count && strcmp(names[i], name) != 0) i++;
  if (i == result->zone_count) {
    if (result->zone_count == RESULT_MAX_ZONES) return;
    snprintf(names[i], 256, "%s", name);
    memset(&result->zones[i], 0, sizeof result->zones[i]);
    result->zone_count++;
  }
  if (mx) result->zones[i].mx = true;
  else result->zones[i].tlsa = true;
  earliest(&result->zones[i].rrsig_expires, expires);
}

/* Holds the zones that matter to the domain (scan_config.zones says which). */
static void hold_zones(struct domain_task *task) {
  struct scan *scan = task->scan;
  struct domain_result *result = &task->result;
  result->zone_count = 0;
  if (scan->config.zones == NULL) {
    zones_ready(task);
    return;
  }
  char names[RESULT_MAX_ZONES][256];
  bool dane = false;
  for (size_t i = 0; i < result->link_count; i++) {
    if (result->links[i].host != NULL && result->links[i].host->tlsa_zone != NULL) dane = true;
  }
  if ((dane || scan->config.hygiene_all) && task->mx_zone[0] != '\0') {
    want_zone(task, names, task->mx_zone, true, result->mx_rrsig_expires);
  }
  for (size_t i = 0; dane && i < result->link_count; i++) {
    const struct mx_host *host = result->links[i].host;
    if (host != NULL && host->tlsa_zone != NULL)
      want_zone(task, names, host->tlsa_zone, false, host->tlsa_rrsig_expires);
  }
  size_t wanted = result->zone_count;
  struct domain_zone zones[RESULT_MAX_ZONES];
  memcpy(zones, result->zones, wanted * sizeof zones[0]);
  result->zone_count = 0;
  task->zones_pending = 1; /* guard: a zone ready at once must not finish the task inside the loop */
  for (size_t i = 0; i < wanted; i++) {
    const struct zone_hygiene *zone = NULL;
    task->zones_pending++;
    int rc = zone_cache_hold(scan->config.zones, names[i], on_zone_ready, task, &zone);
    if (rc < 0) {
      task->zones_pending--;
      fatal(scan, "out of memory holding a zone");
      continue;
    }
    result->zones[result->zone_count] = zones[i];
    result->zones[result->zone_count].zone = zone;
    result->zone_count++;
    if (rc == 1) task->zones_pending--;
  }
  if (--task->zones_pending == 0) zones_ready(task);
}

/* The hosts, and the MTA-STS work when there is some, are back. */
static void hosts_and_sts_ready(struct domain_task *task) {
  struct domain_result *result = &task->result;
  if (task->sts_started) {
    sts_domain_decide(&task->sts, result);
    result->mta_sts = &task->sts.result;
  }
  hold_zones(task);
}

static void hosts_ready(struct domain_task *task) {
  task->hosts_done = true;
  if (!task->sts_running) hosts_and_sts_ready(task);
}

static void on_sts_done(void *arg) {
  struct domain_task *task = arg;
  task->sts_running = false;
  if (task->hosts_done) hosts_and_sts_ready(task);
}

static void on_host_ready(struct mx_host *host, void *arg) {
  (void)host;
  struct domain_task *task = arg;
  if (--task->pending == 0) hosts_ready(task);
}

/* ---- the MX step ---- */

struct mx_collect {
  struct domain_result *result;
  bool has_null;
  size_t mx_count;
  char names[RESULT_MAX_MX_HOSTS][256];
};

static void collect_mx(const ldns_rr *rr, void *arg) {
  struct mx_collect *collect = arg;
  if (ldns_rr_rd_count(rr) < 2) return;
  collect->mx_count++;
  const ldns_rdf *pref_rdf = ldns_rr_rdf(rr, 0);
  const ldns_rdf *target = ldns_rr_rdf(rr, 1);
  uint16_t preference = ldns_rdf2native_int16(pref_rdf);
  char name[256];
  if (answer_name_text(target, name, sizeof name) != 0) return;
  if (strcmp(name, ".") == 0) {
    collect->has_null = true;
    return;
  }
  struct domain_result *result = collect->result;
  /* The same host twice: keep the better preference. */
  for (size_t i = 0; i < result->link_count; i++) {
    if (strcmp(collect->names[i], name) == 0) {
      if (preference < result->links[i].preference) result->links[i].preference = preference;
      return;
    }
  }
  if (result->link_count == RESULT_MAX_MX_HOSTS) {
    result->mx_truncated = true;
    return;
  }
  memcpy(collect->names[result->link_count], name, sizeof name);
  result->links[result->link_count].preference = preference;
  result->links[result->link_count].host = NULL;
  result->link_count++;
}

static void hold_hosts(struct domain_task *task, char names[][256]) {
  struct scan *scan = task->scan;
  struct domain_result *result = &task->result;
  /* Sort by preference (RFC 5321 5.1), carrying the names along. */
  for (size_t i = 1; i < result->link_count; i++) {
    for (size_t j = i; j > 0 && result->links[j - 1].preference > result->links[j].preference; j--) {
      struct mx_link link = result->links[j];
      result->links[j] = result->links[j - 1];
      result->links[j - 1] = link;
      char name[256];
      memcpy(name, names[j], sizeof name);
      memcpy(names[j], names[j - 1], sizeof name);
      memcpy(names[j - 1], name, sizeof name);
    }
  }
  /* pending counts hosts not yet ready, plus one guard so a host that is
   * ready at once cannot finish the task while the loop still runs. */
  task->pending = 1;
  size_t held = 0;
  for (size_t i = 0; i < result->link_count; i++) {
    struct mx_host *host = NULL;
    task->pending++;
    int rc = host_resolver_hold(scan->hosts, names[i], on_host_ready, task, &host);
    if (rc < 0) {
      task->pending--;
      fatal(scan, "out of memory holding an MX host");
      continue;
    }
    result->links[held] = result->links[i];
    result->links[held].host = host;
    held++;
    if (rc == 1) task->pending--;
  }
  result->link_count = held;
  if (--task->pending == 0) hosts_ready(task);
}

static void on_mx(const struct dns_answer *answer, void *arg) {
  struct domain_task *task = arg;
  struct domain_result *result = &task->result;
  answer_fact(&result->mx, answer);
  result->mx_dnssec = answer->state;
  if (answer->state == DNSSEC_BOGUS || answer->state == DNSSEC_FAILED || answer->rcode == LDNS_RCODE_NXDOMAIN ||
      answer->packet == NULL) {
    if (answer->packet == NULL && answer->state != DNSSEC_BOGUS) result->mx.state = DNSSEC_FAILED;
    task_finish(task);
    return;
  }
  struct mx_collect collect;
  memset(&collect, 0, offsetof(struct mx_collect, names));
  collect.result = result;
  ldns_rdf *qname = ldns_dname_new_frm_str(result->name);
  ldns_rdf *final_name = qname != NULL ? answer_final_name(answer->packet, qname, NULL) : NULL;
  if (final_name != NULL) answer_each_rr(answer->packet, final_name, LDNS_RR_TYPE_MX, collect_mx, &collect);
  ldns_rdf_deep_free(final_name);
  ldns_rdf_deep_free(qname);

  if (collect.has_null && result->link_count == 0) {
    /* RFC 7505 3: a single MX with target "." says the domain takes no mail. */
    result->status = DOMAIN_NULL_MX;
    task_finish(task);
    return;
  }
  if (collect.has_null) result->null_mx_mixed = true;
  if (answer->state == DNSSEC_SECURE && collect.mx_count > 0) {
    ldns_rdf *owner = ldns_dname_new_frm_str(result->name);
    ldns_rdf *mx_owner = owner != NULL ? answer_final_name(answer->packet, owner, NULL) : NULL;
    if (zone_signer_of(answer->packet, mx_owner, LDNS_RR_TYPE_MX, task->mx_zone, sizeof task->mx_zone,
                       &result->mx_rrsig_expires) != 0) {
      task->mx_zone[0] = '\0';
    }
    ldns_rdf_deep_free(mx_owner);
    ldns_rdf_deep_free(owner);
  }
  if (collect.mx_count == 0) {
    /* RFC 5321 5.1: no MX RRset, the domain is its own implicit MX. */
    result->implicit_mx = true;
    result->link_count = 1;
    result->links[0].preference = 0;
    memcpy(collect.names[0], result->name, sizeof collect.names[0]);
  }
  if (task->scan->config.mta_sts &&
      sts_domain_start(&task->sts, task->scan->dns, task->scan->config.policy_fetch, result->name, on_sts_done, task) ==
          0) {
    task->sts_started = task->sts_running = true;
  }
  hold_hosts(task, collect.names);
}

/* ---- admission ---- */

static struct domain_task *task_new(struct scan *scan) {
  struct domain_task *task = scan->free_tasks;
  if (task != NULL) {
    scan->free_tasks = task->next_free;
  } else {
    task = malloc(sizeof *task);
    if (task == NULL) return NULL;
  }
  memset(task, 0, sizeof *task);
  task->scan = scan;
  task->result.mx.rcode = -1;
  task->result.ns_lookup.rcode = -1;
  return task;
}

static bool sinks_accept(struct scan *scan) {
  for (size_t i = 0; i < scan->sink_count; i++) {
    if (scan->sinks[i].can_accept != NULL && !scan->sinks[i].can_accept(scan->sinks[i].state)) return false;
  }
  return true;
}

static void start_domain(struct scan *scan, const struct input_name *name) {
  struct domain_task *task = task_new(scan);
  if (task == NULL) {
    fatal(scan, "out of memory starting a domain");
    return;
  }
  struct domain_result *result = &task->result;
  clock_gettime(CLOCK_MONOTONIC, &task->started);
  result->started_unix_ms = unix_ms_now();
  snprintf(result->name, sizeof result->name, "%s", name->name);
  result->seq = name->seq;
  result->file_index = name->file_index;
  result->line = name->line;
  result->rank = name->rank;
  _Static_assert(sizeof result->ns >= sizeof name->ns, "result ns holds the input's");
  memcpy(result->ns, name->ns, strlen(name->ns) + 1);
  if (result->ns[0] != '\0') result->ns_source = NS_SOURCE_ZONE;
  scan->stats.in_flight++;
  if (name->invalid) {
    snprintf(result->invalid_reason, sizeof result->invalid_reason, "%s",
             name->reason[0] ? name->reason : "invalid domain name");
    task_finish(task);
    return;
  }
  const char *listed = scan->config.opted_out != NULL ? scan->config.opted_out(scan->config.opted_out_ctx, result->name)
                                                      : NULL;
  if (listed != NULL) {
    snprintf(result->skip_reason, sizeof result->skip_reason, "blocklist");
    log_debug("%s: skipped, not looked up: the blocklist names %s", result->name, listed);
    task_finish(task);
    return;
  }
  if (scan->config.ns_lookup && result->ns[0] == '\0' &&
      dns_lookup(scan->dns, result->name, LDNS_RR_TYPE_NS, -1, on_ns, task) == 0) {
    task->ns_pending = true;
    if (scan->config.ns_stats != NULL) scan->config.ns_stats->lookups++;
  }
  if (dns_lookup(scan->dns, result->name, LDNS_RR_TYPE_MX, -1, on_mx, task) != 0) {
    snprintf(result->invalid_reason, sizeof result->invalid_reason, "name cannot be encoded in DNS");
    task_finish(task);
  }
}

#define SCAN_ADMIT_BATCH 256 /* names admitted per loop turn, so answers are read in between */

static void admit(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct scan *scan = arg;
  unsigned admitted = 0;
  while (!scan->stopping && !scan->input_done && scan->stats.in_flight < scan->config.concurrency &&
         admitted < SCAN_ADMIT_BATCH) {
    if (!sinks_accept(scan)) return; /* the tick rechecks */
    struct input_name name;
    char why[512] = "";
    int rc = next_name(scan, &name, why, sizeof why);
    if (rc == 2) {
      scan->source_waiting = true;
      break;
    }
    if (rc == 0) {
      scan->input_done = true;
      break;
    }
    if (rc < 0) {
      scan->input_done = true;
      scan->stats.input_error = true;
      fatal(scan, why);
      break;
    }
    if (scan->config.skip_seq != NULL && scan->config.skip_seq(scan->config.skip_ctx, name.seq)) {
      scan->stats.skipped_done++;
      continue;
    }
    start_domain(scan, &name);
    admitted++;
  }
  if (admitted == SCAN_ADMIT_BATCH) schedule_admission(scan);
  check_finished(scan);
}

/* ---- progress, flushing, signals ---- */

static void flush_sinks(struct scan *scan) {
  for (size_t i = 0; i < scan->sink_count; i++) {
    char why[512] = "";
    if (scan->sinks[i].flush != NULL && scan->sinks[i].flush(scan->sinks[i].state, why, sizeof why) != 0) {
      scan->stats.sink_error = true;
      fatal(scan, why);
      check_finished(scan); /* nothing in flight may be left to end the loop */
    }
  }
}

static void show_progress(struct scan *scan, const struct timespec *now, bool final) {
  struct dns_client_stats dns;
  dns_client_get_stats(scan->dns, &dns);
  double interval = seconds_between(&scan->last_progress, now);
  double elapsed = seconds_between(&scan->started, now);
  if (interval <= 0) interval = 1e-9;
  double domains_rate = (double)(scan->stats.domains_done - scan->last_progress_done) / interval;
  double query_rate = (double)(dns.queries_sent - scan->last_progress_queries) / interval;
  struct input_counts counts = {0};
  if (scan->input != NULL) input_reader_get_counts(scan->input, &counts);
  else counts.names = scan->stats.domains_done + scan->stats.in_flight;
  char total[64];
  if (scan->input_done) snprintf(total, sizeof total, "%llu", (unsigned long long)counts.names);
  else snprintf(total, sizeof total, "%llu+", (unsigned long long)counts.names);
  char eta[32] = "-";
  double overall = elapsed > 0 ? (double)scan->stats.domains_done / elapsed : 0;
  if (scan->input_done && overall > 0) {
    double left = (double)(counts.names - scan->stats.domains_done) / overall;
    snprintf(eta, sizeof eta, "%.0fs", left);
  }
  fprintf(scan->config.progress_stream,
          "\r\033[K%llu/%s domains  %.0f domains/s  %.0f queries/s  %u in flight  %u queries in flight (window %u)  "
          "ETA %s%s",
          (unsigned long long)scan->stats.domains_done, total, domains_rate, query_rate, scan->stats.in_flight,
          dns.inflight, dns.window, eta, final ? "\n" : "");
  fflush(scan->config.progress_stream);
  scan->progress_line_shown = !final;
  if (scan->config.progress_stream == stderr) log_progress_shown(!final);
  scan->last_progress = *now;
  scan->last_progress_done = scan->stats.domains_done;
  scan->last_progress_queries = dns.queries_sent;
}

static void tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  struct scan *scan = arg;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (seconds_between(&scan->last_flush, &now) * 1000.0 >= scan->config.flush_interval_ms) {
    flush_sinks(scan);
    scan->last_flush = now;
  }
  if (scan->config.progress &&
      seconds_between(&scan->last_progress, &now) * 1000.0 >= scan->config.progress_interval_ms) {
    show_progress(scan, &now, false);
  }
  scan->source_waiting = false; /* ask the source again: a missed wake costs one tick */
  schedule_admission(scan);
}

static void on_signal(evutil_socket_t signal_number, short what, void *arg) {
  (void)signal_number;
  (void)what;
  struct scan *scan = arg;
  scan->signals_seen++;
  scan->stats.interrupted = true;
  if (scan->signals_seen == 1) {
    /* First signal: stop admitting, let the domains in flight finish so
     * nothing already measured is lost. Second: stop now. */
    fatal(scan, "interrupted: finishing the domains in flight (signal again to stop at once)");
    check_finished(scan);
  } else {
    event_base_loopbreak(scan->base);
  }
}

struct scan *scan_new(struct event_base *base, const struct scan_config *config, struct dns_client *dns,
                      struct host_resolver *hosts, struct input_reader *input, struct result_sink *sinks,
                      size_t sink_count) {
  struct scan *scan = calloc(1, sizeof *scan);
  if (scan == NULL) return NULL;
  scan->base = base;
  scan->config = *config;
  if (scan->config.concurrency == 0) scan->config.concurrency = 1;
  scan->dns = dns;
  scan->hosts = hosts;
  scan->input = input;
  scan->sinks = sinks;
  scan->sink_count = sink_count;
  scan->admit_event = event_new(base, -1, 0, admit, scan);
  scan->tick_event = event_new(base, -1, EV_PERSIST, tick, scan);
  scan->sigint_event = evsignal_new(base, SIGINT, on_signal, scan);
  scan->sigterm_event = evsignal_new(base, SIGTERM, on_signal, scan);
  if (scan->admit_event == NULL || scan->tick_event == NULL || scan->sigint_event == NULL ||
      scan->sigterm_event == NULL) {
    scan_free(scan);
    return NULL;
  }
  return scan;
}

void scan_set_source(struct scan *scan, const struct scan_source *source) {
  scan->has_source = true;
  scan->source = *source;
  if (source->set_wakeup != NULL) source->set_wakeup(source->state, on_source_wake, scan);
}

void scan_free(struct scan *scan) {
  if (scan == NULL) return;
  if (scan->admit_event) event_free(scan->admit_event);
  if (scan->tick_event) event_free(scan->tick_event);
  if (scan->sigint_event) event_free(scan->sigint_event);
  if (scan->sigterm_event) event_free(scan->sigterm_event);
  struct domain_task *task = scan->free_tasks;
  while (task != NULL) {
    struct domain_task *next = task->next_free;
    free(task);
    task = next;
  }
  free(scan);
}

int scan_run(struct scan *scan) {
  clock_gettime(CLOCK_MONOTONIC, &scan->started);
  scan->last_flush = scan->last_progress = scan->started;
  struct timeval tick_interval = {0, 100 * 1000};
  event_add(scan->tick_event, &tick_interval);
  event_add(scan->sigint_event, NULL);
  event_add(scan->sigterm_event, NULL);
  schedule_admission(scan);
  event_base_dispatch(scan->base);
  event_del(scan->tick_event);
  event_del(scan->sigint_event);
  event_del(scan->sigterm_event);
  flush_sinks(scan);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (scan->config.progress) show_progress(scan, &now, true);
  scan->stats.elapsed_s = seconds_between(&scan->started, &now);
  if (scan->stats.in_flight > 0 || !scan->input_done || scan->stats.error[0] != '\0') return -1;
  return 0;
}

void scan_get_stats(const struct scan *scan, struct scan_stats *out) {
  *out = scan->stats;
  out->input_done = scan->input_done && !scan->stats.input_error;
}
