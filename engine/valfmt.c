/* valfmt.c -- the text of values: Python's repr() and str() of an eng_val.
 *
 * ember's results must print exactly as PySpark prints them, so every value
 * is rendered the way CPython 3 renders the Python object it stands for:
 * None, True, 42, 2.5, 1e+16, 'text', ('a', 1), [1, 2], and the PySpark
 * objects (Accumulator, StatCounter) as their __repr__/__str__ do.
 *
 * Ownership: output is appended to a caller-owned eng_buf; nothing else is
 *   allocated (no per-value malloc), so printing a million values costs only
 *   the buffer's own growth.
 * Thread-safety: pure functions; the only shared state is a const table.
 * Errors: eng_val_repr and eng_val_str return 0 or ENG_ENOMEM (the buffer
 *   stays sticky-failed, see buf.h).
 *
 * Choices where ember's values can hold what a Python str cannot:
 * - A byte sequence that is not valid UTF-8 (overlong forms, encoded
 *   surrogates, code points above U+10FFFF, stray or missing continuation
 *   bytes) is printed byte by byte as \xNN. Python would have refused to
 *   decode it, so there is no exact counterpart; \xNN keeps the output
 *   ASCII-safe and shows the offending bytes.
 * - Non-printable code points are escaped as CPython 3.11 does (Unicode 14:
 *   categories Cc, Cf, Co, Zs other than space, Zl, Zp). Unassigned code
 *   points (category Cn, which CPython also escapes) pass through as they
 *   are, because their list changes with every Unicode version.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "val.h"

/* Nesting deeper than this prints "..." instead of recursing further. */
#define VALFMT_MAX_DEPTH 1000

/* Bytes that always suffice for eng_double_repr's output plus its NUL. */
#define VALFMT_DOUBLE_MAX 32

/* ---- doubles ------------------------------------------------------------ */

/* A positive decimal number d[0].d[1]...d[n-1] * 10^exp, digits as ASCII. */
typedef struct dec {
  char d[24];
  int n;
  int exp;
} dec;

/* Parses snprintf's "%.*e" output (d.ddde+XX) into a dec. Any character
 * between the digits (the locale's decimal point) is skipped. */
static void dec_parse_e(const char *s, dec *out) {
  out->n = 0;
  for (; *s && *s != 'e' && *s != 'E'; s++)
    if (*s >= '0' && *s <= '9' && out->n < (int)sizeof out->d) out->d[out->n++] = *s;
  out->exp = *s ? atoi(s + 1) : 0;
}

/* Adds one unit in the last place, carrying into a new leading digit. */
static void dec_inc(dec *x) {
  int i = x->n - 1;
  while (i >= 0 && x->d[i] == '9') x->d[i--] = '0';
  if (i >= 0) {
    x->d[i]++;
    return;
  }
  /* 99..9 + 1 = 100..0: the same number of digits, one decade up. */
  x->d[0] = '1';
  x->exp++;
}

/* Subtracts one unit in the last place. Below 10^k the grid of n-digit
 * numbers is ten times finer, so 100..0 steps down to 99..9 one decade
 * lower, which is the nearest n-digit number below it. */
static void dec_dec(dec *x) {
  int i = x->n - 1;
  int pow10 = x->d[0] == '1';
  for (int j = 1; j < x->n && pow10; j++) pow10 = x->d[j] == '0';
  if (pow10) {
    memset(x->d, '9', (size_t)x->n);
    x->exp--;
    return;
  }
  while (x->d[i] == '0') x->d[i--] = '9';
  x->d[i]--;
}

/* Reads x back with strtod. Returns 1 when it gives exactly a; otherwise 0
 * with *side = -1 when x < a and +1 when x > a. The text is an integer
 * mantissa and an exponent ("123e-5"), so no locale's decimal point is
 * involved. */
static int dec_roundtrips(const dec *x, double a, int *side) {
  char s[48];
  memcpy(s, x->d, (size_t)x->n);
  int k = x->n;
  int e = x->exp - (x->n - 1);
  s[k++] = 'e';
  if (e < 0) {
    s[k++] = '-';
    e = -e;
  }
  char rev[8];
  int m = 0;
  do {
    rev[m++] = (char)('0' + e % 10);
    e /= 10;
  } while (e);
  while (m) s[k++] = rev[--m];
  s[k] = 0;
  double r = strtod(s, NULL);
  if (r == a) return 1;
  *side = r < a ? -1 : 1;
  return 0;
}

/* The p-digit decimal nearest to a (p < 17), given d17 = a correctly
 * rounded to 17 digits. Rounding d17 to p digits gives the same as rounding
 * a unless a p-digit midpoint lies between a and d17, or on d17. Such a
 * midpoint has p + 1 <= 17 digits, and no 17-digit number lies strictly
 * between a and d17, its nearest; so only a d17 that is itself a midpoint
 * (tail exactly 50..0) is in doubt, and then snprintf rounds a itself. */
static void dec_round(const dec *d17, int p, double a, dec *z) {
  if (p >= d17->n) {
    *z = *d17;
    return;
  }
  int tie = d17->d[p] == '5';
  for (int i = p + 1; i < d17->n && tie; i++) tie = d17->d[i] == '0';
  if (tie) {
    char s[48];
    snprintf(s, sizeof s, "%.*e", p - 1, a);
    dec_parse_e(s, z);
    return;
  }
  memcpy(z->d, d17->d, (size_t)p);
  z->n = p;
  z->exp = d17->exp;
  if (d17->d[p] >= '5') dec_inc(z);
}

/* Whether some p-digit decimal reads back as a; if so *out is the one
 * closest to a. The p-digit numbers in a's rounding interval, if any, lie
 * on one side of a, and the nearest one on that side is then among them:
 * that is the nearest p-digit number z, or failing that its neighbour on
 * the other side of a (the interval is lopsided at powers of two, so z can
 * miss while its neighbour hits). This is Python's choice too: the shortest
 * digits, and among those the closest. */
static int dec_try(const dec *d17, int p, double a, dec *out) {
  int side = 0;
  dec_round(d17, p, a, out);
  if (dec_roundtrips(out, a, &side)) return 1;
  if (side < 0)
    dec_inc(out);
  else
    dec_dec(out);
  return dec_roundtrips(out, a, &side);
}

/* Sets out to the decimal m * 10^-k (m > 0), without trailing zeros. */
static void dec_from_int(uint64_t m, int k, dec *out) {
  char rev[20];
  int n = 0;
  while (m % 10 == 0) {
    m /= 10;
    k--;
  }
  do {
    rev[n++] = (char)('0' + m % 10);
    m /= 10;
  } while (m);
  out->exp = n - 1 - k;
  out->n = 0;
  while (n) out->d[out->n++] = rev[--n];
}

/* Exact powers of ten as doubles (10^22 is the last one). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The shortest digits that read back as a (positive, finite, nonzero).
 *
 * Two fast paths cover the usual data. An integer below 2^53 reads back
 * only from decimals within 1/2 of it, and any decimal that close other
 * than itself has a fractional digit, hence more digits; so its own digits
 * are the shortest. A number that is some decimal m / 10^k of at most 15 digits is
 * found by trying k = 1, 2, ...: m and 10^k (k <= 22) are exact doubles and
 * IEEE division rounds correctly, so m / 10^k == a proves that decimal reads
 * back as a; no other decimal of at most 15 digits reads back as the same
 * double (DBL_DIG), so it is the shortest, and the smallest k strips it.
 *
 * Otherwise: "some p-digit number round-trips" holds for p = 17 and stays
 * true as p grows (a p-digit number is also a (p+1)-digit one), so the
 * least such p is found by bisection: one snprintf and a few strtod calls. */
static void dec_shortest(double a, dec *out) {
  if (a < 9007199254740992.0 && a == floor(a)) {
    dec_from_int((uint64_t)a, 0, out);
    return;
  }
  if (a >= 1e-7 && a < 1e15) {
    for (int k = 1; k <= 22; k++) {
      double t = a * pow10_exact[k];
      if (t >= 1e15) break;
      double m = nearbyint(t);
      if (m > 0 && m / pow10_exact[k] == a) {
        dec_from_int((uint64_t)m, k, out);
        return;
      }
    }
  }
  char s[48];
  dec d17;
  snprintf(s, sizeof s, "%.16e", a);
  dec_parse_e(s, &d17);
  /* d17 without its trailing zeros is the same number, so it round-trips. */
  int hi = d17.n;
  while (hi > 1 && d17.d[hi - 1] == '0') hi--;
  d17.n = hi;
  *out = d17;
  int lo = 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    dec cand;
    if (dec_try(&d17, mid, a, &cand)) {
      hi = mid;
      *out = cand;
    } else {
      lo = mid + 1;
    }
  }
  while (out->n > 1 && out->d[out->n - 1] == '0') out->n--;
}

/* Writes x in Python's repr layout: scientific when the exponent is below
 * -4 or at least 16 (1e+16, 1.5e-05), positional otherwise with at least
 * one digit after the point (1.0, 0.0001, 123456789.0). Returns the length. */
static int dec_layout(const dec *x, int neg, char *o) {
  int k = 0;
  if (neg) o[k++] = '-';
  if (x->exp < -4 || x->exp >= 16) {
    o[k++] = x->d[0];
    if (x->n > 1) {
      o[k++] = '.';
      memcpy(o + k, x->d + 1, (size_t)(x->n - 1));
      k += x->n - 1;
    }
    int e = x->exp;
    o[k++] = 'e';
    o[k++] = e < 0 ? '-' : '+';
    if (e < 0) e = -e;
    if (e >= 100) o[k++] = (char)('0' + e / 100);
    o[k++] = (char)('0' + e / 10 % 10);
    o[k++] = (char)('0' + e % 10);
    return k;
  }
  int decpt = x->exp + 1; /* Digits before the point. */
  if (decpt <= 0) {
    o[k++] = '0';
    o[k++] = '.';
    for (int i = 0; i < -decpt; i++) o[k++] = '0';
    memcpy(o + k, x->d, (size_t)x->n);
    k += x->n;
  } else if (decpt >= x->n) {
    memcpy(o + k, x->d, (size_t)x->n);
    k += x->n;
    for (int i = x->n; i < decpt; i++) o[k++] = '0';
    o[k++] = '.';
    o[k++] = '0';
  } else {
    memcpy(o + k, x->d, (size_t)decpt);
    k += decpt;
    o[k++] = '.';
    memcpy(o + k, x->d + decpt, (size_t)(x->n - decpt));
    k += x->n - decpt;
  }
  return k;
}

/* Python's repr(float) into out: writes at most cap - 1 characters and a
 * NUL (when cap > 0) and returns the full length, like snprintf. 32 bytes
 * always suffice. */
int eng_double_repr(char *out, size_t cap, double d) {
  char tmp[VALFMT_DOUBLE_MAX];
  int len;
  if (isnan(d)) {
    memcpy(tmp, "nan", 3);
    len = 3;
  } else if (isinf(d)) {
    len = d < 0 ? 4 : 3;
    memcpy(tmp, d < 0 ? "-inf" : "inf", (size_t)len);
  } else if (d == 0) {
    len = signbit(d) ? 4 : 3;
    memcpy(tmp, signbit(d) ? "-0.0" : "0.0", (size_t)len);
  } else {
    dec x;
    dec_shortest(fabs(d), &x);
    len = dec_layout(&x, d < 0, tmp);
  }
  if (cap) {
    size_t n = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
    memcpy(out, tmp, n);
    out[n] = 0;
  }
  return len;
}

/* ---- strings ------------------------------------------------------------ */

/* Non-printable assigned code points at or above U+0080, as CPython 3.11's
 * str.isprintable() (Unicode 14.0) reports them, surrogates left out. Made
 * with: for c in range(0x80, 0x110000): skip surrogates, printable ones and
 * category Cn; merge consecutive code points into ranges. */
static const uint32_t nonprint[][2] = {
    {0x80, 0xa0},       {0xad, 0xad},       {0x600, 0x605},     {0x61c, 0x61c},
    {0x6dd, 0x6dd},     {0x70f, 0x70f},     {0x890, 0x891},     {0x8e2, 0x8e2},
    {0x1680, 0x1680},   {0x180e, 0x180e},   {0x2000, 0x200f},   {0x2028, 0x202f},
    {0x205f, 0x2064},   {0x2066, 0x206f},   {0x3000, 0x3000},   {0xe000, 0xf8ff},
    {0xfeff, 0xfeff},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x13438}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f}, {0xf0000, 0xffffd}, {0x100000, 0x10fffd},
};

/* Whether Python prints code point cp (>= 0x80) as itself in a repr. */
static int cp_printable(uint32_t cp) {
  size_t lo = 0, hi = sizeof nonprint / sizeof nonprint[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < nonprint[mid][0])
      hi = mid;
    else if (cp > nonprint[mid][1])
      lo = mid + 1;
    else
      return 0;
  }
  return 1;
}

/* Decodes one UTF-8 sequence starting at s (n bytes available, s[0] >=
 * 0x80). Returns its length and sets *cp, or 0 if it is not valid UTF-8
 * (overlong, surrogate, above U+10FFFF, truncated, or a stray byte). */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned c = s[0];
  if (c < 0xc2) return 0;
  if (c < 0xe0) {
    if (n < 2 || (s[1] & 0xc0) != 0x80) return 0;
    *cp = (c & 0x1fu) << 6 | (s[1] & 0x3fu);
    return 2;
  }
  if (c < 0xf0) {
    if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
    uint32_t v = (c & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
    if (v < 0x800 || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return 3;
  }
  if (c < 0xf5) {
    if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
      return 0;
    uint32_t v = (c & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    if (v < 0x10000 || v > 0x10ffff) return 0;
    *cp = v;
    return 4;
  }
  return 0;
}

/* Appends a backslash escape of cp: \xNN, \uNNNN or \UNNNNNNNN, lowercase
 * hex, the shortest form that holds it, as Python does. */
static int put_hex_escape(eng_buf *b, uint32_t cp) {
  static const char hex[] = "0123456789abcdef";
  char s[10];
  int digits = cp <= 0xff ? 2 : cp <= 0xffff ? 4 : 8;
  s[0] = '\\';
  s[1] = digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
  for (int i = 0; i < digits; i++) s[2 + i] = hex[(cp >> (4 * (digits - 1 - i))) & 0xf];
  return eng_buf_append(b, s, (size_t)(2 + digits));
}

/* Python's repr of a str: quoted with ' unless the text holds ' and no ",
 * with \\, the quote, \n, \r, \t and non-printable characters escaped.
 * Runs of characters that need no escape are copied in one append. */
static int str_repr(eng_buf *b, const unsigned char *s, size_t n) {
  if (!n) return eng_buf_append(b, "''", 2);
  char q = '\'';
  if (memchr(s, '\'', n) && !memchr(s, '"', n)) q = '"';
  ENG_TRY(eng_buf_reserve(b, n + 2));
  ENG_TRY(eng_buf_putc(b, q));
  size_t run = 0, i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != (unsigned char)q) {
      i++;
      continue;
    }
    uint32_t cp = c;
    int len = 1;
    if (c >= 0x80) {
      len = utf8_decode(s + i, n - i, &cp);
      if (len && cp_printable(cp)) {
        i += (size_t)len;
        continue;
      }
      if (!len) {
        cp = c; /* An invalid byte prints as itself, \xNN. */
        len = 1;
      }
    }
    ENG_TRY(eng_buf_append(b, s + run, i - run));
    if (c == '\\' || c == (unsigned char)q) {
      char e[2] = {'\\', (char)c};
      ENG_TRY(eng_buf_append(b, e, 2));
    } else if (c == '\n') {
      ENG_TRY(eng_buf_append(b, "\\n", 2));
    } else if (c == '\r') {
      ENG_TRY(eng_buf_append(b, "\\r", 2));
    } else if (c == '\t') {
      ENG_TRY(eng_buf_append(b, "\\t", 2));
    } else {
      ENG_TRY(put_hex_escape(b, cp));
    }
    i += (size_t)len;
    run = i;
  }
  ENG_TRY(eng_buf_append(b, s + run, n - run));
  return eng_buf_putc(b, q);
}

/* ---- values ------------------------------------------------------------- */

/* Appends the decimal text of x. */
static int put_long(eng_buf *b, int64_t x) {
  char s[24];
  int k = (int)sizeof s;
  uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
  do {
    s[--k] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (x < 0) s[--k] = '-';
  return eng_buf_append(b, s + k, sizeof s - (size_t)k);
}

/* Appends repr(d), formatting straight into the buffer's free space. */
static int put_double(eng_buf *b, double d) {
  ENG_TRY(eng_buf_reserve(b, VALFMT_DOUBLE_MAX));
  b->len += (size_t)eng_double_repr(b->data + b->len, VALFMT_DOUBLE_MAX, d);
  return 0;
}

static int fmt_val(eng_buf *b, eng_val v, int depth, int as_str);

/* Appends the items of a tuple or list between open and close, each as its
 * repr; a one-element tuple gets Python's trailing comma. */
static int fmt_seq(eng_buf *b, eng_val v, int depth, char open, char close) {
  const eng_val *it = eng_v_items(v);
  long n = ENG_VLEN(v);
  ENG_TRY(eng_buf_putc(b, open));
  for (long i = 0; i < n; i++) {
    if (i) ENG_TRY(eng_buf_append(b, ", ", 2));
    ENG_TRY(fmt_val(b, it[i], depth + 1, 0));
  }
  if (n == 1 && open == '(') ENG_TRY(eng_buf_putc(b, ','));
  return eng_buf_putc(b, close);
}

/* The value an accumulator handle points at, or None if it has none. */
static eng_val acc_value(eng_val v) {
  const eng_val *p = eng_v_items(v);
  return p ? *p : eng_none();
}

/* Appends repr(v), or str(v) when as_str. Only the outermost value and the
 * fields PySpark formats with %s are str; container items are repr. depth
 * counts enclosing values, to stop runaway nesting. */
static int fmt_val(eng_buf *b, eng_val v, int depth, int as_str) {
  if (depth > VALFMT_MAX_DEPTH) return eng_buf_append(b, "...", 3);
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE:
      return eng_buf_append(b, "None", 4);
    case ENG_V_BOOL:
      return v.p ? eng_buf_append(b, "True", 4) : eng_buf_append(b, "False", 5);
    case ENG_V_LONG:
      return put_long(b, eng_v_long(v));
    case ENG_V_DOUBLE:
      return put_double(b, eng_v_double(v));
    case ENG_V_STR:
      if (as_str) return eng_buf_append(b, eng_v_ptr(v), (size_t)ENG_VLEN(v));
      return str_repr(b, (const unsigned char *)eng_v_ptr(v), (size_t)ENG_VLEN(v));
    case ENG_V_TUPLE:
      return fmt_seq(b, v, depth, '(', ')');
    case ENG_V_LIST:
      return fmt_seq(b, v, depth, '[', ']');
    case ENG_V_BCAST:
      /* A broadcast reads as the value it holds. */
      if (!v.p) return eng_buf_append(b, "None", 4);
      return fmt_val(b, eng_deref(v), depth + 1, as_str);
    case ENG_V_ACC:
      /* PySpark: __str__ is str(value); __repr__ is
       * "Accumulator<id=%i, value=%s>", so the value is str() there too. */
      if (as_str) return fmt_val(b, acc_value(v), depth + 1, 1);
      ENG_TRY(eng_buf_append(b, "Accumulator<id=", 15));
      ENG_TRY(put_long(b, ENG_VLEN(v)));
      ENG_TRY(eng_buf_append(b, ", value=", 8));
      ENG_TRY(fmt_val(b, acc_value(v), depth + 1, 1));
      return eng_buf_putc(b, '>');
    case ENG_V_RECORD: {
      /* StatCounter's repr: "(count: %s, mean: %s, ...)". */
      const eng_record *r = (const eng_record *)(uintptr_t)v.p;
      ENG_TRY(eng_buf_putc(b, '('));
      for (long i = 0; r && i < r->n; i++) {
        if (i) ENG_TRY(eng_buf_append(b, ", ", 2));
        ENG_TRY(eng_buf_puts(b, r->names[i]));
        ENG_TRY(eng_buf_append(b, ": ", 2));
        ENG_TRY(fmt_val(b, r->vals[i], depth + 1, 1));
      }
      return eng_buf_putc(b, ')');
    }
    default:
      /* Not a kind ember makes; say so rather than print raw words. */
      ENG_TRY(eng_buf_append(b, "<invalid value kind ", 20));
      ENG_TRY(put_long(b, ENG_VKIND(v)));
      return eng_buf_putc(b, '>');
  }
}

/* Python repr(v) appended to b. */
int eng_val_repr(eng_buf *b, eng_val v) {
  int rc = fmt_val(b, v, 0, 0);
  return rc < 0 || b->oom ? ENG_ENOMEM : 0;
}

/* Python str(v) appended to b. */
int eng_val_str(eng_buf *b, eng_val v) {
  int rc = fmt_val(b, v, 0, 1);
  return rc < 0 || b->oom ? ENG_ENOMEM : 0;
}
