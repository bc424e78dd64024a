/* test_hmac.c -- SHA-256 and HMAC-SHA256 (engine/sha256.c, which kernel/
 * wire.c signs with) against the FIPS
 * 180-4 examples and the RFC 4231 test vectors, and the signature of a
 * Jupyter message as jupyter_client computes it, checked by the kernel's
 * receive path (kernel/wire.c).
 *
 * The Jupyter vector was printed by Debian's /usr/bin/python3 with
 * jupyter_client 7.4.9: Session(key=KEY).sign([header, b"{}", b"{}", b"{}"]).
 */
#include "th.h"

#include <zmq.h>

#include "../../kernel/hmac.h"
#include "../../kernel/wire.h"

static void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32]) {
  eng_hmac h;
  eng_hmac_init(&h, key, keylen);
  eng_hmac_update(&h, p, n);
  eng_hmac_final(&h, out);
}

static void hex_of(const uint8_t *d, size_t n, char *out) {
  krn_hex(d, n, out);
}

static void check_sha(const void *msg, size_t n, const char *want) {
  uint8_t d[KRN_SHA256_LEN];
  char hex[65];
  eng_sha256(msg, n, d);
  hex_of(d, sizeof d, hex);
  assert_string_equal(hex, want);
}

static void hmac_sha256_fips_examples(void **state) {
  (void)state;
  check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *four =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
      "klmnopqrlmnopqrsmnopqrstnopqrstu";
  check_sha(four, strlen(four), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* A million 'a's, fed in uneven pieces, so that every buffering path of
 * eng_sha256_update (partial block, whole blocks, remainder) runs. */
static void hmac_sha256_million_a_in_pieces(void **state) {
  (void)state;
  static char a[1000000];
  memset(a, 'a', sizeof a);
  eng_sha256_ctx c;
  eng_sha256_init(&c);
  size_t off = 0, step = 1;
  while (off < sizeof a) {
    size_t n = step < sizeof a - off ? step : sizeof a - off;
    eng_sha256_update(&c, a + off, n);
    off += n;
    step = step * 7 % 1000 + 1;
  }
  uint8_t d[KRN_SHA256_LEN];
  char hex[65];
  eng_sha256_final(&c, d);
  hex_of(d, sizeof d, hex);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary, against digests printed by
 * /usr/bin/python3: hashlib.sha256(b'x' * n).hexdigest(). */
static void hmac_sha256_padding_boundaries(void **state) {
  (void)state;
  char m[128];
  memset(m, 'x', sizeof m);
  check_sha(m, 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
  check_sha(m, 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
  check_sha(m, 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2");
  check_sha(m, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
  check_sha(m, 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9");
}

typedef struct {
  const uint8_t *key;
  size_t keylen;
  const uint8_t *data;
  size_t datalen;
  const char *want; /* hex; may be a prefix (the truncation case) */
} hmac_case;

static void hmac_rfc4231_vectors(void **state) {
  (void)state;
  uint8_t k1[20], k3[20], d3[50], k4[25], d4[50], k5[20], k6[131];
  memset(k1, 0x0b, sizeof k1);
  memset(k3, 0xaa, sizeof k3);
  memset(d3, 0xdd, sizeof d3);
  for (int i = 0; i < 25; i++) k4[i] = (uint8_t)(i + 1);
  memset(d4, 0xcd, sizeof d4);
  memset(k5, 0x0c, sizeof k5);
  memset(k6, 0xaa, sizeof k6);
  const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  const char *d7 =
      "This is a test using a larger than block-size key and a larger than block-size data. The "
      "key needs to be hashed before being used by the HMAC algorithm.";
  const hmac_case cases[] = {
      {k1, 20, (const uint8_t *)"Hi There", 8,
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {(const uint8_t *)"Jefe", 4, (const uint8_t *)"what do ya want for nothing?", 28,
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {k3, 20, d3, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {k4, 25, d4, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {k5, 20, (const uint8_t *)"Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b"},
      {k6, 131, (const uint8_t *)d6, strlen(d6),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {k6, 131, (const uint8_t *)d7, strlen(d7),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t d[KRN_SHA256_LEN];
    char hex[65];
    hmac_sha256(cases[i].key, cases[i].keylen, cases[i].data, cases[i].datalen, d);
    hex_of(d, sizeof d, hex);
    size_t n = strlen(cases[i].want);
    if (strncmp(hex, cases[i].want, n) != 0) fail_msg("RFC 4231 case %zu: got %s", i + 1, hex);
  }
}

/* A keyed context copied by value signs like a fresh one (the kernel keys
 * once and copies per message, from several threads). */
static void hmac_keyed_context_is_reusable_by_copy(void **state) {
  (void)state;
  eng_hmac keyed;
  eng_hmac_init(&keyed, "Jefe", 4);
  for (int round = 0; round < 3; round++) {
    eng_hmac h = keyed;
    eng_hmac_update(&h, "what do ya ", 11);
    eng_hmac_update(&h, "want for nothing?", 17);
    uint8_t d[KRN_SHA256_LEN];
    char hex[65];
    eng_hmac_final(&h, d);
    hex_of(d, sizeof d, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}

static void hmac_constant_time_compare(void **state) {
  (void)state;
  assert_true(krn_ct_equal("abcd", 4, "abcd", 4));
  assert_false(krn_ct_equal("abcd", 4, "abce", 4));
  assert_false(krn_ct_equal("abcd", 4, "abc", 3));
  assert_true(krn_ct_equal("", 0, "", 0));
}

/* ---- a Jupyter message ------------------------------------------------------- */

#define KEY "5f1e7a2c-9d34-4b6e-8a0f-3c2d1e0b9a87"
#define HEADER                                                                                   \
  "{\"msg_id\":\"a1b2c3\",\"msg_type\":\"kernel_info_request\",\"session\":\"s1\",\"username\":" \
  "\"user\",\"date\":\"2024-06-11T12:00:00.000000Z\",\"version\":\"5.3\"}"
#define SIG "ebb45b11e6888367bd1881f2ed05286307d98330b993633dc093e663fa0d8e93"

static void hmac_signs_message_like_jupyter_client(void **state) {
  (void)state;
  eng_hmac h;
  eng_hmac_init(&h, KEY, strlen(KEY));
  const char *parts[4] = {HEADER, "{}", "{}", "{}"};
  for (int i = 0; i < 4; i++) eng_hmac_update(&h, parts[i], strlen(parts[i]));
  uint8_t d[KRN_SHA256_LEN];
  char hex[65];
  eng_hmac_final(&h, d);
  hex_of(d, sizeof d, hex);
  assert_string_equal(hex, SIG);
}

/* A DEALER -> ROUTER pair over inproc, as a client and the shell socket. */
typedef struct pair {
  void *ctx, *client, *server;
} pair;

static void pair_open(pair *p) {
  p->ctx = zmq_ctx_new();
  p->server = zmq_socket(p->ctx, ZMQ_ROUTER);
  p->client = zmq_socket(p->ctx, ZMQ_DEALER);
  assert_int_equal(zmq_bind(p->server, "inproc://test-hmac"), 0);
  assert_int_equal(zmq_connect(p->client, "inproc://test-hmac"), 0);
}

static void pair_close(pair *p) {
  int zero = 0;
  zmq_setsockopt(p->client, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(p->server, ZMQ_LINGER, &zero, sizeof zero);
  zmq_close(p->client);
  zmq_close(p->server);
  zmq_ctx_term(p->ctx);
}

static void send_parts(void *s, const char *const *parts, int n) {
  for (int i = 0; i < n; i++)
    assert_true(zmq_send(s, parts[i], strlen(parts[i]), i < n - 1 ? ZMQ_SNDMORE : 0) >= 0);
}

static int recv_one(krn_wire *w, void *s, krn_msg *m) {
  zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
  assert_int_equal(zmq_poll(&it, 1, 2000), 1);
  return krn_wire_recv(w, s, ZMQ_DONTWAIT, m);
}

static void hmac_wire_accepts_signed_message_once(void **state) {
  (void)state;
  krn_log_set_fd(-1);
  pair p;
  pair_open(&p);
  krn_wire *w = krn_wire_new(KEY, "hmac-sha256");
  assert_non_null(w);
  const char *msg[] = {"<IDS|MSG>", SIG, HEADER, "{}", "{}", "{}"};
  send_parts(p.client, msg, 6);
  krn_msg m;
  assert_int_equal(recv_one(w, p.server, &m), 0);
  assert_string_equal(m.type, "kernel_info_request");
  assert_string_equal(m.id, "a1b2c3");
  assert_int_equal(m.nids, 1); /* the DEALER's routing id */
  krn_msg_free(&m);
  /* The same signed message again is a replay. */
  send_parts(p.client, msg, 6);
  assert_int_equal(recv_one(w, p.server, &m), KRN_DROPPED);
  krn_wire_free(w);
  pair_close(&p);
}

static void hmac_wire_drops_bad_missing_and_malformed(void **state) {
  (void)state;
  krn_log_set_fd(-1);
  pair p;
  pair_open(&p);
  krn_wire *w = krn_wire_new(KEY, NULL);
  krn_msg m;
  char bad[] = SIG;
  bad[0] = bad[0] == '0' ? '1' : '0';
  const char *bad_sig[] = {"<IDS|MSG>", bad, HEADER, "{}", "{}", "{}"};
  const char *no_sig[] = {"<IDS|MSG>", "", HEADER, "{}", "{}", "{}"};
  const char *upper[] = {
      "<IDS|MSG>", "EBB45B11E6888367BD1881F2ED05286307D98330B993633DC093E663FA0D8E93",
      HEADER,      "{}",
      "{}",        "{}"};
  const char *no_delim[] = {SIG, HEADER, "{}", "{}", "{}"};
  const char *short_msg[] = {"<IDS|MSG>", SIG, HEADER, "{}"};
  const char *const *cases[] = {bad_sig, no_sig, upper, no_delim, short_msg};
  const int ncases[] = {6, 6, 6, 5, 4};
  for (int i = 0; i < 5; i++) {
    send_parts(p.client, cases[i], ncases[i]);
    assert_int_equal(recv_one(w, p.server, &m), KRN_DROPPED);
  }
  krn_wire_free(w);
  /* Without a key nothing is checked, but JSON still must be objects. */
  w = krn_wire_new("", NULL);
  const char *json_bad[] = {"<IDS|MSG>", "", "{\"msg_type\": ", "{}", "{}", "{}"};
  const char *not_obj[] = {"<IDS|MSG>", "", "[1, 2]", "{}", "{}", "{}"};
  const char *no_type[] = {"<IDS|MSG>", "", "{\"msg_id\": \"x\"}", "{}", "{}", "{}"};
  const char *fine[] = {"<IDS|MSG>", "whatever", HEADER, "{}", "{}", "{\"code\": \"1\"}"};
  send_parts(p.client, json_bad, 6);
  assert_int_equal(recv_one(w, p.server, &m), KRN_DROPPED);
  send_parts(p.client, not_obj, 6);
  assert_int_equal(recv_one(w, p.server, &m), KRN_DROPPED);
  send_parts(p.client, no_type, 6);
  assert_int_equal(recv_one(w, p.server, &m), KRN_DROPPED);
  send_parts(p.client, fine, 6);
  assert_int_equal(recv_one(w, p.server, &m), 0);
  assert_string_equal(krn_msg_str(&m, "code", "?"), "1");
  krn_msg_free(&m);
  krn_wire_free(w);
  pair_close(&p);
}

/* What the kernel sends verifies with the same key (round trip). */
static void hmac_wire_reply_verifies(void **state) {
  (void)state;
  krn_log_set_fd(-1);
  pair p;
  pair_open(&p);
  krn_wire *w = krn_wire_new(KEY, "hmac-sha256");
  krn_wire *peer = krn_wire_new(KEY, "hmac-sha256");
  json_t *parent = json_pack("{s:s, s:s}", "msg_id", "p1", "msg_type", "execute_request");
  krn_enc e;
  assert_int_equal(
      krn_wire_encode(w, "execute_reply", parent, NULL,
                      json_pack("{s:s, s:i}", "status", "ok", "execution_count", 3), &e),
      0);
  assert_int_equal(strlen(e.sig), 64);
  assert_int_equal(krn_wire_send_enc(p.client, NULL, NULL, &e), 0);
  krn_enc_free(&e);
  krn_msg m;
  assert_int_equal(recv_one(peer, p.server, &m), 0);
  assert_string_equal(m.type, "execute_reply");
  assert_string_equal(json_string_value(json_object_get(m.parent, "msg_id")), "p1");
  assert_string_equal(json_string_value(json_object_get(m.header, "version")), "5.3");
  assert_int_equal(krn_msg_int(&m, "execution_count", 0), 3);
  krn_msg_free(&m);
  json_decref(parent);
  krn_wire_free(w);
  krn_wire_free(peer);
  pair_close(&p);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(hmac_sha256_fips_examples),
    cmocka_unit_test(hmac_sha256_million_a_in_pieces),
    cmocka_unit_test(hmac_sha256_padding_boundaries),
    cmocka_unit_test(hmac_rfc4231_vectors),
    cmocka_unit_test(hmac_keyed_context_is_reusable_by_copy),
    cmocka_unit_test(hmac_constant_time_compare),
    cmocka_unit_test(hmac_signs_message_like_jupyter_client),
    cmocka_unit_test(hmac_wire_accepts_signed_message_once),
    cmocka_unit_test(hmac_wire_drops_bad_missing_and_malformed),
    cmocka_unit_test(hmac_wire_reply_verifies),
};

TH_MAIN(tests)
