/* explain.c -- how datasets look to users: explain() (Spark's
 * toDebugString, with shuffle boundaries and cached partitions), show()
 * (Spark's Dataset.show() table) and the one-line description of a handle.
 *
 * show() formats cells as Spark does for a DataFrame made from the dataset:
 * strings raw, None as null, booleans true/false, doubles in Java's
 * Double.toString form (1.0E10), lists as [a, b] and tuples as structs
 * {a, b}; cells longer than 20 characters are cut to 17 plus "...", and
 * every cell is right-aligned.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "session_int.h"
#include "val.h"

/* ------------------------------------------------------------------------ */
/* explain                                                                  */
/* ------------------------------------------------------------------------ */

/* Spark's Utils.bytesToString: a unit is used from twice its size on
 * (1536 bytes are "1536.0 B", 2048 are "2.0 KiB"). */
static void bytes_str(eng_buf *b, int64_t n) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 2048 && u < 4) {
    v /= 1024;
    u++;
  }
  eng_buf_printf(b, "%.1f %s", v, units[u]);
}

/* PySpark's StorageLevel descriptions: Python data is always cached
 * serialized, as ember's columnar batches are. */
static const char *level_desc(int level) {
  switch (level) {
    case ENG_MEMORY_ONLY: return "Memory Serialized 1x Replicated";
    case ENG_MEMORY_AND_DISK: return "Disk Memory Serialized 1x Replicated";
    case ENG_DISK_ONLY: return "Disk Serialized 1x Replicated";
    default: return "";
  }
}

/* Spark's RDD.toString: "[name ]Class[id] at origin"; text files are
 * named by their path, as textFile() names its RDDs. */
static void rdd_string(eng_buf *b, eng_ds *d) {
  if (d->op == ENG_OP_TEXT && d->path) eng_buf_printf(b, "%s ", d->path);
  eng_buf_printf(b, "%s[%d] at %s", eng__op_class(d->op), d->id, d->origin ? d->origin : "?");
}

/* The lines describing d itself: "Class[id] at origin [storage]" and, when
 * cached, the cached-partitions line. */
static int self_lines(eng_ds *d, char lines[2][1024]) {
  eng_buf name;
  eng_buf_init(&name);
  rdd_string(&name, d);
  snprintf(lines[0], sizeof lines[0], "%s [%s]", eng_buf_cstr(&name),
           d->ckpt_done ? "" : level_desc(d->storage));
  eng_buf_free(&name);
  if (!d->storage || !d->cached_on) return 1;
  int np = 0;
  int64_t mem = 0, disk = 0;
  for (int p = 0; p < d->nparts; p++)
    if (d->cached_on[p] >= 0) {
      np++;
      mem += d->cached_mem[p];
      disk += d->cached_disk[p];
    }
  eng_buf b;
  eng_buf_init(&b);
  eng_buf_printf(&b, "    CachedPartitions: %d; MemorySize: ", np);
  bytes_str(&b, mem);
  eng_buf_puts(&b, "; DiskSize: ");
  bytes_str(&b, disk);
  snprintf(lines[1], sizeof lines[1], "%s", eng_buf_cstr(&b));
  eng_buf_free(&b);
  return 2;
}

static void debug_string(eng_buf *out, eng_ds *d, const char *prefix, int is_shuffle, int is_last,
                         int depth);

/* A node's dependencies: parents, each through a shuffle or not. */
static void debug_children(eng_buf *out, eng_ds *d, const char *prefix, int depth) {
  if (depth > 200) return;
  if (d->ckpt_done) {
    eng_buf_printf(out, "\n%s|  ReliableCheckpointRDD[%d] at checkpoint []", prefix, d->id);
    return;
  }
  for (int i = 0; i < d->nparents; i++) {
    int shuffle = eng__ds_is_wide(d) && d->shuffle_id[i] >= 0;
    debug_string(out, d->parents[i], prefix, shuffle, i == d->nparents - 1, depth + 1);
  }
}

/* Spark's RDD.debugString: narrow parents continue with " |  ", a shuffle
 * starts a "+-(n) " block indented under its child. */
static void debug_string(eng_buf *out, eng_ds *d, const char *prefix, int is_shuffle, int is_last,
                         int depth) {
  char lines[2][1024];
  int nl = self_lines(d, lines);
  if (!is_shuffle) {
    for (int i = 0; i < nl; i++) eng_buf_printf(out, "\n%s%s", prefix, lines[i]);
    debug_children(out, d, prefix, depth);
    return;
  }
  char pstr[32];
  snprintf(pstr, sizeof pstr, "(%d)", d->nparts);
  int plen = (int)strlen(pstr), left = (plen - 1) / 2;
  /* Spark: thisPrefix = prefix.replaceAll("\\|\\s+$", "") */
  char this_prefix[2048];
  snprintf(this_prefix, sizeof this_prefix, "%s", prefix);
  char *bar = strrchr(this_prefix, '|');
  if (bar && bar[1]) {
    int ws = 1;
    for (char *q = bar + 1; *q; q++) ws &= *q == ' ';
    if (ws) *bar = 0;
  }
  char next_prefix[2100];
  snprintf(next_prefix, sizeof next_prefix, "%s%s%*s|%*s", this_prefix, is_last ? "  " : "| ", left, "",
           plen - left, "");
  eng_buf_printf(out, "\n%s+-%s %s", this_prefix, pstr, lines[0]);
  for (int i = 1; i < nl; i++) eng_buf_printf(out, "\n%s%s", next_prefix, lines[i]);
  debug_children(out, d, next_prefix, depth);
}

int eng_explain(eng_ds *d, eng_buf *out) {
  char pstr[32];
  snprintf(pstr, sizeof pstr, "(%d)", d->nparts);
  int plen = (int)strlen(pstr), left = (plen - 1) / 2;
  char next_prefix[128];
  snprintf(next_prefix, sizeof next_prefix, "%*s|%*s", left, "", plen - left, "");
  char lines[2][1024];
  int nl = self_lines(d, lines);
  eng_buf_printf(out, "%s %s", pstr, lines[0]);
  for (int i = 1; i < nl; i++) eng_buf_printf(out, "\n%s %s", next_prefix, lines[i]);
  eng_buf child;
  eng_buf_init(&child);
  debug_children(&child, d, next_prefix, 0);
  /* Children lines carry the prefix followed by their own text; Spark puts
   * one space between " |" and the child's description. */
  const char *c = eng_buf_cstr(&child);
  eng_buf_puts(out, c);
  eng_buf_free(&child);
  eng_buf_putc(out, '\n');
  return out->oom ? ENG_ENOMEM : 0;
}

int eng_ds_describe(eng_ds *d, eng_buf *out) {
  rdd_string(out, d);
  eng_buf_printf(out, " (%d partition%s)", d->nparts, d->nparts == 1 ? "" : "s");
  return out->oom ? ENG_ENOMEM : 0;
}

/* ------------------------------------------------------------------------ */
/* show                                                                     */
/* ------------------------------------------------------------------------ */

/* Java's Double.toString: plain between 1e-3 and 1e7, else d.dddE±n. */
static void java_double(eng_buf *b, double x) {
  if (isnan(x)) {
    eng_buf_puts(b, "NaN");
    return;
  }
  if (isinf(x)) {
    eng_buf_puts(b, x > 0 ? "Infinity" : "-Infinity");
    return;
  }
  double ax = fabs(x);
  char r[64];
  eng_double_repr(r, sizeof r, x);
  if (x == 0 || (ax >= 1e-3 && ax < 1e7)) {
    if (strchr(r, 'e')) {
      /* Python chose exponent form inside Java's plain range (never in
       * practice for this range, but be exact): print plainly. */
      snprintf(r, sizeof r, "%.17g", x);
    }
    eng_buf_puts(b, r);
    if (!strchr(r, '.') && !strchr(r, 'e')) eng_buf_puts(b, ".0");
    return;
  }
  /* Digits and exponent from the shortest repr. */
  char digits[32];
  int nd = 0, exp10 = 0;
  const char *p = r;
  int neg = *p == '-';
  if (neg) p++;
  int seen_point = 0, lead = 1, before_point = 0;
  for (; *p && *p != 'e'; p++) {
    if (*p == '.') {
      seen_point = 1;
      continue;
    }
    if (lead && *p == '0') {
      if (seen_point) exp10--;
      continue;
    }
    lead = 0;
    if (nd < 31) digits[nd++] = *p;
    if (!seen_point) before_point++;
  }
  int e = *p == 'e' ? atoi(p + 1) : 0;
  /* value = 0.digits * 10^(before_point + exp10 + e) for leading-zero
   * fractions, or digits with before_point integer digits. */
  int sci = (before_point ? before_point - 1 : exp10 - 1) + e;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  if (neg) eng_buf_putc(b, '-');
  eng_buf_putc(b, digits[0]);
  eng_buf_putc(b, '.');
  if (nd > 1)
    eng_buf_append(b, digits + 1, (size_t)nd - 1);
  else
    eng_buf_putc(b, '0');
  eng_buf_printf(b, "E%d", sci);
}

static void cell_text(eng_buf *b, eng_val v, int depth) {
  v = eng_deref(v);
  if (depth > 50) {
    eng_buf_puts(b, "...");
    return;
  }
  switch (ENG_VKIND(v)) {
    case ENG_V_NONE: eng_buf_puts(b, "null"); break;
    case ENG_V_BOOL: eng_buf_puts(b, v.p ? "true" : "false"); break;
    case ENG_V_LONG: eng_buf_printf(b, "%lld", (long long)eng_v_long(v)); break;
    case ENG_V_DOUBLE: java_double(b, eng_v_double(v)); break;
    case ENG_V_STR: eng_buf_append(b, eng_v_ptr(v), (size_t)ENG_VLEN(v)); break;
    case ENG_V_TUPLE:
    case ENG_V_LIST: {
      int tup = ENG_VKIND(v) == ENG_V_TUPLE;
      eng_buf_putc(b, tup ? '{' : '[');
      for (long i = 0; i < ENG_VLEN(v); i++) {
        if (i) eng_buf_puts(b, ", ");
        cell_text(b, eng_v_items(v)[i], depth + 1);
      }
      eng_buf_putc(b, tup ? '}' : ']');
      break;
    }
    default: eng_val_str(b, v); break;
  }
}

/* Code points in UTF-8 text: Spark pads by characters, not bytes. */
static long text_width(const char *s, size_t n) {
  long w = 0;
  for (size_t i = 0; i < n; i++) w += ((unsigned char)s[i] & 0xc0) != 0x80;
  return w;
}

/* Byte offset of the first `chars` code points of s. */
static size_t prefix_bytes(const char *s, size_t n, long chars) {
  size_t i = 0;
  long c = 0;
  while (i < n) {
    if (((unsigned char)s[i] & 0xc0) != 0x80) {
      if (c == chars) break;
      c++;
    }
    i++;
  }
  return i;
}

int eng_show_table(eng_ds *d, int n, eng_table *out) {
  if (n < 0) n = 20;
  eng_val rows;
  int rc = eng_take(d, (int64_t)n + 1, &rows);
  if (rc < 0) return rc;
  long nr = ENG_VLEN(rows);
  const eng_val *it = eng_v_items(rows);
  /* Pairs show as key | value; anything else as value. Every row fetched
   * counts, the one past n too, so that show(ds, 0) still sees one. */
  int pairs = nr > 0;
  for (long i = 0; i < nr; i++) {
    eng_val r = eng_deref(it[i]);
    if (ENG_VKIND(r) != ENG_V_TUPLE || ENG_VLEN(r) != 2) pairs = 0;
  }
  if (nr == 0) {
    const eng_dtype *t = eng_ds_dtype(d);
    pairs = t->kind == ENG_DT_TUPLE && t->n == 2;
  }
  out->ncols = pairs ? 2 : 1;
  out->colnames[0] = pairs ? "key" : "value";
  out->colnames[1] = "value";
  out->more = nr > n;
  out->nrows = (int)(nr > n ? n : nr);
  out->cells = eng_arena_alloc(d->s->vals, (size_t)(out->nrows * out->ncols + 1) * sizeof(eng_val));
  if (!out->cells) return eng__fail(d->s, ENG_ENOMEM, "MemoryError: show");
  for (int i = 0; i < out->nrows; i++) {
    eng_val r = eng_deref(it[i]);
    if (pairs) {
      out->cells[i * 2] = eng_v_items(r)[0];
      out->cells[i * 2 + 1] = eng_v_items(r)[1];
    } else {
      out->cells[i] = r;
    }
  }
  return 0;
}

int eng_table_format(const eng_table *t, int truncate, eng_buf *out) {
  int nc = t->ncols, nr = t->nrows;
  eng_buf *cells = eng_calloc((size_t)(nr + 1) * (size_t)nc, sizeof *cells);
  long widths[2] = {3, 3};
  if (!cells) return ENG_ENOMEM;
  for (int r = 0; r <= nr; r++) {
    for (int c = 0; c < nc; c++) {
      eng_buf *b = &cells[r * nc + c];
      eng_buf_init(b);
      if (r == 0)
        eng_buf_puts(b, t->colnames[c]);
      else
        cell_text(b, t->cells[(r - 1) * nc + c], 0);
      long w = text_width(b->data ? b->data : "", b->len);
      if (truncate > 0 && w > truncate) {
        size_t keep = prefix_bytes(b->data, b->len, truncate < 4 ? truncate : truncate - 3);
        b->len = keep;
        if (truncate >= 4) eng_buf_puts(b, "...");
        w = text_width(b->data, b->len);
      }
      if (w > widths[c]) widths[c] = w;
    }
  }
  eng_buf sep;
  eng_buf_init(&sep);
  eng_buf_putc(&sep, '+');
  for (int c = 0; c < nc; c++) {
    for (long i = 0; i < widths[c]; i++) eng_buf_putc(&sep, '-');
    eng_buf_putc(&sep, '+');
  }
  eng_buf_putc(&sep, '\n');
  for (int r = 0; r <= nr; r++) {
    if (r <= 1) eng_buf_append(out, sep.data, sep.len);
    eng_buf_putc(out, '|');
    for (int c = 0; c < nc; c++) {
      eng_buf *b = &cells[r * nc + c];
      long w = text_width(b->data ? b->data : "", b->len);
      for (long i = w; i < widths[c]; i++) eng_buf_putc(out, ' ');
      eng_buf_append(out, b->data ? b->data : "", b->len);
      eng_buf_putc(out, '|');
    }
    eng_buf_putc(out, '\n');
  }
  if (nr == 0) eng_buf_append(out, sep.data, sep.len);
  eng_buf_append(out, sep.data, sep.len);
  if (t->more) eng_buf_printf(out, "only showing top %d row%s\n", nr, nr == 1 ? "" : "s");
  for (int i = 0; i < (nr + 1) * nc; i++) eng_buf_free(&cells[i]);
  eng_free(cells);
  eng_buf_free(&sep);
  return out->oom ? ENG_ENOMEM : 0;
}

int eng_show(eng_ds *d, int n, eng_buf *out) {
  eng_table t;
  int rc = eng_show_table(d, n, &t);
  if (rc < 0) return rc;
  rc = eng_table_format(&t, 20, out);
  if (rc < 0) return eng__fail(d->s, rc, "MemoryError: show");
  return 0;
}
