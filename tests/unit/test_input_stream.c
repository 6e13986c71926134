/* Unit tests of the input reader's read-ahead thread (input/input_stream.h):
 * every byte once and in order whatever the block and read sizes, the
 * checksum of the raw bytes, gzip members, trailing bytes and errors after
 * the data before them, and stopping early on a pipe whose writer stays. */
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "input/input.h"
#include "input/input_stream.h"
#include "unit.h"

/* Reads the whole stream in reads of cap bytes; returns the final rc. */
static int drain(struct input_stream *stream, size_t cap, uint8_t *out, size_t out_cap, size_t *out_len, char *why,
                 size_t why_len) {
  *out_len = 0;
  for (;;) {
    uint8_t chunk[64];
    size_t want = cap < sizeof chunk ? cap : sizeof chunk;
    ssize_t got = input_stream_read(stream, chunk, want, why, why_len);
    if (got <= 0) {
      return (int)got;
    }
    if (*out_len + (size_t)got <= out_cap) {
      memcpy(out + *out_len, chunk, (size_t)got);
    }
    *out_len += (size_t)got;
  }
}

static void sha_hex(EVP_MD_CTX *ctx, char *hex) {
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  for (unsigned i = 0; i < 32; i++) {
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
}

static bool no_thread; /* each test runs with and without the thread */

static void test_plain_blocks(void) {
  static uint8_t data[10007];
  for (size_t i = 0; i < sizeof data; i++) {
    data[i] = (uint8_t)(i * 7 + i / 251);
  }
  char want_hex[65];
  EVP_MD_CTX *want = EVP_MD_CTX_new();
  EVP_DigestInit_ex(want, EVP_sha256(), NULL);
  EVP_DigestUpdate(want, data, sizeof data);
  sha_hex(want, want_hex);
  EVP_MD_CTX_free(want);
  const size_t blocks[] = {1, 7, 64, 4096, 1 << 20};
  const size_t caps[] = {1, 13, 64};
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
      EVP_MD_CTX *sha = EVP_MD_CTX_new();
      EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
      EVP_DigestUpdate(sha, data, 5); /* the caller's first read */
      struct input_stream_source source = {.fd = -1,
                                           .memory = data,
                                           .memory_len = sizeof data,
                                           .memory_pos = 5,
                                           .display = "mem",
                                           .sha = sha,
                                           .block_bytes = blocks[b]};
      char why[256];
      struct input_stream *stream = input_stream_start(&source, why, sizeof why);
      CHECK(stream != NULL);
      if (stream == NULL) {
        EVP_MD_CTX_free(sha);
        continue;
      }
      static uint8_t out[sizeof data];
      size_t out_len = 0;
      CHECK_INT(drain(stream, caps[c], out, sizeof out, &out_len, why, sizeof why), 0);
      CHECK_INT(out_len, sizeof data - 5);
      CHECK(memcmp(out, data + 5, sizeof data - 5) == 0);
      CHECK(!input_stream_trailing_bytes(stream));
      input_stream_free(stream);
      char hex[65];
      sha_hex(sha, hex);
      CHECK_STR(hex, want_hex);
      EVP_MD_CTX_free(sha);
    }
  }
}

static size_t gzip_member(const char *text, uint8_t *out, size_t out_cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = (Bytef *)(uintptr_t)text;
  z.avail_in = (uInt)strlen(text);
  z.next_out = out;
  z.avail_out = (uInt)out_cap;
  deflate(&z, Z_FINISH);
  size_t len = out_cap - z.avail_out;
  deflateEnd(&z);
  return len;
}

static void test_gzip(void) {
  uint8_t gz[1024];
  size_t len = gzip_member("alpha.example\nbravo.example\n", gz, sizeof gz);
  len += gzip_member("charlie.example\n", gz + len, sizeof gz - len);
  size_t whole = len;
  memcpy(gz + len, "junk", 4); /* trailing bytes */
  len += 4;
  const char *want = "alpha.example\nbravo.example\ncharlie.example\n";
  for (size_t block = 1; block <= 64; block *= 4) {
    for (int variant = 0; variant < 3; variant++) {
      EVP_MD_CTX *sha = EVP_MD_CTX_new();
      EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
      EVP_DigestUpdate(sha, gz, 3);
      /* 0: with trailing bytes; 1: without; 2: truncated inside member 2. */
      size_t data_len = variant == 0 ? len : variant == 1 ? whole : whole - 6;
      struct input_stream_source source = {.fd = -1,
                                           .memory = gz,
                                           .memory_len = data_len,
                                           .memory_pos = 3,
                                           .prefix = gz,
                                           .prefix_len = 3,
                                           .gzip = true,
                                           .display = "x.gz",
                                           .sha = sha,
                                           .block_bytes = block};
      char why[256] = "";
      struct input_stream *stream = input_stream_start(&source, why, sizeof why);
      CHECK(stream != NULL);
      if (stream == NULL) {
        EVP_MD_CTX_free(sha);
        continue;
      }
      uint8_t out[256];
      size_t out_len = 0;
      int rc = drain(stream, 5, out, sizeof out, &out_len, why, sizeof why);
      if (variant == 2) {
        CHECK_INT(rc, -1);
        CHECK_STR(why, "x.gz: truncated gzip data (the file ends inside a member)");
        CHECK(out_len >= 28 && memcmp(out, want, 28) == 0); /* member 1 came first */
      } else {
        CHECK_INT(rc, 0);
        CHECK_INT(out_len, strlen(want));
        CHECK(memcmp(out, want, strlen(want)) == 0);
        CHECK(input_stream_trailing_bytes(stream) == (variant == 0));
      }
      input_stream_free(stream);
      EVP_MD_CTX_free(sha);
    }
  }
}

static void test_read_error(void) {
  int fd = open(".", O_RDONLY); /* read() of a directory: EISDIR */
  CHECK(fd >= 0);
  EVP_MD_CTX *sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
  struct input_stream_source source = {
      .fd = fd, .display = "dir", .sha = sha, .block_bytes = 4096, .no_thread = no_thread};
  char why[256] = "";
  struct input_stream *stream = input_stream_start(&source, why, sizeof why);
  CHECK(stream != NULL);
  uint8_t buf[16];
  CHECK_INT(input_stream_read(stream, buf, sizeof buf, why, sizeof why), -1);
  CHECK(strncmp(why, "dir: read error: ", 17) == 0);
  input_stream_free(stream);
  EVP_MD_CTX_free(sha);
  close(fd);
}

/* --limit on a pipe whose writer neither writes nor closes: the reader must
 * still end (the thread blocked in read() is cancelled). */
static void test_early_stop_on_pipe(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  const char *text = "a.example\nb.example\n";
  CHECK(write(fds[1], text, strlen(text)) == (ssize_t)strlen(text));
  char path[64];
  snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
  const char *paths[] = {path};
  struct input_options options;
  input_options_defaults(&options);
  options.format = INPUT_FORMAT_LIST;
  options.limit = 1;
  char why[256];
  alarm(20); /* a hang fails the test instead of stalling the suite */
  struct input_reader *reader = input_reader_open(paths, 1, &options, why, sizeof why);
  CHECK(reader != NULL);
  if (reader != NULL) {
    struct input_name name;
    CHECK_INT(input_reader_next(reader, &name, why, sizeof why), 1);
    CHECK_STR(name.name, "a.example");
    CHECK_INT(input_reader_next(reader, &name, why, sizeof why), 0);
    input_reader_free(reader);
  }
  alarm(0);
  close(fds[0]);
  close(fds[1]);
}

static void test_without_thread(void) {
  no_thread = true;
  test_plain_blocks();
  test_gzip();
  test_read_error();
  no_thread = false;
}

UNIT_MAIN(UNIT_TEST(test_plain_blocks), UNIT_TEST(test_gzip), UNIT_TEST(test_read_error),
          UNIT_TEST(test_early_stop_on_pipe), UNIT_TEST(test_without_thread))
