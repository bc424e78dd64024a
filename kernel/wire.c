/* wire.c -- Jupyter message framing, signing and verification.
 *
 * Invariants: a message is handed to the kernel only after its signature
 * matched (when a key is set) and its four JSON parts parsed as objects with
 * a string msg_type and msg_id; anything else is dropped here and logged.
 * Signatures already seen are refused (replay), as jupyter_client's Session
 * does; the set forgets everything once it holds RECENT_MAX digests.
 */
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DELIM "<IDS|MSG>"
#define RECENT_SLOTS (1 << 16)
#define RECENT_MAX (RECENT_SLOTS / 2)

struct krn_wire {
  int signed_;    /* a key is set: sign and verify */
  eng_hmac keyed; /* HMAC state after the key, copied per message */
  char session[33];
  atomic_ulong counter;
  pthread_mutex_t lock; /* guards recent */
  uint64_t *recent;     /* open addressing; 0 = empty */
  int nrecent;
};

/* ------------------------------------------------------------------------ */
/* The log                                                                  */
/* ------------------------------------------------------------------------ */

static int g_log_fd = 2;

void krn_log_set_fd(int fd) {
  g_log_fd = fd;
}

/* One line "[ember kernel HH:MM:SS] text" written with a single write(). */
void krn_log(const char *fmt, ...) {
  if (g_log_fd < 0) return;
  char line[1024];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  int n = snprintf(line, sizeof line, "[ember kernel %02d:%02d:%02d] ", tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(g_log_fd, line, len);
  (void)w;
}

/* ------------------------------------------------------------------------ */
/* Signer                                                                   */
/* ------------------------------------------------------------------------ */

static void random_bytes(void *p, size_t n) {
  if (getrandom(p, n, GRND_NONBLOCK) == (ssize_t)n) return;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = read(fd, p, n);
    close(fd);
    if (r == (ssize_t)n) return;
  }
  /* Last resort: not secret, only unique. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b[i] = (uint8_t)x;
  }
}

krn_wire *krn_wire_new(const char *key, const char *scheme) {
  if (scheme && *scheme && strcmp(scheme, "hmac-sha256") != 0) return NULL;
  krn_wire *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->recent = calloc(RECENT_SLOTS, sizeof *w->recent);
  if (!w->recent) {
    free(w);
    return NULL;
  }
  if (key && *key) {
    w->signed_ = 1;
    eng_hmac_init(&w->keyed, key, strlen(key));
  }
  uint8_t id[16];
  random_bytes(id, sizeof id);
  krn_hex(id, sizeof id, w->session);
  atomic_init(&w->counter, 0);
  pthread_mutex_init(&w->lock, NULL);
  return w;
}

void krn_wire_free(krn_wire *w) {
  if (!w) return;
  pthread_mutex_destroy(&w->lock);
  free(w->recent);
  memset(w, 0, sizeof *w);
  free(w);
}

const char *krn_wire_session(const krn_wire *w) {
  return w->session;
}

/* The hex signature of four parts. */
static void sign(const krn_wire *w, const void *const *p, const size_t *n, char out[65]) {
  if (!w->signed_) {
    out[0] = 0;
    return;
  }
  eng_hmac h = w->keyed;
  for (int i = 0; i < 4; i++) eng_hmac_update(&h, p[i], n[i]);
  uint8_t d[KRN_SHA256_LEN];
  eng_hmac_final(&h, d);
  krn_hex(d, sizeof d, out);
}

/* Records a digest; 0 if it was new, 1 if seen before. */
static int seen_before(krn_wire *w, const char *hex) {
  uint64_t x = 0;
  for (int i = 0; i < 16; i++) {
    char c = hex[i];
    x = x << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
  }
  if (x == 0) x = 1;
  pthread_mutex_lock(&w->lock);
  if (w->nrecent >= RECENT_MAX) {
    memset(w->recent, 0, RECENT_SLOTS * sizeof *w->recent);
    w->nrecent = 0;
  }
  size_t i = (size_t)(x * 0x9E3779B97F4A7C15ull >> 48) & (RECENT_SLOTS - 1);
  int found = 0;
  while (w->recent[i]) {
    if (w->recent[i] == x) {
      found = 1;
      break;
    }
    i = (i + 1) & (RECENT_SLOTS - 1);
  }
  if (!found) {
    w->recent[i] = x;
    w->nrecent++;
  }
  pthread_mutex_unlock(&w->lock);
  return found;
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                */
/* ------------------------------------------------------------------------ */

void krn_msg_free(krn_msg *m) {
  for (int i = 0; i < m->nids; i++) free(m->ids[i].p);
  json_decref(m->header);
  json_decref(m->parent);
  json_decref(m->metadata);
  json_decref(m->content);
  memset(m, 0, sizeof *m);
}

static json_t *parse_object(zmq_msg_t *f) {
  json_error_t e;
  json_t *j = json_loadb(zmq_msg_data(f), zmq_msg_size(f), 0, &e);
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  return j;
}

/* Checks the layout, signature and JSON of frames [0, n); fills out. Returns
 * 0 or KRN_DROPPED with a reason in why. */
static int accept_frames(krn_wire *w, zmq_msg_t *f, int n, krn_msg *out, const char **why) {
  int d = 0;
  while (d < n && !(zmq_msg_size(&f[d]) == strlen(DELIM) &&
                    memcmp(zmq_msg_data(&f[d]), DELIM, strlen(DELIM)) == 0))
    d++;
  if (d == n) return *why = "no <IDS|MSG> delimiter", KRN_DROPPED;
  if (d > KRN_MAX_IDS) return *why = "too many routing identities", KRN_DROPPED;
  if (n - d - 1 < 5) return *why = "fewer than 5 frames after the delimiter", KRN_DROPPED;
  zmq_msg_t *sig = &f[d + 1], *parts = &f[d + 2];
  if (w->signed_) {
    size_t sl = zmq_msg_size(sig);
    if (sl == 0) return *why = "missing signature", KRN_DROPPED;
    const void *p[4];
    size_t len[4];
    for (int i = 0; i < 4; i++) p[i] = zmq_msg_data(&parts[i]), len[i] = zmq_msg_size(&parts[i]);
    char want[65];
    sign(w, p, len, want);
    if (!krn_ct_equal(want, 64, zmq_msg_data(sig), sl)) return *why = "bad signature", KRN_DROPPED;
    if (seen_before(w, want)) return *why = "replayed signature", KRN_DROPPED;
  }
  json_t *j[4];
  for (int i = 0; i < 4; i++) j[i] = parse_object(&parts[i]);
  if (!j[0] || !j[1] || !j[2] || !j[3]) {
    for (int i = 0; i < 4; i++) json_decref(j[i]);
    return *why = "malformed JSON (a part is not a JSON object)", KRN_DROPPED;
  }
  const char *type = json_string_value(json_object_get(j[0], "msg_type"));
  const char *id = json_string_value(json_object_get(j[0], "msg_id"));
  if (!type || !*type || !id) {
    for (int i = 0; i < 4; i++) json_decref(j[i]);
    return *why = "header without msg_type or msg_id", KRN_DROPPED;
  }
  for (int i = 0; i < d; i++) {
    size_t len = zmq_msg_size(&f[i]);
    out->ids[i].p = malloc(len ? len : 1);
    if (!out->ids[i].p) {
      out->nids = i;
      for (int k = 0; k < 4; k++) json_decref(j[k]);
      return *why = "out of memory", KRN_DROPPED;
    }
    memcpy(out->ids[i].p, zmq_msg_data(&f[i]), len);
    out->ids[i].n = len;
  }
  out->nids = d;
  out->header = j[0];
  out->parent = j[1];
  out->metadata = j[2];
  out->content = j[3];
  out->type = type;
  out->id = id;
  return 0;
}

int krn_wire_recv(krn_wire *w, void *sock, int flags, krn_msg *out) {
  memset(out, 0, sizeof *out);
  zmq_msg_t f[KRN_MAX_FRAMES];
  int n = 0, extra = 0, more = 1;
  while (more) {
    zmq_msg_t *m = n < KRN_MAX_FRAMES ? &f[n] : NULL;
    zmq_msg_t scratch;
    if (!m) m = &scratch;
    zmq_msg_init(m);
    int rc;
    do rc = zmq_msg_recv(m, sock, n == 0 && !extra ? flags : 0);
    while (rc < 0 && errno == EINTR && (n > 0 || extra));
    if (rc < 0) {
      int e = errno;
      zmq_msg_close(m);
      for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
      if (n > 0 || extra) krn_log("dropped a message: receive failed midway (%s)", zmq_strerror(e));
      return n > 0 || extra ? KRN_DROPPED : -e;
    }
    more = zmq_msg_more(m);
    if (m == &scratch) {
      zmq_msg_close(m);
      extra++;
    } else {
      n++;
    }
  }
  const char *why = NULL;
  int rc = extra ? (why = "too many frames", KRN_DROPPED) : accept_frames(w, f, n, out, &why);
  if (rc) {
    /* Say what it was, when the header can be read, without trusting it. */
    krn_log("dropped a message (%d frame%s): %s", n + extra, n + extra == 1 ? "" : "s", why);
    krn_msg_free(out);
  }
  for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
  return rc;
}

const char *krn_msg_str(const krn_msg *m, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(m->content, key));
  return s ? s : dflt;
}

int krn_msg_bool(const krn_msg *m, const char *key, int dflt) {
  json_t *v = json_object_get(m->content, key);
  if (json_is_boolean(v)) return json_is_true(v);
  if (json_is_integer(v)) return json_integer_value(v) != 0;
  return dflt;
}

long krn_msg_int(const krn_msg *m, const char *key, long dflt) {
  json_t *v = json_object_get(m->content, key);
  if (json_is_integer(v)) return (long)json_integer_value(v);
  if (json_is_real(v)) return (long)json_real_value(v);
  return dflt;
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */
/* ------------------------------------------------------------------------ */

json_t *krn_wire_header(krn_wire *w, const char *msg_type) {
  char id[64], date[96];
  unsigned long k = atomic_fetch_add(&w->counter, 1) + 1;
  snprintf(id, sizeof id, "%.32s_%d_%lu", w->session, (int)getpid(), k);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (long)(ts.tv_nsec / 1000) % 1000000);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", id, "session", w->session,
                   "username", "ember", "date", date, "msg_type", msg_type, "version",
                   KRN_PROTOCOL_VERSION);
}

void krn_enc_free(krn_enc *e) {
  for (int i = 0; i < 4; i++) free(e->part[i]);
  memset(e, 0, sizeof *e);
}

int krn_wire_encode(krn_wire *w, const char *msg_type, json_t *parent, json_t *metadata,
                    json_t *content, krn_enc *out) {
  memset(out, 0, sizeof *out);
  json_t *h = krn_wire_header(w, msg_type);
  json_t *empty = json_object();
  json_t *j[4] = {h, parent ? parent : empty, metadata ? metadata : empty,
                  content ? content : empty};
  int rc = 0;
  for (int i = 0; i < 4; i++) {
    out->part[i] = j[i] ? json_dumps(j[i], JSON_COMPACT) : NULL;
    if (!out->part[i])
      rc = -ENOMEM;
    else
      out->len[i] = strlen(out->part[i]);
  }
  json_decref(h);
  json_decref(empty);
  json_decref(metadata);
  json_decref(content);
  if (rc) {
    krn_enc_free(out);
    return rc;
  }
  const void *p[4] = {out->part[0], out->part[1], out->part[2], out->part[3]};
  sign(w, p, out->len, out->sig);
  return 0;
}

int krn_wire_send_enc(void *sock, const krn_msg *to, const char *topic, const krn_enc *e) {
  int rc = 0;
  if (to)
    for (int i = 0; i < to->nids && rc >= 0; i++)
      rc = zmq_send(sock, to->ids[i].p, to->ids[i].n, ZMQ_SNDMORE);
  if (topic && rc >= 0) rc = zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE);
  if (rc >= 0) rc = zmq_send(sock, DELIM, strlen(DELIM), ZMQ_SNDMORE);
  if (rc >= 0) rc = zmq_send(sock, e->sig, strlen(e->sig), ZMQ_SNDMORE);
  for (int i = 0; i < 4 && rc >= 0; i++)
    rc = zmq_send(sock, e->part[i], e->len[i], i < 3 ? ZMQ_SNDMORE : 0);
  return rc < 0 ? -errno : 0;
}

int krn_wire_send(krn_wire *w, void *sock, const krn_msg *to, const char *topic,
                  const char *msg_type, json_t *parent, json_t *metadata, json_t *content) {
  krn_enc e;
  if (!parent && to) parent = to->header;
  int rc = krn_wire_encode(w, msg_type, parent, metadata, content, &e);
  if (rc) return rc;
  rc = krn_wire_send_enc(sock, to, topic, &e);
  if (rc) krn_log("cannot send %s: %s", msg_type, zmq_strerror(-rc));
  krn_enc_free(&e);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if the bytes
 * there are not one (overlong forms, surrogates and > U+10FFFF included). */
static size_t seq_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned min;
  unsigned cp;
  if ((c & 0xe0) == 0xc0)
    len = 2, min = 0x80, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0)
    len = 3, min = 0x800, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0)
    len = 4, min = 0x10000, cp = c & 0x07;
  else
    return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

json_t *krn_json_text(const char *text, size_t n) {
  const unsigned char *p = (const unsigned char *)text;
  size_t i = 0;
  while (i < n) {
    size_t l = seq_len(p + i, n - i);
    if (!l) break;
    i += l;
  }
  if (i == n) return json_stringn(text, n);
  /* Something to mend: copy, replacing each bad byte. */
  char *buf = malloc(n * 3 + 1);
  if (!buf) return NULL;
  size_t o = 0;
  for (i = 0; i < n;) {
    size_t l = seq_len(p + i, n - i);
    if (l) {
      memcpy(buf + o, p + i, l);
      o += l;
      i += l;
    } else {
      memcpy(buf + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  json_t *j = json_stringn(buf, o);
  free(buf);
  return j;
}

size_t krn_utf8_whole(const char *text, size_t n) {
  const unsigned char *p = (const unsigned char *)text;
  /* Look back at most 3 bytes for the start of a sequence. */
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    unsigned c = p[n - back];
    if ((c & 0xc0) == 0x80) continue; /* a continuation byte: look further */
    size_t need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}
