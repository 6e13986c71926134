/* Unit tests of the input readers: the name rule, zone parsing against a
 * hand-written TLD zone (tests/data/input/tld.zone, expected names in
 * tld.expected), lists, CSV, gzip (multi-member, truncated), read-buffer
 * boundaries, long lines, shard/sample/limit, the bounded duplicate filter,
 * diagnostics and checksums. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "input/input.h"
#include "unit.h"

#define MAX_COLLECTED 60000

struct collected {
  char **names; /* valid names, in order */
  size_t count;
  size_t invalid;
  char last_invalid_reason[INPUT_REASON_MAX_BYTES];
  char last_invalid_name[INPUT_NAME_MAX_BYTES];
  int64_t ranks[64];
  int end_rc; /* 0 or -1 */
  char why[256];
  struct input_counts counts;
  char messages[4096];
  unsigned message_count;
};

static void collect_message(const char *message, void *arg) {
  struct collected *c = arg;
  c->message_count++;
  size_t used = strlen(c->messages);
  snprintf(c->messages + used, sizeof c->messages - used, "%s\n", message);
}

static void collected_free(struct collected *c) {
  for (size_t i = 0; i < c->count; i++) {
    free(c->names[i]);
  }
  free(c->names);
}

static void drain(struct input_reader *reader, struct collected *c) {
  struct input_name name;
  int rc;
  c->names = calloc(MAX_COLLECTED, sizeof *c->names);
  while ((rc = input_reader_next(reader, &name, c->why, sizeof c->why)) == 1) {
    if (name.invalid) {
      c->invalid++;
      snprintf(c->last_invalid_reason, sizeof c->last_invalid_reason, "%s", name.reason);
      snprintf(c->last_invalid_name, sizeof c->last_invalid_name, "%s", name.name);
      continue;
    }
    if (c->count < 64) {
      c->ranks[c->count] = name.rank;
    }
    if (c->count < MAX_COLLECTED) {
      c->names[c->count++] = strdup(name.name);
    }
  }
  c->end_rc = rc;
  input_reader_get_counts(reader, &c->counts);
}

/* Reads data (in memory) with options; diagnostics go to c->messages. */
static void read_memory(const void *data, size_t len, struct input_options *options, struct collected *c) {
  memset(c, 0, sizeof *c);
  options->diagnostic = collect_message;
  options->diagnostic_arg = c;
  char why[256];
  struct input_reader *reader = input_reader_open_memory(data, len, "mem", options, why, sizeof why);
  CHECK(reader != NULL);
  if (reader == NULL) {
    fprintf(stderr, "open failed: %s\n", why);
    c->names = calloc(1, sizeof *c->names);
    return;
  }
  drain(reader, c);
  input_reader_free(reader);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  char *data = malloc(1 << 20);
  *len = fread(data, 1, 1 << 20, f);
  fclose(f);
  return data;
}

static char *data_path(const char *name) {
  static char path[1024];
  const char *dir = getenv("DANESCAN_TEST_DATA");
  snprintf(path, sizeof path, "%s/input/%s", dir != NULL ? dir : "tests/data", name);
  return path;
}

/* gzip member(s) of data, each of member_len bytes of input. */
static unsigned char *gzip_members(const char *data, size_t len, size_t member_len, size_t *out_len) {
  size_t cap = len * 2 + 1024;
  unsigned char *out = malloc(cap);
  size_t used = 0;
  for (size_t off = 0; off < len || (len == 0 && off == 0); off += member_len) {
    size_t n = len - off < member_len ? len - off : member_len;
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(data + off);
    z.avail_in = (uInt)n;
    z.next_out = out + used;
    z.avail_out = (uInt)(cap - used);
    deflate(&z, Z_FINISH);
    used = cap - z.avail_out;
    deflateEnd(&z);
    if (len == 0) {
      break;
    }
  }
  *out_len = used;
  return out;
}

static void test_name_rule(void) {
  char out[INPUT_NAME_MAX_BYTES];
  char reason[INPUT_REASON_MAX_BYTES];
  CHECK_INT(input_name_normalise("Example.COM.", 12, out, reason, sizeof reason), 0);
  CHECK_STR(out, "example.com");
  CHECK_INT(input_name_normalise("xn--bcher-kva.example", 21, out, reason, sizeof reason), 0);
  CHECK_INT(input_name_normalise("3com.com", 8, out, reason, sizeof reason), 0);
  CHECK_INT(input_name_normalise("ab--cd.com", 10, out, reason, sizeof reason), 0);
  CHECK_INT(input_name_normalise("bad_name.com", 12, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "underscore") != NULL);
  CHECK_INT(input_name_normalise("-a.com", 6, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "hyphen") != NULL);
  CHECK_INT(input_name_normalise("a-.com", 6, out, reason, sizeof reason), -1);
  CHECK_INT(input_name_normalise("a..com", 6, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "empty label") != NULL);
  CHECK_INT(input_name_normalise(".", 1, out, reason, sizeof reason), -1);
  CHECK_INT(input_name_normalise("", 0, out, reason, sizeof reason), -1);
  CHECK_INT(input_name_normalise("192.0.2.1", 9, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "all digits") != NULL);
  CHECK_INT(input_name_normalise("\xc3\xa9t\xc3\xa9.fr", 9, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "0xc3") != NULL && strstr(reason, "A-labels") != NULL);
  CHECK_INT(input_name_normalise("a\0b.com", 7, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "NUL") != NULL);
  char label[80];
  memset(label, 'a', 64);
  memcpy(label + 64, ".com", 5);
  CHECK_INT(input_name_normalise(label, 68, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "63") != NULL);
  CHECK_INT(input_name_normalise(label + 1, 67, out, reason, sizeof reason), 0); /* 63: fine */
  char longname[300];
  for (size_t i = 0; i < 300; i++) {
    longname[i] = (i % 10 == 9) ? '.' : 'a';
  }
  longname[299] = 'a';
  CHECK_INT(input_name_normalise(longname, 300, out, reason, sizeof reason), -1);
  CHECK(strstr(reason, "253") != NULL);
  CHECK_INT(input_name_normalise(longname, 253, out, reason, sizeof reason), 0);
  /* Stable hash: FNV-1a 64 test vectors. */
  CHECK(input_name_hash("", 0) == 0xcbf29ce484222325ULL);
  CHECK(input_name_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK(input_name_hash("foobar", 6) == 0x85944171f73967e8ULL);
}

/* The hand-written TLD zone, read with many read-buffer sizes: always the
 * expected set, in order. */
static void test_tld_zone(void) {
  size_t zone_len = 0, expected_len = 0;
  char *zone = read_file(data_path("tld.zone"), &zone_len);
  char *expected = read_file(data_path("tld.expected"), &expected_len);
  CHECK(zone != NULL && expected != NULL);
  if (zone == NULL || expected == NULL) {
    free(zone);
    free(expected);
    return;
  }
  expected[expected_len] = '\0';
  static const size_t buffer_sizes[] = {0, 1, 2, 3, 7, 64, 1000};
  for (size_t b = 0; b < sizeof buffer_sizes / sizeof buffer_sizes[0]; b++) {
    struct input_options options;
    input_options_defaults(&options);
    options.read_buffer_bytes = buffer_sizes[b];
    struct collected c;
    read_memory(zone, zone_len, &options, &c);
    char joined[4096] = "";
    for (size_t i = 0; i < c.count; i++) {
      strcat(joined, c.names[i]);
      strcat(joined, "\n");
    }
    CHECK_STR(joined, expected);
    CHECK_INT(c.end_rc, 0);
    CHECK_INT(c.counts.invalid, 3);
    CHECK_INT(c.counts.bad_lines, 3);  /* an unknown directive, NS without a name, NS with two */
    CHECK_INT(c.counts.duplicates, 1); /* alpha again, not adjacent */
    CHECK(strstr(c.messages, "mem:34: unknown directive $FUTURE-DIRECTIVE") != NULL);
    CHECK(strstr(c.messages, "mem:40: invalid name \"esc\\.dot.test\": escaped dot") != NULL);
    collected_free(&c);
  }
  /* Given as gzip, in several members: the same. */
  size_t gz_len = 0;
  unsigned char *gz = gzip_members(zone, zone_len, 300, &gz_len);
  struct input_options options;
  input_options_defaults(&options);
  options.read_buffer_bytes = 50;
  struct collected c;
  read_memory(gz, gz_len, &options, &c);
  CHECK_INT(c.count, 11);
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.counts.bytes_read, zone_len);
  collected_free(&c);
  free(gz);
  free(zone);
  free(expected);
}

static void test_zone_apex_rules(void) {
  struct input_options options;
  struct collected c;
  /* No SOA, no $ORIGIN: absolute NS records cannot be placed. */
  const char *no_apex = "example.com. 3600 IN NS ns1.example.net.\n";
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_ZONE;
  read_memory(no_apex, strlen(no_apex), &options, &c);
  CHECK_INT(c.count, 0);
  CHECK_INT(c.counts.bad_lines, 1);
  CHECK(strstr(c.messages, "--origin") != NULL);
  collected_free(&c);
  /* --origin places them. */
  input_options_defaults(&options);
  options.zone_origin = "COM";
  read_memory(no_apex, strlen(no_apex), &options, &c);
  CHECK_INT(c.count, 1);
  CHECK_STR(c.count ? c.names[0] : NULL, "example.com");
  collected_free(&c);
  /* No $ORIGIN but an absolute SOA: relative names are completed with the
   * SOA's owner, as peers' loaders do (Knot's and NSD's test zones). */
  const char *soa_origin = "example. 86400 IN SOA ns1 admin 1 1800 900 604800 86400\n"
                           "        86400 IN NS ns1\n"
                           "ns1     3600 IN A 203.0.113.63\n"
                           "sub     7200 IN NS ns1.sub\n"
                           "$ORIGIN other.\n"
                           "x       7200 IN NS ns1.x\n";
  input_options_defaults(&options);
  read_memory(soa_origin, strlen(soa_origin), &options, &c);
  CHECK_INT(c.count, 1);
  CHECK_STR(c.count ? c.names[0] : NULL, "sub.example");
  CHECK_INT(c.counts.bad_lines, 0);
  collected_free(&c);
  /* The root zone: TLDs are the delegations. */
  const char *root = ".\t86400\tIN\tSOA\ta.root-servers.net. nstld.verisign-grs.com. 1 2 3 4 5\n"
                     ".\t518400\tIN\tNS\ta.root-servers.net.\n"
                     "com.\t172800\tIN\tNS\ta.gtld-servers.net.\n"
                     "a.gtld-servers.net.\t172800\tIN\tA\t192.5.6.30\n"
                     "xn--p1ai.\t172800\tIN\tNS\ta.dns.ripn.net.\n"
                     "*.\t172800\tIN\tNS\ta.example.\n";
  input_options_defaults(&options);
  read_memory(root, strlen(root), &options, &c);
  CHECK_INT(c.count, 2);
  CHECK_STR(c.count > 1 ? c.names[1] : NULL, "xn--p1ai");
  CHECK_INT(c.counts.invalid, 0); /* the wildcard is skipped, not invalid */
  collected_free(&c);
  /* A second SOA for another zone is refused; one for the same apex (AXFR
   * style, at both ends) is fine. */
  const char *two = "a. 1 IN SOA x. y. 1 2 3 4 5\nb.a. 1 IN NS x.\nb. 1 IN SOA x. y. 1 2 3 4 5\n"
                    "a. 1 IN SOA x. y. 1 2 3 4 5\n";
  input_options_defaults(&options);
  read_memory(two, strlen(two), &options, &c);
  CHECK_INT(c.count, 1);
  CHECK_INT(c.counts.bad_lines, 1);
  collected_free(&c);
  /* Parenthesis errors, unterminated quotes, a record left open at the end. */
  const char *broken = "t. 1 IN SOA x. y. 1 2 3 4 5\n"
                       "a.t. 1 IN TXT \"open\n"
                       "b.t. 1 IN NS x. )\n"
                       "c.t. 1 IN NS x.\n"
                       "d.t. 1 IN NS ( x.\n";
  input_options_defaults(&options);
  read_memory(broken, strlen(broken), &options, &c);
  CHECK_INT(c.count, 1);
  CHECK_STR(c.count ? c.names[0] : NULL, "c.t");
  CHECK_INT(c.counts.bad_lines, 3);
  CHECK(strstr(c.messages, "unterminated quoted string") != NULL);
  CHECK(strstr(c.messages, "end of file inside parentheses") != NULL);
  collected_free(&c);
  /* A bad token inside parentheses: the record is reported once and its
   * other lines are not read as records. */
  const char *bad_multi = "t. 1 IN SOA x. y. 1 2 3 4 5\n"
                          "a.t. 1 IN NS ( x. ?bad\n"
                          "b.t. 1 IN NS x. )\n"
                          "c.t. 1 IN NS x.\n";
  input_options_defaults(&options);
  read_memory(bad_multi, strlen(bad_multi), &options, &c);
  CHECK_INT(c.counts.bad_lines, 1);
  CHECK_INT(c.count, 1);
  CHECK_STR(c.count ? c.names[0] : NULL, "c.t");
  collected_free(&c);
  /* Owner-name syntax errors are bad lines, not invalid names. */
  const char *bad_owner = "t. 1 IN SOA x. y. 1 2 3 4 5\n"
                          "a\\300.t. 1 IN NS x.\n"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 IN NS x.\n"
                          " 1 IN NS y.\n";
  input_options_defaults(&options);
  read_memory(bad_owner, strlen(bad_owner), &options, &c);
  CHECK_INT(c.count, 0);
  CHECK_INT(c.counts.bad_lines, 3); /* the owner-less line has no owner to inherit */
  CHECK(strstr(c.messages, "longer than 63") != NULL);
  collected_free(&c);
}

static void test_list(void) {
  const char *list = "# a list\r\nExample.COM.\r\n\r\n  foo.org  # trailing comment\n"
                     "example.com\nbad_name.com\nfoo.org.\nhash#inside.com\ntwo fields.com\n"
                     "last.net";
  struct input_options options;
  input_options_defaults(&options);
  struct collected c;
  read_memory(list, strlen(list), &options, &c);
  CHECK_INT(c.count, 3);
  CHECK_STR(c.count > 2 ? c.names[2] : NULL, "last.net");
  CHECK_STR(c.count > 0 ? c.names[0] : NULL, "example.com");
  CHECK_INT(c.counts.duplicates, 2);
  CHECK_INT(c.counts.invalid, 2); /* bad_name.com, hash#inside.com */
  CHECK_INT(c.counts.bad_lines, 1);
  CHECK(strstr(c.messages, "mem:6: invalid name \"bad_name.com\": underscore") != NULL);
  CHECK(strstr(c.messages, "mem:9: more than one field") != NULL);
  CHECK_INT(c.ranks[0], -1);
  collected_free(&c);
}

static void test_csv(void) {
  const char *csv = "rank,domain\r\n1,google.com\r\n2,\"Facebook.COM\"\n3, youtube.com ,extra\n"
                    "x,bad.com\n4\n5,\n6,google.com\n";
  struct input_options options;
  input_options_defaults(&options);
  struct collected c;
  read_memory(csv, strlen(csv), &options, &c);
  CHECK_INT(c.count, 3);
  CHECK_STR(c.count > 1 ? c.names[1] : NULL, "facebook.com");
  CHECK_INT(c.ranks[0], 1);
  CHECK_INT(c.ranks[2], 3);
  CHECK_INT(c.counts.bad_lines, 3);
  CHECK_INT(c.counts.duplicates, 1);
  collected_free(&c);
  /* Without a header line. */
  const char *bare = "10,a.com\n20,b.com\n";
  input_options_defaults(&options);
  read_memory(bare, strlen(bare), &options, &c);
  CHECK_INT(c.count, 2);
  CHECK_INT(c.ranks[1], 20);
  collected_free(&c);
}

static void test_gzip_errors(void) {
  const char *list = "a.com\nb.com\nc.com\n";
  size_t gz_len = 0;
  unsigned char *gz = gzip_members(list, strlen(list), 6, &gz_len);
  struct input_options options;
  input_options_defaults(&options);
  struct collected c;
  read_memory(gz, gz_len, &options, &c);
  CHECK_INT(c.count, 3);
  CHECK_INT(c.end_rc, 0);
  collected_free(&c);
  /* Truncated: the names before the cut, then -1 with a message. */
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  read_memory(gz, gz_len - 5, &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "truncated gzip") != NULL);
  CHECK(c.count >= 2);
  collected_free(&c);
  /* Corrupt data after the header. */
  unsigned char *bad = malloc(gz_len);
  memcpy(bad, gz, gz_len);
  memset(bad + 10, 0xff, 8);
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  read_memory(bad, gz_len, &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "gzip") != NULL);
  collected_free(&c);
  /* Trailing zeros after the last member: ignored with a notice. */
  unsigned char *padded = calloc(1, gz_len + 512);
  memcpy(padded, gz, gz_len);
  input_options_defaults(&options);
  read_memory(padded, gz_len + 512, &options, &c);
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.count, 3);
  CHECK(strstr(c.messages, "trailing bytes") != NULL);
  collected_free(&c);
  free(padded);
  free(bad);
  free(gz);
}

static void test_binary_and_long_lines(void) {
  char why[256];
  struct input_options options;
  input_options_defaults(&options);
  unsigned char garbage[4096];
  for (size_t i = 0; i < sizeof garbage; i++) {
    garbage[i] = (unsigned char)(i * 131 + 7);
  }
  struct input_reader *reader = input_reader_open_memory(garbage, sizeof garbage, "garbage", &options, why, sizeof why);
  CHECK(reader != NULL);
  struct input_name name;
  CHECK_INT(input_reader_next(reader, &name, why, sizeof why), -1);
  CHECK(strstr(why, "binary") != NULL);
  input_reader_free(reader);

  /* A 1 MB line between two names: one bad line, both names kept. */
  size_t len = (1 << 20) + 64;
  char *data = malloc(len);
  memset(data, 'x', len);
  memcpy(data, "a.com\n", 6);
  memcpy(data + len - 7, "\nb.com\n", 7);
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  struct collected c;
  read_memory(data, len, &options, &c);
  CHECK_INT(c.count, 2);
  CHECK_INT(c.counts.bad_lines, 1);
  CHECK(strstr(c.messages, "mem:2: line longer than") != NULL);
  collected_free(&c);
  /* The same at the end without a newline. */
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  options.max_line_bytes = 100;
  options.read_buffer_bytes = 33;
  read_memory(data, len - 7, &options, &c);
  CHECK_INT(c.count, 1);
  CHECK_INT(c.counts.bad_lines, 1);
  collected_free(&c);
  free(data);
}

static char *numbered_list(size_t count, size_t *len) {
  char *data = malloc(count * 32 + 1);
  size_t used = 0;
  for (size_t i = 0; i < count; i++) {
    used += (size_t)sprintf(data + used, "name%zu.example\n", i);
  }
  *len = used;
  return data;
}

static void test_shard_sample_limit(void) {
  size_t len = 0;
  char *data = numbered_list(3000, &len);
  struct input_options options;
  struct collected c;
  size_t total = 0;
  static unsigned char owner[3000];
  memset(owner, 0, sizeof owner);
  for (unsigned shard = 0; shard < 3; shard++) {
    input_options_defaults(&options);
    options.shard_index = shard;
    options.shard_count = 3;
    read_memory(data, len, &options, &c);
    total += c.count;
    CHECK(c.count > 800 && c.count < 1200);
    for (size_t i = 0; i < c.count; i++) {
      size_t n = (size_t)strtoul(c.names[i] + 4, NULL, 10);
      CHECK(owner[n] == 0); /* disjoint */
      owner[n] = 1;
      CHECK(input_name_hash(c.names[i], strlen(c.names[i])) % 3 == shard);
    }
    collected_free(&c);
  }
  CHECK_INT(total, 3000);
  /* Sample: about the fraction, the same names every time. */
  input_options_defaults(&options);
  options.sample_fraction = 0.1;
  read_memory(data, len, &options, &c);
  struct collected again;
  read_memory(data, len, &options, &again);
  CHECK(c.count > 200 && c.count < 400);
  CHECK_INT(c.count, again.count);
  CHECK(c.count > 0 && again.count > 0 && strcmp(c.names[0], again.names[0]) == 0);
  CHECK_INT(c.counts.skipped_by_shard_or_sample, 3000 - c.count);
  collected_free(&c);
  collected_free(&again);
  /* Limit. */
  input_options_defaults(&options);
  options.limit = 7;
  read_memory(data, len, &options, &c);
  CHECK_INT(c.count, 7);
  CHECK_STR(c.names[6], "name6.example");
  collected_free(&c);
  /* Bad shard options are refused. */
  char why[128];
  input_options_defaults(&options);
  options.shard_index = 3;
  options.shard_count = 3;
  CHECK(input_reader_open_memory(data, len, "x", &options, why, sizeof why) == NULL);
  free(data);
}

/* A budget below what the list needs: exact while it fits, then the names
 * are passed on unchecked, counted, with one notice. */
/* The reader looks names up in the duplicate filter some names after
 * reading them (a prefetch pipeline): duplicates near and far, invalid names
 * and the end of input between them must come out exactly as a plain
 * first-seen filter says, with seqs and line numbers in input order. */
static void test_dedup_lookahead_order(void) {
  char data[8192];
  size_t used = 0;
  char expected[100][32];
  size_t expected_count = 0, invalid_lines = 0;
  for (int i = 0; i < 100; i++) {
    int id = i;
    if (i % 5 == 1) id = i - 1;       /* repeat of the name just before */
    else if (i % 7 == 3) id = i - 20; /* repeat from beyond the look-ahead */
    if (id < 0) id = i;
    if (i % 11 == 4) { /* lines 5, 16, 27, ...: bad..name1, bad..name0, bad..name2, ... */
      invalid_lines++;
      used += (size_t)snprintf(data + used, sizeof data - used, "bad..name%d\n", i % 3);
      continue;
    }
    used += (size_t)snprintf(data + used, sizeof data - used, "n%d.example\n", id);
    char name[32];
    snprintf(name, sizeof name, "n%d.example", id);
    bool seen = false;
    for (size_t k = 0; k < expected_count; k++) seen = seen || strcmp(expected[k], name) == 0;
    if (!seen) snprintf(expected[expected_count++], sizeof expected[0], "%s", name);
  }
  struct input_options options;
  input_options_defaults(&options);
  struct collected c;
  read_memory(data, used, &options, &c);
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.count, expected_count);
  bool same = c.count == expected_count;
  for (size_t k = 0; same && k < expected_count; k++) same = strcmp(c.names[k], expected[k]) == 0;
  CHECK(same);
  CHECK_INT(c.invalid, 3); /* bad..name0/1/2 once each */
  CHECK_INT(c.counts.names, expected_count + 3);
  CHECK_INT(c.counts.duplicates, (100 - invalid_lines - expected_count) + (invalid_lines - 3));
  /* Invalid names are reported once, in line order, with their own lines. */
  const char *first = strstr(c.messages, "mem:5: invalid name \"bad..name1\"");
  const char *second = strstr(c.messages, "mem:16: invalid name \"bad..name0\"");
  const char *third = strstr(c.messages, "mem:27: invalid name \"bad..name2\"");
  CHECK(first != NULL && second != NULL && third != NULL && first < second && second < third);
  CHECK_INT(c.message_count, 3);
  collected_free(&c);
}

/* The list of n numbered names twice in a row; *len: its length. */
static char *numbered_list_twice(size_t n, size_t *len) {
  size_t once = 0;
  char *data = numbered_list(n, &once);
  char *twice = malloc(2 * once);
  memcpy(twice, data, once);
  memcpy(twice + once, data, once);
  free(data);
  *len = 2 * once;
  return twice;
}

static void test_dedup_budget(void) {
  size_t len = 0;
  char *twice = numbered_list_twice(12000, &len);
  struct input_options options;
  struct collected c;
  input_options_defaults(&options);
  options.dedup_memory_bytes = 64 << 10; /* 8192 slots, 7168 names */
  read_memory(twice, len, &options, &c);
  CHECK_INT(c.counts.duplicates, 7168);
  CHECK_INT(c.counts.dedup_untracked, 2 * 12000 - 2 * 7168);
  CHECK_INT(c.counts.names, 2 * 12000 - 7168);
  CHECK_INT(c.message_count, 1);
  CHECK(strstr(c.messages, "duplicate filter full") != NULL);
  collected_free(&c);
  input_options_defaults(&options);
  read_memory(twice, len, &options, &c);
  CHECK_INT(c.counts.duplicates, 12000);
  CHECK_INT(c.counts.names, 12000);
  CHECK_INT(c.counts.dedup_untracked, 0);
  collected_free(&c);
  free(twice);
}

/* The filter starts small and grows in place up to the budget: keys stay
 * found across growths (64 KiB -> 96 KiB here, not a doubling), and the
 * limit at the budget is 7/8 of its slots as for a table of the budget. */
static void test_dedup_growth(void) {
  size_t len = 0;
  char *twice = numbered_list_twice(12000, &len);
  struct input_options options;
  struct collected c;
  input_options_defaults(&options);
  options.dedup_memory_bytes = 96 << 10; /* 12288 slots, 10752 names */
  read_memory(twice, len, &options, &c);
  CHECK_INT(c.counts.duplicates, 10752);
  CHECK_INT(c.counts.dedup_untracked, 2 * 12000 - 2 * 10752);
  CHECK_INT(c.counts.names, 2 * 12000 - 10752);
  collected_free(&c);
  free(twice);
}

static void test_diagnostics_cap_and_checksum(void) {
  const char *list = "a b\nc d\ne f\ng h\nok.com\n";
  struct input_options options;
  input_options_defaults(&options);
  options.max_reported_errors = 2;
  options.format = INPUT_FORMAT_LIST;
  struct collected c;
  read_memory(list, strlen(list), &options, &c);
  CHECK_INT(c.counts.bad_lines, 4);
  CHECK_INT(c.message_count, 3); /* two in full, one summary */
  CHECK(strstr(c.messages, "2 more problems not shown") != NULL);
  collected_free(&c);

  char why[128];
  input_options_defaults(&options);
  struct input_reader *reader = input_reader_open_memory(list, strlen(list), "x", &options, why, sizeof why);
  struct input_name name;
  while (input_reader_next(reader, &name, why, sizeof why) == 1) {
  }
  unsigned char digest[32];
  unsigned int digest_len = 0;
  EVP_Digest(list, strlen(list), digest, &digest_len, EVP_sha256(), NULL);
  char hex[65];
  for (unsigned i = 0; i < 32; i++) {
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
  CHECK_STR(input_reader_checksum(reader, 0), hex);
  CHECK(input_reader_checksum(reader, 1) == NULL);
  input_reader_free(reader);
}

static void test_open_files(void) {
  char why[256];
  struct input_options options;
  input_options_defaults(&options);
  const char *missing[] = {"/nonexistent/zone.gz"};
  CHECK(input_reader_open(missing, 1, &options, why, sizeof why) == NULL);
  CHECK(strstr(why, "/nonexistent/zone.gz") != NULL);
  const char *paths[] = {data_path("tld.zone")};
  char path_copy[1024];
  snprintf(path_copy, sizeof path_copy, "%s", paths[0]);
  const char *two[] = {path_copy, path_copy};
  struct input_reader *reader = input_reader_open(two, 2, &options, why, sizeof why);
  CHECK(reader != NULL);
  if (reader == NULL) {
    return;
  }
  struct input_name name;
  size_t count = 0;
  unsigned last_file = 0;
  while (input_reader_next(reader, &name, why, sizeof why) == 1) {
    count++;
    last_file = name.file_index;
  }
  CHECK_INT(count, 14); /* the second copy adds only duplicates */
  CHECK_INT(last_file, 0);
  struct input_counts counts;
  input_reader_get_counts(reader, &counts);
  CHECK_INT(counts.duplicates, 2 * 1 + 14);
  CHECK(input_reader_checksum(reader, 1) != NULL);
  CHECK_STR(input_reader_checksum(reader, 0), input_reader_checksum(reader, 1));
  input_reader_free(reader);
  input_reader_free(NULL);
}

/* The names collected, one per line, for comparing with a literal. */
static void joined_names(const struct collected *c, char *out, size_t out_size) {
  out[0] = '\0';
  for (size_t i = 0; i < c->count; i++) {
    size_t used = strlen(out);
    snprintf(out + used, out_size - used, "%s\n", c->names[i]);
  }
}

/* Issue 16, 1: detection. A multi-line SOA (its continuation lines are one
 * word each) and a signed zone's base64 lines made auto-detection pick
 * "list"; a $TTL or an SOA now decides "zone". A detected file that is
 * mostly bad lines ends the input with an error naming it. */
static void test_zone_detection(void) {
  struct input_options options;
  struct collected c;
  char joined[1024];
  const char *minimal = "$TTL 300\n"
                        "example. IN SOA ns.example. hostmaster.example. (\n"
                        "        1\n        3600\n        1800\n        1814400\n        3600\n        )\n"
                        "example. NS ns.example.\n"
                        "child.example. NS ns.child.example.\n";
  input_options_defaults(&options);
  read_memory(minimal, strlen(minimal), &options, &c);
  joined_names(&c, joined, sizeof joined);
  CHECK_STR(joined, "child.example\n");
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.counts.bad_lines, 0);
  collected_free(&c);
  /* No directive: the SOA line itself decides, whatever follows. */
  const char *signed_zone = "example. 300 IN SOA ns.example. h.example. ( 1 2 3 4 5 )\n"
                            "example. 300 IN DNSKEY 257 3 13 (\n"
                            "  mdsswUyr3DPW132mOi8V9xESWE8jTo0d\n"
                            "  xCjjnopKl+GqJxpVXckHAeF+KkxLbxIL\n"
                            "  fDLUT0rAK9iUzy1L53eKGQ==\n"
                            "  )\n"
                            "example. 300 IN RRSIG DNSKEY 13 1 300 20300101000000 20200101000000 1 example. (\n"
                            "  AAAAbase64fragmentnumberone\n  AAAAbase64fragmentnumbertwo\n"
                            "  AAAAbase64fragmentnumberthree\n  AAAAbase64fragmentnumberfour )\n"
                            "a.example. 300 IN NS ns.a.example.\n"
                            "b.example. 300 IN NS ns.b.example.\n";
  input_options_defaults(&options);
  read_memory(signed_zone, strlen(signed_zone), &options, &c);
  joined_names(&c, joined, sizeof joined);
  CHECK_STR(joined, "a.example\nb.example\n");
  CHECK_INT(c.end_rc, 0);
  collected_free(&c);
  /* Detected as a zone ($TTL), but every record is bad: an error. */
  const char *mostly_bad = "$TTL 300\na.com\nb.com\nc.com\n";
  input_options_defaults(&options);
  read_memory(mostly_bad, strlen(mostly_bad), &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "mem: 3 of the first 4 lines are bad lines as a zone file") != NULL);
  collected_free(&c);
  /* The same with the format given: bad lines, counted, exit as before. */
  options.format = INPUT_FORMAT_ZONE;
  read_memory(mostly_bad, strlen(mostly_bad), &options, &c);
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.counts.bad_lines, 3);
  collected_free(&c);
  /* Half bad is not "mostly". */
  const char *half = "a.com\nb c\n";
  input_options_defaults(&options);
  read_memory(half, strlen(half), &options, &c);
  CHECK_INT(c.end_rc, 0);
  collected_free(&c);
}

/* Issue 16, 2: NS in RFC 3597's generic form, TYPE2 and CLASS1. */
static void test_zone_generic_rdata(void) {
  const char *zone = "example. 300 IN SOA ns h 1 2 3 4 5\n"
                     "a NS \\# 4 026e7300\n"
                     "b TYPE2 \\# 4 026e7300\n"
                     "c CLASS1 TYPE2 ns.example.\n"
                     "d NS \\# ( 4\n 026e\n 7300 )\n"
                     "e NS \\# 4 026e73\n"      /* 3 bytes of hex for 4 */
                     "f NS \\# 4 036e7300\n"    /* not one name */
                     "g NS \\# 4 026e7300 ff\n" /* more hex than the length */
                     "h NS \\# x 00\n"          /* no length */
                     "i TYPE6 \\# 0\n"          /* generic SOA of another name: one zone per file */
                     "j CLASS3 NS ns\n"         /* CH: skipped */
                     "k NS \\# 1 00\n"          /* the root as NS target: fine */
                     "l TYPE5050 \\# 1 aa\n";   /* other types: not read */
  struct input_options options;
  struct collected c;
  char joined[1024];
  input_options_defaults(&options);
  options.zone_origin = "example";
  read_memory(zone, strlen(zone), &options, &c);
  joined_names(&c, joined, sizeof joined);
  CHECK_STR(joined, "a.example\nb.example\nc.example\nd.example\nk.example\n");
  CHECK_INT(c.counts.bad_lines, 5);
  CHECK(strstr(c.messages, "mem:8: generic rdata (\\#): length 4 but 6 hex digits given") != NULL);
  CHECK(strstr(c.messages, "mem:9: generic NS rdata of 4 bytes is not exactly one name") != NULL);
  CHECK(strstr(c.messages, "mem:10: generic rdata (\\#): more hex than the length of 4 bytes") != NULL);
  CHECK(strstr(c.messages, "mem:11: generic rdata (\\#): the length is not a number") != NULL);
  CHECK(strstr(c.messages, "mem:12: SOA of i.example in the zone of example") != NULL);
  collected_free(&c);
}

/* Issue 16, 3: BIND's $GENERATE of NS records, one name at a time. */
static void test_zone_generate(void) {
  const char *zone = "$ORIGIN example.\n"
                     "@ 300 IN SOA ns h 1 2 3 4 5\n"
                     "$GENERATE 1-3 child$ NS ns$\n"
                     "$GENERATE 1-3 h$ A 192.0.2.$\n"             /* not NS: skipped */
                     "$GENERATE 8-12/4 w${-8,3,d} 300 IN NS ns\n" /* w000, w004 */
                     "$GENERATE 10-11 ${0,2,x}-${0,0,X}-${0,3,o} NS ns\n"
                     "$GENERATE 0-1 n\\$$ NS ns\n"    /* "n\$0": invalid */
                     "$GENERATE 1-1 ${0,3,n} NS ns\n" /* 1.0: two labels */
                     "$GENERATE 1-1000001 q$ NS ns\n"
                     "$GENERATE 5-1 q$ NS ns\n"
                     "$GENERATE 1-2 q${1,2 NS ns\n"
                     "$GENERATE 1-2 q$ NS\n"
                     "$GENERATE 1-50000 big$ NS ns.big$\n";
  struct input_options options;
  struct collected c;
  input_options_defaults(&options);
  read_memory(zone, strlen(zone), &options, &c);
  CHECK_INT(c.count, 3 + 2 + 2 + 50000);
  if (c.count == 3 + 2 + 2 + 50000) {
    CHECK_STR(c.names[0], "child1.example");
    CHECK_STR(c.names[2], "child3.example");
    CHECK_STR(c.names[3], "w000.example");
    CHECK_STR(c.names[4], "w004.example");
    CHECK_STR(c.names[5], "0a-a-012.example");
    CHECK_STR(c.names[6], "0b-b-013.example");
    CHECK_STR(c.names[7], "big1.example");
    CHECK_STR(c.names[c.count - 1], "big50000.example");
  }
  CHECK_INT(c.invalid, 2); /* n$0, n$1: a '$' is not a hostname byte */
  CHECK_INT(c.counts.bad_lines, 4);
  CHECK(strstr(c.messages, "mem:9: $GENERATE range of 1000001 names above the limit of 1000000") != NULL);
  CHECK(strstr(c.messages, "mem:10: $GENERATE: bad range") != NULL);
  CHECK(strstr(c.messages, "mem:11: $GENERATE: bad modifier") != NULL);
  CHECK(strstr(c.messages, "mem:12: $GENERATE needs a range, an owner, a type and rdata") != NULL);
  collected_free(&c);
  /* --limit stops inside a range. */
  input_options_defaults(&options);
  options.limit = 4;
  read_memory(zone, strlen(zone), &options, &c);
  CHECK_INT(c.count, 4);
  CHECK_STR(c.count == 4 ? c.names[3] : NULL, "w000.example");
  collected_free(&c);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* Reads one file from disk; diagnostics go to c->messages. */
static void read_path(const char *path, struct input_options *options, struct collected *c) {
  memset(c, 0, sizeof *c);
  options->diagnostic = collect_message;
  options->diagnostic_arg = c;
  char why[256];
  const char *paths[] = {path};
  struct input_reader *reader = input_reader_open(paths, 1, options, why, sizeof why);
  CHECK(reader != NULL);
  if (reader == NULL) {
    c->names = calloc(1, sizeof *c->names);
    return;
  }
  drain(reader, c);
  input_reader_free(reader);
}

/* Issue 16, 3: $INCLUDE relative to the including file, with an origin,
 * nested; messages name the included file and its line; a missing file, a
 * loop and an in-memory input end the input. */
static void test_zone_include(void) {
  char dir[] = "/tmp/danescan-include-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256], sub[256];
  snprintf(sub, sizeof sub, "%s/parts", dir);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(path, sizeof path, "%s/parts/a.zone", dir);
  write_text(path, "a NS ns\nbad_owner. NS\n$INCLUDE nested.zone\n");
  snprintf(path, sizeof path, "%s/parts/nested.zone", dir);
  write_text(path, "n NS ns\n");
  snprintf(path, sizeof path, "%s/parts/c.zone", dir);
  write_text(path, "@ NS ns\nsub NS ns\n");
  snprintf(path, sizeof path, "%s/top.zone", dir);
  write_text(path,
             "$ORIGIN example.\n@ 300 IN SOA ns h 1 2 3 4 5\nb NS ns\n$INCLUDE parts/a.zone\n"
             "  NS ns2\n$INCLUDE \"parts/c.zone\" c.example.\nd NS ns\n");
  struct input_options options;
  struct collected c;
  char joined[1024];
  input_options_defaults(&options);
  read_path(path, &options, &c);
  joined_names(&c, joined, sizeof joined);
  CHECK_STR(joined, "b.example\na.example\nn.example\nc.example\nd.example\n");
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.counts.bad_lines, 1);
  CHECK(strstr(c.messages, "parts/a.zone:2: NS record with 0 fields") != NULL);
  CHECK(strstr(c.messages, "parts/nested.zone: included file read to the end (1 lines, sha256 ") != NULL);
  collected_free(&c);
  /* A missing included file. */
  snprintf(path, sizeof path, "%s/missing.zone", dir);
  write_text(path, "example. 300 IN SOA ns h 1 2 3 4 5\n$INCLUDE none.zone\n");
  read_path(path, &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "missing.zone:2: $INCLUDE ") != NULL && strstr(c.why, "none.zone: No such file") != NULL);
  collected_free(&c);
  /* A loop through two files. */
  snprintf(path, sizeof path, "%s/parts/loop.zone", dir);
  write_text(path, "x NS ns\n$INCLUDE ../loop.zone\n");
  snprintf(path, sizeof path, "%s/loop.zone", dir);
  write_text(path, "example. 300 IN SOA ns h 1 2 3 4 5\n$INCLUDE parts/loop.zone\n");
  read_path(path, &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "parts/loop.zone:2: $INCLUDE ") != NULL && strstr(c.why, "a loop") != NULL);
  collected_free(&c);
  /* From memory (as from standard input) there is no directory. */
  const char *memory = "example. 300 IN SOA ns h 1 2 3 4 5\n$INCLUDE parts/a.zone\n";
  read_memory(memory, strlen(memory), &options, &c);
  CHECK_INT(c.end_rc, -1);
  CHECK(strstr(c.why, "mem:2: $INCLUDE parts/a.zone refused") != NULL);
  collected_free(&c);
  const char *files[] = {"parts/a.zone", "parts/nested.zone", "parts/c.zone", "parts/loop.zone",
                         "top.zone",     "missing.zone",      "loop.zone"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(sub);
  rmdir(dir);
}

/* Issue 17: the NS targets of each delegation (input_name.ns), for DNS
 * operator attribution: every adjacent NS record of the owner, relative
 * names completed with the origin in force, distinct, in zone order; glue
 * and other records between them do not split the set; the generic form
 * and $GENERATE give targets too. */
static void ns_lines(const char *data, struct input_options *options, char *out, size_t out_size, struct collected *c) {
  memset(c, 0, sizeof *c);
  options->diagnostic = collect_message;
  options->diagnostic_arg = c;
  char why[256];
  struct input_reader *reader = input_reader_open_memory(data, strlen(data), "mem", options, why, sizeof why);
  CHECK(reader != NULL);
  out[0] = '\0';
  if (reader == NULL) {
    return;
  }
  struct input_name name;
  int rc;
  while ((rc = input_reader_next(reader, &name, c->why, sizeof c->why)) == 1) {
    size_t used = strlen(out);
    snprintf(out + used, out_size - used, "%s%s:%llu\t%s\n", name.invalid ? "!" : "", name.name,
             (unsigned long long)name.line, name.ns);
  }
  c->end_rc = rc;
  input_reader_get_counts(reader, &c->counts);
  input_reader_free(reader);
}

static void test_zone_ns_targets(void) {
  const char *zone = "$ORIGIN example.\n"              /* 1 */
                     "@ 300 IN SOA ns h 1 2 3 4 5\n"   /* 2 */
                     "@ NS a.nic.example.\n"           /* 3: apex: not a delegation */
                     "alpha NS ns1.dnsprov.net.\n"     /* 4 */
                     "alpha NS NS2.DnsProv.NET.\n"     /* 5: lower-cased */
                     "alpha DS 1 2 3 ABCD\n"           /* 6: another type of the owner */
                     "ns1.alpha A 192.0.2.1\n"         /* 7: glue below it */
                     "alpha NS ns1.dnsprov.net.\n"     /* 8: the same target again */
                     "alpha 300 IN NS ns.alpha\n"      /* 9: relative */
                     "beta NS (\n ns.other.co.uk. )\n" /* 10-11: parentheses; the line where it ends */
                     "\tNS @\n"                        /* 12: owner-less, the origin */
                     "gamma TYPE2 \\# 14 036e7331044143444503636f6d00\n" /* 13: generic, ns1.ACDE.com */
                     "$ORIGIN sub.example.\n"                            /* 14 */
                     "x NS ns.x\n"                                       /* 15: deeper: not one */
                     "$ORIGIN example.\n"                                /* 16 */
                     "delta NS ns_1.bad.\n"                              /* 17: not a host name: left out */
                     "delta NS \"quoted.\"\n"                            /* 18: quoted: left out */
                     "epsilon NS ns_1.bad.\n"                            /* 19: no target at all */
                     "*.zeta NS ns.wild.\n"                              /* 20: deeper */
                     "* NS ns.wild.\n"                                   /* 21: wildcard: no name */
                     "$GENERATE 1-2 g$ NS ns${0,2}.gen.org.\n"           /* 22 */
                     "_bad NS ns1.dnsprov.net.\n"                        /* 23: invalid owner, still its NS */
                     "alpha NS late.example.\n"                          /* 24: a later set: a duplicate */
                     "eta NS ns.eta.\n";                                 /* 25: the last: flushed at the end */
  struct input_options options;
  struct collected c;
  char out[4096];
  input_options_defaults(&options);
  ns_lines(zone, &options, out, sizeof out, &c);
  CHECK_STR(out,
            "alpha.example:4\tns1.dnsprov.net ns2.dnsprov.net ns.alpha.example\n"
            "beta.example:11\tns.other.co.uk example\n"
            "gamma.example:13\tns1.acde.com\n"
            "delta.example:17\t\n"
            "epsilon.example:19\t\n"
            "g1.example:22\tns01.gen.org\n"
            "g2.example:22\tns02.gen.org\n"
            "!_bad.example:23\tns1.dnsprov.net\n"
            "eta.example:25\tns.eta\n");
  CHECK_INT(c.end_rc, 0);
  CHECK_INT(c.counts.duplicates, 1);
  CHECK_INT(c.counts.bad_lines, 0);
  /* The invalid owner is reported at its own line, not when emitted. */
  CHECK(strstr(c.messages, "mem:23: invalid name \"_bad.example\"") != NULL);

  /* --limit: the names up to the limit, each with its whole set. */
  input_options_defaults(&options);
  options.limit = 2;
  ns_lines(zone, &options, out, sizeof out, &c);
  CHECK_STR(out,
            "alpha.example:4\tns1.dnsprov.net ns2.dnsprov.net ns.alpha.example\n"
            "beta.example:11\tns.other.co.uk example\n");
  /* --shard: a name left out is not held, and does not swallow the next. */
  input_options_defaults(&options);
  options.shard_count = 2;
  options.shard_index = 0;
  char even[4096];
  ns_lines(zone, &options, even, sizeof even, &c);
  options.shard_index = 1;
  char odd[4096];
  ns_lines(zone, &options, odd, sizeof odd, &c);
  CHECK_INT(strlen(even) + strlen(odd),
            strlen("alpha.example:4\tns1.dnsprov.net ns2.dnsprov.net ns.alpha.example\n"
                   "beta.example:11\tns.other.co.uk example\n"
                   "gamma.example:13\tns1.acde.com\n"
                   "delta.example:17\t\n"
                   "epsilon.example:19\t\n"
                   "g1.example:22\tns01.gen.org\n"
                   "g2.example:22\tns02.gen.org\n"
                   "!_bad.example:23\tns1.dnsprov.net\n"
                   "eta.example:25\tns.eta\n"));
  CHECK(strstr(even, "alpha.example:4\tns1.dnsprov.net ns2.dnsprov.net ns.alpha.example\n") != NULL ||
        strstr(odd, "alpha.example:4\tns1.dnsprov.net ns2.dnsprov.net ns.alpha.example\n") != NULL);

  /* A set longer than INPUT_NS_MAX_BYTES keeps the targets that fit. */
  char big[16384] = "$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n";
  for (int i = 0; i < 40; i++) {
    size_t used = strlen(big);
    snprintf(big + used, sizeof big - used, "many NS ns%02d.a-rather-long-name-server-label.example.net.\n", i);
  }
  input_options_defaults(&options);
  ns_lines(big, &options, out, sizeof out, &c);
  const char *many = "many.example:3\tns00.a-rather-long-name-server-label.example.net ns01.";
  CHECK(strncmp(out, many, strlen(many)) == 0);
  size_t ns_len = strlen(strchr(out, '\t') + 1) - 1;
  CHECK(ns_len < INPUT_NS_MAX_BYTES && ns_len > INPUT_NS_MAX_BYTES - 50);
  CHECK(out[strlen(out) - 2] != ' ');

  /* The host-name rule on targets, lower case (the fast path) and not:
   * hyphens at label ends, 63 and 64-byte labels, an all-digit last
   * label, an escaped dot, labels across 16-byte blocks. */
  char label63[64], label64[65];
  memset(label63, 'a', 63);
  label63[63] = '\0';
  memset(label64, 'b', 64);
  label64[64] = '\0';
  char edge[2048];
  snprintf(edge, sizeof edge,
           "$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n"
           "edge NS -a.example.net.\nedge NS a-.example.net.\nedge NS xn--bcher-kva.example.net.\n"
           "edge NS %s.example.net.\nedge NS %s.example.net.\nedge NS ns.123.\nedge NS ns.x123.\n"
           "edge NS a\\.b.example.net.\nedge NS ns-1.a-very-long-label-here.and-another-one.example.org.\n"
           "edge NS NS-2.A-Very-Long-Label-Here.And-Another-One.EXAMPLE.ORG.\nedge NS -B.example.net.\n"
           "edge NS ns.example.net\n",
           label63, label64);
  input_options_defaults(&options);
  ns_lines(edge, &options, out, sizeof out, &c);
  char want[1024];
  snprintf(want, sizeof want,
           "edge.example:3\txn--bcher-kva.example.net %s.example.net ns.x123 "
           "ns-1.a-very-long-label-here.and-another-one.example.org "
           "ns-2.a-very-long-label-here.and-another-one.example.org ns.example.net.example\n",
           label63);
  CHECK_STR(out, want);

  /* Lists and CSV have no NS data. */
  input_options_defaults(&options);
  ns_lines("a.com\nb.org\n", &options, out, sizeof out, &c);
  CHECK_STR(out, "a.com:1\t\nb.org:2\t\n");
}

UNIT_MAIN(UNIT_TEST(test_name_rule), UNIT_TEST(test_tld_zone), UNIT_TEST(test_zone_apex_rules), UNIT_TEST(test_list),
          UNIT_TEST(test_csv), UNIT_TEST(test_gzip_errors), UNIT_TEST(test_binary_and_long_lines),
          UNIT_TEST(test_shard_sample_limit), UNIT_TEST(test_dedup_lookahead_order), UNIT_TEST(test_dedup_budget),
          UNIT_TEST(test_dedup_growth), UNIT_TEST(test_diagnostics_cap_and_checksum), UNIT_TEST(test_open_files),
          UNIT_TEST(test_zone_detection), UNIT_TEST(test_zone_generic_rdata), UNIT_TEST(test_zone_generate),
          UNIT_TEST(test_zone_include), UNIT_TEST(test_zone_ns_targets))
