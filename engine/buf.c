/* buf.c -- growable byte buffer and bounds-checked reader. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

void eng_buf_init(eng_buf *b) { memset(b, 0, sizeof *b); }

void eng_buf_free(eng_buf *b) {
  eng_free(b->data);
  eng_buf_init(b);
}

int eng_buf_reserve(eng_buf *b, size_t extra) {
  if (b->oom) return ENG_ENOMEM;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *d = eng_realloc(b->data, cap);
  if (!d) {
    b->oom = 1;
    return ENG_ENOMEM;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

int eng_buf_append(eng_buf *b, const void *p, size_t n) {
  ENG_TRY(eng_buf_reserve(b, n));
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int eng_buf_putc(eng_buf *b, char c) { return eng_buf_append(b, &c, 1); }
int eng_buf_puts(eng_buf *b, const char *s) { return eng_buf_append(b, s, strlen(s)); }

int eng_buf_printf(eng_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return ENG_ERROR;
  if ((size_t)n < sizeof tmp) return eng_buf_append(b, tmp, (size_t)n);
  ENG_TRY(eng_buf_reserve(b, (size_t)n));
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int eng_buf_u8(eng_buf *b, uint8_t v) { return eng_buf_append(b, &v, 1); }
int eng_buf_u32(eng_buf *b, uint32_t v) { return eng_buf_append(b, &v, 4); }
int eng_buf_i64(eng_buf *b, int64_t v) { return eng_buf_append(b, &v, 8); }

int eng_buf_varint(eng_buf *b, uint64_t v) {
  uint8_t tmp[10];
  int n = 0;
  while (v >= 0x80) {
    tmp[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  tmp[n++] = (uint8_t)v;
  return eng_buf_append(b, tmp, (size_t)n);
}

int eng_buf_align(eng_buf *b, size_t align) {
  static const char zeros[64];
  size_t pad = (align - b->len % align) % align;
  return eng_buf_append(b, zeros, pad);
}

char *eng_buf_take(eng_buf *b, size_t *out_len) {
  if (eng_buf_reserve(b, 0) < 0) return NULL;
  b->data[b->len] = 0;
  char *d = b->data;
  if (out_len) *out_len = b->len;
  eng_buf_init(b);
  return d;
}

const char *eng_buf_cstr(eng_buf *b) {
  if (eng_buf_reserve(b, 0) < 0) return "";
  b->data[b->len] = 0;
  return b->data;
}

void eng_rd_init(eng_rd *r, const void *p, size_t n) {
  r->p = p;
  r->end = (const char *)p + n;
  r->bad = 0;
}

const char *eng_rd_bytes(eng_rd *r, size_t n) {
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  const char *p = r->p;
  r->p += n;
  return p;
}

uint8_t eng_rd_u8(eng_rd *r) {
  const char *p = eng_rd_bytes(r, 1);
  return p ? (uint8_t)*p : 0;
}

uint32_t eng_rd_u32(eng_rd *r) {
  uint32_t v = 0;
  const char *p = eng_rd_bytes(r, 4);
  if (p) memcpy(&v, p, 4);
  return v;
}

int64_t eng_rd_i64(eng_rd *r) {
  int64_t v = 0;
  const char *p = eng_rd_bytes(r, 8);
  if (p) memcpy(&v, p, 8);
  return v;
}

uint64_t eng_rd_varint(eng_rd *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t c = eng_rd_u8(r);
    if (r->bad) return 0;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  r->bad = 1;
  return 0;
}

void eng_rd_align(eng_rd *r, const void *base, size_t align) {
  size_t off = (size_t)(r->p - (const char *)base);
  size_t pad = (align - off % align) % align;
  eng_rd_bytes(r, pad);
}
