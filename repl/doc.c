/* doc.c -- one-line documentation of the API, the value helpers and the
 * meta commands (:help, Jupyter's inspect), and completion of names. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../engine/buf.h"
#include "repl_int.h"

typedef struct doc {
  const char *name, *sig, *text;
} doc;

static const doc docs[] = {
    {NULL, NULL, "create"},
    {"range", "range([start,] end[, step[, slices]]) -> ds", "the longs start, start+step, ... below end"},
    {"parallelize", "parallelize(list[, slices]) -> ds", "a dataset of a list's elements, in slices partitions"},
    {"text_file", "text_file(path[, min_partitions]) -> ds", "lines of a file, directory or glob (plain, .gz, .zst)"},
    {"empty", "empty() -> ds", "a dataset with no partitions"},
    {NULL, NULL, "transform"},
    {"map", "map(ds, f) -> ds", "f(x) for each element"},
    {"flat_map", "flat_map(ds, f) -> ds", "the elements of each list f(x) returns (or emit()s)"},
    {"filter", "filter(ds, f) -> ds", "the elements for which f(x) is true"},
    {"map_partitions", "map_partitions(ds, f) -> ds", "f(part) on each partition as one list; f returns a list or emit()s"},
    {"map_partitions_with_index", "map_partitions_with_index(ds, f) -> ds", "f(i, part) with the partition's index"},
    {"distinct", "distinct(ds[, n]) -> ds", "each distinct element once"},
    {"union_all", "union_all(a, b) -> ds", "the elements of both (duplicates kept)"},
    {"intersection", "intersection(a, b[, n]) -> ds", "distinct elements found in both"},
    {"subtract", "subtract(a, b[, n]) -> ds", "elements of a not found in b"},
    {"cartesian", "cartesian(a, b) -> ds", "every pair (x, y) of x in a and y in b"},
    {"sample", "sample(ds, with_replacement, fraction[, seed]) -> ds", "a random sample of about fraction of the elements"},
    {"sort_by", "sort_by(ds, keyfn[, ascending[, n]]) -> ds", "sorted by keyfn(x), a total order across partitions"},
    {"sort_by_key", "sort_by_key(ds[, ascending[, n[, keyfn]]]) -> ds", "pairs sorted by key"},
    {"group_by", "group_by(ds, f[, n]) -> ds", "(f(x), [elements with that key])"},
    {"group_by_key", "group_by_key(ds[, n]) -> ds", "(key, [values]) for pairs"},
    {"reduce_by_key", "reduce_by_key(ds, f[, n]) -> ds", "(key, values combined with f(a, b)), combined map-side"},
    {"fold_by_key", "fold_by_key(ds, zero, f[, n]) -> ds", "reduce_by_key starting from zero"},
    {"aggregate_by_key", "aggregate_by_key(ds, zero, seq, comb[, n]) -> ds", "seq(acc, v) per partition, comb(a, b) across"},
    {"combine_by_key", "combine_by_key(ds, create, merge, merge_combiners[, n]) -> ds", "Spark's general per-key aggregation"},
    {"join", "join(a, b[, n]) -> ds", "(k, (v, w)) for keys in both"},
    {"left_outer_join", "left_outer_join(a, b[, n]) -> ds", "(k, (v, w or None)) for keys of a"},
    {"right_outer_join", "right_outer_join(a, b[, n]) -> ds", "(k, (v or None, w)) for keys of b"},
    {"full_outer_join", "full_outer_join(a, b[, n]) -> ds", "(k, (v or None, w or None)) for keys of either"},
    {"cogroup", "cogroup(a, b[, n]) -> ds", "(k, ([values in a], [values in b]))"},
    {"keys", "keys(ds) -> ds", "the keys of pairs"},
    {"values", "values(ds) -> ds", "the values of pairs"},
    {"map_values", "map_values(ds, f) -> ds", "(k, f(v)) for pairs, keeping the partitioning"},
    {"flat_map_values", "flat_map_values(ds, f) -> ds", "(k, x) for each x in f(v)"},
    {"key_by", "key_by(ds, f) -> ds", "(f(x), x)"},
    {"zip_with_index", "zip_with_index(ds) -> ds", "(x, index) in partition order"},
    {"glom", "glom(ds) -> ds", "each partition as one list"},
    {"repartition", "repartition(ds, n) -> ds", "n partitions, by a shuffle"},
    {"coalesce", "coalesce(ds, n[, shuffle]) -> ds", "fewer partitions, without a shuffle unless asked"},
    {"partition_by", "partition_by(ds, n[, partition_func]) -> ds", "pairs hash-partitioned by key (PySpark's portable hash)"},
    {NULL, NULL, "act"},
    {"collect", "collect(ds) -> val", "every element, as a list"},
    {"count", "count(ds) -> long", "the number of elements"},
    {"first", "first(ds) -> val", "the first element"},
    {"take", "take(ds, n) -> val", "the first n elements"},
    {"take_ordered", "take_ordered(ds, n[, key]) -> val", "the n smallest elements"},
    {"top", "top(ds, n[, key]) -> val", "the n largest elements, largest first"},
    {"reduce", "reduce(ds, f) -> val", "the elements combined with f(a, b)"},
    {"fold", "fold(ds, zero, f) -> val", "reduce starting from zero in every partition"},
    {"aggregate", "aggregate(ds, zero, seq, comb) -> val", "seq(acc, x) per partition, comb(a, b) across"},
    {"sum", "sum(ds) -> val", "the sum (an int for ints)"},
    {"mean", "mean(ds) -> double", "the mean"},
    {"min", "min(ds[, key]) -> val", "the smallest element"},
    {"max", "max(ds[, key]) -> val", "the largest element"},
    {"stdev", "stdev(ds) -> double", "the population standard deviation"},
    {"variance", "variance(ds) -> double", "the population variance"},
    {"sample_stdev", "sample_stdev(ds) -> double", "the sample standard deviation"},
    {"sample_variance", "sample_variance(ds) -> double", "the sample variance"},
    {"stats", "stats(ds) -> val", "(count, mean, stdev, max, min) in one pass"},
    {"histogram", "histogram(ds, buckets) -> val", "(boundaries, counts) for a bucket count or a boundary list"},
    {"count_by_key", "count_by_key(ds) -> val", "[(key, count)] sorted by key"},
    {"count_by_value", "count_by_value(ds) -> val", "[(value, count)] sorted by value"},
    {"foreach", "foreach(ds, f)", "f(x) for each element, on the executors"},
    {"save_as_text_file", "save_as_text_file(ds, path[, codec])", "a directory of part-00000... files (codec: gzip, zstd)"},
    {"num_partitions", "num_partitions(ds) -> long", "the number of partitions"},
    {"is_empty", "is_empty(ds) -> bool", "true if there are no elements"},
    {NULL, NULL, "keep"},
    {"cache", "cache(ds) -> ds", "keep computed partitions in executor memory"},
    {"persist", "persist(ds[, MEMORY_ONLY | MEMORY_AND_DISK | DISK_ONLY]) -> ds", "keep computed partitions at that storage level"},
    {"unpersist", "unpersist(ds) -> ds", "drop the kept partitions"},
    {"checkpoint", "checkpoint(ds) -> ds", "save to the checkpoint directory after the next job, and cut the lineage"},
    {NULL, NULL, "share"},
    {"broadcast", "broadcast(value) -> val", "a value lambdas capture, sent to each executor once"},
    {"accumulator", "accumulator(zero) -> val", "a total lambdas add to with acc_add(a, x)"},
    {"acc_value", "acc_value(acc) -> val", "an accumulator's total"},
    {"acc_add", "acc_add(acc, x)", "add x to an accumulator"},
    {NULL, NULL, "look"},
    {"show", "show(ds[, n])", "the first n rows (20) as Spark's table"},
    {"explain", "explain(ds)", "the lineage, with stages and cached partitions"},
    {"add", "add", "the builtin sum of two values, as Python's operator.add"},
    {NULL, NULL, "values"},
    {"kv", "kv(k, v) -> val", "a pair"},
    {"tuple", "tuple(a, b, ...) -> val", "a tuple"},
    {"list", "list(a, b, ...) -> val", "a list"},
    {"NONE", "NONE", "Python's None"},
    {"key", "key(p) -> val", "a pair's key"},
    {"value", "value(p) -> val", "a pair's value"},
    {"at", "at(v, i) -> val", "item i of a tuple, list or string (negative from the end)"},
    {"len", "len(v) -> long", "length of a list, tuple or string (in characters)"},
    {"as_long", "as_long(v) -> long", "a val's int (TypeError if not one)"},
    {"as_double", "as_double(v) -> double", "a val's number as a double"},
    {"as_str", "as_str(v) -> str", "a val's string"},
    {"split", "split(s, sep) -> val", "Python's s.split(sep)"},
    {"words", "words(s) -> val", "Python's s.split(): split on runs of whitespace"},
    {"lower", "lower(s) -> str", "lowercase (ASCII)"},
    {"upper", "upper(s) -> str", "uppercase (ASCII)"},
    {"trim", "trim(s) -> str", "Python's s.strip()"},
    {"str_eq", "str_eq(a, b) -> bool", "string equality"},
    {"starts_with", "starts_with(s, prefix) -> bool", "does s start with prefix"},
    {"ends_with", "ends_with(s, suffix) -> bool", "does s end with suffix"},
    {"contains", "contains(s, x) -> bool", "substring test, or membership in a list"},
    {"to_long", "to_long(s) -> long", "Python's int(s)"},
    {"to_double", "to_double(s) -> double", "Python's float(s)"},
    {"strf", "strf(fmt, ...) -> str", "a new formatted string (printf style)"},
    {"emit", "emit(x)", "in flat_map / map_partitions lambdas: produce x"},
    {"print", "print(v)", "print Python's str(v) and a newline"},
    {"repr", "repr(v) -> str", "Python's repr(v)"},
    {"is_none", "is_none(v) -> bool", "is v None"},
    {NULL, NULL, "commands"},
    {":help", ":help [name]", "this list, or one name's documentation"},
    {":time", ":time [code]", "time the next input (or this code)"},
    {":status", ":status", "executors, cached datasets with sizes, the running job"},
    {":reset", ":reset", "forget every variable, function, type and dataset"},
    {":history", ":history", "the inputs so far"},
    {":quit", ":quit", "leave (or Ctrl-D)"},
};
#define NDOCS (int)(sizeof docs / sizeof docs[0])

static char doc_line[512];

const char *repl_doc(const char *name) {
  for (int i = 0; i < NDOCS; i++) {
    const char *n = docs[i].name;
    if (!n) continue;
    if (strcmp(n, name) == 0 || (n[0] == ':' && strcmp(n + 1, name) == 0)) {
      snprintf(doc_line, sizeof doc_line, "%s\n    %s", docs[i].sig, docs[i].text);
      return doc_line;
    }
  }
  return NULL;
}

void repl__help_all(eng_buf *b);
void repl__help_all(eng_buf *b) {
  for (int i = 0; i < NDOCS; i++) {
    if (!docs[i].name)
      eng_buf_printf(b, "%s%s:\n", i ? "\n" : "", docs[i].text); /* a section */
    else
      eng_buf_printf(b, "  %-56s %s\n", docs[i].sig, docs[i].text);
  }
  eng_buf_puts(b,
               "\nLambdas: [captures](long x) { return x * x; }; parameters long, int, double, bool, str, "
               "char *, val;\na two-parameter lambda over pairs takes key and value. Meta commands also "
               "work as %name.\n");
}

/* ------------------------------------------------------------------------ */
/* Completion                                                               */
/* ------------------------------------------------------------------------ */

static int word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

void repl_word_at(const char *buf, int cursor, char *out, size_t cap) {
  int n = (int)strlen(buf);
  if (cursor > n) cursor = n;
  int a = cursor, b = cursor;
  while (a > 0 && word_char(buf[a - 1])) a--;
  while (b < n && word_char(buf[b])) b++;
  size_t len = (size_t)(b - a) < cap - 1 ? (size_t)(b - a) : cap - 1;
  memcpy(out, buf + a, len);
  out[len] = 0;
}

void repl_complete(repl *r, const char *buf, int cursor, repl_add_fn add, void *ctx) {
  int a = cursor;
  while (a > 0 && word_char(buf[a - 1])) a--;
  int meta = a > 0 && (buf[a - 1] == ':' || buf[a - 1] == '%');
  /* Only at the start of a line for meta commands. */
  if (meta) {
    int s = a - 1;
    while (s > 0 && (buf[s - 1] == ' ' || buf[s - 1] == '\t')) s--;
    meta = s == 0 || buf[s - 1] == '\n';
  }
  char prefix[128];
  size_t pl = (size_t)(cursor - a) < sizeof prefix - 1 ? (size_t)(cursor - a) : sizeof prefix - 1;
  memcpy(prefix, buf + a, pl);
  prefix[pl] = 0;
  for (int i = 0; i < NDOCS; i++) {
    const char *n = docs[i].name;
    if (!n || (n[0] == ':') != meta) continue;
    if (meta) n++;
    if (strncmp(n, prefix, pl) == 0) add(ctx, n);
  }
  if (meta || !r) return;
  for (int i = 0; i < r->nsyms; i++)
    if (strncmp(r->syms[i].name, prefix, pl) == 0) add(ctx, r->syms[i].name);
  static const char *const extra[] = {"MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY", "printf",
                                      "long", "double", "str", "val", "ds", "bool", "return",
                                      NULL};
  for (int i = 0; extra[i]; i++)
    if (strncmp(extra[i], prefix, pl) == 0) add(ctx, extra[i]);
}
