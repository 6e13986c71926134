/* Address policy of the probe engine. A scanner must never knock on private,
 * loopback, documentation or multicast addresses that DNS happens to publish
 * (they would reach the scanner's own network, not the domain's); the lists
 * follow the IANA IPv4 and IPv6 Special-Purpose Address Registries (blocks
 * not globally reachable), the multicast registries, and the IPv6 Address
 * Space registry, where only 2000::/3 is assigned for global unicast. */
#include "probe/probe_address.h"
#include "probe/name_list.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Addresses as 128-bit numbers: IPv4 in the low 32 bits, family apart. */
struct address_bits {
  uint64_t high, low;
};

struct special_block {
  const char *prefix;
  unsigned length;
  const char *name;
};

static const struct special_block special_v4[] = {
    {"0.0.0.0", 8, "this network 0.0.0.0/8 (RFC 791)"},
    {"10.0.0.0", 8, "private-use 10.0.0.0/8 (RFC 1918)"},
    {"100.64.0.0", 10, "shared address space 100.64.0.0/10 (RFC 6598)"},
    {"127.0.0.0", 8, "loopback 127.0.0.0/8 (RFC 1122)"},
    {"169.254.0.0", 16, "link-local 169.254.0.0/16 (RFC 3927)"},
    {"172.16.0.0", 12, "private-use 172.16.0.0/12 (RFC 1918)"},
    {"192.0.0.0", 24, "IETF protocol assignments 192.0.0.0/24 (RFC 6890)"},
    {"192.0.2.0", 24, "documentation TEST-NET-1 192.0.2.0/24 (RFC 5737)"},
    {"192.88.99.0", 24, "deprecated 6to4 relay anycast 192.88.99.0/24 (RFC 7526)"},
    {"192.168.0.0", 16, "private-use 192.168.0.0/16 (RFC 1918)"},
    {"198.18.0.0", 15, "benchmarking 198.18.0.0/15 (RFC 2544)"},
    {"198.51.100.0", 24, "documentation TEST-NET-2 198.51.100.0/24 (RFC 5737)"},
    {"203.0.113.0", 24, "documentation TEST-NET-3 203.0.113.0/24 (RFC 5737)"},
    {"224.0.0.0", 4, "multicast 224.0.0.0/4 (RFC 5771)"},
    {"255.255.255.255", 32, "limited broadcast 255.255.255.255/32 (RFC 919)"},
    {"240.0.0.0", 4, "reserved 240.0.0.0/4 (RFC 1112)"},
};

/* Most specific first: the first match names the block. */
static const struct special_block special_v6[] = {
    {"::", 128, "unspecified address ::/128 (RFC 4291)"},
    {"::1", 128, "loopback ::1/128 (RFC 4291)"},
    {"::ffff:0:0", 96, "IPv4-mapped ::ffff:0:0/96 (RFC 4291)"},
    {"64:ff9b::", 96, "NAT64 well-known prefix 64:ff9b::/96 (RFC 6052)"},
    {"64:ff9b:1::", 48, "local-use NAT64 64:ff9b:1::/48 (RFC 8215)"},
    {"100::", 64, "discard-only 100::/64 (RFC 6666)"},
    {"2001::", 23, "IETF protocol assignments 2001::/23 (RFC 2928)"},
    {"2001:db8::", 32, "documentation 2001:db8::/32 (RFC 3849)"},
    {"2002::", 16, "6to4 2002::/16 (RFC 3056)"},
    {"3fff::", 20, "documentation 3fff::/20 (RFC 9637)"},
    {"fc00::", 7, "unique-local fc00::/7 (RFC 4193)"},
    {"fe80::", 10, "link-local fe80::/10 (RFC 4291)"},
    {"ff00::", 8, "multicast ff00::/8 (RFC 4291)"},
    {"::", 3, "IPv6 outside global unicast 2000::/3 (IANA IPv6 address space)"},
    {"4000::", 2, "IPv6 outside global unicast 2000::/3 (IANA IPv6 address space)"},
    {"8000::", 1, "IPv6 outside global unicast 2000::/3 (IANA IPv6 address space)"},
};

static struct address_bits bits_from_v6(const struct in6_addr *addr) {
  struct address_bits bits = {0, 0};
  for (int i = 0; i < 8; i++) bits.high = (bits.high << 8) | addr->s6_addr[i];
  for (int i = 8; i < 16; i++) bits.low = (bits.low << 8) | addr->s6_addr[i];
  return bits;
}

static struct address_bits bits_from_v4(const struct in_addr *addr) {
  struct address_bits bits = {0, ntohl(addr->s_addr)};
  return bits;
}

/* Keeps the first length bits of a 128-bit (v6) or 32-bit (v4) address. */
static struct address_bits mask_bits(struct address_bits bits, unsigned length, bool v4) {
  if (v4) {
    uint64_t mask = length == 0 ? 0 : (0xffffffffULL << (32 - length)) & 0xffffffffULL;
    bits.low &= mask;
    return bits;
  }
  if (length <= 64) {
    bits.high &= length == 0 ? 0 : ~0ULL << (64 - length);
    bits.low = 0;
  } else if (length < 128) {
    bits.low &= ~0ULL << (128 - length);
  }
  return bits;
}

static bool bits_equal(struct address_bits a, struct address_bits b) {
  return a.high == b.high && a.low == b.low;
}

static bool in_block(struct address_bits bits, bool v4, const struct special_block *block) {
  struct address_bits network;
  if (v4) {
    struct in_addr addr;
    if (inet_pton(AF_INET, block->prefix, &addr) != 1) return false;
    network = bits_from_v4(&addr);
  } else {
    struct in6_addr addr;
    if (inet_pton(AF_INET6, block->prefix, &addr) != 1) return false;
    network = bits_from_v6(&addr);
  }
  return bits_equal(mask_bits(bits, block->length, v4), mask_bits(network, block->length, v4));
}

const char *probe_address_reserved(const struct sockaddr *address) {
  if (address->sa_family == AF_INET) {
    struct address_bits bits = bits_from_v4(&((const struct sockaddr_in *)address)->sin_addr);
    for (size_t i = 0; i < sizeof special_v4 / sizeof special_v4[0]; i++) {
      if (in_block(bits, true, &special_v4[i])) return special_v4[i].name;
    }
    return NULL;
  }
  if (address->sa_family == AF_INET6) {
    struct address_bits bits = bits_from_v6(&((const struct sockaddr_in6 *)address)->sin6_addr);
    for (size_t i = 0; i < sizeof special_v6 / sizeof special_v6[0]; i++) {
      if (in_block(bits, false, &special_v6[i])) return special_v6[i].name;
    }
    return NULL;
  }
  return "unsupported address family";
}

/* ---- blocklist: per family, prefixes sorted by (network, length) ---- */

struct prefix {
  struct address_bits network;
  unsigned length;
};

struct prefix_table {
  struct prefix *prefixes;
  size_t count, capacity;
  bool lengths[129]; /* which prefix lengths occur */
  bool sorted;
};

struct probe_blocklist {
  struct prefix_table v4, v6;
  struct name_list *names; /* opted-out domains and MX host names */
};

struct probe_blocklist *probe_blocklist_new(void) {
  struct probe_blocklist *blocklist = calloc(1, sizeof(struct probe_blocklist));
  if (blocklist == NULL) return NULL;
  blocklist->names = name_list_new();
  if (blocklist->names == NULL) {
    free(blocklist);
    return NULL;
  }
  return blocklist;
}

void probe_blocklist_free(struct probe_blocklist *blocklist) {
  if (blocklist == NULL) return;
  free(blocklist->v4.prefixes);
  free(blocklist->v6.prefixes);
  name_list_free(blocklist->names);
  free(blocklist);
}

size_t probe_blocklist_count(const struct probe_blocklist *blocklist) {
  return blocklist->v4.count + blocklist->v6.count + name_list_count(blocklist->names);
}

const char *probe_blocklist_covering_name(struct probe_blocklist *blocklist, const char *name) {
  return name == NULL ? NULL : name_list_covering(blocklist->names, name);
}

static int prefix_compare(const void *a, const void *b) {
  const struct prefix *x = a, *y = b;
  if (x->network.high != y->network.high) return x->network.high < y->network.high ? -1 : 1;
  if (x->network.low != y->network.low) return x->network.low < y->network.low ? -1 : 1;
  if (x->length != y->length) return x->length < y->length ? -1 : 1;
  return 0;
}

static int table_add(struct prefix_table *table, struct prefix prefix) {
  if (table->count == table->capacity) {
    size_t capacity = table->capacity == 0 ? 16 : table->capacity * 2;
    struct prefix *grown = realloc(table->prefixes, capacity * sizeof *grown);
    if (grown == NULL) return -1;
    table->prefixes = grown;
    table->capacity = capacity;
  }
  table->prefixes[table->count++] = prefix;
  table->lengths[prefix.length] = true;
  table->sorted = false;
  return 0;
}

static void table_sort(struct prefix_table *table) {
  if (!table->sorted && table->count > 1) {
    qsort(table->prefixes, table->count, sizeof table->prefixes[0], prefix_compare);
    table->sorted = true;
  }
}

/* Parses text into a family flag and a prefix. */
static int parse_prefix(const char *text, bool *v4, struct prefix *out, const char **why) {
  char buffer[INET6_ADDRSTRLEN + 8];
  size_t len = strlen(text);
  if (len == 0 || len >= sizeof buffer) {
    *why = "not a CIDR prefix";
    return -1;
  }
  memcpy(buffer, text, len + 1);
  char *slash = strchr(buffer, '/');
  long length = -1;
  if (slash != NULL) {
    *slash = '\0';
    char *end;
    if (!isdigit((unsigned char)slash[1])) {
      *why = "prefix length is not a number";
      return -1;
    }
    length = strtol(slash + 1, &end, 10);
    if (*end != '\0') {
      *why = "prefix length is not a number";
      return -1;
    }
  }
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, buffer, &a4) == 1) {
    *v4 = true;
    out->network = bits_from_v4(&a4);
    if (length < 0) length = 32;
    if (length > 32) {
      *why = "IPv4 prefix length over 32";
      return -1;
    }
  } else if (inet_pton(AF_INET6, buffer, &a6) == 1) {
    *v4 = false;
    out->network = bits_from_v6(&a6);
    if (length < 0) length = 128;
    if (length > 128) {
      *why = "IPv6 prefix length over 128";
      return -1;
    }
  } else {
    *why = "not an IPv4 or IPv6 address";
    return -1;
  }
  out->length = (unsigned)length;
  if (!bits_equal(mask_bits(out->network, out->length, *v4), out->network)) {
    *why = "host bits set beyond the prefix length";
    return -1;
  }
  return 0;
}

int probe_blocklist_add_text(struct probe_blocklist *blocklist, const char *text, const char **why) {
  bool v4;
  struct prefix prefix;
  if (parse_prefix(text, &v4, &prefix, why) != 0) return -1;
  struct prefix_table *table = v4 ? &blocklist->v4 : &blocklist->v6;
  if (table_add(table, prefix) != 0) {
    *why = "out of memory";
    return -1;
  }
  table_sort(table);
  return 0;
}

int probe_blocklist_read(struct probe_blocklist *blocklist, FILE *stream, const char *name, char *why, size_t why_len) {
  struct probe_blocklist staged;
  memset(&staged, 0, sizeof staged);
  if (why_len > 0) why[0] = '\0';
  char line[512];
  unsigned line_number = 0;
  int status = 0;
  while (fgets(line, sizeof line, stream) != NULL) {
    line_number++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(stream)) {
      snprintf(why, why_len, "%s:%u: line too long", name, line_number);
      status = -1;
      break;
    }
    char *hash = strchr(line, '#');
    if (hash != NULL) *hash = '\0';
    char *start = line;
    while (isspace((unsigned char)*start)) start++;
    char *end = start + strlen(start);
    while (end > start && isspace((unsigned char)end[-1])) *--end = '\0';
    if (*start == '\0') continue;
    const char *reason = "out of memory";
    bool v4;
    struct prefix prefix;
    if (strchr(start, '/') == NULL && strchr(start, ':') == NULL && name_list_is_name(start)) {
      /* A name: added at once (names of a failing stream stay; they only
       * ever stop contacts). */
      if (name_list_add(blocklist->names, start) != 0) {
        snprintf(why, why_len, "%s:%u: out of memory", name, line_number);
        status = -1;
        break;
      }
      continue;
    }
    if (parse_prefix(start, &v4, &prefix, &reason) != 0 || table_add(v4 ? &staged.v4 : &staged.v6, prefix) != 0) {
      snprintf(why, why_len, "%s:%u: %s: \"%s\"", name, line_number, reason, start);
      status = -1;
      break;
    }
  }
  if (status == 0 && ferror(stream)) {
    snprintf(why, why_len, "%s: read error", name);
    status = -1;
  }
  for (size_t i = 0; status == 0 && i < staged.v4.count; i++) {
    if (table_add(&blocklist->v4, staged.v4.prefixes[i]) != 0) status = -1;
  }
  for (size_t i = 0; status == 0 && i < staged.v6.count; i++) {
    if (table_add(&blocklist->v6, staged.v6.prefixes[i]) != 0) status = -1;
  }
  table_sort(&blocklist->v4);
  table_sort(&blocklist->v6);
  if (status != 0 && why_len > 0 && why[0] == '\0') snprintf(why, why_len, "%s: out of memory", name);
  free(staged.v4.prefixes);
  free(staged.v6.prefixes);
  return status;
}

/* Tables are sorted by every public function that adds to them. */
static bool table_contains(const struct prefix_table *table, struct address_bits bits, bool v4) {
  if (table->count == 0) return false;
  for (unsigned length = 0; length <= (v4 ? 32u : 128u); length++) {
    if (!table->lengths[length]) continue;
    struct prefix key = {mask_bits(bits, length, v4), length};
    if (bsearch(&key, table->prefixes, table->count, sizeof key, prefix_compare) != NULL) {
      return true;
    }
  }
  return false;
}

int probe_blocklist_load(struct probe_blocklist *blocklist, const char *path, char *why, size_t why_len) {
  FILE *stream = fopen(path, "r");
  if (stream == NULL) {
    snprintf(why, why_len, "%s: cannot open", path);
    return -1;
  }
  int status = probe_blocklist_read(blocklist, stream, path, why, why_len);
  fclose(stream);
  return status;
}

bool probe_blocklist_contains(const struct probe_blocklist *blocklist, const struct sockaddr *address) {
  if (address->sa_family == AF_INET) {
    return table_contains(&blocklist->v4, bits_from_v4(&((const struct sockaddr_in *)address)->sin_addr), true);
  }
  if (address->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)address)->sin6_addr;
    return table_contains(&blocklist->v6, bits_from_v6(a6), false);
  }
  return false;
}
