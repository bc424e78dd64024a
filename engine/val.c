/* val.c -- dynamic values with Python's semantics: equality, order, hash,
 * addition, deep copy and a compact binary encoding.
 *
 * Invariants: a value never owns memory; tuples and lists point to an array
 * of items that lives in some arena; strings are byte views. Equal values
 * (Python ==) hash equal, which is what lets 1 and 1.0 meet in one group, as
 * in PySpark.
 */
#include "val.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "mem.h"
#include "pyhash.h"

/* ------------------------------------------------------------------------ */
/* Construction                                                             */
/* ------------------------------------------------------------------------ */

static eng_val make_seq(eng_arena *a, int kind, const eng_val *items, long n) {
  if (n == 0) return eng_seqv(kind, NULL, 0);
  eng_val *copy = eng_arena_alloc(a, (size_t)n * sizeof *copy);
  if (!copy) return eng_none();
  memcpy(copy, items, (size_t)n * sizeof *copy);
  return eng_seqv(kind, copy, n);
}

eng_val eng_tuple(eng_arena *a, const eng_val *items, long n) {
  return make_seq(a, ENG_V_TUPLE, items, n);
}

eng_val eng_list(eng_arena *a, const eng_val *items, long n) {
  return make_seq(a, ENG_V_LIST, items, n);
}

eng_val eng_pair(eng_arena *a, eng_val k, eng_val v) {
  eng_val *it = eng_arena_alloc(a, 2 * sizeof *it);
  if (!it) return eng_none();
  it[0] = k;
  it[1] = v;
  return eng_seqv(ENG_V_TUPLE, it, 2);
}

eng_val eng_str_copy(eng_arena *a, const char *p, long len) {
  char *d = eng_arena_alloc(a, (size_t)len + 1);
  if (!d) return eng_none();
  if (len) memcpy(d, p, (size_t)len);
  d[len] = 0;
  return eng_strv(d, len);
}

/* Deep copy of v into arena a. Strings are NUL-terminated in the copy so
 * that user code may pass them to libc. */
eng_val eng_val_copy(eng_arena *a, eng_val v) {
  switch (ENG_VKIND(v)) {
    case ENG_V_STR:
      return eng_str_copy(a, eng_v_ptr(v), ENG_VLEN(v));
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      long n = ENG_VLEN(v);
      if (n == 0) return v;
      eng_val *items = eng_arena_alloc(a, (size_t)n * sizeof *items);
      if (!items) return eng_none();
      const eng_val *src = eng_v_items(v);
      for (long i = 0; i < n; i++) items[i] = eng_val_copy(a, src[i]);
      return eng_seqv(ENG_VKIND(v), items, n);
    }
    case ENG_V_RECORD: {
      const eng_record *r = (const eng_record *)(uintptr_t)v.p;
      eng_record *nr = eng_arena_alloc(a, sizeof *nr);
      eng_val *vals = eng_arena_alloc(a, (size_t)r->n * sizeof *vals);
      if (!nr || !vals) return eng_none();
      for (long i = 0; i < r->n; i++) vals[i] = eng_val_copy(a, r->vals[i]);
      nr->n = r->n;
      nr->names = r->names; /* names are static strings */
      nr->vals = vals;
      eng_val out = {ENG_V_RECORD, (uint64_t)(uintptr_t)nr};
      return out;
    }
    default:
      return v;
  }
}

size_t eng_val_deep_size(eng_val v) {
  switch (ENG_VKIND(v)) {
    case ENG_V_STR:
      return ((size_t)ENG_VLEN(v) + 16) & ~(size_t)15;
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      size_t n = (size_t)ENG_VLEN(v), sz = n * sizeof(eng_val);
      const eng_val *it = eng_v_items(v);
      for (size_t i = 0; i < n; i++) sz += eng_val_deep_size(it[i]);
      return sz;
    }
    case ENG_V_RECORD: {
      /* The record (rounded to 16 as arenas do) and its value array. */
      const eng_record *r = (const eng_record *)(uintptr_t)v.p;
      size_t sz = ((sizeof *r + 15) & ~(size_t)15) + (size_t)(r->n ? r->n : 1) * sizeof(eng_val);
      for (long i = 0; i < r->n; i++) sz += eng_val_deep_size(r->vals[i]);
      return sz;
    }
    default:
      return 0;
  }
}

void eng_vlist_init(eng_vlist *l, eng_arena *a) {
  l->items = NULL;
  l->n = l->cap = 0;
  l->a = a;
}

/* Appends v; storage grows by doubling inside the arena (the old block is
 * abandoned there, bounded by the final size). */
int eng_vlist_push(eng_vlist *l, eng_val v) {
  if (l->n == l->cap) {
    long cap = l->cap ? l->cap * 2 : 8;
    eng_val *items = eng_arena_alloc(l->a, (size_t)cap * sizeof *items);
    if (!items) return ENG_ENOMEM;
    if (l->n) memcpy(items, l->items, (size_t)l->n * sizeof *items);
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = v;
  return 0;
}

eng_val eng_vlist_finish(eng_vlist *l, int kind) {
  eng_val v = eng_seqv(kind, l->n ? l->items : NULL, l->n);
  eng_vlist_init(l, l->a);
  return v;
}

/* ------------------------------------------------------------------------ */
/* Names and checked access                                                 */
/* ------------------------------------------------------------------------ */

const char *eng_val_type_name(eng_val v) {
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: return "NoneType";
    case ENG_V_BOOL: return "bool";
    case ENG_V_LONG: return "int";
    case ENG_V_DOUBLE: return "float";
    case ENG_V_STR: return "str";
    case ENG_V_TUPLE: return "tuple";
    case ENG_V_LIST: return "list";
    case ENG_V_BCAST: return eng_val_type_name(eng_deref(v));
    case ENG_V_ACC: return "accumulator";
    case ENG_V_RECORD: return "StatCounter";
    default: return "unknown";
  }
}

int eng_val_as_long(eng_val v, int64_t *out, eng_err *err) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_LONG:
    case ENG_V_BOOL:
      *out = (int64_t)v.p;
      return 0;
    default:
      return eng_err_set(err, ENG_ETYPE, "TypeError: expected int, got %s",
                         eng_val_type_name(v));
  }
}

int eng_val_as_double(eng_val v, double *out, eng_err *err) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_DOUBLE:
      *out = eng_v_double(v);
      return 0;
    case ENG_V_LONG:
    case ENG_V_BOOL:
      *out = (double)(int64_t)v.p;
      return 0;
    default:
      return eng_err_set(err, ENG_ETYPE, "TypeError: expected float, got %s",
                         eng_val_type_name(v));
  }
}

int eng_val_as_str(eng_val v, eng_str *out, eng_err *err) {
  v = eng_deref(v);
  if (ENG_VKIND(v) != ENG_V_STR)
    return eng_err_set(err, ENG_ETYPE, "TypeError: expected str, got %s",
                       eng_val_type_name(v));
  *out = eng_v_str(v);
  return 0;
}

int eng_val_truthy(eng_val v) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: return 0;
    case ENG_V_BOOL:
    case ENG_V_LONG: return v.p != 0;
    case ENG_V_DOUBLE: return eng_v_double(v) != 0.0;
    case ENG_V_STR:
    case ENG_V_TUPLE:
    case ENG_V_LIST: return ENG_VLEN(v) != 0;
    default: return 1;
  }
}

/* ------------------------------------------------------------------------ */
/* Equality and order                                                       */
/* ------------------------------------------------------------------------ */

/* Compares a long with a double exactly, as Python does (no rounding of
 * the long to double when that would lose precision). */
static int cmp_long_double(int64_t a, double b) {
  if (isnan(b)) return 2; /* unordered */
  /* Outside [-2**63, 2**63) b is beyond every int64 (2**63 itself converts
   * with overflow); inside, floor(b) converts exactly. */
  if (b >= 9223372036854775808.0) return -1;
  if (b < -9223372036854775808.0) return 1;
  double fb = floor(b);
  int64_t ib = (int64_t)fb;
  if (a < ib) return -1;
  if (a > ib) return 1;
  return fb < b ? -1 : 0;
}

/* Numeric comparison; returns 2 for unordered (NaN involved). */
static int cmp_num(eng_val a, eng_val b) {
  int ka = ENG_VKIND(a), kb = ENG_VKIND(b);
  if (ka != ENG_V_DOUBLE && kb != ENG_V_DOUBLE) {
    int64_t x = (int64_t)a.p, y = (int64_t)b.p;
    return x < y ? -1 : x > y;
  }
  if (ka == ENG_V_DOUBLE && kb == ENG_V_DOUBLE) {
    double x = eng_v_double(a), y = eng_v_double(b);
    if (x < y) return -1;
    if (x > y) return 1;
    return x == y ? 0 : 2;
  }
  if (ka == ENG_V_DOUBLE) {
    int c = cmp_long_double((int64_t)b.p, eng_v_double(a));
    return c == 2 ? 2 : -c;
  }
  return cmp_long_double((int64_t)a.p, eng_v_double(b));
}

static int cmp_bytes(eng_val a, eng_val b) {
  long la = ENG_VLEN(a), lb = ENG_VLEN(b), n = la < lb ? la : lb;
  /* An empty string may be a NULL view, which memcmp must not see. */
  int c = n ? memcmp(eng_v_ptr(a), eng_v_ptr(b), (size_t)n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return la < lb ? -1 : la > lb;
}

int eng_val_eq(eng_val a, eng_val b) {
  a = eng_deref(a);
  b = eng_deref(b);
  int ka = ENG_VKIND(a), kb = ENG_VKIND(b);
  if (eng_is_num(a) && eng_is_num(b)) return cmp_num(a, b) == 0;
  if (ka != kb) return 0;
  switch (ka) {
    case ENG_V_NONE: return 1;
    case ENG_V_STR:
      return ENG_VLEN(a) == ENG_VLEN(b) &&
             (ENG_VLEN(a) == 0 || memcmp(eng_v_ptr(a), eng_v_ptr(b), (size_t)ENG_VLEN(a)) == 0);
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      long n = ENG_VLEN(a);
      if (n != ENG_VLEN(b)) return 0;
      const eng_val *x = eng_v_items(a), *y = eng_v_items(b);
      for (long i = 0; i < n; i++)
        if (!eng_val_eq(x[i], y[i])) return 0;
      return 1;
    }
    default:
      return a.h == b.h && a.p == b.p;
  }
}

int eng_val_cmp(eng_val a, eng_val b, int *out, eng_err *err) {
  a = eng_deref(a);
  b = eng_deref(b);
  int ka = ENG_VKIND(a), kb = ENG_VKIND(b);
  if (eng_is_num(a) && eng_is_num(b)) {
    int c = cmp_num(a, b);
    *out = c == 2 ? 0 : c; /* NaN compares as "not less", like Python sorts */
    return 0;
  }
  if (ka == kb) {
    switch (ka) {
      case ENG_V_STR:
        *out = cmp_bytes(a, b);
        return 0;
      case ENG_V_TUPLE:
      case ENG_V_LIST: {
        long na = ENG_VLEN(a), nb = ENG_VLEN(b);
        const eng_val *x = eng_v_items(a), *y = eng_v_items(b);
        for (long i = 0; i < na && i < nb; i++) {
          if (eng_val_eq(x[i], y[i])) continue;
          return eng_val_cmp(x[i], y[i], out, err);
        }
        *out = na < nb ? -1 : na > nb;
        return 0;
      }
      default:
        break;
    }
  }
  return eng_err_set(err, ENG_ETYPE,
                     "TypeError: '<' not supported between instances of '%s' and '%s'",
                     eng_val_type_name(a), eng_val_type_name(b));
}

/* Rank of a kind in the total order used when Python has none. */
static int kind_rank(eng_val v) {
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: return 0;
    case ENG_V_BOOL:
    case ENG_V_LONG:
    case ENG_V_DOUBLE: return 1;
    case ENG_V_STR: return 2;
    case ENG_V_TUPLE: return 3;
    case ENG_V_LIST: return 4;
    default: return 5;
  }
}

int eng_val_cmp_total(eng_val a, eng_val b) {
  a = eng_deref(a);
  b = eng_deref(b);
  int ra = kind_rank(a), rb = kind_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0: return 0;
    case 1: {
      int c = cmp_num(a, b);
      if (c != 2) return c;
      /* NaN sorts after every number, and equal to itself. */
      int na = ENG_VKIND(a) == ENG_V_DOUBLE && isnan(eng_v_double(a));
      int nb = ENG_VKIND(b) == ENG_V_DOUBLE && isnan(eng_v_double(b));
      return na - nb;
    }
    case 2: return cmp_bytes(a, b);
    case 3:
    case 4: {
      long na = ENG_VLEN(a), nb = ENG_VLEN(b);
      const eng_val *x = eng_v_items(a), *y = eng_v_items(b);
      for (long i = 0; i < na && i < nb; i++) {
        int c = eng_val_cmp_total(x[i], y[i]);
        if (c) return c;
      }
      return na < nb ? -1 : na > nb;
    }
    default:
      return a.p < b.p ? -1 : a.p > b.p;
  }
}

/* ------------------------------------------------------------------------ */
/* Hash and addition                                                        */
/* ------------------------------------------------------------------------ */

int64_t eng_val_hash(eng_val v) {
  v = eng_deref(v);
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: return 0; /* portable_hash(None) */
    case ENG_V_BOOL:
    case ENG_V_LONG: return eng_pyhash_long((int64_t)v.p);
    case ENG_V_DOUBLE: return eng_pyhash_double(eng_v_double(v));
    case ENG_V_STR: return eng_pyhash_str(eng_v_ptr(v), ENG_VLEN(v));
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      /* PySpark's portable_hash combines tuples itself; lists are not
       * hashable in Python, so we give them the same combination. */
      long n = ENG_VLEN(v);
      const eng_val *it = eng_v_items(v);
      int64_t small[16] = {0}, *hs = n <= 16 ? small : malloc((size_t)n * sizeof *hs);
      if (!hs) return 0;
      for (long i = 0; i < n; i++) hs[i] = eng_val_hash(it[i]);
      int64_t h = eng_pyhash_portable_tuple(hs, n);
      if (hs != small) free(hs);
      return h;
    }
    default:
      return (int64_t)(v.h ^ v.p);
  }
}

static eng_val concat(eng_arena *a, int kind, eng_val x, eng_val y) {
  long nx = ENG_VLEN(x), ny = ENG_VLEN(y);
  if (nx + ny == 0) return eng_seqv(kind, NULL, 0);
  eng_val *items = eng_arena_alloc(a, (size_t)(nx + ny) * sizeof *items);
  if (!items) return eng_none();
  if (nx) memcpy(items, eng_v_items(x), (size_t)nx * sizeof *items);
  if (ny) memcpy(items + nx, eng_v_items(y), (size_t)ny * sizeof *items);
  return eng_seqv(kind, items, nx + ny);
}

int eng_val_add(eng_arena *a, eng_val x, eng_val y, eng_val *out, eng_err *err) {
  x = eng_deref(x);
  y = eng_deref(y);
  int kx = ENG_VKIND(x), ky = ENG_VKIND(y);
  if (eng_is_num(x) && eng_is_num(y)) {
    if (kx != ENG_V_DOUBLE && ky != ENG_V_DOUBLE) {
      /* Python ints do not overflow; int64 wraps. Documented in README. */
      *out = eng_long((int64_t)((uint64_t)x.p + (uint64_t)y.p));
    } else {
      double dx, dy;
      eng_val_as_double(x, &dx, NULL);
      eng_val_as_double(y, &dy, NULL);
      *out = eng_double(dx + dy);
    }
    return 0;
  }
  if (kx == ky && kx == ENG_V_STR) {
    long nx = ENG_VLEN(x), ny = ENG_VLEN(y);
    char *d = eng_arena_alloc(a, (size_t)(nx + ny) + 1);
    if (!d) return eng_err_set(err, ENG_ENOMEM, "MemoryError: string concatenation");
    if (nx) memcpy(d, eng_v_ptr(x), (size_t)nx); /* an empty str may be a NULL view */
    if (ny) memcpy(d + nx, eng_v_ptr(y), (size_t)ny);
    d[nx + ny] = 0;
    *out = eng_strv(d, nx + ny);
    return 0;
  }
  if (kx == ky && (kx == ENG_V_LIST || kx == ENG_V_TUPLE)) {
    *out = concat(a, kx, x, y);
    return 0;
  }
  return eng_err_set(err, ENG_ETYPE,
                     "TypeError: unsupported operand type(s) for +: '%s' and '%s'",
                     eng_val_type_name(x), eng_val_type_name(y));
}

/* ------------------------------------------------------------------------ */
/* Serialization                                                            */
/* ------------------------------------------------------------------------ */

/* Encoding: one tag byte (the kind), then LONG/BOOL: zigzag varint; DOUBLE: 8
 * bytes; STR: varint length + bytes + NUL; TUPLE/LIST: varint count + items;
 * RECORD: varint count + (name, value) pairs; ACC: varint id. */
int eng_val_write(eng_buf *b, eng_val v) {
  v = eng_deref(v);
  int k = ENG_VKIND(v);
  eng_buf_u8(b, (uint8_t)k);
  switch (k) {
    case ENG_V_NONE:
      break;
    case ENG_V_BOOL:
      eng_buf_u8(b, (uint8_t)v.p);
      break;
    case ENG_V_LONG: {
      int64_t x = (int64_t)v.p;
      eng_buf_varint(b, ((uint64_t)x << 1) ^ (uint64_t)(x >> 63));
      break;
    }
    case ENG_V_DOUBLE:
      eng_buf_append(b, &v.p, 8);
      break;
    case ENG_V_STR:
      /* With a NUL, so a value read back in place is a C string too. */
      eng_buf_varint(b, (uint64_t)ENG_VLEN(v));
      eng_buf_append(b, eng_v_ptr(v), (size_t)ENG_VLEN(v));
      eng_buf_putc(b, 0);
      break;
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      long n = ENG_VLEN(v);
      const eng_val *it = eng_v_items(v);
      eng_buf_varint(b, (uint64_t)n);
      for (long i = 0; i < n; i++) eng_val_write(b, it[i]);
      break;
    }
    case ENG_V_RECORD: {
      const eng_record *r = (const eng_record *)(uintptr_t)v.p;
      eng_buf_varint(b, (uint64_t)r->n);
      for (long i = 0; i < r->n; i++) {
        eng_buf_varint(b, strlen(r->names[i]));
        eng_buf_puts(b, r->names[i]);
        eng_val_write(b, r->vals[i]);
      }
      break;
    }
    case ENG_V_ACC:
      eng_buf_varint(b, (uint64_t)ENG_VLEN(v));
      break;
  }
  return b->oom ? ENG_ENOMEM : 0;
}

static int read_depth(eng_rd *r, eng_arena *a, eng_val *out, int depth) {
  if (depth > 10000) return ENG_EPROTO;
  int k = eng_rd_u8(r);
  switch (k) {
    case ENG_V_NONE:
      *out = eng_none();
      break;
    case ENG_V_BOOL:
      *out = eng_bool(eng_rd_u8(r));
      break;
    case ENG_V_LONG: {
      uint64_t z = eng_rd_varint(r);
      *out = eng_long((int64_t)(z >> 1) ^ -(int64_t)(z & 1));
      break;
    }
    case ENG_V_DOUBLE: {
      const char *p = eng_rd_bytes(r, 8);
      out->h = ENG_V_DOUBLE;
      out->p = 0;
      if (p) memcpy(&out->p, p, 8);
      break;
    }
    case ENG_V_STR: {
      uint64_t n = eng_rd_varint(r);
      const char *p = n < eng_rd_left(r) ? eng_rd_bytes(r, n + 1) : NULL;
      if (!p || p[n] != 0) return ENG_EPROTO;
      *out = eng_strv(p, (long)n);
      break;
    }
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      uint64_t n = eng_rd_varint(r);
      if (r->bad || n > eng_rd_left(r)) return ENG_EPROTO;
      eng_val *items = n ? eng_arena_alloc(a, n * sizeof *items) : NULL;
      if (n && !items) return ENG_ENOMEM;
      for (uint64_t i = 0; i < n; i++) ENG_TRY(read_depth(r, a, &items[i], depth + 1));
      *out = eng_seqv(k, items, (long)n);
      break;
    }
    case ENG_V_RECORD: {
      uint64_t n = eng_rd_varint(r);
      if (r->bad || n > eng_rd_left(r)) return ENG_EPROTO;
      eng_record *rec = eng_arena_alloc(a, sizeof *rec);
      const char **names = eng_arena_alloc(a, (n + 1) * sizeof *names);
      eng_val *vals = eng_arena_alloc(a, (n + 1) * sizeof *vals);
      if (!rec || !names || !vals) return ENG_ENOMEM;
      for (uint64_t i = 0; i < n; i++) {
        uint64_t ln = eng_rd_varint(r);
        const char *p = eng_rd_bytes(r, ln);
        if (!p) return ENG_EPROTO;
        names[i] = eng_arena_strndup(a, p, ln);
        ENG_TRY(read_depth(r, a, &vals[i], depth + 1));
      }
      rec->n = (long)n;
      rec->names = names;
      rec->vals = vals;
      out->h = ENG_V_RECORD;
      out->p = (uint64_t)(uintptr_t)rec;
      break;
    }
    case ENG_V_ACC:
      out->h = ENG_V_ACC | (eng_rd_varint(r) << 8);
      out->p = 0;
      break;
    default:
      return ENG_EPROTO;
  }
  return r->bad ? ENG_EPROTO : 0;
}

int eng_val_read(eng_rd *r, eng_arena *a, eng_val *out) { return read_depth(r, a, out, 0); }

/* ------------------------------------------------------------------------ */
/* Raising from compiled code                                               */
/* ------------------------------------------------------------------------ */

static eng_raise_fn g_raise_hook;

void eng__set_raise_hook(eng_raise_fn fn) { g_raise_hook = fn; }

void eng__raise(int code, const char *fmt, ...) {
  eng_err e;
  va_list ap;
  va_start(ap, fmt);
  eng_err_vset(&e, code, fmt, ap);
  va_end(ap);
  if (g_raise_hook) g_raise_hook(&e); /* does not return when a guard is active */
  fprintf(stderr, "%s\n", e.msg);
  abort();
}
