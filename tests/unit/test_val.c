/* test_val.c -- unit tests for engine/val.c: dynamic values with Python's
 * semantics (==, ordering, hash, +), deep copy and size, growable lists,
 * the binary encoding (including malformed input) and eng__raise.
 *
 * Expected values for Python semantics were printed by Debian's Python 3.11:
 *   PYTHONHASHSEED=0 /usr/bin/python3 gen_val.py
 * where gen_val.py prints, for each value x below, repr(x) and PySpark's
 * portable_hash(x) (pyspark/rdd.py: None -> 0, tuples combined with
 * h = 0x345678; h ^= portable_hash(item); h *= 1000003; h &= sys.maxsize;
 * finally h ^= len(x); everything else hash(x)), then the comparisons, the
 * TypeError texts of failing '<' and the sums, each as written in the test
 * that uses it (e.g. `print((2**63-1) < 2.0**63)` -> True).
 */
#include "th.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../engine/err.h"
#include "../../engine/val.h"

/* ---- helpers ------------------------------------------------------------ */

/* A str value over a C literal. */
static eng_val sv(const char *s) { return eng_strv(s, (long)strlen(s)); }

/* Tuples and lists over stack arrays (no arena). */
#define TUP(...) eng_seqv(ENG_V_TUPLE, (eng_val[]){__VA_ARGS__}, \
                          (long)(sizeof((eng_val[]){__VA_ARGS__}) / sizeof(eng_val)))
#define LST(...) eng_seqv(ENG_V_LIST, (eng_val[]){__VA_ARGS__}, \
                          (long)(sizeof((eng_val[]){__VA_ARGS__}) / sizeof(eng_val)))

static eng_val bcast_of(const eng_val *inner) {
  eng_val b = {ENG_V_BCAST | (7u << 8), (uint64_t)(uintptr_t)inner};
  return b;
}

/* Structural identity: same kinds all the way down (Python == would say
 * 1 == 1.0 == True), doubles compared by bits, strings by bytes. */
static int same(eng_val a, eng_val b) {
  if (ENG_VKIND(a) != ENG_VKIND(b)) return 0;
  switch (ENG_VKIND(a)) {
    case ENG_V_NONE: return 1;
    case ENG_V_BOOL:
    case ENG_V_LONG:
    case ENG_V_DOUBLE: return a.p == b.p;
    case ENG_V_STR:
      return ENG_VLEN(a) == ENG_VLEN(b) &&
             memcmp(eng_v_ptr(a), eng_v_ptr(b), (size_t)ENG_VLEN(a)) == 0;
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      if (ENG_VLEN(a) != ENG_VLEN(b)) return 0;
      for (long i = 0; i < ENG_VLEN(a); i++)
        if (!same(eng_v_items(a)[i], eng_v_items(b)[i])) return 0;
      return 1;
    }
    case ENG_V_RECORD: {
      const eng_record *x = (const eng_record *)(uintptr_t)a.p;
      const eng_record *y = (const eng_record *)(uintptr_t)b.p;
      if (x->n != y->n) return 0;
      for (long i = 0; i < x->n; i++)
        if (strcmp(x->names[i], y->names[i]) != 0 || !same(x->vals[i], y->vals[i])) return 0;
      return 1;
    }
    default:
      return a.h == b.h && a.p == b.p;
  }
}

/* repr(v) into a static buffer, for messages and checks. */
static const char *repr(eng_val v) {
  static char out[512];
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b));
  eng_buf_free(&b);
  return out;
}

/* xorshift64*: deterministic pseudo-random numbers. */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char *const words[] = {"", "a", "abc", "h\xc3\xa9llo", "\xe6\x97\xa5", "x y", "nul\0in"};

/* A random nested value (depth-limited) whose memory lives in arena a. */
static eng_val random_val(eng_arena *a, int depth) {
  switch (rng() % (depth > 3 ? 5 : 7)) {
    case 0: return eng_none();
    case 1: return eng_bool((int)(rng() & 1));
    case 2: {
      static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, 63, -64, 1 << 20};
      return rng() & 1 ? eng_long((int64_t)rng()) : eng_long(edge[rng() % 8]);
    }
    case 3: {
      double d;
      uint64_t u = rng();
      memcpy(&d, &u, 8);
      return rng() & 1 ? eng_double(d) : eng_double((double)(int64_t)(rng() % 1000) / 8);
    }
    case 4: {
      size_t w = rng() % (sizeof words / sizeof words[0]);
      long n = w == 6 ? 6 : (long)strlen(words[w]);
      return eng_str_copy(a, words[w], n);
    }
    default: {
      long n = (long)(rng() % 5);
      eng_val items[5];
      for (long i = 0; i < n; i++) items[i] = random_val(a, depth + 1);
      return rng() & 1 ? eng_tuple(a, items, n) : eng_list(a, items, n);
    }
  }
}

/* ---- construction ------------------------------------------------------- */

/* Scalars are made without memory and read back through the accessors. */
static void val_scalars_read_back(void **state) {
  (void)state;
  assert_int_equal(ENG_VKIND(eng_none()), ENG_V_NONE);
  eng_val zero = {0, 0};
  assert_true(same(zero, eng_none()));
  assert_int_equal(eng_bool(5).p, 1);
  assert_int_equal(eng_bool(0).p, 0);
  assert_int_equal(eng_v_long(eng_long(INT64_MIN)), INT64_MIN);
  assert_int_equal(eng_v_long(eng_long(INT64_MAX)), INT64_MAX);
  assert_true(eng_v_double(eng_double(-0.0)) == 0.0);
  assert_true(signbit(eng_v_double(eng_double(-0.0))));
  assert_true(isnan(eng_v_double(eng_double(NAN))));
  eng_val s = sv("hello");
  assert_int_equal(ENG_VLEN(s), 5);
  eng_str st = eng_v_str(s);
  assert_int_equal(st.len, 5);
  assert_memory_equal(st.ptr, "hello", 5);
  assert_true(eng_is_num(eng_bool(1)) && eng_is_num(eng_long(1)) && eng_is_num(eng_double(1)));
  assert_false(eng_is_num(s));
  assert_true(eng_is_seq(TUP(eng_long(1))) && eng_is_seq(LST(eng_long(1))));
  assert_false(eng_is_seq(s));
}

/* Tuples, lists, pairs and string copies live in the arena and copy items. */
static void val_containers_copy_items_into_arena(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val items[3] = {eng_long(1), sv("x"), eng_none()};
  eng_val t = eng_tuple(a, items, 3), l = eng_list(a, items, 3);
  items[0] = eng_long(99); /* the containers hold their own copies */
  assert_int_equal(ENG_VKIND(t), ENG_V_TUPLE);
  assert_int_equal(ENG_VKIND(l), ENG_V_LIST);
  assert_string_equal(repr(t), "(1, 'x', None)");
  assert_string_equal(repr(l), "[1, 'x', None]");
  assert_string_equal(repr(eng_tuple(a, NULL, 0)), "()");
  assert_string_equal(repr(eng_list(a, NULL, 0)), "[]");
  eng_val p = eng_pair(a, sv("k"), eng_double(2.5));
  assert_int_equal(ENG_VLEN(p), 2);
  assert_string_equal(repr(p), "('k', 2.5)");
  char buf[4] = {'a', 'b', 'c', 'd'};
  eng_val c = eng_str_copy(a, buf, 3);
  buf[0] = 'z';
  assert_int_equal(ENG_VLEN(c), 3);
  assert_string_equal(eng_v_ptr(c), "abc"); /* NUL-terminated copy */
  eng_val e = eng_str_copy(a, NULL, 0);
  assert_int_equal(ENG_VLEN(e), 0);
  assert_string_equal(eng_v_ptr(e), "");
  eng_arena_free(a);
  TH_MEM_END();
}

/* Constructors return None when the arena cannot grow. */
static void val_constructors_return_none_on_oom(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val items[2] = {eng_long(1), eng_long(2)};
  eng_mem_fail_after(1);
  assert_int_equal(ENG_VKIND(eng_tuple(a, items, 2)), ENG_V_NONE);
  eng_mem_fail_after(1);
  assert_int_equal(ENG_VKIND(eng_list(a, items, 2)), ENG_V_NONE);
  eng_mem_fail_after(1);
  assert_int_equal(ENG_VKIND(eng_pair(a, items[0], items[1])), ENG_V_NONE);
  eng_mem_fail_after(1);
  assert_int_equal(ENG_VKIND(eng_str_copy(a, "abc", 3)), ENG_V_NONE);
  eng_mem_fail_after(1);
  assert_int_equal(ENG_VKIND(eng_val_copy(a, TUP(eng_long(1)))), ENG_V_NONE);
  eng_mem_fail_after(0);
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- names and checked access ------------------------------------------- */

static void val_type_names_are_pythons(void **state) {
  (void)state;
  eng_val inner = eng_long(3);
  eng_val acc = {ENG_V_ACC | (1u << 8), 0};
  eng_record r = {0, NULL, NULL};
  eng_val rec = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  eng_val odd = {77, 0};
  assert_string_equal(eng_val_type_name(eng_none()), "NoneType");
  assert_string_equal(eng_val_type_name(eng_bool(1)), "bool");
  assert_string_equal(eng_val_type_name(eng_long(1)), "int");
  assert_string_equal(eng_val_type_name(eng_double(1)), "float");
  assert_string_equal(eng_val_type_name(sv("s")), "str");
  assert_string_equal(eng_val_type_name(TUP(eng_long(1))), "tuple");
  assert_string_equal(eng_val_type_name(LST(eng_long(1))), "list");
  assert_string_equal(eng_val_type_name(bcast_of(&inner)), "int"); /* reads as its value */
  assert_string_equal(eng_val_type_name(acc), "accumulator");
  assert_string_equal(eng_val_type_name(rec), "StatCounter");
  assert_string_equal(eng_val_type_name(odd), "unknown");
}

/* as_long takes int and bool; as_double widens int; as_str takes only str;
 * mismatches are TypeErrors naming expected and found types. */
static void val_checked_conversions(void **state) {
  (void)state;
  eng_err e;
  int64_t x = 0;
  double d = 0;
  eng_str s = {0};
  assert_int_equal(eng_val_as_long(eng_long(-7), &x, &e), 0);
  assert_int_equal(x, -7);
  assert_int_equal(eng_val_as_long(eng_bool(1), &x, &e), 0);
  assert_int_equal(x, 1);
  assert_int_equal(eng_val_as_long(eng_double(1.0), &x, &e), ENG_ETYPE);
  assert_int_equal(e.code, ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: expected int, got float");
  assert_int_equal(eng_val_as_long(sv("1"), &x, NULL), ENG_ETYPE); /* NULL err is fine */
  assert_int_equal(eng_val_as_double(eng_double(2.5), &d, &e), 0);
  assert_true(d == 2.5);
  assert_int_equal(eng_val_as_double(eng_long(INT64_MAX), &d, &e), 0);
  assert_true(d == 9223372036854775807.0);
  assert_int_equal(eng_val_as_double(eng_bool(0), &d, &e), 0);
  assert_true(d == 0.0);
  assert_int_equal(eng_val_as_double(eng_none(), &d, &e), ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: expected float, got NoneType");
  assert_int_equal(eng_val_as_str(sv("hi"), &s, &e), 0);
  assert_int_equal(s.len, 2);
  assert_int_equal(eng_val_as_str(LST(eng_long(1)), &s, &e), ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: expected str, got list");
  /* Broadcasts read as their value. */
  eng_val inner = eng_long(11);
  assert_int_equal(eng_val_as_long(bcast_of(&inner), &x, &e), 0);
  assert_int_equal(x, 11);
}

/* Python truthiness. */
static void val_truthiness(void **state) {
  (void)state;
  eng_val empty_t = eng_seqv(ENG_V_TUPLE, NULL, 0), empty_l = eng_seqv(ENG_V_LIST, NULL, 0);
  eng_val falses[] = {eng_none(), eng_bool(0), eng_long(0), eng_double(0.0), eng_double(-0.0),
                      sv(""), empty_t, empty_l};
  eng_val trues[] = {eng_bool(1), eng_long(-1), eng_double(0.5), eng_double(NAN),
                     sv("0"), TUP(eng_none()), LST(eng_long(0))};
  for (size_t i = 0; i < sizeof falses / sizeof falses[0]; i++)
    assert_false(eng_val_truthy(falses[i]));
  for (size_t i = 0; i < sizeof trues / sizeof trues[0]; i++) assert_true(eng_val_truthy(trues[i]));
  eng_val zero = eng_long(0);
  assert_false(eng_val_truthy(bcast_of(&zero)));
}

/* ---- equality ------------------------------------------------------------ */

/* 1 == 1.0 == True, containers element-wise, tuple != list, str by bytes. */
static void val_eq_follows_python(void **state) {
  (void)state;
  assert_true(eng_val_eq(eng_long(1), eng_double(1.0)));
  assert_true(eng_val_eq(eng_long(1), eng_bool(1)));
  assert_true(eng_val_eq(eng_double(0.0), eng_bool(0)));
  assert_true(eng_val_eq(eng_double(-0.0), eng_long(0)));
  assert_true(eng_val_eq(eng_none(), eng_none()));
  assert_false(eng_val_eq(eng_none(), eng_long(0)));
  assert_false(eng_val_eq(eng_long(1), sv("1")));
  assert_true(eng_val_eq(sv("abc"), eng_strv("abcd", 3)));
  assert_false(eng_val_eq(sv("abc"), sv("abd")));
  assert_false(eng_val_eq(sv("ab"), sv("abc")));
  assert_true(eng_val_eq(sv(""), eng_strv(NULL, 0)));
  /* (1,) == (1.0,) True; [1] == (1,) False. */
  assert_true(eng_val_eq(TUP(eng_long(1)), TUP(eng_double(1.0))));
  assert_false(eng_val_eq(LST(eng_long(1)), TUP(eng_long(1))));
  assert_false(eng_val_eq(LST(sv("a"), TUP(eng_long(2), eng_none())),
                          LST(sv("a"), TUP(eng_bool(0), eng_none()))));
  assert_true(eng_val_eq(LST(sv("a"), TUP(eng_long(2), eng_none())),
                         LST(sv("a"), TUP(eng_double(2.0), eng_none()))));
  assert_false(eng_val_eq(LST(eng_long(1), eng_long(2)), LST(eng_long(1))));
  /* NaN is not equal to itself. */
  assert_false(eng_val_eq(eng_double(NAN), eng_double(NAN)));
  /* Broadcasts compare as their value. */
  eng_val inner = sv("b");
  assert_true(eng_val_eq(bcast_of(&inner), sv("b")));
  assert_true(eng_val_eq(sv("b"), bcast_of(&inner)));
}

/* int and float compare exactly, never through a lossy conversion:
 * `print(9007199254740993 == 9007199254740992.0, 9007199254740993 >
 * 9007199254740992.0)` -> False True; `print((2**63-1) < 2.0**63, -2**63 ==
 * -2.0**63, (2**63-1) == 2.0**63)` -> True True False. */
static void val_eq_and_cmp_int_float_exact(void **state) {
  (void)state;
  int c = 99;
  eng_val big = eng_long(9007199254740993LL), bigf = eng_double(9007199254740992.0);
  assert_false(eng_val_eq(big, bigf));
  assert_int_equal(eng_val_cmp(big, bigf, &c, NULL), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp(bigf, big, &c, NULL), 0);
  assert_int_equal(c, -1);

  eng_val two63 = eng_double(9223372036854775808.0);
  assert_false(eng_val_eq(eng_long(INT64_MAX), two63));
  assert_int_equal(eng_val_cmp(eng_long(INT64_MAX), two63, &c, NULL), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(two63, eng_long(INT64_MAX), &c, NULL), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp_total(eng_long(INT64_MAX), two63), -1);
  assert_true(eng_val_eq(eng_long(INT64_MIN), eng_double(-9223372036854775808.0)));
  assert_int_equal(eng_val_cmp(eng_long(INT64_MIN), eng_double(-9223372036854775808.0), &c, NULL),
                   0);
  assert_int_equal(c, 0);
  /* Doubles between 2**63 and 9.3e18, and far beyond. */
  assert_int_equal(eng_val_cmp(eng_long(INT64_MAX), eng_double(9.25e18), &c, NULL), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_long(INT64_MIN), eng_double(-9.25e18), &c, NULL), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp(eng_long(0), eng_double(INFINITY), &c, NULL), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_long(INT64_MIN), eng_double(-INFINITY), &c, NULL), 0);
  assert_int_equal(c, 1);
  /* Fractions: 1 < 1.5, -2 < -1.5, 2 > 1.5. */
  assert_int_equal(eng_val_cmp(eng_long(1), eng_double(1.5), &c, NULL), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_long(-2), eng_double(-1.5), &c, NULL), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_long(-1), eng_double(-1.5), &c, NULL), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp(eng_double(-1.5), eng_long(-1), &c, NULL), 0);
  assert_int_equal(c, -1);
}

/* ---- order --------------------------------------------------------------- */

/* `print((1,'a') < (1,'b'), (1,2) < (1,2,0), [None] < [None], True < 2,
 * 1 < 1.5, 'ab' < 'b', 'é' > 'z')` -> True True False True True True True. */
static void val_cmp_follows_python(void **state) {
  (void)state;
  int c = 99;
  eng_err e;
  assert_int_equal(eng_val_cmp(TUP(eng_long(1), sv("a")), TUP(eng_long(1), sv("b")), &c, &e), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(TUP(eng_long(1), eng_long(2)),
                               TUP(eng_long(1), eng_long(2), eng_long(0)), &c, &e), 0);
  assert_int_equal(c, -1);
  /* Equal items are skipped with ==, so None items are never ordered. */
  assert_int_equal(eng_val_cmp(LST(eng_none()), LST(eng_none()), &c, &e), 0);
  assert_int_equal(c, 0);
  assert_int_equal(eng_val_cmp(eng_bool(1), eng_long(2), &c, &e), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_long(1), eng_double(1.5), &c, &e), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(sv("ab"), sv("b"), &c, &e), 0);
  assert_int_equal(c, -1);
  /* UTF-8 byte order is code point order. */
  assert_int_equal(eng_val_cmp(sv("\xc3\xa9"), sv("z"), &c, &e), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp(sv("abc"), sv("abc"), &c, &e), 0);
  assert_int_equal(c, 0);
  assert_int_equal(eng_val_cmp(sv("ab"), sv("abc"), &c, &e), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(sv("b"), eng_strv("", 0), &c, &e), 0);
  assert_int_equal(c, 1);
  assert_int_equal(eng_val_cmp(eng_strv(NULL, 0), sv("a"), &c, &e), 0);
  assert_int_equal(c, -1);
  assert_int_equal(eng_val_cmp(eng_strv(NULL, 0), sv(""), &c, &e), 0);
  assert_int_equal(c, 0);
  /* 1 and 1.0 are equal; NaN compares as equal ("not less"). */
  assert_int_equal(eng_val_cmp(eng_double(1.0), eng_long(1), &c, &e), 0);
  assert_int_equal(c, 0);
  assert_int_equal(eng_val_cmp(eng_double(NAN), eng_long(1), &c, &e), 0);
  assert_int_equal(c, 0);
  /* Nested: [(1, 'b')] > [(1, 'a'), (9,)]. */
  assert_int_equal(eng_val_cmp(LST(TUP(eng_long(1), sv("b"))),
                               LST(TUP(eng_long(1), sv("a")), TUP(eng_long(9))), &c, &e), 0);
  assert_int_equal(c, 1);
}

/* Unorderable pairs give Python's TypeError text:
 * 'a' < 1, None < None, (1,'a') < (1,2), [1] < (1,). */
static void val_cmp_type_errors_match_python(void **state) {
  (void)state;
  int c = 99;
  eng_err e;
  assert_int_equal(eng_val_cmp(sv("a"), eng_long(1), &c, &e), ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: '<' not supported between instances of 'str' and 'int'");
  assert_int_equal(eng_val_cmp(eng_none(), eng_none(), &c, &e), ENG_ETYPE);
  assert_string_equal(e.msg,
                      "TypeError: '<' not supported between instances of 'NoneType' and 'NoneType'");
  assert_int_equal(eng_val_cmp(TUP(eng_long(1), sv("a")), TUP(eng_long(1), eng_long(2)), &c, &e),
                   ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: '<' not supported between instances of 'str' and 'int'");
  assert_int_equal(eng_val_cmp(LST(eng_long(1)), TUP(eng_long(1)), &c, &e), ENG_ETYPE);
  assert_string_equal(e.msg,
                      "TypeError: '<' not supported between instances of 'list' and 'tuple'");
  assert_int_equal(eng_val_cmp(eng_long(1), eng_none(), &c, NULL), ENG_ETYPE);
}

/* The total order: None < numbers < str < tuple < list, NaN after every
 * number and equal to itself, Python's order inside each rank. */
static void val_cmp_total_orders_everything(void **state) {
  (void)state;
  eng_val ordered[] = {
      eng_none(),      eng_double(-INFINITY), eng_long(INT64_MIN), eng_long(-1),
      eng_bool(0),     eng_double(0.5),       eng_bool(1),         eng_long(2),
      eng_long(INT64_MAX), eng_double(9223372036854775808.0), eng_double(INFINITY),
      eng_double(NAN), sv(""),               sv("a"),             sv("ab"),
      sv("b"),         eng_seqv(ENG_V_TUPLE, NULL, 0), TUP(eng_none()), TUP(eng_long(1)),
      TUP(eng_long(1), sv("a")), TUP(sv("a")), eng_seqv(ENG_V_LIST, NULL, 0),
      LST(eng_none(), eng_long(1)), LST(eng_long(0)),
  };
  size_t n = sizeof ordered / sizeof ordered[0];
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      int want = i < j ? -1 : i > j ? 1 : 0;
      int got = eng_val_cmp_total(ordered[i], ordered[j]);
      if (got != want) fail_msg("cmp_total(%zu, %zu) = %d, want %d", i, j, got, want);
    }
  }
  /* Equal numbers of different kinds are equal in the total order too. */
  assert_int_equal(eng_val_cmp_total(eng_long(1), eng_double(1.0)), 0);
  assert_int_equal(eng_val_cmp_total(eng_bool(1), eng_long(1)), 0);
  assert_int_equal(eng_val_cmp_total(eng_double(NAN), eng_double(-NAN)), 0);
}

/* cmp_total agrees with cmp wherever cmp succeeds, is antisymmetric and
 * transitive over random values (checked on sorted triples). */
static void val_cmp_total_consistent_with_cmp(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  enum { N = 300 };
  eng_val v[N];
  for (int i = 0; i < N; i++) v[i] = random_val(a, 0);
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) {
      int t = eng_val_cmp_total(v[i], v[j]), r = eng_val_cmp_total(v[j], v[i]);
      if (t != -r) fail_msg("not antisymmetric: %s vs %s", repr(v[i]), repr(v[j]));
      int c;
      /* NaN makes cmp report 0 where the total order is strict. */
      if (eng_val_cmp(v[i], v[j], &c, NULL) == 0 && c != t && eng_val_eq(v[i], v[i]) &&
          eng_val_eq(v[j], v[j]))
        fail_msg("cmp %d vs total %d: %s vs %s", c, t, repr(v[i]), repr(v[j]));
      if (eng_val_eq(v[i], v[j]) && t != 0) fail_msg("equal but ordered: %s", repr(v[i]));
    }
  }
  for (int k = 0; k < 20000; k++) {
    eng_val x = v[rng() % N], y = v[rng() % N], z = v[rng() % N];
    if (eng_val_cmp_total(x, y) <= 0 && eng_val_cmp_total(y, z) <= 0)
      assert_true(eng_val_cmp_total(x, z) <= 0);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- hash ---------------------------------------------------------------- */

/* portable_hash values from the real Python (see the top of the file). */
static void val_hash_is_portable_hash(void **state) {
  (void)state;
  eng_val two = eng_double(2.0);
  const struct {
    eng_val v;
    int64_t want;
    const char *py;
  } cases[] = {
      {eng_none(), 0, "None"},
      {eng_bool(1), 1, "True"},
      {eng_bool(0), 0, "False"},
      {eng_long(0), 0, "0"},
      {eng_long(1), 1, "1"},
      {eng_long(-1), -2, "-1"},
      {eng_long(42), 42, "42"},
      {eng_long(2305843009213693951LL), 0, "2**61-1"},
      {eng_long(INT64_MAX), 3, "2**63-1"},
      {eng_long(INT64_MIN), -4, "-2**63"},
      {eng_double(1.0), 1, "1.0"},
      {eng_double(1.5), 1152921504606846977LL, "1.5"},
      {eng_double(-0.0), 0, "-0.0"},
      {eng_double(0.1), 230584300921369408LL, "0.1"},
      {eng_double(INFINITY), 314159, "inf"},
      {eng_double(-2.5e300), -756645147675703959LL, "-2.5e+300"},
      {sv(""), 0, "''"},
      {sv("a"), 4644417185603328019LL, "'a'"},
      {sv("abc"), -4594863902769663758LL, "'abc'"},
      {sv("h\xc3\xa9llo"), 6395329678795984700LL, "'héllo'"},
      {sv("\xe6\x97\xa5\xe6\x9c\xac"), 6243316497235261705LL, "'日本'"},
      {sv("\xf0\x9f\x8e\x89x"), 295391387331905295LL, "'🎉x'"},
      {eng_seqv(ENG_V_TUPLE, NULL, 0), 3430008, "()"},
      {TUP(eng_long(1)), 3430019290026LL, "(1,)"},
      {TUP(eng_long(1), sv("a")), 5400004561722130730LL, "(1, 'a')"},
      {TUP(sv("a"), TUP(eng_long(1), two)), 3579645532484206506LL, "('a', (1, 2.0))"},
      {TUP(eng_none(), eng_bool(1), eng_double(2.5)), 8619004385831793064LL,
       "(None, True, 2.5)"},
      {TUP(TUP(eng_long(1), eng_long(2)), TUP(eng_long(3), TUP(eng_long(4), sv("x")))),
       2430376602143070315LL, "((1, 2), (3, (4, 'x')))"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = eng_val_hash(cases[i].v);
    if (got != cases[i].want)
      fail_msg("portable_hash(%s) = %lld, want %lld", cases[i].py, (long long)got,
               (long long)cases[i].want);
  }
  /* Lists hash as the tuple of the same items; broadcasts as their value. */
  assert_int_equal(eng_val_hash(LST(eng_long(1), sv("a"))), 5400004561722130730LL);
  eng_val inner = sv("abc");
  assert_int_equal(eng_val_hash(bcast_of(&inner)), -4594863902769663758LL);
}

/* Long tuples (more than the 16 hashes kept on the stack) hash like
 * portable_hash(tuple(range(40))), and equal values hash equal. */
static void val_hash_long_tuples_and_equal_values(void **state) {
  (void)state;
  eng_val items[40], itemsf[40];
  for (int i = 0; i < 40; i++) {
    items[i] = eng_long(i);
    itemsf[i] = eng_double(i);
  }
  /* PYTHONHASHSEED=0 python3 -c 'print(portable_hash(tuple(range(40))))'
   * with portable_hash as above -> 1533020978902024960. */
  assert_int_equal(eng_val_hash(eng_seqv(ENG_V_TUPLE, items, 40)), 1533020978902024960LL);
  assert_int_equal(eng_val_hash(eng_seqv(ENG_V_TUPLE, items, 40)),
                   eng_val_hash(eng_seqv(ENG_V_TUPLE, itemsf, 40)));
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  for (int k = 0; k < 2000; k++) {
    eng_val x = random_val(a, 0), y = eng_val_copy(a, x);
    assert_true(eng_val_hash(x) == eng_val_hash(y));
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- addition ------------------------------------------------------------ */

/* Python's +: `1 + 2 = 3`, `1 + 2.5 = 3.5`, `True + True = 2`, `'a' + 'b'`,
 * `(1,) + (2,)`, `[1] + [2]`, `0.1 + 0.2 = 0.30000000000000004`; int64
 * wraps where Python would grow (documented). */
static void val_add_follows_python(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val out;
  eng_err e;
  assert_int_equal(eng_val_add(a, eng_long(1), eng_long(2), &out, &e), 0);
  assert_true(same(out, eng_long(3)));
  assert_int_equal(eng_val_add(a, eng_long(1), eng_double(2.5), &out, &e), 0);
  assert_true(same(out, eng_double(3.5)));
  assert_int_equal(eng_val_add(a, eng_bool(1), eng_bool(1), &out, &e), 0);
  assert_true(same(out, eng_long(2)));
  assert_int_equal(eng_val_add(a, eng_double(0.1), eng_double(0.2), &out, &e), 0);
  assert_string_equal(repr(out), "0.30000000000000004");
  assert_int_equal(eng_val_add(a, eng_bool(1), eng_double(0.5), &out, &e), 0);
  assert_true(same(out, eng_double(1.5)));
  assert_int_equal(eng_val_add(a, eng_long(INT64_MAX), eng_long(1), &out, &e), 0);
  assert_true(same(out, eng_long(INT64_MIN)));
  assert_int_equal(eng_val_add(a, sv("a"), sv("bc"), &out, &e), 0);
  assert_string_equal(repr(out), "'abc'");
  assert_string_equal(eng_v_ptr(out), "abc"); /* NUL-terminated */
  assert_int_equal(eng_val_add(a, sv(""), sv(""), &out, &e), 0);
  assert_int_equal(ENG_VLEN(out), 0);
  /* An empty string may be a NULL view. */
  assert_int_equal(eng_val_add(a, eng_strv(NULL, 0), sv("z"), &out, &e), 0);
  assert_string_equal(eng_v_ptr(out), "z");
  assert_int_equal(eng_val_add(a, sv("z"), eng_strv(NULL, 0), &out, &e), 0);
  assert_string_equal(eng_v_ptr(out), "z");
  assert_int_equal(eng_val_add(a, TUP(eng_long(1)), TUP(eng_long(2)), &out, &e), 0);
  assert_true(same(out, TUP(eng_long(1), eng_long(2))));
  assert_int_equal(eng_val_add(a, LST(eng_long(1)), LST(sv("x"), eng_none()), &out, &e), 0);
  assert_true(same(out, LST(eng_long(1), sv("x"), eng_none())));
  assert_int_equal(eng_val_add(a, eng_seqv(ENG_V_LIST, NULL, 0), eng_seqv(ENG_V_LIST, NULL, 0),
                               &out, &e), 0);
  assert_true(same(out, eng_seqv(ENG_V_LIST, NULL, 0)));
  assert_int_equal(eng_val_add(a, eng_seqv(ENG_V_TUPLE, NULL, 0), TUP(eng_long(5)), &out, &e), 0);
  assert_true(same(out, TUP(eng_long(5))));
  eng_val inner = eng_long(40);
  assert_int_equal(eng_val_add(a, bcast_of(&inner), eng_long(2), &out, &e), 0);
  assert_true(same(out, eng_long(42)));
  eng_arena_free(a);
  TH_MEM_END();
}

/* Unsupported operands are TypeErrors that name both types. */
static void val_add_type_errors(void **state) {
  (void)state;
  eng_arena *a = eng_arena_new(0);
  eng_val out;
  eng_err e;
  assert_int_equal(eng_val_add(a, sv("a"), eng_long(1), &out, &e), ENG_ETYPE);
  assert_int_equal(e.code, ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: unsupported operand type(s) for +: 'str' and 'int'");
  assert_int_equal(eng_val_add(a, eng_none(), eng_long(1), &out, &e), ENG_ETYPE);
  assert_string_equal(e.msg,
                      "TypeError: unsupported operand type(s) for +: 'NoneType' and 'int'");
  assert_int_equal(eng_val_add(a, LST(eng_long(1)), TUP(eng_long(1)), &out, &e), ENG_ETYPE);
  assert_string_equal(e.msg, "TypeError: unsupported operand type(s) for +: 'list' and 'tuple'");
  assert_int_equal(eng_val_add(a, eng_long(1), sv("a"), &out, NULL), ENG_ETYPE);
  eng_arena_free(a);
}

/* ---- copy and size -------------------------------------------------------- */

/* A deep copy shares no memory with the original and compares identical;
 * strings in the copy are NUL-terminated. */
static void val_copy_is_deep(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *src = eng_arena_new(0), *dst = eng_arena_new(0);
  char text[] = {'a', 'b', 'c', 'X'}; /* not NUL-terminated */
  eng_val s = eng_strv(text, 3);
  eng_val inner = eng_list(src, (eng_val[]){s, eng_long(1)}, 2);
  eng_val v = eng_tuple(src, (eng_val[]){inner, eng_double(2.5), eng_none(), s}, 4);
  eng_val c = eng_val_copy(dst, v);
  assert_true(same(v, c));
  assert_ptr_not_equal(eng_v_items(c), eng_v_items(v));
  eng_val cs = eng_v_items(c)[3];
  assert_ptr_not_equal(eng_v_ptr(cs), text);
  assert_int_equal(eng_v_ptr(cs)[3], 0);
  eng_val cl = eng_v_items(c)[0];
  assert_ptr_not_equal(eng_v_items(cl), eng_v_items(inner));
  /* The original can go away. */
  eng_arena_free(src);
  text[0] = 'z';
  assert_string_equal(repr(c), "(['abc', 1], 2.5, None, 'abc')");
  /* Scalars, empty containers and handles copy as themselves. */
  eng_val acc = {ENG_V_ACC | (3u << 8), 1234};
  assert_true(same(eng_val_copy(dst, acc), acc));
  assert_true(same(eng_val_copy(dst, eng_long(5)), eng_long(5)));
  eng_val et = eng_seqv(ENG_V_TUPLE, NULL, 0);
  assert_true(same(eng_val_copy(dst, et), et));
  eng_arena_free(dst);
  TH_MEM_END();
}

/* Records copy their values and keep their (static) names. */
static void val_copy_record(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  static const char *const names[] = {"count", "mean"};
  eng_val vals[2] = {eng_long(3), sv("x")};
  eng_record r = {2, names, vals};
  eng_val v = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  eng_val c = eng_val_copy(a, v);
  assert_int_equal(ENG_VKIND(c), ENG_V_RECORD);
  assert_ptr_not_equal((void *)(uintptr_t)c.p, &r);
  assert_true(same(v, c));
  vals[0] = eng_long(4);
  assert_string_equal(repr(c), "(count: 3, mean: x)");
  eng_arena_free(a);
  TH_MEM_END();
}

/* deep_size is exactly what eng_val_copy takes from a fresh arena. */
static void val_deep_size_matches_copy(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0), *scratch = eng_arena_new(0);
  static const char *const names[] = {"n", "mean", "s"};
  eng_val rvals[3] = {eng_long(1), eng_double(2), sv("longer than sixteen bytes")};
  eng_record r = {3, names, rvals};
  eng_val rec = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  eng_val fixed[] = {eng_long(1), sv(""), sv("a"), sv("fifteen bytes.."), sv("sixteen bytes..."),
                     TUP(eng_long(1), sv("abc")), LST(LST(sv("x")), eng_seqv(ENG_V_LIST, NULL, 0)),
                     rec};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    eng_arena_reset(a);
    eng_val_copy(a, fixed[i]);
    if (eng_arena_used(a) != eng_val_deep_size(fixed[i]))
      fail_msg("case %zu: copy used %zu, deep_size %zu", i, eng_arena_used(a),
               eng_val_deep_size(fixed[i]));
  }
  for (int k = 0; k < 1000; k++) {
    eng_arena_reset(scratch);
    eng_arena_reset(a);
    eng_val v = random_val(scratch, 0);
    eng_val_copy(a, v);
    if (eng_arena_used(a) != eng_val_deep_size(v))
      fail_msg("%s: copy used %zu, deep_size %zu", repr(v), eng_arena_used(a),
               eng_val_deep_size(v));
  }
  eng_arena_free(a);
  eng_arena_free(scratch);
  TH_MEM_END();
}

/* ---- vlist --------------------------------------------------------------- */

/* A vlist grows past its first block, finishes as a list or tuple, and
 * starts over empty. */
static void val_vlist_grows_and_finishes(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(1024);
  eng_vlist l;
  eng_vlist_init(&l, a);
  eng_val empty = eng_vlist_finish(&l, ENG_V_LIST);
  assert_int_equal(ENG_VKIND(empty), ENG_V_LIST);
  assert_int_equal(ENG_VLEN(empty), 0);
  for (int i = 0; i < 1000; i++) assert_int_equal(eng_vlist_push(&l, eng_long(i)), 0);
  assert_int_equal(l.n, 1000);
  eng_val v = eng_vlist_finish(&l, ENG_V_LIST);
  assert_int_equal(ENG_VKIND(v), ENG_V_LIST);
  assert_int_equal(ENG_VLEN(v), 1000);
  for (int i = 0; i < 1000; i++) assert_int_equal(eng_v_long(eng_v_items(v)[i]), i);
  assert_int_equal(l.n, 0);
  assert_ptr_equal(l.a, a);
  eng_vlist_push(&l, sv("x"));
  eng_val t = eng_vlist_finish(&l, ENG_V_TUPLE);
  assert_string_equal(repr(t), "('x',)");
  /* The finished list is untouched by later pushes. */
  assert_int_equal(eng_v_long(eng_v_items(v)[999]), 999);
  eng_arena_free(a);
  TH_MEM_END();
}

/* push reports ENG_ENOMEM when the arena cannot grow; the list stays valid. */
static void val_vlist_push_oom(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(256);
  eng_vlist l;
  eng_vlist_init(&l, a);
  int i = 0, rc = 0;
  eng_mem_fail_after(3);
  for (; i < 10000 && rc == 0; i++) rc = eng_vlist_push(&l, eng_long(i));
  eng_mem_fail_after(0);
  assert_int_equal(rc, ENG_ENOMEM);
  assert_int_equal(l.n, i - 1);
  for (long k = 0; k < l.n; k++) assert_int_equal(eng_v_long(l.items[k]), k);
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- serialization --------------------------------------------------------- */

/* Writes v, reads it back from the bytes; returns the bytes written. */
static size_t roundtrip(eng_val v, eng_arena *a, eng_val *out, eng_buf *b) {
  eng_buf_init(b);
  assert_int_equal(eng_val_write(b, v), 0);
  eng_rd r;
  eng_rd_init(&r, b->data, b->len);
  assert_int_equal(eng_val_read(&r, a, out), 0);
  assert_int_equal(eng_rd_left(&r), 0);
  return b->len;
}

/* Every kind reads back identical; strings point into the input and are
 * NUL-terminated there. */
static void val_write_read_roundtrip(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val nan = eng_double(NAN);
  eng_val cases[] = {
      eng_none(), eng_bool(1), eng_bool(0), eng_long(0), eng_long(-1), eng_long(63),
      eng_long(-64), eng_long(INT64_MAX), eng_long(INT64_MIN), eng_double(-0.0), eng_double(0.1),
      eng_double(INFINITY), nan, sv(""), sv("h\xc3\xa9llo"), eng_strv("a\0b", 3),
      eng_seqv(ENG_V_TUPLE, NULL, 0), eng_seqv(ENG_V_LIST, NULL, 0),
      TUP(sv("k"), LST(eng_long(1), eng_none(), TUP(eng_double(2.5)))),
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    eng_val out;
    eng_buf b;
    roundtrip(cases[i], a, &out, &b);
    if (!same(out, cases[i])) fail_msg("case %zu: %s", i, repr(cases[i]));
    if (ENG_VKIND(out) == ENG_V_STR) {
      assert_true(eng_v_ptr(out) >= b.data && eng_v_ptr(out) < b.data + b.len);
      assert_int_equal(eng_v_ptr(out)[ENG_VLEN(out)], 0);
    }
    eng_buf_free(&b);
  }
  /* Long zigzag varints: small magnitudes take few bytes. */
  eng_val out;
  eng_buf b;
  assert_int_equal(roundtrip(eng_long(-64), a, &out, &b), 2);
  eng_buf_free(&b);
  assert_int_equal(roundtrip(eng_long(INT64_MIN), a, &out, &b), 11);
  eng_buf_free(&b);
  eng_arena_free(a);
  TH_MEM_END();
}

/* Broadcasts are written as their value; accumulators as their id; records
 * with their names. */
static void val_write_read_handles_and_records(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val out;
  eng_buf b;
  eng_val inner = TUP(eng_long(1), sv("b"));
  roundtrip(bcast_of(&inner), a, &out, &b);
  assert_true(same(out, inner));
  eng_buf_free(&b);
  eng_val acc = {ENG_V_ACC | ((uint64_t)123456 << 8), 0xdead};
  roundtrip(acc, a, &out, &b);
  assert_int_equal(ENG_VKIND(out), ENG_V_ACC);
  assert_int_equal(ENG_VLEN(out), 123456);
  assert_int_equal(out.p, 0); /* the slot is process-local */
  eng_buf_free(&b);
  static const char *const names[] = {"count", "mean", "stdev"};
  eng_val vals[3] = {eng_long(3), eng_double(2.0), eng_double(0.5)};
  eng_record r = {3, names, vals};
  eng_val rec = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  roundtrip(rec, a, &out, &b);
  assert_true(same(out, rec));
  assert_string_equal(repr(out), "(count: 3, mean: 2.0, stdev: 0.5)");
  eng_buf_free(&b);
  eng_arena_free(a);
  TH_MEM_END();
}

/* Random nested values round-trip, and values can be read back to back. */
static void val_write_read_random_sequence(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  enum { N = 3000 };
  eng_val *vals = eng_malloc(N * sizeof *vals);
  eng_buf b;
  eng_buf_init(&b);
  for (int i = 0; i < N; i++) {
    vals[i] = random_val(a, 0);
    assert_int_equal(eng_val_write(&b, vals[i]), 0);
  }
  eng_rd r;
  eng_rd_init(&r, b.data, b.len);
  for (int i = 0; i < N; i++) {
    eng_val out;
    assert_int_equal(eng_val_read(&r, a, &out), 0);
    if (!same(out, vals[i])) fail_msg("value %d: %s", i, repr(vals[i]));
  }
  assert_int_equal(eng_rd_left(&r), 0);
  eng_buf_free(&b);
  eng_free(vals);
  eng_arena_free(a);
  TH_MEM_END();
}

/* Reads one value from n bytes and returns the code. */
static int read_bytes(const void *p, size_t n, eng_arena *a) {
  eng_rd r;
  eng_val out;
  eng_rd_init(&r, p, n);
  return eng_val_read(&r, a, &out);
}

/* Malformed encodings are ProtocolErrors: empty input, unknown tags,
 * broadcast tags, truncated numbers, strings without their NUL or longer
 * than the input, counts beyond the input, endless varints, runaway
 * nesting. */
static void val_read_rejects_malformed(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  assert_int_equal(read_bytes("", 0, a), ENG_EPROTO);
  assert_int_equal(read_bytes("\x63", 1, a), ENG_EPROTO);     /* unknown tag */
  assert_int_equal(read_bytes("\x07\x00", 2, a), ENG_EPROTO); /* broadcast tag */
  assert_int_equal(read_bytes("\x09\x00", 2, a), 0);          /* empty record */
  assert_int_equal(read_bytes("\x01", 1, a), ENG_EPROTO);     /* bool without byte */
  assert_int_equal(read_bytes("\x02", 1, a), ENG_EPROTO);     /* long without varint */
  assert_int_equal(read_bytes("\x02\x80\x80", 3, a), ENG_EPROTO);
  assert_int_equal(read_bytes("\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, a),
                   ENG_EPROTO);                                   /* varint over 64 bits */
  assert_int_equal(read_bytes("\x03\x00\x00\x00", 4, a), ENG_EPROTO); /* short double */
  assert_int_equal(read_bytes("\x04\x03" "abc", 5, a), ENG_EPROTO);   /* no NUL */
  assert_int_equal(read_bytes("\x04\x03" "abcd", 6, a), ENG_EPROTO);  /* not a NUL */
  assert_int_equal(read_bytes("\x04\x03" "abc\0", 6, a), 0);
  assert_int_equal(read_bytes("\x04\xff\xff\xff\xff\xff\xff\xff\xff\x7f" "a\0", 12, a),
                   ENG_EPROTO);                                     /* length 2**63-1 */
  assert_int_equal(read_bytes("\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" "a", 12, a),
                   ENG_EPROTO);                                     /* length 2**64-1 */
  assert_int_equal(read_bytes("\x05\x05\x00\x00", 4, a), ENG_EPROTO); /* 5 items, 2 bytes */
  assert_int_equal(read_bytes("\x06\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, a), ENG_EPROTO);
  assert_int_equal(read_bytes("\x09\x01\x05" "ab", 5, a), ENG_EPROTO); /* record name short */
  assert_int_equal(read_bytes("\x09\x01\x01" "a", 4, a), ENG_EPROTO);  /* record value missing */
  assert_int_equal(read_bytes("\x08", 1, a), ENG_EPROTO);              /* acc without id */
  /* 20000 nested one-item tuples: deeper than any real value. */
  enum { DEPTH = 20000 };
  char *deep = eng_malloc(DEPTH * 2 + 1);
  for (int i = 0; i < DEPTH; i++) {
    deep[2 * i] = ENG_V_TUPLE;
    deep[2 * i + 1] = 1;
  }
  deep[DEPTH * 2] = 0;
  assert_int_equal(read_bytes(deep, DEPTH * 2 + 1, a), ENG_EPROTO);
  /* 5000 levels are fine. */
  assert_int_equal(read_bytes(deep + 2 * (DEPTH - 5000), 5000 * 2 + 1, a), 0);
  eng_free(deep);
  eng_arena_free(a);
  TH_MEM_END();
}

/* Every strict prefix of a valid encoding is rejected (the encoding is
 * self-delimiting, so a prefix always runs out of bytes). */
static void val_read_rejects_every_truncation(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0), *scratch = eng_arena_new(0);
  static const char *const names[] = {"count"};
  eng_val rv[1] = {eng_long(300)};
  eng_record r = {1, names, rv};
  eng_val rec = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  eng_val acc = {ENG_V_ACC | ((uint64_t)300 << 8), 0};
  for (int k = 0; k < 300; k++) {
    eng_arena_reset(scratch);
    eng_val v = k == 0 ? rec : k == 1 ? acc : random_val(scratch, 0);
    eng_buf b;
    eng_buf_init(&b);
    eng_val_write(&b, v);
    for (size_t n = 0; n < b.len; n++) {
      /* A fresh allocation of exactly n bytes, so ASan sees any overread. */
      char *p = eng_malloc(n ? n : 1);
      memcpy(p, b.data, n);
      if (read_bytes(p, n, a) != ENG_EPROTO) fail_msg("prefix %zu of %s accepted", n, repr(v));
      eng_free(p);
    }
    eng_buf_free(&b);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  eng_arena_free(scratch);
  TH_MEM_END();
}

/* Random bytes and random corruptions of valid encodings never crash or
 * read out of bounds (run under ASan); each read returns 0 or EPROTO, and
 * what it accepts can be written and read again. */
static void val_read_fuzz(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0), *scratch = eng_arena_new(0);
  for (int k = 0; k < 20000; k++) {
    size_t n;
    char *p;
    if (k & 1) {
      n = rng() % 64;
      p = eng_malloc(n ? n : 1);
      for (size_t i = 0; i < n; i++) {
        uint64_t x = rng();
        /* Bias towards real tags and small varints. */
        p[i] = (char)(x % 4 == 0 ? (int)(x >> 8) % 10 : (int)(x >> 8));
      }
    } else {
      eng_arena_reset(scratch);
      eng_buf b;
      eng_buf_init(&b);
      eng_val_write(&b, random_val(scratch, 0));
      n = b.len;
      p = eng_malloc(n);
      memcpy(p, b.data, n);
      eng_buf_free(&b);
      int flips = 1 + (int)(rng() % 3);
      for (int f = 0; f < flips; f++) p[rng() % n] ^= (char)(1u << (rng() % 8));
    }
    eng_rd r;
    eng_val out;
    eng_rd_init(&r, p, n);
    int rc = eng_val_read(&r, a, &out);
    assert_true(rc == 0 || rc == ENG_EPROTO);
    if (rc == 0) {
      eng_buf b;
      eng_buf_init(&b);
      assert_int_equal(eng_val_write(&b, out), 0);
      eng_val again;
      eng_rd_init(&r, b.data, b.len);
      assert_int_equal(eng_val_read(&r, a, &again), 0);
      assert_true(same(again, out));
      eng_val_hash(out);
      eng_val_cmp_total(out, out);
      eng_buf_free(&b);
    }
    eng_free(p);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  eng_arena_free(scratch);
  TH_MEM_END();
}

/* eng_val_write reports ENG_ENOMEM when its buffer cannot grow. */
static void val_write_oom(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_buf b;
  eng_buf_init(&b);
  char big[1000];
  memset(big, 'x', sizeof big);
  eng_mem_fail_after(1);
  assert_int_equal(eng_val_write(&b, eng_strv(big, sizeof big)), ENG_ENOMEM);
  eng_mem_fail_after(0);
  eng_buf_free(&b);
  TH_MEM_END();
}

/* ---- raising --------------------------------------------------------------- */

static jmp_buf raise_jb;
static eng_err raised;

static void test_hook(const eng_err *e) {
  raised = *e;
  longjmp(raise_jb, 1);
}

/* eng__raise formats the message and hands it to the hook, which unwinds. */
static void val_raise_calls_hook(void **state) {
  (void)state;
  eng__set_raise_hook(test_hook);
  volatile int reached = 0;
  if (setjmp(raise_jb) == 0) {
    eng__raise(ENG_EINVAL, "ValueError: bad %s %d", "thing", 42);
    reached = 1;
  }
  eng__set_raise_hook(NULL);
  assert_int_equal(reached, 0);
  assert_int_equal(raised.code, ENG_EINVAL);
  assert_string_equal(raised.msg, "ValueError: bad thing 42");
}

/* Without a hook eng__raise prints the message and aborts (in a child). */
static void val_raise_without_hook_aborts(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    signal(SIGABRT, SIG_DFL);
    eng__set_raise_hook(NULL);
    eng__raise(ENG_ETYPE, "TypeError: no guard %d", 7);
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof buf - 1 && (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
  buf[n] = 0;
  close(fds[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  assert_non_null(strstr(buf, "TypeError: no guard 7\n"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(val_scalars_read_back),
    cmocka_unit_test(val_containers_copy_items_into_arena),
    cmocka_unit_test(val_constructors_return_none_on_oom),
    cmocka_unit_test(val_type_names_are_pythons),
    cmocka_unit_test(val_checked_conversions),
    cmocka_unit_test(val_truthiness),
    cmocka_unit_test(val_eq_follows_python),
    cmocka_unit_test(val_eq_and_cmp_int_float_exact),
    cmocka_unit_test(val_cmp_follows_python),
    cmocka_unit_test(val_cmp_type_errors_match_python),
    cmocka_unit_test(val_cmp_total_orders_everything),
    cmocka_unit_test(val_cmp_total_consistent_with_cmp),
    cmocka_unit_test(val_hash_is_portable_hash),
    cmocka_unit_test(val_hash_long_tuples_and_equal_values),
    cmocka_unit_test(val_add_follows_python),
    cmocka_unit_test(val_add_type_errors),
    cmocka_unit_test(val_copy_is_deep),
    cmocka_unit_test(val_copy_record),
    cmocka_unit_test(val_deep_size_matches_copy),
    cmocka_unit_test(val_vlist_grows_and_finishes),
    cmocka_unit_test(val_vlist_push_oom),
    cmocka_unit_test(val_write_read_roundtrip),
    cmocka_unit_test(val_write_read_handles_and_records),
    cmocka_unit_test(val_write_read_random_sequence),
    cmocka_unit_test(val_read_rejects_malformed),
    cmocka_unit_test(val_read_rejects_every_truncation),
    cmocka_unit_test(val_read_fuzz),
    cmocka_unit_test(val_write_oom),
    cmocka_unit_test(val_raise_calls_hook),
    cmocka_unit_test(val_raise_without_hook_aborts),
};

TH_MAIN(tests)
