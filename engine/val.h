/* val.h -- dynamic values (eng_val): make, read, compare, hash, copy, serialize.
 *
 * Values follow Python's semantics, because ember's results must read and
 * behave as PySpark's: 1 == 1.0 == True, hash(1) == hash(1.0), ordering across
 * int/float, tuples compare element-wise, None is not orderable.
 *
 * Ownership: constructors that need memory (tuples, lists, copied strings)
 *   take an explicit arena, or use the thread's current arena where the name
 *   says _cur. Values never own memory; see eng_types.h.
 * Thread-safety: pure functions over values, except eng__raise (per thread).
 * Errors: functions that can fail return 0 / ENG_E* with an eng_err. The
 *   *_or_raise helpers used by compiled user code call eng__raise instead,
 *   which unwinds to the nearest guarded call (udf_guard.h) in this thread.
 */
#ifndef ENG_VAL_H
#define ENG_VAL_H

#include <string.h>

#include "arena.h"
#include "buf.h"
#include "eng_types.h"

/* ---- making values (no allocation) ------------------------------------- */

static inline eng_val eng_none(void) {
  eng_val v = {ENG_V_NONE, 0};
  return v;
}
static inline eng_val eng_bool(int b) {
  eng_val v = {ENG_V_BOOL, b ? 1u : 0u};
  return v;
}
static inline eng_val eng_long(int64_t x) {
  eng_val v = {ENG_V_LONG, (uint64_t)x};
  return v;
}
static inline eng_val eng_double(double d) {
  eng_val v = {ENG_V_DOUBLE, 0};
  memcpy(&v.p, &d, 8);
  return v;
}
/* A view of len bytes at p; the bytes must outlive the value. */
static inline eng_val eng_strv(const char *p, long len) {
  eng_val v = {ENG_V_STR | ((uint64_t)len << 8), (uint64_t)(uintptr_t)p};
  return v;
}
static inline eng_val eng_seqv(int kind, const eng_val *items, long n) {
  eng_val v = {(uint64_t)kind | ((uint64_t)n << 8), (uint64_t)(uintptr_t)items};
  return v;
}

/* ---- reading values (no checks; see eng_val_as_* for checked reads) ----- */

static inline int64_t eng_v_long(eng_val v) { return (int64_t)v.p; }
static inline double eng_v_double(eng_val v) {
  double d;
  memcpy(&d, &v.p, 8);
  return d;
}
static inline const char *eng_v_ptr(eng_val v) { return (const char *)(uintptr_t)v.p; }
static inline const eng_val *eng_v_items(eng_val v) {
  return (const eng_val *)(uintptr_t)v.p;
}
static inline eng_str eng_v_str(eng_val v) {
  eng_str s = {eng_v_ptr(v), ENG_VLEN(v)};
  return s;
}
/* A broadcast reads as the value it holds; every helper derefs first. */
static inline eng_val eng_deref(eng_val v) {
  return ENG_VKIND(v) == ENG_V_BCAST ? *eng_v_items(v) : v;
}
static inline int eng_is_seq(eng_val v) {
  int k = ENG_VKIND(v);
  return k == ENG_V_TUPLE || k == ENG_V_LIST;
}
static inline int eng_is_num(eng_val v) {
  int k = ENG_VKIND(v);
  return k == ENG_V_BOOL || k == ENG_V_LONG || k == ENG_V_DOUBLE;
}

/* ---- making values that need memory ------------------------------------ */

/* n items copied into new storage from arena a (the items' own memory is
 * shared, not copied). Returns None on out-of-memory. */
ENG_API eng_val eng_tuple(eng_arena *a, const eng_val *items, long n);
ENG_API eng_val eng_list(eng_arena *a, const eng_val *items, long n);
ENG_API eng_val eng_pair(eng_arena *a, eng_val k, eng_val v);
/* A copy of the bytes in arena a. */
ENG_API eng_val eng_str_copy(eng_arena *a, const char *p, long len);
/* Deep copy: strings, tuples and lists re-allocated in arena a. Broadcast
 * and accumulator handles are copied as handles. */
ENG_API eng_val eng_val_copy(eng_arena *a, eng_val v);
/* Bytes eng_val_copy would allocate for v (an estimate for memory limits). */
ENG_API size_t eng_val_deep_size(eng_val v);

/* A growable list being built (emit(), collect results, group values). The
 * items live in arena a; eng_vlist_finish returns a list value over them. */
typedef struct eng_vlist {
  eng_val *items;
  long n, cap;
  eng_arena *a;
} eng_vlist;
ENG_API void eng_vlist_init(eng_vlist *l, eng_arena *a);
ENG_API int eng_vlist_push(eng_vlist *l, eng_val v);
ENG_API eng_val eng_vlist_finish(eng_vlist *l, int kind);

/* ---- names and checked access ------------------------------------------ */

/* Python's type name of v: "NoneType", "bool", "int", "float", "str",
 * "tuple", "list", "broadcast", "accumulator", "StatCounter". */
ENG_API const char *eng_val_type_name(eng_val v);

/* Checked conversions. Numeric ones accept bool/int/float as Python's int()
 * and float() would not: only int->float widening and bool->int, since a
 * silent float->int truncation would hide bugs. They return 0 or ENG_ETYPE. */
ENG_API int eng_val_as_long(eng_val v, int64_t *out, eng_err *err);
ENG_API int eng_val_as_double(eng_val v, double *out, eng_err *err);
ENG_API int eng_val_as_str(eng_val v, eng_str *out, eng_err *err);
/* Python truthiness: None, False, 0, 0.0, '' and empty sequences are false. */
ENG_API int eng_val_truthy(eng_val v);

/* ---- Python semantics --------------------------------------------------- */

/* Python ==. */
ENG_API int eng_val_eq(eng_val a, eng_val b);
/* Python ordering: sets *out to -1/0/1; ENG_ETYPE when Python would raise
 * ("'<' not supported between instances of 'str' and 'int'"). */
ENG_API int eng_val_cmp(eng_val a, eng_val b, int *out, eng_err *err);
/* Total order for sorting (never fails): Python's order where defined, then
 * by type (None < numbers < str < tuple < list). Used for shuffles' internal
 * sorts; user-visible sorts use eng_val_cmp and report TypeError. */
ENG_API int eng_val_cmp_total(eng_val a, eng_val b);
/* PySpark's portable_hash (PYTHONHASHSEED=0): the same partition of a key as
 * PySpark picks. Equal values (by eng_val_eq) hash equal. */
ENG_API int64_t eng_val_hash(eng_val v);
/* Python's a + b (numbers, str, tuple, list concatenation); arena for results. */
ENG_API int eng_val_add(eng_arena *a, eng_val x, eng_val y, eng_val *out, eng_err *err);

/* ---- text (valfmt.c) ---------------------------------------------------- */

/* Python repr(v) appended to b: None True 42 2.5 'a' ('a', 1) [1, 2]. */
ENG_API int eng_val_repr(eng_buf *b, eng_val v);
/* Python str(v): strings without quotes, everything else as repr. */
ENG_API int eng_val_str(eng_buf *b, eng_val v);
/* The shortest text that reads back as d, in Python's repr form. */
ENG_API int eng_double_repr(char *out, size_t cap, double d);

/* ---- serialization ------------------------------------------------------ */

/* Appends a self-describing encoding of v (broadcasts as their value). */
ENG_API int eng_val_write(eng_buf *b, eng_val v);
/* Reads one value; strings point into the input (zero copy), tuples and
 * lists are allocated in arena a. Returns 0 or ENG_EPROTO. */
ENG_API int eng_val_read(eng_rd *r, eng_arena *a, eng_val *out);

/* ---- raising from compiled user code ------------------------------------ */

/* Unwinds to the innermost guarded call of this thread (udf_guard.h) with
 * code and message; never returns. Without a guard it prints and aborts. */
ENG_API void eng__raise(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
/* Installed by udf_guard: called by eng__raise with the formatted error. */
typedef void (*eng_raise_fn)(const eng_err *err);
ENG_API void eng__set_raise_hook(eng_raise_fn fn);

#endif
