/* cluster.c -- the cluster secret, CURVE on sockets, the ZAP handler that
 * admits only secret holders, refusal logging, and addresses.
 */
#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"
#include "mem.h"
#include "sha256.h"

void eng_secret_from_bytes(const void *p, size_t n, eng_secret *out) {
  unsigned char key[32];
  /* Domain-separated, so the CURVE key is not the bare hash of the secret. */
  eng_sha256_ctx c;
  eng_sha256_init(&c);
  eng_sha256_update(&c, "ember-cluster-curve-v1", 22);
  eng_sha256_update(&c, p, n);
  eng_sha256_final(&c, key);
  zmq_z85_encode(out->secret_z85, key, 32);
  zmq_curve_public(out->public_z85, out->secret_z85);
  out->set = 1;
  memset(key, 0, sizeof key);
}

/* Reads a secret file: its bytes, trailing newlines dropped. */
static int read_secret_file(const char *path, eng_secret *out, eng_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return eng_err_set(err, ENG_EAUTH, "AuthError: cannot read the secret file %s: %s", path, strerror(errno));
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  if (n == 0) return eng_err_set(err, ENG_EAUTH, "AuthError: the secret file %s is empty", path);
  eng_secret_from_bytes(buf, n, out);
  memset(buf, 0, sizeof buf);
  return 0;
}

int eng_secret_load(const char *file, eng_secret *out, eng_err *err) {
  memset(out, 0, sizeof *out);
  if (file && *file) return read_secret_file(file, out, err);
  const char *env = getenv("EMBER_SECRET");
  if (env && *env) {
    eng_secret_from_bytes(env, strlen(env), out);
    return 0;
  }
  const char *ef = getenv("EMBER_SECRET_FILE");
  if (ef && *ef) return read_secret_file(ef, out, err);
  return 0;
}

/* Executors started by a worker get the derived key itself, in
 * EMBER_CLUSTER_KEY, and nothing else: a local executor must not pick up
 * EMBER_SECRET from the user's environment, or it would speak CURVE to a
 * local driver that does not. Not set is not an error (out->set = 0). */
int eng_cluster_key_load(eng_secret *out, eng_err *err) {
  memset(out, 0, sizeof *out);
  const char *key = getenv("EMBER_CLUSTER_KEY");
  if (!key || !*key) return 0;
  if (strlen(key) != 40)
    return eng_err_set(err, ENG_EAUTH, "AuthError: malformed EMBER_CLUSTER_KEY");
  snprintf(out->secret_z85, sizeof out->secret_z85, "%s", key);
  if (zmq_curve_public(out->public_z85, out->secret_z85) < 0)
    return eng_err_set(err, ENG_EAUTH, "AuthError: malformed EMBER_CLUSTER_KEY");
  out->set = 1;
  return 0;
}

int eng_secure_server(void *sock, const eng_secret *s) {
  if (!s || !s->set) return 0;
  int one = 1;
  if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret_z85, 40) < 0 ||
      zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "ember", 5) < 0)
    return ENG_EAUTH;
  return 0;
}

int eng_secure_client(void *sock, const eng_secret *s) {
  if (!s || !s->set) return 0;
  if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, s->public_z85, 40) < 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, s->public_z85, 40) < 0 ||
      zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret_z85, 40) < 0)
    return ENG_EAUTH;
  return 0;
}

/* Logs a line, at most once every 10 s for the same text: a peer without
 * the secret retries its connection every fraction of a second. */
static void log_line(const char *who, const char *fmt, const char *a, const char *b) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static char last[512];
  static time_t last_at;
  char line[512];
  snprintf(line, sizeof line, fmt, a, b);
  time_t now = time(NULL);
  pthread_mutex_lock(&lock);
  int repeat = strcmp(line, last) == 0 && now - last_at < 10;
  if (!repeat) {
    snprintf(last, sizeof last, "%s", line);
    last_at = now;
  }
  pthread_mutex_unlock(&lock);
  if (repeat) return;
  char ts[32];
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf(stderr, "%s %s: %s (repeats are not logged for 10 s)\n", ts, who, line);
  fflush(stderr);
}

/* ---- ZAP ----------------------------------------------------------------- */

typedef struct zap {
  void *zctx;
  unsigned char key[32];
  char who[64];
} zap;

static int recv_str(void *s, char *buf, size_t cap, size_t *len) {
  int n = zmq_recv(s, buf, cap - 1, 0);
  if (n < 0) return -1;
  if ((size_t)n >= cap) n = (int)cap - 1;
  buf[n] = 0;
  if (len) *len = (size_t)n;
  return 0;
}

static void *zap_main(void *arg) {
  zap *z = arg;
  void *s = zmq_socket(z->zctx, ZMQ_REP);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(s, "inproc://zeromq.zap.01") < 0) {
    zmq_close(s);
    eng_free(z);
    return NULL;
  }
  for (;;) {
    char version[16], reqid[256], domain[64], address[256], identity[256], mech[32], cred[64];
    size_t reqlen = 0, credlen = 0;
    if (recv_str(s, version, sizeof version, NULL) < 0) break;
    recv_str(s, reqid, sizeof reqid, &reqlen);
    recv_str(s, domain, sizeof domain, NULL);
    recv_str(s, address, sizeof address, NULL);
    recv_str(s, identity, sizeof identity, NULL);
    recv_str(s, mech, sizeof mech, NULL);
    credlen = 0;
    int more = 0;
    size_t sz = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
    if (more) recv_str(s, cred, sizeof cred, &credlen);
    while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
      char junk[64];
      recv_str(s, junk, sizeof junk, NULL);
    }
    int ok = strcmp(mech, "CURVE") == 0 && credlen == 32 && memcmp(cred, z->key, 32) == 0;
    if (!ok)
      log_line(z->who, "refused a connection from %s: %s", address,
               strcmp(mech, "CURVE") ? "not using the cluster's encryption" : "it does not hold the cluster secret");
    zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(s, reqid, reqlen, ZMQ_SNDMORE);
    zmq_send(s, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(s, ok ? "OK" : "refused", ok ? 2 : 7, ZMQ_SNDMORE);
    zmq_send(s, "", 0, ZMQ_SNDMORE);
    zmq_send(s, "", 0, 0);
  }
  zmq_close(s);
  eng_free(z);
  return NULL;
}

int eng_zap_start(void *zctx, const eng_secret *sec, const char *who) {
  if (!sec || !sec->set) return 0;
  zap *z = eng_calloc(1, sizeof *z);
  if (!z) return ENG_ENOMEM;
  z->zctx = zctx;
  zmq_z85_decode(z->key, sec->public_z85);
  snprintf(z->who, sizeof z->who, "%s", who);
  pthread_t t;
  if (pthread_create(&t, NULL, zap_main, z) != 0) {
    eng_free(z);
    return ENG_ERROR;
  }
  pthread_detach(t);
  /* The handler must be bound before any server socket accepts. */
  usleep(2000);
  return 0;
}

/* ---- socket monitor: refusals, closed connections ---------------------------- */

/* A peer without the secret fails the CURVE handshake before ZAP is asked
 * (its HELLO does not decrypt), so the socket's monitor is what sees it.
 * The failure event does not say which connection failed; the connection's
 * "disconnected" event, which follows it at once, does (its fd), and the
 * "accepted" event gave that fd's peer address. The monitor also notes
 * when any connection closed (a driver uses it to find dead executors).
 * ZeroMQ allows one monitor per socket: this is it. */

struct eng_monitor {
  void *zctx;
  char ep[64];
  char who[64];
  _Atomic int64_t last_disconnect_us; /* CLOCK_MONOTONIC */
};
typedef struct eng_monitor monitor;

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define MON_FDS 64

/* Why a handshake failed, from its ZMQ_PROTOCOL_ERROR_* value. */
static const char *handshake_failure(uint32_t value) {
  switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: return "it does not hold the cluster secret";
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: return "it does not use the cluster's encryption";
    default: return "its handshake is not an ember peer's";
  }
}

static void *monitor_main(void *arg) {
  monitor *m = arg;
  struct {
    int fd;
    char addr[64];
  } peers[MON_FDS];
  memset(peers, 0, sizeof peers);
  const char *pending = NULL;
  void *s = zmq_socket(m->zctx, ZMQ_PAIR);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_connect(s, m->ep) == 0) {
    for (;;) {
      zmq_msg_t ev, addr;
      zmq_msg_init(&ev);
      if (zmq_msg_recv(&ev, s, 0) < 0) {
        zmq_msg_close(&ev);
        break;
      }
      zmq_msg_init(&addr);
      zmq_msg_recv(&addr, s, 0);
      uint16_t event = 0;
      uint32_t value = 0;
      if (zmq_msg_size(&ev) >= 6) {
        memcpy(&event, zmq_msg_data(&ev), 2);
        memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
      }
      char a[256];
      snprintf(a, sizeof a, "%.*s", (int)zmq_msg_size(&addr), (char *)zmq_msg_data(&addr));
      int slot = (int)(value % MON_FDS);
      if (event == ZMQ_EVENT_ACCEPTED) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        peers[slot].fd = (int)value;
        if (getpeername((int)value, (struct sockaddr *)&peer, &len) != 0 || peer.sin_family != AF_INET ||
            !inet_ntop(AF_INET, &peer.sin_addr, peers[slot].addr, sizeof peers[slot].addr))
          snprintf(peers[slot].addr, sizeof peers[slot].addr, "an unknown address");
      } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        pending = handshake_failure(value);
      }
      if (event == ZMQ_EVENT_DISCONNECTED) atomic_store(&m->last_disconnect_us, mono_us());
      if (event == ZMQ_EVENT_DISCONNECTED && pending) {
        const char *from = peers[slot].fd == (int)value && peers[slot].addr[0] ? peers[slot].addr : "a peer";
        char what[320];
        snprintf(what, sizeof what, "%s on %s", from, a);
        log_line(m->who, "refused a connection from %s: %s", what, pending);
        pending = NULL;
      }
      zmq_msg_close(&ev);
      zmq_msg_close(&addr);
    }
  }
  zmq_close(s);
  eng_free(m);
  return NULL;
}

int eng_monitor_refusals(void *zctx, void *sock, const char *who) {
  return eng_monitor_start(zctx, sock, who) ? 0 : ENG_ERROR;
}

/* Starts the monitor thread; it frees the monitor when the context ends. */
eng_monitor *eng_monitor_start(void *zctx, void *sock, const char *who) {
  static int counter;
  monitor *m = eng_calloc(1, sizeof *m);
  if (!m) return NULL;
  m->zctx = zctx;
  snprintf(m->ep, sizeof m->ep, "inproc://ember-mon-%d-%d", (int)getpid(), __sync_fetch_and_add(&counter, 1));
  snprintf(m->who, sizeof m->who, "%s", who);
  if (zmq_socket_monitor(sock, m->ep,
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) < 0) {
    eng_free(m);
    return NULL;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, monitor_main, m) != 0) {
    eng_free(m);
    return NULL;
  }
  pthread_detach(t);
  return m;
}

double eng_monitor_last_disconnect(const eng_monitor *m) {
  return m ? (double)atomic_load(&((eng_monitor *)m)->last_disconnect_us) / 1000.0 : 0;
}

/* ---- addresses ---------------------------------------------------------------- */

int eng_master_url(const char *url, char *host, size_t cap, int *port, eng_err *err) {
  if (strncmp(url, "ember://", 8) != 0)
    return eng_err_set(err, ENG_EINVAL, "ValueError: a cluster master is ember://host:port, not '%s'", url);
  const char *h = url + 8;
  const char *colon = strrchr(h, ':');
  size_t hl = colon ? (size_t)(colon - h) : strlen(h);
  if (hl == 0 || hl >= cap) return eng_err_set(err, ENG_EINVAL, "ValueError: no host in '%s'", url);
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = 7077;
  if (colon) {
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535) return eng_err_set(err, ENG_EINVAL, "ValueError: bad port in '%s'", url);
    *port = (int)p;
  }
  return 0;
}

int eng_local_address_for(const char *host, char *out, size_t cap) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host, "9", &hints, &res) != 0 || !res) {
    snprintf(out, cap, "127.0.0.1");
    return ENG_ERROR;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int rc = ENG_ERROR;
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) == 0 && inet_ntop(AF_INET, &local.sin_addr, out, (socklen_t)cap))
      rc = 0;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  if (rc < 0) snprintf(out, cap, "127.0.0.1");
  return rc;
}

/* ZeroMQ binds to numeric addresses and interface names only; people write
 * host names (`--host node7`). A name that resolves to loopback (Debian
 * maps its own host name to 127.0.1.1) would leave the other machines
 * unable to connect: that gets a warning. */
int eng_listen_address(const char *host, char *out, size_t cap, const char *who) {
  struct in_addr a4;
  struct in6_addr a6;
  if (strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1 ||
      if_nametoindex(host) != 0) {
    snprintf(out, cap, "%s", host);
    return 0;
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
    snprintf(out, cap, "%s", host); /* the bind will say what is wrong */
    return ENG_ERROR;
  }
  struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
  int rc = inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)cap) ? 0 : ENG_ERROR;
  if (rc == 0 && (ntohl(sin->sin_addr.s_addr) >> 24) == 127 && strcmp(host, "localhost") != 0)
    fprintf(stderr,
            "%s: warning: %s resolves to %s, a loopback address: other machines cannot connect (give "
            "--host an address they reach)\n",
            who, host, out);
  freeaddrinfo(res);
  if (rc < 0) snprintf(out, cap, "%s", host);
  return rc;
}
