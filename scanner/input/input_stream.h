/* Read-ahead of one input file on its own thread (internal to the input
 * reader): the thread reads the file's raw bytes (a file descriptor or
 * memory), adds them to the file's SHA-256 and, for gzip, inflates them
 * (every member; bytes after the gzip data are read, hashed and noted), into
 * a ring of INPUT_STREAM_BLOCKS blocks of block_bytes each that the parsing
 * thread takes in order. So reading, checksumming and decompression run on
 * a second core while the first one parses. Where the process may use only
 * one CPU, there is no thread: input_stream_read does the same work in line
 * (and no blocks are allocated). Memory: INPUT_STREAM_BLOCKS
 * blocks plus one raw buffer of block_bytes, and zlib's 32 KiB window. It
 * does not split lines or look at the data. */
#ifndef DANESCAN_INPUT_STREAM_H
#define DANESCAN_INPUT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#define INPUT_STREAM_BLOCKS 4

struct input_stream_source {
  int fd;                /* read from it when >= 0 (not closed by the stream) */
  const uint8_t *memory; /* else these bytes, from memory_pos on */
  size_t memory_len;
  size_t memory_pos;
  const uint8_t *prefix; /* raw bytes the caller read (and hashed) already: */
  size_t prefix_len;     /* they come first (copied when the stream starts) */
  bool gzip;             /* inflate (prefix starts with the gzip magic) */
  const char *display;   /* the file in messages; must outlive the stream */
  EVP_MD_CTX *sha;       /* lent to the thread until input_stream_free */
  size_t block_bytes;    /* >= 1 */
  bool no_thread;        /* read in the caller's thread (as on one CPU) */
};

struct input_stream;

/* Starts the thread. Returns NULL with a message in why when memory, zlib
 * or the thread cannot be had. */
struct input_stream *input_stream_start(const struct input_stream_source *source, char *why, size_t why_len);

/* Copies up to cap bytes of the file's (decompressed) data to dst, waiting
 * for the thread if needed. Returns the count, 0 at the end of the data,
 * -1 on a read error or bad gzip data with the message in why ("zone.gz:
 * truncated gzip data (the file ends inside a member)", "...: read error:
 * ...", "...: corrupt gzip data (...)"), after all data before the error. */
ssize_t input_stream_read(struct input_stream *stream, void *dst, size_t cap, char *why, size_t why_len);

/* After input_stream_read returned 0: true when bytes after the gzip data
 * were ignored (the caller says so). */
bool input_stream_trailing_bytes(struct input_stream *stream);

/* Copies the running SHA-256 (of the raw bytes the thread has read so far)
 * into copy. Returns 0, or -1. */
int input_stream_digest_copy(struct input_stream *stream, EVP_MD_CTX *copy);

/* Stops the thread (also one blocked reading a pipe) and frees the stream;
 * the sha context is the caller's again. NULL: no-op. */
void input_stream_free(struct input_stream *stream);

#endif
