/* The input reader: the first stage of a scan. It streams the input files
 * (plain or gzip'd, told apart by the gzip magic bytes 1f 8b; read, hashed
 * and inflated ahead on a second thread, input_stream.h), splits them
 * into lines with memchr over 1 MiB reads, hands each line to the zone, list
 * or CSV parser, and passes the names through shard/sample selection, the
 * duplicate filter and the limit. Nothing is allocated per line; memory is
 * the read buffers plus the duplicate filter's budget. A zone file's
 * $INCLUDE pushes the named file on a small stack (input_include.c) whose
 * innermost file gives the lines until it ends; a $GENERATE's names are
 * pulled from the tokenizer one at a time. A file whose format was detected
 * and whose first lines are mostly bad ends the input (format_check). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "input/input_internal.h"
#include "input/input_stream.h"

#define DEFAULT_READ_BUFFER_BYTES ((size_t)1 << 20)
#define DEFAULT_MAX_LINE_BYTES ((size_t)256 << 10)
#define DEFAULT_DEDUP_MEMORY_BYTES ((size_t)48 << 20)
#define MIN_DEDUP_MEMORY_BYTES ((size_t)64 << 10)
#define DEFAULT_MAX_REPORTED_ERRORS 10
#define DETECT_BYTES ((size_t)64 << 10) /* format detection looks this far */
#define DETECT_MAX_LINES 200
#define MESSAGE_MAX_BYTES 512
/* The mostly-bad rule: a file whose format was detected fails when more
 * than half of its first FORMAT_CHECK_LINES content lines (all of them in a
 * shorter file) are bad lines. A wrong guess makes nearly every line bad; a
 * real file with a few broken records is far below half. */
#define FORMAT_CHECK_LINES 1000

struct input_file {
  char *path;    /* NULL for an in-memory input */
  char *display; /* in messages */
  enum input_format format;
  int fd; /* -1 when closed */
  bool is_stdin;
  const uint8_t *memory;
  size_t memory_len;
  bool finished;
  char checksum[2 * 32 + 1]; /* hex SHA-256 once finished */
  bool detected;             /* the format was detected, not given */
  bool has_inode;            /* a file on disk: device and inode known */
  dev_t device;
  ino_t inode;
};

/* Names between hashing and the duplicate check. The check's first slot is
 * prefetched when a name is offered and looked up this many names later, so
 * the lookups of a large list do not each wait for memory (the filter's
 * array is far larger than the caches: without this, a third of the
 * reader's time). Emission order, seqs and counts are as without it. */
#define PENDING_NAMES 16

struct pending_name {
  uint64_t key; /* the duplicate filter's key */
  size_t name_len;
  size_t ns_len;
  struct input_name name; /* all but seq; reason only when invalid */
};

struct input_reader {
  struct input_options options;
  char *zone_origin; /* copy of options.zone_origin */
  struct input_file *files;
  size_t file_count;
  size_t current; /* file being read; file_count at the end */
  bool file_open;

  /* Raw bytes of the current file. */
  size_t memory_pos;
  bool raw_eof;
  EVP_MD_CTX *sha;
  char *checksum_scratch; /* digest of a file being read, for _checksum */
  bool gzip;
  struct input_stream *stream; /* reads (and inflates) ahead on its own thread */
  uint8_t *raw;
  size_t raw_cap;

  /* Decompressed bytes, split into lines: [start, end) not yet consumed. */
  char *buf;
  size_t buf_cap;
  size_t start;
  size_t end;
  bool data_eof;
  bool skipping_long_line;
  uint64_t line_no;

  struct input_zone *zone;
  bool zone_generating; /* a $GENERATE's names are being pulled */
  /* $INCLUDE'd files of the current file, innermost last. */
  struct input_include *includes[INPUT_ZONE_INCLUDE_MAX_DEPTH];
  size_t include_depth;
  /* The mostly-bad rule on the current file (format_check). */
  uint64_t check_lines;
  uint64_t check_bad_base;
  bool check_done;
  uint8_t last_delegation[INPUT_WIRE_MAX_BYTES + 1];
  size_t last_delegation_len;
  /* The delegation being read (held): selected (and, if invalid, checked
   * and reported) at its first NS record, offered when the owner changes
   * or the file ends, with the targets of all its adjacent NS records. */
  bool held;
  uint64_t held_key;
  uint64_t held_line;
  bool held_invalid;
  char held_reason[INPUT_REASON_MAX_BYTES];
  char held_name[INPUT_NAME_MAX_BYTES];
  size_t held_name_len;
  char held_ns[INPUT_NS_MAX_BYTES];
  size_t held_ns_len;
  bool csv_first_line;

  struct input_dedup *dedup;
  bool dedup_full_warned;
  struct pending_name pending[PENDING_NAMES]; /* ring: oldest at pending_head */
  size_t pending_head;
  size_t pending_count;
  struct input_counts counts;
  uint64_t reported;
  uint64_t suppressed;
  bool summary_done;
  bool failed;
  char failure[MESSAGE_MAX_BYTES];
};

void input_options_defaults(struct input_options *options) {
  memset(options, 0, sizeof *options);
  options->format = INPUT_FORMAT_AUTO;
  options->shard_index = 0;
  options->shard_count = 1;
  options->sample_fraction = 1.0;
  options->limit = 0;
  options->dedup_memory_bytes = DEFAULT_DEDUP_MEMORY_BYTES;
  options->max_reported_errors = DEFAULT_MAX_REPORTED_ERRORS;
  options->zone_origin = NULL;
  options->read_buffer_bytes = DEFAULT_READ_BUFFER_BYTES;
  options->max_line_bytes = DEFAULT_MAX_LINE_BYTES;
}

/* ---- diagnostics ---- */

static void report(struct input_reader *reader, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* The file and line being read: the innermost $INCLUDE'd file's, if any. */
static void location(const struct input_reader *reader, const char **display, uint64_t *line) {
  if (reader->include_depth > 0) {
    const struct input_include *inc = reader->includes[reader->include_depth - 1];
    *display = input_include_display(inc);
    *line = input_include_line_no(inc);
    return;
  }
  *display = reader->files[reader->current].display;
  *line = reader->line_no;
}

/* A bad line or an invalid name at the current line of the current file:
 * reported in full up to max_reported_errors, then only counted. */
static void report(struct input_reader *reader, const char *format, ...) {
  if (reader->reported >= reader->options.max_reported_errors) {
    reader->suppressed++;
    return;
  }
  reader->reported++;
  if (reader->options.diagnostic == NULL) {
    return;
  }
  char text[MESSAGE_MAX_BYTES - 64];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  char message[MESSAGE_MAX_BYTES];
  const char *display = NULL;
  uint64_t line = 0;
  location(reader, &display, &line);
  snprintf(message, sizeof message, "%s:%llu: %s", display, (unsigned long long)line, text);
  reader->options.diagnostic(message, reader->options.diagnostic_arg);
}

/* A notice that is not about one line (always shown). */
static void notice(struct input_reader *reader, const char *message) {
  if (reader->options.diagnostic != NULL) {
    reader->options.diagnostic(message, reader->options.diagnostic_arg);
  }
}

static void bad_line(struct input_reader *reader, const char *message) {
  reader->counts.bad_lines++;
  report(reader, "%s", message);
}

/* ---- format detection ---- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

static bool word_is_zone_keyword(const char *word, size_t len) {
  static const char *const keywords[] = {"IN",    "CH",   "HS",    "SOA",  "NS",  "A",       "AAAA",       "DS",
                                         "RRSIG", "NSEC", "NSEC3", "MX",   "TXT", "CNAME",   "NSEC3PARAM", "DNSKEY",
                                         "PTR",   "SRV",  "CAA",   "TLSA", "CDS", "CDNSKEY", "ZONEMD",     "HINFO"};
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
    if (strlen(keywords[i]) == len && strncasecmp(word, keywords[i], len) == 0) {
      return true;
    }
  }
  return false;
}

/* Parentheses left open after a zone line (RFC 1035 5.1: they continue a
 * record), outside quotes and before a ';' comment. */
static unsigned open_parentheses(const char *p, const char *end, unsigned depth) {
  bool quoted = false;
  for (; p < end; p++) {
    if (*p == '\\' && p + 1 < end) {
      p++;
    } else if (*p == '"') {
      quoted = !quoted;
    } else if (!quoted && *p == ';') {
      break;
    } else if (!quoted && *p == '(') {
      depth++;
    } else if (!quoted && *p == ')' && depth > 0) {
      depth--;
    }
  }
  return depth;
}

/* A directive that only zone files have. */
static bool zone_directive(const char *word, size_t len) {
  static const char *const directives[] = {"$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE"};
  for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
    if (strlen(directives[i]) == len && strncasecmp(word, directives[i], len) == 0) {
      return true;
    }
  }
  return false;
}

/* Decides zone, list or CSV from the first bytes of a file (see
 * inputs/README.md). A $ORIGIN/$TTL/$INCLUDE/$GENERATE directive or an SOA
 * record decides "zone" outright; otherwise each line votes. The lines a
 * zone record continues inside parentheses (a multi-line SOA, the base64
 * of DNSKEY and RRSIG) do not vote: one word each, they would outvote the
 * records as "list" lines. Returns 0, or -1 with a reason. */
static int detect_format(const char *data, size_t len, enum input_format *format, char *why, size_t why_len) {
  unsigned zone = 0, csv = 0, list = 0, other = 0;
  size_t control = 0;
  if (memchr(data, '\0', len) != NULL) {
    snprintf(why, why_len, "binary data (NUL bytes), not a zone file or a list");
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) {
      control++;
    }
  }
  if (control > len / 100) {
    snprintf(why, why_len, "binary data (control bytes), not a zone file or a list");
    return -1;
  }
  const char *p = data;
  const char *end = data + len;
  unsigned parentheses = 0; /* open in the zone record being continued */
  bool decided_zone = false;
  for (unsigned lines = 0; p < end && lines < DETECT_MAX_LINES && !decided_zone;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl != NULL ? nl : end;
    const char *q = p;
    p = nl != NULL ? nl + 1 : end;
    bool leading_blank = q < line_end && is_blank(*q);
    while (q < line_end && is_blank(*q)) {
      q++;
    }
    if (q == line_end) {
      continue;
    }
    lines++;
    if (parentheses > 0) {
      parentheses = open_parentheses(q, line_end, parentheses);
      continue; /* inside a zone record: no vote */
    }
    if (*q == '#') {
      continue; /* a list or CSV comment: no vote */
    }
    if (*q == '$' && !leading_blank) {
      const char *word_end = q;
      while (word_end < line_end && !is_blank(*word_end)) {
        word_end++;
      }
      decided_zone = zone_directive(q, (size_t)(word_end - q));
      zone++;
      continue;
    }
    if (*q == ';') {
      zone++;
      continue;
    }
    const char *record = q;
    unsigned words = 0;
    bool keyword = false;
    bool soa = false;
    bool comma = memchr(q, ',', (size_t)(line_end - q)) != NULL;
    while (q < line_end && words < 8) {
      const char *word = q;
      while (q < line_end && !is_blank(*q)) {
        q++;
      }
      if (words > 0 || leading_blank) {
        keyword = keyword || word_is_zone_keyword(word, (size_t)(q - word));
        soa = soa || ((size_t)(q - word) == 3 && strncasecmp(word, "SOA", 3) == 0);
      }
      words++;
      while (q < line_end && is_blank(*q)) {
        q++;
      }
    }
    if (keyword && (words >= 2 || leading_blank)) {
      zone++;
      decided_zone = soa;
      parentheses = open_parentheses(record, line_end, 0);
    } else if (comma) {
      csv++;
    } else if (words == 1) {
      list++;
    } else {
      other++;
    }
  }
  if (decided_zone || (zone > 0 && zone >= csv + list)) {
    *format = INPUT_FORMAT_ZONE;
  } else if (csv > 0 && csv >= list) {
    *format = INPUT_FORMAT_CSV;
  } else if (list > 0 && list >= other) {
    *format = INPUT_FORMAT_LIST;
  } else if (zone + csv + list + other == 0) {
    *format = INPUT_FORMAT_LIST; /* empty or only '#' comments: no names either way */
  } else {
    snprintf(why, why_len, "cannot tell zone file, list or CSV apart (give --input-format)");
    return -1;
  }
  return 0;
}

/* Reads the start of a regular file (inflating it if gzip'd) to detect its
 * format when the reader is opened, so a wrong input fails early. */
static int peek_format(int fd, enum input_format *format, char *why, size_t why_len) {
  size_t cap = DETECT_BYTES;
  uint8_t *raw = malloc(cap);
  char *text = malloc(cap);
  int result = -1;
  if (raw == NULL || text == NULL) {
    snprintf(why, why_len, "out of memory");
    goto done;
  }
  ssize_t got = pread(fd, raw, cap, 0);
  if (got < 0) {
    snprintf(why, why_len, "%s", strerror(errno));
    goto done;
  }
  size_t text_len = (size_t)got;
  if (got >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
      snprintf(why, why_len, "zlib initialisation failed");
      goto done;
    }
    z.next_in = raw;
    z.avail_in = (uInt)got;
    z.next_out = (Bytef *)text;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_NO_FLUSH);
    text_len = cap - z.avail_out;
    inflateEnd(&z);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      snprintf(why, why_len, "corrupt gzip data");
      goto done;
    }
    /* Only whole lines count when the window is cut mid-line. */
    if (text_len == cap) {
      char *nl = memrchr(text, '\n', text_len);
      text_len = nl != NULL ? (size_t)(nl - text) + 1 : text_len;
    }
  } else {
    memcpy(text, raw, text_len);
    if (text_len == cap) {
      char *nl = memrchr(text, '\n', text_len);
      text_len = nl != NULL ? (size_t)(nl - text) + 1 : text_len;
    }
  }
  result = detect_format(text, text_len, format, why, why_len);
done:
  free(raw);
  free(text);
  return result;
}

/* ---- opening ---- */

static struct input_reader *reader_new(const struct input_options *options, size_t file_count, char *why,
                                       size_t why_len) {
  struct input_options checked = *options;
  if (checked.shard_count == 0) {
    checked.shard_count = 1;
  }
  if (checked.shard_index >= checked.shard_count) {
    snprintf(why, why_len, "shard %u/%u: the index must be below the count", checked.shard_index, checked.shard_count);
    return NULL;
  }
  if (!(checked.sample_fraction > 0.0 && checked.sample_fraction <= 1.0)) {
    snprintf(why, why_len, "sample fraction must be in (0, 1]");
    return NULL;
  }
  if (checked.read_buffer_bytes == 0) {
    checked.read_buffer_bytes = DEFAULT_READ_BUFFER_BYTES;
  }
  if (checked.read_buffer_bytes < 2) {
    checked.read_buffer_bytes = 2; /* the gzip magic is two bytes */
  }
  if (checked.read_buffer_bytes > UINT_MAX / 2) {
    checked.read_buffer_bytes = UINT_MAX / 2; /* zlib counts in uInt */
  }
  if (checked.max_line_bytes == 0) {
    checked.max_line_bytes = DEFAULT_MAX_LINE_BYTES;
  }
  if (checked.dedup_memory_bytes < MIN_DEDUP_MEMORY_BYTES) {
    checked.dedup_memory_bytes = MIN_DEDUP_MEMORY_BYTES;
  }
  struct input_reader *reader = calloc(1, sizeof *reader);
  if (reader == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  reader->options = checked;
  reader->files = calloc(file_count, sizeof *reader->files);
  reader->file_count = file_count;
  reader->raw_cap = checked.read_buffer_bytes;
  reader->raw = malloc(reader->raw_cap);
  /* Room for the longest line (or the detection window) plus one read. */
  size_t held = checked.max_line_bytes > DETECT_BYTES ? checked.max_line_bytes : DETECT_BYTES;
  reader->buf_cap = held + checked.read_buffer_bytes + 1;
  reader->buf = malloc(reader->buf_cap);
  reader->sha = EVP_MD_CTX_new();
  reader->checksum_scratch = malloc(2 * 32 + 1);
  reader->dedup = input_dedup_new(checked.dedup_memory_bytes);
  if (options->zone_origin != NULL) {
    reader->zone_origin = strdup(options->zone_origin);
    reader->options.zone_origin = reader->zone_origin;
  }
  if (reader->files == NULL || reader->raw == NULL || reader->buf == NULL || reader->sha == NULL ||
      reader->checksum_scratch == NULL || reader->dedup == NULL ||
      (options->zone_origin != NULL && reader->zone_origin == NULL)) {
    snprintf(why, why_len, "out of memory");
    input_reader_free(reader);
    return NULL;
  }
  for (size_t i = 0; i < file_count; i++) {
    reader->files[i].fd = -1;
  }
  reader->zone = input_zone_new(reader->zone_origin, why, why_len);
  if (reader->zone == NULL) {
    input_reader_free(reader);
    return NULL;
  }
  return reader;
}

struct input_reader *input_reader_open(const char *const *paths, size_t path_count, const struct input_options *options,
                                       char *why, size_t why_len) {
  if (path_count == 0) {
    snprintf(why, why_len, "no input files");
    return NULL;
  }
  struct input_reader *reader = reader_new(options, path_count, why, why_len);
  if (reader == NULL) {
    return NULL;
  }
  bool stdin_used = false;
  for (size_t i = 0; i < path_count; i++) {
    struct input_file *file = &reader->files[i];
    file->format = reader->options.format;
    file->path = strdup(paths[i]);
    bool is_stdin = strcmp(paths[i], "-") == 0;
    file->display = strdup(is_stdin ? "(stdin)" : paths[i]);
    if (file->path == NULL || file->display == NULL) {
      snprintf(why, why_len, "out of memory");
      goto fail;
    }
    if (is_stdin) {
      if (stdin_used) {
        snprintf(why, why_len, "standard input (-) given twice");
        goto fail;
      }
      stdin_used = true;
      file->is_stdin = true;
      file->fd = STDIN_FILENO;
      continue;
    }
    file->fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (file->fd < 0) {
      snprintf(why, why_len, "%s: %s", paths[i], strerror(errno));
      goto fail;
    }
    struct stat st;
    if (fstat(file->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      snprintf(why, why_len, "%s: %s", paths[i], S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
      goto fail;
    }
    file->has_inode = true;
    file->device = st.st_dev;
    file->inode = st.st_ino;
    if (file->format == INPUT_FORMAT_AUTO && S_ISREG(st.st_mode)) {
      char reason[INPUT_REASON_MAX_BYTES];
      if (peek_format(file->fd, &file->format, reason, sizeof reason) != 0) {
        snprintf(why, why_len, "%s: %s", paths[i], reason);
        goto fail;
      }
      file->detected = true;
    }
  }
  return reader;
fail:
  input_reader_free(reader);
  return NULL;
}

struct input_reader *input_reader_open_memory(const void *data, size_t data_len, const char *display_name,
                                              const struct input_options *options, char *why, size_t why_len) {
  struct input_reader *reader = reader_new(options, 1, why, why_len);
  if (reader == NULL) {
    return NULL;
  }
  struct input_file *file = &reader->files[0];
  file->format = reader->options.format;
  file->memory = data;
  file->memory_len = data_len;
  file->display = strdup(display_name != NULL ? display_name : "(memory)");
  if (file->display == NULL) {
    snprintf(why, why_len, "out of memory");
    input_reader_free(reader);
    return NULL;
  }
  return reader;
}

/* ---- raw bytes and decompression ---- */

/* Up to cap raw bytes of the current file; updates the checksum. Returns the
 * count, 0 at the end, -1 on a read error. */
static ssize_t raw_read(struct input_reader *reader, uint8_t *dst, size_t cap, char *why, size_t why_len) {
  struct input_file *file = &reader->files[reader->current];
  ssize_t got;
  if (file->path == NULL) {
    size_t left = file->memory_len - reader->memory_pos;
    size_t n = left < cap ? left : cap;
    memcpy(dst, file->memory + reader->memory_pos, n);
    reader->memory_pos += n;
    got = (ssize_t)n;
  } else {
    do {
      got = read(file->fd, dst, cap);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      snprintf(why, why_len, "%s: read error: %s", file->display, strerror(errno));
      return -1;
    }
  }
  if (got > 0) {
    EVP_DigestUpdate(reader->sha, dst, (size_t)got);
  }
  return got;
}

/* Appends decompressed bytes at buf[end], from the read-ahead thread.
 * Returns the count, 0 at the end of the file, -1 on a read error or bad
 * gzip data. */
static ssize_t fill(struct input_reader *reader, char *why, size_t why_len) {
  if (reader->stream == NULL) {
    return 0; /* the whole file came with the first read */
  }
  ssize_t got = input_stream_read(reader->stream, reader->buf + reader->end, reader->options.read_buffer_bytes, why,
                                  why_len);
  if (got > 0) {
    reader->counts.bytes_read += (uint64_t)got;
  } else if (got == 0 && input_stream_trailing_bytes(reader->stream)) {
    char message[MESSAGE_MAX_BYTES];
    snprintf(message, sizeof message, "%s: trailing bytes after the gzip data ignored",
             reader->files[reader->current].display);
    notice(reader, message);
  }
  return got;
}

/* Next physical line of the current file (without '\n'). Returns 1, 0 at
 * the end of the file, -1 on an error. Lines longer than max_line_bytes are
 * reported, counted as bad and skipped. */
static int next_line(struct input_reader *reader, const char **line, size_t *line_len, char *why, size_t why_len) {
  for (;;) {
    char *begin = reader->buf + reader->start;
    size_t avail = reader->end - reader->start;
    char *nl = memchr(begin, '\n', avail);
    if (nl != NULL) {
      reader->start += (size_t)(nl - begin) + 1;
      reader->line_no++;
      if (reader->skipping_long_line) {
        reader->skipping_long_line = false;
        continue;
      }
      *line = begin;
      *line_len = (size_t)(nl - begin);
      return 1;
    }
    if (reader->data_eof) {
      reader->start = reader->end;
      if (avail == 0 || reader->skipping_long_line) {
        reader->skipping_long_line = false;
        return 0;
      }
      reader->line_no++; /* a last line without '\n' */
      *line = begin;
      *line_len = avail;
      return 1;
    }
    if (avail >= reader->options.max_line_bytes && !reader->skipping_long_line) {
      reader->line_no++;
      char message[96];
      snprintf(message, sizeof message, "line longer than %zu bytes skipped", reader->options.max_line_bytes);
      bad_line(reader, message);
      reader->line_no--; /* counted again when its '\n' comes */
      reader->skipping_long_line = true;
      if (reader->files[reader->current].format == INPUT_FORMAT_ZONE) {
        input_zone_abandon_record(reader->zone);
      }
    }
    if (reader->skipping_long_line) {
      reader->start = reader->end = 0; /* drop what is buffered of it */
      avail = 0;
    } else if (reader->start > 0) {
      memmove(reader->buf, begin, avail);
      reader->start = 0;
      reader->end = avail;
    }
    ssize_t got = fill(reader, why, why_len);
    if (got < 0) {
      return -1;
    }
    if (got == 0) {
      reader->data_eof = true;
    }
    reader->end += (size_t)got;
  }
}

/* ---- the mostly-bad rule ---- */

static void format_check_start(struct input_reader *reader) {
  reader->check_lines = 0;
  reader->check_bad_base = reader->counts.bad_lines;
  reader->check_done = !reader->files[reader->current].detected;
}

/* Counts a line that is neither blank nor a comment (of any format). */
static void format_check_line(struct input_reader *reader, const char *line, size_t len) {
  if (reader->check_done) {
    return;
  }
  const char *end = line + len;
  while (line < end && is_blank(*line)) {
    line++;
  }
  if (line < end && *line != ';' && *line != '#') {
    reader->check_lines++;
  }
}

/* After FORMAT_CHECK_LINES content lines, or at the end of the file (at_end):
 * returns -1 with the failure set when more than half of them were bad. */
static int format_check(struct input_reader *reader, bool at_end) {
  if (reader->check_done || (!at_end && reader->check_lines < FORMAT_CHECK_LINES)) {
    return 0;
  }
  reader->check_done = true;
  uint64_t bad = reader->counts.bad_lines - reader->check_bad_base;
  if (bad * 2 <= reader->check_lines) {
    return 0;
  }
  const struct input_file *file = &reader->files[reader->current];
  snprintf(reader->failure, sizeof reader->failure,
           "%s: %llu of the first %llu lines are bad lines as a %s file (the format was detected from the content; "
           "give --input-format if it is wrong)",
           file->display, (unsigned long long)bad, (unsigned long long)reader->check_lines,
           input_format_name(file->format));
  return -1;
}

/* ---- one file after another ---- */

static int start_file(struct input_reader *reader, char *why, size_t why_len) {
  struct input_file *file = &reader->files[reader->current];
  reader->memory_pos = 0;
  reader->raw_eof = false;
  reader->gzip = false;
  reader->start = reader->end = 0;
  reader->data_eof = false;
  reader->skipping_long_line = false;
  reader->line_no = 0;
  reader->last_delegation_len = 0;
  reader->held = false;
  reader->csv_first_line = true;
  input_zone_reset(reader->zone);
  reader->zone_generating = false;
  format_check_start(reader);
  EVP_DigestInit_ex(reader->sha, EVP_sha256(), NULL);
  reader->file_open = true;

  size_t have = 0;
  while (have < 2) {
    ssize_t got = raw_read(reader, reader->raw + have, reader->raw_cap - have, why, why_len);
    if (got < 0) {
      return -1;
    }
    if (got == 0) {
      reader->raw_eof = true;
      break;
    }
    have += (size_t)got;
  }
  reader->gzip = have >= 2 && reader->raw[0] == 0x1f && reader->raw[1] == 0x8b;
  if (!reader->gzip) {
    memcpy(reader->buf, reader->raw, have);
    reader->end = have;
    reader->counts.bytes_read += have;
    reader->data_eof = reader->raw_eof;
  }
  if (!reader->data_eof) {
    /* The rest is read (and inflated) ahead on another thread. */
    struct input_stream_source source = {
        .fd = file->path != NULL ? file->fd : -1,
        .memory = file->memory,
        .memory_len = file->memory_len,
        .memory_pos = reader->memory_pos,
        .prefix = reader->raw,
        .prefix_len = reader->gzip ? have : 0,
        .gzip = reader->gzip,
        .display = file->display,
        .sha = reader->sha,
        .block_bytes = reader->options.read_buffer_bytes,
        /* In-memory inputs (tests, fuzzers: tiny blocks, many inputs) are
         * read in line; test_input_stream covers both ways. */
        .no_thread = file->path == NULL,
    };
    reader->stream = input_stream_start(&source, why, why_len);
    if (reader->stream == NULL) {
      return -1;
    }
  }
  if (file->format != INPUT_FORMAT_AUTO) {
    return 0;
  }
  /* A pipe: detect on the first bytes as they arrive. */
  while (reader->end < DETECT_BYTES && !reader->data_eof) {
    ssize_t got = fill(reader, why, why_len);
    if (got < 0) {
      return -1;
    }
    reader->data_eof = got == 0;
    reader->end += (size_t)got;
  }
  size_t window = reader->end;
  if (!reader->data_eof) {
    char *nl = memrchr(reader->buf, '\n', window);
    window = nl != NULL ? (size_t)(nl - reader->buf) + 1 : window;
  }
  char reason[INPUT_REASON_MAX_BYTES];
  if (detect_format(reader->buf, window, &file->format, reason, sizeof reason) != 0) {
    snprintf(why, why_len, "%s: %s", file->display, reason);
    return -1;
  }
  file->detected = true;
  reader->check_done = false;
  return 0;
}

static void hex_digest(EVP_MD_CTX *ctx, char *out) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  for (unsigned int i = 0; i < len && i < 32; i++) {
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  }
}

static void finish_file(struct input_reader *reader) {
  struct input_file *file = &reader->files[reader->current];
  input_stream_free(reader->stream); /* its thread is done with reader->sha */
  reader->stream = NULL;
  if (file->format == INPUT_FORMAT_ZONE) {
    char message[MESSAGE_MAX_BYTES];
    if (input_zone_finish(reader->zone, message, sizeof message) == INPUT_ZONE_BAD_LINE) {
      bad_line(reader, message);
    }
  }
  hex_digest(reader->sha, file->checksum);
  file->finished = true;
  if (file->fd >= 0 && !file->is_stdin) {
    close(file->fd);
  }
  file->fd = -1;
  reader->file_open = false;
  reader->current++;
}

/* ---- names ---- */

/* The duplicate filter's verdict on key: true when seen before (counted as
 * a duplicate); a key the full filter cannot hold is counted, once noted. */
static bool duplicate(struct input_reader *reader, uint64_t key) {
  int seen = input_dedup_check_insert(reader->dedup, key);
  if (seen == 1) {
    reader->counts.duplicates++;
    return true;
  }
  if (seen < 0) {
    reader->counts.dedup_untracked++;
    if (!reader->dedup_full_warned) {
      reader->dedup_full_warned = true;
      char message[MESSAGE_MAX_BYTES];
      snprintf(message, sizeof message,
               "duplicate filter full after %llu names (--dedup-memory %zu MiB): later names are "
               "not checked for duplicates",
               (unsigned long long)reader->counts.names, reader->options.dedup_memory_bytes >> 20);
      notice(reader, message);
    }
  }
  return false;
}

/* Takes the oldest pending name: drops it as a duplicate (returns 0), or
 * fills out and returns 1. Past --limit, pending names are dropped. An
 * invalid name was checked, counted and reported when offered (rare; so
 * the messages keep the order of the lines). */
static int emit_pending(struct input_reader *reader, struct input_name *out) {
  struct pending_name *pending = &reader->pending[reader->pending_head];
  reader->pending_head = (reader->pending_head + 1) % PENDING_NAMES;
  reader->pending_count--;
  if (reader->options.limit != 0 && reader->counts.names >= reader->options.limit) {
    return 0;
  }
  const struct input_name *held = &pending->name;
  if (!held->invalid && duplicate(reader, pending->key)) {
    return 0;
  }
  memset(out, 0, offsetof(struct input_name, reason));
  memcpy(out->name, held->name, pending->name_len + 1);
  out->invalid = held->invalid;
  out->reason[0] = '\0';
  if (held->invalid) {
    snprintf(out->reason, sizeof out->reason, "%s", held->reason);
  }
  out->seq = reader->counts.names;
  out->file_index = held->file_index;
  out->line = held->line;
  out->rank = held->rank;
  memcpy(out->ns, held->ns, pending->ns_len + 1);
  reader->counts.names++;
  return 1;
}

/* Takes pending names until one is emitted (1) or none is left (0). */
static int drain_pending(struct input_reader *reader, struct input_name *out) {
  while (reader->pending_count > 0) {
    if (emit_pending(reader, out) == 1) {
      return 1;
    }
  }
  return 0;
}

/* Selection of one name (valid or not): false when shard or sample leave
 * it out or, for an invalid name, when it is a duplicate; else true with
 * the duplicate filter's key in *key (prefetched for a valid name; an
 * invalid one is checked, counted and reported here, at its line). */
static bool select_name(struct input_reader *reader, const char *name, size_t name_len, const char *reason,
                        uint64_t *key) {
  uint64_t hash = input_name_hash(name, name_len);
  if (reader->options.shard_count > 1 && hash % reader->options.shard_count != reader->options.shard_index) {
    reader->counts.skipped_by_shard_or_sample++;
    return false;
  }
  if (reader->options.sample_fraction < 1.0) {
    uint64_t threshold = (uint64_t)(reader->options.sample_fraction * 9007199254740992.0);
    if ((input_mix64(hash) >> 11) >= threshold) {
      reader->counts.skipped_by_shard_or_sample++;
      return false;
    }
  }
  /* Another mix than the sample's, so sampled keys still spread over the
   * whole table. */
  *key = input_mix64(hash ^ 0x9e3779b97f4a7c15ULL);
  if (reason == NULL) {
    input_dedup_prefetch(reader->dedup, *key);
    return true;
  }
  if (duplicate(reader, *key)) {
    return false;
  }
  reader->counts.invalid++;
  report(reader, "invalid name \"%.*s\": %s",
         (int)(name_len < INPUT_NAME_MAX_BYTES ? name_len : INPUT_NAME_MAX_BYTES - 1), name, reason);
  return true;
}

/* A selected name into the look-ahead ring: returns 1 when out was filled
 * with the name offered PENDING_NAMES names earlier (or this one, with
 * --limit), 0 when nothing is ready. ns: the NS targets (input_name.ns). */
static int push_name(struct input_reader *reader, uint64_t key, const char *name, size_t name_len, const char *reason,
                     int64_t rank, uint64_t line, const char *ns, size_t ns_len, struct input_name *out) {
  struct pending_name *pending = &reader->pending[(reader->pending_head + reader->pending_count) % PENDING_NAMES];
  struct input_name *held = &pending->name;
  pending->key = key;
  pending->name_len = name_len < INPUT_NAME_MAX_BYTES ? name_len : INPUT_NAME_MAX_BYTES - 1;
  memcpy(held->name, name, pending->name_len);
  held->name[pending->name_len] = '\0';
  held->invalid = reason != NULL;
  if (reason != NULL) {
    snprintf(held->reason, sizeof held->reason, "%s", reason);
  }
  pending->ns_len = ns_len < INPUT_NS_MAX_BYTES ? ns_len : 0;
  memcpy(held->ns, ns, pending->ns_len);
  held->ns[pending->ns_len] = '\0';
  held->file_index = (unsigned)reader->current;
  held->line = line;
  held->rank = rank;
  reader->pending_count++;
  /* With --limit, no look-ahead: the lines after the last emitted name stay
   * unread (and their problems unreported), as without the pipeline. */
  size_t depth = reader->options.limit != 0 ? 1 : PENDING_NAMES;
  if (reader->pending_count < depth) {
    return 0;
  }
  return emit_pending(reader, out);
}

/* A name of a list or CSV line (no NS data): selection, then the ring. */
static int offer_name(struct input_reader *reader, const char *name, size_t name_len, const char *reason, int64_t rank,
                      struct input_name *out) {
  uint64_t key = 0;
  if (!select_name(reader, name, name_len, reason, &key)) {
    return 0;
  }
  return push_name(reader, key, name, name_len, reason, rank, reader->line_no, "", 0, out);
}

static int offer_text(struct input_reader *reader, const char *text, size_t text_len, int64_t rank,
                      struct input_name *out) {
  char name[INPUT_NAME_MAX_BYTES];
  char reason[INPUT_REASON_MAX_BYTES];
  if (input_name_normalise(text, text_len, name, reason, sizeof reason) == 0) {
    return offer_name(reader, name, strlen(name), NULL, rank, out);
  }
  input_escape_raw(text, text_len, name, sizeof name);
  return offer_name(reader, name, strlen(name), reason, rank, out);
}

static void trim(const char **p, const char **e) {
  while (*p < *e && is_blank(**p)) {
    (*p)++;
  }
  while (*e > *p && is_blank((*e)[-1])) {
    (*e)--;
  }
}

static int list_line(struct input_reader *reader, const char *line, size_t len, struct input_name *out) {
  const char *p = line;
  const char *e = line + len;
  /* '#' starts a comment at the start of a line or after a blank. */
  for (const char *hash = memchr(p, '#', len); hash != NULL; hash = memchr(hash + 1, '#', (size_t)(e - hash - 1))) {
    if (hash == line || is_blank(hash[-1])) {
      e = hash;
      break;
    }
  }
  trim(&p, &e);
  if (p == e) {
    return 0;
  }
  for (const char *q = p; q < e; q++) {
    if (*q == ' ' || *q == '\t') {
      bad_line(reader, "more than one field on the line (a zone file or CSV? give --input-format)");
      return 0;
    }
  }
  return offer_text(reader, p, (size_t)(e - p), -1, out);
}

static void unquote(const char **p, const char **e) {
  trim(p, e);
  if (*e - *p >= 2 && **p == '"' && (*e)[-1] == '"') {
    (*p)++;
    (*e)--;
    trim(p, e);
  }
}

static int csv_line(struct input_reader *reader, const char *line, size_t len, struct input_name *out) {
  const char *p = line;
  const char *e = line + len;
  trim(&p, &e);
  if (p == e || *p == '#') {
    return 0;
  }
  bool first = reader->csv_first_line;
  reader->csv_first_line = false;
  const char *comma = memchr(p, ',', (size_t)(e - p));
  if (comma == NULL) {
    bad_line(reader, "expected rank,domain");
    return 0;
  }
  const char *rank_p = p, *rank_e = comma;
  unquote(&rank_p, &rank_e);
  const char *name_p = comma + 1;
  const char *name_e = memchr(name_p, ',', (size_t)(e - name_p));
  if (name_e == NULL) {
    name_e = e;
  }
  unquote(&name_p, &name_e);
  int64_t rank = 0;
  bool numeric = rank_e > rank_p && rank_e - rank_p <= 18;
  for (const char *q = rank_p; numeric && q < rank_e; q++) {
    if (*q < '0' || *q > '9') {
      numeric = false;
    } else {
      rank = rank * 10 + (*q - '0');
    }
  }
  if (!numeric) {
    if (first) {
      return 0; /* a header line ("rank,domain") */
    }
    bad_line(reader, "rank is not a number (of up to 18 digits)");
    return 0;
  }
  if (name_p == name_e) {
    bad_line(reader, "no domain after the rank");
    return 0;
  }
  return offer_text(reader, name_p, (size_t)(name_e - name_p), rank, out);
}

/* ---- $GENERATE and $INCLUDE ---- */

static int zone_delegation(struct input_reader *reader, const uint8_t *wire, size_t wire_len, struct input_name *out);
static int zone_line(struct input_reader *reader, const char *line, size_t len, struct input_name *out);

/* Pulls a $GENERATE's delegations until one is emitted (1) or the range is
 * done (0). */
static int zone_generate_continue(struct input_reader *reader, struct input_name *out) {
  while (reader->zone_generating) {
    if (reader->options.limit != 0 && reader->counts.names >= reader->options.limit) {
      return 0;
    }
    const uint8_t *wire = NULL;
    size_t wire_len = 0;
    char message[MESSAGE_MAX_BYTES];
    enum input_zone_result result = input_zone_generate_next(reader->zone, &wire, &wire_len, message, sizeof message);
    if (result == INPUT_ZONE_DELEGATION) {
      if (zone_delegation(reader, wire, wire_len, out) == 1) {
        return 1;
      }
      continue;
    }
    reader->zone_generating = false;
    if (result == INPUT_ZONE_BAD_LINE) {
      bad_line(reader, message);
    }
  }
  return 0;
}

/* Ends the input at the current line (a failed $INCLUDE). Returns -1. */
static int fail_here(struct input_reader *reader, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int fail_here(struct input_reader *reader, const char *format, ...) {
  char text[MESSAGE_MAX_BYTES - 64];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  const char *display = NULL;
  uint64_t line = 0;
  location(reader, &display, &line);
  snprintf(reader->failure, sizeof reader->failure, "%s:%llu: %s", display, (unsigned long long)line, text);
  return -1;
}

/* A $INCLUDE: opens the file (relative to the including file's directory)
 * and pushes it. A file that cannot be read, a loop or nesting too deep
 * ends the input (-1): the zone would be silently incomplete. */
static int include_push(struct input_reader *reader) {
  const struct input_file *file = &reader->files[reader->current];
  const char *name = input_zone_include_path(reader->zone);
  if (file->path == NULL || file->is_stdin) {
    return fail_here(reader, "$INCLUDE %s refused: %s has no directory to read it from", name, file->display);
  }
  if (reader->include_depth >= INPUT_ZONE_INCLUDE_MAX_DEPTH) {
    return fail_here(reader, "$INCLUDE %s: nested more than %d deep", name, INPUT_ZONE_INCLUDE_MAX_DEPTH);
  }
  const char *including = reader->include_depth > 0 ? input_include_display(reader->includes[reader->include_depth - 1])
                                                    : file->path;
  char path[PATH_MAX];
  if (input_include_resolve(including, name, path, sizeof path) != 0) {
    return fail_here(reader, "$INCLUDE %s: path too long", name);
  }
  char why[MESSAGE_MAX_BYTES / 2];
  struct input_include *inc = input_include_open(path, reader->options.max_line_bytes, why, sizeof why);
  if (inc == NULL) {
    return fail_here(reader, "$INCLUDE %s: %s", path, why);
  }
  bool loop = file->has_inode && input_include_same_file(inc, file->device, file->inode);
  for (size_t i = 0; i < reader->include_depth && !loop; i++) {
    loop = input_include_same_as(inc, reader->includes[i]);
  }
  if (loop) {
    input_include_free(inc);
    return fail_here(reader, "$INCLUDE %s: a loop (the file is already being read)", path);
  }
  if (input_zone_include_begin(reader->zone, why, sizeof why) != 0) {
    input_include_free(inc);
    return fail_here(reader, "$INCLUDE %s: %s", path, why);
  }
  reader->includes[reader->include_depth++] = inc;
  return 0;
}

/* The innermost included file ended: its open record is checked, its
 * checksum noted, the including file's origin and owner restored. */
static void include_pop(struct input_reader *reader) {
  struct input_include *inc = reader->includes[reader->include_depth - 1];
  char message[MESSAGE_MAX_BYTES];
  if (input_zone_finish(reader->zone, message, sizeof message) == INPUT_ZONE_BAD_LINE) {
    bad_line(reader, message);
  }
  char sum[2 * 32 + 1];
  input_include_checksum(inc, sum);
  snprintf(message, sizeof message, "%s: included file read to the end (%llu lines, sha256 %s)",
           input_include_display(inc), (unsigned long long)input_include_line_no(inc), sum);
  notice(reader, message);
  input_include_free(inc);
  reader->include_depth--;
  input_zone_include_end(reader->zone);
}

/* One line of the innermost included file: 1 a name was emitted, 0 go on,
 * -1 the input ends (failure set). */
static int include_line(struct input_reader *reader, struct input_name *out) {
  struct input_include *inc = reader->includes[reader->include_depth - 1];
  const char *line = NULL;
  size_t len = 0;
  bool too_long = false;
  int rc = input_include_next_line(inc, &line, &len, &too_long, reader->failure, sizeof reader->failure);
  if (rc < 0) {
    return -1;
  }
  if (rc == 0) {
    include_pop(reader);
    return 0;
  }
  if (too_long) {
    char message[96];
    snprintf(message, sizeof message, "line longer than %zu bytes skipped", reader->options.max_line_bytes);
    bad_line(reader, message);
    input_zone_abandon_record(reader->zone);
    return 0;
  }
  format_check_line(reader, line, len);
  return zone_line(reader, line, len, out);
}

static int zone_line(struct input_reader *reader, const char *line, size_t len, struct input_name *out) {
  const uint8_t *wire = NULL;
  size_t wire_len = 0;
  char message[MESSAGE_MAX_BYTES];
  enum input_zone_result result = input_zone_line(reader->zone, line, len, &wire, &wire_len, message, sizeof message);
  if (result == INPUT_ZONE_BAD_LINE) {
    bad_line(reader, message);
    return 0;
  }
  if (result == INPUT_ZONE_INCLUDE) {
    return include_push(reader);
  }
  if (result == INPUT_ZONE_GENERATE) {
    reader->zone_generating = true;
    return zone_generate_continue(reader, out);
  }
  if (result != INPUT_ZONE_DELEGATION) {
    return 0;
  }
  return zone_delegation(reader, wire, wire_len, out);
}

/* The held delegation, if any, into the look-ahead ring (1: out was
 * filled). Called when the owner changes and at the end of a file. */
static int flush_held(struct input_reader *reader, struct input_name *out) {
  if (!reader->held) {
    return 0;
  }
  reader->held = false;
  return push_name(reader, reader->held_key, reader->held_name, reader->held_name_len,
                   reader->held_invalid ? reader->held_reason : NULL, -1, reader->held_line, reader->held_ns,
                   reader->held_ns_len, out);
}

/* Adds the NS target of the tokenizer's last delegation to the held
 * delegation's set: a host name not yet in it, while it fits. */
static void held_add_target(struct input_reader *reader) {
  char text[INPUT_NAME_MAX_BYTES];
  size_t len = input_zone_ns_target_text(reader->zone, text, sizeof text);
  if (len == 0) {
    return;
  }
  char *ns = reader->held_ns;
  for (size_t at = 0; at < reader->held_ns_len;) {
    const char *space = memchr(ns + at, ' ', reader->held_ns_len - at);
    size_t word = space != NULL ? (size_t)(space - (ns + at)) : reader->held_ns_len - at;
    if (word == len && memcmp(ns + at, text, len) == 0) {
      return;
    }
    at += word + 1;
  }
  size_t need = (reader->held_ns_len > 0 ? 1 : 0) + len;
  if (reader->held_ns_len + need >= INPUT_NS_MAX_BYTES) {
    return;
  }
  if (reader->held_ns_len > 0) {
    ns[reader->held_ns_len++] = ' ';
  }
  memcpy(ns + reader->held_ns_len, text, len);
  reader->held_ns_len += len;
  ns[reader->held_ns_len] = '\0';
}

/* One delegation's owner (an NS record) from the tokenizer: the NS target
 * joins the held delegation of the same owner; another owner is selected
 * and held, and the one held before is offered. */
static int zone_delegation(struct input_reader *reader, const uint8_t *wire, size_t wire_len, struct input_name *out) {
  /* A delegation's NS records are (nearly always) adjacent: the common case
   * costs a memcmp, not a hash lookup. */
  if (wire_len == reader->last_delegation_len && memcmp(wire, reader->last_delegation, wire_len) == 0) {
    if (reader->held) {
      held_add_target(reader);
    }
    return 0;
  }
  int emitted = flush_held(reader, out);
  if (wire[0] == 1 && wire[1] == '*') {
    return emitted; /* a wildcard (RFC 4592) is not a registered name */
  }
  memcpy(reader->last_delegation, wire, wire_len);
  reader->last_delegation_len = wire_len;
  char *name = reader->held_name;
  char *reason = reader->held_reason;
  size_t name_len = input_wire_to_text(wire, wire_len, name, sizeof reader->held_name);
  bool valid = input_hostname_check_wire(wire, wire_len, reason, sizeof reader->held_reason) == 0;
  if (!select_name(reader, name, name_len, valid ? NULL : reason, &reader->held_key)) {
    return emitted;
  }
  reader->held = true;
  reader->held_invalid = !valid;
  reader->held_name_len = name_len;
  reader->held_line = reader->line_no;
  reader->held_ns_len = 0;
  reader->held_ns[0] = '\0';
  held_add_target(reader);
  return emitted;
}

static int process_line(struct input_reader *reader, const char *line, size_t len, struct input_name *out) {
  switch (reader->files[reader->current].format) {
  case INPUT_FORMAT_ZONE:
    return zone_line(reader, line, len, out);
  case INPUT_FORMAT_CSV:
    return csv_line(reader, line, len, out);
  case INPUT_FORMAT_LIST:
  case INPUT_FORMAT_AUTO:
    break;
  }
  return list_line(reader, line, len, out);
}

static int finish_all(struct input_reader *reader) {
  if (!reader->summary_done) {
    reader->summary_done = true;
    if (reader->suppressed > 0) {
      char message[MESSAGE_MAX_BYTES];
      snprintf(message, sizeof message, "%llu more problems not shown (%llu bad lines and %llu invalid names in all)",
               (unsigned long long)reader->suppressed, (unsigned long long)reader->counts.bad_lines,
               (unsigned long long)reader->counts.invalid);
      notice(reader, message);
    }
  }
  return 0;
}

int input_reader_next(struct input_reader *reader, struct input_name *out, char *why, size_t why_len) {
  if (reader->failed) {
    /* Names read before the failure are still emitted. */
    if (drain_pending(reader, out) == 1) {
      return 1;
    }
    snprintf(why, why_len, "%s", reader->failure);
    return -1;
  }
  for (;;) {
    if (reader->options.limit != 0 && reader->counts.names >= reader->options.limit) {
      reader->pending_count = 0;
      return finish_all(reader);
    }
    if (!reader->file_open) {
      if (reader->current >= reader->file_count) {
        if (drain_pending(reader, out) == 1) {
          return 1;
        }
        return finish_all(reader);
      }
      if (start_file(reader, reader->failure, sizeof reader->failure) != 0) {
        break;
      }
    }
    if (reader->zone_generating) {
      if (zone_generate_continue(reader, out) == 1) {
        return 1;
      }
      continue;
    }
    if (reader->include_depth > 0) {
      int included = include_line(reader, out);
      if (included == 1) {
        return 1;
      }
      if (included < 0 || format_check(reader, false) != 0) {
        break;
      }
      continue;
    }
    const char *line = NULL;
    size_t len = 0;
    int rc = next_line(reader, &line, &len, reader->failure, sizeof reader->failure);
    if (rc < 0) {
      break;
    }
    if (rc == 0) {
      bool mostly_bad = format_check(reader, true) != 0;
      /* The file's last delegation, before the file index moves on. */
      int emitted = flush_held(reader, out);
      finish_file(reader);
      if (emitted == 1) {
        reader->failed = mostly_bad; /* the next call ends the input */
        return 1;
      }
      if (mostly_bad) {
        break;
      }
      continue;
    }
    format_check_line(reader, line, len);
    int processed = process_line(reader, line, len, out);
    if (processed == 1) {
      return 1;
    }
    if (processed < 0 || format_check(reader, false) != 0) {
      break;
    }
  }
  reader->failed = true;
  /* Names read before the failure are still emitted. */
  if (flush_held(reader, out) == 1 || drain_pending(reader, out) == 1) {
    return 1;
  }
  snprintf(why, why_len, "%s", reader->failure);
  return -1;
}

void input_reader_get_counts(const struct input_reader *reader, struct input_counts *out) {
  *out = reader->counts;
}

const char *input_reader_checksum(const struct input_reader *reader, size_t file_index) {
  if (file_index >= reader->file_count) {
    return NULL;
  }
  const struct input_file *file = &reader->files[file_index];
  if (file->finished) {
    return file->checksum;
  }
  if (file_index != reader->current || !reader->file_open || file->is_stdin) {
    return NULL;
  }
  /* The digest of the bytes read so far, from a copy of the running one. */
  EVP_MD_CTX *copy = EVP_MD_CTX_new();
  if (copy == NULL ||
      (reader->stream != NULL ? input_stream_digest_copy(reader->stream, copy) != 0
                              : EVP_MD_CTX_copy_ex(copy, reader->sha) != 1)) {
    EVP_MD_CTX_free(copy);
    return NULL;
  }
  hex_digest(copy, reader->checksum_scratch);
  EVP_MD_CTX_free(copy);
  return reader->checksum_scratch;
}

void input_reader_free(struct input_reader *reader) {
  if (reader == NULL) {
    return;
  }
  /* First: the read-ahead thread uses the file's descriptor and name. */
  input_stream_free(reader->stream);
  reader->stream = NULL;
  for (size_t i = 0; reader->files != NULL && i < reader->file_count; i++) {
    struct input_file *file = &reader->files[i];
    if (file->fd >= 0 && !file->is_stdin) {
      close(file->fd);
    }
    free(file->path);
    free(file->display);
  }
  free(reader->files);
  EVP_MD_CTX_free(reader->sha);
  free(reader->checksum_scratch);
  free(reader->raw);
  free(reader->buf);
  input_dedup_free(reader->dedup);
  for (size_t i = 0; i < reader->include_depth; i++) {
    input_include_free(reader->includes[i]);
  }
  input_zone_free(reader->zone);
  free(reader->zone_origin);
  free(reader);
}
