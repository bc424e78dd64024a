/* cellapi.h -- the dataset API as cells see it (SPEC 5), in C.
 *
 * Like prelude.h this is not compiled by gcc: it is embedded in the binary
 * and handed to libtcc in front of every cell (after the prelude). Each API
 * name is a macro that fills PySpark's defaults for missing trailing
 * arguments, converts values (EMBER_V) and strings (EMBER_S), and passes
 * the cell line (__LINE__, which #line maps to the cell) so that datasets
 * know where they were made: "map at cell[3]:2".
 *
 * The eng_repl_* functions are the session's (repl/api.c); errors in them
 * (a TypeError, a failed job) unwind the cell and are reported.
 *
 * Generated once from a table; edit by hand, keeping the pattern.
 */
typedef struct eng_ds *ds;
typedef struct eng_udf *udf;
extern udf add; /* the builtin two-argument sum, Python's operator.add */
enum { MEMORY_ONLY = 1, MEMORY_AND_DISK = 2, DISK_ONLY = 3 };

/* The udf_type of a C value, for lambda captures (udf/udf.h's values). */
#define EMBER_UDFTYPE(x)                                                              \
  _Generic((x), long: 1, long long: 1, unsigned long: 1, unsigned: 1, short: 1,       \
           unsigned short: 1, int: 2, char: 2, signed char: 2, unsigned char: 2,      \
           double: 3, float: 3, _Bool: 4, str: 5, char *: 6, const char *: 6,         \
           val: 7, default: -1)

udf eng_repl_lambda(long id, long ncaps, const val *caps, const int *types);
long eng_repl_random_seed(void);

/* Shows the value of a cell's last expression (repl/api.c). */
void eng_repl_show_long(long x);
void eng_repl_show_ulong(unsigned long x);
void eng_repl_show_double(double x);
void eng_repl_show_bool(_Bool x);
void eng_repl_show_str(str x);
void eng_repl_show_cstr(const char *x);
void eng_repl_show_val(val x);
void eng_repl_show_ds(ds x);
void eng_repl_show_udf(udf x);
void eng_repl_show_ptr(const void *x);
#define EMBER_SHOW(x)                                                                 \
  _Generic((x), long: eng_repl_show_long, long long: eng_repl_show_long,              \
           int: eng_repl_show_long, short: eng_repl_show_long, char: eng_repl_show_long, \
           signed char: eng_repl_show_long, unsigned char: eng_repl_show_long,        \
           unsigned short: eng_repl_show_long, unsigned: eng_repl_show_ulong,         \
           unsigned long: eng_repl_show_ulong, unsigned long long: eng_repl_show_ulong, \
           double: eng_repl_show_double, float: eng_repl_show_double,                 \
           _Bool: eng_repl_show_bool, str: eng_repl_show_str,                         \
           char *: eng_repl_show_cstr, const char *: eng_repl_show_cstr,              \
           val: eng_repl_show_val, ds: eng_repl_show_ds, udf: eng_repl_show_udf,      \
           default: eng_repl_show_ptr)(x)

ds eng_repl_range(long line, long start, long end, long step, long slices);
#define range(...) EMBER_CAT(EMBER_range_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_range_1(end) eng_repl_range(__LINE__, 0, (end), 1, 0)
#define EMBER_range_2(start, end) eng_repl_range(__LINE__, (start), (end), 1, 0)
#define EMBER_range_3(start, end, step) eng_repl_range(__LINE__, (start), (end), (step), 0)
#define EMBER_range_4(start, end, step, slices) eng_repl_range(__LINE__, (start), (end), (step), (slices))
ds eng_repl_parallelize(long line, val list, long slices);
#define parallelize(...) EMBER_CAT(EMBER_parallelize_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_parallelize_1(list) eng_repl_parallelize(__LINE__, EMBER_V(list), 0)
#define EMBER_parallelize_2(list, slices) eng_repl_parallelize(__LINE__, EMBER_V(list), (slices))
ds eng_repl_text_file(long line, str path, long min_partitions);
#define text_file(...) EMBER_CAT(EMBER_text_file_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_text_file_1(path) eng_repl_text_file(__LINE__, EMBER_S(path), 0)
#define EMBER_text_file_2(path, min_partitions) eng_repl_text_file(__LINE__, EMBER_S(path), (min_partitions))
ds eng_repl_empty(long line);
#define empty() eng_repl_empty(__LINE__)
ds eng_repl_map(long line, ds d, udf f);
#define map(d, f) eng_repl_map(__LINE__, (d), (f))
ds eng_repl_flat_map(long line, ds d, udf f);
#define flat_map(d, f) eng_repl_flat_map(__LINE__, (d), (f))
ds eng_repl_filter(long line, ds d, udf f);
#define filter(d, f) eng_repl_filter(__LINE__, (d), (f))
ds eng_repl_map_partitions(long line, ds d, udf f);
#define map_partitions(d, f) eng_repl_map_partitions(__LINE__, (d), (f))
ds eng_repl_map_partitions_with_index(long line, ds d, udf f);
#define map_partitions_with_index(d, f) eng_repl_map_partitions_with_index(__LINE__, (d), (f))
ds eng_repl_distinct(long line, ds d, long num_partitions);
#define distinct(...) EMBER_CAT(EMBER_distinct_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_distinct_1(d) eng_repl_distinct(__LINE__, (d), 0)
#define EMBER_distinct_2(d, num_partitions) eng_repl_distinct(__LINE__, (d), (num_partitions))
ds eng_repl_union_all(long line, ds a, ds b);
#define union_all(a, b) eng_repl_union_all(__LINE__, (a), (b))
ds eng_repl_intersection(long line, ds a, ds b, long num_partitions);
#define intersection(...) EMBER_CAT(EMBER_intersection_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_intersection_2(a, b) eng_repl_intersection(__LINE__, (a), (b), 0)
#define EMBER_intersection_3(a, b, num_partitions) eng_repl_intersection(__LINE__, (a), (b), (num_partitions))
ds eng_repl_subtract(long line, ds a, ds b, long num_partitions);
#define subtract(...) EMBER_CAT(EMBER_subtract_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_subtract_2(a, b) eng_repl_subtract(__LINE__, (a), (b), 0)
#define EMBER_subtract_3(a, b, num_partitions) eng_repl_subtract(__LINE__, (a), (b), (num_partitions))
ds eng_repl_cartesian(long line, ds a, ds b);
#define cartesian(a, b) eng_repl_cartesian(__LINE__, (a), (b))
ds eng_repl_sample(long line, ds d, bool with_replacement, double fraction, long seed);
#define sample(...) EMBER_CAT(EMBER_sample_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_sample_3(d, with_replacement, fraction) eng_repl_sample(__LINE__, (d), (with_replacement), (fraction), eng_repl_random_seed())
#define EMBER_sample_4(d, with_replacement, fraction, seed) eng_repl_sample(__LINE__, (d), (with_replacement), (fraction), (seed))
ds eng_repl_sort_by(long line, ds d, udf keyfn, bool ascending, long num_partitions);
#define sort_by(...) EMBER_CAT(EMBER_sort_by_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_sort_by_2(d, keyfn) eng_repl_sort_by(__LINE__, (d), (keyfn), 1, 0)
#define EMBER_sort_by_3(d, keyfn, ascending) eng_repl_sort_by(__LINE__, (d), (keyfn), (ascending), 0)
#define EMBER_sort_by_4(d, keyfn, ascending, num_partitions) eng_repl_sort_by(__LINE__, (d), (keyfn), (ascending), (num_partitions))
ds eng_repl_sort_by_key(long line, ds d, bool ascending, long num_partitions, udf keyfn);
#define sort_by_key(...) EMBER_CAT(EMBER_sort_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_sort_by_key_1(d) eng_repl_sort_by_key(__LINE__, (d), 1, 0, 0)
#define EMBER_sort_by_key_2(d, ascending) eng_repl_sort_by_key(__LINE__, (d), (ascending), 0, 0)
#define EMBER_sort_by_key_3(d, ascending, num_partitions) eng_repl_sort_by_key(__LINE__, (d), (ascending), (num_partitions), 0)
#define EMBER_sort_by_key_4(d, ascending, num_partitions, keyfn) eng_repl_sort_by_key(__LINE__, (d), (ascending), (num_partitions), (keyfn))
ds eng_repl_group_by(long line, ds d, udf f, long num_partitions);
#define group_by(...) EMBER_CAT(EMBER_group_by_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_group_by_2(d, f) eng_repl_group_by(__LINE__, (d), (f), 0)
#define EMBER_group_by_3(d, f, num_partitions) eng_repl_group_by(__LINE__, (d), (f), (num_partitions))
ds eng_repl_group_by_key(long line, ds d, long num_partitions);
#define group_by_key(...) EMBER_CAT(EMBER_group_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_group_by_key_1(d) eng_repl_group_by_key(__LINE__, (d), 0)
#define EMBER_group_by_key_2(d, num_partitions) eng_repl_group_by_key(__LINE__, (d), (num_partitions))
ds eng_repl_reduce_by_key(long line, ds d, udf f, long num_partitions);
#define reduce_by_key(...) EMBER_CAT(EMBER_reduce_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_reduce_by_key_2(d, f) eng_repl_reduce_by_key(__LINE__, (d), (f), 0)
#define EMBER_reduce_by_key_3(d, f, num_partitions) eng_repl_reduce_by_key(__LINE__, (d), (f), (num_partitions))
ds eng_repl_fold_by_key(long line, ds d, val zero, udf f, long num_partitions);
#define fold_by_key(...) EMBER_CAT(EMBER_fold_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_fold_by_key_3(d, zero, f) eng_repl_fold_by_key(__LINE__, (d), EMBER_V(zero), (f), 0)
#define EMBER_fold_by_key_4(d, zero, f, num_partitions) eng_repl_fold_by_key(__LINE__, (d), EMBER_V(zero), (f), (num_partitions))
ds eng_repl_aggregate_by_key(long line, ds d, val zero, udf seq, udf comb, long num_partitions);
#define aggregate_by_key(...) EMBER_CAT(EMBER_aggregate_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_aggregate_by_key_4(d, zero, seq, comb) eng_repl_aggregate_by_key(__LINE__, (d), EMBER_V(zero), (seq), (comb), 0)
#define EMBER_aggregate_by_key_5(d, zero, seq, comb, num_partitions) eng_repl_aggregate_by_key(__LINE__, (d), EMBER_V(zero), (seq), (comb), (num_partitions))
ds eng_repl_combine_by_key(long line, ds d, udf create, udf merge, udf merge_combiners, long num_partitions);
#define combine_by_key(...) EMBER_CAT(EMBER_combine_by_key_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_combine_by_key_4(d, create, merge, merge_combiners) eng_repl_combine_by_key(__LINE__, (d), (create), (merge), (merge_combiners), 0)
#define EMBER_combine_by_key_5(d, create, merge, merge_combiners, num_partitions) eng_repl_combine_by_key(__LINE__, (d), (create), (merge), (merge_combiners), (num_partitions))
ds eng_repl_join(long line, ds a, ds b, long num_partitions);
#define join(...) EMBER_CAT(EMBER_join_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_join_2(a, b) eng_repl_join(__LINE__, (a), (b), 0)
#define EMBER_join_3(a, b, num_partitions) eng_repl_join(__LINE__, (a), (b), (num_partitions))
ds eng_repl_left_outer_join(long line, ds a, ds b, long num_partitions);
#define left_outer_join(...) EMBER_CAT(EMBER_left_outer_join_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_left_outer_join_2(a, b) eng_repl_left_outer_join(__LINE__, (a), (b), 0)
#define EMBER_left_outer_join_3(a, b, num_partitions) eng_repl_left_outer_join(__LINE__, (a), (b), (num_partitions))
ds eng_repl_right_outer_join(long line, ds a, ds b, long num_partitions);
#define right_outer_join(...) EMBER_CAT(EMBER_right_outer_join_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_right_outer_join_2(a, b) eng_repl_right_outer_join(__LINE__, (a), (b), 0)
#define EMBER_right_outer_join_3(a, b, num_partitions) eng_repl_right_outer_join(__LINE__, (a), (b), (num_partitions))
ds eng_repl_full_outer_join(long line, ds a, ds b, long num_partitions);
#define full_outer_join(...) EMBER_CAT(EMBER_full_outer_join_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_full_outer_join_2(a, b) eng_repl_full_outer_join(__LINE__, (a), (b), 0)
#define EMBER_full_outer_join_3(a, b, num_partitions) eng_repl_full_outer_join(__LINE__, (a), (b), (num_partitions))
ds eng_repl_cogroup(long line, ds a, ds b, long num_partitions);
#define cogroup(...) EMBER_CAT(EMBER_cogroup_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_cogroup_2(a, b) eng_repl_cogroup(__LINE__, (a), (b), 0)
#define EMBER_cogroup_3(a, b, num_partitions) eng_repl_cogroup(__LINE__, (a), (b), (num_partitions))
ds eng_repl_keys(long line, ds d);
#define keys(d) eng_repl_keys(__LINE__, (d))
ds eng_repl_values(long line, ds d);
#define values(d) eng_repl_values(__LINE__, (d))
ds eng_repl_map_values(long line, ds d, udf f);
#define map_values(d, f) eng_repl_map_values(__LINE__, (d), (f))
ds eng_repl_flat_map_values(long line, ds d, udf f);
#define flat_map_values(d, f) eng_repl_flat_map_values(__LINE__, (d), (f))
ds eng_repl_key_by(long line, ds d, udf f);
#define key_by(d, f) eng_repl_key_by(__LINE__, (d), (f))
ds eng_repl_zip_with_index(long line, ds d);
#define zip_with_index(d) eng_repl_zip_with_index(__LINE__, (d))
ds eng_repl_glom(long line, ds d);
#define glom(d) eng_repl_glom(__LINE__, (d))
ds eng_repl_repartition(long line, ds d, long num_partitions);
#define repartition(d, num_partitions) eng_repl_repartition(__LINE__, (d), (num_partitions))
ds eng_repl_coalesce(long line, ds d, long num_partitions, bool shuffle);
#define coalesce(...) EMBER_CAT(EMBER_coalesce_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_coalesce_2(d, num_partitions) eng_repl_coalesce(__LINE__, (d), (num_partitions), 0)
#define EMBER_coalesce_3(d, num_partitions, shuffle) eng_repl_coalesce(__LINE__, (d), (num_partitions), (shuffle))
ds eng_repl_partition_by(long line, ds d, long num_partitions, udf partition_func);
#define partition_by(...) EMBER_CAT(EMBER_partition_by_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_partition_by_2(d, num_partitions) eng_repl_partition_by(__LINE__, (d), (num_partitions), 0)
#define EMBER_partition_by_3(d, num_partitions, partition_func) eng_repl_partition_by(__LINE__, (d), (num_partitions), (partition_func))
val eng_repl_collect(long line, ds d);
#define collect(d) eng_repl_collect(__LINE__, (d))
long eng_repl_count(long line, ds d);
#define count(d) eng_repl_count(__LINE__, (d))
val eng_repl_first(long line, ds d);
#define first(d) eng_repl_first(__LINE__, (d))
val eng_repl_take(long line, ds d, long n);
#define take(d, n) eng_repl_take(__LINE__, (d), (n))
val eng_repl_take_ordered(long line, ds d, long n, udf key);
#define take_ordered(...) EMBER_CAT(EMBER_take_ordered_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_take_ordered_2(d, n) eng_repl_take_ordered(__LINE__, (d), (n), 0)
#define EMBER_take_ordered_3(d, n, key) eng_repl_take_ordered(__LINE__, (d), (n), (key))
val eng_repl_top(long line, ds d, long n, udf key);
#define top(...) EMBER_CAT(EMBER_top_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_top_2(d, n) eng_repl_top(__LINE__, (d), (n), 0)
#define EMBER_top_3(d, n, key) eng_repl_top(__LINE__, (d), (n), (key))
val eng_repl_reduce(long line, ds d, udf f);
#define reduce(d, f) eng_repl_reduce(__LINE__, (d), (f))
val eng_repl_fold(long line, ds d, val zero, udf f);
#define fold(d, zero, f) eng_repl_fold(__LINE__, (d), EMBER_V(zero), (f))
val eng_repl_aggregate(long line, ds d, val zero, udf seq, udf comb);
#define aggregate(d, zero, seq, comb) eng_repl_aggregate(__LINE__, (d), EMBER_V(zero), (seq), (comb))
val eng_repl_sum(long line, ds d);
#define sum(d) eng_repl_sum(__LINE__, (d))
double eng_repl_mean(long line, ds d);
#define mean(d) eng_repl_mean(__LINE__, (d))
val eng_repl_min(long line, ds d, udf key);
#define min(...) EMBER_CAT(EMBER_min_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_min_1(d) eng_repl_min(__LINE__, (d), 0)
#define EMBER_min_2(d, key) eng_repl_min(__LINE__, (d), (key))
val eng_repl_max(long line, ds d, udf key);
#define max(...) EMBER_CAT(EMBER_max_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_max_1(d) eng_repl_max(__LINE__, (d), 0)
#define EMBER_max_2(d, key) eng_repl_max(__LINE__, (d), (key))
double eng_repl_stdev(long line, ds d);
#define stdev(d) eng_repl_stdev(__LINE__, (d))
double eng_repl_variance(long line, ds d);
#define variance(d) eng_repl_variance(__LINE__, (d))
double eng_repl_sample_stdev(long line, ds d);
#define sample_stdev(d) eng_repl_sample_stdev(__LINE__, (d))
double eng_repl_sample_variance(long line, ds d);
#define sample_variance(d) eng_repl_sample_variance(__LINE__, (d))
val eng_repl_stats(long line, ds d);
#define stats(d) eng_repl_stats(__LINE__, (d))
val eng_repl_histogram(long line, ds d, val buckets);
#define histogram(d, buckets) eng_repl_histogram(__LINE__, (d), EMBER_V(buckets))
val eng_repl_count_by_key(long line, ds d);
#define count_by_key(d) eng_repl_count_by_key(__LINE__, (d))
val eng_repl_count_by_value(long line, ds d);
#define count_by_value(d) eng_repl_count_by_value(__LINE__, (d))
void eng_repl_foreach(long line, ds d, udf f);
#define foreach(d, f) eng_repl_foreach(__LINE__, (d), (f))
void eng_repl_save_as_text_file(long line, ds d, str path, str codec);
#define save_as_text_file(...) EMBER_CAT(EMBER_save_as_text_file_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_save_as_text_file_2(d, path) eng_repl_save_as_text_file(__LINE__, (d), EMBER_S(path), "")
#define EMBER_save_as_text_file_3(d, path, codec) eng_repl_save_as_text_file(__LINE__, (d), EMBER_S(path), EMBER_S(codec))
long eng_repl_num_partitions(long line, ds d);
#define num_partitions(d) eng_repl_num_partitions(__LINE__, (d))
bool eng_repl_is_empty(long line, ds d);
#define is_empty(d) eng_repl_is_empty(__LINE__, (d))
ds eng_repl_cache(long line, ds d);
#define cache(d) eng_repl_cache(__LINE__, (d))
ds eng_repl_persist(long line, ds d, long level);
#define persist(...) EMBER_CAT(EMBER_persist_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_persist_1(d) eng_repl_persist(__LINE__, (d), MEMORY_ONLY)
#define EMBER_persist_2(d, level) eng_repl_persist(__LINE__, (d), (level))
ds eng_repl_unpersist(long line, ds d);
#define unpersist(d) eng_repl_unpersist(__LINE__, (d))
ds eng_repl_checkpoint(long line, ds d);
#define checkpoint(d) eng_repl_checkpoint(__LINE__, (d))
val eng_repl_broadcast(long line, val value);
#define broadcast(value) eng_repl_broadcast(__LINE__, EMBER_V(value))
val eng_repl_accumulator(long line, val zero);
#define accumulator(zero) eng_repl_accumulator(__LINE__, EMBER_V(zero))
val eng_repl_acc_value(long line, val acc);
#define acc_value(acc) eng_repl_acc_value(__LINE__, EMBER_V(acc))
void eng_repl_show(long line, ds d, long n);
#define show(...) EMBER_CAT(EMBER_show_, EMBER_NARGS(__VA_ARGS__))(__VA_ARGS__)
#define EMBER_show_1(d) eng_repl_show(__LINE__, (d), 20)
#define EMBER_show_2(d, n) eng_repl_show(__LINE__, (d), (n))
void eng_repl_explain(long line, ds d);
#define explain(d) eng_repl_explain(__LINE__, (d))
