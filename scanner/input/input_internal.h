/* Internals shared by the input reader's files (not part of the contract in
 * input.h): the hostname rule on wire-form names, escaping for messages, the
 * hash mixers, the bounded duplicate filter and the zone-file tokenizer. */
#ifndef DANESCAN_INPUT_INTERNAL_H
#define DANESCAN_INPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "input/input.h"

#define INPUT_WIRE_MAX_BYTES 255 /* RFC 1035 2.3.4: a name on the wire */
#define INPUT_LABEL_MAX_BYTES 63
#define INPUT_TEXT_MAX_BYTES 253 /* presentation form without trailing dot */

/* The hostname rule (see inputs/README.md) on an uncompressed wire-form name
 * (length-prefixed labels ending with the root label), already lower case.
 * Returns 0, or -1 with a reason. */
int input_hostname_check_wire(const uint8_t *wire, size_t wire_len, char *reason, size_t reason_len);

/* Wire form to presentation: labels joined by '.', no trailing dot, '.' and
 * '\\' escaped with a backslash, bytes outside 0x21..0x7e as \DDD. Output is
 * capped (NUL-terminated) at out_size. Returns the length written. */
size_t input_wire_to_text(const uint8_t *wire, size_t wire_len, char *out, size_t out_size);

/* Raw bytes for a message or an invalid entry: printable ASCII kept, others
 * as \DDD, capped at out_size (NUL-terminated, truncation marked "..."). */
void input_escape_raw(const char *text, size_t text_len, char *out, size_t out_size);

/* MurmurHash3's 64-bit finaliser: spreads the FNV hash's bits. */
uint64_t input_mix64(uint64_t x);

/* Duplicate filter: an open-addressing set of name hashes (63 bits of the
 * key) in one array that starts at 64 KiB and doubles in place when half
 * full, up to budget_bytes / 8 slots (never more memory than the budget).
 * At the budget and 7/8 load it stops taking new keys (full) but still
 * answers for the keys it holds. */
struct input_dedup;
struct input_dedup *input_dedup_new(size_t budget_bytes);
void input_dedup_free(struct input_dedup *dedup);
/* Returns 1 if key was seen before, 0 if inserted now, -1 if not seen and the
 * set is full (not inserted). */
int input_dedup_check_insert(struct input_dedup *dedup, uint64_t key);
/* Starts loading the cache line where key's lookup begins (a hint, no
 * effect on the set), so a check_insert some names later does not wait for
 * memory: with millions of names the array is far larger than the CPU
 * caches. */
void input_dedup_prefetch(const struct input_dedup *dedup, uint64_t key);

/* Zone-file tokenizer: fed one physical line at a time (without the '\n'),
 * keeps the state a record spanning lines needs. It never opens files:
 * $INCLUDE is handed back to the reader (INPUT_ZONE_INCLUDE). */
struct input_zone;

/* $INCLUDE nesting: the top file plus this many included levels. */
#define INPUT_ZONE_INCLUDE_MAX_DEPTH 8
#define INPUT_ZONE_INCLUDE_PATH_MAX_BYTES 1024
/* $GENERATE: names one line may yield (BIND has no cap but 31-bit values;
 * one line of a TLD zone yielding more than a million delegations is far
 * more likely a typo than a zone), and the owner template's length. */
#define INPUT_ZONE_GENERATE_MAX_NAMES 1000000
#define INPUT_ZONE_GENERATE_TEMPLATE_MAX_BYTES 255
/* An NS target token longer than this (escapes count) is left unknown. */
#define INPUT_ZONE_NS_TEXT_MAX_BYTES 1024

enum input_zone_result {
  INPUT_ZONE_NOTHING = 0, /* blank, comment, directive, record not a delegation */
  INPUT_ZONE_DELEGATION,  /* wire holds the owner of an NS record one label below the apex */
  INPUT_ZONE_BAD_LINE,    /* message holds why */
  INPUT_ZONE_INCLUDE,     /* a valid $INCLUDE: see input_zone_include_path */
  INPUT_ZONE_GENERATE,    /* a $GENERATE of NS records: call input_zone_generate_next */
};

struct input_zone *input_zone_new(const char *origin_option, char *why, size_t why_len);
void input_zone_free(struct input_zone *zone);
/* Forget per-file state (origin, apex, previous owner, open parentheses). */
void input_zone_reset(struct input_zone *zone);
/* Drop a record left open by parentheses (its line was too long to read). */
void input_zone_abandon_record(struct input_zone *zone);
/* line is one physical line without its '\n'. On INPUT_ZONE_DELEGATION,
 * *wire / *wire_len point into zone-owned storage valid until the next call. */
enum input_zone_result input_zone_line(struct input_zone *zone, const char *line, size_t line_len, const uint8_t **wire,
                                       size_t *wire_len, char *message, size_t message_len);
/* End of file: INPUT_ZONE_BAD_LINE when a record was left open. */
enum input_zone_result input_zone_finish(struct input_zone *zone, char *message, size_t message_len);

/* After INPUT_ZONE_GENERATE, until it returns INPUT_ZONE_NOTHING (the range
 * is done): INPUT_ZONE_DELEGATION with the next generated delegation's owner
 * in *wire (zone-owned, valid until the next call; owners that are not one
 * label below the apex are skipped), or INPUT_ZONE_BAD_LINE once with a
 * message (a generated owner is not a name, or the apex is unknown), after
 * which the rest of the range is dropped. Without a pending $GENERATE:
 * INPUT_ZONE_NOTHING. Drain it before the next input_zone_line. */
enum input_zone_result input_zone_generate_next(struct input_zone *zone, const uint8_t **wire, size_t *wire_len,
                                                char *message, size_t message_len);

/* After INPUT_ZONE_DELEGATION (from input_zone_line or
 * input_zone_generate_next), before the next call: the NS target of that
 * record as a host name in presentation form (lower case, no trailing dot,
 * relative names completed with the origin) in out (at least
 * INPUT_NAME_MAX_BYTES; NUL-terminated). Returns its length, or 0 when the
 * target is not a host name (the delegation stands; only its target is
 * unknown). Once per delegation: the token is read here, not before. */
size_t input_zone_ns_target_text(struct input_zone *zone, char *out, size_t out_size);

/* After INPUT_ZONE_INCLUDE: the file name as written (unescaped, not yet
 * resolved against the including file's directory); zone-owned, valid
 * until the next input_zone_line. */
const char *input_zone_include_path(const struct input_zone *zone);
/* The reader opened the included file: saves the origin and owner and
 * applies the $INCLUDE's origin argument, if any. Returns 0, or -1 with a
 * message when nested more than INPUT_ZONE_INCLUDE_MAX_DEPTH deep. */
int input_zone_include_begin(struct input_zone *zone, char *message, size_t message_len);
/* The included file ended (call input_zone_finish first): restores the
 * including file's origin and owner (RFC 1035 5.1). */
void input_zone_include_end(struct input_zone *zone);

/* One file named by $INCLUDE, read as plain text, line by line
 * (input_include.c). The reader keeps a stack of them. */
struct input_include;
/* name relative to the directory of including (NULL or no '/': as given);
 * an absolute name as is. Returns 0, or -1 when out is too small. */
int input_include_resolve(const char *including, const char *name, char *out, size_t out_size);
/* Opens path (a regular file). Returns NULL with the reason in why. */
struct input_include *input_include_open(const char *path, size_t max_line_bytes, char *why, size_t why_len);
/* Returns 1 with a line (without '\n'), 0 at the end, -1 on a read error
 * or gzip data (why names the file). A line longer than max_line_bytes
 * comes back once with *too_long set (and no text) and is skipped. */
int input_include_next_line(struct input_include *inc, const char **line, size_t *line_len, bool *too_long, char *why,
                            size_t why_len);
/* The same file (device and inode) as the given one / as another include. */
bool input_include_same_file(const struct input_include *inc, dev_t device, ino_t inode);
bool input_include_same_as(const struct input_include *a, const struct input_include *b);
const char *input_include_display(const struct input_include *inc);
uint64_t input_include_line_no(const struct input_include *inc);
/* Hex SHA-256 of the raw bytes read (complete at the end); once. */
void input_include_checksum(struct input_include *inc, char out[2 * 32 + 1]);
void input_include_free(struct input_include *inc);
#endif
