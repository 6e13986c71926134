/* Files named by $INCLUDE in a zone file: the reader keeps a stack of them
 * over the file given as input and takes lines from the innermost. They
 * are plain text (BIND, NSD and Knot read included files as text too),
 * read with the same line rules as inputs (max_line_bytes), and hashed
 * (SHA-256 of the raw bytes) so the reader can report what it read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "input/input_internal.h"

#define INCLUDE_READ_BYTES ((size_t)64 << 10)

struct input_include {
  char *display; /* the resolved path, in messages */
  int fd;
  dev_t device;
  ino_t inode;
  EVP_MD_CTX *sha;
  char *buf;
  size_t cap;
  size_t start;
  size_t end;
  size_t max_line_bytes;
  bool eof;
  bool skipping_long_line;
  uint64_t line_no;
};

int input_include_resolve(const char *including, const char *name, char *out, size_t out_size) {
  const char *slash = name[0] == '/' || including == NULL ? NULL : strrchr(including, '/');
  int n = slash == NULL ? snprintf(out, out_size, "%s", name)
                        : snprintf(out, out_size, "%.*s/%s", (int)(slash - including), including, name);
  return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

struct input_include *input_include_open(const char *path, size_t max_line_bytes, char *why, size_t why_len) {
  struct input_include *inc = calloc(1, sizeof *inc);
  if (inc == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  inc->fd = -1;
  inc->max_line_bytes = max_line_bytes;
  inc->cap = max_line_bytes + INCLUDE_READ_BYTES + 1;
  inc->display = strdup(path);
  inc->buf = malloc(inc->cap);
  inc->sha = EVP_MD_CTX_new();
  if (inc->display == NULL || inc->buf == NULL || inc->sha == NULL) {
    snprintf(why, why_len, "out of memory");
    input_include_free(inc);
    return NULL;
  }
  EVP_DigestInit_ex(inc->sha, EVP_sha256(), NULL);
  inc->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (inc->fd < 0 || fstat(inc->fd, &st) != 0) {
    snprintf(why, why_len, "%s", strerror(errno));
    input_include_free(inc);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, why_len, "not a regular file");
    input_include_free(inc);
    return NULL;
  }
  inc->device = st.st_dev;
  inc->inode = st.st_ino;
  return inc;
}

bool input_include_same_file(const struct input_include *inc, dev_t device, ino_t inode) {
  return inc->device == device && inc->inode == inode;
}

bool input_include_same_as(const struct input_include *a, const struct input_include *b) {
  return a->device == b->device && a->inode == b->inode;
}

const char *input_include_display(const struct input_include *inc) {
  return inc->display;
}

uint64_t input_include_line_no(const struct input_include *inc) {
  return inc->line_no;
}

static int include_fill(struct input_include *inc, char *why, size_t why_len) {
  if (inc->start > 0) {
    memmove(inc->buf, inc->buf + inc->start, inc->end - inc->start);
    inc->end -= inc->start;
    inc->start = 0;
  }
  ssize_t got;
  do {
    got = read(inc->fd, inc->buf + inc->end, inc->cap - 1 - inc->end);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    snprintf(why, why_len, "%s: read error: %s", inc->display, strerror(errno));
    return -1;
  }
  if (got == 0) {
    inc->eof = true;
    return 0;
  }
  if (inc->line_no == 0 && inc->end == 0 && got >= 2 && (uint8_t)inc->buf[0] == 0x1f && (uint8_t)inc->buf[1] == 0x8b) {
    snprintf(why, why_len, "%s: gzip'd file named by $INCLUDE (included files must be plain text)", inc->display);
    return -1;
  }
  EVP_DigestUpdate(inc->sha, inc->buf + inc->end, (size_t)got);
  inc->end += (size_t)got;
  return 0;
}

int input_include_next_line(struct input_include *inc, const char **line, size_t *line_len, bool *too_long, char *why,
                            size_t why_len) {
  *too_long = false;
  for (;;) {
    char *begin = inc->buf + inc->start;
    size_t avail = inc->end - inc->start;
    char *nl = memchr(begin, '\n', avail);
    if (nl != NULL) {
      inc->start += (size_t)(nl - begin) + 1;
      inc->line_no++;
      if (inc->skipping_long_line) {
        inc->skipping_long_line = false;
        continue;
      }
      *line = begin;
      *line_len = (size_t)(nl - begin);
      *too_long = *line_len > inc->max_line_bytes;
      return 1;
    }
    if (inc->eof) {
      inc->start = inc->end;
      if (avail == 0 || inc->skipping_long_line) {
        return 0;
      }
      inc->line_no++;
      *line = begin;
      *line_len = avail;
      return 1;
    }
    if (avail >= inc->max_line_bytes && !inc->skipping_long_line) {
      inc->skipping_long_line = true;
      inc->start = inc->end = 0;
      *too_long = true;
      *line = NULL;
      *line_len = 0;
      inc->line_no++;
      return 1; /* the caller reports it; its '\n' is not counted again */
    }
    if (inc->skipping_long_line) {
      inc->start = inc->end = 0;
    }
    if (include_fill(inc, why, why_len) != 0) {
      return -1;
    }
    if (inc->skipping_long_line && !inc->eof) {
      /* the long line's '\n' ends the skip without counting a line */
      char *end_nl = memchr(inc->buf, '\n', inc->end);
      if (end_nl != NULL) {
        inc->start = (size_t)(end_nl - inc->buf) + 1;
        inc->skipping_long_line = false;
      }
    }
  }
}

void input_include_checksum(struct input_include *inc, char out[2 * 32 + 1]) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(inc->sha, digest, &len);
  for (unsigned int i = 0; i < len && i < 32; i++) {
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  }
}

void input_include_free(struct input_include *inc) {
  if (inc == NULL) {
    return;
  }
  if (inc->fd >= 0) {
    close(inc->fd);
  }
  EVP_MD_CTX_free(inc->sha);
  free(inc->buf);
  free(inc->display);
  free(inc);
}
