/* eng_types.h -- the types every ember module shares: values, strings, errors.
 *
 * Ownership: eng_val and eng_str are plain 16-byte structs passed by value.
 *   They never own memory; the bytes they point to live in an arena or in a
 *   batch buffer, and every function that returns one says which.
 * Thread-safety: these are values; share them as freely as the memory they
 *   point into.
 * Errors: functions that can fail return int, 0 on success or a negative ENG_E*
 *   code, and fill a NULL-safe eng_err with "Class: detail".
 *
 * Why 16 bytes of two integer words: that is the one struct shape that gcc and
 * tcc (0.9.27) pass and return identically on x86-64 SysV (two INTEGER
 * eightbytes, in registers), so UDFs compiled by libtcc can call our helpers
 * and be called by the engine with values by value. A double is kept as its
 * bit pattern in the integer word for the same reason.
 */
#ifndef ENG_TYPES_H
#define ENG_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public API symbols are exported from libember; everything else is hidden. */
#define ENG_API __attribute__((visibility("default")))

/* ---- values ------------------------------------------------------------ */

/* Value kinds (low 8 bits of eng_val.h). Zero is None, so {0,0} is None. */
enum {
  ENG_V_NONE = 0,
  ENG_V_BOOL = 1,   /* p = 0 or 1 */
  ENG_V_LONG = 2,   /* p = the int64 */
  ENG_V_DOUBLE = 3, /* p = the IEEE-754 bits */
  ENG_V_STR = 4,    /* p = const char *, h >> 8 = byte length */
  ENG_V_TUPLE = 5,  /* p = const eng_val *, h >> 8 = arity (a pair is a 2-tuple) */
  ENG_V_LIST = 6,   /* p = const eng_val *, h >> 8 = length */
  ENG_V_BCAST = 7,  /* broadcast: p = const eng_val * (the value), h >> 8 = id */
  ENG_V_ACC = 8,    /* accumulator handle: h >> 8 = id, p = process-local slot */
  ENG_V_RECORD = 9, /* named tuple (stats()): p = const eng_record * */
};

typedef struct eng_val {
  uint64_t h; /* kind in bits 0..7, length / arity / id in bits 8..63 */
  uint64_t p; /* payload */
} eng_val;

/* A UTF-8 string view; not NUL-terminated in general. */
typedef struct eng_str {
  const char *ptr;
  long len;
} eng_str;

/* A named tuple: names[i] labels vals[i]. Used for stats() results. */
typedef struct eng_record {
  long n;
  const char *const *names;
  const eng_val *vals;
} eng_record;

#define ENG_VKIND(v) ((int)((v).h & 0xff))
#define ENG_VLEN(v) ((long)((v).h >> 8))

/* ---- errors ------------------------------------------------------------ */

enum {
  ENG_OK = 0,
  ENG_ERROR = -1,      /* generic failure, see message */
  ENG_ENOMEM = -2,     /* out of memory */
  ENG_EINVAL = -3,     /* ValueError: bad argument */
  ENG_ETYPE = -4,      /* TypeError */
  ENG_ECOMPILE = -5,   /* CompileError */
  ENG_EIO = -6,        /* IOError */
  ENG_ETASK = -7,      /* TaskFailed */
  ENG_ECANCEL = -8,    /* Cancelled */
  ENG_ELOST = -9,      /* ExecutorLost */
  ENG_EPROTO = -10,    /* ProtocolError: malformed message */
  ENG_EFETCH = -11,    /* a shuffle block could not be fetched (internal) */
  ENG_ECRASH = -12,    /* Crash: a signal in user code */
  ENG_EAUTH = -13,     /* AuthError */
};

#define ENG_ERR_MAX 1024

/* Error detail, filled by the function that fails. msg starts with the class
 * word ("TypeError: ..."). A NULL eng_err * is always accepted. */
typedef struct eng_err {
  int code;
  char msg[ENG_ERR_MAX];
} eng_err;

/* Propagate a failing int return code. */
#define ENG_TRY(expr)            \
  do {                           \
    int eng_try_rc_ = (expr);    \
    if (eng_try_rc_ < 0) return eng_try_rc_; \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif
