/* MTA-STS and TLS-RPT sentences for `danescan check` (explain_sts.h). The
 * fixes name the record, URL, host or policy line the operator changes,
 * and the RFC section that asks for it. */
#include "report/explain_sts.h"

#include <stdarg.h>
#include <string.h>

#include "record/mta_sts_result.h"

struct sts_text {
  FILE *out, *fixes;
  size_t fix_count;
};

static void fix(struct sts_text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void fix(struct sts_text *t, const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("  - ", t->fixes);
  vfprintf(t->fixes, format, args);
  fputc('\n', t->fixes);
  va_end(args);
  t->fix_count++;
}

static void lookup_line(FILE *out, const char *name, const char *type, const struct dns_fact *fact) {
  if (!fact->done) return;
  fprintf(out, "  %s %s: %s", name, type, dnssec_state_name(fact->state));
  if (fact->failure != NULL) fprintf(out, " (%s)", fact->failure);
  else if (fact->rcode == 3) fputs(" (NXDOMAIN)", out);
  fputc('\n', out);
}

static void explain_policy(const struct domain_result *result, const struct mta_sts_result *sts, FILE *out) {
  if (!sts->has_policy) return;
  fprintf(out, "  policy: mode %s, max_age %lld s, %zu mx pattern%s\n", mta_sts_mode_name(sts->mode),
          (long long)sts->max_age, sts->mx_pattern_count, sts->mx_pattern_count == 1 ? "" : "s");
  for (size_t i = 0; i < sts->mx_pattern_count; i++) fprintf(out, "    mx: %s\n", sts->mx_patterns[i]);
  if (sts->mode == STS_MODE_NONE) return;
  for (size_t i = 0; i < result->link_count; i++) {
    if (result->links[i].host == NULL) continue;
    fprintf(out, "  MX host %s: %s\n", result->links[i].host->name,
            sts->host_match[i] ? "matches a pattern" : "matches no pattern (RFC 8461 4.1)");
  }
}

static void fix_status(struct sts_text *t, const struct domain_result *result, const struct mta_sts_result *sts) {
  const char *domain = result->name;
  switch (sts->status) {
  case MTA_STS_NONE:
  case MTA_STS_MODE_NONE:
  case MTA_STS_VALID:
  case MTA_STS_STATUS_COUNT:
    break;
  case MTA_STS_RECORD_INVALID:
    fix(t,
        "Publish exactly one TXT record at _mta-sts.%s of the form \"v=STSv1; id=ID\" with an id of 1 to 32 "
        "letters and digits (RFC 8461 3.1): %s.",
        domain, sts->failure);
    break;
  case MTA_STS_POLICY_UNAVAILABLE:
    if ((sts->policy_host_a.done || sts->policy_host_aaaa.done) &&
        (!sts->policy_host_a.done || sts->policy_host_a.rcode != 0) &&
        (!sts->policy_host_aaaa.done || sts->policy_host_aaaa.rcode != 0)) {
      fix(t, "Publish an A or AAAA record for mta-sts.%s, the policy host (RFC 8461 3.3).", domain);
    }
    fix(t,
        "Serve the policy at https://mta-sts.%s/.well-known/mta-sts.txt: status 200 without redirects, over HTTPS "
        "with a certificate valid for mta-sts.%s under the public WebPKI (RFC 8461 3.3): %s.",
        domain, domain, sts->failure);
    break;
  case MTA_STS_POLICY_INVALID:
    fix(t,
        "Correct the policy at https://mta-sts.%s/.well-known/mta-sts.txt (RFC 8461 3.2: media type text/plain, at "
        "most 64 KiB, \"version: STSv1\", \"mode: enforce|testing|none\", \"max_age:\" 0 to 31557600 seconds, an "
        "\"mx:\" line per MX host unless mode is none), then change the id of _mta-sts.%s: %s.",
        domain, domain, sts->failure);
    break;
  case MTA_STS_MX_MISMATCH:
    for (size_t i = 0; i < result->link_count; i++) {
      if (result->links[i].host == NULL || sts->host_match[i]) continue;
      fix(t,
          "Add \"mx: %s\" to the MTA-STS policy of %s (a \"*.\" pattern stands for exactly one label, RFC 8461 "
          "4.1), or change the MX records; then change the id of _mta-sts.%s so that senders fetch the policy "
          "again.",
          result->links[i].host->name, domain, domain);
    }
    break;
  case MTA_STS_CERT_UNCHECKED:
    fix(t,
        "No MX certificate of %s was checked (%s). Make the MX hosts reachable on port 25 with STARTTLS, or scan "
        "with --probe all (MTA-STS needs the certificate of every MX host, TLSA or not).",
        domain, sts->failure);
    break;
  case MTA_STS_CERT_INVALID:
    fix(t,
        "Offer STARTTLS with TLS 1.2 or later and a certificate chain valid under the public WebPKI for the MX host "
        "name on every MX address (RFC 8461 4.2): %s.",
        sts->failure);
    break;
  }
}

size_t explain_mta_sts(const struct domain_result *result, FILE *out, FILE *fixes) {
  const struct mta_sts_result *sts = result->mta_sts;
  if (sts == NULL) return 0;
  struct sts_text t = {out, fixes, 0};
  char name[300];
  fprintf(out, "\nMTA-STS: %s\n", mta_sts_status_name(sts->status));
  snprintf(name, sizeof name, "_mta-sts.%s", result->name);
  lookup_line(out, name, "TXT", &sts->record_lookup);
  if (sts->id[0] != '\0') fprintf(out, "  record id: %s\n", sts->id);
  snprintf(name, sizeof name, "mta-sts.%s", result->name);
  lookup_line(out, name, "A", &sts->policy_host_a);
  lookup_line(out, name, "AAAA", &sts->policy_host_aaaa);
  if (sts->http_status > 0) fprintf(out, "  policy fetch: HTTP %d\n", sts->http_status);
  explain_policy(result, sts, out);
  if (sts->failure[0] != '\0') fprintf(out, "  why: %s\n", sts->failure);
  if (sts->status == MTA_STS_MODE_NONE) fputs("  the domain opts out of MTA-STS (mode: none)\n", out);
  if (sts->status == MTA_STS_VALID && sts->mode == STS_MODE_TESTING) {
    fputs("  mode testing: senders report failures but still deliver; \"mode: enforce\" makes them refuse\n", out);
  }
  fix_status(&t, result, sts);

  fprintf(out, "\nTLS-RPT: %s\n", tlsrpt_record_status_name(sts->tlsrpt_status));
  snprintf(name, sizeof name, "_smtp._tls.%s", result->name);
  lookup_line(out, name, "TXT", &sts->tlsrpt_lookup);
  if (sts->tlsrpt_status == TLSRPT_RECORD_VALID) fprintf(out, "  reports go to: %s\n", sts->tlsrpt_rua);
  if (sts->tlsrpt_failure[0] != '\0') fprintf(out, "  why: %s\n", sts->tlsrpt_failure);
  if (sts->tlsrpt_status == TLSRPT_RECORD_INVALID) {
    fix(&t,
        "Publish exactly one TXT record at _smtp._tls.%s of the form \"v=TLSRPTv1; rua=mailto:ADDRESS\" (or an "
        "https: URI) (RFC 8460 3): %s.",
        result->name, sts->tlsrpt_failure[0] != '\0' ? sts->tlsrpt_failure : "no valid record");
  }
  return t.fix_count;
}
