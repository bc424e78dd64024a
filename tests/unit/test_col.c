/* test_col.c -- unit tests for engine/col.c: the columnar batch format, the
 * adaptive builder, parsing (with fuzzing of malformed bytes), zstd
 * compression, derived batches and reference counting.
 *
 * The fuzz tests are meant to run under ASan too: every buffer handed to
 * eng_batch_parse is its own exact-size allocation, so a read past its end
 * is reported. Values are plain ember values; no Python semantics beyond
 * val.c are involved, so no expected values here come from Python.
 */
#include "th.h"

#include <math.h>
#include <pthread.h>

#include "../../engine/col.h"
#include "../../engine/err.h"
#include "../../engine/val.h"

/* ---- helpers ------------------------------------------------------------ */

static eng_val sv(const char *s) { return eng_strv(s, (long)strlen(s)); }

#define TUP(...) eng_seqv(ENG_V_TUPLE, (eng_val[]){__VA_ARGS__}, \
                          (long)(sizeof((eng_val[]){__VA_ARGS__}) / sizeof(eng_val)))
#define LST(...) eng_seqv(ENG_V_LIST, (eng_val[]){__VA_ARGS__}, \
                          (long)(sizeof((eng_val[]){__VA_ARGS__}) / sizeof(eng_val)))
#define NVALS(arr) ((int64_t)(sizeof(arr) / sizeof((arr)[0])))

/* Structural identity: same kinds all the way down, doubles by bits. */
static int same(eng_val a, eng_val b) {
  if (ENG_VKIND(a) != ENG_VKIND(b)) return 0;
  switch (ENG_VKIND(a)) {
    case ENG_V_NONE: return 1;
    case ENG_V_BOOL:
    case ENG_V_LONG:
    case ENG_V_DOUBLE: return a.p == b.p;
    case ENG_V_STR:
      return ENG_VLEN(a) == ENG_VLEN(b) &&
             (ENG_VLEN(a) == 0 || memcmp(eng_v_ptr(a), eng_v_ptr(b), (size_t)ENG_VLEN(a)) == 0);
    case ENG_V_TUPLE:
    case ENG_V_LIST:
      if (ENG_VLEN(a) != ENG_VLEN(b)) return 0;
      for (long i = 0; i < ENG_VLEN(a); i++)
        if (!same(eng_v_items(a)[i], eng_v_items(b)[i])) return 0;
      return 1;
    default:
      return ENG_VLEN(a) == ENG_VLEN(b);
  }
}

static const char *repr(eng_val v) {
  static char out[512];
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  snprintf(out, sizeof out, "%s", eng_buf_cstr(&b));
  eng_buf_free(&b);
  return out;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Asserts that the batch's rows are exactly vals[0..n). */
static void check_rows(const eng_batch *b, const eng_val *vals, int64_t n) {
  assert_non_null(b);
  assert_int_equal(b->n, n);
  assert_int_equal(b->root->n, n);
  eng_arena *a = eng_arena_new(0);
  for (int64_t i = 0; i < n; i++) {
    eng_val got = eng_col_get(b->root, i, a);
    if (!same(got, vals[i])) {
      char want[512];
      snprintf(want, sizeof want, "%s", repr(vals[i]));
      eng_arena_free(a);
      fail_msg("row %lld: got %s, want %s", (long long)i, repr(got), want);
    }
  }
  eng_arena_free(a);
}

/* Builds a batch from vals, checks its root type and rows, and returns it. */
static eng_batch *build(const eng_val *vals, int64_t n, int want_type) {
  eng_err e = {0};
  eng_batch *b = eng_batch_from_vals(vals, n, &e);
  if (!b) fail_msg("from_vals: %s", e.msg);
  if (want_type >= 0 && b->root->type != want_type)
    fail_msg("root type %d, want %d", b->root->type, want_type);
  check_rows(b, vals, n);
  return b;
}

/* Writes b (compressed at level) and parses the bytes back as a new batch. */
static eng_batch *reparse(const eng_batch *b, int level) {
  eng_buf out;
  eng_buf_init(&out);
  assert_int_equal(eng_batch_write(&out, b, level), 0);
  assert_int_equal(out.len % 8, 0);
  eng_err e = {0};
  size_t used = 0;
  size_t len = out.len;
  char *bytes = eng_buf_take(&out, NULL);
  eng_batch *p = eng_batch_parse(bytes, len, eng_batch_release_free, NULL, &used, &e);
  if (!p) fail_msg("parse: %s", e.msg);
  assert_int_equal(used, len);
  return p;
}

/* Values of a given shape: l long, d double, b bool, s str, n None,
 * (x,y,...) a tuple, [x] a list of x, * anything. `none_pct` of values
 * (at every level) are None instead. */
static const char *const words[] = {"", "a", "abc", "h\xc3\xa9llo", "with space", "\xe6\x97\xa5"};
static int none_pct;

static eng_val gen_any(eng_arena *a, int depth);

static eng_val gen_shaped(eng_arena *a, const char **sh, int depth) {
  char c = *(*sh)++;
  int none = (int)(rng() % 100) < none_pct;
  switch (c) {
    case 'l': return none ? eng_none() : eng_long((int64_t)rng() >> (rng() % 64));
    case 'd': return none ? eng_none() : eng_double((double)(int64_t)(rng() % 100000) / 64);
    case 'b': return none ? eng_none() : eng_bool((int)(rng() & 1));
    case 's': {
      const char *w = words[rng() % (sizeof words / sizeof words[0])];
      return none ? eng_none() : eng_str_copy(a, w, (long)strlen(w));
    }
    case 'n': return eng_none();
    case '*': return gen_any(a, depth);
    case '(': {
      eng_val items[8];
      long n = 0;
      while (**sh != ')') items[n++] = gen_shaped(a, sh, depth + 1);
      (*sh)++;
      return none ? eng_none() : eng_tuple(a, items, n);
    }
    case '[': {
      long n = (long)(rng() % 4);
      eng_val items[4];
      const char *start = *sh;
      for (long i = 0; i < n; i++) {
        *sh = start;
        items[i] = gen_shaped(a, sh, depth + 1);
      }
      /* Skip the element shape even when the list is empty. */
      *sh = start;
      int lvl = 0;
      do {
        char k = *(*sh)++;
        lvl += k == '[' || k == '(';
        lvl -= k == ']' || k == ')';
      } while (lvl >= 0);
      return none ? eng_none() : eng_list(a, items, n);
    }
  }
  fail_msg("bad shape char %c", c);
  return eng_none();
}

static eng_val gen_any(eng_arena *a, int depth) {
  static const char *const shapes[] = {"l", "d", "b", "s", "n", "(ls)", "[l]", "(s[d])", "[(lb)]"};
  if (depth < 3 && rng() % 4 == 0) {
    eng_val items[3];
    long n = (long)(rng() % 3);
    for (long i = 0; i < n; i++) items[i] = gen_any(a, depth + 1);
    return rng() & 1 ? eng_tuple(a, items, n) : eng_list(a, items, n);
  }
  const char *sh = shapes[rng() % (sizeof shapes / sizeof shapes[0])];
  return gen_shaped(a, &sh, depth + 1);
}

static eng_val gen(eng_arena *a, const char *shape) { return gen_shaped(a, &shape, 0); }

/* Reads every row of column c and its children, checking the invariants a
 * parsed batch promises: strings are NUL-terminated inside the buffer, list
 * offsets stay within the child. Returns a checksum to keep reads alive. */
static uint64_t touch_col(const eng_col *c, eng_arena *a) {
  uint64_t sum = 0;
  for (int64_t i = 0; i < c->n; i++) {
    eng_val v = eng_col_get(c, i, a);
    sum += v.h;
    if (c->type == ENG_T_STR && ENG_VKIND(v) == ENG_V_STR) {
      assert_int_equal(eng_v_ptr(v)[ENG_VLEN(v)], 0);
      sum += strlen(eng_v_ptr(v));
    }
    if (c->type == ENG_T_LIST && eng_col_is_valid(c, i))
      assert_true(c->off[i] <= c->off[i + 1] && c->off[i + 1] <= c->child->n);
    if (ENG_VKIND(v) != ENG_V_NONE) sum += eng_val_hash(v);
    if ((i & 255) == 255) eng_arena_reset(a);
  }
  if (c->type == ENG_T_LIST) sum += touch_col(c->child, a);
  if (c->type == ENG_T_TUPLE)
    for (int k = 0; k < c->nchildren; k++) sum += touch_col(&c->child[k], a);
  return sum;
}

/* ---- builder: column types follow the values ----------------------------- */

static void col_longs_make_a_long_column(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[] = {eng_long(1), eng_long(-2), eng_long(INT64_MAX), eng_long(INT64_MIN)};
  eng_batch *b = build(v, NVALS(v), ENG_T_LONG);
  assert_null(b->root->valid);
  assert_int_equal(((const int64_t *)b->root->data)[2], INT64_MAX);
  assert_int_equal(eng_batch_ncols(b), 1);
  assert_int_equal(b->len % 8, 0);
  eng_batch_unref(b);
  TH_MEM_END();
}

static void col_doubles_and_bools_are_fixed_width(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val d[] = {eng_double(0.5), eng_double(-0.0), eng_double(INFINITY), eng_double(NAN)};
  eng_batch *b = build(d, NVALS(d), ENG_T_DOUBLE);
  assert_true(((const double *)b->root->data)[0] == 0.5);
  eng_batch_unref(b);
  eng_val t[] = {eng_bool(1), eng_bool(0), eng_bool(1)};
  b = build(t, NVALS(t), ENG_T_BOOL);
  assert_int_equal(((const uint8_t *)b->root->data)[1], 0);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* STR rows read back as C strings: a NUL follows each one in the batch. */
static void col_strings_are_c_strings(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  char raw[] = {'a', 'b', 'c', 'X'};
  eng_val v[] = {sv("hello"), sv(""), eng_strv(raw, 3), sv("h\xc3\xa9llo w\xc3\xb6rld"),
                 eng_strv("a\0b", 3)};
  eng_batch *b = build(v, NVALS(v), ENG_T_STR);
  eng_arena *a = eng_arena_new(0);
  for (int64_t i = 0; i < b->n; i++) {
    eng_val s = eng_col_get(b->root, i, a);
    assert_int_equal(eng_v_ptr(s)[ENG_VLEN(s)], 0);
    /* Strings are views into the batch, not copies. */
    assert_true(eng_v_ptr(s) >= b->buf && eng_v_ptr(s) < b->buf + b->len);
  }
  assert_string_equal(eng_v_ptr(eng_col_get(b->root, 2, a)), "abc");
  assert_int_equal(eng_arena_used(a), 0);
  eng_arena_free(a);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* None rows are kept in a validity bitmap, whatever the column type and
 * wherever they fall (before the first value, across byte boundaries). */
static void col_none_rows_use_validity(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *shapes[] = {"l", "d", "b", "s", "(ls)", "[l]"};
  eng_arena *a = eng_arena_new(0);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int pattern = 0; pattern < 6; pattern++) {
      enum { N = 37 };
      eng_val v[N];
      none_pct = 0;
      for (int i = 0; i < N; i++) {
        int is_none = pattern == 0 ? i < 9                /* leading Nones */
                      : pattern == 1 ? i >= 20            /* trailing Nones */
                      : pattern == 2 ? i % 8 == 7         /* at byte ends */
                      : pattern == 3 ? i % 3 == 0
                      : pattern == 4 ? i == 8 || i == 16  /* first None at a byte start */
                                     : i != 17;           /* a lone value */
        v[i] = is_none ? eng_none() : gen(a, shapes[s]);
      }
      eng_batch *b = eng_batch_from_vals(v, N, NULL);
      check_rows(b, v, N);
      assert_non_null(b->root->valid);
      for (int i = 0; i < N; i++)
        assert_int_equal(eng_col_is_valid(b->root, i), ENG_VKIND(v[i]) != ENG_V_NONE);
      eng_batch *p = reparse(b, 0);
      check_rows(p, v, N);
      eng_batch_unref(p);
      eng_batch_unref(b);
      eng_arena_reset(a);
    }
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* A column of only Nones is a NULL column with no buffers. */
static void col_all_none_is_a_null_column(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[20];
  for (int i = 0; i < 20; i++) v[i] = eng_none();
  eng_batch *b = build(v, 20, ENG_T_NULL);
  assert_null(b->root->data);
  eng_batch *p = reparse(b, 3);
  check_rows(p, v, 20);
  eng_batch_unref(p);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* Pairs make a TUPLE of two columns (ncols 2); other arities are tuples
 * too; the empty tuple is a TUPLE with no children. */
static void col_pairs_make_two_columns(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[] = {TUP(sv("a"), eng_long(1)), TUP(sv("b"), eng_long(2)), eng_none(),
                 TUP(sv(""), eng_long(-3))};
  eng_batch *b = build(v, NVALS(v), ENG_T_TUPLE);
  assert_int_equal(b->root->nchildren, 2);
  assert_int_equal(eng_batch_ncols(b), 2);
  assert_int_equal(b->root->child[0].type, ENG_T_STR);
  assert_int_equal(b->root->child[1].type, ENG_T_LONG);
  assert_int_equal(b->root->child[0].n, 4);
  eng_batch_unref(b);
  eng_val t3[] = {TUP(eng_long(1), eng_double(2), sv("x")), TUP(eng_long(4), eng_double(5), sv("y"))};
  b = build(t3, NVALS(t3), ENG_T_TUPLE);
  assert_int_equal(b->root->nchildren, 3);
  assert_int_equal(eng_batch_ncols(b), 1);
  eng_batch_unref(b);
  eng_val empty[] = {eng_seqv(ENG_V_TUPLE, NULL, 0), eng_seqv(ENG_V_TUPLE, NULL, 0)};
  b = build(empty, 2, ENG_T_TUPLE);
  assert_int_equal(b->root->nchildren, 0);
  eng_batch *p = reparse(b, 0);
  check_rows(p, empty, 2);
  eng_batch_unref(p);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* Values of different shapes widen the column to ANY and read back
 * unchanged; a tuple keeps its columns and widens only the field that
 * mixes; a list widens only its element column. */
static void col_mixed_shapes_widen_to_any(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val a1[] = {eng_long(1), sv("a"), eng_none(), eng_double(2.5)};
  eng_batch *b = build(a1, NVALS(a1), ENG_T_ANY);
  eng_batch_unref(b);
  eng_val a2[] = {eng_long(1), eng_double(1.0), eng_bool(1)}; /* 1 == 1.0 == True, kept apart */
  b = build(a2, NVALS(a2), ENG_T_ANY);
  eng_batch_unref(b);
  eng_val a3[] = {TUP(eng_long(1), eng_long(2)), TUP(eng_long(1), eng_long(2), eng_long(3))};
  b = build(a3, NVALS(a3), ENG_T_ANY);
  eng_batch_unref(b);
  eng_val a4[] = {eng_none(), eng_none(), LST(eng_long(1)), TUP(eng_long(1))};
  b = build(a4, NVALS(a4), ENG_T_ANY);
  eng_batch_unref(b);
  eng_val t[] = {TUP(eng_long(1), sv("a")), TUP(sv("b"), sv("c")), eng_none(),
                 TUP(eng_long(2), sv("d"))};
  b = build(t, NVALS(t), ENG_T_TUPLE);
  assert_int_equal(b->root->child[0].type, ENG_T_ANY);
  assert_int_equal(b->root->child[1].type, ENG_T_STR);
  eng_batch_unref(b);
  eng_val l[] = {LST(eng_long(1), eng_long(2)), LST(sv("x")), eng_seqv(ENG_V_LIST, NULL, 0)};
  b = build(l, NVALS(l), ENG_T_LIST);
  assert_int_equal(b->root->child->type, ENG_T_ANY);
  eng_batch_unref(b);
  /* Widening after many rows of every fixed type keeps every row. */
  const char *shapes[] = {"l", "d", "b", "s", "(ls)", "[l]", "[[s]]", "(l(ds))"};
  eng_arena *a = eng_arena_new(0);
  eng_val nones[3] = {eng_none(), eng_none(), eng_none()};
  eng_val odd = eng_seqv(ENG_V_TUPLE, nones, 3); /* no other shape is a 3-tuple */
  none_pct = 10;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    enum { N = 300 };
    eng_val v[N];
    for (int i = 0; i < N; i++) v[i] = i == N - 2 ? odd : gen(a, shapes[s]);
    b = build(v, N, ENG_T_ANY);
    eng_batch_unref(b);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* Broadcasts are stored as their values; accumulators and records (which
 * have no column type) go to ANY. */
static void col_handles_and_records(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val inner = sv("shared");
  eng_val bc = {ENG_V_BCAST | (1u << 8), (uint64_t)(uintptr_t)&inner};
  eng_val v[] = {bc, sv("x")};
  eng_val want[] = {sv("shared"), sv("x")};
  eng_batch *b = eng_batch_from_vals(v, 2, NULL);
  assert_int_equal(b->root->type, ENG_T_STR);
  check_rows(b, want, 2);
  eng_batch_unref(b);
  eng_val acc = {ENG_V_ACC | (9u << 8), 0};
  static const char *const names[] = {"count"};
  eng_val rv[1] = {eng_long(2)};
  eng_record r = {1, names, rv};
  eng_val rec = {ENG_V_RECORD, (uint64_t)(uintptr_t)&r};
  eng_val h[] = {acc, rec};
  b = eng_batch_from_vals(h, 2, NULL);
  assert_int_equal(b->root->type, ENG_T_ANY);
  eng_arena *a = eng_arena_new(0);
  eng_val g0 = eng_col_get(b->root, 0, a), g1 = eng_col_get(b->root, 1, a);
  assert_int_equal(ENG_VKIND(g0), ENG_V_ACC);
  assert_int_equal(ENG_VLEN(g0), 9);
  assert_int_equal(ENG_VKIND(g1), ENG_V_RECORD);
  assert_string_equal(repr(g1), "(count: 2)");
  eng_arena_free(a);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* Lists nest: a LIST column's child may itself be a LIST or TUPLE. */
static void col_nested_lists_and_tuples(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val e = eng_seqv(ENG_V_LIST, NULL, 0);
  eng_val v[] = {LST(LST(eng_long(1)), e), e, eng_none(), LST(LST(eng_long(2), eng_long(3))),
                 LST(eng_none(), LST(eng_none()))};
  eng_batch *b = build(v, NVALS(v), ENG_T_LIST);
  assert_int_equal(b->root->child->type, ENG_T_LIST);
  assert_int_equal(b->root->child->child->type, ENG_T_LONG);
  eng_batch_unref(b);
  eng_val g[] = {TUP(sv("a"), LST(eng_long(1), eng_long(1))), TUP(sv("b"), LST(eng_long(1)))};
  b = build(g, NVALS(g), ENG_T_TUPLE);
  assert_int_equal(b->root->child[1].type, ENG_T_LIST);
  eng_arena *a = eng_arena_new(0);
  assert_string_equal(repr(eng_col_get(b->root, 0, a)), "('a', [1, 1])");
  eng_arena_free(a);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* Random values of many shapes, with Nones and odd rows, survive the
 * builder, eng_batch_write (plain and zstd) and eng_batch_parse. */
static void col_random_roundtrip(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *shapes[] = {"l", "d", "s", "b", "(sl)", "(s[l])", "[(ld)]", "((ll)[s]b)", "*", "[*]"};
  eng_arena *a = eng_arena_new(0);
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int round = 0; round < 4; round++) {
      int64_t n = round == 0 ? 1 : (int64_t)(rng() % 3000);
      none_pct = round * 5;
      eng_val *v = eng_malloc((size_t)(n ? n : 1) * sizeof *v);
      for (int64_t i = 0; i < n; i++)
        v[i] = round == 3 && rng() % 50 == 0 ? gen_any(a, 0) : gen(a, shapes[s]);
      eng_batch *b = build(v, n, -1);
      for (int level = 0; level <= 3; level += 3) {
        eng_batch *p = reparse(b, level);
        check_rows(p, v, n);
        assert_int_equal(p->root->type, b->root->type);
        eng_batch_unref(p);
      }
      eng_batch_unref(b);
      eng_free(v);
      eng_arena_reset(a);
    }
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* A builder empties on finish and is reused for a different type; rows
 * and the size estimate track what was appended. */
static void col_builder_reuse_and_counters(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_colb *cb = eng_colb_new();
  assert_int_equal(eng_colb_rows(cb), 0);
  size_t empty_bytes = eng_colb_bytes(cb);
  for (int i = 0; i < 1000; i++) assert_int_equal(eng_colb_append(cb, eng_long(i)), 0);
  assert_int_equal(eng_colb_rows(cb), 1000);
  assert_true(eng_colb_bytes(cb) >= empty_bytes + 8000);
  eng_batch *b = eng_colb_finish(cb, NULL);
  assert_int_equal(b->n, 1000);
  assert_true(b->len >= 8000);
  assert_int_equal(eng_colb_rows(cb), 0);
  eng_val v[] = {sv("x"), eng_none(), sv("y")};
  for (int i = 0; i < 3; i++) eng_colb_append(cb, v[i]);
  eng_batch *b2 = eng_colb_finish(cb, NULL);
  check_rows(b2, v, 3);
  assert_int_equal(b2->root->type, ENG_T_STR);
  eng_batch *b3 = eng_colb_finish(cb, NULL); /* nothing appended: empty */
  assert_int_equal(b3->n, 0);
  assert_int_equal(b3->root->type, ENG_T_NULL);
  eng_batch_unref(b);
  eng_batch_unref(b2);
  eng_batch_unref(b3);
  eng_colb_free(cb);
  eng_colb_free(NULL);
  TH_MEM_END();
}

/* append_row copies rows between batches, through the fast paths for flat
 * columns and through values otherwise. */
static void col_append_row_copies_rows(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  const char *shapes[] = {"l", "d", "s", "(sl)", "[s]", "*"};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int pct = 0; pct <= 20; pct += 20) {
      none_pct = pct;
      enum { N = 500 };
      eng_val v[N];
      for (int i = 0; i < N; i++) v[i] = gen(a, shapes[s]);
      eng_batch *src = eng_batch_from_vals(v, N, NULL);
      eng_colb *cb = eng_colb_new();
      eng_arena *scratch = eng_arena_new(0);
      for (int i = 0; i < N; i++) assert_int_equal(eng_colb_append_row(cb, src->root, i, scratch), 0);
      /* Appending the rows again, reversed, to the same builder. */
      for (int i = N - 1; i >= 0; i--)
        assert_int_equal(eng_colb_append_row(cb, src->root, i, scratch), 0);
      eng_batch *out = eng_colb_finish(cb, NULL);
      eng_val both[2 * N];
      for (int i = 0; i < N; i++) both[i] = both[2 * N - 1 - i] = v[i];
      check_rows(out, both, 2 * N);
      eng_batch_unref(out);
      eng_batch_unref(src);
      eng_colb_free(cb);
      eng_arena_free(scratch);
      eng_arena_reset(a);
    }
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- direct constructors ------------------------------------------------- */

static void col_new_longs_and_doubles(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  int64_t *ld;
  eng_batch *b = eng_batch_new_longs(100, &ld);
  for (int i = 0; i < 100; i++) ld[i] = i * i - 50;
  eng_val want[100];
  for (int i = 0; i < 100; i++) want[i] = eng_long(i * i - 50);
  check_rows(b, want, 100);
  assert_int_equal(b->root->type, ENG_T_LONG);
  eng_batch *p = reparse(b, 1);
  check_rows(p, want, 100);
  eng_batch_unref(p);
  eng_batch_unref(b);
  double *dd;
  b = eng_batch_new_doubles(64, &dd);
  for (int i = 0; i < 64; i++) dd[i] = i / 4.0;
  for (int i = 0; i < 64; i++) want[i] = eng_double(i / 4.0);
  check_rows(b, want, 64);
  p = reparse(b, 0);
  check_rows(p, want, 64);
  eng_batch_unref(p);
  eng_batch_unref(b);
  b = eng_batch_new_longs(0, &ld);
  assert_int_equal(b->n, 0);
  p = reparse(b, 0);
  assert_int_equal(p->n, 0);
  eng_batch_unref(p);
  eng_batch_unref(b);
  TH_MEM_END();
}

static void col_new_empty(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_batch *b = eng_batch_new_empty();
  assert_non_null(b);
  assert_int_equal(b->n, 0);
  assert_int_equal(b->root->type, ENG_T_NULL);
  assert_int_equal(eng_batch_ncols(b), 1);
  eng_batch *p = reparse(b, 3);
  assert_int_equal(p->n, 0);
  eng_batch_unref(p);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* ---- derived batches ----------------------------------------------------- */

/* select keeps the rows whose sel byte is set, for any selection pattern
 * (first only, last only, none, all, random), on flat and nested columns. */
static void col_select_keeps_selected_rows(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  const char *shapes[] = {"l", "d", "s", "(sl)", "[l]"};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int pct = 0; pct <= 10; pct += 10) {
      none_pct = pct;
      enum { N = 2500 };
      eng_val *v = eng_malloc(N * sizeof *v), *want = eng_malloc(N * sizeof *want);
      uint8_t *sel = eng_malloc(N);
      for (int i = 0; i < N; i++) v[i] = gen(a, shapes[s]);
      eng_batch *in = eng_batch_from_vals(v, N, NULL);
      for (int pattern = 0; pattern < 5; pattern++) {
        int64_t k = 0;
        for (int i = 0; i < N; i++) {
          sel[i] = pattern == 0 ? i == 0
                   : pattern == 1 ? i == N - 1
                   : pattern == 2 ? 0
                   : pattern == 3 ? 1
                                  : (uint8_t)(rng() % 3 == 0 ? 1 + rng() % 255 : 0);
          if (sel[i]) want[k++] = v[i];
        }
        eng_err e = {0};
        eng_batch *out = eng_batch_select(in, sel, k, &e);
        if (!out) fail_msg("select: %s", e.msg);
        check_rows(out, want, k);
        eng_batch_unref(out);
      }
      eng_batch_unref(in);
      eng_free(v);
      eng_free(want);
      eng_free(sel);
      eng_arena_reset(a);
    }
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* slice takes [from, from+n), clamped to the batch. */
static void col_slice_clamps(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  const char *shapes[] = {"l", "d", "s", "(sd)", "*"};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    none_pct = 5;
    enum { N = 2100 };
    eng_val *v = eng_malloc(N * sizeof *v);
    for (int i = 0; i < N; i++) v[i] = gen(a, shapes[s]);
    eng_batch *in = eng_batch_from_vals(v, N, NULL);
    const int64_t cases[][2] = {{0, N},     {0, 0},      {5, 10},        {N - 1, 1},
                                {N - 1, 5}, {N, 3},      {N + 10, 3},    {-5, 10},
                                {1000, 1100}, {3, INT64_MAX}, {0, -4}, {INT64_MAX, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
      int64_t from = cases[k][0], n = cases[k][1];
      int64_t lo = from < 0 ? 0 : from > N ? N : from;
      int64_t hi = n < 0 ? lo : (n > N - lo ? N : lo + n);
      eng_err e = {0};
      eng_batch *out = eng_batch_slice(in, from, n, &e);
      if (!out) fail_msg("slice(%lld, %lld): %s", (long long)from, (long long)n, e.msg);
      check_rows(out, v + lo, hi - lo);
      eng_batch_unref(out);
    }
    eng_batch_unref(in);
    eng_free(v);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* ---- write and parse ------------------------------------------------------ */

/* Batches written end to end are read back in sequence with out_used;
 * peek_len gives each one's length; zstd shrinks repetitive data. */
static void col_write_parse_sequence(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v1[1000], v2[] = {sv("a"), eng_none(), TUP(eng_long(1))};
  for (int i = 0; i < 1000; i++) v1[i] = eng_long(i % 7);
  eng_batch *b1 = eng_batch_from_vals(v1, 1000, NULL), *b2 = eng_batch_from_vals(v2, 3, NULL);
  eng_buf out;
  eng_buf_init(&out);
  assert_int_equal(eng_batch_write(&out, b1, 3), 0);
  size_t len1 = out.len;
  assert_true(len1 < b1->len / 4); /* compressed */
  assert_int_equal(eng_batch_write(&out, b2, 0), 0);
  assert_int_equal(out.len - len1, b2->len);
  assert_int_equal(eng_batch_write(&out, b1, 0), 0);
  assert_int_equal(eng_batch_peek_len(out.data, out.len), len1);
  assert_int_equal(eng_batch_peek_len(out.data + len1, out.len - len1), b2->len);
  assert_int_equal(eng_batch_peek_len(out.data, 31), 0);
  size_t pos = 0, used = 0;
  eng_batch *p = eng_batch_parse(out.data + pos, out.len - pos, NULL, NULL, &used, NULL);
  check_rows(p, v1, 1000);
  eng_batch_unref(p);
  pos += used;
  p = eng_batch_parse(out.data + pos, out.len - pos, NULL, NULL, &used, NULL);
  check_rows(p, v2, 3);
  eng_batch_unref(p);
  pos += used;
  p = eng_batch_parse(out.data + pos, out.len - pos, NULL, NULL, &used, NULL);
  check_rows(p, v1, 1000);
  eng_batch_unref(p);
  pos += used;
  assert_int_equal(pos, out.len);
  eng_buf_free(&out);
  eng_batch_unref(b1);
  eng_batch_unref(b2);
  TH_MEM_END();
}

static int releases;
static void count_release(void *ctx, const char *buf) {
  releases++;
  assert_ptr_equal(ctx, &releases);
  eng_free((void *)buf);
}

/* With a release callback the batch owns the bytes: released once when the
 * last reference goes, or at once when parsing fails or decompresses. */
static void col_parse_release_ownership(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[] = {sv("a"), sv("b")};
  eng_batch *b = eng_batch_from_vals(v, 2, NULL);
  for (int level = 0; level <= 3; level += 3) {
    eng_buf out;
    eng_buf_init(&out);
    eng_batch_write(&out, b, level);
    size_t len = out.len;
    char *bytes = eng_buf_take(&out, NULL);
    releases = 0;
    eng_batch *p = eng_batch_parse(bytes, len, count_release, &releases, NULL, NULL);
    assert_non_null(p);
    if (level) {
      assert_int_equal(releases, 1); /* decompressed into a new buffer */
    } else {
      assert_int_equal(releases, 0);
      assert_ptr_equal(p->buf, bytes); /* zero copy */
    }
    eng_batch_ref(p);
    eng_batch_unref(p);
    check_rows(p, v, 2);
    eng_batch_unref(p);
    assert_int_equal(releases, 1);
    /* A failing parse releases too. */
    bytes = eng_malloc(len);
    memset(bytes, 0, len);
    releases = 0;
    eng_err e;
    assert_null(eng_batch_parse(bytes, len, count_release, &releases, NULL, &e));
    assert_int_equal(releases, 1);
    assert_int_equal(e.code, ENG_EPROTO);
  }
  eng_batch_unref(b);
  eng_batch_unref(NULL);
  eng_batch_ref(NULL);
  TH_MEM_END();
}

/* Frees a buffer that was handed over 3 bytes into its allocation. */
static void release_minus3(void *ctx, const char *buf) {
  (*(int *)ctx)++;
  eng_free((void *)(buf - 3));
}

/* Without a release callback the bytes are copied, so the input may be
 * unaligned and may go away; with one, unaligned bytes are copied and
 * released at once (the views read int64 offsets in place). */
static void col_parse_copies_unaligned_input(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[] = {eng_long(1), sv("two"), eng_none()};
  eng_batch *b = eng_batch_from_vals(v, 3, NULL);
  char *odd = eng_malloc(b->len + 3);
  memcpy(odd + 3, b->buf, b->len);
  eng_batch *p = eng_batch_parse(odd + 3, b->len, NULL, NULL, NULL, NULL);
  assert_ptr_not_equal(p->buf, odd + 3);
  memset(odd, 0, b->len + 3);
  check_rows(p, v, 3);
  eng_batch_unref(p);
  int released = 0;
  p = eng_batch_parse(odd + 3, b->len, release_minus3, &released, NULL, NULL);
  assert_null(p); /* zeroed above: a malformed batch, released */
  assert_int_equal(released, 1);
  odd = eng_malloc(b->len + 3);
  memcpy(odd + 3, b->buf, b->len);
  p = eng_batch_parse(odd + 3, b->len, release_minus3, &released, NULL, NULL);
  assert_int_equal(released, 2); /* copied, so released at once */
  assert_int_equal((uintptr_t)p->buf & 7, 0);
  check_rows(p, v, 3);
  eng_batch_unref(p);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* References from many threads at once: the batch is freed exactly once,
 * after the last unref. */
typedef struct {
  eng_batch *b;
} ref_arg;
static void *ref_worker(void *p) {
  ref_arg *r = p;
  for (int i = 0; i < 20000; i++) {
    eng_batch_ref(r->b);
    eng_batch_unref(r->b);
  }
  eng_batch_unref(r->b); /* each thread owns one reference */
  return NULL;
}

static void col_refcount_across_threads(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_val v[] = {eng_long(7)};
  eng_batch *b = eng_batch_from_vals(v, 1, NULL);
  enum { T = 8 };
  pthread_t th[T];
  ref_arg arg = {b};
  for (int i = 0; i < T; i++) eng_batch_ref(b);
  for (int i = 0; i < T; i++) pthread_create(&th[i], NULL, ref_worker, &arg);
  for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
  assert_int_equal(b->refs, 1);
  check_rows(b, v, 1);
  eng_batch_unref(b);
  TH_MEM_END();
}

/* ---- malformed input ------------------------------------------------------ */

/* Parses a private exact-size copy of p[0..n); returns the batch or NULL
 * and checks the error is a ProtocolError. */
static eng_batch *parse_copy(const char *p, size_t n) {
  char *copy = eng_malloc(n ? n : 1);
  memcpy(copy, p, n);
  eng_err e = {0};
  eng_batch *b = eng_batch_parse(copy, n, eng_batch_release_free, NULL, NULL, &e);
  if (!b) {
    assert_int_equal(e.code, ENG_EPROTO);
    assert_true(strncmp(e.msg, "ProtocolError: ", 15) == 0);
  }
  return b;
}

/* The bytes of a batch of vals (uncompressed), in a buffer the caller frees. */
static char *batch_bytes(const eng_val *vals, int64_t n, size_t *out_len, int level) {
  eng_batch *b = eng_batch_from_vals(vals, n, NULL);
  eng_buf out;
  eng_buf_init(&out);
  eng_batch_write(&out, b, level);
  eng_batch_unref(b);
  *out_len = out.len;
  return eng_buf_take(&out, NULL);
}

static void put64(char *p, int64_t x) { memcpy(p, &x, 8); }

/* Hand-made corruptions, each a ProtocolError. */
static void col_parse_rejects_malformed(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  size_t len;
  eng_val sv3[] = {sv("ab"), sv("c"), sv("")};
  char *good = batch_bytes(sv3, 3, &len, 0);
  /* Layout: header 32; column header 16 at 32; offsets len at 48, offsets
   * (4 x 8) at 56; bytes len at 88, bytes at 96. */
  eng_batch *ok = parse_copy(good, len);
  assert_non_null(ok);
  eng_batch_unref(ok);
  char *p = eng_malloc(len);
#define CORRUPT(stmt)                    \
  do {                                   \
    memcpy(p, good, len);                \
    stmt;                                \
    assert_null(parse_copy(p, len));     \
  } while (0)
  assert_null(parse_copy(good, 0));
  assert_null(parse_copy(good, 31));
  assert_null(parse_copy(good, len - 8));
  CORRUPT(p[0] = 'X');                          /* magic */
  CORRUPT(put64(p + 8, 4));                     /* header rows != column rows */
  CORRUPT(put64(p + 16, (int64_t)len));         /* body longer than the input */
  CORRUPT(put64(p + 16, -8));                   /* negative body */
  CORRUPT(p[32] = 8);                           /* unknown column type */
  CORRUPT(p[32] = ENG_T_LONG);                  /* LONG data of the wrong size */
  CORRUPT(put64(p + 40, -1));                   /* negative rows */
  CORRUPT(put64(p + 48, 40));                   /* offsets buffer length */
  CORRUPT(put64(p + 56, 1));                    /* first offset not 0 */
  CORRUPT(put64(p + 64, 5));                    /* offsets go down */
  CORRUPT(put64(p + 80, 100));                  /* last offset past the bytes */
  CORRUPT(put64(p + 88, 4096));                 /* bytes length past the end */
  CORRUPT(p[98] = 'x');                         /* "ab" loses its NUL */
  CORRUPT(p[33] = 1);                           /* a validity bitmap that is not there */
  eng_free(p);
  eng_free(good);

  /* A tuple whose fields have other lengths than the tuple. */
  eng_val pairs[] = {TUP(eng_long(1), eng_long(2)), TUP(eng_long(3), eng_long(4))};
  good = batch_bytes(pairs, 2, &len, 0);
  p = eng_malloc(len);
  CORRUPT(put64(p + 56, 1));                    /* first field's rows */
  CORRUPT(p[34] = 3);                           /* three fields announced */
  CORRUPT(p[34] = 1);                           /* one field announced */
  eng_free(p);
  eng_free(good);

  /* A list whose offsets point past its child. */
  eng_val lists[] = {LST(eng_long(1)), LST(eng_long(2), eng_long(3))};
  good = batch_bytes(lists, 2, &len, 0);
  p = eng_malloc(len);
  CORRUPT(put64(p + 72, 4));                    /* last list offset 4 > 3 child rows */
  eng_free(p);
  eng_free(good);

  /* A compressed batch whose sizes lie. */
  eng_val many[200];
  for (int i = 0; i < 200; i++) many[i] = eng_long(i % 3);
  good = batch_bytes(many, 200, &len, 3);
  p = eng_malloc(len);
  CORRUPT(put64(p + 24, 16));                   /* raw length too small */
  CORRUPT(put64(p + 24, (int64_t)1 << 38));     /* raw length of 256 GB */
  CORRUPT(put64(p + 24, -1));
  CORRUPT(p[32] ^= 0x55);                       /* zstd magic damaged */
  CORRUPT(put64(p + 16, 8));                    /* compressed body cut short */
  eng_free(p);
  eng_free(good);
#undef CORRUPT

  /* Hand-made: lists nested `levels` deep over one long, valid up to 64. */
  for (int levels = 60; levels <= 70; levels += 10) {
    size_t n = 32 + (size_t)levels * 40 + 32;
    char *q = eng_malloc(n), *w = q + 32;
    uint32_t magic = 0x31424d45u, flags = 0;
    int64_t one = 1, body = (int64_t)n - 32;
    memcpy(q, &magic, 4);
    memcpy(q + 4, &flags, 4);
    put64(q + 8, 1);
    put64(q + 16, body);
    put64(q + 24, body);
    for (int i = 0; i <= levels; i++) {
      memset(w, 0, 16);
      w[0] = i < levels ? ENG_T_LIST : ENG_T_LONG;
      put64(w + 8, one);
      put64(w + 16, i < levels ? 16 : 8);
      put64(w + 24, i < levels ? 0 : 42);
      if (i < levels) put64(w + 32, 1);
      w += i < levels ? 40 : 32;
    }
    eng_batch *nb = parse_copy(q, n);
    if (levels <= 64) {
      assert_non_null(nb);
      eng_arena *a = eng_arena_new(0);
      eng_val got = eng_col_get(nb->root, 0, a);
      for (int i = 0; i < levels; i++) got = eng_v_items(got)[0];
      assert_int_equal(eng_v_long(got), 42);
      eng_arena_free(a);
      eng_batch_unref(nb);
    } else {
      assert_null(nb);
    }
    eng_free(q);
  }
  TH_MEM_END();
}

/* Values too deep or too wide for typed columns are kept whole (as ANY
 * rows) rather than making a batch the parser would refuse. */
static void col_deep_and_wide_values_fall_back_to_any(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  eng_val deep[3];
  for (int k = 0; k < 3; k++) {
    eng_val v = k == 2 ? sv("leaf") : eng_long(k);
    for (int i = 0; i < 100; i++) v = i % 2 ? eng_list(a, &v, 1) : eng_tuple(a, &v, 1);
    deep[k] = v;
  }
  eng_batch *b = build(deep, 3, ENG_T_LIST);
  eng_batch *p = reparse(b, 3);
  check_rows(p, deep, 3);
  eng_batch_unref(p);
  eng_batch_unref(b);
  enum { W = 70000 };
  eng_val *items = eng_malloc(W * sizeof *items);
  for (int i = 0; i < W; i++) items[i] = eng_long(i);
  eng_val wide[2] = {eng_seqv(ENG_V_TUPLE, items, W), eng_seqv(ENG_V_TUPLE, items, 3)};
  b = build(wide, 2, ENG_T_ANY);
  p = reparse(b, 0);
  check_rows(p, wide, 2);
  eng_batch_unref(p);
  eng_batch_unref(b);
  eng_free(items);
  eng_arena_free(a);
  TH_MEM_END();
}

/* Random bytes (with and without a valid header) are rejected or, if they
 * happen to parse, can be read in full without leaving the buffer. */
static void col_parse_fuzz_random_bytes(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  for (int k = 0; k < 20000; k++) {
    size_t n = 8 * (rng() % 24);
    char *p = eng_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (char)(rng() % 4 ? rng() % 8 : rng());
    if (n >= 32 && k % 2) {
      uint32_t magic = 0x31424d45u, flags = (uint32_t)(rng() % 4 == 0);
      int64_t rows = (int64_t)(rng() % 4), body = (int64_t)(n - 32);
      memcpy(p, &magic, 4);
      memcpy(p + 4, &flags, 4);
      memcpy(p + 8, &rows, 8);
      memcpy(p + 16, &body, 8);
      memcpy(p + 24, &body, 8);
      if (n >= 48) memcpy(p + 40, &rows, 8);
    }
    eng_batch *b = parse_copy(p, n);
    if (b) {
      touch_col(b->root, a);
      eng_batch_unref(b);
    }
    eng_free(p);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* Valid batches of every shape, written plain and compressed: every
 * truncation is rejected, and random bit flips are rejected or give a
 * batch that reads back without crashing. */
static void col_parse_fuzz_truncations_and_flips(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  const char *shapes[] = {"l", "d", "b", "s", "(sl)", "[l]", "(s[d])", "[(ls)]", "*", "[*]"};
  eng_arena *a = eng_arena_new(0), *va = eng_arena_new(0);
  long accepted = 0, rejected = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    for (int level = 0; level <= 1; level++) {
      none_pct = 10;
      eng_val v[40];
      int64_t n = 1 + (int64_t)(rng() % 40);
      for (int64_t i = 0; i < n; i++) v[i] = gen(va, shapes[s]);
      size_t len;
      char *good = batch_bytes(v, n, &len, level);
      eng_batch *b = parse_copy(good, len);
      assert_non_null(b);
      check_rows(b, v, n);
      eng_batch_unref(b);
      for (size_t cut = 0; cut < len; cut++) assert_null(parse_copy(good, cut));
      char *p = eng_malloc(len);
      for (int k = 0; k < 3000; k++) {
        memcpy(p, good, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++) {
          size_t at = rng() % len;
          if (rng() % 3 == 0)
            p[at] = (char)rng();
          else
            p[at] ^= (char)(1u << (rng() % 8));
        }
        b = parse_copy(p, len);
        if (b) {
          accepted++;
          touch_col(b->root, a);
          eng_batch_unref(b);
        } else {
          rejected++;
        }
        eng_arena_reset(a);
      }
      eng_free(p);
      eng_free(good);
      eng_arena_reset(va);
    }
  }
  assert_true(rejected > 0 && accepted > 0);
  eng_arena_free(a);
  eng_arena_free(va);
  TH_MEM_END();
}

/* ---- out of memory --------------------------------------------------------- */

/* Failing the k-th allocation of a build gives NULL with MemoryError or the
 * right batch, never a crash, a short batch or a leak. */
static void col_builder_oom_is_reported(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  const char *shapes[] = {"l", "s", "(sl)", "[l]", "[(sd)]", "b"};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    none_pct = 10;
    enum { N = 700 };
    eng_val v[N];
    for (int i = 0; i < N; i++) v[i] = gen(a, shapes[s]);
    int failures = 0;
    for (long k = 1; k < 200; k++) {
      eng_err e = {0};
      eng_mem_fail_after(k);
      eng_batch *b = eng_batch_from_vals(v, N, &e);
      eng_mem_fail_after(0);
      if (b) {
        check_rows(b, v, N);
        eng_batch_unref(b);
        break;
      }
      failures++;
      assert_int_equal(e.code, ENG_ENOMEM);
      assert_true(strncmp(e.msg, "MemoryError: ", 13) == 0);
    }
    assert_true(failures > 0);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* The same for slice and select over flat columns: an allocation failure
 * must not silently drop rows. */
static void col_slice_select_oom_is_reported(void **state) {
  (void)state;
  TH_MEM_BEGIN();
  eng_arena *a = eng_arena_new(0);
  const char *shapes[] = {"s", "l"};
  for (size_t s = 0; s < 2; s++) {
    none_pct = s == 1 ? 10 : 0; /* nullable longs take the general path */
    enum { N = 3000 };
    eng_val *v = eng_malloc(N * sizeof *v);
    uint8_t *sel = eng_malloc(N);
    for (int i = 0; i < N; i++) {
      v[i] = gen(a, shapes[s]);
      sel[i] = 1;
    }
    eng_batch *in = eng_batch_from_vals(v, N, NULL);
    for (int op = 0; op < 2; op++) {
      for (long k = 1; k < 100; k++) {
        eng_err e = {0};
        eng_mem_fail_after(k);
        eng_batch *b = op ? eng_batch_select(in, sel, N, &e) : eng_batch_slice(in, 0, N, &e);
        eng_mem_fail_after(0);
        if (b) {
          check_rows(b, v, N);
          eng_batch_unref(b);
          break;
        }
        assert_int_equal(e.code, ENG_ENOMEM);
      }
    }
    eng_batch_unref(in);
    eng_free(v);
    eng_free(sel);
    eng_arena_reset(a);
  }
  eng_arena_free(a);
  TH_MEM_END();
}

/* Counting a selection 8 bytes at a time agrees with counting bytes, for
 * any byte values (0x80 and 0xff included) and lengths. */
static void col_sel_count_matches_bytewise(void **state) {
  (void)state;
  uint8_t sel[203];
  uint64_t rng = 42;
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 203; i++) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      int r = (int)(rng >> 59);
      sel[i] = r < 12 ? 0 : r < 16 ? 1 : r < 20 ? 0x80 : r < 24 ? 0xff : (uint8_t)(rng >> 40);
    }
    for (int n = 0; n <= 203; n += 1 + round % 7) {
      int64_t want = 0;
      for (int i = 0; i < n; i++) want += sel[i] != 0;
      assert_int_equal(eng_sel_count(sel, n), want);
    }
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(col_longs_make_a_long_column),
    cmocka_unit_test(col_doubles_and_bools_are_fixed_width),
    cmocka_unit_test(col_strings_are_c_strings),
    cmocka_unit_test(col_none_rows_use_validity),
    cmocka_unit_test(col_all_none_is_a_null_column),
    cmocka_unit_test(col_pairs_make_two_columns),
    cmocka_unit_test(col_mixed_shapes_widen_to_any),
    cmocka_unit_test(col_handles_and_records),
    cmocka_unit_test(col_nested_lists_and_tuples),
    cmocka_unit_test(col_random_roundtrip),
    cmocka_unit_test(col_builder_reuse_and_counters),
    cmocka_unit_test(col_append_row_copies_rows),
    cmocka_unit_test(col_new_longs_and_doubles),
    cmocka_unit_test(col_new_empty),
    cmocka_unit_test(col_select_keeps_selected_rows),
    cmocka_unit_test(col_slice_clamps),
    cmocka_unit_test(col_write_parse_sequence),
    cmocka_unit_test(col_parse_release_ownership),
    cmocka_unit_test(col_parse_copies_unaligned_input),
    cmocka_unit_test(col_refcount_across_threads),
    cmocka_unit_test(col_parse_rejects_malformed),
    cmocka_unit_test(col_deep_and_wide_values_fall_back_to_any),
    cmocka_unit_test(col_parse_fuzz_random_bytes),
    cmocka_unit_test(col_parse_fuzz_truncations_and_flips),
    cmocka_unit_test(col_builder_oom_is_reported),
    cmocka_unit_test(col_slice_select_oom_is_reported),
    cmocka_unit_test(col_sel_count_matches_bytewise),
};

TH_MAIN(tests)
