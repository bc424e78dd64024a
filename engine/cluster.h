/* cluster.h -- what the standalone cluster's processes share: the secret,
 * securing sockets with it, master URLs and host addresses.
 *
 * Security: every cluster connection uses ZeroMQ CURVE with one keypair
 * derived from the cluster's secret (SHA-256 of the secret is the CURVE
 * secret key). A client must know the server's public key, which only
 * secret holders can compute, and a ZAP handler on every server checks that
 * the client's key is the cluster's too. So a peer without the secret
 * cannot complete a handshake, and everything on the wire is encrypted.
 * Refused connections are logged with their reason.
 *
 * Ownership: eng_secret is a caller-owned value. eng_zap_start() and
 *   eng_monitor_start() start threads for a ZeroMQ context; they end (and
 *   free what they hold) when the context ends.
 * Thread-safety: functions touch only what they are given.
 * Errors: 0 / ENG_E* with eng_err ("AuthError: ...", "ValueError: ...").
 */
#ifndef ENG_CLUSTER_H
#define ENG_CLUSTER_H

#include "eng_types.h"

typedef struct eng_secret {
  int set;
  char public_z85[41];
  char secret_z85[41];
} eng_secret;

/* The secret from (first found) `file`, the EMBER_SECRET variable, or the
 * file named by EMBER_SECRET_FILE. Not set is not an error (out->set = 0). */
ENG_API int eng_secret_load(const char *file, eng_secret *out, eng_err *err);
/* An executor's key: the derived key a worker passes in EMBER_CLUSTER_KEY,
 * never EMBER_SECRET (local executors stay unsecured, as their driver). */
ENG_API int eng_cluster_key_load(eng_secret *out, eng_err *err);
/* Derives the keypair from secret bytes. */
ENG_API void eng_secret_from_bytes(const void *p, size_t n, eng_secret *out);

/* Makes `sock` a CURVE server / client of the cluster. */
ENG_API int eng_secure_server(void *sock, const eng_secret *s);
ENG_API int eng_secure_client(void *sock, const eng_secret *s);
/* Starts the ZAP handler of context `zctx`: accepts CURVE clients holding
 * the cluster key, refuses (and logs, with `who` and the peer address) any
 * other. */
ENG_API int eng_zap_start(void *zctx, const eng_secret *s, const char *who);
/* Logs handshake failures on a server socket (peers without the secret
 * speaking plain ZeroMQ or another key), in a monitor thread. */
ENG_API int eng_monitor_refusals(void *zctx, void *sock, const char *who);
/* The same, returning the monitor, which also notes when a connection of
 * the socket closes. Owned by its thread, valid until `zctx` ends; NULL on
 * error. A socket has one monitor at most. */
typedef struct eng_monitor eng_monitor;
ENG_API eng_monitor *eng_monitor_start(void *zctx, void *sock, const char *who);
/* When (ms, CLOCK_MONOTONIC) a connection last closed; 0 if none did. */
ENG_API double eng_monitor_last_disconnect(const eng_monitor *m);

/* Parses "ember://host:port" (port defaults to 7077). */
ENG_API int eng_master_url(const char *url, char *host, size_t cap, int *port, eng_err *err);
/* The local address this machine uses to reach `host` (for endpoints that
 * the others must connect to); "127.0.0.1" for loopback. */
ENG_API int eng_local_address_for(const char *host, char *out, size_t cap);

/* The address to listen on for a --host value: numeric addresses and
 * interface names as they are, host names resolved (IPv4); warns on stderr
 * (prefixed with `who`) when a name resolves to loopback. */
ENG_API int eng_listen_address(const char *host, char *out, size_t cap, const char *who);

/* Entry points of the cluster processes (ember master / worker / status). */
ENG_API int eng_master_main(int argc, char **argv);
ENG_API int eng_worker_main(int argc, char **argv);
ENG_API int eng_status_main(int argc, char **argv);

#endif
