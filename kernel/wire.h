/* wire.h -- Jupyter messages on the wire (messaging protocol 5.3): framing,
 * HMAC-SHA256 signing and verification, headers, and the UTF-8 hygiene that
 * JSON text needs. Also the kernel's log (to the stderr Jupyter gave us).
 *
 * A message on a ROUTER socket is: routing identities, "<IDS|MSG>", the
 * signature (hex HMAC of the next four frames), header, parent header,
 * metadata, content (JSON objects), then optional binary buffers. On the
 * iopub PUB socket the identities are replaced by one topic frame.
 *
 * Ownership: krn_wire_new() returns an owned signer (krn_wire_free).
 *   krn_wire_recv() fills a caller-owned krn_msg whose JSON and identity
 *   copies are released with krn_msg_free(). Senders borrow every argument
 *   except where the name or comment says "stolen".
 * Thread-safety: one krn_wire is shared by all of the kernel's threads:
 *   signing reads only immutable state, the replay set and the message
 *   counter are locked/atomic. A zmq socket passed in is used by the
 *   calling thread only (zmq sockets are not thread-safe).
 * Errors: krn_wire_recv returns 0, KRN_DROPPED for a message that is not
 *   acceptable (bad or missing signature, replay, wrong frame layout,
 *   malformed JSON; logged with the reason, never executed), or -errno from
 *   zmq (-EAGAIN, -EINTR, -ETERM). Senders return 0 or -errno.
 */
#ifndef KRN_WIRE_H
#define KRN_WIRE_H

#include <jansson.h>
#include <stddef.h>

#include "hmac.h"

#define KRN_PROTOCOL_VERSION "5.3"
enum { KRN_DROPPED = 1, KRN_MAX_IDS = 16, KRN_MAX_FRAMES = 64 };

typedef struct krn_wire krn_wire;

typedef struct krn_ident {
  char *p;
  size_t n;
} krn_ident;

typedef struct krn_msg {
  int nids;
  krn_ident ids[KRN_MAX_IDS]; /* routing identities (copies) */
  json_t *header, *parent, *metadata, *content;
  const char *type; /* header.msg_type, inside header */
  const char *id;   /* header.msg_id, inside header */
} krn_msg;

/* key: the connection file's key (may be empty: then messages are neither
 * signed nor checked, as Jupyter does); scheme: "hmac-sha256" (NULL or ""
 * mean the same). NULL if the scheme is not supported or out of memory. */
krn_wire *krn_wire_new(const char *key, const char *scheme);
void krn_wire_free(krn_wire *w);
/* The kernel's session id (hex), put into every header. */
const char *krn_wire_session(const krn_wire *w);

/* Receives one multipart message from sock (zmq flags: 0 or ZMQ_DONTWAIT).
 * Reads every frame of it even when it is dropped. */
int krn_wire_recv(krn_wire *w, void *sock, int flags, krn_msg *out);
void krn_msg_free(krn_msg *m);
/* A string field of the content, or dflt if missing or not a string. */
const char *krn_msg_str(const krn_msg *m, const char *key, const char *dflt);
/* A boolean/integer field of the content, or dflt. */
int krn_msg_bool(const krn_msg *m, const char *key, int dflt);
long krn_msg_int(const krn_msg *m, const char *key, long dflt);

/* A new header {msg_id, session, username, date, msg_type, version}. */
json_t *krn_wire_header(krn_wire *w, const char *msg_type);

/* A message encoded and signed, ready for the wire: five NUL-terminated
 * strings (signature, header, parent, metadata, content), free with
 * krn_enc_free(). */
typedef struct krn_enc {
  char sig[2 * KRN_SHA256_LEN + 1];
  char *part[4];
  size_t len[4];
} krn_enc;

/* Encodes msg_type with parent (borrowed, NULL = {}), metadata and content
 * (both stolen, NULL = {}). 0 or -ENOMEM. */
int krn_wire_encode(krn_wire *w, const char *msg_type, json_t *parent, json_t *metadata,
                    json_t *content, krn_enc *out);
void krn_enc_free(krn_enc *e);
/* Sends an encoded message to the identities of `to` (a request: the reply
 * goes back to its sender) or, for PUB, after the topic frame. */
int krn_wire_send_enc(void *sock, const krn_msg *to, const char *topic, const krn_enc *e);
/* encode + send_enc: replies and publications in one call. The parent is
 * `to`'s header when parent is NULL and `to` is set. */
int krn_wire_send(krn_wire *w, void *sock, const krn_msg *to, const char *topic,
                  const char *msg_type, json_t *parent, json_t *metadata, json_t *content);

/* ---- UTF-8 ---------------------------------------------------------------- */

/* A JSON string of n bytes of text, with each byte that is not valid UTF-8
 * replaced by U+FFFD (JSON text must be UTF-8; cell output may be anything). */
json_t *krn_json_text(const char *p, size_t n);
/* How many leading bytes of p[0..n) hold whole UTF-8 sequences: at most the
 * last 3 bytes are held back when they are the start of a sequence that the
 * next read may complete. */
size_t krn_utf8_whole(const char *p, size_t n);

/* ---- the log ---------------------------------------------------------------- */

/* Where krn_log writes (the stderr the kernel was started with, which
 * Jupyter shows in its own log); -1 turns the log off. */
void krn_log_set_fd(int fd);
void krn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
