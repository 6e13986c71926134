/* The EHLO name policy (see ehlo_name.h): a probe's first words to a mail
 * server say who is asking. */
#include "probe/ehlo_name.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static bool is_host_name(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > EHLO_NAME_MAX_BYTES || name[0] == '.' || name[0] == '-') return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return strstr(name, "..") == NULL;
}

static bool is_address(const char *name) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (name[0] == '[') return true;
  return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

const char *ehlo_name_refusal(const char *name) {
  if (is_address(name)) return "an address literal";
  if (strcasecmp(name, "localhost") == 0 || strcasecmp(name, "localhost.") == 0) return "localhost";
  size_t len = strlen(name);
  static const char local_suffix[] = ".localhost";
  if (len >= sizeof local_suffix - 1 && strcasecmp(name + len - (sizeof local_suffix - 1), local_suffix) == 0)
    return "localhost";
  if (!is_host_name(name)) return "not a host name";
  const char *dot = strchr(name, '.');
  if (dot == NULL || dot[1] == '\0') return "not fully qualified (no dot)";
  return NULL;
}

/* This machine's FQDN: the canonical name of its host name, else the host
 * name itself. */
static void machine_name(char *out, size_t out_len) {
  char host[EHLO_NAME_MAX_BYTES + 1] = "";
  if (gethostname(host, sizeof host) != 0) host[0] = '\0';
  host[sizeof host - 1] = '\0';
  snprintf(out, out_len, "%s", host);
  if (host[0] == '\0' || strchr(host, '.') != NULL) return;
  struct addrinfo hints = {.ai_flags = AI_CANONNAME, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *result = NULL;
  if (getaddrinfo(host, NULL, &hints, &result) == 0 && result != NULL && result->ai_canonname != NULL &&
      strchr(result->ai_canonname, '.') != NULL)
    snprintf(out, out_len, "%s", result->ai_canonname);
  if (result != NULL) freeaddrinfo(result);
}

int ehlo_name_choose(const char *given, bool lab_ok, char *out, size_t out_len, char *why, size_t why_len) {
  if (given != NULL) {
    const char *refusal = ehlo_name_refusal(given);
    if (refusal != NULL) {
      snprintf(why, why_len, "--ehlo-name \"%s\": %s; give this scanner's host name (with reverse DNS)", given,
               refusal);
      return -1;
    }
    snprintf(out, out_len, "%s", given);
    return 0;
  }
  machine_name(out, out_len);
  const char *refusal = ehlo_name_refusal(out);
  if (refusal == NULL) return 0;
  if (lab_ok && is_host_name(out)) return 0;
  snprintf(why, why_len,
           "this machine's name \"%s\" is %s: set --ehlo-name to this scanner's host name (with reverse DNS)", out,
           refusal);
  return -1;
}
