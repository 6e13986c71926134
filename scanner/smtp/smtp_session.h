/* One SMTP-over-TCP session of a probe: connect, wait for the greeting,
 * EHLO, STARTTLS, TLS handshake (tls/), QUIT, close. One explicit state per
 * step, each with its own timeout, and a deadline for the whole session;
 * replies are parsed by smtp_reply with caps on line length, line count and
 * total bytes. It never speaks before the greeting and never sends MAIL,
 * RCPT or DATA. It does no scheduling or politeness (probe/ does). */
#ifndef DANESCAN_SMTP_SESSION_H
#define DANESCAN_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "record/status.h"
#include "smtp/smtp_reply.h"
#include "tls/tls_dane.h"

#define SMTP_BANNER_MAX_BYTES 1024
#define SMTP_MAX_EHLO_KEYWORDS 32
#define SMTP_EHLO_KEYWORD_MAX_BYTES 64
#define SMTP_REASON_MAX_BYTES 256

enum smtp_step {
  SMTP_STEP_NONE = 0,
  SMTP_STEP_CONNECT,
  SMTP_STEP_GREETING,
  SMTP_STEP_EHLO,
  SMTP_STEP_STARTTLS,
  SMTP_STEP_HANDSHAKE,
  SMTP_STEP_QUIT,
  SMTP_STEP_DONE
};

struct smtp_session_config {
  struct event_base *base;
  struct tls_client *tls;
  struct sockaddr_storage address; /* with the port to connect to */
  socklen_t address_len;
  const char *ehlo_name; /* not copied: must outlive the session */
  uint32_t connect_timeout_ms, greeting_timeout_ms, ehlo_timeout_ms, starttls_timeout_ms, handshake_timeout_ms,
      quit_timeout_ms, deadline_ms;
  struct smtp_reply_limits limits;
  size_t max_total_bytes;          /* bytes read before the TLS handshake, and after it */
  struct tls_dane_input tls_input; /* pointers not copied: must outlive the session */
  unsigned expiry_warn_days;
};

struct smtp_session_outcome {
  enum probe_result result; /* valid when the done callback runs */
  char reason[SMTP_REASON_MAX_BYTES];
  enum smtp_step last_step; /* step reached; on failure, the one that failed */
  int smtp_code;            /* last reply code before QUIT, 0 if none */
  bool saw_421;             /* a 421 reply at any step (back off) */
  bool refused;             /* TCP connection refused (back off) */
  bool dropped;             /* the server closed or reset the connection before the TLS handshake began,
                               without a reply that ended the session (smtp-failed by the network, not by
                               an answer) */
  char banner[SMTP_BANNER_MAX_BYTES];
  size_t banner_len;
  char ehlo_keywords[SMTP_MAX_EHLO_KEYWORDS][SMTP_EHLO_KEYWORD_MAX_BYTES];
  size_t ehlo_keyword_count;
  bool starttls_offered;
  int32_t connect_ms, banner_ms, ehlo_ms, starttls_ms, handshake_ms; /* -1: not reached */
  size_t bytes_read;
  bool tls_up;
  struct tls_outcome tls; /* valid when tls_up */
};

struct smtp_session;

/* Called once when the session ends, from the event loop, never from inside
 * smtp_session_start. The callback may smtp_session_free the session. */
typedef void (*smtp_session_done_cb)(struct smtp_session *session, void *arg);

/* Starts a session. Returns NULL only when out of memory (no callback then);
 * every network failure is reported through the callback as a result. */
struct smtp_session *smtp_session_start(const struct smtp_session_config *config, smtp_session_done_cb done_cb,
                                        void *arg);

/* The outcome; complete once the callback runs. */
const struct smtp_session_outcome *smtp_session_outcome(const struct smtp_session *session);

/* Closes the connection and frees the session, without a callback if it is
 * still running. NULL is a no-op. */
void smtp_session_free(struct smtp_session *session);

#endif
