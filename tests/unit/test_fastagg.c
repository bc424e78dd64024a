/* test_fastagg.c -- the typed aggregation table (engine/fastagg.c) on its
 * own: keys that end at an unmapped page (its word loads read past a key
 * only within the key's page), every key length around its 8- and 16-byte
 * words, the size hint a second big table starts from, and the queue's
 * order against a plain count.
 * (test_api drives it through reduce_by_key; these reach the edges.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fastagg.h"

static int64_t add_ll(int64_t a, int64_t b) { return a + b; }

/* The value of key (p, n) in fa, or -1 when it is not there. */
static int64_t value_of(eng_fastagg *fa, const char *p, long n) {
  eng__fa_flush(fa);
  for (int64_t i = 0; i < eng__fa_count(fa); i++) {
    eng_val k = eng__fa_key(fa, i);
    if (ENG_VLEN(k) == n && memcmp((const char *)(uintptr_t)k.p, p, (size_t)n) == 0)
      return (int64_t)eng__fa_value(fa, i).p;
  }
  return -1;
}

/* Keys of 0..40 bytes whose last byte is the last byte of a readable page
 * followed by an inaccessible one: a load past the page would crash. Each
 * key is pushed len + 1 times; all must be found with their counts. */
static void fa_keys_at_page_end(void **state) {
  (void)state;
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(m != MAP_FAILED);
  assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
  eng_fastagg *fa = eng__fa_new(add_ll, NULL, NULL);
  char want[41][41];
  for (long n = 0; n <= 40; n++) {
    char *p = m + pg - n;
    for (long i = 0; i < n; i++) want[n][i] = p[i] = (char)('a' + (i * 7 + n) % 26);
    for (long r = 0; r <= n; r++) assert_int_equal(eng__fa_push(fa, eng_strv(p, n), eng_long(1), 1), 1);
  }
  assert_int_equal(eng__fa_count(fa), 41);
  for (long n = 0; n <= 40; n++) assert_int_equal(value_of(fa, want[n], n), n + 1);
  eng__fa_free(fa);
  munmap(m, (size_t)pg * 2);
}

/* Keys that differ only in one byte, at every position of 1..17-byte keys,
 * each pushed twice with different bytes after its end in the same buffer:
 * the masked loads must ignore what lies past the key. */
static void fa_keys_differ_in_each_byte(void **state) {
  (void)state;
  eng_fastagg *fa = eng__fa_new(add_ll, NULL, NULL);
  char buf[64];
  int64_t keys = 0;
  for (int n = 1; n <= 17; n++)
    for (int pos = 0; pos < n; pos++)
      for (int c = 0; c < 2; c++) {
        for (int after = 0; after < 2; after++) {
          memset(buf, 'x', sizeof buf);
          memset(buf + n, after ? 'y' : 'z', sizeof buf - (size_t)n);
          buf[pos] = (char)('A' + c);
          assert_int_equal(eng__fa_push(fa, eng_strv(buf, n), eng_long(1), 1), 1);
        }
        keys++;
      }
  eng__fa_flush(fa);
  assert_int_equal(eng__fa_count(fa), keys);
  for (int64_t i = 0; i < keys; i++) assert_int_equal((int64_t)eng__fa_value(fa, i).p, 2);
  eng__fa_free(fa);
}

/* Two big tables one after the other on this thread: the second starts
 * from the first one's final size (the hint) instead of doubling; both
 * must count every key right, and entries keep insertion order. */
static void fa_second_big_table_counts_right(void **state) {
  (void)state;
  int64_t final_bytes = 0, early_bytes = 0;
  for (int round = 0; round < 2; round++) {
    eng_fastagg *fa = eng__fa_new(add_ll, NULL, NULL);
    const int64_t keys = 150000;
    for (int64_t rep = 0; rep < 3; rep++)
      for (int64_t k = 0; k < keys; k++) {
        char w[24];
        int n = snprintf(w, sizeof w, "w%lld", (long long)((k * 7919) % keys));
        assert_int_equal(eng__fa_push(fa, eng_strv(w, n), eng_long(rep + 1), 1), 1);
        /* 30000 keys: past the small sizes, the second table is already as
         * big as the first one ended (the first is still doubling). */
        if (rep == 0 && k == 30000) {
          if (round == 0) early_bytes = eng__fa_bytes(fa);
          else assert_int_equal(eng__fa_bytes(fa), final_bytes);
        }
      }
    eng__fa_flush(fa);
    if (round == 0) {
      final_bytes = eng__fa_bytes(fa);
      assert_true(early_bytes < final_bytes); /* so the check above can tell */
    }
    assert_int_equal(eng__fa_count(fa), keys);
    for (int64_t i = 0; i < keys; i += 997) {
      char w[24];
      int n = snprintf(w, sizeof w, "w%lld", (long long)((i * 7919) % keys));
      eng_val k = eng__fa_key(fa, i);
      assert_int_equal(ENG_VLEN(k), n);
      assert_memory_equal((const char *)(uintptr_t)k.p, w, (size_t)n);
      assert_int_equal((int64_t)eng__fa_value(fa, i).p, 6);
    }
    eng__fa_free(fa);
  }
}

/* A key over 16 bytes pushed again and again: each push promises room for
 * its bytes, and a key already there must give that room back, or the key
 * store grows by the key's size per row (it did, before this test). */
static void fa_repeated_long_key_keeps_small(void **state) {
  (void)state;
  eng_fastagg *fa = eng__fa_new(add_ll, NULL, NULL);
  const char *k[3] = {"a key of twenty bytes", "another key, 24 bytes..", "x"};
  for (int i = 0; i < 1000000; i++)
    assert_int_equal(eng__fa_push(fa, eng_strv(k[i % 3], (long)strlen(k[i % 3])), eng_long(1), 1), 1);
  eng__fa_flush(fa);
  assert_int_equal(eng__fa_count(fa), 3);
  assert_true(eng__fa_bytes(fa) < 1 << 20);
  assert_int_equal(value_of(fa, k[0], (long)strlen(k[0])), 333334);
  eng__fa_free(fa);
}

/* Long keys in a table: pushes interleave the queue with a combining
 * function, and results equal a count done by hand. */
static void fa_long_keys_match_plain_count(void **state) {
  (void)state;
  enum { N = 1 << 16, K = 1000 };
  static int64_t expect[K];
  memset(expect, 0, sizeof expect);
  eng_fastagg *fa = eng__fa_new(add_ll, NULL, NULL);
  uint64_t x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    int64_t k = (int64_t)((x >> 33) % K) - K / 2;
    expect[k + K / 2] += i;
    assert_int_equal(eng__fa_push(fa, eng_long(k), eng_long(i), 1), 1);
  }
  eng__fa_flush(fa);
  assert_int_equal(eng__fa_count(fa), K);
  for (int64_t i = 0; i < eng__fa_count(fa); i++) {
    int64_t k = (int64_t)eng__fa_key(fa, i).p;
    assert_int_equal((int64_t)eng__fa_value(fa, i).p, expect[k + K / 2]);
  }
  eng__fa_free(fa);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fa_keys_at_page_end),
      cmocka_unit_test(fa_keys_differ_in_each_byte),
      cmocka_unit_test(fa_second_big_table_counts_right),
      cmocka_unit_test(fa_repeated_long_key_keeps_small),
      cmocka_unit_test(fa_long_keys_match_plain_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
