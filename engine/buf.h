/* buf.h -- a growable byte buffer for writing, and a bounds-checked reader.
 *
 * Ownership: eng_buf owns its bytes (eng_malloc); eng_buf_free releases them,
 *   eng_buf_take hands them to the caller (free with eng_free). eng_rd borrows
 *   the bytes it reads.
 * Thread-safety: one thread per buffer or reader.
 * Errors: writes return 0 or ENG_ENOMEM and leave the buffer sticky-failed
 *   (b->oom), so a sequence of writes can be checked once at the end. Reads
 *   past the end set r->bad and return zeros, checked once at the end too.
 */
#ifndef ENG_BUF_H
#define ENG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "eng_types.h"

typedef struct eng_buf {
  char *data;
  size_t len, cap;
  int oom;
} eng_buf;

ENG_API void eng_buf_init(eng_buf *b);
ENG_API void eng_buf_free(eng_buf *b);
ENG_API int eng_buf_reserve(eng_buf *b, size_t extra);
ENG_API int eng_buf_append(eng_buf *b, const void *p, size_t n);
ENG_API int eng_buf_putc(eng_buf *b, char c);
ENG_API int eng_buf_puts(eng_buf *b, const char *s);
ENG_API int eng_buf_printf(eng_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ENG_API int eng_buf_u8(eng_buf *b, uint8_t v);
ENG_API int eng_buf_u32(eng_buf *b, uint32_t v);
ENG_API int eng_buf_i64(eng_buf *b, int64_t v);
ENG_API int eng_buf_varint(eng_buf *b, uint64_t v);
/* Pads with zero bytes to a multiple of `align`. */
ENG_API int eng_buf_align(eng_buf *b, size_t align);
/* NUL-terminates (not counted in len) and returns the bytes; buffer empties. */
ENG_API char *eng_buf_take(eng_buf *b, size_t *out_len);
ENG_API const char *eng_buf_cstr(eng_buf *b);

typedef struct eng_rd {
  const char *p, *end;
  int bad;
} eng_rd;

ENG_API void eng_rd_init(eng_rd *r, const void *p, size_t n);
ENG_API uint8_t eng_rd_u8(eng_rd *r);
ENG_API uint32_t eng_rd_u32(eng_rd *r);
ENG_API int64_t eng_rd_i64(eng_rd *r);
ENG_API uint64_t eng_rd_varint(eng_rd *r);
/* Returns a pointer to n bytes inside the input, or NULL (and bad) if short. */
ENG_API const char *eng_rd_bytes(eng_rd *r, size_t n);
ENG_API void eng_rd_align(eng_rd *r, const void *base, size_t align);
static inline size_t eng_rd_left(const eng_rd *r) { return (size_t)(r->end - r->p); }

#endif
