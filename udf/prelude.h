/* prelude.h -- what every UDF and cell sees before its own code (SPEC 3-4).
 *
 * This file is not compiled by gcc: it is embedded in the binary as text and
 * handed to libtcc in front of every UDF and cell. It declares the subset of
 * libc that user code may call and sets glibc's include guards, because
 * parsing the real <stdio.h>, <stdlib.h>, <string.h>, <math.h> and <ctype.h>
 * costs about 3 ms per compile with tcc and this costs about 0.1 ms. A cell
 * that includes any other header gets the real one.
 *
 * Every value helper is a macro over an extern function named eng_fn_* that
 * the host registers with tcc_add_symbol; _Generic lets helpers accept C
 * scalars, string literals, str and val alike.
 */
#define _STDIO_H 1
#define _STDLIB_H 1
#define _STRING_H 1
#define _STRINGS_H 1
#define _MATH_H 1
#define _CTYPE_H 1
#define _STDINT_H 1
#define _LIBC_LIMITS_H_ 1
#define _LIMITS_H___ 1
#define _ERRNO_H 1
#include <stddef.h>
#include <stdbool.h>
/* true and false are bools, not ints, so that list(true) prints True as
 * Python does. (Not usable in #if; C code rarely writes `#if true`.) */
#undef true
#undef false
#define true ((_Bool)1)
#define false ((_Bool)0)
#include <stdarg.h>

/* ---- <stdint.h>, <limits.h> --------------------------------------------- */
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
typedef long ssize_t;
typedef long intmax_t;
typedef unsigned long uintmax_t;
typedef signed char int_least8_t;
typedef short int_least16_t;
typedef int int_least32_t;
typedef long int_least64_t;
typedef unsigned char uint_least8_t;
typedef unsigned short uint_least16_t;
typedef unsigned int uint_least32_t;
typedef unsigned long uint_least64_t;
typedef signed char int_fast8_t;
typedef long int_fast16_t;
typedef long int_fast32_t;
typedef long int_fast64_t;
typedef unsigned char uint_fast8_t;
typedef unsigned long uint_fast16_t;
typedef unsigned long uint_fast32_t;
typedef unsigned long uint_fast64_t;
#define INTMAX_MIN INT64_MIN
#define INTMAX_MAX INT64_MAX
#define UINTMAX_MAX UINT64_MAX
#define SIZE_MAX UINT64_MAX
#define INT8_MIN (-128)
#define INT8_MAX 127
#define UINT8_MAX 255
#define INT16_MIN (-32768)
#define INT16_MAX 32767
#define UINT16_MAX 65535
#define INT32_MIN (-2147483647 - 1)
#define INT32_MAX 2147483647
#define UINT32_MAX 4294967295U
#define INT64_MIN (-9223372036854775807L - 1)
#define INT64_MAX 9223372036854775807L
#define UINT64_MAX 18446744073709551615UL
#define CHAR_BIT 8
#define SCHAR_MIN (-128)
#define SCHAR_MAX 127
#define UCHAR_MAX 255
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#define SHRT_MIN (-32768)
#define SHRT_MAX 32767
#define USHRT_MAX 65535
#define INT_MIN (-2147483647 - 1)
#define INT_MAX 2147483647
#define UINT_MAX 4294967295U
#define LONG_MIN (-9223372036854775807L - 1)
#define LONG_MAX 9223372036854775807L
#define ULONG_MAX 18446744073709551615UL
#define LLONG_MIN LONG_MIN
#define LLONG_MAX LONG_MAX
#define ULLONG_MAX ULONG_MAX
/* The end of glibc's <limits.h> lies outside its include guard and asks
 * <features.h> which extensions are on; this is <features.h>'s own
 * definition (so that header may define it again), and none are. */
#define __GLIBC_USE(F) __GLIBC_USE_##F

/* ---- <errno.h> ---------------------------------------------------------- */
extern int *__errno_location(void);
#define errno (*__errno_location())

/* ---- <stdio.h> ---------------------------------------------------------- */
typedef struct _IO_FILE FILE;
extern FILE *stdin;
extern FILE *stdout;
extern FILE *stderr;
#define EOF (-1)
#define BUFSIZ 8192
int printf(const char *fmt, ...);
int fprintf(FILE *f, const char *fmt, ...);
int sprintf(char *s, const char *fmt, ...);
int snprintf(char *s, size_t n, const char *fmt, ...);
int vprintf(const char *fmt, va_list ap);
int vfprintf(FILE *f, const char *fmt, va_list ap);
int vsnprintf(char *s, size_t n, const char *fmt, va_list ap);
int sscanf(const char *s, const char *fmt, ...);
int fscanf(FILE *f, const char *fmt, ...);
int puts(const char *s);
int putchar(int c);
int fputs(const char *s, FILE *f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
int fgetc(FILE *f);
int getc(FILE *f);
int getchar(void);
char *fgets(char *s, int n, FILE *f);
FILE *fopen(const char *path, const char *mode);
int fclose(FILE *f);
size_t fread(void *p, size_t size, size_t n, FILE *f);
size_t fwrite(const void *p, size_t size, size_t n, FILE *f);
int fflush(FILE *f);
int fseek(FILE *f, long off, int whence);
long ftell(FILE *f);
int feof(FILE *f);
int ferror(FILE *f);
ssize_t getline(char **line, size_t *n, FILE *f);
void perror(const char *s);
int remove(const char *path);
int rename(const char *from, const char *to);
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

/* ---- <stdlib.h> --------------------------------------------------------- */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
int abs(int x);
long labs(long x);
long long llabs(long long x);
int atoi(const char *s);
long atol(const char *s);
double atof(const char *s);
long strtol(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);
double strtod(const char *s, char **end);
float strtof(const char *s, char **end);
void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
              int (*cmp)(const void *, const void *));
void exit(int status);
void abort(void);
char *getenv(const char *name);
int rand(void);
void srand(unsigned seed);
long random(void);
int system(const char *cmd);
#define RAND_MAX 2147483647
#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* ---- <string.h>, <strings.h> -------------------------------------------- */
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
void *memmem(const void *h, size_t hn, const void *n, size_t nn);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t n);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int strcasecmp(const char *a, const char *b);
int strncasecmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
char *strncpy(char *d, const char *s, size_t n);
char *strcat(char *d, const char *s);
char *strncat(char *d, const char *s, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *h, const char *n);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);
char *strtok(char *s, const char *delim);
char *strtok_r(char *s, const char *delim, char **save);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);
char *strpbrk(const char *s, const char *accept);
char *strerror(int errnum);

/* ---- <math.h> ----------------------------------------------------------- */
double sin(double), cos(double), tan(double), asin(double), acos(double), atan(double);
double atan2(double, double), sinh(double), cosh(double), tanh(double);
double exp(double), exp2(double), expm1(double), log(double), log2(double), log10(double);
double log1p(double), pow(double, double), sqrt(double), cbrt(double), hypot(double, double);
double fabs(double), floor(double), ceil(double), round(double), trunc(double), rint(double);
double fmod(double, double), fmin(double, double), fmax(double, double);
double remainder(double, double), copysign(double, double), ldexp(double, int);
double frexp(double, int *), modf(double, double *);
long lround(double), lrint(double);
float sqrtf(float), fabsf(float), floorf(float), ceilf(float), powf(float, float);
float expf(float), logf(float), sinf(float), cosf(float);
#define HUGE_VAL (1e300 * 1e300)
#define INFINITY (1e300 * 1e300)
#define NAN (0.0 / 0.0)
#define isnan(x) ((x) != (x))
#define isinf(x) (!isnan(x) && isnan((x) - (x)))
#define isfinite(x) (!isnan((x) - (x)))
#define signbit(x) (copysign(1.0, (x)) < 0)
#define M_E 2.7182818284590452354
#define M_LOG2E 1.4426950408889634074
#define M_LOG10E 0.43429448190325182765
#define M_LN2 0.69314718055994530942
#define M_LN10 2.30258509299404568402
#define M_PI 3.14159265358979323846
#define M_PI_2 1.57079632679489661923
#define M_PI_4 0.78539816339744830962
#define M_SQRT2 1.41421356237309504880

/* ---- <ctype.h> ---------------------------------------------------------- */
int isalpha(int), isdigit(int), isalnum(int), isspace(int), isupper(int), islower(int);
int ispunct(int), isprint(int), isxdigit(int), iscntrl(int), isgraph(int), isblank(int);
int tolower(int), toupper(int);

/* ---- ember values (SPEC 4) ---------------------------------------------- */
/* Same layout as the host's eng_val / eng_str: two 8-byte integer words. */
typedef struct eng_val {
  unsigned long h, p;
} val;
typedef struct eng_str {
  const char *ptr; /* NUL-terminated whenever ember hands it to user code */
  long len;
} str;

#define NONE ((val){0, 0})

val eng_fn_v_long(long x);
val eng_fn_v_double(double x);
val eng_fn_v_bool(int x);
val eng_fn_v_cstr(const char *s);
val eng_fn_v_str(str s);
val eng_fn_v_val(val v);
str eng_fn_s_cstr(const char *s);
str eng_fn_s_str(str s);
str eng_fn_s_val(val v);
str eng_fn_s_bad(long x); /* raises TypeError: a string was expected */

/* Any C value to a val; any string-like to a str. */
#define EMBER_V(x)                                                              \
  _Generic((x), val: eng_fn_v_val, str: eng_fn_v_str, char *: eng_fn_v_cstr,    \
           const char *: eng_fn_v_cstr, double: eng_fn_v_double,                \
           float: eng_fn_v_double, _Bool: eng_fn_v_bool, default: eng_fn_v_long)(x)
/* *(out) = EMBER_V(x), without the struct copy tcc would make. */
void eng_fn_vset_long(val *o, long x);
void eng_fn_vset_double(val *o, double x);
void eng_fn_vset_bool(val *o, int x);
void eng_fn_vset_cstr(val *o, const char *s);
void eng_fn_vset_str(val *o, str s);
void eng_fn_vset_val(val *o, val v);
#define EMBER_VSET(out, x)                                                          \
  _Generic((x), val: eng_fn_vset_val, str: eng_fn_vset_str, char *: eng_fn_vset_cstr, \
           const char *: eng_fn_vset_cstr, double: eng_fn_vset_double,                \
           float: eng_fn_vset_double, _Bool: eng_fn_vset_bool, default: eng_fn_vset_long)((out), (x))
#define EMBER_S(x)                                                              \
  _Generic((x), str: eng_fn_s_str, char *: eng_fn_s_cstr,                       \
           const char *: eng_fn_s_cstr, val: eng_fn_s_val, double: eng_fn_s_bad,    \
           default: eng_fn_s_bad)(x)

/* Argument counting and mapping for variadic helpers (up to 32 items). */
#define EMBER_NARGS(...) EMBER_NARGS_(0, ##__VA_ARGS__, 32, 31, 30, 29, 28, 27, 26, 25, \
  24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define EMBER_NARGS_(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14,   \
  _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, \
  _32, N, ...) N
#define EMBER_CAT(a, b) EMBER_CAT_(a, b)
#define EMBER_CAT_(a, b) a##b
#define EMBER_M0(...)
#define EMBER_M1(a) EMBER_V(a)
#define EMBER_M2(a, ...) EMBER_V(a), EMBER_M1(__VA_ARGS__)
#define EMBER_M3(a, ...) EMBER_V(a), EMBER_M2(__VA_ARGS__)
#define EMBER_M4(a, ...) EMBER_V(a), EMBER_M3(__VA_ARGS__)
#define EMBER_M5(a, ...) EMBER_V(a), EMBER_M4(__VA_ARGS__)
#define EMBER_M6(a, ...) EMBER_V(a), EMBER_M5(__VA_ARGS__)
#define EMBER_M7(a, ...) EMBER_V(a), EMBER_M6(__VA_ARGS__)
#define EMBER_M8(a, ...) EMBER_V(a), EMBER_M7(__VA_ARGS__)
#define EMBER_M9(a, ...) EMBER_V(a), EMBER_M8(__VA_ARGS__)
#define EMBER_M10(a, ...) EMBER_V(a), EMBER_M9(__VA_ARGS__)
#define EMBER_M11(a, ...) EMBER_V(a), EMBER_M10(__VA_ARGS__)
#define EMBER_M12(a, ...) EMBER_V(a), EMBER_M11(__VA_ARGS__)
#define EMBER_M13(a, ...) EMBER_V(a), EMBER_M12(__VA_ARGS__)
#define EMBER_M14(a, ...) EMBER_V(a), EMBER_M13(__VA_ARGS__)
#define EMBER_M15(a, ...) EMBER_V(a), EMBER_M14(__VA_ARGS__)
#define EMBER_M16(a, ...) EMBER_V(a), EMBER_M15(__VA_ARGS__)
#define EMBER_M17(a, ...) EMBER_V(a), EMBER_M16(__VA_ARGS__)
#define EMBER_M18(a, ...) EMBER_V(a), EMBER_M17(__VA_ARGS__)
#define EMBER_M19(a, ...) EMBER_V(a), EMBER_M18(__VA_ARGS__)
#define EMBER_M20(a, ...) EMBER_V(a), EMBER_M19(__VA_ARGS__)
#define EMBER_M21(a, ...) EMBER_V(a), EMBER_M20(__VA_ARGS__)
#define EMBER_M22(a, ...) EMBER_V(a), EMBER_M21(__VA_ARGS__)
#define EMBER_M23(a, ...) EMBER_V(a), EMBER_M22(__VA_ARGS__)
#define EMBER_M24(a, ...) EMBER_V(a), EMBER_M23(__VA_ARGS__)
#define EMBER_M25(a, ...) EMBER_V(a), EMBER_M24(__VA_ARGS__)
#define EMBER_M26(a, ...) EMBER_V(a), EMBER_M25(__VA_ARGS__)
#define EMBER_M27(a, ...) EMBER_V(a), EMBER_M26(__VA_ARGS__)
#define EMBER_M28(a, ...) EMBER_V(a), EMBER_M27(__VA_ARGS__)
#define EMBER_M29(a, ...) EMBER_V(a), EMBER_M28(__VA_ARGS__)
#define EMBER_M30(a, ...) EMBER_V(a), EMBER_M29(__VA_ARGS__)
#define EMBER_M31(a, ...) EMBER_V(a), EMBER_M30(__VA_ARGS__)
#define EMBER_M32(a, ...) EMBER_V(a), EMBER_M31(__VA_ARGS__)
/* fn(n, items) over the converted arguments. n must already be a number
 * (tcc passes an empty __VA_ARGS__ on as one empty argument, so counting has
 * to happen in the user-facing macro itself); the leading dummy keeps the
 * initializer non-empty when there are no items (tcc rejects `{}`). */
#define EMBER_SEQ(fn, n, ...) \
  fn(n, ((val[n + 1]){NONE, EMBER_CAT(EMBER_M, n)(__VA_ARGS__)} + 1))


val eng_fn_kv(val k, val v);
val eng_fn_tuple(long n, const val *items);
val eng_fn_list(long n, const val *items);
val eng_fn_key(val p);
val eng_fn_value(val p);
val eng_fn_at(val v, long i);
long eng_fn_len(val v);
long eng_fn_as_long(val v);
double eng_fn_as_double(val v);
str eng_fn_as_str(val v);
void eng_fn_as_str_to(const val *v, str *out);
bool eng_fn_as_bool(val v);
bool eng_fn_is_none(val v);
bool eng_fn_val_eq(val a, val b);
val eng_fn_split(str s, str sep);
val eng_fn_words(str s);
str eng_fn_lower(str s);
str eng_fn_upper(str s);
str eng_fn_trim(str s);
bool eng_fn_str_eq(str a, str b);
bool eng_fn_starts_with(str s, str p);
bool eng_fn_ends_with(str s, str p);
bool eng_fn_contains_str(str s, str p);
bool eng_fn_contains_val(val seq, val x);
long eng_fn_to_long(str s);
double eng_fn_to_double(str s);
str eng_fn_strf(const char *fmt, ...);
str eng_fn_repr(val v);
void eng_fn_print(val v);
void eng_fn_emit(val v);
void eng_fn_acc_add(val acc, val x);
val eng_fn_add(val a, val b);

#define kv(k, v) eng_fn_kv(EMBER_V(k), EMBER_V(v))
#define tuple(...) EMBER_SEQ(eng_fn_tuple, EMBER_NARGS_(0, ##__VA_ARGS__, 32, 31, 30, 29, 28, \
  27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, \
  3, 2, 1, 0), ##__VA_ARGS__)
#define list(...) EMBER_SEQ(eng_fn_list, EMBER_NARGS_(0, ##__VA_ARGS__, 32, 31, 30, 29, 28, \
  27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, \
  3, 2, 1, 0), ##__VA_ARGS__)
#define key(p) eng_fn_key(EMBER_V(p))
#define value(p) eng_fn_value(EMBER_V(p))
#define at(v, i) eng_fn_at(EMBER_V(v), (i))
#define len(v) \
  _Generic((v), str: eng_fn_len_str, char *: eng_fn_len_cstr, const char *: eng_fn_len_cstr, default: eng_fn_len)(v)
long eng_fn_len_str(str s);
long eng_fn_len_cstr(const char *s);
#define as_long(v) eng_fn_as_long(EMBER_V(v))
#define as_double(v) eng_fn_as_double(EMBER_V(v))
#define as_str(v) eng_fn_as_str(EMBER_V(v))
#define as_bool(v) eng_fn_as_bool(EMBER_V(v))
#define is_none(v) eng_fn_is_none(EMBER_V(v))
#define val_eq(a, b) eng_fn_val_eq(EMBER_V(a), EMBER_V(b))
#define split(s, sep) eng_fn_split(EMBER_S(s), EMBER_S(sep))
/* words(s) is Python's s.split(): runs of whitespace, no empty pieces. */
#define words(s) eng_fn_words(EMBER_S(s))
#define lower(s) eng_fn_lower(EMBER_S(s))
#define upper(s) eng_fn_upper(EMBER_S(s))
#define trim(s) eng_fn_trim(EMBER_S(s))
#define str_eq(a, b) eng_fn_str_eq(EMBER_S(a), EMBER_S(b))
#define starts_with(s, p) eng_fn_starts_with(EMBER_S(s), EMBER_S(p))
#define ends_with(s, p) eng_fn_ends_with(EMBER_S(s), EMBER_S(p))
/* contains(string, substring) or contains(list_or_tuple, item). */
bool eng_fn_contains_any(val s, val x);
#define contains(s, x)                                                              \
  _Generic((s), val: eng_fn_contains_any(EMBER_V(s), EMBER_V(x)),                   \
           default: eng_fn_contains_str(EMBER_S(s), EMBER_S(x)))
#define to_long(s) eng_fn_to_long(EMBER_S(s))
#define to_double(s) eng_fn_to_double(EMBER_S(s))
#define strf eng_fn_strf
#define repr(v) eng_fn_repr(EMBER_V(v))
#define print(v) eng_fn_print(EMBER_V(v))
#define emit(x) eng_fn_emit(EMBER_V(x))
#define acc_add(a, x) eng_fn_acc_add(EMBER_V(a), EMBER_V(x))
#define add(a, b) eng_fn_add(EMBER_V(a), EMBER_V(b))
