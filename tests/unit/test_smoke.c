#include "eng_th.h"
static void smoke(void **st) {
  (void)st;
  eng_session *s = th_session(2);
  eng_udf *sq = th_udf(s, "long sq(long x) { return x * x; }", "sq", UDF_LONG, 1, UDF_LONG, 0);
  eng_val out;
  TH_OK(s, eng_collect(eng_map(eng_range(s, 1, 11, 1, 0), sq), &out));
  printf("%s\n", th_repr(out));
  int64_t n;
  TH_OK(s, eng_count(eng_range(s, 0, 100, 1, 0), &n));
  printf("count %ld\n", (long)n);
  eng_udf *words = th_udf(s, "val w(str s) { return split(s, \" \"); }", "w", UDF_VAL, 1, UDF_STR, 0);
  eng_udf *one = th_udf(s, "val o(str w) { return kv(w, 1); }", "o", UDF_VAL, 1, UDF_STR, 0);
  eng_udf *add = eng_udf_builtin(s, "add");
  eng_val l[2] = {eng_strv("a b", 3), eng_strv("b c c", 5)};
  eng_ds *ws = eng_flat_map(eng_parallelize(s, eng_seqv(ENG_V_LIST, l, 2), 2), words);
  TH_OK(s, eng_collect(eng_sort_by_key(eng_reduce_by_key(eng_map(ws, one), add, 0), 1, 0, NULL), &out));
  printf("%s\n", th_repr(out));
  eng_buf b; eng_buf_init(&b);
  eng_ds *r = eng_reduce_by_key(eng_map(ws, one), add, 0);
  eng_explain(r, &b); printf("%s", b.data); b.len = 0;
  eng_show(eng_map(ws, one), 20, &b); printf("%s", b.data);
  eng_buf_free(&b);
  eng_session_free(s);
}
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "executor") == 0) return eng_executor_main(argc, argv);
  const struct CMUnitTest tests[] = {cmocka_unit_test(smoke)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
