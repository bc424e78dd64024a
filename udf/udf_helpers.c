/* udf_helpers.c -- the value helpers of SPEC 4 as seen by compiled user code
 * (kv, list, split, strf, emit, ...), and the table that hands them to tcc.
 *
 * Design: helpers allocate from the thread's current arena (arena.h): the
 * executor resets it after each batch, the session keeps it for the
 * session's life. Errors (a TypeError from as_long on a string, ...) are
 * raised with eng__raise, which unwinds to the caller's udf_guard; compiled
 * code cannot check return codes it does not know about.
 *
 * Strings handed to user code are NUL-terminated (batch strings carry a NUL,
 * split copies its input once), so s.ptr can go straight to libc.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../engine/arena.h"
#include "../engine/val.h"
#include "udf_int.h"

typedef eng_val val;
typedef eng_str str;

/* Every eng_fn_* is called only from compiled code, through the table at
 * the end, so they have no prototypes in a header; -Wmissing-prototypes is
 * silenced for this file by declaring each static-free function here. */
#define FN(ret, name, args) ret name args; ret name args

/* ------------------------------------------------------------------------ */
/* Conversions                                                              */
/* ------------------------------------------------------------------------ */

FN(val, eng_fn_v_long, (long x)) { return eng_long(x); }
FN(val, eng_fn_v_double, (double x)) { return eng_double(x); }
FN(val, eng_fn_v_bool, (int x)) { return eng_bool(x); }
FN(val, eng_fn_v_cstr, (const char *s)) {
  return s ? eng_strv(s, (long)strlen(s)) : eng_none();
}
FN(val, eng_fn_v_str, (str s)) { return s.ptr ? eng_strv(s.ptr, s.len) : eng_none(); }
FN(val, eng_fn_v_val, (val v)) { return v; }
/* The same, written through a pointer (EMBER_VSET): code tcc compiles
 * would otherwise store each returned val with a memmove call. */
FN(void, eng_fn_vset_long, (val *o, long x)) { *o = eng_long(x); }
FN(void, eng_fn_vset_double, (val *o, double x)) { *o = eng_double(x); }
FN(void, eng_fn_vset_bool, (val *o, int x)) { *o = eng_bool(x); }
FN(void, eng_fn_vset_cstr, (val *o, const char *s)) { *o = eng_fn_v_cstr(s); }
FN(void, eng_fn_vset_str, (val *o, str s)) { *o = eng_fn_v_str(s); }
FN(void, eng_fn_vset_val, (val *o, val v)) { *o = v; }

FN(str, eng_fn_s_cstr, (const char *s)) {
  str r = {s ? s : "", s ? (long)strlen(s) : 0};
  return r;
}
FN(str, eng_fn_s_str, (str s)) { return s; }
/* The conversions below run once per row for typed lambda parameters.
 * Each answers the common kind from the value's two registers at once:
 * passing the value on by value made gcc spill it and reload it as one
 * 16-byte load, which the CPU cannot forward from the two 8-byte stores
 * (a stall that was a tenth of word count's time). */
FN(str, eng_fn_s_val, (val v)) {
  if (ENG_VKIND(v) == ENG_V_STR) {
    str r = {(const char *)(uintptr_t)v.p, ENG_VLEN(v)};
    return r;
  }
  eng_str s;
  eng_err e;
  if (eng_val_as_str(v, &s, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
  return s;
}
FN(str, eng_fn_s_bad, (long x)) {
  (void)x;
  eng__raise(ENG_ETYPE, "TypeError: expected a string (str, char * or val holding a str)");
}

/* ------------------------------------------------------------------------ */
/* Making and reading values                                                */
/* ------------------------------------------------------------------------ */

FN(val, eng_fn_kv, (val k, val v)) {
  val *it = eng__cur_alloc(2 * sizeof *it);
  it[0] = k;
  it[1] = v;
  return eng_seqv(ENG_V_TUPLE, it, 2);
}

/* A NUL-terminated copy of n bytes at p, in the current arena. */
static str new_str(const char *p, long n) {
  char *d = eng__cur_alloc((size_t)n + 1);
  if (n) memcpy(d, p, (size_t)n);
  d[n] = 0;
  str r = {d, n};
  return r;
}

/* Python's str.isspace() for one byte: ASCII whitespace and the separators
 * \x1c..\x1f (the non-ASCII ones are multi-byte in UTF-8 and not handled). */
static int py_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static val make_seq(int kind, long n, const val *items) {
  if (n <= 0) return eng_seqv(kind, NULL, 0);
  val *it = eng__cur_alloc((size_t)n * sizeof *it);
  memcpy(it, items, (size_t)n * sizeof *it);
  return eng_seqv(kind, it, n);
}

FN(val, eng_fn_tuple, (long n, const val *items)) { return make_seq(ENG_V_TUPLE, n, items); }
FN(val, eng_fn_list, (long n, const val *items)) { return make_seq(ENG_V_LIST, n, items); }

/* Code points in UTF-8 text (Python's len of a str). */
static long utf8_len(const char *s, long n) {
  long c = 0;
  for (long i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
  return c;
}

/* Python's seq[i] with negative indices, for tuples, lists and strings;
 * strings are indexed by code point, as len() counts them, and give a new
 * one-character string. */
FN(val, eng_fn_at, (val v, long i)) {
  v = eng_deref(v);
  int k = ENG_VKIND(v);
  if (k != ENG_V_TUPLE && k != ENG_V_LIST && k != ENG_V_STR)
    eng__raise(ENG_ETYPE, "TypeError: '%s' object is not subscriptable", eng_val_type_name(v));
  long n = k == ENG_V_STR ? utf8_len(eng_v_ptr(v), ENG_VLEN(v)) : ENG_VLEN(v);
  long j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    eng__raise(ENG_EINVAL, "ValueError: index %ld out of range for %s of length %ld", i,
               eng_val_type_name(v), n);
  if (k == ENG_V_STR) {
    const char *p = eng_v_ptr(v), *end = p + ENG_VLEN(v);
    for (long c = -1;; p++)
      if (((unsigned char)*p & 0xc0) != 0x80 && ++c == j) break;
    const char *q = p + 1;
    while (q < end && ((unsigned char)*q & 0xc0) == 0x80) q++;
    str r = new_str(p, (long)(q - p));
    return eng_strv(r.ptr, r.len);
  }
  return eng_v_items(v)[j];
}

FN(val, eng_fn_key, (val p)) {
  p = eng_deref(p);
  if (ENG_VKIND(p) != ENG_V_TUPLE && ENG_VKIND(p) != ENG_V_LIST)
    eng__raise(ENG_ETYPE, "TypeError: key() needs a pair, got %s", eng_val_type_name(p));
  return eng_fn_at(p, 0);
}

FN(val, eng_fn_value, (val p)) {
  p = eng_deref(p);
  if (ENG_VKIND(p) != ENG_V_TUPLE && ENG_VKIND(p) != ENG_V_LIST)
    eng__raise(ENG_ETYPE, "TypeError: value() needs a pair, got %s", eng_val_type_name(p));
  return eng_fn_at(p, 1);
}

FN(long, eng_fn_len, (val v)) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_STR: return utf8_len(eng_v_ptr(v), ENG_VLEN(v));
    case ENG_V_TUPLE:
    case ENG_V_LIST: return ENG_VLEN(v);
    case ENG_V_RECORD: return ((const eng_record *)(uintptr_t)v.p)->n;
    default:
      eng__raise(ENG_ETYPE, "TypeError: object of type '%s' has no len()", eng_val_type_name(v));
  }
}
FN(long, eng_fn_len_str, (str s)) { return utf8_len(s.ptr, s.len); }
FN(long, eng_fn_len_cstr, (const char *s)) { return s ? utf8_len(s, (long)strlen(s)) : 0; }

FN(long, eng_fn_as_long, (val v)) {
  if (ENG_VKIND(v) == ENG_V_LONG) return (long)v.p;
  int64_t x;
  eng_err e;
  if (eng_val_as_long(v, &x, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
  return x;
}
FN(double, eng_fn_as_double, (val v)) {
  if (ENG_VKIND(v) == ENG_V_DOUBLE) {
    double d;
    memcpy(&d, &v.p, 8);
    return d;
  }
  if (ENG_VKIND(v) == ENG_V_LONG) return (double)(int64_t)v.p;
  double x;
  eng_err e;
  if (eng_val_as_double(v, &x, &e) < 0) eng__raise(ENG_ETYPE, "%s", e.msg);
  return x;
}
FN(str, eng_fn_as_str, (val v)) { return eng_fn_s_val(v); }
/* For generated wrappers (udf_gen.c: str_param): no struct returned. */
FN(void, eng_fn_as_str_to, (const val *v, str *out)) { *out = eng_fn_s_val(*v); }
FN(bool, eng_fn_as_bool, (val v)) { return eng_val_truthy(v); }
FN(bool, eng_fn_is_none, (val v)) { return ENG_VKIND(eng_deref(v)) == ENG_V_NONE; }
FN(bool, eng_fn_val_eq, (val a, val b)) { return eng_val_eq(a, b); }

FN(val, eng_fn_add, (val a, val b)) {
  val out;
  eng_err e;
  if (eng_val_add(eng_arena_current(), a, b, &out, &e) < 0) eng__raise(e.code, "%s", e.msg);
  return out;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

/* How many bytes of p[0..len) are c: eight bytes at a time (a memchr call
 * per piece cost more than the whole count). For each byte, x is zero
 * where it equals c; t's high bit is set exactly there (no carry runs
 * from one byte into the next); the sum of high bits is the count. */
static long count_byte(const char *p, long len, char c) {
  const uint64_t bb = 0x0101010101010101ull * (unsigned char)c;
  long n = 0, i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    uint64_t x = w ^ bb;
    uint64_t t = ~(((x & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | x) & 0x8080808080808080ull;
    n += (long)(((t >> 7) * 0x0101010101010101ull) >> 56);
  }
  for (; i < len; i++) n += p[i] == c;
  return n;
}

/* Python's s.split(sep): every occurrence splits, empty pieces kept. The
 * input is copied once and separators become NULs, so each piece is a
 * NUL-terminated view into that copy. */
FN(val, eng_fn_split, (str s, str sep)) {
  if (sep.len <= 0) eng__raise(ENG_EINVAL, "ValueError: empty separator");
  char *copy = eng__cur_alloc((size_t)s.len + 1);
  memcpy(copy, s.ptr, (size_t)s.len);
  copy[s.len] = 0;
  long n = 1;
  const char *end = copy + s.len;
  if (sep.len == 1) {
    n += count_byte(copy, s.len, sep.ptr[0]);
  } else {
    for (const char *p = copy; (p = memmem(p, (size_t)(end - p), sep.ptr, (size_t)sep.len));
         p += sep.len)
      n++;
  }
  val *items = eng__cur_alloc((size_t)n * sizeof *items);
  char *start = copy;
  long k = 0;
  while (k < n - 1) {
    char *p = sep.len == 1 ? memchr(start, sep.ptr[0], (size_t)(end - start))
                           : memmem(start, (size_t)(end - start), sep.ptr, (size_t)sep.len);
    *p = 0;
    items[k++] = eng_strv(start, (long)(p - start));
    start = p + sep.len;
  }
  items[k] = eng_strv(start, (long)(end - start));
  return eng_seqv(ENG_V_LIST, items, n);
}

/* Python's s.split() with no separator: runs of whitespace split, and
 * leading/trailing whitespace gives no empty pieces. */
FN(val, eng_fn_words, (str s)) {
  char *copy = eng__cur_alloc((size_t)s.len + 1);
  memcpy(copy, s.ptr, (size_t)s.len);
  copy[s.len] = 0;
  eng_vlist l;
  eng_vlist_init(&l, eng_arena_current());
  long i = 0;
  while (i < s.len) {
    while (i < s.len && py_space((unsigned char)copy[i])) i++;
    if (i >= s.len) break;
    long j = i;
    while (j < s.len && !py_space((unsigned char)copy[j])) j++;
    copy[j] = 0;
    if (eng_vlist_push(&l, eng_strv(copy + i, j - i)) < 0)
      eng__raise(ENG_ENOMEM, "MemoryError: words()");
    i = j + 1;
  }
  return eng_vlist_finish(&l, ENG_V_LIST);
}

/* ASCII case mapping; bytes of multi-byte UTF-8 characters pass unchanged. */
FN(str, eng_fn_lower, (str s)) {
  str r = new_str(s.ptr, s.len);
  for (long i = 0; i < r.len; i++) ((char *)r.ptr)[i] = (char)tolower((unsigned char)r.ptr[i]);
  return r;
}

FN(str, eng_fn_upper, (str s)) {
  str r = new_str(s.ptr, s.len);
  for (long i = 0; i < r.len; i++) ((char *)r.ptr)[i] = (char)toupper((unsigned char)r.ptr[i]);
  return r;
}

/* Python's s.strip(): whitespace (py_space) off both ends. */
FN(str, eng_fn_trim, (str s)) {
  long a = 0, b = s.len;
  while (a < b && py_space((unsigned char)s.ptr[a])) a++;
  while (b > a && py_space((unsigned char)s.ptr[b - 1])) b--;
  if (b == s.len) {
    str r = {s.ptr + a, b - a}; /* still NUL-terminated */
    return r;
  }
  return new_str(s.ptr + a, b - a);
}

FN(bool, eng_fn_str_eq, (str a, str b)) {
  return a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}
FN(bool, eng_fn_starts_with, (str s, str p)) {
  return p.len <= s.len && memcmp(s.ptr, p.ptr, (size_t)p.len) == 0;
}
FN(bool, eng_fn_ends_with, (str s, str p)) {
  return p.len <= s.len && memcmp(s.ptr + s.len - p.len, p.ptr, (size_t)p.len) == 0;
}
FN(bool, eng_fn_contains_str, (str s, str p)) {
  if (p.len == 0) return 1;
  return memmem(s.ptr, (size_t)s.len, p.ptr, (size_t)p.len) != NULL;
}

/* contains(x, item): substring for strings, membership for tuples/lists. */
FN(bool, eng_fn_contains_any, (val s, val x)) {
  s = eng_deref(s);
  switch (ENG_VKIND(s)) {
    case ENG_V_STR:
      return eng_fn_contains_str(eng_v_str(s), eng_fn_s_val(x));
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      const eng_val *it = eng_v_items(s);
      for (long i = 0; i < ENG_VLEN(s); i++)
        if (eng_val_eq(it[i], x)) return 1;
      return 0;
    }
    default:
      eng__raise(ENG_ETYPE, "TypeError: argument of type '%s' is not iterable",
                 eng_val_type_name(s));
  }
}

/* Advances *i (< n) over Python's digitpart, digits with single underscores
 * between them, appending the digits to out at *k. Returns how many digits. */
static long digitpart(const char *p, long n, long *i, char *out, long *k) {
  long digits = 0;
  while (*i < n) {
    char c = p[*i];
    if (c == '_' && digits && *i + 1 < n && isdigit((unsigned char)p[*i + 1])) {
      (*i)++;
      continue;
    }
    if (!isdigit((unsigned char)c)) break;
    out[(*k)++] = c;
    digits++;
    (*i)++;
  }
  return digits;
}

/* Trims py_space off both ends of s: [*from, *to). */
static void py_strip(str s, long *from, long *to) {
  long a = 0, b = s.len;
  while (a < b && py_space((unsigned char)s.ptr[a])) a++;
  while (b > a && py_space((unsigned char)s.ptr[b - 1])) b--;
  *from = a;
  *to = b;
}

/* Python's int(s) in base 10: surrounding whitespace, an optional sign,
 * digits with single underscores between them; ValueError otherwise, and
 * also beyond int64 (where Python would give a big int). Reads only the
 * s.len bytes of s. */
FN(long, eng_fn_to_long, (str s)) {
  long i, n, k = 0;
  py_strip(s, &i, &n);
  char small[64];
  char *digits = n - i < (long)sizeof small ? small : eng__cur_alloc((size_t)(n - i) + 1);
  int neg = i < n && s.ptr[i] == '-';
  if (i < n && (s.ptr[i] == '+' || s.ptr[i] == '-')) i++;
  long nd = digitpart(s.ptr, n, &i, digits, &k);
  if (!nd || i != n)
    eng__raise(ENG_EINVAL, "ValueError: invalid literal for int() with base 10: '%.*s'",
               (int)(s.len > 80 ? 80 : s.len), s.ptr);
  uint64_t mag = 0, limit = (uint64_t)INT64_MAX + (uint64_t)neg;
  for (long d = 0; d < k; d++) {
    unsigned dig = (unsigned)(digits[d] - '0');
    if (mag > (limit - dig) / 10)
      eng__raise(ENG_EINVAL, "ValueError: int too large for a 64-bit long: '%.*s'",
                 (int)(s.len > 80 ? 80 : s.len), s.ptr);
    mag = mag * 10 + dig;
  }
  return neg ? (long)(0 - mag) : (long)mag;
}

/* Python's float(s): surrounding whitespace, a sign, then inf, infinity or
 * nan (any case) or digits with an optional point and exponent, with
 * single underscores between digits; nothing else (no hex, no nan(...)).
 * The accepted text, underscores dropped, goes to strtod. */
FN(double, eng_fn_to_double, (str s)) {
  long i, n, k = 0;
  py_strip(s, &i, &n);
  char small[64];
  char *t = n - i + 1 < (long)sizeof small ? small : eng__cur_alloc((size_t)(n - i) + 2);
  if (i < n && (s.ptr[i] == '+' || s.ptr[i] == '-')) t[k++] = s.ptr[i++];
  int ok;
  long rest = n - i;
  const char *r = s.ptr + i;
  if ((rest == 3 && (strncasecmp(r, "inf", 3) == 0 || strncasecmp(r, "nan", 3) == 0)) ||
      (rest == 8 && strncasecmp(r, "infinity", 8) == 0)) {
    memcpy(t + k, r, (size_t)rest);
    k += rest;
    ok = 1;
  } else {
    long nd = digitpart(s.ptr, n, &i, t, &k);
    if (i < n && s.ptr[i] == '.') {
      t[k++] = '.';
      i++;
      nd += digitpart(s.ptr, n, &i, t, &k);
    }
    ok = nd > 0;
    if (ok && i < n && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
      t[k++] = 'e';
      i++;
      if (i < n && (s.ptr[i] == '+' || s.ptr[i] == '-')) t[k++] = s.ptr[i++];
      ok = digitpart(s.ptr, n, &i, t, &k) > 0;
    }
    ok = ok && i == n;
  }
  if (!ok)
    eng__raise(ENG_EINVAL, "ValueError: could not convert string to float: '%.*s'",
               (int)(s.len > 80 ? 80 : s.len), s.ptr);
  t[k] = 0;
  return strtod(t, NULL);
}

FN(str, eng_fn_strf, (const char *fmt, ...)) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  char *d = eng__cur_alloc((size_t)n + 1);
  if ((size_t)n < sizeof small) {
    memcpy(d, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  str r = {d, n};
  return r;
}

FN(str, eng_fn_repr, (val v)) {
  eng_buf b;
  eng_buf_init(&b);
  eng_val_repr(&b, v);
  str r = new_str(b.data ? b.data : "", (long)b.len);
  eng_buf_free(&b);
  return r;
}

FN(void, eng_fn_print, (val v)) {
  eng_buf b;
  eng_buf_init(&b);
  eng_val_str(&b, v);
  eng_buf_putc(&b, '\n');
  fwrite(b.data, 1, b.len, stdout);
  eng_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* emit() and accumulators                                                  */
/* ------------------------------------------------------------------------ */

static __thread udf_emit_fn t_emit;
static __thread void *t_emit_ctx;
static __thread udf_acc_fn t_acc;
static __thread void *t_acc_ctx;

void udf_set_emit(udf_emit_fn fn, void *ctx) {
  t_emit = fn;
  t_emit_ctx = ctx;
}

void udf_set_acc(udf_acc_fn fn, void *ctx) {
  t_acc = fn;
  t_acc_ctx = ctx;
}

FN(void, eng_fn_emit, (val v)) {
  if (!t_emit)
    eng__raise(ENG_ETYPE, "TypeError: emit() is only allowed in flat_map and map_partitions "
                          "lambdas");
  t_emit(t_emit_ctx, v);
}

FN(void, eng_fn_acc_add, (val acc, val x)) {
  if (ENG_VKIND(acc) != ENG_V_ACC)
    eng__raise(ENG_ETYPE, "TypeError: acc_add() needs an accumulator, got %s",
               eng_val_type_name(acc));
  if (!t_acc) eng__raise(ENG_ETYPE, "TypeError: accumulators cannot be updated here");
  t_acc(t_acc_ctx, acc, x);
}

/* exit() in user code (and _exit, _Exit, quick_exit) would end an executor
 * or the session -- the kernel's too: refuse it. */
FN(void, eng_fn_exit, (int status)) {
  eng__raise(ENG_EINVAL, "ValueError: exit(%d) called from user code; use :quit to leave",
             status);
}

/* ------------------------------------------------------------------------ */
/* Struct copies                                                            */
/* ------------------------------------------------------------------------ */

/* Why: tcc copies every struct -- each val and str (16 bytes) assigned,
 * returned or passed -- by calling memmove, several times per row in a
 * UDF over strings; glibc's memmove dispatches on size and alignment first
 * (a sixth of word count's executor time went there). Code compiled by
 * tcc calls this one instead: small sizes are loads then stores, which is
 * also right for overlapping ranges. */
static void *udf_memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  uint64_t a, b, c, e;
  switch (n) {
    case 8:
      memcpy(&a, s, 8);
      memcpy(d, &a, 8);
      return dst;
    case 16:
      memcpy(&a, s, 8);
      memcpy(&b, s + 8, 8);
      memcpy(d, &a, 8);
      memcpy(d + 8, &b, 8);
      return dst;
    case 32:
      memcpy(&a, s, 8);
      memcpy(&b, s + 8, 8);
      memcpy(&c, s + 16, 8);
      memcpy(&e, s + 24, 8);
      memcpy(d, &a, 8);
      memcpy(d + 8, &b, 8);
      memcpy(d + 16, &c, 8);
      memcpy(d + 24, &e, 8);
      return dst;
    default:
      return memmove(dst, src, n);
  }
}

/* ------------------------------------------------------------------------ */
/* The table for tcc_add_symbol                                             */
/* ------------------------------------------------------------------------ */

#define SYM(f) {#f, (const void *)f}
const udf_symbol udf__helper_symbols[] = {
    SYM(eng_fn_v_long),       SYM(eng_fn_v_double),   SYM(eng_fn_v_bool),
    SYM(eng_fn_v_cstr),       SYM(eng_fn_v_str),      SYM(eng_fn_v_val),
    SYM(eng_fn_s_cstr),       SYM(eng_fn_s_str),      SYM(eng_fn_s_val),
    SYM(eng_fn_s_bad),        SYM(eng_fn_kv),         SYM(eng_fn_tuple),
    SYM(eng_fn_list),         SYM(eng_fn_at),         SYM(eng_fn_key),
    SYM(eng_fn_value),        SYM(eng_fn_len),        SYM(eng_fn_len_str),
    SYM(eng_fn_len_cstr),     SYM(eng_fn_as_long),    SYM(eng_fn_as_double),
    SYM(eng_fn_as_str),       SYM(eng_fn_as_bool),    SYM(eng_fn_is_none),
    SYM(eng_fn_val_eq),       SYM(eng_fn_add),        SYM(eng_fn_split),
    SYM(eng_fn_words),        SYM(eng_fn_lower),      SYM(eng_fn_upper),
    SYM(eng_fn_trim),         SYM(eng_fn_str_eq),     SYM(eng_fn_starts_with),
    SYM(eng_fn_ends_with),    SYM(eng_fn_contains_str), SYM(eng_fn_contains_any),
    SYM(eng_fn_to_long),      SYM(eng_fn_to_double),  SYM(eng_fn_strf),
    SYM(eng_fn_repr),         SYM(eng_fn_print),      SYM(eng_fn_emit),
    SYM(eng_fn_acc_add),      {"exit", (const void *)eng_fn_exit},
    {"_exit", (const void *)eng_fn_exit}, {"_Exit", (const void *)eng_fn_exit},
    {"quick_exit", (const void *)eng_fn_exit},
    SYM(eng_fn_as_str_to),
    SYM(eng_fn_vset_long),    SYM(eng_fn_vset_double), SYM(eng_fn_vset_bool),
    SYM(eng_fn_vset_cstr),    SYM(eng_fn_vset_str),    SYM(eng_fn_vset_val),
    {"memmove", (const void *)udf_memmove},
    {NULL, NULL},
};
