/* Input readers: turn the files researchers have (TLD zone files, domain
 * lists, ranked CSV top lists; plain or gzip'd, detected by content; "-" for
 * standard input) into a stream of domain names, each once, in input order.
 * Streaming: memory does not depend on the input's size. Bad lines are
 * reported (file and line) through the diagnostics callback, counted, and
 * skipped; names that are not valid domain names are emitted with
 * input_name.invalid set and a reason, so the scan can record `invalid-name`.
 * It does not resolve anything. */
#ifndef DANESCAN_INPUT_H
#define DANESCAN_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INPUT_NAME_MAX_BYTES 256 /* presentation form, lower case, no trailing dot */
#define INPUT_REASON_MAX_BYTES 128
#define INPUT_NS_MAX_BYTES 512 /* input_name.ns */

enum input_format { INPUT_FORMAT_AUTO = 0, INPUT_FORMAT_ZONE, INPUT_FORMAT_LIST, INPUT_FORMAT_CSV };

struct input_options {
  enum input_format format;     /* AUTO: detect per file */
  unsigned shard_index;         /* --shard I/N: keep names with hash % N == I */
  unsigned shard_count;         /* 0 or 1: no sharding */
  double sample_fraction;       /* --sample P in (0,1]; 1 keeps all (deterministic by hash) */
  uint64_t limit;               /* --limit N: stop after N names; 0 = no limit */
  size_t dedup_memory_bytes;    /* budget of the duplicate filter (min 64 KiB); when
                                   * full, later names pass unchecked (dedup_untracked) */
  unsigned max_reported_errors; /* bad lines reported in full, then only counted */
  /* Called from input_reader_next, on the caller's thread: once per bad line
   * or invalid name reported in full (message names the file and line:
   * "zone.gz:1043: owner: name has a label longer than 63 bytes"), once per
   * notice (duplicate filter full, bytes after the gzip data), and once at
   * the end with a summary when more were counted than reported. NULL:
   * silent. */
  void (*diagnostic)(const char *message, void *arg);
  void *diagnostic_arg;
  /* Extensions (input_options_defaults sets them; see inputs/README.md): */
  const char *zone_origin;  /* --origin: apex of zone files; NULL = first SOA owner
                               * (or the current $ORIGIN if an NS comes first) */
  size_t read_buffer_bytes; /* bytes per read()/inflate() block; default 1 MiB. The
                             * read-ahead thread holds 5 of them (4 blocks, 1 raw) */
  size_t max_line_bytes;    /* longer lines are bad lines; default 256 KiB */
};

/* AUTO format, no shard/sample/limit, dedup 48 MiB, 10 errors in full, no
 * diagnostic callback (silent), 1 MiB reads, 256 KiB lines. */
void input_options_defaults(struct input_options *options);

/* One emitted name. The strings live in the struct. */
struct input_name {
  char name[INPUT_NAME_MAX_BYTES]; /* normalised; for invalid: the raw text, escaped, capped */
  bool invalid;                    /* not a valid domain name: see reason */
  char reason[INPUT_REASON_MAX_BYTES];
  uint64_t seq;        /* 0-based ordinal among emitted names (resume key) */
  unsigned file_index; /* which input file */
  uint64_t line;       /* 1-based line in that file (of its $INCLUDE line for a
                        * name from an included file) */
  int64_t rank;        /* CSV rank, -1 if none */
  /* Zone inputs: the targets of the name's NS records in the zone (the name
   * servers the parent delegates to), normalised, distinct, separated by one
   * space, in zone order; targets that are not host names, and those past
   * INPUT_NS_MAX_BYTES, are left out. The NS set is the one of the name's
   * first delegation (its NS records are adjacent in a zone; a later,
   * separate set of the same name is a duplicate and dropped). "" for list
   * and CSV inputs: no NS data. */
  char ns[INPUT_NS_MAX_BYTES];
};

struct input_counts {
  uint64_t names;      /* emitted (valid and invalid) */
  uint64_t invalid;    /* emitted as invalid */
  uint64_t duplicates; /* dropped as seen before */
  uint64_t bad_lines;  /* lines that could not be parsed at all */
  uint64_t skipped_by_shard_or_sample;
  uint64_t bytes_read;      /* uncompressed bytes */
  uint64_t dedup_untracked; /* emitted after the duplicate filter was full: not
                               * checked against names before (one warning) */
};

struct input_reader;

/* Opens the files (in order). Returns NULL with a message in why when a file
 * cannot be opened or its format cannot be told. The reader owns its file
 * handles; paths are copied. */
struct input_reader *input_reader_open(const char *const *paths, size_t path_count, const struct input_options *options,
                                       char *why, size_t why_len);

/* Next name: returns 1 and fills out, 0 at the end, -1 with a message in why
 * on an error that ends the input: an I/O error (truncated gzip, read
 * error), a zone file's $INCLUDE that cannot be followed (missing file,
 * loop, too deep, or read from standard input or memory: "zone.db:12:
 * $INCLUDE part.db: No such file or directory"), or a file whose format was
 * detected (not given) with more than half of its first 1000 content lines
 * bad. Names emitted before stay valid. */
int input_reader_next(struct input_reader *reader, struct input_name *out, char *why, size_t why_len);

/* As input_reader_open, on one in-memory input (plain or gzip'd) named
 * display_name in messages. data is not copied: it must outlive the reader.
 * For tests and fuzzers. */
struct input_reader *input_reader_open_memory(const void *data, size_t data_len, const char *display_name,
                                              const struct input_options *options, char *why, size_t why_len);

void input_reader_get_counts(const struct input_reader *reader, struct input_counts *out);

/* SHA-256 (hex) of each input file's raw bytes read so far; complete after
 * the end is reached. Owned by the reader. NULL for "-" read from a pipe
 * before the end. Files a zone file $INCLUDEs are not part of it: each is
 * reported through the diagnostic callback with its own SHA-256 when read
 * to the end. */
const char *input_reader_checksum(const struct input_reader *reader, size_t file_index);

void input_reader_free(struct input_reader *reader);

/* Domain name validation and normalisation (also used for MX targets).
 * Accepts an A-label name with or without the trailing dot, any case; writes
 * lower case without the trailing dot to out (INPUT_NAME_MAX_BYTES).
 * Returns 0, or -1 with a reason ("label of 70 bytes (longer than 63)",
 * "non-ASCII byte 0xc3: IDN names must be A-labels", ...). The rule (see
 * inputs/README.md): 1..253 bytes, labels 1..63 bytes of letters, digits and
 * hyphen, no hyphen at a label's ends, last label not all digits. Underscores
 * are always refused: neither a mail domain nor an MX host name has one. */
int input_name_normalise(const char *text, size_t text_len, char *out, char *reason, size_t reason_len);

/* FNV-1a 64 of the normalised name's bytes (offset basis 0xcbf29ce484222325,
 * prime 0x100000001b3). Stable across versions: --shard I/N keeps names
 * with input_name_hash % N == I. */
uint64_t input_name_hash(const char *name, size_t name_len);

/* "zone", "list", "csv", "auto". */
const char *input_format_name(enum input_format format);

#endif
