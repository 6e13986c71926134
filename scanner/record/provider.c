/* MX host name -> provider (see provider.h). The store calls provider_of for
 * each MX host it writes (mx_hosts.provider), so the reports group hosts by
 * organisation without a Public Suffix List of their own. libpsl does the
 * matching (wildcard and exception rules, the private section, IDN labels)
 * and reads Debian's compiled list; the list is the one browsers use for
 * cookie scopes, kept up to date by the distribution. */
#include "record/provider.h"

#include <libpsl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PROVIDER_MAX_NAME_BYTES 254 /* a presentation-format name with its trailing dot */

struct provider_list {
  const psl_ctx_t *psl;
  psl_ctx_t *owned; /* NULL when psl is the built-in list (not freed) */
};

struct provider_list *provider_list_new(void) {
  struct provider_list *list = calloc(1, sizeof *list);
  if (list == NULL) return NULL;
  /* psl_latest(NULL): the newer of the built-in list and the distribution
   * file (psl_dist_filename), so an updated publicsuffix package takes effect
   * without a rebuild. */
  list->owned = psl_latest(NULL);
  list->psl = list->owned != NULL ? list->owned : psl_builtin();
  if (list->psl == NULL) {
    free(list);
    return NULL;
  }
  return list;
}

void provider_list_free(struct provider_list *list) {
  if (list == NULL) return;
  psl_free(list->owned);
  free(list);
}

int provider_of(const struct provider_list *list, const char *host, char *out, size_t out_len) {
  if (out_len == 0) return -1;
  out[0] = '\0';
  if (list == NULL || host == NULL) return 0;
  char name[PROVIDER_MAX_NAME_BYTES + 1];
  size_t len = strlen(host);
  if (len > 0 && host[len - 1] == '.') len--;
  if (len == 0 || len > PROVIDER_MAX_NAME_BYTES) return 0;
  memcpy(name, host, len);
  name[len] = '\0';
  const char *registrable = psl_registrable_domain(list->psl, name);
  if (registrable == NULL) return 0;
  size_t reg_len = strlen(registrable);
  if (reg_len + 1 > out_len) return -1;
  memcpy(out, registrable, reg_len + 1);
  return 1;
}
