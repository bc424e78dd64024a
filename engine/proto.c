/* proto.c -- sending and receiving ember's multipart messages. */
#include "proto.h"

#include <errno.h>
#include <string.h>

#include "err.h"
#include "mem.h"

int eng_msg_send(void *sock, const char *peer, size_t peer_len, json_t *hdr,
                 const eng_frame *frames, int nframes, int flags, eng_err *err) {
  if (peer) {
    if (zmq_send(sock, peer, peer_len, ZMQ_SNDMORE | flags) < 0)
      return eng_err_set(err, ENG_EIO, "IOError: send: %s", zmq_strerror(errno));
  }
  char *text = json_dumps(hdr, JSON_COMPACT);
  if (!text) return eng_err_set(err, ENG_ENOMEM, "MemoryError: message header");
  int rc = zmq_send(sock, text, strlen(text), (nframes ? ZMQ_SNDMORE : 0) | flags);
  free(text);
  if (rc < 0) return eng_err_set(err, ENG_EIO, "IOError: send: %s", zmq_strerror(errno));
  for (int i = 0; i < nframes; i++) {
    int more = i + 1 < nframes ? ZMQ_SNDMORE : 0;
    zmq_msg_t m;
    if (frames[i].free_fn) {
      zmq_msg_init_data(&m, (void *)frames[i].data, frames[i].len, frames[i].free_fn,
                        frames[i].hint);
    } else {
      zmq_msg_init_size(&m, frames[i].len);
      if (frames[i].len) memcpy(zmq_msg_data(&m), frames[i].data, frames[i].len);
    }
    if (zmq_msg_send(&m, sock, more | flags) < 0) {
      zmq_msg_close(&m);
      return eng_err_set(err, ENG_EIO, "IOError: send: %s", zmq_strerror(errno));
    }
  }
  return 0;
}

/* Discards the rest of a multipart message. */
static void drain(void *sock) {
  int more = 1;
  size_t sz = sizeof more;
  while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    zmq_msg_close(&m);
  }
}

static int has_more(void *sock) {
  int more = 0;
  size_t sz = sizeof more;
  zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
  return more;
}

int eng_msg_recv(void *sock, int router, eng_msg *out, int flags, eng_err *err) {
  memset(out, 0, sizeof *out);
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (router) {
    if (zmq_msg_recv(&m, sock, flags) < 0) {
      zmq_msg_close(&m);
      return eng_err_set(err, errno == EAGAIN ? ENG_ERROR : ENG_EIO, "IOError: recv: %s",
                         zmq_strerror(errno));
    }
    size_t n = zmq_msg_size(&m);
    if (n > sizeof out->peer) n = sizeof out->peer;
    memcpy(out->peer, zmq_msg_data(&m), n);
    out->peer_len = n;
    zmq_msg_close(&m);
    if (!has_more(sock)) return eng_err_set(err, ENG_EPROTO, "ProtocolError: empty message");
    zmq_msg_init(&m);
    flags = 0;
  }
  if (zmq_msg_recv(&m, sock, flags) < 0) {
    zmq_msg_close(&m);
    return eng_err_set(err, errno == EAGAIN ? ENG_ERROR : ENG_EIO, "IOError: recv: %s",
                       zmq_strerror(errno));
  }
  json_error_t je;
  out->hdr = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, &je);
  zmq_msg_close(&m);
  if (!out->hdr || !json_is_object(out->hdr) ||
      !(out->type = json_string_value(json_object_get(out->hdr, "t")))) {
    drain(sock);
    json_decref(out->hdr);
    out->hdr = NULL;
    return eng_err_set(err, ENG_EPROTO, "ProtocolError: malformed message header");
  }
  int cap = 0;
  while (has_more(sock)) {
    if (out->nframes >= ENG_MSG_MAX_FRAMES) {
      drain(sock);
      eng_msg_close(out);
      return eng_err_set(err, ENG_EPROTO, "ProtocolError: too many frames");
    }
    if (out->nframes == cap) {
      cap = cap ? cap * 2 : 4;
      zmq_msg_t *f = eng_realloc(out->frames, (size_t)cap * sizeof *f);
      if (!f) {
        drain(sock);
        eng_msg_close(out);
        return eng_err_set(err, ENG_ENOMEM, "MemoryError: message frames");
      }
      out->frames = f;
    }
    zmq_msg_init(&out->frames[out->nframes]);
    if (zmq_msg_recv(&out->frames[out->nframes], sock, 0) < 0) {
      zmq_msg_close(&out->frames[out->nframes]);
      eng_msg_close(out);
      return eng_err_set(err, ENG_EIO, "IOError: recv: %s", zmq_strerror(errno));
    }
    out->nframes++;
  }
  return 0;
}

void eng_msg_close(eng_msg *m) {
  for (int i = 0; i < m->nframes; i++) zmq_msg_close(&m->frames[i]);
  eng_free(m->frames);
  json_decref(m->hdr);
  m->frames = NULL;
  m->nframes = 0;
  m->hdr = NULL;
  m->type = NULL;
}

const void *eng_msg_frame(const eng_msg *m, long i, size_t *len) {
  if (i < 0 || i >= m->nframes) return NULL;
  *len = zmq_msg_size((zmq_msg_t *)&m->frames[i]);
  return zmq_msg_data((zmq_msg_t *)&m->frames[i]);
}
