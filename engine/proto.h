/* proto.h -- ember's messages over ZeroMQ: one JSON header frame, then
 * binary frames (serialized batches, encoded values) that the header refers
 * to by index.
 *
 * Message types ("t" in the header):
 *   executor -> driver   reg {id, pid, ep, host, slots, mem}   hb {mem, disk, dropped}
 *                        done {tid, ok, err, code, result, ...}
 *   driver -> executor   launch {tid, job, stage, part, attempt, udfs, bcasts, root, sink}
 *                        kill {tid}   drop {prefix}   stop {}
 *   executor -> executor fetch {id, off, max}  ->  chunk {ok, next, err} + data frame
 *
 * Ownership: eng_msg_recv fills an eng_msg that owns its header and frames;
 *   release with eng_msg_close. eng_msg_send takes nothing: frames given as
 *   eng_frame are copied unless they carry a free function, in which case
 *   ZeroMQ owns them (zero copy) and calls it when sent.
 * Thread-safety: a socket belongs to one thread, as ZeroMQ requires.
 * Errors: 0 / ENG_EPROTO (malformed: not JSON, no "t", too many frames) /
 *   ENG_EIO (socket error, with errno's text).
 */
#ifndef ENG_PROTO_H
#define ENG_PROTO_H

#include <jansson.h>
#include <zmq.h>

#include "eng_types.h"

#define ENG_MSG_MAX_FRAMES 65536

typedef struct eng_frame {
  const void *data;
  size_t len;
  void (*free_fn)(void *data, void *hint); /* NULL: copied */
  void *hint;
} eng_frame;

typedef struct eng_msg {
  char peer[256];   /* ROUTER sockets: the sender's identity */
  size_t peer_len;
  json_t *hdr;
  const char *type; /* hdr's "t" */
  zmq_msg_t *frames;
  int nframes;
} eng_msg;

/* peer: identity to route to (ROUTER sockets), NULL otherwise. Takes a
 * reference to nothing: hdr stays the caller's. flags: 0 or ZMQ_DONTWAIT. */
int eng_msg_send(void *sock, const char *peer, size_t peer_len, json_t *hdr,
                 const eng_frame *frames, int nframes, int flags, eng_err *err);
/* Receives one message; router: the socket prefixes an identity frame.
 * Malformed messages are consumed whole and reported as ENG_EPROTO. */
int eng_msg_recv(void *sock, int router, eng_msg *out, int flags, eng_err *err);
void eng_msg_close(eng_msg *m);
/* Frame i's bytes, or NULL if out of range. */
const void *eng_msg_frame(const eng_msg *m, long i, size_t *len);

#endif
