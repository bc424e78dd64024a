/* err.h -- filling eng_err: a code plus "Class: detail".
 *
 * Ownership: eng_err is caller-owned (usually on the stack or in a session).
 * Thread-safety: functions touch only the eng_err passed in.
 * Errors: these functions return the code they were given, so a caller can
 *   write `return eng_err_set(err, ENG_ETYPE, "...")`.
 */
#ifndef ENG_ERR_H
#define ENG_ERR_H

#include <stdarg.h>
#include "eng_types.h"

/* Sets code and message; fmt should start with the class word. */
ENG_API int eng_err_set(eng_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ENG_API int eng_err_vset(eng_err *err, int code, const char *fmt, va_list ap);
ENG_API void eng_err_clear(eng_err *err);
ENG_API void eng_err_copy(eng_err *dst, const eng_err *src);
/* The class word for a code, e.g. "TypeError" for ENG_ETYPE. */
ENG_API const char *eng_err_class(int code);
/* The error code for a class word at the start of msg (reverse mapping). */
ENG_API int eng_err_code_of(const char *msg);

#endif
