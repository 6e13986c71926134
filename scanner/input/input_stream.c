/* Read-ahead thread of the input reader (see input_stream.h). One producer
 * (the thread) and one consumer (input_stream_read) share a ring of
 * INPUT_STREAM_BLOCKS blocks under one mutex, taken once per block: the
 * producer fills the block after the filled ones while there is a free one,
 * the consumer copies out of the oldest and frees it when emptied. The
 * thread's messages are kept until the consumer reaches them, so errors and
 * the trailing-bytes notice come after all data before them, on the
 * consumer's thread, as when reading was done in line. */
#include "input/input_stream.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#define STREAM_MESSAGE_BYTES 512

struct stream_block {
  uint8_t *data;
  size_t len;
};

struct input_stream {
  struct input_stream_source source;

  /* Thread side. */
  uint8_t *raw;
  size_t raw_cap;
  bool raw_eof;
  const uint8_t *pending; /* plain: prefix bytes not yet handed on */
  size_t pending_len;
  z_stream z;
  bool z_ready;
  bool member_done;
  pthread_t thread;
  bool thread_started;
  bool threaded;            /* false: one CPU (or asked): produce in input_stream_read */
  int inline_status;        /* without the thread: produce's last status */
  pthread_mutex_t sha_lock; /* the thread's digest updates and the consumer's copies */

  /* Shared under lock. */
  pthread_mutex_t lock;
  pthread_cond_t filled; /* the consumer waits for a block or the end */
  pthread_cond_t freed;  /* the thread waits for a free block or stop */
  struct stream_block blocks[INPUT_STREAM_BLOCKS];
  size_t head;  /* oldest filled block */
  size_t count; /* filled blocks */
  bool done;    /* no more blocks: the end, or an error */
  bool failed;
  bool trailing;
  bool stop;
  char error[STREAM_MESSAGE_BYTES]; /* written by the thread before done */

  /* Consumer side. */
  size_t head_pos; /* bytes of the oldest block already copied out */
};

/* Up to cap raw bytes; updates the checksum. Returns the count, 0 at the
 * end, -1 on a read error (message in stream->error). Reading a pipe is the
 * one place where the thread may be cancelled. */
static ssize_t raw_read(struct input_stream *stream, uint8_t *dst, size_t cap) {
  struct input_stream_source *source = &stream->source;
  ssize_t got;
  if (source->fd < 0) {
    size_t left = source->memory_len - source->memory_pos;
    size_t n = left < cap ? left : cap;
    memcpy(dst, source->memory + source->memory_pos, n);
    source->memory_pos += n;
    got = (ssize_t)n;
  } else {
    do {
      pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
      got = read(source->fd, dst, cap);
      pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      char text[128];
      snprintf(stream->error, sizeof stream->error, "%s: read error: %s", source->display,
               strerror_r(errno, text, sizeof text));
      return -1;
    }
  }
  if (got > 0) {
    pthread_mutex_lock(&stream->sha_lock);
    EVP_DigestUpdate(source->sha, dst, (size_t)got);
    pthread_mutex_unlock(&stream->sha_lock);
  }
  return got;
}

/* After a gzip member: another member (1), the end (0), or trailing bytes
 * that gzip itself would ignore with a warning (read, for the checksum, and
 * noted; 0). -1 on a read error. */
static int next_member(struct input_stream *stream) {
  if (stream->z.avail_in == 0 && !stream->raw_eof) {
    ssize_t got = raw_read(stream, stream->raw, stream->raw_cap);
    if (got < 0) {
      return -1;
    }
    stream->raw_eof = got == 0;
    stream->z.next_in = stream->raw;
    stream->z.avail_in = (uInt)got;
  }
  if (stream->z.avail_in == 0) {
    return 0;
  }
  if (stream->z.next_in[0] != 0x1f) {
    stream->trailing = true;
    while (!stream->raw_eof) {
      ssize_t got = raw_read(stream, stream->raw, stream->raw_cap);
      if (got < 0) {
        return -1;
      }
      stream->raw_eof = got == 0;
    }
    stream->z.avail_in = 0;
    return 0;
  }
  inflateReset(&stream->z);
  stream->member_done = false;
  return 1;
}

/* Fills dst (up to cap bytes, stopping where more input must be read) with
 * decompressed data. Sets *len; returns 1 when there may be more, 0 at the
 * end, -1 on an error (the bytes of the failing inflate call are not
 * counted). */
static int produce_gzip(struct input_stream *stream, uint8_t *dst, size_t cap, size_t *len) {
  *len = 0;
  while (*len < cap) {
    if (stream->member_done) {
      int next = next_member(stream);
      if (next <= 0) {
        return next;
      }
    }
    if (stream->z.avail_in == 0 && !stream->raw_eof) {
      if (*len > 0) {
        return 1; /* hand on what there is before waiting for more input */
      }
      ssize_t got = raw_read(stream, stream->raw, stream->raw_cap);
      if (got < 0) {
        return -1;
      }
      stream->raw_eof = got == 0;
      stream->z.next_in = stream->raw;
      stream->z.avail_in = (uInt)got;
    }
    size_t room = cap - *len;
    stream->z.next_out = dst + *len;
    stream->z.avail_out = (uInt)room;
    int rc = inflate(&stream->z, Z_NO_FLUSH);
    size_t produced = room - stream->z.avail_out;
    if (rc == Z_STREAM_END) {
      stream->member_done = true;
    } else if (rc == Z_BUF_ERROR || (rc == Z_OK && produced == 0)) {
      if (stream->z.avail_in == 0 && stream->raw_eof) {
        snprintf(stream->error, sizeof stream->error, "%s: truncated gzip data (the file ends inside a member)",
                 stream->source.display);
        return -1;
      }
    } else if (rc != Z_OK) {
      snprintf(stream->error, sizeof stream->error, "%s: corrupt gzip data (%s)", stream->source.display,
               stream->z.msg != NULL ? stream->z.msg : "inflate failed");
      return -1;
    }
    *len += produced;
  }
  return 1;
}

/* As produce_gzip for a plain file: the prefix, else one read. */
static int produce_plain(struct input_stream *stream, uint8_t *dst, size_t cap, size_t *len) {
  *len = 0;
  if (stream->pending_len > 0) {
    size_t n = stream->pending_len < cap ? stream->pending_len : cap;
    memcpy(dst, stream->pending, n);
    stream->pending += n;
    stream->pending_len -= n;
    *len = n;
  }
  if (*len > 0) {
    return 1;
  }
  /* One read() per block: a pipe's bytes are handed on as they come. */
  ssize_t got = raw_read(stream, dst, cap);
  if (got <= 0) {
    return (int)got;
  }
  *len = (size_t)got;
  return 1;
}

static void *stream_main(void *arg) {
  struct input_stream *stream = arg;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  for (;;) {
    pthread_mutex_lock(&stream->lock);
    while (stream->count == INPUT_STREAM_BLOCKS && !stream->stop) {
      pthread_cond_wait(&stream->freed, &stream->lock);
    }
    bool stop = stream->stop;
    size_t slot = (stream->head + stream->count) % INPUT_STREAM_BLOCKS;
    pthread_mutex_unlock(&stream->lock);
    if (stop) {
      return NULL;
    }
    struct stream_block *block = &stream->blocks[slot];
    int status = stream->source.gzip ? produce_gzip(stream, block->data, stream->source.block_bytes, &block->len)
                                     : produce_plain(stream, block->data, stream->source.block_bytes, &block->len);
    pthread_mutex_lock(&stream->lock);
    if (block->len > 0) {
      stream->count++;
    }
    if (status <= 0) {
      stream->done = true;
      stream->failed = status < 0;
    }
    pthread_cond_signal(&stream->filled);
    pthread_mutex_unlock(&stream->lock);
    if (status <= 0) {
      return NULL;
    }
  }
}

struct input_stream *input_stream_start(const struct input_stream_source *source, char *why, size_t why_len) {
  struct input_stream *stream = calloc(1, sizeof *stream);
  if (stream == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  stream->source = *source;
  if (stream->source.block_bytes == 0) {
    stream->source.block_bytes = 1;
  }
  pthread_mutex_init(&stream->lock, NULL);
  pthread_mutex_init(&stream->sha_lock, NULL);
  pthread_cond_init(&stream->filled, NULL);
  pthread_cond_init(&stream->freed, NULL);
  /* With one CPU a second thread only adds switches and cache misses. */
  cpu_set_t cpus;
  stream->threaded = !source->no_thread && !(sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) == 1);
  stream->raw_cap = stream->source.block_bytes > source->prefix_len ? stream->source.block_bytes : source->prefix_len;
  stream->raw = malloc(stream->raw_cap);
  bool ok = stream->raw != NULL;
  for (size_t i = 0; ok && stream->threaded && i < INPUT_STREAM_BLOCKS; i++) {
    stream->blocks[i].data = malloc(stream->source.block_bytes);
    ok = stream->blocks[i].data != NULL;
  }
  if (!ok) {
    snprintf(why, why_len, "out of memory");
    input_stream_free(stream);
    return NULL;
  }
  if (source->prefix_len > 0) {
    memcpy(stream->raw, source->prefix, source->prefix_len);
  }
  if (source->gzip) {
    if (inflateInit2(&stream->z, 16 + MAX_WBITS) != Z_OK) {
      snprintf(why, why_len, "%s: zlib initialisation failed", source->display);
      input_stream_free(stream);
      return NULL;
    }
    stream->z_ready = true;
    stream->z.next_in = stream->raw;
    stream->z.avail_in = (uInt)source->prefix_len;
  } else {
    stream->pending = stream->raw;
    stream->pending_len = source->prefix_len;
  }
  stream->inline_status = 1;
  if (!stream->threaded) {
    return stream;
  }
  int rc = pthread_create(&stream->thread, NULL, stream_main, stream);
  if (rc != 0) {
    char text[128];
    snprintf(why, why_len, "%s: cannot start the reading thread: %s", source->display,
             strerror_r(rc, text, sizeof text));
    input_stream_free(stream);
    return NULL;
  }
  stream->thread_started = true;
  return stream;
}

/* input_stream_read without the thread: straight into dst. */
static ssize_t read_inline(struct input_stream *stream, void *dst, size_t cap, char *why, size_t why_len) {
  size_t len = 0;
  if (stream->inline_status > 0) {
    stream->inline_status = stream->source.gzip ? produce_gzip(stream, dst, cap, &len)
                                                : produce_plain(stream, dst, cap, &len);
    stream->done = stream->inline_status <= 0;
    if (len > 0) {
      return (ssize_t)len;
    }
  }
  if (stream->inline_status < 0) {
    snprintf(why, why_len, "%s", stream->error);
    return -1;
  }
  return 0;
}

ssize_t input_stream_read(struct input_stream *stream, void *dst, size_t cap, char *why, size_t why_len) {
  if (!stream->threaded) {
    return read_inline(stream, dst, cap, why, why_len);
  }
  pthread_mutex_lock(&stream->lock);
  while (stream->count == 0 && !stream->done) {
    pthread_cond_wait(&stream->filled, &stream->lock);
  }
  if (stream->count == 0) {
    bool failed = stream->failed;
    pthread_mutex_unlock(&stream->lock);
    if (failed) {
      snprintf(why, why_len, "%s", stream->error);
      return -1;
    }
    return 0;
  }
  struct stream_block *block = &stream->blocks[stream->head];
  pthread_mutex_unlock(&stream->lock);
  size_t left = block->len - stream->head_pos;
  size_t n = left < cap ? left : cap;
  memcpy(dst, block->data + stream->head_pos, n);
  stream->head_pos += n;
  if (stream->head_pos == block->len) {
    stream->head_pos = 0;
    pthread_mutex_lock(&stream->lock);
    stream->head = (stream->head + 1) % INPUT_STREAM_BLOCKS;
    stream->count--;
    pthread_cond_signal(&stream->freed);
    pthread_mutex_unlock(&stream->lock);
  }
  return (ssize_t)n;
}

bool input_stream_trailing_bytes(struct input_stream *stream) {
  pthread_mutex_lock(&stream->lock);
  bool trailing = stream->done && stream->trailing;
  pthread_mutex_unlock(&stream->lock);
  return trailing;
}

int input_stream_digest_copy(struct input_stream *stream, EVP_MD_CTX *copy) {
  pthread_mutex_lock(&stream->sha_lock);
  int ok = EVP_MD_CTX_copy_ex(copy, stream->source.sha);
  pthread_mutex_unlock(&stream->sha_lock);
  return ok == 1 ? 0 : -1;
}

void input_stream_free(struct input_stream *stream) {
  if (stream == NULL) {
    return;
  }
  if (stream->thread_started) {
    pthread_mutex_lock(&stream->lock);
    stream->stop = true;
    bool done = stream->done;
    pthread_cond_signal(&stream->freed);
    pthread_mutex_unlock(&stream->lock);
    if (!done) {
      /* Stopped early (--limit, an error of the caller): a thread waiting
       * for a pipe's next bytes would not see stop until they came. */
      pthread_cancel(stream->thread);
    }
    pthread_join(stream->thread, NULL);
  }
  if (stream->z_ready) {
    inflateEnd(&stream->z);
  }
  for (size_t i = 0; i < INPUT_STREAM_BLOCKS; i++) {
    free(stream->blocks[i].data);
  }
  free(stream->raw);
  pthread_mutex_destroy(&stream->lock);
  pthread_mutex_destroy(&stream->sha_lock);
  pthread_cond_destroy(&stream->filled);
  pthread_cond_destroy(&stream->freed);
  free(stream);
}
