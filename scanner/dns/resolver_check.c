/* Resolver validation check (see resolver_check.h): two lookups pinned to
 * each resolver, then one verdict per resolver. A scan that trusted a
 * non-validating resolver would record every signed domain as insecure, the
 * worst kind of wrong result, so this runs before any domain is looked up. */
#include "dns/resolver_check.h"

#include <stdlib.h>
#include <string.h>

#include "dns/dns_message.h"
#include "util/log.h"

#define RESOLVER_CHECK_REFUSAL "; refusing to run DANE checks (use --insecure-resolver-ok to debug)"

struct resolver_check_slot {
  struct resolver_check *check;
  size_t resolver_index;
  bool is_bogus_probe;
  bool done;
  enum dnssec_state state;
  int rcode;
  char failure[32];
  bool has_ede;
  uint16_t ede_code;
};

struct resolver_check {
  struct dns_client *client;
  resolver_check_cb callback;
  void *arg;
  size_t resolver_count;
  size_t pending;
  char *signed_name;
  char *bogus_name;
  ldns_rr_type signed_type;
  struct resolver_check_slot *slots; /* 2 per resolver: signed, bogus */
};

void resolver_check_config_defaults(struct resolver_check_config *config) {
  config->signed_name = ".";
  config->signed_type = LDNS_RR_TYPE_SOA;
  config->bogus_name = "dnssec-failed.org";
  config->bogus_type = LDNS_RR_TYPE_A;
}

static void check_free(struct resolver_check *check) {
  free(check->signed_name);
  free(check->bogus_name);
  free(check->slots);
  free(check);
}

static const char *rcode_word(int rcode) {
  if (rcode < 0) {
    return "no answer";
  }
  const ldns_lookup_table *entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  return entry != NULL ? entry->name : "an unknown rcode";
}

static const char *type_word(ldns_rr_type type, char *buffer, size_t len) {
  const ldns_rr_descriptor *descriptor = ldns_rr_descript((uint16_t)type);
  if (descriptor != NULL && descriptor->_name != NULL) {
    return descriptor->_name;
  }
  snprintf(buffer, len, "TYPE%u", (unsigned)type);
  return buffer;
}

/* Why the signed name's answer shows no validation, or NULL if it does. */
static bool describe_signed(const struct resolver_check *check, const struct resolver_check_slot *slot, char *out,
                            size_t len) {
  char type_buffer[16];
  const char *type = type_word(check->signed_type, type_buffer, sizeof type_buffer);
  switch (slot->state) {
  case DNSSEC_SECURE:
    return false;
  case DNSSEC_INSECURE:
    snprintf(out, len, "'%s' %s answered %s without AD", check->signed_name, type, rcode_word(slot->rcode));
    return true;
  case DNSSEC_BOGUS:
    snprintf(out, len, "'%s' %s, which must validate, came back bogus (%s%s%u)", check->signed_name, type,
             rcode_word(slot->rcode), slot->has_ede ? ", EDE " : "", slot->has_ede ? slot->ede_code : 0u);
    return true;
  default:
    snprintf(out, len, "'%s' %s got no usable answer (%s)", check->signed_name, type,
             slot->failure[0] != '\0' ? slot->failure : "failed");
    return true;
  }
}

static bool describe_bogus(const struct resolver_check *check, const struct resolver_check_slot *slot, char *out,
                           size_t len) {
  switch (slot->state) {
  case DNSSEC_BOGUS:
    return false;
  case DNSSEC_FAILED:
    /* SERVFAIL that the CD=1 repeat could not confirm (the resolver cannot
     * fetch the broken data either): still a refusal to serve bogus data. */
    if (strcmp(slot->failure, "servfail") == 0) {
      return false;
    }
    snprintf(out, len, "'%s' got no usable answer (%s)", check->bogus_name,
             slot->failure[0] != '\0' ? slot->failure : "failed");
    return true;
  case DNSSEC_SECURE:
    snprintf(out, len, "'%s', which must fail validation, answered %s with AD", check->bogus_name,
             rcode_word(slot->rcode));
    return true;
  default:
    snprintf(out, len, "'%s' answered %s without AD", check->bogus_name, rcode_word(slot->rcode));
    return true;
  }
}

static void finish(struct resolver_check *check) {
  size_t count = check->resolver_count;
  struct resolver_verdict *verdicts = calloc(count, sizeof *verdicts);
  bool all = true;
  for (size_t i = 0; verdicts != NULL && i < count; i++) {
    const struct resolver_check_slot *signed_slot = &check->slots[2 * i];
    const struct resolver_check_slot *bogus_slot = &check->slots[2 * i + 1];
    struct resolver_verdict *verdict = &verdicts[i];
    verdict->resolver_index = i;
    verdict->signed_state = signed_slot->state;
    verdict->bogus_state = bogus_slot->state;
    const char *name = dns_client_resolver_name(check->client, i);
    char problem[RESOLVER_CHECK_MESSAGE_MAX_BYTES / 2];
    bool bad = describe_signed(check, signed_slot, problem, sizeof problem) ||
        describe_bogus(check, bogus_slot, problem, sizeof problem);
    verdict->validates = !bad;
    if (bad) {
      all = false;
      snprintf(verdict->message, sizeof verdict->message,
               "resolver %s does not validate DNSSEC: %s" RESOLVER_CHECK_REFUSAL, name, problem);
    } else {
      snprintf(verdict->message, sizeof verdict->message, "resolver %s validates DNSSEC ('%s' secure, '%s' %s)", name,
               check->signed_name, check->bogus_name, dnssec_state_name(bogus_slot->state));
    }
  }
  if (verdicts == NULL) {
    all = false;
  }
  check->callback(verdicts, verdicts != NULL ? count : 0, all, check->arg);
  free(verdicts);
  check_free(check);
}

static void on_answer(const struct dns_answer *answer, void *arg) {
  struct resolver_check_slot *slot = arg;
  struct resolver_check *check = slot->check;
  slot->done = true;
  slot->state = answer->state;
  slot->rcode = answer->rcode;
  slot->has_ede = answer->has_ede;
  slot->ede_code = answer->ede_code;
  snprintf(slot->failure, sizeof slot->failure, "%s", answer->failure != NULL ? answer->failure : "");
  if (--check->pending == 0) {
    finish(check);
  }
}

struct resolver_check *resolver_check_start(struct dns_client *client, const struct resolver_check_config *config,
                                            resolver_check_cb callback, void *arg, char *why, size_t why_len) {
  struct resolver_check_config defaults;
  resolver_check_config_defaults(&defaults);
  const char *signed_name = config->signed_name != NULL ? config->signed_name : defaults.signed_name;
  const char *bogus_name = config->bogus_name != NULL ? config->bogus_name : defaults.bogus_name;
  ldns_rr_type signed_type = config->signed_type != 0 ? config->signed_type : defaults.signed_type;
  ldns_rr_type bogus_type = config->bogus_type != 0 ? config->bogus_type : defaults.bogus_type;
  uint8_t wire[DNS_NAME_MAX_BYTES];
  if (dns_message_encode_name(signed_name, wire) == 0) {
    snprintf(why, why_len, "resolver check: '%s' is not a domain name", signed_name);
    return NULL;
  }
  if (dns_message_encode_name(bogus_name, wire) == 0) {
    snprintf(why, why_len, "resolver check: '%s' is not a domain name", bogus_name);
    return NULL;
  }
  size_t count = dns_client_resolver_count(client);
  struct resolver_check *check = calloc(1, sizeof *check);
  if (check == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  check->client = client;
  check->callback = callback;
  check->arg = arg;
  check->resolver_count = count;
  check->signed_type = signed_type;
  check->signed_name = strdup(signed_name);
  check->bogus_name = strdup(bogus_name);
  check->slots = calloc(2 * count, sizeof *check->slots);
  if (check->signed_name == NULL || check->bogus_name == NULL || check->slots == NULL) {
    check_free(check);
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < 2 * count; i++) {
    struct resolver_check_slot *slot = &check->slots[i];
    slot->check = check;
    slot->resolver_index = i / 2;
    slot->is_bogus_probe = i % 2 == 1;
    slot->state = DNSSEC_FAILED;
    slot->rcode = -1;
    const char *name = slot->is_bogus_probe ? bogus_name : signed_name;
    ldns_rr_type type = slot->is_bogus_probe ? bogus_type : signed_type;
    if (dns_lookup(client, name, type, (int)slot->resolver_index, on_answer, slot) != 0) {
      for (size_t k = 0; k < i; k++) {
        dns_client_cancel(client, &check->slots[k]);
      }
      check_free(check);
      snprintf(why, why_len, "resolver check: cannot start the lookup of '%s'", name);
      return NULL;
    }
    check->pending++;
  }
  return check;
}

void resolver_check_cancel(struct resolver_check *check, struct dns_client *client) {
  if (check == NULL) {
    return;
  }
  if (client != NULL) {
    for (size_t i = 0; i < 2 * check->resolver_count; i++) {
      dns_client_cancel(client, &check->slots[i]);
    }
  }
  check_free(check);
}

struct run_state {
  bool done;
  bool all_validate;
  bool log_verdicts;
};

static void on_run_done(const struct resolver_verdict *verdicts, size_t count, bool all_validate, void *arg) {
  struct run_state *state = arg;
  state->done = true;
  state->all_validate = all_validate;
  for (size_t i = 0; state->log_verdicts && i < count; i++) {
    if (verdicts[i].validates) log_notice("%s", verdicts[i].message);
    else log_error("%s", verdicts[i].message);
  }
}

int resolver_check_run(struct event_base *base, struct dns_client *client, const struct resolver_check_config *config,
                       bool log_verdicts) {
  struct run_state state = {.done = false, .all_validate = false, .log_verdicts = log_verdicts};
  char why[256];
  struct resolver_check *check = resolver_check_start(client, config, on_run_done, &state, why, sizeof why);
  if (check == NULL) {
    if (log_verdicts) log_error("%s", why);
    return -1;
  }
  while (!state.done) {
    if (event_base_loop(base, EVLOOP_ONCE) != 0) {
      break; /* no events left or loop error: the check cannot finish */
    }
  }
  if (!state.done) {
    resolver_check_cancel(check, client);
    if (log_verdicts) log_error("resolver check did not finish");
    return -1;
  }
  return state.all_validate ? 0 : -1;
}
